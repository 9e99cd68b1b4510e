-- Accounts: a role per user, server-side sessions (only a hash of each session id is stored),
-- and the link from a browser's anonymous voter to the account that signed in on it.
alter table app_user add column role text not null default 'volunteer'
    check (role in ('volunteer', 'researcher', 'admin'));
update app_user set role = 'admin' where is_admin;
alter table app_user drop column is_admin;
alter table app_user add column updated_at timestamptz not null default now();

create table account_session (
    id uuid primary key,
    token_hash bytea not null unique,
    user_id uuid not null references app_user (id) on delete cascade,
    -- the role the session was issued for: a change of role rotates the session
    role text not null check (role in ('volunteer', 'researcher', 'admin')),
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    ended_at timestamptz
);
create index account_session_user_idx on account_session (user_id) where ended_at is null;
create index voter_user_idx on voter (user_id) where user_id is not null;
