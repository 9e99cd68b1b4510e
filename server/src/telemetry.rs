//! Logs and request ids. Logs are human-readable by default, JSON lines with
//! `log.format = "json"` (or `ARENA_LOG_FORMAT=json`); filter with `RUST_LOG`. Every request
//! runs in a span carrying its request id (`x-request-id`: a trusted proxy's, else a new one),
//! which the response returns and the gateway passes to the workers.
//!
//! What is logged at info level never holds a prompt, an answer, a password, a session or API
//! token, or a key: ids, counts, states and timings only (a test greps a run's logs).

use crate::client::TrustedProxies;
pub use arena_core::config::LogFormat;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    init_to(format, false)
}

/// The same, on standard error: for the commands (`server export`, `server import`), whose
/// standard output is their result.
pub fn init_stderr(format: LogFormat) {
    init_to(format, true)
}

fn init_to(format: LogFormat, stderr: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = match std::env::var("ARENA_LOG_FORMAT") {
        Ok(f) => f == "json",
        Err(_) => format == LogFormat::Json,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match (json, stderr) {
        (true, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (true, false) => builder.json().try_init(),
        (false, true) => builder.with_writer(std::io::stderr).try_init(),
        (false, false) => builder.try_init(),
    };
}

/// Middleware: the request's id (a trusted proxy's `x-request-id` when it is well formed,
/// else a new UUIDv7), its span, the response header, and the scope the gateway reads it from.
pub async fn request_id(
    State(proxies): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = crate::client::peer(&request);
    let given = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| proxies.trusts(peer) && arena_inference::request_id::is_valid(id))
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).expect("a valid request id is a valid header");
    request.headers_mut().insert("x-request-id", value.clone());
    // The path, never the query (it may carry a token).
    let span = tracing::info_span!("request", id = %id, method = %request.method(),
                                   path = %request.uri().path());
    let mut response = arena_inference::request_id::scope(id, next.run(request))
        .instrument(span)
        .await;
    response.headers_mut().insert("x-request-id", value);
    response
}
