//! Accounts and their sessions.
//!
//! - A session id is 256 random bits. The browser keeps it in an HttpOnly cookie, and the
//!   database keeps only its SHA-256 (`account_session.token_hash`).
//! - Sessions end on sign-out, after an idle time and after an absolute time; both are shorter
//!   for admins.
//! - A change of the account's role rotates the session: the next request gets a new id.
//! - Signing up or in links the browser's anonymous voter to the account, so the votes cast
//!   before stay the account's. The voter's own session token is rotated at the same time.
//! - Unknown usernames and wrong passwords get the same answer after the same work: the
//!   password is checked against a dummy hash.
//! - Failed sign-ins are throttled per (account, client address) pair and per client address,
//!   never per account alone (anyone could then lock its owner out), in Postgres so that
//!   every server process counts the same failures; an admin can clear an account's throttles.
//! - Sign-ups have a budget per client address (a burst, refilled per hour).
//! - A username that looks like an existing one (the same `arena_text::skeleton`: `рtаdmin`
//!   in Cyrillic beside `ptadmin`) is refused with 409 `username_look_alike`.

pub mod cookie;
mod failures;
mod names;
pub mod password;
pub mod tokens;

use crate::error::{ArenaError, ArenaResult};
use crate::voters::{self, VoterId};
use arena_domain::account::{Password, Role, Username};
use password::{HashError, Hasher};
use serde::Deserialize;
use sqlx::PgPool;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize)]
pub struct AccountSettings {
    /// A session unused for this long ends (volunteers and researchers).
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute_hours: u64,
    pub admin_session_idle_minutes: u64,
    pub admin_session_absolute_hours: u64,
    /// Password hashes computed at once; a request waits at most `hash_queue_ms` for a turn.
    pub hash_concurrency: usize,
    pub hash_queue_ms: u64,
    /// Failed sign-ins allowed per account from one client address, and per client address,
    /// within the window.
    pub failed_signins_per_account: usize,
    pub failed_signins_per_address: usize,
    pub failed_signin_window_secs: u64,
    /// New accounts per client address: this many at once, refilled at `signups_per_hour`.
    pub signup_burst: u32,
    pub signups_per_hour: u32,
}

impl AccountSettings {
    fn timeouts(&self, role: Role) -> (Duration, Duration) {
        let (idle, absolute) = if role == Role::Admin {
            (
                self.admin_session_idle_minutes,
                self.admin_session_absolute_hours,
            )
        } else {
            (self.session_idle_minutes, self.session_absolute_hours)
        };
        (
            Duration::from_secs(idle * 60),
            Duration::from_secs(absolute * 3600),
        )
    }
}

/// A signed-in account, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
    pub session_id: Uuid,
}

/// The outcome of signing up or in: the new session's id and the browser's voter token (both
/// go into cookies).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: Account,
    pub session_token: String,
    pub voter: VoterId,
    pub voter_token: String,
}

/// A session cookie resolved: the account, and a new session id when it was rotated.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub account: Account,
    pub rotated_token: Option<String>,
}

#[derive(Clone)]
pub struct Accounts {
    pool: PgPool,
    hasher: Hasher,
    settings: Arc<AccountSettings>,
}

const BAD_CREDENTIALS: &str = "unknown username or wrong password";

fn hash_error(e: HashError) -> ArenaError {
    match e {
        HashError::Busy => ArenaError::Busy {
            message: e.to_string(),
            retry_after: Duration::from_secs(1),
        },
        HashError::Failed(m) => ArenaError::Internal(m),
    }
}

pub(crate) fn input(e: arena_domain::account::AccountInputError) -> ArenaError {
    ArenaError::invalid("invalid_account_input", e.to_string())
}

fn unauthorized(message: &str) -> ArenaError {
    ArenaError::Unauthorized {
        code: "unauthorized",
        message: message.to_owned(),
    }
}

impl Accounts {
    pub fn new(pool: PgPool, settings: AccountSettings) -> Self {
        Self {
            hasher: Hasher::new(
                settings.hash_concurrency,
                Duration::from_millis(settings.hash_queue_ms),
            ),
            pool,
            settings: Arc::new(settings),
        }
    }

