//! The arena's HTTP server as a library, so tests start the real thing on port 0.

pub mod account;
mod admin;
pub mod api;
pub mod assets;
mod campaigns;
pub mod client;
mod exports;
pub mod health;
mod imports;
mod language;
pub mod metrics;
pub mod openapi;
pub mod security;
pub mod session;
pub mod telemetry;
pub mod transport;

use app::{App, shell};
use arena_core::config::Settings;
use arena_core::{Arena, StartError};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Shared state of every handler.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub arena: Arena,
    pub leptos_options: LeptosOptions,
    pub cookies: session::CookieSettings,
    pub guard: security::GuardSettings,
    pub proxies: client::TrustedProxies,
}

pub struct Application {
    listener: TcpListener,
    /// `server.metrics_listen`: the Prometheus scrape's own listener.
    metrics: Option<TcpListener>,
    router: Router,
    arena: Arena,
    transport: transport::TransportSettings,
    shutdown_grace: Duration,
    drain: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Proxies(#[from] client::NetworkError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Application {
    /// Starts the services and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Self, BuildError> {
        let proxies = client::TrustedProxies::parse(&settings.server.trusted_proxies)?;
        let arena = Arena::start(&settings).await?;
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .map_err(|source| BuildError::Bind {
                addr: settings.server.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| BuildError::Bind {
            addr: settings.server.listen,
            source,
        })?;
        let metrics = match settings.server.metrics_listen {
            Some(at) => {
                metrics::install();
                Some(
                    TcpListener::bind(at)
                        .await
                        .map_err(|source| BuildError::Bind { addr: at, source })?,
                )
            }
            None => None,
        };
        let leptos_options = LeptosOptions::builder()
            .output_name(assets::output_name(&settings.server.site_root))
            .site_root(settings.server.site_root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let state = AppState {
            arena: arena.clone(),
            leptos_options,
            cookies: session::CookieSettings {
                secure: settings.server.secure_cookies,
            },
            guard: security::GuardSettings::new(
                &settings.server.public_origins,
                addr,
                settings.server.max_header_bytes,
            ),
            proxies,
        };
        Ok(Self {
            listener,
            metrics,
            router: router(state),
            arena,
            transport: transport::TransportSettings {
                header_read_timeout: Duration::from_secs(
                    settings.server.header_read_timeout_secs.max(1),
                ),
                idle_timeout: Duration::from_secs(settings.server.idle_timeout_secs.max(1)),
                // hyper's own hard limit, well above ours so ours answers (in JSON) first.
                max_buf: (settings.server.max_header_bytes * 8).max(64 * 1024),
            },
            shutdown_grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            drain: Duration::from_secs(settings.server.drain_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Where the Prometheus scrape listens (`server.metrics_listen`), if it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// Serves until Ctrl-C / SIGTERM, then shuts down gracefully (see [`Self::run_until`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves. Then: no new connections; each open one finishes the
    /// request it serves and closes; answers being written may finish for the shutdown grace
    /// (their viewers see them to the end), then the rest are cancelled and recorded as
    /// failed; background tasks stop.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let arena = self.arena.clone();
        let grace = self.shutdown_grace;
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let (draining, drain_for) = (arena.draining.clone(), self.drain);
        let drain = async move {
            stop.await;
            if !drain_for.is_zero() {
                // The load balancer's checks see 503 and move the traffic away; everything it
                // still sends meanwhile is served.
                draining.store(true, std::sync::atomic::Ordering::SeqCst);
                tracing::info!(secs = drain_for.as_secs(), "draining: /readyz answers 503");
                tokio::time::sleep(drain_for).await;
            }
            tracing::info!("shutting down: no new connections");
            let _ = stopped_tx.send(());
        };
        let trimmer = tokio::spawn(release_free_memory_periodically());
        let scrape = self.metrics.map(|listener| {
            let router = metrics::router(arena.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let served = tokio::spawn(transport::serve(
            self.listener,
            self.router,
            self.transport,
            drain,
            grace + Duration::from_secs(10),
        ));
        let _ = stopped_rx.await;
        let deadline = tokio::time::Instant::now() + grace;
        while !arena.live.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !arena.live.is_empty() {
            tracing::warn!(
                turns = arena.live.len(),
                "cancelling answers still being written"
            );
            arena.live.cancel_all();
        }
        let result = served
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        // Cancelled answers record themselves as failed; give them a moment.
        for _ in 0..50 {
            if arena.live.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        arena.stop_background().await;
        trimmer.abort();
        if let Some(scrape) = scrape {
            scrape.abort();
        }
        result
    }
}

/// Every request is handled to its end in a task of its own. A client that goes away (a closed
/// tab, a load generator's last connections) drops the request's future, and a handler dropped
/// between two statements of a transaction must not leave work half done. (A `make bench` run
/// in CI stalled after its vote load ended: a pooled connection was found inside a transaction,
/// "there is already a transaction in progress", with row locks that held every later write
/// for the statement timeout; a handler cancelled mid-transaction is the likely cause, and this
/// removes it.) A response body (a battle stream) is still dropped with its connection: it
/// holds no database connection.
async fn run_to_completion(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "a request's handler panicked");
            axum::response::IntoResponse::into_response(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// Every 10 s, the heap's free pages go back to the system, so that memory falls back near
/// its idle size after a burst of load (glibc keeps it otherwise; see crates/trim). The call
/// takes a few milliseconds under glibc's lock, on a blocking thread.
async fn release_free_memory_periodically() {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = tokio::task::spawn_blocking(arena_trim::release_free_memory).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let leptos_options = state.leptos_options.clone();
    let arena = state.arena.clone();
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || leptos::prelude::provide_context(arena.clone()),
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));
    Router::new()
        .merge(health::router())
        .nest(
            "/api/v1",
            api::router()
                .merge(account::router())
                .merge(exports::router())
                .merge(campaigns::router())
                .merge(openapi::router())
                .nest(
                    "/admin",
                    admin::router()
                        .merge(imports::api_router())
                        .merge(campaigns::admin_router()),
                ),
        )
        .merge(imports::page_router())
        .merge(language::router())
        .merge(pages)
        .layer(axum::middleware::from_fn(account::console_gate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            account::attach_account,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::attach_voter,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.proxies.clone(),
            client::resolve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.guard.clone(),
            security::guard,
        ))
        .layer(axum::middleware::from_fn(assets::cache_headers))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        // br or gzip at the fastest level for pages, JSON, scripts, styles and wasm; never for
        // event streams (each event must leave at once), images or tiny bodies.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest),
        )
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(
            state.proxies.clone(),
            telemetry::request_id,
        ))
        // Outermost, so that every answer is counted, the guards' refusals too.
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn(run_to_completion))
        .with_state(state)
}
