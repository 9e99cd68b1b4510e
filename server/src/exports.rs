//! Research exports over HTTP: `GET /api/v1/exports/battles?schema=…&format=…&…` streams the
//! body as it is read (chunked), for researchers and admins; `…/battles/manifest` with the same
//! query answers the export's manifest (row count, SHA-256 of the body, snapshot, rating run).

use crate::AppState;
use crate::account::SignedInAs;
use crate::api::ApiError;
use arena_core::Arena;
use arena_core::accounts;
use arena_core::exports::ExportEvent;
use arena_domain::account::Role;
use arena_domain::export::{ExportQuery, ExportSpec};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/exports/battles", get(export))
        .route("/exports/battles/manifest", get(manifest))
        .route("/exports/{id}/manifest", get(download_manifest))
        .route("/sources", get(sources))
}

fn spec(
    account: &SignedInAs,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<ExportSpec, ApiError> {
    accounts::require(account.0.as_ref(), Role::Researcher)?;
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.body_text(),
        )
    })?;
    query.parse().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            e.to_string(),
        )
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/exports/battles",
    tag = "exports",
    params(ExportQuery),
    security(("session_cookie" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The export, streamed as it is read (chunked; a failure \
            mid-body aborts the transfer). Its manifest is at `…/manifest` with the same query.",
            content(
                (String = "application/jsonl; charset=utf-8"),
                (String = "text/csv; charset=utf-8"),
                (String = "application/vnd.apache.parquet"),
            ),
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename=…`"),
                ("x-arena-schema" = String, description = "The schema of the rows"),
                ("x-arena-rows-at-most" = u64, description = "An upper bound of the rows \
                    (the votes the vote-level filters keep), for progress bars"),
                ("x-arena-export-id" = String, description = "This download's id: \
                    `GET /api/v1/exports/{id}/manifest` gives the manifest of the bytes sent"),
            )),
        (status = 401, description = "Not signed in (no session, no token), or the token is not \
            valid", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "A volunteer: exports are for researchers and admins",
            body = arena_domain::api::ApiErrorBody),
        (status = 422, description = "A bad query value, named in the message", body = arena_domain::api::ApiErrorBody),
        (status = 429, description = "As many exports as `exports.max_running` (all processes) \
            or `exports.max_running_per_account` are running (`Retry-After`)",
            body = arena_domain::api::ApiErrorBody),
    )
)]
async fn export(
    State(arena): State<Arena>,
    Extension(account): Extension<SignedInAs>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let spec = spec(&account, query)?;
    let filename = format!("arena-{}.{}", spec.schema.as_str(), spec.format.extension());
    let content_type = spec.format.content_type();
    let schema = spec.schema.as_str();
    let account_id = account.0.as_ref().map(|a| a.user_id);
    let (download, mut events) = arena.export_for(spec.clone(), account_id).await?;
    // The first event says the snapshot is taken (and bounds the rows, for progress bars); a
    // failure before it is a plain JSON error, not a truncated body.
    let rows_at_most = match events.recv().await {
        Some(ExportEvent::Started { rows_at_most }) => rows_at_most,
        Some(ExportEvent::Failed(message)) => return Err(ApiError::internal(message)),
        _ => return Err(ApiError::internal("the export did not start")),
    };
    // Running (for the metrics) until the body is dropped, sent or cut.
    let running = std::sync::Arc::new(crate::metrics::RunningExport::start());
    let body = futures::stream::unfold(Some(events), move |events| {
        let running = std::sync::Arc::clone(&running);
        async move {
            let mut events = events?;
            loop {
                return match events.recv().await {
                    Some(ExportEvent::Started { .. }) => continue,
                    Some(ExportEvent::Chunk(bytes)) => {
                        running.sent(bytes.len());
                        Some((Ok(Bytes::from(bytes)), Some(events)))
                    }
                    // The body ends; the manifest is at …/manifest.
                    Some(ExportEvent::Done(_)) => None,
                    // A failure mid-body aborts the response: the client sees a truncated
                    // transfer, never a short file that looks complete.
                    Some(ExportEvent::Failed(message)) => {
                        Some((Err(std::io::Error::other(message)), None))
                    }
                    // Stopped without a manifest (a reader slower than the floor): aborted too.
                    None => Some((
                        Err(std::io::Error::other("the export stopped before its end")),
                        None,
                    )),
                };
            }
        }
    });
    // Fused: the compression layer may poll once more after the end.
    let mut response = Body::from_stream(futures::StreamExt::fuse(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(schema) {
        headers.insert("x-arena-schema", v);
    }
    headers.insert("x-arena-rows-at-most", HeaderValue::from(rows_at_most));
    if let Ok(v) = HeaderValue::from_str(&download.to_string()) {
        headers.insert("x-arena-export-id", v);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/exports/battles/manifest",
    tag = "exports",
    params(ExportQuery),
    security(("session_cookie" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The manifest of the export with this query: rows, SHA-256 \
            of the body, snapshot, rating run", body = arena_core::exports::Manifest),
        (status = 401, description = "Not signed in (no session, no token), or the token is not \
            valid", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "A volunteer: exports are for researchers and admins",
            body = arena_domain::api::ApiErrorBody),
        (status = 422, description = "A bad query value, named in the message", body = arena_domain::api::ApiErrorBody),
        (status = 429, description = "As many exports as `exports.max_running` (all processes) \
            or `exports.max_running_per_account` are running (`Retry-After`)",
            body = arena_domain::api::ApiErrorBody),
    )
)]
async fn manifest(
    State(arena): State<Arena>,
    Extension(account): Extension<SignedInAs>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let spec = spec(&account, query)?;
    let account_id = account.0.as_ref().map(|a| a.user_id);
    let (_, mut events) = arena.export_for(spec, account_id).await?;
    while let Some(event) = events.recv().await {
        match event {
            ExportEvent::Started { .. } | ExportEvent::Chunk(_) => {}
            ExportEvent::Done(manifest) => return Ok(Json(*manifest).into_response()),
            ExportEvent::Failed(message) => return Err(ApiError::internal(message)),
        }
    }
    Err(ApiError::internal("the export ended without a manifest"))
}

#[utoipa::path(
    get,
    path = "/api/v1/exports/{id}/manifest",
    tag = "exports",
    params(("id" = String, Path, format = Uuid, description = "The download's \
        `x-arena-export-id`")),
    security(("session_cookie" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The manifest of the bytes that download sent (rows and \
            SHA-256 computed while streaming, snapshot, rating run), stored when it ended: no \
            second export, and nothing committed since changes it",
            body = arena_core::exports::Manifest),
        (status = 401, description = "Not signed in (no session, no token), or the token is not \
            valid", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "A volunteer", body = arena_domain::api::ApiErrorBody),
        (status = 404, description = "No such download, or another account's",
            body = arena_domain::api::ApiErrorBody),
        (status = 409, description = "The download is still being sent (`export_running`), or \
            stopped before its end (`export_stopped`)", body = arena_domain::api::ApiErrorBody),
    )
)]
async fn download_manifest(
    State(arena): State<Arena>,
    Extension(account): Extension<SignedInAs>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let account = accounts::require(account.0.as_ref(), Role::Researcher)?;
    match arena.download_manifest(&id, account).await? {
        Some(manifest) => Ok(Json(manifest).into_response()),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "export_running",
            "this download is still being sent; ask again when it has ended",
        )),
    }
}

/// `GET /api/v1/sources`: the imported data sources (public, as the leaderboard is): name,
/// schema, votes, models, last import. `GET /api/v1/leaderboard?source=NAME` rates one.
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "leaderboard",
    responses((status = 200, description = "The imported data sources, newest first",
        body = Vec<arena_core::imports::DataSource>))
)]
async fn sources(State(arena): State<Arena>) -> Result<Response, ApiError> {
    Ok(Json(arena_core::imports::sources(&arena.pool).await?).into_response())
}