    /// A new account's username, parsed, and its password's hash.
    async fn new_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> ArenaResult<(Username, String)> {
        let username = Username::parse(username).map_err(input)?;
        let password = Password::parse(password).map_err(input)?;
        let hash = self
            .hasher
            .hash(password.expose())
            .await
            .map_err(hash_error)?;
        Ok((username, hash))
    }

    /// Creates an account (role volunteer) and signs it in on this browser, within the client
    /// address's sign-up budget (spent before the password is hashed: a flood of sign-ups
    /// cannot keep the hasher from real sign-ins).
    pub async fn sign_up(
        &self,
        username: &str,
        password: &str,
        address: IpAddr,
        voter: Option<VoterId>,
    ) -> ArenaResult<SignedIn> {
        let spend = crate::limits::Spend::per_hour(
            format!("signup/a/{}", crate::limits::address_key(address)),
            self.settings.signup_burst,
            self.settings.signups_per_hour,
            "your network address",
        );
        if let Err((_, wait)) = crate::limits::take(&self.pool, &[spend]).await? {
            return Err(crate::limits::refusal(
                "new accounts",
                "your network address",
                wait,
            ));
        }
        let (username, hash) = self.new_credentials(username, password).await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into app_user (id, username, password_hash, role, username_skeleton)
             values ($1, $2, $3, 'volunteer', $4)",
        )
        .bind(id)
        .bind(username.as_str())
        .bind(&hash)
        .bind(names::skeleton(&username))
        .execute(&self.pool)
        .await?;
        self.start_session(id, username.as_str(), Role::Volunteer, voter)
            .await
    }

    /// Creates an admin account, or makes an existing account admin with this password (the
    /// command line's `server admin create`).
    pub async fn create_admin(&self, username: &str, password: &str) -> ArenaResult<Username> {
        let (username, hash) = self.new_credentials(username, password).await?;
        sqlx::query(
            "insert into app_user (id, username, password_hash, role, username_skeleton)
             values ($1, $2, $3, 'admin', $4)
             on conflict (username) do update set password_hash = excluded.password_hash,
                 role = 'admin', updated_at = now()",
        )
        .bind(Uuid::now_v7())
        .bind(username.as_str())
        .bind(&hash)
        .bind(names::skeleton(&username))
        .execute(&self.pool)
        .await?;
        Ok(username)
    }

    /// `server admin create`: a new admin account, or with `promote` an existing account made
    /// admin with this password. Without `promote` an existing username is refused (409): the
    /// command never silently takes over an account. Either is audited (actor "command line",
    /// the "before" read from the database in the same transaction).
    pub async fn create_admin_from_command_line(
        &self,
        username: &str,
        password: &str,
        promote: bool,
    ) -> ArenaResult<(Username, bool)> {
        let (username, hash) = self.new_credentials(username, password).await?;
        let mut tx = self.pool.begin().await?;
        let before: Option<String> =
            sqlx::query_scalar("select role from app_user where username = $1 for update")
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let promoted = match (&before, promote) {
            (Some(_), false) => {
                return Err(ArenaError::conflict(
                    "username_taken",
                    format!(
                        "an account named {} exists; give --promote to make it an admin (its \
                         password is replaced)",
                        username.as_str()
                    ),
                ));
            }
            (Some(_), true) => {
                sqlx::query(
                    "update app_user set role = 'admin', password_hash = $2, updated_at = now()
                     where username = $1",
                )
                .bind(username.as_str())
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
                true
            }
            (None, _) => {
                sqlx::query(
                    "insert into app_user (id, username, password_hash, role, username_skeleton)
                     values ($1, $2, $3, 'admin', $4)",
                )
                .bind(Uuid::now_v7())
                .bind(username.as_str())
                .bind(&hash)
                .bind(names::skeleton(&username))
                .execute(&mut *tx)
                .await?;
                false
            }
        };
        sqlx::query(
            "insert into audit_log (actor_id, actor, action, target, before, after)
             values (null, 'command line', $1, $2, $3, $4)",
        )
        .bind(if promoted {
            "user.promote"
        } else {
            "user.create_admin"
        })
        .bind(format!("user:{}", username.as_str()))
        .bind(before.map(|role| serde_json::json!({ "role": role, "password": "set" })))
        .bind(serde_json::json!({ "role": "admin", "password": if promoted { "replaced" } else { "set" } }))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((username, promoted))
    }

    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        address: IpAddr,
        voter: Option<VoterId>,
    ) -> ArenaResult<SignedIn> {
        // A malformed username or password cannot match: same answer as a wrong one.
        let parsed = Username::parse(username).ok();
        let key = parsed
            .as_ref()
            .map_or_else(|| username.to_owned(), |u| u.as_str().to_owned());
        let failure_keys = self.failure_keys(&key, address);
        self.check_failures(&failure_keys).await?;
        let row: Option<(Uuid, String, String, String)> =
            match &parsed {
                Some(u) => sqlx::query_as(
                    "select id, username, password_hash, role from app_user where username = $1",
                )
                .bind(u.as_str())
                .fetch_optional(&self.pool)
                .await?,
                None => None,
            };
        let verified = self
            .hasher
            .verify(password, row.as_ref().map(|r| r.2.as_str()))
            .await
            .map_err(hash_error)?;
        let Some((id, name, _, role)) = row.filter(|_| verified.matches) else {
            self.record_failure(&failure_keys).await?;
            return Err(unauthorized(BAD_CREDENTIALS));
        };
        if let Some(new_hash) = verified.rehash {
            sqlx::query("update app_user set password_hash = $2, updated_at = now() where id = $1")
                .bind(id)
                .bind(new_hash)
                .execute(&self.pool)
                .await?;
        }
        let role: Role = role
            .parse()
            .map_err(|_| ArenaError::Internal(format!("user {id} has an unknown role")))?;
        self.start_session(id, &name, role, voter).await
    }

    /// A new session for the user, and the browser's voter linked to it (a voter that belongs
    /// to another account is left alone: this browser gets a new voter).
    async fn start_session(
        &self,
        user_id: Uuid,
        username: &str,
        role: Role,
        voter: Option<VoterId>,
    ) -> ArenaResult<SignedIn> {
        let session_token = voters::new_session_token();
        let voter_token = voters::new_session_token();
        let session_id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into account_session (id, token_hash, user_id, role) values ($1, $2, $3, $4)",
        )
        .bind(session_id)
        .bind(voters::hash_token(&session_token))
        .bind(user_id)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
        // The anonymous voter becomes the account's, under a new token (the old cookie stops
        // working): votes cast before signing in stay with the account.
        let linked: Option<Uuid> = match voter {
            Some(v) => {
                sqlx::query_scalar(
                    "update voter set user_id = $2, session_hash = $3
                     where id = $1 and (user_id is null or user_id = $2) returning id",
                )
                .bind(v.0)
                .bind(user_id)
                .bind(voters::hash_token(&voter_token))
                .fetch_optional(&mut *tx)
                .await?
            }
            None => None,
        };
        let voter = match linked {
            Some(id) => VoterId(id),
            None => {
                let id = Uuid::now_v7();
                sqlx::query("insert into voter (id, session_hash, user_id) values ($1, $2, $3)")
                    .bind(id)
                    .bind(voters::hash_token(&voter_token))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                VoterId(id)
            }
        };
        tx.commit().await?;
        tracing::info!(user.id = %user_id, role = %role, "signed in");
        Ok(SignedIn {
            account: Account {
                user_id,
                username: username.to_owned(),
                role,
                session_id,
            },
            session_token,
            voter,
            voter_token,
        })
    }

    /// The account of a session cookie, if the session is live. A session whose account
    /// changed role since it was issued is replaced by a new one (`rotated_token`).
    pub async fn resolve(&self, token: &str) -> ArenaResult<Option<Resolved>> {
        if !voters::is_well_formed_token(token) {
            return Ok(None);
        }
        let row: Option<(Uuid, Uuid, String, String, String, f64, f64)> = sqlx::query_as(
            "select s.id, u.id, u.username, u.role, s.role,
                    extract(epoch from now() - s.last_seen_at)::float8,
                    extract(epoch from now() - s.created_at)::float8
             from account_session s join app_user u on u.id = s.user_id
             where s.token_hash = $1 and s.ended_at is null",
        )
        .bind(voters::hash_token(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some((session_id, user_id, username, role, issued_role, idle, age)) = row else {
            return Ok(None);
        };
        let role: Role = role
            .parse()
            .map_err(|_| ArenaError::Internal(format!("user {user_id} has an unknown role")))?;
        let (max_idle, max_age) = self.settings.timeouts(role);
        if idle > max_idle.as_secs_f64() || age > max_age.as_secs_f64() {
            self.end(session_id).await?;
            return Ok(None);
        }
        if issued_role != role.as_str() {
            // Rotated: the old id ends, a new one carries the new role.
            let token = voters::new_session_token();
            let new_id = Uuid::now_v7();
            let mut tx = self.pool.begin().await?;
            let ended = sqlx::query(
                "update account_session set ended_at = now() where id = $1 and ended_at is null",
            )
            .bind(session_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if ended == 0 {
                return Ok(None);
            }
            sqlx::query(
                "insert into account_session (id, token_hash, user_id, role, created_at)
                 select $1, $2, user_id, $3, created_at from account_session where id = $4",
            )
            .bind(new_id)
            .bind(voters::hash_token(&token))
            .bind(role.as_str())
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Some(Resolved {
                account: Account {
                    user_id,
                    username,
                    role,
                    session_id: new_id,
                },
                rotated_token: Some(token),
            }));
        }
        if idle > 60.0 {
            sqlx::query("update account_session set last_seen_at = now() where id = $1")
                .bind(session_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(Resolved {
            account: Account {
                user_id,
                username,
                role,
                session_id,
            },
            rotated_token: None,
        }))
    }

    /// Ends a session on the server (sign-out, expiry).
    pub async fn end(&self, session_id: Uuid) -> ArenaResult<()> {
        sqlx::query(
            "update account_session set ended_at = now() where id = $1 and ended_at is null",
        )
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Changes the password (the current one must be right); every other session of the
    /// account ends.
    pub async fn change_password(
        &self,
        account: &Account,
        current: &str,
        new: &str,
        address: IpAddr,
    ) -> ArenaResult<()> {
        let new = Password::parse(new).map_err(input)?;
        self.confirm_password(account, current, address).await?;
        let hash = self.hasher.hash(new.expose()).await.map_err(hash_error)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("update app_user set password_hash = $2, updated_at = now() where id = $1")
            .bind(account.user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "update account_session set ended_at = now()
             where user_id = $1 and id <> $2 and ended_at is null",
        )
        .bind(account.user_id)
        .bind(account.session_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's current password, asked again before a change that cannot be undone
    /// (wrong: 401, counted like a failed sign-in).
    pub async fn confirm_password(
        &self,
        account: &Account,
        current: &str,
        address: IpAddr,
    ) -> ArenaResult<()> {
        let failure_keys = self.failure_keys(&account.username, address);
        self.check_failures(&failure_keys).await?;
        let stored: String = sqlx::query_scalar("select password_hash from app_user where id = $1")
            .bind(account.user_id)
            .fetch_one(&self.pool)
            .await?;
        let verified = self
            .hasher
            .verify(current, Some(&stored))
            .await
            .map_err(hash_error)?;
        if !verified.matches {
            self.record_failure(&failure_keys).await?;
            return Err(unauthorized("the current password is wrong"));
        }
        Ok(())
    }

    /// Votes cast by the account, from every browser it signed in on (and anonymously before).
    pub async fn vote_count(&self, user_id: Uuid) -> ArenaResult<i64> {
        Ok(sqlx::query_scalar(
            "select count(*) from vote v join voter r on r.id = v.voter_id where r.user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }
}

/// The request's account must hold at least `role` (admin ≥ researcher ≥ volunteer).
pub fn require(account: Option<&Account>, role: Role) -> ArenaResult<&Account> {
    let account = account.ok_or_else(|| unauthorized("sign in first"))?;
    if account.role < role {
        return Err(ArenaError::Forbidden {
            code: "forbidden",
            message: format!("this needs the {role} role"),
        });
    }
    Ok(account)
}
