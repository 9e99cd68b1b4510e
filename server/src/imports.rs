//! Imports from the console: `POST /api/v1/admin/imports?source=…&schema=…&format=…&skip_bad=…`
//! with the file as the body (for scripts), and the console page's upload form
//! (`POST /admin/imports/upload`, multipart, answered with a redirect back to the page). Both
//! stream the upload to a temporary file (never into memory), then import it in one transaction
//! (`arena_core::imports`), audited under the admin's name.

use crate::AppState;
use crate::account::SignedInAs;
use crate::api::ApiError;
use arena_core::Arena;
use arena_core::error::ArenaError;
use arena_core::imports::{ImportOptions, ImportReport, import};
use arena_domain::export::{Format, Schema};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

/// The largest file accepted from the browser or the API (the command line has no limit).
const MAX_UPLOAD: usize = 4 << 30;

/// `/api/v1/admin/imports`.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/imports", post(api_import))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
}

/// `/admin/imports/upload`: the console's form.
pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/admin/imports/upload", post(form_import))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    source: String,
    schema: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    skip_bad: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
}

/// A temporary file, removed when dropped.
struct Upload(std::path::PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Upload {
    fn new() -> Upload {
        Upload(std::env::temp_dir().join(format!(
            "arena-import-{}.upload",
            uuid::Uuid::new_v4().simple()
        )))
    }
}

fn invalid(message: impl Into<String>) -> ArenaError {
    ArenaError::invalid("invalid_field", message.into())
}

fn options(
    source: &str,
    schema: &str,
    format: Option<&str>,
    file_name: &str,
    skip_bad: bool,
    actor: arena_core::accounts::Account,
    bounds: arena_core::config::ImportSettings,
) -> Result<ImportOptions, ArenaError> {
    let schema: Schema = schema.parse().map_err(|e| invalid(format!("{e}")))?;
    let format_name = match format
        .map(str::trim)
        .filter(|f| !f.is_empty() && *f != "auto")
    {
        Some(f) => f.to_owned(),
        None => std::path::Path::new(file_name)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default(),
    };
    let format: Format = format_name
        .parse()
        .map_err(|e| invalid(format!("{e} (choose the file's format)")))?;
    Ok(ImportOptions {
        source: source.trim().to_owned(),
        schema,
        format,
        skip_bad,
        file_name: file_name.to_owned(),
        actor: Some(actor),
        bounds,
    })
}

async fn run(
    arena: &Arena,
    options: ImportOptions,
    upload: &Upload,
) -> Result<ImportReport, ArenaError> {
    let file = std::fs::File::open(&upload.0).map_err(|e| ArenaError::Internal(e.to_string()))?;
    import(&arena.research_pool, options, Box::new(file), |_| {}).await
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/imports",
    tag = "admin",
    params(ImportQuery),
    request_body(content = [u8], content_type = "application/octet-stream",
        description = "The file, streamed (JSONL, CSV or Parquet, in the named schema)"),
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "What the import did", body = arena_core::imports::ImportReport),
        (status = 401, description = "Not signed in", body = arena_domain::api::ApiErrorBody),
        (status = 403, description = "Not an admin", body = arena_domain::api::ApiErrorBody),
        (status = 422, description = "A bad field or a malformed row, named in the message",
            body = arena_domain::api::ApiErrorBody),
    )
)]
async fn api_import(
    State(arena): State<Arena>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
    Query(query): Query<ImportQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let admin = arena.admin(account.as_ref())?;
    let file_name = query.file_name.clone().unwrap_or_default();
    let options = options(
        &query.source,
        &query.schema,
        query.format.as_deref(),
        &file_name,
        matches!(query.skip_bad.as_deref(), Some("true" | "1" | "on")),
        admin.actor().clone(),
        arena.import_settings,
    )?;
    let upload = Upload::new();
    let mut file = tokio::fs::File::create(&upload.0)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "upload_failed", e.to_string()))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(run(&arena, options, &upload).await?).into_response())
}

/// The page's form: the fields, then the file, streamed to disk.
async fn form_import(
    State(arena): State<Arena>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
    mut form: Multipart,
) -> Response {
    let back = |outcome: Result<ImportReport, String>| -> Response {
        let query = match outcome {
            Ok(report) => format!(
                "imported={}&added={}&skipped={}",
                urlencode(&report.source),
                report.rows_added,
                report.rows_skipped
            ),
            Err(message) => format!("error={}", urlencode(&message)),
        };
        Redirect::to(&format!("/admin/imports?{query}")).into_response()
    };
    let admin = match arena.admin(account.as_ref()) {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (mut source, mut schema, mut format, mut skip_bad) =
        (String::new(), String::new(), String::new(), false);
    let mut file_name = String::new();
    let upload = Upload::new();
    let mut got_file = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return back(Err(format!("the upload failed: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            file_name = field.file_name().unwrap_or_default().to_owned();
            let mut out = match tokio::fs::File::create(&upload.0).await {
                Ok(f) => f,
                Err(e) => return back(Err(e.to_string())),
            };
            let mut field = field;
            loop {
                match field.chunk().await {
                    Ok(Some(bytes)) => {
                        if let Err(e) = out.write_all(&bytes).await {
                            return back(Err(e.to_string()));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return back(Err(format!("the upload failed: {e}"))),
                }
            }
            if let Err(e) = out.flush().await {
                return back(Err(e.to_string()));
            }
            got_file = !file_name.is_empty();
        } else {
            let value = field.text().await.unwrap_or_default();
            match name.as_str() {
                "source" => source = value,
                "schema" => schema = value,
                "format" => format = value,
                "skip_bad" => skip_bad = !value.is_empty(),
                _ => {}
            }
        }
    }
    if !got_file {
        return back(Err("choose a file to import".into()));
    }
    let options = match options(
        &source,
        &schema,
        Some(&format),
        &file_name,
        skip_bad,
        admin.actor().clone(),
        arena.import_settings,
    ) {
        Ok(o) => o,
        Err(e) => return back(Err(e.to_string())),
    };
    back(
        run(&arena, options, &upload)
            .await
            .map_err(|e| e.to_string()),
    )
}

/// Percent-encoding for a query value.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.chars().take(600).collect::<String>().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
