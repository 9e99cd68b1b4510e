//! Rate limits, in layers: per client address and per voter, each action with its own budget
//! (battle creation, turns, regenerations, votes, leaderboard computations). A budget is a burst
//! and a refill rate (GCRA, from `governor`); a refused request learns when to come back.
//!
//! Client addresses are keyed by the whole IPv4 address and by the /64 prefix of an IPv6 one (one
//! host usually owns a whole /64). Memory stays bounded: keys whose budget has refilled carry no
//! information and are dropped by [`Limits::sweep`], which the server runs every few seconds and
//! a check runs at once when more than `max_tracked_clients` keys are held.

use crate::error::ArenaError;
use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use serde::Deserialize;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
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
    /// Above this many keys in one limiter, stale keys are swept at once.
    pub max_tracked_clients: usize,
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
    const ALL: [Action; 5] = [
        Action::CreateBattle,
        Action::Turn,
        Action::Regenerate,
        Action::Vote,
        Action::Leaderboard,
    ];

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

type Keyed<K> = RateLimiter<
    K,
    governor::state::keyed::DefaultKeyedStateStore<K>,
    DefaultClock,
    governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>,
>;

struct ActionLimiters {
    by_address: Keyed<IpAddr>,
    by_voter: Keyed<Uuid>,
}

/// The arena's rate limiters (cheap to clone).
#[derive(Clone)]
pub struct Limits {
    inner: Arc<Inner>,
}

struct Inner {
    settings: LimitSettings,
    limiters: Vec<(Action, ActionLimiters)>,
    clock: DefaultClock,
    started: Instant,
    last_sweep_ms: AtomicU64,
}

