//! The arena's server-side services: configuration, the database, the model catalog, battles
//! and the leaderboard. The HTTP layers (JSON API, Leptos server functions) call into [`Arena`].

pub mod battles;
pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
pub mod leaderboard;
pub mod limits;
pub mod live;
pub mod voters;

pub use error::{ArenaError, ArenaResult};

use arena_inference::{Gateway, GatewayConfig};
use catalog::Catalog;
use config::{ArenaSettings, GatewaySettings, LeaderboardSettings, Settings};
use limits::Limits;
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
    pub limits: Limits,
    pub settings: Arc<ArenaSettings>,
    pub leaderboard_settings: Arc<LeaderboardSettings>,
    /// This process among all that share the database (leases name it).
    pub instance: uuid::Uuid,
    /// Fires when the process shuts down: background tasks stop.
    pub shutdown: tokio_util::sync::CancellationToken,
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
        let instance = uuid::Uuid::now_v7();
        sqlx::query("insert into server_instance (id) values ($1)")
            .bind(instance)
            .execute(&pool)
            .await?;
        let lease = settings.arena.instance_lease();
        let interrupted = battles::recover_orphans(&pool, lease).await?;
        if interrupted > 0 {
            tracing::warn!(
                turns = interrupted,
                "marked the generations of stopped processes as failed"
            );
        }
        let gateway = Gateway::new(gateway_config(&settings.gateway));
        let catalog = Catalog::default();
        catalog.reload(&pool, &gateway).await?;
        gateway.check_now().await;
        gateway.spawn_health_checks(Duration::from_secs(settings.gateway.health_interval_secs));
        let arena = Self {
            pool,
            gateway,
            catalog,
            live: LiveTurns::default(),
            limits: Limits::new(settings.limits.clone()),
            settings: Arc::new(settings.arena.clone()),
            leaderboard_settings: Arc::new(settings.leaderboard.clone()),
            instance,
            shutdown: tokio_util::sync::CancellationToken::new(),
        };
        // The default leaderboard exists from the start (unless a sibling process holds the
        // refresh lease: then it has made one or will within its interval).
        if let Err(e) = arena
            .refresh_leaderboard(arena.instance, Duration::from_secs(30))
            .await
        {
            tracing::warn!(error = %e, "first leaderboard refresh failed");
        }
        leaderboard::spawn_refresh(
            arena.clone(),
            Duration::from_millis(settings.leaderboard.refresh_interval_ms.max(10)),
        );
        arena.spawn_limit_sweeps();
        arena.spawn_heartbeat(settings.arena.instance_heartbeat(), lease);
        arena.spawn_catalog_listener().await?;
        Ok(arena)
    }

    /// Reloads the catalog (and the gateway's endpoints) whenever any process changes it: a
    /// trigger announces every change on `arena_catalog`. A reconnecting listener may have
    /// missed announcements, so the catalog is also reloaded every minute.
    async fn spawn_catalog_listener(&self) -> Result<(), StartError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen("arena_catalog").await?;
        let arena = self.clone();
        tokio::spawn(async move {
            let mut safety = tokio::time::interval(Duration::from_secs(60));
            safety.tick().await;
            loop {
                let reload = tokio::select! {
                    _ = arena.shutdown.cancelled() => break,
                    _ = safety.tick() => true,
                    received = listener.try_recv() => match received {
                        Ok(Some(_)) => true,
                        // The connection dropped; the next call reconnects. Reload in case a
                        // change was announced meanwhile.
                        Ok(None) => true,
                        Err(e) => {
                            tracing::warn!(error = %e, "catalog listener failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            false
                        }
                    },
                };
                if reload {
                    if let Err(e) = arena.catalog.reload(&arena.pool, &arena.gateway).await {
                        tracing::warn!(error = %e, "catalog reload failed");
                    } else {
                        tracing::info!("catalog reloaded");
                    }
                }
            }
        });
        Ok(())
    }

    /// Renews this process's heartbeat and, now and then, fails the turns of processes whose
    /// heartbeat stopped. On shutdown the row is removed (its turns were recorded by then).
    fn spawn_heartbeat(&self, every: Duration, lease: Duration) {
        let arena = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = arena.shutdown.cancelled() => break,
                }
                if let Err(e) = arena.heartbeat().await {
                    tracing::warn!(error = %e, "heartbeat failed");
                    continue;
                }
                match battles::recover_orphans(&arena.pool, lease).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(turns = n, "failed the turns of a stopped process"),
                    Err(e) => tracing::warn!(error = %e, "orphan sweep failed"),
                }
            }
        });
    }

    async fn heartbeat(&self) -> Result<(), sqlx::Error> {
        let renewed = sqlx::query("update server_instance set heartbeat_at = now() where id = $1")
            .bind(self.instance)
            .execute(&self.pool)
            .await?
            .rows_affected();
        // Gone (a sibling took this process for dead after a long outage): register again,
        // unless this process is leaving.
        if renewed == 0 && !self.shutdown.is_cancelled() {
            sqlx::query("insert into server_instance (id) values ($1) on conflict do nothing")
                .bind(self.instance)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Stops the background tasks and leaves the roster of server processes (shutdown, after
    /// this process's turns were recorded).
    pub async fn stop_background(&self) {
        self.shutdown.cancel();
        if let Err(e) = sqlx::query("delete from server_instance where id = $1")
            .bind(self.instance)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "could not leave the roster of server processes");
        }
    }

    /// Forgets rate-limit keys whose budget is full again, every few seconds.
    fn spawn_limit_sweeps(&self) {
        let limits = self.limits.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = tick.tick() => limits.sweep(),
                    _ = shutdown.cancelled() => break,
                }
            }
        });
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
