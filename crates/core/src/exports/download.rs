//! Exports for clients over HTTP: the caps on running exports, the reader floor, and each
//! download's stored manifest.

use super::{ExportEvent, pace::Floor, start_with};
use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::export::ExportSpec;
use tokio::sync::mpsc;

impl Arena {
    /// Starts an export for a client over HTTP: within the caps on exports running at once
    /// (every process together, and per account: a cookie's and a token's alike), else a 429;
    /// a reader slower than `exports.min_bytes_per_sec` is cut.
    pub async fn export_for(
        &self,
        spec: ExportSpec,
        account: Option<uuid::Uuid>,
    ) -> ArenaResult<(uuid::Uuid, mpsc::Receiver<ExportEvent>)> {
        let settings = &self.export_settings;
        let mut keys = vec![("export/all".to_owned(), settings.max_running)];
        if let Some(account) = account {
            keys.push((
                format!("export/u/{account}"),
                settings.max_running_per_account,
            ));
        }
        let held = match self.limits.hold_always(&keys).await? {
            Ok(held) => held,
            Err(which) => {
                let message = if which == 0 {
                    "the arena is running as many exports as it can at once; try again shortly"
                } else {
                    "your account is already running as many exports as it may at once; wait \
                     for one to finish"
                };
                return Err(ArenaError::rate_limited(
                    "too_many_exports",
                    message,
                    std::time::Duration::from_secs(30),
                ));
            }
        };
        // The download's record: its manifest is stored once the last byte was sent.
        let id = uuid::Uuid::now_v7();
        sqlx::query("insert into export_download (id, user_id) values ($1, $2)")
            .bind(id)
            .bind(account)
            .execute(&self.research_pool)
            .await?;
        let floor = Floor {
            min_bytes_per_sec: settings.min_bytes_per_sec,
            window: std::time::Duration::from_secs(settings.min_rate_window_secs.max(1)),
        };
        let events = start_with(
            self.research_pool.clone(),
            self.export_salt.to_vec(),
            spec,
            Some(floor),
            Some(held),
            Some(id),
        )
        .await;
        if events.is_err() {
            let _ = sqlx::query(
                "update export_download set status = 'stopped', finished_at = now() where id = $1",
            )
            .bind(id)
            .execute(&self.research_pool)
            .await;
        }
        Ok((id, events?))
    }

    /// The stored manifest of download `id` (see [`Arena::export_for`]), for the account that
    /// made it or an admin: `Ok(None)` while it is still being sent.
    pub async fn download_manifest(
        &self,
        id: &str,
        account: &crate::accounts::Account,
    ) -> ArenaResult<Option<serde_json::Value>> {
        let not_found = ArenaError::NotFound { what: "export" };
        let Ok(id) = uuid::Uuid::parse_str(id) else {
            return Err(not_found);
        };
        let row: Option<(Option<uuid::Uuid>, String, Option<serde_json::Value>)> =
            sqlx::query_as("select user_id, status, manifest from export_download where id = $1")
                .bind(id)
                .fetch_optional(&self.research_pool)
                .await?;
        let Some((owner, status, manifest)) = row else {
            return Err(not_found);
        };
        if owner != Some(account.user_id) && account.role != arena_domain::account::Role::Admin {
            return Err(not_found);
        }
        match (status.as_str(), manifest) {
            ("running", _) => Ok(None),
            ("done", Some(manifest)) => Ok(Some(manifest)),
            _ => Err(ArenaError::conflict(
                "export_stopped",
                "this download stopped before its end: it has no manifest; export again",
            )),
        }
    }
}
