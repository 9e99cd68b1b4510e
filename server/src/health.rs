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

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(arena): State<Arena>) -> impl IntoResponse {
    let readiness = arena.readiness().await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
