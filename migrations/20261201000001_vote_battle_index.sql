-- no-transaction
-- Every vote asks whether its battle already has a vote (a later turn's vote is not counted),
-- and the moderation and export paths look votes up by battle: without this index each of
-- those scanned the whole vote table (at 1.67M votes, every vote read every vote). Built
-- concurrently so that a live arena keeps taking votes meanwhile.
create index concurrently if not exists vote_battle_id_idx on vote (battle_id);
