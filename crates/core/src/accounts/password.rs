//! Password hashing: argon2id (m = 19456 KiB, t = 2, p = 1, the OWASP minimum) as PHC strings,
//! run on blocking threads behind a small semaphore so that a burst of sign-ins queues briefly
//! and is then refused (503, Retry-After) instead of stalling the async runtime.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many sign-ins at once; try again in a moment")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The hash was made with other parameters: store a new one (the password is known now).
    pub rehash: Option<String>,
}

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    queue_wait: Duration,
    params: Params,
    /// A hash of nothing anyone knows: unknown usernames are checked against it, so that they
    /// take as long as a wrong password.
    dummy: Arc<String>,
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_with(params: &Params, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2(params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Failed(e.to_string()))
}

impl Hasher {
    /// `concurrency` hashes at once; a request waits at most `queue_wait` for a turn.
    pub fn new(concurrency: usize, queue_wait: Duration) -> Self {
        Self::with_params(
            concurrency,
            queue_wait,
            Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid argon2 params"),
        )
    }

    pub fn with_params(concurrency: usize, queue_wait: Duration, params: Params) -> Self {
        let dummy = hash_with(&params, "no password is this one: unknown user")
            .expect("hashing a constant");
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            queue_wait,
            params,
            dummy: Arc::new(dummy),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit =
            tokio::time::timeout(self.queue_wait, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| HashError::Busy)?
                .map_err(|_| HashError::Busy)?;
        let result = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?;
        Ok(result)
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (params, password) = (self.params.clone(), password.to_owned());
        self.run(move || hash_with(&params, &password)).await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no account
    /// (same work, same answer: no match). Passwords are hashed in NFC (see
    /// `arena_domain::account::Password`); a hash made before that from another form of the
    /// same text still matches the text as typed, and is then rehashed from its NFC form.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verified, HashError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy).to_owned();
        let typed = password.to_owned();
        let (params, password) = (self.params.clone(), typed.nfc().collect::<String>());
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Ok(Verified {
                    matches: false,
                    rehash: None,
                });
            };
            let check = |text: &str| {
                argon2(params.clone())
                    .verify_password(text.as_bytes(), &parsed)
                    .is_ok()
            };
            let nfc_matches = check(&password);
            let typed_matches = !nfc_matches && typed != password && check(&typed);
            let matches = (nfc_matches || typed_matches) && known;
            let current = Params::try_from(&parsed).ok();
            let outdated = parsed.algorithm.as_str() != "argon2id"
                || current.is_none_or(|p| {
                    (p.m_cost(), p.t_cost(), p.p_cost())
                        != (params.m_cost(), params.t_cost(), params.p_cost())
                });
            let rehash = if matches && (outdated || typed_matches) {
                Some(hash_with(&params, &password)?)
            } else {
                None
            };
            Ok(Verified { matches, rehash })
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_the_configured_cost() {
        let hasher = Hasher::new(1, Duration::from_secs(5));
        let phc = hasher.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let ok = hasher.verify("correct horse", Some(&phc)).await.unwrap();
        assert_eq!(
            ok,
            Verified {
                matches: true,
                rehash: None
            }
        );
        assert!(
            !hasher
                .verify("wrong horse", Some(&phc))
                .await
                .unwrap()
                .matches
        );
        assert!(!hasher.verify("correct horse", None).await.unwrap().matches);
        assert!(
            !hasher
                .verify("x", Some("not a hash"))
                .await
                .unwrap()
                .matches
        );
    }

    #[tokio::test]
    async fn a_hash_with_older_parameters_is_rehashed_when_the_password_is_right() {
        let old = Hasher::with_params(1, Duration::from_secs(5), cheap());
        let phc = old.hash("correct horse").await.unwrap();
        let current = Hasher::new(1, Duration::from_secs(5));
        let verified = current.verify("correct horse", Some(&phc)).await.unwrap();
        assert!(verified.matches);
        let new = verified.rehash.expect("rehashed");
        assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            current
                .verify("correct horse", Some(&new))
                .await
                .unwrap()
                .rehash
                .is_none()
        );
        // A wrong password is never rehashed.
        assert!(
            current
                .verify("wrong", Some(&phc))
                .await
                .unwrap()
                .rehash
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_burst_beyond_the_queue_is_refused_not_stalled() {
        let hasher = Hasher::new(1, Duration::from_millis(1));
        let burst: Vec<_> = (0..6)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash("correct horse").await })
            })
            .collect();
        let mut busy = 0;
        for task in burst {
            if matches!(task.await.unwrap(), Err(HashError::Busy)) {
                busy += 1;
            }
        }
        assert!(
            busy >= 1,
            "one permit and no queue: some of a burst are refused"
        );
    }
}
