//! The JSON/SSE battle API, `/api/v1/...`. Errors are `{"error": {"code", "message"}}` with
//! the right status; bad input is never a 500.

mod error;
pub(crate) mod leaderboard;

pub use error::{ApiError, ApiJson};

use crate::AppState;
use crate::client::ClientAddr;
use crate::session::Session;
use arena_core::limits::Action;
use arena_core::live::Requester;
use arena_core::{Arena, ArenaError};
use arena_domain::api::{
    ApiErrorBody, BattleCreated, BattleView, CastVote, ContinueBattle, CreateBattle, Reveal,
    StreamEvent,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/battles", post(create_battle))
        .route("/battles/{id}", get(get_battle))
        .route("/battles/{id}/stream", get(stream_battle))
        .route("/battles/{id}/turns", post(continue_battle))
        .route("/battles/{id}/regenerate", post(regenerate))
        .route("/battles/{id}/vote", post(vote))
        .route("/battles/{id}/report", post(report))
        .route("/terms", get(terms))
        .route("/terms/accept", post(accept_terms))
        .route("/pairing", get(pairing))
        .route("/data-release", get(data_release).put(set_data_release))
        .route("/leaderboard", get(leaderboard::leaderboard))
        .route("/leaderboard/style", get(leaderboard::style_leaderboard))
        .route("/leaderboard/categories", get(leaderboard::category_counts))
        .route("/leaderboard/regressions", get(leaderboard::regressions))
        .route("/leaderboard/benchmarks", get(leaderboard::benchmarks))
        .route("/leaderboard/runs/{id}", get(leaderboard::rating_run))
        .route(
            "/leaderboard/runs/{id}/reproduce",
            get(leaderboard::reproduce_run),
        )
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
        })
}

/// Battle ids are UUIDs; anything else names no battle.
fn battle_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::from(ArenaError::NotFound { what: "battle" }))
}

/// The address's budget first (a refused request creates no voter), then the voter's.
async fn admit(
    arena: &Arena,
    action: Action,
    address: IpAddr,
    session: &Session,
) -> Result<Requester, ApiError> {
    arena.limits.check_address(action, address).await?;
    let voter = session.voter_or_create().await?;
    arena.limits.check_voter(action, voter.0).await?;
    Ok(Requester::new(voter, Some(address)))
}

/// The voter of a request that only reads: without one, no battle is theirs.
fn reader(session: &Session) -> Result<arena_core::voters::VoterId, ApiError> {
    session
        .voter()
        .ok_or_else(|| ApiError::from(ArenaError::NotFound { what: "battle" }))
}

#[utoipa::path(
    post,
    path = "/api/v1/battles",
    tag = "battles",
    request_body = CreateBattle,
    security((), ("voter_cookie" = [])),
    responses(
        (status = 201, description = "The battle and its first turn (read the answers from \
            `…/stream`); a browser's first write also sets the voter cookie", body = BattleCreated),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
        (status = 503, description = "No two models available, or busy (`Retry-After`)",
            body = ApiErrorBody),
    )
)]
async fn create_battle(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    ApiJson(body): ApiJson<CreateBattle>,
) -> Result<impl IntoResponse, ApiError> {
    let requester = admit(&arena, Action::CreateBattle, client, &session).await?;
    let created = arena
        .create_battle(
            requester,
            &body.prompt,
            body.language,
            body.campaign.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    post,
    path = "/api/v1/battles/{id}/turns",
    tag = "battles",
    params(("id" = String, Path, format = Uuid, description = "The battle's id")),
    request_body = ContinueBattle,
    security(("voter_cookie" = [])),
    responses(
        (status = 201, description = "The next turn: same two models, whole history",
            body = BattleCreated),
        (status = 404, description = "No such battle, or another voter's", body = ApiErrorBody),
        (status = 409, description = "The battle cannot take a turn now", body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
        (status = 503, description = "A model is unavailable, or busy", body = ApiErrorBody),
    )
)]
async fn continue_battle(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContinueBattle>,
) -> Result<impl IntoResponse, ApiError> {
    let id = battle_id(&id)?;
    let requester = admit(&arena, Action::Turn, client, &session).await?;
    let created = arena.continue_battle(requester, id, &body.prompt).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    post,
    path = "/api/v1/battles/{id}/regenerate",
    tag = "battles",
    params(("id" = String, Path, format = Uuid, description = "The battle's id")),
    security(("voter_cookie" = [])),
    responses(
        (status = 201, description = "Both answers again, before the vote (the old ones are \
            kept, marked discarded)", body = BattleCreated),
        (status = 404, description = "No such battle, or another voter's", body = ApiErrorBody),
        (status = 409, description = "The turn cannot be regenerated now", body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
        (status = 503, description = "A model is unavailable, or busy", body = ApiErrorBody),
    )
)]
async fn regenerate(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = battle_id(&id)?;
    let requester = admit(&arena, Action::Regenerate, client, &session).await?;
    let created = arena.regenerate(requester, id).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    post,
    path = "/api/v1/battles/{id}/vote",
    tag = "battles",
    params(
        ("id" = String, Path, format = Uuid, description = "The battle's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key again returns \
            the same answer and writes nothing; visible ASCII"),
    ),
    request_body = CastVote,
    security(("voter_cookie" = [])),
    responses(
        (status = 200, description = "The vote, and the reveal of both models", body = Reveal),
        (status = 404, description = "No such battle, or another voter's", body = ApiErrorBody),
        (status = 409, description = "Before both answers finished, a second different vote, a \
            failed battle, or an Idempotency-Key used for another vote", body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
async fn vote(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CastVote>,
) -> Result<impl IntoResponse, ApiError> {
    let id = battle_id(&id)?;
    let voter = admit(&arena, Action::Vote, client, &session).await?.voter;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key must be visible ASCII",
            )
        })?),
    };
    let reveal = arena
        .vote_from(
            voter,
            id,
            &body.winner,
            body.axes.as_ref(),
            key,
            Some(client),
        )
        .await?;
    Ok(Json(reveal))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct Report {
    reason: String,
}

