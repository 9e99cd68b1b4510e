//! The console's moderation API (`/api/v1/admin/votes`, `…/voters`, `…/flags`, `…/battles`,
//! `…/audit`): searching votes, voiding and restoring votes, voters and battles, the flagged
//! queue, and the audit log. Mounted by [`super::router`].

use super::{Console, console};
use crate::api::{ApiError, ApiJson};
use arena_core::Arena;
use arena_domain::admin::{ModerationInput, VoteQuery};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

#[utoipa::path(
    get,
    path = "/api/v1/admin/votes",
    tag = "admin",
    params(VoteQuery),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Matching votes, newest first", body = Vec<arena_domain::admin::VoteRow>),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 422, description = "A bad query value", body = arena_domain::api::ApiErrorBody),
    )
)]
pub(crate) async fn votes(
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

/// The `{action}` of a path, as one of its enum's names (the same enum documents the path's
/// choices); anything else names no route.
fn parse_action<A: serde::de::DeserializeOwned>(raw: &str) -> Result<A, ApiError> {
    A::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(raw))
        .map_err(|_| unknown_action())
}

/// `POST /votes/{id}/{action}`.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum VoteAction {
    Void,
    Unvoid,
}

/// `POST /voters/{id}/{action}`: void or restore all the voter's votes, (un)ban the voter, or
/// decide on a quarantined voter: `confirm` (the votes stay out) or `clear` (they come back).
#[derive(Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum VoterAction {
    Void,
    Unvoid,
    Ban,
    Unban,
    Confirm,
    Clear,
    Erase,
}

/// `POST /battles/{id}/{action}`: void the battle's votes, or dismiss it from the queue.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BattleAction {
    Void,
    Dismiss,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/votes/{id}/{action}",
    tag = "admin",
    params(("id" = i64, Path, description = "The vote's id"), ("action" = inline(VoteAction), Path)),
    request_body = ModerationInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "What changed", body = arena_domain::admin::ModerationOutcome),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such vote, or no such action", body = arena_domain::api::ApiErrorBody),
    )
)]
pub(crate) async fn vote_action(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path((id, action)): Path<(String, String)>,
    ApiJson(body): ApiJson<ModerationInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    let voided = parse_action::<VoteAction>(&action)? == VoteAction::Void;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::from(arena_core::ArenaError::NotFound { what: "vote" }))?;
    Ok(Json(admin.void_vote(id, voided, &body).await?).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/voters/{id}/{action}",
    tag = "admin",
    params(("id" = String, Path, format = Uuid, description = "The voter's id"), ("action" = inline(VoterAction), Path)),
    request_body = ModerationInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "`void`, `unvoid`, `confirm`, `clear`: what changed", body = arena_domain::admin::ModerationOutcome),
        (status = 204, description = "`ban`, `unban`: done"),
        (status = 201, description = "`erase`: the person's erasure (every browser of its \
            account, and the account; see docs/privacy.md)", body = arena_core::privacy::Erasure),
        (status = 409, description = "`erase`: the account acted in the console (the audit log \
            keeps who did what)", body = arena_domain::api::ApiErrorBody),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such voter, or no such action", body = arena_domain::api::ApiErrorBody),
    )
)]
pub(crate) async fn voter_action(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path((id, action)): Path<(String, String)>,
    ApiJson(body): ApiJson<ModerationInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    match parse_action(&action)? {
        a @ (VoterAction::Void | VoterAction::Unvoid) => {
            let voided = a == VoterAction::Void;
            Ok(Json(admin.void_voter(&id, voided, &body).await?).into_response())
        }
        a @ (VoterAction::Ban | VoterAction::Unban) => {
            admin.ban_voter(&id, a == VoterAction::Ban, &body).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        a @ (VoterAction::Confirm | VoterAction::Clear) => {
            let confirm = a == VoterAction::Confirm;
            Ok(Json(admin.decide_quarantine(&id, confirm, &body).await?).into_response())
        }
        VoterAction::Erase => Ok((
            StatusCode::CREATED,
            Json(admin.erase_voter(&id, &body).await?),
        )
            .into_response()),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/quarantine",
    tag = "admin",
    params(Page),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Voters the rigging detector quarantined: waiting for a \
            decision first (`POST /api/v1/admin/voters/{id}/confirm` or `…/clear`)",
            body = Vec<arena_domain::admin::QuarantinedVoter>),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
    )
)]
pub(crate) async fn quarantine(
    State(arena): State<Arena>,
    Extension(s): Console,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.quarantine_queue(page.limit.unwrap_or(100)).await?).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Entries older than this id (paging; the audit log only).
    before: Option<i64>,
    /// At most this many (default 100).
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/flags",
    tag = "admin",
    params(Page),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The moderation queue", body = Vec<arena_domain::admin::FlaggedBattle>),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
    )
)]
pub(crate) async fn flags(
    State(arena): State<Arena>,
    Extension(s): Console,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    Ok(Json(admin.flagged(page.limit.unwrap_or(100)).await?).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/battles/{id}/{action}",
    tag = "admin",
    params(("id" = String, Path, format = Uuid, description = "The battle's id"), ("action" = inline(BattleAction), Path)),
    request_body = ModerationInput,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "`void`: what changed", body = arena_domain::admin::ModerationOutcome),
        (status = 204, description = "`dismiss`: reviewed, left as it is"),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such battle, or no such action", body = arena_domain::api::ApiErrorBody),
    )
)]
pub(crate) async fn battle_action(
    State(arena): State<Arena>,
    Extension(s): Console,
    Path((id, action)): Path<(String, String)>,
    ApiJson(body): ApiJson<ModerationInput>,
) -> Result<Response, ApiError> {
    let admin = console(&arena, &s)?;
    match parse_action(&action)? {
        BattleAction::Void => Ok(Json(admin.void_battle(&id, &body).await?).into_response()),
        BattleAction::Dismiss => {
            admin.review_battle(&id, &body).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "admin",
    params(Page),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The audit log, newest first", body = Vec<arena_domain::admin::AuditEntry>),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
    )
)]
pub(crate) async fn audit(
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
