//! Usernames that look alike: each account stores its username's skeleton
//! (`app_user.username_skeleton`, unique), so a new name that merely looks like an existing one
//! is refused by the database itself, race-free (409 `username_look_alike`).

use super::Accounts;
use crate::error::ArenaResult;
use arena_domain::account::Username;
use uuid::Uuid;

/// The comparison key stored beside a username.
pub(super) fn skeleton(username: &Username) -> String {
    arena_text::skeleton(username.as_str())
}

impl Accounts {
    /// Fills in the skeleton of accounts made before the column existed (at start; nothing to
    /// do after the first start). Where two old accounts already collide, the later one keeps
    /// no skeleton, its name and its sign-in (logged once).
    pub async fn backfill_username_skeletons(&self) -> ArenaResult<()> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "select id, username from app_user where username_skeleton is null order by id",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, name) in rows {
            let key = arena_text::skeleton(&name);
            let done = sqlx::query(
                "update app_user set username_skeleton = $2 where id = $1
                   and not exists (select 1 from app_user where username_skeleton = $2)",
            )
            .bind(id)
            .bind(&key)
            .execute(&self.pool)
            .await;
            match done {
                Ok(r) if r.rows_affected() == 0 => {
                    tracing::warn!(%id, "an older account's username looks like another's");
                }
                Ok(_) => {}
                Err(e)
                    if e.as_database_error()
                        .is_some_and(|d| d.is_unique_violation()) =>
                {
                    tracing::warn!(%id, "an older account's username looks like another's");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
