//! Failed sign-ins, counted per account and per client address independently: beyond the limit
//! within the window, further attempts are refused (429 with Retry-After) before any password
//! is checked. Successful sign-ins cost nothing.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct FailureThrottle<K> {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq + Clone> FailureThrottle<K> {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `key` has `limit` failures within the window.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().expect("throttle lock");
        let Some(times) = failures.get_mut(key) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.is_empty() {
            failures.remove(key);
            return Ok(());
        }
        if times.len() >= self.limit {
            let oldest = *times.front().expect("non-empty");
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    pub fn fail(&self, key: &K, now: Instant) {
        let mut failures = self.failures.lock().expect("throttle lock");
        // Bounded memory: keys whose failures all expired go first.
        if failures.len() > 100_000 {
            let window = self.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = failures.entry(key.clone()).or_default();
        times.push_back(now);
        while times.len() > self.limit {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_within_the_window_and_lifts_after_it() {
        let throttle = FailureThrottle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(throttle.check(&"jon", t0).is_ok(), "attempt {i}");
            throttle.fail(&"jon", t0 + Duration::from_secs(i));
        }
        let wait = throttle
            .check(&"jon", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            throttle.check(&"ane", t0).is_ok(),
            "other keys are independent"
        );
        assert!(throttle.check(&"jon", t0 + Duration::from_secs(61)).is_ok());
    }
}
