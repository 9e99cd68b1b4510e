//! The leaderboard's JSON API, `/api/v1/leaderboard...`: the ratings of a filter, the views
//! beside them (style control, categories, version regressions, static benchmarks) and the
//! recorded runs. Non-default views are computed behind the per-address limiter.

use super::ApiError;
use crate::client::ClientAddr;
use arena_core::Arena;
use arena_core::limits::Action;
use arena_domain::api::{ApiErrorBody, LeaderboardFilter};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};

/// A leaderboard filter from the query string, or its rejection.
type FilterQuery = Result<Query<LeaderboardFilter>, QueryRejection>;

/// The filter, or a 422 that says what is wrong with the query string.
fn filter(query: FilterQuery) -> Result<LeaderboardFilter, ApiError> {
    query.map(|Query(f)| f).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            format!("the query string has the wrong shape: {}", e.body_text()),
        )
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/leaderboard",
    tag = "leaderboard",
    params(arena_domain::api::LeaderboardFilter),
    security((), ("api_token" = [])),
    responses(
        (status = 200, description = "The ratings for this filter",
            body = arena_domain::api::LeaderboardView),
        (status = 422, description = "A bad filter value, named in the message",
            body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
pub(crate) async fn leaderboard(
    State(arena): State<Arena>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    query: FilterQuery,
) -> Result<impl IntoResponse, ApiError> {
    let filter = filter(query)?;
    let admit = || arena.limits.check_address(Action::Leaderboard, address);
    Ok(Json(arena.leaderboard(filter, admit).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/leaderboard/style",
    tag = "leaderboard",
    params(arena_domain::api::LeaderboardFilter),
    security((), ("api_token" = [])),
    responses(
        (status = 200, description = "The style-controlled ranking (language and date filters; \
            the tie and interval options of the main view do not apply)",
            body = arena_domain::api::StyleView),
        (status = 422, description = "A bad filter value, a source (no style features), or too \
            few votes to fit", body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
pub(crate) async fn style_leaderboard(
    State(arena): State<Arena>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    query: FilterQuery,
) -> Result<impl IntoResponse, ApiError> {
    let filter = filter(query)?;
    let admit = || arena.limits.check_address(Action::Leaderboard, address);
    Ok(Json(arena.style_leaderboard(filter, admit).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/leaderboard/categories",
    tag = "leaderboard",
    security((), ("api_token" = [])),
    responses(
        (status = 200, description = "Each category's counted votes (`category=` of the \
            leaderboard): coding, math, long, multi_turn, no_ties",
            body = Vec<arena_domain::category::CategoryCount>),
    )
)]
pub(crate) async fn category_counts(
    State(arena): State<Arena>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(arena.category_counts().await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/leaderboard/regressions",
    tag = "leaderboard",
    security((), ("api_token" = [])),
    responses(
        (status = 200, description = "Every model marked as a new version of another, compared \
            with it in all votes, each category and each language; flagged where significantly \
            worse", body = arena_domain::api::RegressionReport),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
pub(crate) async fn regressions(
    State(arena): State<Arena>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
) -> Result<impl IntoResponse, ApiError> {
    let admit = || arena.limits.check_address(Action::Leaderboard, address);
    Ok(Json(arena.regressions(admit).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/leaderboard/benchmarks",
    tag = "leaderboard",
    params(arena_domain::api::LeaderboardFilter),
    security((), ("api_token" = [])),
    responses(
        (status = 200, description = "Static benchmark scores beside the ratings of this \
            leaderboard view, with each benchmark's Spearman and Kendall correlation to the \
            arena (bootstrap 95% intervals over the models)",
            body = arena_domain::benchmark::BenchmarkReport),
        (status = 422, description = "A bad filter value", body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
pub(crate) async fn benchmarks(
    State(arena): State<Arena>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    query: FilterQuery,
) -> Result<impl IntoResponse, ApiError> {
    let filter = filter(query)?;
    let admit = || arena.limits.check_address(Action::Leaderboard, address);
    Ok(Json(arena.benchmarks(filter, admit).await?))
}

fn run_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "rating run not found"))
}

#[utoipa::path(
    get,
    path = "/api/v1/leaderboard/runs/{id}",
    tag = "leaderboard",
    params(("id" = i64, Path, description = "The rating run's id")),
    security((), ("api_token" = [])),
    responses(
        (status = 200, description = "A recorded rating run",
            body = arena_domain::api::LeaderboardView),
        (status = 404, description = "No such run", body = ApiErrorBody),
    )
)]
pub(crate) async fn rating_run(
    State(arena): State<Arena>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(arena.rating_run(run_id(&id)?).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/leaderboard/runs/{id}/reproduce",
    tag = "leaderboard",
    params(("id" = i64, Path, description = "The rating run's id")),
    security((), ("api_token" = [])),
    responses(
        (status = 200, description = "The run refitted from the votes it saw",
            body = arena_domain::api::ReproducedRun),
        (status = 404, description = "No such run", body = ApiErrorBody),
    )
)]
pub(crate) async fn reproduce_run(
    State(arena): State<Arena>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(arena.reproduce_run(run_id(&id)?).await?))
}
