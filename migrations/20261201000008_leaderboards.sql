-- Style-controlled rankings (docs/ratings.md, "Style control"): fitted on the votes themselves
-- (their answers' style features), once per filter and counted-set mark, shared by every
-- server process.
create table style_run (
    id bigserial primary key,
    options_key text not null,
    max_vote_id bigint not null,
    vote_count bigint not null,
    result jsonb not null,
    created_at timestamptz not null default now()
);
create index style_run_lookup on style_run (options_key, max_vote_id);

-- Each leaderboard category's counted votes, per counted-set mark (the page's category control).
create table category_count (
    mark bigint primary key,
    counts jsonb not null,
    created_at timestamptz not null default now()
);

-- A model marked as a new version of another (a fine-tune of a base model): the regressions
-- page compares the two view by view.
alter table model add column version_of uuid references model (id) on delete set null;
alter table model add constraint model_not_its_own_version check (version_of <> id);

-- Regression reports, per counted-set mark and level (they scan the votes once per category).
create table regression_report (
    mark bigint not null,
    alpha double precision not null,
    result jsonb not null,
    created_at timestamptz not null default now(),
    primary key (mark, alpha)
);

-- Static benchmark scores per model (an admin imports a CSV), shown beside the arena ratings
-- with their rank correlations.
create table benchmark_score (
    model_id uuid not null references model (id) on delete cascade,
    benchmark text not null check (length(benchmark) between 1 and 80),
    score double precision not null,
    imported_at timestamptz not null default now(),
    primary key (model_id, benchmark)
);

-- Each prompt's language as detected (lingua), beside the language the voter chose
-- (`battle.language`); the leaderboard filters by either (`language_by=chosen|detected`).
alter table battle_turn add column detected_language text;
alter table battle add column detected_language text;
