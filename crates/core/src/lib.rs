//! The arena's server-side services: configuration, the database, the model catalog, battles
//! and the leaderboard. The HTTP layers (JSON API, Leptos server functions) call into [`Arena`].

pub mod battles;
pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
pub mod leaderboard;
pub mod live;
pub mod voters;

pub use error::{ArenaError, ArenaResult};

use arena_inference::{Gateway, GatewayConfig};
use catalog::Catalog;
use config::{ArenaSettings, GatewaySettings, Settings};
use live::LiveTurns;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

/// Everything a request needs: cheap to clone.
#[derive(Clone)]
pub struct Arena {
    pub pool: PgPool,
    pub gateway: Gateway,
    pub catalog: Catalog,
    pub live: LiveTurns,
    pub settings: Arc<ArenaSettings>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Arena(#[from] ArenaError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

pub fn gateway_config(settings: &GatewaySettings) -> GatewayConfig {
    let secs = Duration::from_secs;
    GatewayConfig {
        connect_timeout: secs(settings.connect_timeout_secs),
        first_token_timeout: secs(settings.first_token_timeout_secs),
        idle_timeout: secs(settings.idle_timeout_secs),
        total_timeout: secs(settings.total_timeout_secs),
        failure_threshold: settings.failure_threshold,
        queue_timeout: secs(settings.queue_timeout_secs),
        ..GatewayConfig::default()
    }
}

impl Arena {
    /// Connects, migrates, seeds the configured models, recovers interrupted generations, and
    /// starts the gateway's health checks.
    pub async fn start(settings: &Settings) -> Result<Self, StartError> {
        let pool = db::connect(&settings.database)
            .await
            .map_err(StartError::Connect)?;
        db::migrate(&pool).await?;
        catalog::seed(&pool, &settings.models).await?;
        let interrupted = battles::recover_interrupted(&pool).await?;
        if interrupted > 0 {
            tracing::warn!(
                turns = interrupted,
                "marked interrupted generations as failed"
            );
        }
        let gateway = Gateway::new(gateway_config(&settings.gateway));
        let catalog = Catalog::default();
        catalog.reload(&pool, &gateway).await?;
        gateway.check_now().await;
        gateway.spawn_health_checks(Duration::from_secs(settings.gateway.health_interval_secs));
        Ok(Self {
            pool,
            gateway,
            catalog,
            live: LiveTurns::default(),
            settings: Arc::new(settings.arena.clone()),
        })
    }

    /// True when the database answers and at least one worker is healthy.
    pub async fn readiness(&self) -> Readiness {
        let database = sqlx::query_scalar::<_, i32>("select 1")
            .fetch_one(&self.pool)
            .await
            .is_ok();
        Readiness {
            database,
            healthy_workers: self.gateway.any_healthy(),
        }
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Readiness {
    pub database: bool,
    pub healthy_workers: bool,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.database && self.healthy_workers
    }
}
