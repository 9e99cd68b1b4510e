-- The arena's first schema: models and their worker endpoints, voters, battles, turns,
-- answers, votes, the aggregated counts the leaderboard reads, and rating runs.
-- From here on, migrations are backward compatible (expand, then contract).

create table model (
    id uuid primary key,
    -- stable slug used in URLs, exports and the gateway, e.g. `smollm2-135m-instruct-t0.7`
    key text not null unique check (key ~ '^[a-z0-9][a-z0-9._-]{0,99}$'),
    display_name text not null check (length(display_name) between 1 and 200),
    organization text not null default '',
    license text not null default '',
    description text not null default '',
    active boolean not null default true,
    -- relative sampling weight in the pairing policy
    weight double precision not null default 1.0 check (weight >= 0),
    -- sampling parameters sent to the worker
    temperature real check (temperature is null or (temperature >= 0 and temperature <= 2)),
    top_p real check (top_p is null or (top_p > 0 and top_p <= 1)),
    max_tokens integer not null default 512 check (max_tokens between 1 and 32768),
    system_prompt text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table model_endpoint (
    id uuid primary key,
    model_id uuid not null references model (id) on delete cascade,
    base_url text not null,
    -- the `model` field sent upstream
    upstream_model text not null,
    api_key text,
    max_concurrency integer not null default 4 check (max_concurrency between 1 and 10000),
    enabled boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (model_id, base_url, upstream_model)
);

create table app_user (
    id uuid primary key,
    username text not null unique,
    password_hash text not null,
    is_admin boolean not null default false,
    created_at timestamptz not null default now()
);

-- Everyone who votes is a voter: anonymous at first (a random session token in a cookie; only
-- its SHA-256 is stored), optionally linked to an account later.
create table voter (
    id uuid primary key,
    session_hash bytea not null unique,
    user_id uuid references app_user (id) on delete set null,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);

create table battle (
    id uuid primary key,
    voter_id uuid not null references voter (id),
    model_a_id uuid not null references model (id),
    model_b_id uuid not null references model (id),
    language text,
    -- anonymous battles count for the leaderboard; named ones never do
    anonymous boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (model_a_id <> model_b_id)
);
create index battle_voter_idx on battle (voter_id, created_at desc);

create table battle_turn (
    id uuid primary key,
    battle_id uuid not null references battle (id) on delete cascade,
    turn_index integer not null check (turn_index >= 0),
    prompt text not null,
    -- generating → ready (votable) → voted; or generating → failed
    status text not null default 'generating'
        check (status in ('generating', 'ready', 'failed', 'voted')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (battle_id, turn_index)
);

create table answer (
    id uuid primary key,
    turn_id uuid not null references battle_turn (id) on delete cascade,
    side text not null check (side in ('a', 'b')),
    -- regenerate keeps the earlier answers, marked discarded
    attempt integer not null default 0,
    discarded boolean not null default false,
    model_id uuid not null references model (id),
    endpoint_id uuid references model_endpoint (id) on delete set null,
    endpoint_url text,
    status text not null default 'pending'
        check (status in ('pending', 'streaming', 'done', 'error')),
    content text not null default '',
    error text,
    finish_reason text,
    sampling jsonb not null default '{}',
    system_prompt_hash text,
    prompt_tokens integer,
    completion_tokens integer,
    ttft_ms integer,
    duration_ms integer,
    -- style features (style control): answer tokens, Markdown headers, list items, bold spans
    token_count integer,
    header_count integer,
    list_count integer,
    bold_count integer,
    -- the answer names a model or vendor: the leaderboard excludes the battle
    identity_leak boolean not null default false,
    created_at timestamptz not null default now(),
    finished_at timestamptz,
    unique (turn_id, side, attempt)
);
create unique index answer_live_side_idx on answer (turn_id, side) where not discarded;

create table vote (
    id bigint generated always as identity primary key,
    turn_id uuid not null unique references battle_turn (id),
    battle_id uuid not null references battle (id),
    voter_id uuid not null references voter (id),
    winner text not null check (winner in ('model_a', 'model_b', 'tie', 'both_bad')),
    -- counted on the leaderboard: anonymous at vote time, no identity leak, no failure
    counted boolean not null,
    idempotency_key text,
    created_at timestamptz not null default now(),
    unique (voter_id, idempotency_key)
);

-- Outcome counts per ordered model pair, language and day, updated in the same transaction as
-- each counted vote, so the leaderboard never scans the votes.
create table pair_count (
    model_a_id uuid not null references model (id),
    model_b_id uuid not null references model (id),
    language text not null default '',
    day date not null,
    wins_a bigint not null default 0,
    wins_b bigint not null default 0,
    ties bigint not null default 0,
    both_bad bigint not null default 0,
    primary key (model_a_id, model_b_id, language, day)
);

-- Each leaderboard computation: what it saw and how, so any run can be reproduced exactly.
create table rating_run (
    id bigint generated always as identity primary key,
    method text not null,
    params jsonb not null,
    seed bigint,
    max_vote_id bigint not null,
    vote_count bigint not null,
    language text,
    date_from date,
    date_to date,
    result jsonb not null,
    created_at timestamptz not null default now()
);
