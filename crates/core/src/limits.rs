//! Rate limits, in layers: per client address and per voter, each action with its own budget
//! (battle creation, turns, regenerations, votes, leaderboard computations). A budget is a burst
//! and a refill rate (GCRA); a refused request learns when to come back.
//!
//! The budgets live in Postgres (`rate_limit`, one row per key, updated by `limit_take` in one
//! round trip), so every server process behind a load balancer spends the same budget: three
//! processes give a client what one does. Things held for a while (open streams, running
//! exports) are rows of `held_slot`, owned by the process holding them. Both tables are
//! unlogged; `docs/abuse.md` gives the cost per request.
//!
//! Client addresses are keyed by the whole IPv4 address and by the /64 prefix of an IPv6 one (one
//! host usually owns a whole /64). Keys whose budget has refilled carry no information and are
//! deleted by [`Limits::sweep`], which the server runs every few seconds.

use crate::error::ArenaError;
use serde::Deserialize;
use sqlx::PgPool;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The address a request is rate-limited by: the TCP peer, or the client a trusted proxy names.
/// The server puts it in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub per_minute: u32,
}

/// The budgets of one action.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Budget {
    pub per_address: Rate,
    pub per_voter: Rate,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    /// Off only for benchmarks that drive the arena from one address.
    pub enabled: bool,
    pub create_battle: Budget,
    pub turn: Budget,
    pub regenerate: Budget,
    pub vote: Budget,
    /// A leaderboard computation for options that have no fresh stored run.
    pub leaderboard: Budget,
    /// Battles generating at once.
    pub max_generating_per_voter: usize,
    pub max_generating_per_address: usize,
    /// Battle streams (server-sent events) open at once, across every process.
    pub max_streams_per_voter: usize,
    pub max_streams_per_address: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CreateBattle,
    Turn,
    Regenerate,
    Vote,
    Leaderboard,
}

impl Action {
    fn what(self) -> &'static str {
        match self {
            Action::CreateBattle => "new battles",
            Action::Turn => "new prompts",
            Action::Regenerate => "regenerations",
            Action::Vote => "votes",
            Action::Leaderboard => "leaderboard computations",
        }
    }
}

/// The arena's rate limiters (cheap to clone).
#[derive(Clone)]
pub struct Limits {
    inner: Arc<Inner>,
}

struct Inner {
    settings: LimitSettings,
    pool: PgPool,
    /// This server process (`server_instance`): the owner of the slots it holds.
    instance: Uuid,
}

/// One request's cost against one budget: `burst` requests at once, one more every
/// `emission_ms`.
#[derive(Debug, Clone)]
pub struct Spend {
    pub key: String,
    pub emission_ms: f64,
    pub burst: u32,
    /// Whose budget, for the refusal's message ("your network address").
    pub whose: &'static str,
}

impl Spend {
    pub fn new(key: impl Into<String>, rate: Rate, whose: &'static str) -> Self {
        Self {
            key: key.into(),
            emission_ms: 60_000.0 / f64::from(rate.per_minute.max(1)),
            burst: rate.burst,
            whose,
        }
    }

    /// `burst` at once, refilled at `per_hour`.
    pub fn per_hour(
        key: impl Into<String>,
        burst: u32,
        per_hour: u32,
        whose: &'static str,
    ) -> Self {
        Self {
            key: key.into(),
            emission_ms: 3_600_000.0 / f64::from(per_hour.max(1)),
            burst,
            whose,
        }
    }
}

/// Spends one request from every budget, all or nothing, in one round trip (`limit_take`):
/// `Err((index, wait))` names the first budget that refused and when it would admit.
pub async fn take(
    pool: &PgPool,
    spends: &[Spend],
) -> Result<Result<(), (usize, Duration)>, sqlx::Error> {
    if spends.is_empty() {
        return Ok(Ok(()));
    }
    let keys: Vec<&str> = spends.iter().map(|s| s.key.as_str()).collect();
    let emission: Vec<f64> = spends.iter().map(|s| s.emission_ms).collect();
    let burst: Vec<i32> = spends
        .iter()
        .map(|s| i32::try_from(s.burst.max(1)).unwrap_or(i32::MAX))
        .collect();
    let (wait_ms, refused): (f64, i32) =
        sqlx::query_as("select wait_ms, refused from limit_take($1, $2, $3)")
            .bind(&keys)
            .bind(&emission)
            .bind(&burst)
            .fetch_one(pool)
            .await?;
    if refused == 0 {
        return Ok(Ok(()));
    }
    Ok(Err((
        usize::try_from(refused - 1).unwrap_or_default(),
        Duration::from_secs_f64(wait_ms.max(0.0) / 1000.0),
    )))
}

