-- pgbench script of `make bench`: the statements the arena runs for one vote request (the
-- session lookup, then the vote transaction of crates/core/src/battles/mod.rs), on battles
-- cloned from the prepared ones, so the database's own speed for the same work is the baseline.
select nextval('bench_seq') as n \gset
select battle_id, voter_id, turn_id, model_a_id, model_b_id, session_hash
  from bench_target where n = :n \gset
select id, last_seen_at < now() - interval '5 minutes' from voter
  where session_hash = decode(:session_hash, 'hex');
begin;
select id, model_a_id, model_b_id, language from battle
  where id = :battle_id and voter_id = :voter_id for update;
select v.battle_id, v.winner, t.turn_index from vote v join battle_turn t on t.id = v.turn_id
  where v.voter_id = :voter_id and v.idempotency_key = 'pgbench-' || :battle_id;
select id, turn_index, prompt, status from battle_turn
  where battle_id = :battle_id order by turn_index desc limit 1;
select b.anonymous
       and not exists (select 1 from vote v where v.battle_id = b.id)
       and not exists (select 1 from answer a join battle_turn t on t.id = a.turn_id
                       where t.battle_id = b.id and not a.discarded
                         and (a.identity_leak or a.status <> 'done'))
  from battle b where b.id = :battle_id;
insert into vote (turn_id, battle_id, voter_id, winner, counted, idempotency_key, txid)
  values (:turn_id, :battle_id, :voter_id, 'model_a', true, 'pgbench-' || :battle_id,
          pg_current_xact_id());
update battle_turn set status = 'voted', updated_at = now() where id = :turn_id;
update battle set updated_at = now() where id = :battle_id;
insert into pair_count (model_a_id, model_b_id, language, day, wins_a, wins_b, ties, both_bad, shard)
  values (:model_a_id, :model_b_id, '', (now() at time zone 'utc')::date, 1, 0, 0, 0,
          (random() * 15)::int)
  on conflict (model_a_id, model_b_id, language, day, shard) do update set
      wins_a = pair_count.wins_a + excluded.wins_a,
      wins_b = pair_count.wins_b + excluded.wins_b,
      ties = pair_count.ties + excluded.ties,
      both_bad = pair_count.both_bad + excluded.both_bad;
commit;
