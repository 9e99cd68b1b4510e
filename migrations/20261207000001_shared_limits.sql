-- Limits shared by every server process (#22): rate budgets and held slots live in Postgres, so
-- N processes behind a load balancer give a client the budget of one. Unlogged: after a crash
-- the limits start afresh, which costs nothing but a moment of leniency.

-- Rate budgets (GCRA): one "theoretical arrival time" per key ('create_battle/a/192.0.2.1').
-- A key whose tat has passed holds a full budget and is swept.
create unlogged table rate_limit (
    key text primary key,
    tat timestamptz not null
);
create index rate_limit_tat on rate_limit (tat);

-- Takes one request from each key's budget, all or nothing. Admitted: wait_ms = 0. Refused:
-- the (1-based) index of the first key that refused and how many milliseconds until it would
-- admit. `emission_ms` is the refill interval of one request, `burst` how many may come at
-- once. Rows are locked in key order (no deadlocks).
create function limit_take(p_keys text[], p_emission_ms float8[], p_burst int[],
                           out wait_ms float8, out refused int)
language plpgsql as $$
declare
    t timestamptz := clock_timestamp();
    n int := coalesce(array_length(p_keys, 1), 0);
    tats timestamptz[] := '{}';
    cur timestamptz;
    emission interval;
    ahead float8;
begin
    wait_ms := 0;
    refused := 0;
    insert into rate_limit (key, tat)
        select k, t from unnest(p_keys) k order by k
        on conflict (key) do nothing;
    perform 1 from rate_limit where key = any(p_keys) order by key for update;
    for i in 1..n loop
        select greatest(tat, t) into cur from rate_limit where key = p_keys[i];
        emission := p_emission_ms[i] * interval '1 millisecond';
        ahead := extract(epoch from (cur - emission * (greatest(p_burst[i], 1) - 1) - t)) * 1000;
        if ahead > 0 and refused = 0 then
            wait_ms := ahead;
            refused := i;
        end if;
        tats := tats || (cur + emission);
    end loop;
    if refused > 0 then
        return;
    end if;
    for i in 1..n loop
        update rate_limit set tat = tats[i] where key = p_keys[i];
    end loop;
end $$;

-- Things held for a while (open streams, running exports): one row per holder and key, owned by
-- the server process that holds it; a process that stops or goes silent loses its rows.
create unlogged table held_slot (
    id uuid not null,
    key text not null,
    instance_id uuid not null,
    taken_at timestamptz not null default now(),
    primary key (id, key)
);
create index held_slot_key on held_slot (key);
create index held_slot_instance on held_slot (instance_id);

-- Takes a slot under every key, all or nothing: 0 when taken, else the (1-based) index of the
-- first key already holding its maximum. Keys are serialised by advisory locks in key order.
create function slot_take(p_id uuid, p_instance uuid, p_keys text[], p_max int[])
returns int language plpgsql as $$
declare
    n int := coalesce(array_length(p_keys, 1), 0);
    lock_key text;
begin
    for lock_key in select distinct x from unnest(p_keys) x order by 1 loop
        perform pg_advisory_xact_lock(hashtextextended(lock_key, 7));
    end loop;
    for i in 1..n loop
        if (select count(*) from held_slot where key = p_keys[i]) >= p_max[i] then
            return i;
        end if;
    end loop;
    insert into held_slot (id, key, instance_id)
        select p_id, k, p_instance from unnest(p_keys) k;
    return 0;
end $$;

-- Failed sign-ins, one row per failure and key: the pair (account, address) 'p/USER/ADDR' and
-- the address 'a/ADDR'. Never the account alone, so nobody can lock its owner out from
-- elsewhere. Rows older than the window are swept.
create unlogged table signin_failure (
    key text not null,
    at timestamptz not null default clock_timestamp()
);
create index signin_failure_key on signin_failure (key, at);
create index signin_failure_at on signin_failure (at);
