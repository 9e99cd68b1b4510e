-- Campaigns (issue #11): a time-boxed arena with its own languages, model pool, pairing,
-- registration questions and rubric. The default arena is a campaign that never ends.

create table campaign (
    id uuid primary key,
    slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name text not null,
    description text not null default '',
    starts_at timestamptz,
    ends_at timestamptz,
    languages text[] not null default '{}',
    pairing text not null default 'arena' check (pairing in ('arena', 'uniform')),
    sign_in_required boolean not null default false,
    -- [{key, label, kind: scale|choice, ...}] (arena_domain::campaign::Question)
    questions jsonb not null default '[]',
    -- {axes: [{key, label}], rule: {kind: ordered|majority, order?}} or null
    rubric jsonb,
    is_default boolean not null default false,
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (starts_at is null or ends_at is null or starts_at < ends_at)
);
create unique index campaign_one_default on campaign (is_default) where is_default;

insert into campaign (id, slug, name, description, is_default)
values ('00000000-0000-7000-8000-000000000001', 'arena', 'Arena',
        'The open arena: every active model, always open.', true);

-- The pool: empty means every active model.
create table campaign_model (
    campaign_id uuid not null references campaign (id) on delete cascade,
    model_id uuid not null references model (id),
    primary key (campaign_id, model_id)
);

-- Registration answers, per voter per campaign (used only in exports).
create table campaign_registration (
    campaign_id uuid not null references campaign (id) on delete cascade,
    voter_id uuid not null references voter (id),
    answers jsonb not null,
    created_at timestamptz not null default now(),
    primary key (campaign_id, voter_id)
);

-- The contributor leaderboard is opt-in: a pseudonym per voter per campaign.
create table campaign_contributor (
    campaign_id uuid not null references campaign (id) on delete cascade,
    voter_id uuid not null references voter (id),
    alias text not null,
    created_at timestamptz not null default now(),
    primary key (campaign_id, voter_id),
    unique (campaign_id, alias)
);

-- Every battle belongs to a campaign (the ones before campaigns to the default arena).
alter table battle add column campaign_id uuid references campaign (id);
update battle set campaign_id = '00000000-0000-7000-8000-000000000001' where campaign_id is null;
alter table battle alter column campaign_id set default '00000000-0000-7000-8000-000000000001';
alter table battle alter column campaign_id set not null;
create index battle_campaign_idx on battle (campaign_id);

-- A rubric vote's verdict per axis (the vote's winner is derived from them by the campaign's
-- rule, in the same transaction).
create table vote_axis (
    vote_id bigint not null references vote (id) on delete cascade,
    axis text not null,
    winner text not null check (winner in ('model_a', 'model_b', 'tie')),
    primary key (vote_id, axis)
);

-- A stored rating run is current only if no transaction that was in progress when its snapshot
-- was taken has since committed a counted vote or a void event (those have ids below the run's
-- mark, so the mark alone cannot tell): looked up by transaction id.
create index vote_counted_txid_idx on vote (txid) where counted;
create index vote_void_txid_idx on vote_void (txid);
