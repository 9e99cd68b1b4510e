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
