//! The admins' console as JSON, `/api/v1/admin/...`: every handler asks [`Arena::admin`] for
//! the console first, which checks the account's role on the server (401 for a stranger, 403
//! for a volunteer or researcher) before anything else happens. The pages' server functions
//! call the same methods.

pub(crate) mod moderation;

use crate::AppState;
use crate::account::SignedInAs;
use crate::api::{ApiError, ApiJson};
use arena_core::Arena;
use arena_core::admin::Admin;
use arena_domain::admin::{EndpointInput, ModelInput, PairRuleInput, PairingPolicyInput};
use arena_domain::api::SetRole;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use moderation::{audit, battle_action, flags, quarantine, vote_action, voter_action, votes};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/models", get(models).post(create_model))
        .route("/models/{key}", get(model).put(update_model))
        .route("/models/{key}/retire", post(retire))
        .route("/models/{key}/reactivate", post(reactivate))
        .route("/models/{key}/version-of", put(set_version_of))
        .route("/benchmarks", post(import_benchmarks))
        .route("/models/{key}/endpoints", post(add_endpoint))
        .route(
            "/endpoints/{id}",
            put(update_endpoint).delete(delete_endpoint),
        )
        .route("/endpoints/{id}/test", post(test_endpoint))
        .route("/pairing", get(pairing).put(set_policy))
        .route("/pairing/rules", put(set_rule))
        .route("/votes", get(votes))
        .route("/votes/{id}/{action}", post(vote_action))
        .route("/voters/{id}/{action}", post(voter_action))
        .route("/flags", get(flags))
        .route("/quarantine", get(quarantine))
        .route("/battles/{id}/{action}", post(battle_action))
        .route("/audit", get(audit))
        .route("/users", get(users))
        .route("/users/{username}/role", put(set_role))
        .route("/users/{username}/clear-throttle", post(clear_throttle))
}

fn console(arena: &Arena, signed_in: &SignedInAs) -> Result<Admin, ApiError> {
    Ok(arena.admin(signed_in.0.as_ref())?)
}

type Console = Extension<SignedInAs>;

