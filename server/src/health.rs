//! `GET /healthz` (the process is alive) and `GET /readyz` (database reachable and at least one
//! worker healthy; 503 otherwise).

use crate::AppState;
use arena_core::Arena;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is alive.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "Alive", content_type = "text/plain", body = String,
        example = "ok"))
)]
async fn healthz() -> &'static str {
    "ok"
}

/// The database is reachable and at least one worker is healthy.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    responses(
        (status = 200, description = "Ready", body = arena_core::Readiness),
        (status = 503, description = "Not ready: which part is not", body = arena_core::Readiness),
    )
)]
async fn readyz(State(arena): State<Arena>) -> impl IntoResponse {
    let readiness = arena.readiness().await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
