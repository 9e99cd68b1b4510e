-- Imported datasets (`server import`): each a named, read-only data source with its own votes
-- and counts, never mixed into the arena's own. A leaderboard for a source (`source=NAME`) fits
-- that source's counts; its runs record the source's highest row number as their mark, so a
-- run of a source is reproducible exactly as a run of the arena is.
create table data_source (
    id uuid primary key,
    name text not null unique check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    -- the schema of its first import (later imports may add files of any schema)
    schema text not null,
    created_at timestamptz not null default now()
);

-- One imported vote. `row_key` is the dataset's own id (or a hash of the row): importing the
-- same file again inserts nothing.
create table source_vote (
    seq bigint generated always as identity primary key,
    source_id uuid not null references data_source (id),
    row_key text not null,
    model_a_id uuid not null references model (id),
    model_b_id uuid not null references model (id),
    winner text not null check (winner in ('model_a', 'model_b', 'tie', 'both_bad')),
    counted boolean not null,
    language text not null default '',
    voted_at timestamptz,
    turn integer,
    -- the row as the file had it (conversations included), for re-export and audit
    payload jsonb not null,
    imported_at timestamptz not null default now(),
    unique (source_id, row_key)
);

-- The counted votes of each source, aggregated as `pair_count` is for the arena's own.
create table source_pair_count (
    source_id uuid not null references data_source (id),
    model_a_id uuid not null references model (id),
    model_b_id uuid not null references model (id),
    language text not null default '',
    -- null: the dataset gives no date (Kaggle, DPO)
    day date,
    wins_a bigint not null default 0,
    wins_b bigint not null default 0,
    ties bigint not null default 0,
    both_bad bigint not null default 0,
    constraint source_pair_count_key
        unique nulls not distinct (source_id, model_a_id, model_b_id, language, day)
);

-- Each import: who, which file (its SHA-256), what it added.
create table source_import (
    id bigint generated always as identity primary key,
    source_id uuid not null references data_source (id),
    file_name text not null,
    file_sha256 text not null,
    schema text not null,
    rows_read bigint not null,
    rows_added bigint not null,
    rows_skipped bigint not null,
    models_created integer not null,
    -- the import's report (bad lines skipped, models created)
    report jsonb,
    created_at timestamptz not null default now()
);

-- A run of a source's leaderboard names it (null: the arena's own votes).
alter table rating_run add column source_id uuid references data_source (id);
