-- Rigging defences (issue #12): each vote's surprise, each voter's accumulated evidence, the
-- quarantine queue, and the per-voter influence cap.

-- The probability of the vote's outcome under the latest stored run (null: no run rated both
-- models yet), and the run it was computed from.
alter table vote add column surprise double precision;
alter table vote add column surprise_run_id bigint;
-- Stored but not counted because the voter reached the cap for this pair today.
alter table vote add column capped boolean not null default false;
create index vote_voter_day_idx on vote (voter_id, created_at);
-- Milliseconds from the last token of the voted turn to the vote (the reading time).
alter table vote add column read_ms integer;
-- A salted SHA-256 of the client's address (IPv6 by its /64), for the burst signal; never
-- exported, and the salt never leaves the database.
alter table vote add column client_hash text;
create index vote_client_recent_idx on vote (client_hash, created_at) where client_hash is not null;
create table rigging_salt (
    id boolean primary key default true check (id),
    salt text not null default gen_random_uuid()::text
);
insert into rigging_salt default values;

-- A voter's sequential test (arena_ratings::rigging::VoterEvidence), updated vote by vote.
create table voter_evidence (
    voter_id uuid primary key references voter (id) on delete cascade,
    evidence jsonb not null,
    log_e_value double precision not null,
    votes bigint not null,
    updated_at timestamptz not null default now()
);

-- The moderation queue of flagged voters. While `quarantined` or `confirmed`, the voter's
-- counted votes are voided with reason 'quarantine' (vote_void events, so rating runs'
-- snapshots see exactly which state they used); `cleared` restores them.
create table voter_quarantine (
    voter_id uuid primary key references voter (id) on delete cascade,
    state text not null check (state in ('quarantined', 'confirmed', 'cleared')),
    signal text not null,
    detail text not null,
    log_e_value double precision,
    flagged_at timestamptz not null default now(),
    decided_by uuid,
    decided_at timestamptz
);
create index voter_quarantine_open_idx on voter_quarantine (flagged_at) where state = 'quarantined';

-- Which quarantine state a run used: the voters quarantined in its snapshot.
alter table rating_run add column quarantined_voters integer;