/// The battle's voter reports it: it enters the moderators' queue.
#[utoipa::path(
    post,
    path = "/api/v1/battles/{id}/report",
    tag = "battles",
    params(("id" = String, Path, format = Uuid, description = "The battle's id")),
    request_body = Report,
    security(("voter_cookie" = [])),
    responses(
        (status = 204, description = "Reported"),
        (status = 404, description = "No such battle, or another voter's", body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
async fn report(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Report>,
) -> Result<impl IntoResponse, ApiError> {
    let id = battle_id(&id)?;
    let voter = reader(&session)?;
    arena
        .limits
        .check_both(Action::Vote, client, voter.0)
        .await?;
    arena.report_battle(voter, id, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The voter of a cheap, idempotent settings write (terms, data release): only creating a voter
/// spends the address's budget.
pub(crate) async fn settings_voter(
    arena: &Arena,
    client: IpAddr,
    session: &Session,
) -> Result<arena_core::voters::VoterId, ApiError> {
    if let Some(voter) = session.voter() {
        return Ok(voter);
    }
    arena
        .limits
        .check_address(Action::CreateBattle, client)
        .await?;
    session.voter_or_create().await
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Terms {
    version: &'static str,
    text: &'static str,
    /// Whether this browser's voter accepted this version.
    accepted: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/terms",
    tag = "voters",
    security((), ("voter_cookie" = [])),
    responses((status = 200, description = "The current terms", body = Terms))
)]
async fn terms(
    State(arena): State<Arena>,
    session: Session,
) -> Result<impl IntoResponse, ApiError> {
    let accepted = match session.voter() {
        Some(voter) => {
            arena_core::voters::standing(&arena.pool, voter)
                .await?
                .terms_version
                .as_deref()
                == Some(arena_domain::terms::TERMS_VERSION)
        }
        None => false,
    };
    Ok(Json(Terms {
        version: arena_domain::terms::TERMS_VERSION,
        text: arena_domain::terms::TERMS_TEXT,
        accepted,
    }))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
struct AcceptTerms {
    version: String,
}

/// Accepts the terms for this browser's voter (created if it has none yet).
#[utoipa::path(
    post,
    path = "/api/v1/terms/accept",
    tag = "voters",
    request_body = AcceptTerms,
    security((), ("voter_cookie" = [])),
    responses(
        (status = 204, description = "Accepted (a voter is created if the browser has none)"),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
async fn accept_terms(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    ApiJson(body): ApiJson<AcceptTerms>,
) -> Result<impl IntoResponse, ApiError> {
    let voter = settings_voter(&arena, client, &session).await?;
    arena_core::voters::accept_terms(&arena.pool, voter, &body.version).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DataRelease {
    /// True: this browser's conversations and votes are left out of research exports.
    opt_out: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/data-release",
    tag = "voters",
    security((), ("voter_cookie" = [])),
    responses((status = 200, description = "This browser's choice", body = DataRelease))
)]
async fn data_release(
    State(arena): State<Arena>,
    session: Session,
) -> Result<impl IntoResponse, ApiError> {
    let opt_out = match session.voter() {
        Some(voter) => arena_core::voters::data_release_opt_out(&arena.pool, voter).await?,
        None => false,
    };
    Ok(Json(DataRelease { opt_out }))
}

/// Opts this browser's voter out of (or back into) research data releases.
#[utoipa::path(
    put,
    path = "/api/v1/data-release",
    tag = "voters",
    request_body = DataRelease,
    security((), ("voter_cookie" = [])),
    responses(
        (status = 200, description = "The choice, as stored", body = DataRelease),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
async fn set_data_release(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    ApiJson(body): ApiJson<DataRelease>,
) -> Result<impl IntoResponse, ApiError> {
    let voter = settings_voter(&arena, client, &session).await?;
    arena_core::voters::set_data_release_opt_out(&arena.pool, voter, body.opt_out).await?;
    Ok(Json(body))
}

/// The pairing policy and the realised sampling of every pair over the last day (public:
/// researchers correct for it).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PairingQuery {
    /// A campaign's slug (default `arena`): its battles only, and the probabilities its pool
    /// and pairing give.
    campaign: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/pairing",
    tag = "leaderboard",
    params(PairingQuery),
    responses(
        (status = 200, description = "The pairing policy, and one campaign's pair probabilities \
            and last day's sampling", body = arena_domain::admin::PairingView),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
        (status = 422, description = "A malformed slug or an unknown parameter",
            body = ApiErrorBody),
    )
)]
async fn pairing(
    State(arena): State<Arena>,
    query: Result<axum::extract::Query<PairingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let axum::extract::Query(query) = query.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.body_text(),
        )
    })?;
    Ok(Json(arena.pairing_view(query.campaign.as_deref()).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/battles/{id}",
    tag = "battles",
    params(("id" = String, Path, format = Uuid, description = "The battle's id")),
    security(("voter_cookie" = [])),
    responses(
        (status = 200, description = "The battle; model names only once a vote revealed them",
            body = BattleView),
        (status = 404, description = "No such battle, or another voter's", body = ApiErrorBody),
    )
)]
async fn get_battle(
    State(arena): State<Arena>,
    session: Session,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = battle_id(&id)?;
    let voter = reader(&session)?;
    Ok(Json(arena.battle_view(voter, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/battles/{id}/stream",
    tag = "battles",
    params(("id" = String, Path, format = Uuid, description = "The battle's id")),
    security(("voter_cookie" = [])),
    responses(
        (status = 200, description = "Server-sent events of the current turn, replayed from its \
            start: events `delta`, `done` and `error`, each with a `StreamEvent` as JSON data; \
            never a model's name. Ends once both sides ended.",
            content_type = "text/event-stream", body = String),
        (status = 404, description = "No such battle, or another voter's", body = ApiErrorBody),
        (status = 429, description = "Too many streams open for this voter or address \
            (`limits.max_streams_per_voter`, `limits.max_streams_per_address`)",
            body = ApiErrorBody),
    )
)]
async fn stream_battle(
    State(arena): State<Arena>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = battle_id(&id)?;
    let voter = reader(&session)?;
    // A place among the voter's and the address's open streams, for as long as this one is open.
    let held = arena.limits.hold_stream(voter.0, client).await?;
    let turn = arena.stream(voter, id).await?;
    let mut finished = [false, false];
    for event in &turn.replay {
        mark_final(&mut finished, event);
    }
    let replay = stream::iter(turn.replay.into_iter().map(sse_event));
    let live = match turn.live {
        Some((rx, guard)) if !(finished[0] && finished[1]) => {
            let events = tokio_stream::wrappers::BroadcastStream::new(rx);
            stream::unfold(
                (events, finished, Some(guard)),
                |(mut events, mut finished, guard)| async move {
                    guard.as_ref()?;
                    match events.next().await {
                        Some(Ok(event)) => {
                            mark_final(&mut finished, &event);
                            // The guard (this viewer) stays alive until both sides ended.
                            let guard = if finished[0] && finished[1] {
                                None
                            } else {
                                guard
                            };
                            Some((sse_event(event), (events, finished, guard)))
                        }
                        Some(Err(lagged)) => {
                            tracing::warn!(error = %lagged, "viewer lagged behind the stream");
                            None
                        }
                        None => None,
                    }
                },
            )
            .boxed()
        }
        _ => stream::empty().boxed(),
    };
    let open = crate::metrics::OpenStream::open();
    let events = replay.chain(live).map(move |event| {
        let _open = (&held, &open);
        event
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn mark_final(finished: &mut [bool; 2], event: &StreamEvent) {
    if !matches!(event, StreamEvent::Delta { .. }) {
        finished[match event.side() {
            arena_domain::Side::A => 0,
            arena_domain::Side::B => 1,
        }] = true;
    }
}

fn sse_event(event: StreamEvent) -> Result<Event, Infallible> {
    let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
    Ok(Event::default().event(event.name()).data(data))
}
