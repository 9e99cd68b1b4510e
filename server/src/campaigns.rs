//! Campaigns as JSON: `/api/v1/campaigns/...` for volunteers (the campaign, its registration,
//! the contributor opt-in, its progress and contributor boards) and
//! `/api/v1/admin/campaigns/...` for admins (create, edit). Battles name their campaign in
//! `POST /api/v1/battles` (`campaign`), the leaderboard and the exports take `campaign=`.

use crate::AppState;
use crate::account::SignedInAs;
use crate::api::{ApiError, ApiJson};
use crate::client::ClientAddr;
use crate::session::Session;
use arena_core::Arena;
use arena_domain::api::ApiErrorBody;
use arena_domain::campaign::{
    Campaign, CampaignInput, CampaignPage, ContributorBoard, Progress, Registration,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(campaigns))
        .route("/campaigns/{slug}", get(campaign))
        .route("/campaigns/{slug}/registration", put(register))
        .route("/campaigns/{slug}/contributor", put(opt_in).delete(opt_out))
        .route("/campaigns/{slug}/contributors", get(contributors))
        .route("/campaigns/{slug}/progress", get(progress))
}

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(admin_campaigns).post(create_campaign))
        .route("/campaigns/{slug}", put(update_campaign))
}

#[utoipa::path(
    get,
    path = "/api/v1/campaigns",
    tag = "campaigns",
    responses((status = 200, description = "Every campaign, the default arena first", body = Vec<Campaign>))
)]
pub(crate) async fn campaigns(State(arena): State<Arena>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(arena.campaigns().await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{slug}",
    tag = "campaigns",
    params(("slug" = String, Path, description = "The campaign's slug")),
    security((), ("voter_cookie" = [])),
    responses(
        (status = 200, description = "The campaign, and where this volunteer stands in it \
            (signed in, registered, contributor name)", body = CampaignPage),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
    )
)]
pub(crate) async fn campaign(
    State(arena): State<Arena>,
    session: Session,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(arena.campaign_page(session.voter(), &slug).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/campaigns/{slug}/registration",
    tag = "campaigns",
    params(("slug" = String, Path, description = "The campaign's slug")),
    request_body(content = Object, description = "The answers by question key: a whole number \
        for a scale, one of the options for a choice"),
    security((), ("voter_cookie" = [])),
    responses(
        (status = 204, description = "Stored (replacing earlier answers)"),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
        (status = 422, description = "A question unanswered, out of range or unknown", body = ApiErrorBody),
    )
)]
pub(crate) async fn register(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    Path(slug): Path<String>,
    ApiJson(answers): ApiJson<Registration>,
) -> Result<impl IntoResponse, ApiError> {
    let voter = crate::api::settings_voter(&arena, client, &session).await?;
    arena.register(voter, &slug, &answers).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Alias {
    /// The pseudonym shown on the contributor leaderboard (2–32 letters, digits, spaces, - _ .).
    alias: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/campaigns/{slug}/contributor",
    tag = "campaigns",
    params(("slug" = String, Path, description = "The campaign's slug")),
    request_body = Alias,
    security((), ("voter_cookie" = [])),
    responses(
        (status = 200, description = "On the contributor leaderboard under this name", body = Alias),
        (status = 409, description = "Another volunteer of the campaign uses the name (`alias_taken`)", body = ApiErrorBody),
        (status = 422, description = "Not a usable name", body = ApiErrorBody),
    )
)]
pub(crate) async fn opt_in(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<Alias>,
) -> Result<impl IntoResponse, ApiError> {
    let voter = crate::api::settings_voter(&arena, client, &session).await?;
    let alias = arena
        .set_contributor_alias(voter, &slug, Some(&body.alias))
        .await?
        .unwrap_or_default();
    Ok(Json(Alias { alias }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/campaigns/{slug}/contributor",
    tag = "campaigns",
    params(("slug" = String, Path, description = "The campaign's slug")),
    security((), ("voter_cookie" = [])),
    responses((status = 204, description = "Off the contributor leaderboard"))
)]
pub(crate) async fn opt_out(
    State(arena): State<Arena>,
    session: Session,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(voter) = session.voter() {
        arena.set_contributor_alias(voter, &slug, None).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{slug}/contributors",
    tag = "campaigns",
    params(("slug" = String, Path, description = "The campaign's slug")),
    responses(
        (status = 200, description = "The volunteers who opted in, by votes", body = ContributorBoard),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
    )
)]
pub(crate) async fn contributors(
    State(arena): State<Arena>,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(arena.campaign_contributors(&slug).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{slug}/progress",
    tag = "campaigns",
    params(("slug" = String, Path, description = "The campaign's slug")),
    responses(
        (status = 200, description = "Votes per day and per model pair", body = Progress),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
    )
)]
pub(crate) async fn progress(
    State(arena): State<Arena>,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(arena.campaign_progress(&slug).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/campaigns",
    tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Every campaign", body = Vec<Campaign>),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 403, description = "Not an admin", body = ApiErrorBody),
    )
)]
pub(crate) async fn admin_campaigns(
    State(arena): State<Arena>,
    Extension(s): Extension<SignedInAs>,
) -> Result<impl IntoResponse, ApiError> {
    let admin = arena.admin(s.0.as_ref())?;
    Ok(Json(admin.campaigns().await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/campaigns",
    tag = "admin",
    request_body = CampaignInput,
    security(("session_cookie" = [])),
    responses(
        (status = 201, description = "Created", body = Campaign),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 403, description = "Not an admin", body = ApiErrorBody),
        (status = 409, description = "The slug is taken (`slug_taken`)", body = ApiErrorBody),
        (status = 422, description = "A field is wrong; the message names it", body = ApiErrorBody),
    )
)]
pub(crate) async fn create_campaign(
    State(arena): State<Arena>,
    Extension(s): Extension<SignedInAs>,
    ApiJson(body): ApiJson<CampaignInput>,
) -> Result<impl IntoResponse, ApiError> {
    let admin = arena.admin(s.0.as_ref())?;
    let saved = admin.save_campaign(None, &body).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(
    put,
    path = "/api/v1/admin/campaigns/{slug}",
    tag = "admin",
    params(("slug" = String, Path, description = "The campaign's current slug")),
    request_body = CampaignInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Saved", body = Campaign),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 403, description = "Not an admin", body = ApiErrorBody),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
        (status = 409, description = "Changed meanwhile (`stale_version`) or slug taken", body = ApiErrorBody),
        (status = 422, description = "A field is wrong; the message names it", body = ApiErrorBody),
    )
)]
pub(crate) async fn update_campaign(
    State(arena): State<Arena>,
    Extension(s): Extension<SignedInAs>,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<CampaignInput>,
) -> Result<impl IntoResponse, ApiError> {
    let admin = arena.admin(s.0.as_ref())?;
    Ok(Json(admin.save_campaign(Some(&slug), &body).await?))
}
