-- The export's row of each vote, pre-joined: the voted turn's prompt and answers, the earlier
-- turns of the conversation, and the battle's fields, written by a trigger in the same
-- transaction as the vote (so an export's snapshot has a vote and its row, or neither).
-- Exports read it in vote order beside `vote` itself (a merge join on the two primary keys):
-- no hash join of the battle, turn and answer tables and no sort of wide rows, which made a
-- million-vote export cost twice the CPU of a plain COPY.
--
-- Only what can no longer change once the vote exists is here: the turn and its answers are
-- final (votes are final, a voted turn is never regenerated), model keys never change, a
-- battle's language, campaign and anonymity are set when it starts, and an answer's identity
-- leak is found when it is generated (so the leak "at or before the voted turn" is known at
-- vote time). A rubric vote's axes are inserted after the vote row, in its transaction: a
-- second trigger adds them. What can change later is read live by the export: the vote's
-- voided state, the battle's flags (reports, later leaks, review), the voter's opt-out, and
-- campaign slugs and registrations.
create table export_turn (
    vote_id bigint primary key references vote (id) on delete cascade,
    battle_id uuid not null,
    turn_index integer not null,
    model_a text not null,
    model_b text not null,
    anonymous boolean not null,
    language text,
    campaign_id uuid not null,
    identity_leak boolean not null,
    prompt text not null,
    a text,
    b text,
    a_tokens bigint,
    b_tokens bigint,
    a_headers bigint,
    b_headers bigint,
    a_lists bigint,
    b_lists bigint,
    a_bold bigint,
    b_bold bigint,
    prompt_tokens_a bigint,
    prompt_tokens_b bigint,
    -- The earlier turns (JSON array), only for a later turn's vote.
    earlier text,
    -- A rubric vote's verdict per axis (JSON object).
    axes text
);

-- Each vote's row as the export reads it (the trigger below keeps the table of it).
create view export_turn_source as
select v.id as vote_id, v.battle_id, t.turn_index, ma.key as model_a, mb.key as model_b,
       b.anonymous, b.language, b.campaign_id,
       exists (select 1 from battle_turn lt join answer la on la.turn_id = lt.id
               where lt.battle_id = v.battle_id and lt.turn_index <= t.turn_index
                 and la.identity_leak and not la.discarded) as identity_leak,
       t.prompt, aa.content as a, ab.content as b,
       aa.token_count::bigint as a_tokens, ab.token_count::bigint as b_tokens,
       aa.header_count::bigint as a_headers, ab.header_count::bigint as b_headers,
       aa.list_count::bigint as a_lists, ab.list_count::bigint as b_lists,
       aa.bold_count::bigint as a_bold, ab.bold_count::bigint as b_bold,
       aa.prompt_tokens::bigint as prompt_tokens_a, ab.prompt_tokens::bigint as prompt_tokens_b,
       case when t.turn_index > 0 then
           (select json_agg(json_build_object(
                   'prompt', tt.prompt, 'a', ea.content, 'b', eb.content,
                   'a_tokens', ea.token_count, 'b_tokens', eb.token_count,
                   'a_headers', ea.header_count, 'b_headers', eb.header_count,
                   'a_lists', ea.list_count, 'b_lists', eb.list_count,
                   'a_bold', ea.bold_count, 'b_bold', eb.bold_count,
                   'prompt_tokens_a', ea.prompt_tokens, 'prompt_tokens_b', eb.prompt_tokens)
                   order by tt.turn_index)
            from battle_turn tt
            join answer ea on ea.turn_id = tt.id and ea.side = 'a' and not ea.discarded
            join answer eb on eb.turn_id = tt.id and eb.side = 'b' and not eb.discarded
            where tt.battle_id = b.id and tt.turn_index < t.turn_index)::text
       end as earlier,
       (select json_object_agg(x.axis, x.winner order by x.axis)::text
        from vote_axis x where x.vote_id = v.id) as axes
from vote v
join battle_turn t on t.id = v.turn_id
join battle b on b.id = v.battle_id
join model ma on ma.id = b.model_a_id
join model mb on mb.id = b.model_b_id
left join answer aa on aa.turn_id = t.id and aa.side = 'a' and not aa.discarded
left join answer ab on ab.turn_id = t.id and ab.side = 'b' and not ab.discarded;

-- One statement per insert into `vote` (one vote, or a bulk insert's many), set-based.
create function export_turn_fill() returns trigger language plpgsql as $$
begin
    insert into export_turn
    select s.* from export_turn_source s where s.vote_id in (select id from inserted);
    return null;
end
$$;

create trigger export_turn_fill after insert on vote
    referencing new table as inserted
    for each statement execute function export_turn_fill();

create function export_turn_axes() returns trigger language plpgsql as $$
begin
    update export_turn e set axes = x.axes
    from (select vote_id, json_object_agg(axis, winner order by axis)::text as axes
          from vote_axis where vote_id in (select vote_id from inserted)
          group by vote_id) x
    where e.vote_id = x.vote_id;
    return null;
end
$$;

create trigger export_turn_axes after insert on vote_axis
    referencing new table as inserted
    for each statement execute function export_turn_axes();

-- The votes already stored.
insert into export_turn select * from export_turn_source order by vote_id;
