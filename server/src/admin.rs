//! The admins' console as JSON, `/api/v1/admin/...`: every handler asks [`Arena::admin`] for
//! the console first, which checks the account's role on the server (401 for a stranger, 403
//! for a volunteer or researcher) before anything else happens. The pages' server functions
//! call the same methods.

use crate::AppState;
use crate::account::SignedInAs;
use crate::api::{ApiError, ApiJson};
use arena_core::Arena;
use arena_core::admin::Admin;
use arena_domain::admin::{
    EndpointInput, ModelInput, ModerationInput, PairRuleInput, PairingPolicyInput, VoteQuery,
};
use arena_domain::api::SetRole;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/models", get(models).post(create_model))
        .route("/models/{key}", get(model).put(update_model))
        .route("/models/{key}/retire", post(retire))
        .route("/models/{key}/reactivate", post(reactivate))
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
        .route("/battles/{id}/{action}", post(battle_action))
        .route("/audit", get(audit))
        .route("/users", get(users))
        .route("/users/{username}/role", put(set_role))
}

fn console(arena: &Arena, signed_in: &SignedInAs) -> Result<Admin, ApiError> {
    Ok(arena.admin(signed_in.0.as_ref())?)
}

type Console = Extension<SignedInAs>;

async fn models(State(arena): State<Arena>, Extension(s): Console) -> Result<Response, ApiError> {
    Ok(Json(console(&arena, &s)?.models().await?).into_response())
}

async fn model(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(console(&arena, &s)?.model(&key).await?).into_response())
}

async fn create_model(
    State(arena): State<Arena>,
    Extension(s): Console,
    ApiJson(body): ApiJson<ModelInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok((StatusCode::CREATED, Json(admin.create_model(body).await?)).into_response())
}

async fn update_model(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<ModelInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.update_model(&key, body).await?).into_response())
}

#[derive(serde::Serialize)]
struct ActiveChange {
    active: bool,
    /// Battles with the model still being answered (they keep it).
    live_battles: i64,
}

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

async fn update_endpoint(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EndpointInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.update_endpoint(&id, body).await?).into_response())
}

async fn delete_endpoint(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.delete_endpoint(&id).await?).into_response())
}

async fn test_endpoint(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.test_endpoint(&id).await?).into_response())
}

async fn pairing(State(arena): State<Arena>, Extension(s): Console) -> Result<Response, ApiError> {
    console(&arena, &s)?;
    Ok(Json(arena.pairing_view().await?).into_response())
}

async fn set_policy(
    State(arena): State<Arena>,
    Extension(s): Console,
    ApiJson(body): ApiJson<PairingPolicyInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.set_pairing_policy(body).await?).into_response())
}

async fn set_rule(
    State(arena): State<Arena>,
    Extension(s): Console,
    ApiJson(body): ApiJson<PairRuleInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.set_pair_rule(body).await?).into_response())
}

async fn votes(
    State(arena): State<Arena>,
    Extension(s): Console,
    query: Result<Query<VoteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.body_text(),
        )
    })?;
    Ok(Json(admin.votes(&query).await?).into_response())
}

fn unknown_action() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
}

async fn vote_action(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path((id, action)): Path<(String, String)>,
    ApiJson(body): ApiJson<ModerationInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    let voided = match action.as_str() {
        "void" => true,
        "unvoid" => false,
        _ => return Err(unknown_action()),
    };
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::from(arena_core::ArenaError::NotFound { what: "vote" }))?;
    Ok(Json(admin.void_vote(id, voided, &body).await?).into_response())
}

async fn voter_action(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path((id, action)): Path<(String, String)>,
    ApiJson(body): ApiJson<ModerationInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    match action.as_str() {
        "void" | "unvoid" => {
            Ok(Json(admin.void_voter(&id, action == "void", &body).await?).into_response())
        }
        "ban" | "unban" => {
            admin.ban_voter(&id, action == "ban", &body).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(unknown_action()),
    }
}

#[derive(Deserialize)]
struct Page {
    before: Option<i64>,
    limit: Option<i64>,
}

async fn flags(
    State(arena): State<Arena>,
    Extension(s): Console,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.flagged(page.limit.unwrap_or(100)).await?).into_response())
}

async fn battle_action(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path((id, action)): Path<(String, String)>,
    ApiJson(body): ApiJson<ModerationInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    match action.as_str() {
        "void" => Ok(Json(admin.void_battle(&id, &body).await?).into_response()),
        "dismiss" => {
            admin.review_battle(&id, &body).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(unknown_action()),
    }
}

async fn audit(
    State(arena): State<Arena>,
    Extension(s): Console,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(
        admin
            .audit_log(page.before, page.limit.unwrap_or(100))
            .await?,
    )
    .into_response())
}

async fn users(State(arena): State<Arena>, Extension(s): Console) -> Result<Response, ApiError> {
    Ok(Json(console(&arena, &s)?.users().await?).into_response())
}

async fn set_role(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<SetRole>,
) -> Result<Response, ApiError> {
    console(&arena, &s)?.set_role(&username, &body.role).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
