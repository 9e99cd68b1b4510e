-- Votes at database speed: no global lock. A vote's transaction records its own id
-- (`pg_current_xact_id()`), a rating run records the database snapshot it read the counts in,
-- and "the votes that run saw" is exactly the counted votes whose transaction is visible in that
-- snapshot (`pg_visible_in_snapshot`). Votes before this migration have no transaction id: they
-- committed before any run that records a snapshot.
alter table vote add column txid xid8;
alter table rating_run add column snapshot text;

-- The counts of one pair are spread over 16 rows per day and language, so that votes on a pair
-- that gets most of the traffic do not queue on one row lock; readers sum the shards.
alter table pair_count add column shard smallint not null default 0 check (shard between 0 and 15);
alter table pair_count drop constraint pair_count_pkey;
alter table pair_count add constraint pair_count_pkey
    primary key (model_a_id, model_b_id, language, day, shard);

-- Many server processes on one database: each registers itself and renews a heartbeat; a turn
-- records the process generating it. Only the turns of a process whose heartbeat stopped are
-- failed (any process sweeps them), so a restart never touches a sibling's battles.
create table server_instance (
    id uuid primary key,
    started_at timestamptz not null default now(),
    heartbeat_at timestamptz not null default now()
);
alter table battle_turn add column owner uuid;
create index battle_turn_generating_idx on battle_turn (owner) where status = 'generating';

-- Any change to the catalog (models, endpoints), from any process or by hand, is announced on
-- the `arena_catalog` channel; every server process reloads its catalog and gateway on it.
create function notify_catalog_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('arena_catalog', tg_table_name);
    return null;
end;
$$;
create trigger model_changed after insert or update or delete on model
    for each statement execute function notify_catalog_change();
create trigger model_endpoint_changed after insert or update or delete on model_endpoint
    for each statement execute function notify_catalog_change();
