//! The Postgres pool and the schema migrations (applied at start-up).

use crate::config::{DatabaseSettings, WorkClass};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The public class's pool (see [`connect_class`]).
pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    connect_class(settings, WorkClass::Public).await
}

/// The pool of one work class: its own connections (so one class cannot starve another) and
/// its statement timeout.
pub async fn connect_class(
    settings: &DatabaseSettings,
    class: WorkClass,
) -> Result<PgPool, sqlx::Error> {
    let (connections, timeout_ms) = settings.class(class);
    let timeout = timeout_ms.to_string();
    let options = PgConnectOptions::from_str(settings.url.expose())?
        // A vote is acknowledged only after it is durable.
        .options([
            ("synchronous_commit", "on"),
            ("timezone", "UTC"),
            ("statement_timeout", timeout.as_str()),
        ]);
    PgPoolOptions::new()
        .max_connections(connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}

/// Applies the migrations on one connection without a statement timeout (a migration that
/// rewrites a large table may take minutes).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("set statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let result = MIGRATOR.run(&mut *conn).await;
    // The connection goes back to the pool with the class's timeout.
    let _ = sqlx::query("reset statement_timeout")
        .execute(&mut *conn)
        .await;
    result
}
