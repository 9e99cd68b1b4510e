-- API tokens of researchers and admins: read-only access to the exports and the leaderboard
-- from scripts (`Authorization: Bearer …`). Only a hash of each token is stored.
create table api_token (
    id uuid primary key,
    user_id uuid not null references app_user (id) on delete cascade,
    name text not null check (length(name) between 1 and 100),
    token_hash bytea not null unique,
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);
create index api_token_user_idx on api_token (user_id, created_at desc);
