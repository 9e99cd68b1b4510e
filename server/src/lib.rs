//! The arena's HTTP server as a library, so tests start the real thing on port 0.

pub mod api;
pub mod health;
pub mod security;
pub mod session;
pub mod telemetry;

use app::{App, shell};
use arena_core::config::Settings;
use arena_core::{Arena, StartError};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Shared state of every handler.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub arena: Arena,
    pub leptos_options: LeptosOptions,
    pub cookies: session::CookieSettings,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    arena: Arena,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Application {
    /// Starts the services and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Self, BuildError> {
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
        let leptos_options = LeptosOptions::builder()
            .output_name("arena")
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
        };
        Ok(Self {
            listener,
            router: router(state),
            arena,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// Serves until Ctrl-C / SIGTERM; in-flight generations are cancelled on the way out.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let live = self.arena.live.clone();
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            live.cancel_all();
        })
        .await
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
        .nest("/api/v1", api::router())
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::ensure_voter,
        ))
        .layer(axum::middleware::from_fn(security::guard))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