#[utoipa::path(
    get,
    path = "/api/v1/admin/models",
    tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Every model with its endpoints and their health", body = Vec<arena_domain::admin::AdminModel>),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn models(State(arena): State<Arena>, Extension(s): Console) -> Result<Response, ApiError> {
    Ok(Json(console(&arena, &s)?.models().await?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/models/{key}",
    tag = "admin",
    params(("key" = String, Path, description = "The model's key")),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The model", body = arena_domain::admin::AdminModel),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such model", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn model(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(console(&arena, &s)?.model(&key).await?).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/models",
    tag = "admin",
    request_body = ModelInput,
    security(("session_cookie" = [])),
    responses(
        (status = 201, description = "The new model", body = arena_domain::admin::AdminModel),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 409, description = "Changed meanwhile by someone else (stale `version`), or \
            the key is taken", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn create_model(
    State(arena): State<Arena>,
    Extension(s): Console,
    ApiJson(body): ApiJson<ModelInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok((StatusCode::CREATED, Json(admin.create_model(body).await?)).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/admin/models/{key}",
    tag = "admin",
    params(("key" = String, Path, description = "The model's key")),
    request_body = ModelInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The model, changed", body = arena_domain::admin::AdminModel),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such model", body = arena_domain::api::ApiErrorBody),
        (status = 409, description = "Changed meanwhile by someone else (stale `version`), or \
            the key is taken", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn update_model(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<ModelInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.update_model(&key, body).await?).into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct ActiveChange {
    active: bool,
    /// Battles with the model still being answered (they keep it).
    live_battles: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/models/{key}/retire",
    tag = "admin",
    params(("key" = String, Path, description = "The model's key")),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Retired: no new battles", body = ActiveChange),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such model", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn retire(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let live = console(&arena, &s)?.set_model_active(&key, false).await?;
    Ok(Json(ActiveChange {
        active: false,
        live_battles: live,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/benchmarks",
    tag = "admin",
    request_body(content = String, content_type = "text/csv",
        description = "model,<benchmark>,…: one row per model key, an empty cell for a missing score"),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Imported: the scores replace those stored for the same model and benchmark",
            body = arena_domain::benchmark::BenchmarkImport),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 422, description = "A bad file (its line named) or an unknown model: nothing imported",
            body = arena_domain::api::ApiErrorBody),
    )
)]
async fn import_benchmarks(
    State(arena): State<Arena>,
    Extension(s): Console,
    body: String,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.import_benchmarks(&body).await?).into_response())
}

/// `PUT /api/v1/admin/models/{key}/version-of`: which model this one is a new version of.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionOf {
    /// The base model's key; `null`: a version of no model.
    base: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v1/admin/models/{key}/version-of",
    tag = "admin",
    params(("key" = String, Path, description = "The (new) model's key")),
    request_body = VersionOf,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Marked; the model as the console shows it", body = arena_domain::admin::AdminModel),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such model", body = arena_domain::api::ApiErrorBody),
        (status = 422, description = "Unknown base, or a cycle of versions", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn set_version_of(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<VersionOf>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    let base = body
        .base
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());
    admin.set_version_of(&key, base).await?;
    Ok(Json(admin.model(&key).await?).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/models/{key}/reactivate",
    tag = "admin",
    params(("key" = String, Path, description = "The model's key")),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Back in new battles", body = ActiveChange),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such model", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn reactivate(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let live = console(&arena, &s)?.set_model_active(&key, true).await?;
    Ok(Json(ActiveChange {
        active: true,
        live_battles: live,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/models/{key}/endpoints",
    tag = "admin",
    params(("key" = String, Path, description = "The model's key")),
    request_body = EndpointInput,
    security(("session_cookie" = [])),
    responses(
        (status = 201, description = "The model with its new endpoint", body = arena_domain::admin::AdminModel),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such model", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn add_endpoint(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<EndpointInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok((
        StatusCode::CREATED,
        Json(admin.add_endpoint(&key, body).await?),
    )
        .into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/admin/endpoints/{id}",
    tag = "admin",
    params(("id" = String, Path, format = Uuid, description = "The endpoint's id")),
    request_body = EndpointInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The endpoint's model", body = arena_domain::admin::AdminModel),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such endpoint", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn update_endpoint(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EndpointInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.update_endpoint(&id, body).await?).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/admin/endpoints/{id}",
    tag = "admin",
    params(("id" = String, Path, format = Uuid, description = "The endpoint's id")),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The endpoint's model, without it", body = arena_domain::admin::AdminModel),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such endpoint", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn delete_endpoint(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.delete_endpoint(&id).await?).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/endpoints/{id}/test",
    tag = "admin",
    params(("id" = String, Path, format = Uuid, description = "The endpoint's id")),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "A short test request's outcome", body = arena_domain::admin::EndpointTest),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such endpoint", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn test_endpoint(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.test_endpoint(&id).await?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/pairing",
    operation_id = "admin_pairing",
    tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The pairing policy and the last day's sampling", body = arena_domain::admin::PairingView),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn pairing(State(arena): State<Arena>, Extension(s): Console) -> Result<Response, ApiError> {
    console(&arena, &s)?;
    Ok(Json(arena.pairing_view(None).await?).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/admin/pairing",
    tag = "admin",
    request_body = PairingPolicyInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The policy, changed", body = arena_domain::admin::PairingView),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 409, description = "Changed meanwhile (stale `version`)", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn set_policy(
    State(arena): State<Arena>,
    Extension(s): Console,
    ApiJson(body): ApiJson<PairingPolicyInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.set_pairing_policy(body).await?).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/admin/pairing/rules",
    tag = "admin",
    request_body = PairRuleInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The policy with the pair's rule", body = arena_domain::admin::PairingView),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn set_rule(
    State(arena): State<Arena>,
    Extension(s): Console,
    ApiJson(body): ApiJson<PairRuleInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.set_pair_rule(body).await?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "admin",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Every account", body = Vec<arena_domain::admin::UserRow>),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn users(State(arena): State<Arena>, Extension(s): Console) -> Result<Response, ApiError> {
    Ok(Json(console(&arena, &s)?.users().await?).into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/admin/users/{username}/role",
    tag = "admin",
    params(("username" = String, Path)),
    request_body = SetRole,
    security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such account", body = arena_domain::api::ApiErrorBody),
        (status = 409, description = "An admin cannot take their own admin role away", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn set_role(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<SetRole>,
) -> Result<Response, ApiError> {
    console(&arena, &s)?.set_role(&username, &body.role).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{username}/clear-throttle",
    tag = "admin",
    params(("username" = String, Path)),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The account's failed sign-ins from every address are \
            forgotten (audited): `{\"cleared\": N}`"),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such account", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn clear_throttle(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    let cleared = console(&arena, &s)?
        .clear_signin_throttle(&username)
        .await?;
    Ok(Json(serde_json::json!({ "cleared": cleared })).into_response())
}
