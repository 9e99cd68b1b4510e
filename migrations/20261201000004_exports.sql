-- Research exports: a voter may opt out of data release (their conversations and votes are
-- left out of every export).
alter table voter add column data_release_opt_out boolean not null default false;
