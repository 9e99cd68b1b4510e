-- Every vote asks whether its battle already has a vote (a later turn's vote is not counted),
-- and the moderation and export paths look votes up by battle: without this index each of
-- those scanned the whole vote table (at 1.67M votes, every vote read every vote).
-- Not built CONCURRENTLY: that waits for every open transaction, including a sibling process
-- waiting for the migration lock, a deadlock. On a large live arena, build it by hand first
--   create index concurrently if not exists vote_battle_id_idx on vote (battle_id);
-- and this migration finds it there (writes to `vote` pause for the build otherwise: about a
-- second per million votes).
create index if not exists vote_battle_id_idx on vote (battle_id);
