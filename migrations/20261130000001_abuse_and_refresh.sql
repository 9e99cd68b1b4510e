-- Abuse defences and the leaderboard off the request path.

-- The words that made an answer count as naming a model or vendor, kept for review.
alter table answer add column identity_matches text[] not null default '{}';

-- A rating run is looked up by its option set (the filter and parameters without the model
-- list); `refresh` marks the runs of the background refresh (the default view), the others
-- were asked for with other options and count against the global bound.
alter table rating_run add column options_key text;
alter table rating_run add column refresh boolean not null default false;
create index rating_run_options_idx on rating_run (options_key, id desc);
create index rating_run_recent_idx on rating_run (created_at) where not refresh;

-- The lease of the process that refreshes the default leaderboard (one at a time across all
-- server processes; a dead holder's lease expires).
create table leaderboard_refresh (
    id integer primary key check (id = 1),
    holder uuid not null,
    expires_at timestamptz not null
);
