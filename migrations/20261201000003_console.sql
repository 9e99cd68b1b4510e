-- The admins' console: consent, bans, voided votes, concurrent-edit versions, encrypted API
-- keys, the pairing policy, voters' reports, and the append-only audit log.

-- Consent: the version of the terms and data-use notice a voter accepted (before any vote).
alter table voter add column terms_version text;
alter table voter add column terms_accepted_at timestamptz;

-- Bans: a banned voter starts no battle and casts no vote.
alter table voter add column banned_at timestamptz;
alter table voter add column ban_reason text;

-- A voided vote stays in the database, marked; it leaves the leaderboard (its counts are taken
-- out of `pair_count` in the same transaction). Every void and unvoid is an event: a rating
-- run's snapshot tells which events it saw, so any run is still reproduced exactly. Each event
-- takes a number from the votes' own sequence: "the counted votes changed" is one comparison.
alter table vote add column voided boolean not null default false;
alter table vote add column void_reason text;
create table vote_void (
    id bigint generated always as identity primary key,
    vote_id bigint not null references vote (id),
    voided boolean not null,
    reason text not null check (length(reason) between 1 and 500),
    actor_id uuid references app_user (id) on delete set null,
    change_id bigint not null,
    txid xid8 not null default pg_current_xact_id(),
    created_at timestamptz not null default now()
);
create index vote_void_vote_idx on vote_void (vote_id, id desc);
create index vote_voter_idx on vote (voter_id);

-- A concurrent edit of the same model or policy is refused (409), never silently overwritten.
alter table model add column version integer not null default 1;

-- API keys entered in the console are sealed (XChaCha20-Poly1305, key from configuration):
-- nonce || ciphertext. `api_key` keeps the keys seeded from the configuration file.
alter table model_endpoint add column api_key_sealed bytea;

-- The pairing policy (one row) and per-pair rules; changes reload every process's catalog.
create table pairing_policy (
    id integer primary key check (id = 1),
    mode text not null default 'weighted' check (mode in ('weighted', 'active')),
    -- active sampling mixes this share of uniform sampling in
    uniform_floor double precision not null default 0.2
        check (uniform_floor >= 0 and uniform_floor <= 1),
    -- a model with fewer counted votes than this is drawn `warmup_boost` times as often
    warmup_votes integer not null default 0 check (warmup_votes >= 0),
    warmup_boost double precision not null default 1 check (warmup_boost >= 1 and warmup_boost <= 100),
    version integer not null default 1,
    updated_at timestamptz not null default now()
);
insert into pairing_policy (id) values (1);

create table pair_rule (
    model_lo uuid not null references model (id) on delete cascade,
    model_hi uuid not null references model (id) on delete cascade,
    -- the pair is drawn `boost` times as often; excluded pairs are never drawn
    boost double precision not null default 1 check (boost > 0 and boost <= 100),
    excluded boolean not null default false,
    primary key (model_lo, model_hi),
    check (model_lo < model_hi)
);
create trigger pairing_policy_changed after insert or update or delete on pairing_policy
    for each statement execute function notify_catalog_change();
create trigger pair_rule_changed after insert or update or delete on pair_rule
    for each statement execute function notify_catalog_change();

-- The console's live health per endpoint reads the last hour of its answers.
create index answer_endpoint_recent_idx on answer (endpoint_id, created_at);

-- The realised sampling rate of each pair over the last day.
create index battle_created_idx on battle (created_at);

-- Flags: answers naming a model (already marked), voters' reports; an admin's review closes
-- a battle's flags.
create table battle_report (
    id bigint generated always as identity primary key,
    battle_id uuid not null references battle (id) on delete cascade,
    voter_id uuid not null references voter (id),
    reason text not null check (length(reason) between 1 and 1000),
    created_at timestamptz not null default now(),
    unique (battle_id, voter_id)
);
alter table battle add column reviewed_at timestamptz;
alter table battle add column review text;
create index answer_identity_leak_idx on answer (turn_id) where identity_leak;

-- Who did what, when, from what to what. Rows are only ever added: the console has no way to
-- change them, and the database refuses to.
create table audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor_id uuid references app_user (id),
    actor text not null,
    action text not null,
    target text not null,
    before jsonb,
    after jsonb
);
create function audit_log_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the audit log is append-only';
end;
$$;
create trigger audit_log_no_change before update or delete on audit_log
    for each row execute function audit_log_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_append_only();
