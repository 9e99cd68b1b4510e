//! Failed sign-ins, in Postgres (`signin_failure`): counted per (account, client address) pair
//! and per client address, never per account alone, so nobody can lock an owner out from
//! elsewhere; every server process counts the same failures.

use super::Accounts;
use crate::error::{ArenaError, ArenaResult};
use std::net::IpAddr;
use std::time::Duration;

impl Accounts {
    /// The keys a failed sign-in of `username` from `address` counts under, with their limits.
    pub(super) fn failure_keys(&self, username: &str, address: IpAddr) -> [(String, usize); 2] {
        let address = crate::limits::address_key(address);
        [
            (
                format!("p/{username}/{address}"),
                self.settings.failed_signins_per_account,
            ),
            (
                format!("a/{address}"),
                self.settings.failed_signins_per_address,
            ),
        ]
    }

    /// A 429 while any of the keys has its limit of failures within the window.
    pub(super) async fn check_failures(&self, keys: &[(String, usize); 2]) -> ArenaResult<()> {
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        let window = self.settings.failed_signin_window_secs as f64;
        let counts: Vec<(String, i64, f64)> = sqlx::query_as(
            "select key, count(*),
                    extract(epoch from min(at) + make_interval(secs => $2) - clock_timestamp())::float8
             from signin_failure
             where key = any($1) and at > clock_timestamp() - make_interval(secs => $2)
             group by key",
        )
        .bind(&names)
        .bind(window)
        .fetch_all(&self.pool)
        .await?;
        let wait = counts
            .iter()
            .filter(|(key, count, _)| {
                keys.iter().any(|(k, limit)| {
                    k == key && *count >= i64::try_from(*limit).unwrap_or(i64::MAX)
                })
            })
            .map(|(_, _, wait)| *wait)
            .fold(None, |acc: Option<f64>, w| {
                Some(acc.map_or(w, |a| a.max(w)))
            });
        match wait {
            None => Ok(()),
            Some(wait) => {
                let wait = Duration::from_secs_f64(wait.max(1.0).ceil());
                Err(ArenaError::rate_limited(
                    "too_many_failed_signins",
                    format!(
                        "too many failed sign-ins; try again in {} s",
                        wait.as_secs().max(1)
                    ),
                    wait,
                ))
            }
        }
    }

    pub(super) async fn record_failure(&self, keys: &[(String, usize); 2]) -> ArenaResult<()> {
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        sqlx::query(
            "with swept as (delete from signin_failure
                            where at < clock_timestamp() - make_interval(secs => $2))
             insert into signin_failure (key) select unnest($1::text[])",
        )
        .bind(&names)
        .bind(self.settings.failed_signin_window_secs as f64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the failed sign-ins of `username` from every address (an admin's action): its
    /// owner may sign in again at once. Returns how many failures were forgotten.
    pub(crate) async fn clear_failures(
        conn: &mut sqlx::PgConnection,
        username: &str,
    ) -> ArenaResult<u64> {
        let prefix = format!("p/{username}/");
        Ok(
            sqlx::query("delete from signin_failure where left(key, length($1)) = $1")
                .bind(&prefix)
                .execute(conn)
                .await?
                .rows_affected(),
        )
    }
}