/// Something held under one or more keys at once (an open stream, a running export), given back
/// when dropped.
pub struct Held {
    id: Uuid,
    pool: Option<PgPool>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        let id = self.id;
        // Given back in the background: a drop cannot wait. Should it fail, the rows go with
        // this process's roster entry (`Limits::sweep`).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = sqlx::query("delete from held_slot where id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "could not give a held slot back");
                }
            });
        }
    }
}

impl Held {
    /// Gives it back now (and waits for the database).
    pub async fn release(mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = sqlx::query("delete from held_slot where id = $1")
                .bind(self.id)
                .execute(&pool)
                .await;
        }
    }
}

/// The key of a client address: IPv6 addresses by their /64 network.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Action::CreateBattle => "create_battle",
            Action::Turn => "turn",
            Action::Regenerate => "regenerate",
            Action::Vote => "vote",
            Action::Leaderboard => "leaderboard",
        }
    }
}

impl Limits {
    pub fn new(settings: LimitSettings, pool: PgPool, instance: Uuid) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                pool,
                instance,
            }),
        }
    }

    pub fn settings(&self) -> &LimitSettings {
        &self.inner.settings
    }

    fn budget(&self, action: Action) -> Budget {
        let s = &self.inner.settings;
        match action {
            Action::CreateBattle => s.create_battle,
            Action::Turn => s.turn,
            Action::Regenerate => s.regenerate,
            Action::Vote => s.vote,
            Action::Leaderboard => s.leaderboard,
        }
    }

    /// The spend of `action` against the client address's budget.
    pub fn address_spend(&self, action: Action, address: IpAddr) -> Spend {
        Spend::new(
            format!("{}/a/{}", action.key(), address_key(address)),
            self.budget(action).per_address,
            "your network address",
        )
    }

    /// The spend of `action` against the voter's budget.
    pub fn voter_spend(&self, action: Action, voter: Uuid) -> Spend {
        Spend::new(
            format!("{}/v/{voter}", action.key()),
            self.budget(action).per_voter,
            "this browser session",
        )
    }

    /// Spends one request from every budget, all or nothing (one round trip to Postgres):
    /// refused, it is a 429 whose message names the budget and the wait. `what` names the
    /// requests ("new battles").
    pub async fn spend(&self, what: &str, spends: &[Spend]) -> Result<(), ArenaError> {
        if !self.inner.settings.enabled {
            return Ok(());
        }
        match take(&self.inner.pool, spends).await? {
            Ok(()) => Ok(()),
            Err((index, wait)) => Err(refusal(
                what,
                spends.get(index).map_or("you", |s| s.whose),
                wait,
            )),
        }
    }

    /// Spends one request of `action` from the client address's budget.
    pub async fn check_address(&self, action: Action, address: IpAddr) -> Result<(), ArenaError> {
        self.spend(action.what(), &[self.address_spend(action, address)])
            .await
    }

    /// Spends one request of `action` from the voter's budget.
    pub async fn check_voter(&self, action: Action, voter: Uuid) -> Result<(), ArenaError> {
        self.spend(action.what(), &[self.voter_spend(action, voter)])
            .await
    }

    /// Spends one request of `action` from the address's and the voter's budgets at once.
    pub async fn check_both(
        &self,
        action: Action,
        address: IpAddr,
        voter: Uuid,
    ) -> Result<(), ArenaError> {
        let spends = [
            self.address_spend(action, address),
            self.voter_spend(action, voter),
        ];
        self.spend(action.what(), &spends).await
    }

    /// Takes one place under each `(key, max)` at once, held until the [`Held`] is dropped;
    /// `Err(i)` names the first key already holding its maximum. With limits off, always taken.
    pub async fn hold(&self, keys: &[(String, usize)]) -> Result<Result<Held, usize>, ArenaError> {
        if !self.inner.settings.enabled {
            return Ok(Ok(Held {
                id: Uuid::now_v7(),
                pool: None,
            }));
        }
        self.hold_always(keys).await
    }

    /// [`Limits::hold`], even with `limits.enabled = false`: for bounds on resources (running
    /// exports), which a load benchmark from one address has no reason to lift.
    pub async fn hold_always(
        &self,
        keys: &[(String, usize)],
    ) -> Result<Result<Held, usize>, ArenaError> {
        let id = Uuid::now_v7();
        if keys.is_empty() {
            return Ok(Ok(Held { id, pool: None }));
        }
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        let max: Vec<i32> = keys
            .iter()
            .map(|(_, m)| i32::try_from(*m).unwrap_or(i32::MAX))
            .collect();
        let full: i32 = sqlx::query_scalar("select slot_take($1, $2, $3, $4)")
            .bind(id)
            .bind(self.inner.instance)
            .bind(&names)
            .bind(&max)
            .fetch_one(&self.inner.pool)
            .await?;
        if full > 0 {
            return Ok(Err(usize::try_from(full - 1).unwrap_or_default()));
        }
        Ok(Ok(Held {
            id,
            pool: Some(self.inner.pool.clone()),
        }))
    }

    /// A place for one more open battle stream of this voter and address (all processes
    /// together), or a 429.
    pub async fn hold_stream(&self, voter: Uuid, address: IpAddr) -> Result<Held, ArenaError> {
        let s = &self.inner.settings;
        let keys = [
            (format!("stream/v/{voter}"), s.max_streams_per_voter),
            (
                format!("stream/a/{}", address_key(address)),
                s.max_streams_per_address,
            ),
        ];
        let whose = match self.hold(&keys).await? {
            Ok(held) => return Ok(held),
            Err(0) => "this browser session",
            Err(_) => "your network address",
        };
        Err(ArenaError::rate_limited(
            "too_many_streams",
            format!("too many battle streams are open from {whose}; close some and try again"),
            Duration::from_secs(5),
        ))
    }

    /// Places held now under `key` (for tests and metrics).
    pub async fn held(&self, key: &str) -> Result<i64, ArenaError> {
        Ok(
            sqlx::query_scalar("select count(*) from held_slot where key = $1")
                .bind(key)
                .fetch_one(&self.inner.pool)
                .await?,
        )
    }

    /// Deletes the keys whose budget is full again (they would be recreated identical) and the
    /// slots of processes that stopped or went silent for `lease`.
    pub async fn sweep(&self, lease: Duration) -> Result<(), ArenaError> {
        sqlx::query("delete from rate_limit where tat < clock_timestamp()")
            .execute(&self.inner.pool)
            .await?;
        sqlx::query(
            "delete from held_slot h where not exists (
                 select 1 from server_instance i
                 where i.id = h.instance_id and i.heartbeat_at > now() - make_interval(secs => $1))",
        )
        .bind(lease.as_secs_f64())
        .execute(&self.inner.pool)
        .await?;
        Ok(())
    }

    /// Keys held in the budgets table (for tests and metrics).
    pub async fn tracked_keys(&self) -> Result<i64, ArenaError> {
        Ok(sqlx::query_scalar("select count(*) from rate_limit")
            .fetch_one(&self.inner.pool)
            .await?)
    }
}

/// A 429 naming what was refused, whose budget, and the wait in whole seconds (rounded up: a
/// client that waits this long is admitted).
pub fn refusal(what: &str, whose: &str, until: Duration) -> ArenaError {
    let secs = (until.as_secs() + u64::from(until.subsec_nanos() > 0)).max(1);
    ArenaError::rate_limited(
        "rate_limited",
        format!("too many {what} from {whose}; try again in {secs} s"),
        Duration::from_secs(secs),
    )
}