fn quota(rate: Rate) -> Quota {
    let per_minute = NonZeroU32::new(rate.per_minute.max(1)).expect("non-zero");
    let burst = NonZeroU32::new(rate.burst.max(1)).expect("non-zero");
    Quota::per_minute(per_minute).allow_burst(burst)
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

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        let budget = |action| match action {
            Action::CreateBattle => settings.create_battle,
            Action::Turn => settings.turn,
            Action::Regenerate => settings.regenerate,
            Action::Vote => settings.vote,
            Action::Leaderboard => settings.leaderboard,
        };
        let limiters = Action::ALL
            .into_iter()
            .map(|action| {
                let b = budget(action);
                (
                    action,
                    ActionLimiters {
                        by_address: RateLimiter::keyed(quota(b.per_address)),
                        by_voter: RateLimiter::keyed(quota(b.per_voter)),
                    },
                )
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                settings,
                limiters,
                clock: DefaultClock::default(),
                started: Instant::now(),
                last_sweep_ms: AtomicU64::new(0),
            }),
        }
    }

    pub fn settings(&self) -> &LimitSettings {
        &self.inner.settings
    }

    fn limiters(&self, action: Action) -> &ActionLimiters {
        &self
            .inner
            .limiters
            .iter()
            .find(|(a, _)| *a == action)
            .expect("every action has limiters")
            .1
    }

    fn refused(&self, action: Action, whose: &str, until: Duration) -> ArenaError {
        // Whole seconds, rounded up: a client that waits this long is admitted.
        let secs = until.as_secs() + u64::from(until.subsec_nanos() > 0);
        ArenaError::rate_limited(
            "rate_limited",
            format!(
                "too many {} from {whose}; try again in {} s",
                action.what(),
                secs.max(1)
            ),
            Duration::from_secs(secs.max(1)),
        )
    }

    /// Spends one request of `action` from the client address's budget.
    pub fn check_address(&self, action: Action, address: IpAddr) -> Result<(), ArenaError> {
        if !self.inner.settings.enabled {
            return Ok(());
        }
        let limiter = &self.limiters(action).by_address;
        self.sweep_if_crowded(limiter.len());
        limiter
            .check_key(&address_key(address))
            .map_err(|not_until| {
                self.refused(
                    action,
                    "your network address",
                    not_until.wait_time_from(self.inner.clock.now()),
                )
            })
    }

    /// Spends one request of `action` from the voter's budget.
    pub fn check_voter(&self, action: Action, voter: Uuid) -> Result<(), ArenaError> {
        if !self.inner.settings.enabled {
            return Ok(());
        }
        let limiter = &self.limiters(action).by_voter;
        self.sweep_if_crowded(limiter.len());
        limiter.check_key(&voter).map_err(|not_until| {
            self.refused(
                action,
                "this browser session",
                not_until.wait_time_from(self.inner.clock.now()),
            )
        })
    }

    fn sweep_if_crowded(&self, len: usize) {
        if len <= self.inner.settings.max_tracked_clients {
            return;
        }
        // At most one emergency sweep a second.
        let now = self.inner.started.elapsed().as_millis() as u64;
        let last = self.inner.last_sweep_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self
                .inner
                .last_sweep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.sweep();
        }
    }

    /// Drops the keys whose budget is full again (they would be recreated identical).
    pub fn sweep(&self) {
        for (_, l) in &self.inner.limiters {
            l.by_address.retain_recent();
            l.by_address.shrink_to_fit();
            l.by_voter.retain_recent();
            l.by_voter.shrink_to_fit();
        }
    }

    /// Keys held across all limiters (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.inner
            .limiters
            .iter()
            .map(|(_, l)| l.by_address.len() + l.by_voter.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(burst: u32) -> LimitSettings {
        settings_with(burst, 60)
    }

    fn settings_with(burst: u32, per_minute: u32) -> LimitSettings {
        let rate = Rate { burst, per_minute };
        let budget = Budget {
            per_address: rate,
            per_voter: rate,
        };
        LimitSettings {
            enabled: true,
            create_battle: budget,
            turn: budget,
            regenerate: budget,
            vote: budget,
            leaderboard: budget,
            max_generating_per_voter: 2,
            max_generating_per_address: 4,
            max_tracked_clients: 10,
        }
    }

    #[test]
    fn a_burst_is_admitted_then_refused_with_a_wait() {
        let limits = Limits::new(settings(3));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limits.check_address(Action::CreateBattle, ip).unwrap();
        }
        match limits.check_address(Action::CreateBattle, ip) {
            Err(ArenaError::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(1))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Other actions and other clients have their own budgets.
        limits.check_address(Action::Vote, ip).unwrap();
        limits
            .check_address(Action::CreateBattle, "192.0.2.2".parse().unwrap())
            .unwrap();
    }

    #[test]
    fn ipv6_hosts_share_their_64_prefix() {
        let limits = Limits::new(settings(1));
        limits
            .check_address(Action::Vote, "2001:db8::1".parse().unwrap())
            .unwrap();
        assert!(
            limits
                .check_address(Action::Vote, "2001:db8::ffff:1234".parse().unwrap())
                .is_err()
        );
        limits
            .check_address(Action::Vote, "2001:db8:0:1::1".parse().unwrap())
            .unwrap();
    }

    #[test]
    fn many_clients_are_swept_so_memory_stays_bounded() {
        // One request every 10 ms refills.
        let limits = Limits::new(settings_with(5, 6000));
        for i in 0..50u32 {
            limits
                .check_voter(Action::Vote, Uuid::from_u128(u128::from(i)))
                .unwrap();
        }
        // Each key spent one of five: a few refill intervals later they are all full again and
        // indistinguishable from new keys.
        std::thread::sleep(Duration::from_millis(200));
        limits.sweep();
        assert_eq!(limits.tracked_keys(), 0);
    }

    #[test]
    fn disabled_limits_admit_everything() {
        let mut s = settings(1);
        s.enabled = false;
        let limits = Limits::new(s);
        for _ in 0..10 {
            limits.check_voter(Action::Vote, Uuid::nil()).unwrap();
        }
    }
}
