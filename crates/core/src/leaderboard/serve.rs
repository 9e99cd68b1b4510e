//! Serving the leaderboard without fitting on the request path.
//!
//! - The default view (all votes, sandwich intervals, ties as half wins) is the latest run of
//!   the background refresh: every `refresh` interval, one process across all of them (a lease
//!   row, no connection held while fitting) refits when the counted votes changed.
//! - Any other option set (a language, dates, bootstrap seeds, Davidson ties) is fitted once per
//!   vote set: its latest run is served while no counted vote arrived since (a cheap check of
//!   the highest counted vote id); otherwise the request passes `admit` (the caller's rate
//!   limiter) before the counts are read, and a new computation also passes a global bound on
//!   the computations of the last minute, so a loop of fresh seeds cannot write runs without
//!   end, nor a loop of stale views scan the counts without end.
//!
//! A fit never holds a database connection: the counts are read in a short repeatable-read
//! transaction, the connection goes back to the pool, the fit runs on a blocking thread, and the
//! run is inserted afterwards.

use super::{CountRow, KeyedCounts, Spec, compute, keyed, listed, stored_view, total};
use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::api::{LeaderboardFilter, LeaderboardView};
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

/// What a run is looked up by: the filter and parameters, without the model list.
fn options_key(spec: &Spec) -> String {
    serde_json::to_string(&spec.filter()).unwrap_or_default()
}

/// The counts a fit reads, and the vote set they stand for.
struct Snapshot {
    counts: KeyedCounts,
    keys: Vec<String>,
    params: serde_json::Value,
    max_vote_id: i64,
    vote_count: i64,
    /// The database snapshot the counts were read in (`pg_current_snapshot()` as text).
    db_snapshot: String,
}

impl Arena {
    /// The leaderboard for `filter`: a stored run whenever one fits (see the module docs).
    /// `admit` is asked before a new computation for a non-default option set.
    pub async fn leaderboard<Admit: std::future::Future<Output = ArenaResult<()>>>(
        &self,
        filter: LeaderboardFilter,
        admit: impl FnOnce() -> Admit,
    ) -> ArenaResult<LeaderboardView> {
        let spec = Spec::parse(&filter)?;
        if let Some(slug) = &spec.campaign {
            crate::campaigns::by_slug(&self.pool, slug).await?;
        }
        let key = options_key(&spec);
        if spec.is_default() {
            if let Some(view) = self.latest_run(&key).await? {
                return Ok(view);
            }
            // No run yet (a new arena): the first request fits, the refresh takes over.
            let snapshot = self.snapshot(&spec).await?;
            return self.fit_and_record(&spec, &key, snapshot, true).await;
        }
        // Cheap first: the latest run of this option set, if no counted vote arrived since.
        if let Some(view) = self.latest_run(&key).await? {
            let newest: i64 = match &spec.source {
                None => {
                    sqlx::query_scalar(super::counts::COUNTED_MARK)
                        .fetch_one(&self.pool)
                        .await?
                }
                Some(name) => source_mark(&self.pool, self.source_id(name).await?).await?,
            };
            if view.max_vote_id == newest
                && (spec.source.is_some() || !self.missed_in_flight(view.run_id).await?)
            {
                return Ok(view);
            }
        }
        // A campaign's default view is what its page opens with: never refused (its runs are
        // reused while no vote arrived, so it costs one fit per vote set, as the arena's does).
        let campaign_default = spec.is_campaign_default();
        // Reading the counts scans this view's count rows (over a second at arena scale): only
        // behind the caller's limiter (per client address, so one client's loop of fresh
        // options spends its own budget first).
        if !campaign_default {
            admit().await?;
        }
        let snapshot = self.snapshot(&spec).await?;
        if let Some(view) = self.matching_run(&key, &snapshot).await? {
            return Ok(view);
        }
        if !campaign_default {
            self.wait_for_computation_budget().await?;
        }
        self.fit_and_record(&spec, &key, snapshot, false).await
    }

    /// The global bound on new computations of non-default views (all processes, the last
    /// minute's runs): a request that finds it spent waits a little for the oldest to age out
    /// (a brief queue) before it is refused.
    async fn wait_for_computation_budget(&self) -> ArenaResult<()> {
        let max = i64::from(self.leaderboard_settings.max_computations_per_minute);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        // A campaign's default view differs from the arena's default only by its campaign.
        let default_key = options_key(&Spec::parse(&LeaderboardFilter::default())?);
        loop {
            // Campaign default views are not counted: they are never refused.
            let (recent, wait_secs): (i64, f64) = sqlx::query_as(
                "select count(*),
                        coalesce(extract(epoch from min(created_at) + interval '1 minute'
                                 - now()), 0)::float8
                 from rating_run
                 where not refresh and created_at > now() - interval '1 minute'
                   and not coalesce(options_key::jsonb ->> 'campaign' is not null
                                    and (options_key::jsonb - 'campaign')
                                        = ($1::jsonb - 'campaign'), false)",
            )
            .bind(&default_key)
            .fetch_one(&self.pool)
            .await?;
            if recent < max {
                return Ok(());
            }
            // The oldest run ages out in `wait`: wait for it only if it comes soon.
            let wait = Duration::from_secs_f64(wait_secs.max(0.05));
            if tokio::time::Instant::now() + wait > deadline {
                return Err(ArenaError::rate_limited(
                    "leaderboard_busy",
                    "many different leaderboard views were computed in the last minute; \
                     try again shortly, or use the default view",
                    Duration::from_secs(wait_secs.ceil().max(1.0) as u64),
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether a transaction that was in progress when run `run_id` read its snapshot has since
    /// committed a counted vote or a void event: those took ids below the run's mark while
    /// invisible to it, so an equal mark does not prove the run current (a run without a
    /// recorded snapshot predates concurrent votes).
    async fn missed_in_flight(&self, run_id: i64) -> ArenaResult<bool> {
        let sql = format!(
            "select coalesce((select {missed} from rating_run r where r.id = $1), false)",
            missed = super::counts::missed_in_flight("r.snapshot"),
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn latest_run(&self, key: &str) -> ArenaResult<Option<LeaderboardView>> {
        let row: Option<(i64, chrono::DateTime<chrono::Utc>, serde_json::Value)> = sqlx::query_as(
            "select id, created_at, result from rating_run
                 where options_key = $1 order by id desc limit 1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, created, result)| stored_view(id, created, result))
            .transpose()
    }

    async fn matching_run(
        &self,
        key: &str,
        snapshot: &Snapshot,
    ) -> ArenaResult<Option<LeaderboardView>> {
        let row: Option<(i64, chrono::DateTime<chrono::Utc>, serde_json::Value)> = sqlx::query_as(
            "select id, created_at, result from rating_run
                 where options_key = $1 and params = $2 and max_vote_id = $3
                   and vote_count = $4
                 order by id desc limit 1",
        )
        .bind(key)
        .bind(&snapshot.params)
        .bind(snapshot.max_vote_id)
        .bind(snapshot.vote_count)
        .fetch_optional(&self.pool)
        .await?;
        // A run stored by an older version that no longer reads is simply fitted again.
        Ok(row.and_then(|(id, created, result)| stored_view(id, created, result).ok()))
    }

    /// An imported data source's id by name.
    pub(crate) async fn source_id(&self, name: &str) -> ArenaResult<Uuid> {
        sqlx::query_scalar("select id from data_source where name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(ArenaError::NotFound {
                what: "data source",
            })
    }

    /// A data source's counts and mark (its highest row number): a source only grows by
    /// imports, each one transaction, so the mark names the vote set exactly.
    async fn source_snapshot(&self, spec: &Spec, name: &str) -> ArenaResult<Snapshot> {
        let source = self.source_id(name).await?;
        let mut tx = self.rating_pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let db_snapshot: String = sqlx::query_scalar("select pg_current_snapshot()::text")
            .fetch_one(&mut *tx)
            .await?;
        let rows: Vec<CountRow> = sqlx::query_as(
            "select model_a_id, model_b_id, sum(wins_a)::bigint as wins_a,
                    sum(wins_b)::bigint as wins_b, sum(ties)::bigint as ties,
                    sum(both_bad)::bigint as both_bad
             from source_pair_count
             where source_id = $4 and ($1::text is null or language = $1)
               and ($2::date is null or day >= $2) and ($3::date is null or day <= $3)
             group by model_a_id, model_b_id",
        )
        .bind(&spec.language)
        .bind(spec.from)
        .bind(spec.to)
        .bind(source)
        .fetch_all(&mut *tx)
        .await?;
        let max_vote_id = source_mark(&mut *tx, source).await?;
        tx.commit().await?;
        let catalog = self.catalog_with_imports().await?;
        let counts = keyed(&catalog, &rows)?;
        let vote_count = total(&counts);
        // Listed: the models this source has votes for.
        let keys: Vec<String> = counts
            .iter()
            .flat_map(|(a, b, _)| [a.clone(), b.clone()])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let params = spec.params(&keys);
        Ok(Snapshot {
            counts,
            keys,
            params,
            max_vote_id,
            vote_count,
            db_snapshot,
        })
    }

    /// The counts and the vote high-water mark, read consistently; the connection is returned
    /// before anything is fitted.
    async fn snapshot(&self, spec: &Spec) -> ArenaResult<Snapshot> {
        if let Some(name) = &spec.source {
            return self.source_snapshot(spec, name).await;
        }
        let mut tx = self.rating_pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        // The first statement fixes the transaction's snapshot: this is the one every read below
        // sees, and the one a reproduction filters the votes by.
        let db_snapshot: String = sqlx::query_scalar("select pg_current_snapshot()::text")
            .fetch_one(&mut *tx)
            .await?;
        let rows: Vec<CountRow> = match spec.counted_from_votes() {
            // A category's or a detected language's counts come from the votes (the counts
            // table has neither).
            true => {
                super::category::counts(
                    &mut *tx,
                    spec.category,
                    spec.detected_language,
                    &spec.language,
                    spec.from,
                    spec.to,
                    spec.campaign.as_deref(),
                )
                .await?
            }
            false => {
                sqlx::query_as(
                    "select model_a_id, model_b_id, sum(wins_a)::bigint as wins_a,
                            sum(wins_b)::bigint as wins_b, sum(ties)::bigint as ties,
                            sum(both_bad)::bigint as both_bad
                     from pair_count
                     where ($1::text is null or language = $1)
                       and ($2::date is null or day >= $2) and ($3::date is null or day <= $3)
                     group by model_a_id, model_b_id",
                )
                .bind(&spec.language)
                .bind(spec.from)
                .bind(spec.to)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let max_vote_id: i64 = sqlx::query_scalar(super::counts::COUNTED_MARK)
            .fetch_one(&mut *tx)
            .await?;
        // A campaign's pool (empty: every active model), read in the same snapshot.
        let pool: Vec<Uuid> = match &spec.campaign {
            Some(slug) => {
                sqlx::query_scalar(
                    "select cm.model_id from campaign_model cm
                     join campaign c on c.id = cm.campaign_id where c.slug = $1",
                )
                .bind(slug)
                .fetch_all(&mut *tx)
                .await?
            }
            None => Vec::new(),
        };
        tx.commit().await?;
        let catalog = self.catalog.all();
        let counts = keyed(&catalog, &rows)?;
        let vote_count = total(&counts);
        // Listed: every active model (of the campaign's pool, if it has one), and any other
        // that has votes in this view.
        let mut keys: BTreeSet<String> = catalog
            .iter()
            .filter(|m| m.active && (pool.is_empty() || pool.contains(&m.id)))
            .map(|m| m.key.clone())
            .collect();
        for (a, b, _) in &counts {
            keys.insert(a.clone());
            keys.insert(b.clone());
        }
        let keys: Vec<String> = keys.into_iter().collect();
        let params = spec.params(&keys);
        Ok(Snapshot {
            counts,
            keys,
            params,
            max_vote_id,
            vote_count,
            db_snapshot,
        })
    }

    async fn fit_and_record(
        &self,
        spec: &Spec,
        key: &str,
        snapshot: Snapshot,
        refresh: bool,
    ) -> ArenaResult<LeaderboardView> {
        let catalog = self.catalog_with_imports().await?;
        let computed = compute(
            listed(&catalog, &snapshot.keys),
            snapshot.counts,
            spec.clone(),
        )
        .await?;
        let method = spec.method();
        let mut view = LeaderboardView {
            run_id: 0,
            method: method.clone(),
            max_vote_id: snapshot.max_vote_id,
            vote_count: snapshot.vote_count,
            computed_at: String::new(),
            filter: spec.filter(),
            entries: computed.entries,
            warnings: computed.warnings,
            battles: computed.battles,
            win_rate: computed.win_rate,
            // The lookup key is the request's parameters; the ridge actually used is shown too.
            params: {
                let mut shown = snapshot.params.clone();
                shown["ridge"] = serde_json::json!(computed.ridge);
                shown
            },
            tie_parameter: computed.tie_parameter,
        };
        let result =
            serde_json::to_value(&view).map_err(|e| ArenaError::Internal(e.to_string()))?;
        let (run_id, created): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
            "insert into rating_run (method, params, seed, max_vote_id, vote_count, language,
                                     date_from, date_to, result, options_key, refresh, snapshot,
                                     source_id, quarantined_voters)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                     (select id from data_source where name = $13),
                     (select count(*)::integer from voter_quarantine
                      where state in ('quarantined', 'confirmed')))
             returning id, created_at",
        )
        .bind(&method)
        .bind(&snapshot.params)
        .bind(spec.bootstrap.map(|(_, seed)| seed as i64))
        .bind(snapshot.max_vote_id)
        .bind(snapshot.vote_count)
        .bind(&spec.language)
        .bind(spec.from)
        .bind(spec.to)
        .bind(&result)
        .bind(key)
        .bind(refresh)
        .bind(&snapshot.db_snapshot)
        .bind(&spec.source)
        .fetch_one(&self.pool)
        .await?;
        view.run_id = run_id;
        view.computed_at = created.to_rfc3339();
        Ok(view)
    }

    /// One refresh round: if this process holds the lease and the counted votes changed since
    /// the latest default run, fits and records a new one. True when it recorded a run.
    pub async fn refresh_leaderboard(&self, holder: Uuid, lease: Duration) -> ArenaResult<bool> {
        let acquired: Option<Uuid> = sqlx::query_scalar(
            "insert into leaderboard_refresh (id, holder, expires_at)
             values (1, $1, now() + make_interval(secs => $2))
             on conflict (id) do update set holder = excluded.holder,
                                            expires_at = excluded.expires_at
             where leaderboard_refresh.expires_at < now()
                or leaderboard_refresh.holder = excluded.holder
             returning holder",
        )
        .bind(holder)
        .bind(lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        if acquired.is_none() {
            return Ok(false);
        }
        // Held across the fit: a second round of this process waits, then finds the run made.
        let _round = self.refresh_round.lock().await;
        let spec = Spec::parse(&LeaderboardFilter::default())?;
        let key = options_key(&spec);
        let snapshot = self.snapshot(&spec).await?;
        let current = self.matching_run(&key, &snapshot).await?;
        let recorded = match current {
            Some(_) => false,
            None => {
                self.fit_and_record(&spec, &key, snapshot, true).await?;
                true
            }
        };
        Ok(recorded)
    }
}

/// Runs [`Arena::refresh_leaderboard`] every `interval` until the arena's shutdown token fires.
pub fn spawn_refresh(arena: Arena, interval: Duration) -> tokio::task::JoinHandle<()> {
    let holder = arena.instance;
    // The lease outlives a slow fit; a process that dies loses it after this long.
    let lease = (interval * 10).max(Duration::from_secs(30));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = arena.shutdown.cancelled() => break,
            }
            if let Err(e) = arena.refresh_leaderboard(holder, lease).await {
                tracing::warn!(error = %e, "leaderboard refresh failed");
            }
        }
        // Let a sibling take over at once.
        let _ = sqlx::query(
            "update leaderboard_refresh set expires_at = now() where id = 1 and holder = $1",
        )
        .bind(holder)
        .execute(&arena.pool)
        .await;
    })
}

/// A data source's mark: its highest row number (0 while empty).
async fn source_mark<'c>(conn: impl sqlx::PgExecutor<'c>, source: Uuid) -> ArenaResult<i64> {
    Ok(
        sqlx::query_scalar("select coalesce(max(seq), 0) from source_vote where source_id = $1")
            .bind(source)
            .fetch_one(conn)
            .await?,
    )
}
