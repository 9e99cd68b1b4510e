//! Security headers on every response, a header-size limit (431), a JSON error body on every
//! error response, and a cross-site request guard: a state-changing request (anything but GET,
//! HEAD, OPTIONS) whose `Origin` is not one of the arena's public origins, or is `null`, is
//! refused, and so is one a browser marks `Sec-Fetch-Site: cross-site`. Scripts (no Origin, no
//! Sec-Fetch-Site) pass: they carry no one else's cookies. Leptos server functions and the JSON
//! API do no Origin check of their own, so this layer covers both.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// For responses that did not set their own policy (HTML pages set one with their nonce).
static CSP: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    HeaderValue::from_str(&app::security_policy(None)).expect("a valid header value")
});

#[derive(Debug, Clone)]
pub struct GuardSettings {
    /// `scheme://host[:port]`, lower case, no trailing slash.
    pub origins: Arc<Vec<String>>,
    pub max_header_bytes: usize,
}

impl GuardSettings {
    /// The configured origins, or the listen address's when none are configured.
    pub fn new(configured: &[String], bound: SocketAddr, max_header_bytes: usize) -> Self {
        let mut origins: Vec<String> = configured
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() {
            let port = bound.port();
            origins.push(format!("http://{bound}"));
            if bound.ip().is_loopback() || bound.ip().is_unspecified() {
                origins.push(format!("http://127.0.0.1:{port}"));
                origins.push(format!("http://localhost:{port}"));
                origins.push(format!("http://[::1]:{port}"));
            }
            if bound.ip().is_unspecified() {
                tracing::warn!(
                    "listening on all interfaces with no server.public_origins: browsers on \
                     other hosts cannot write until it names the arena's public address"
                );
            }
        }
        origins.dedup();
        Self {
            origins: Arc::new(origins),
            max_header_bytes,
        }
    }
}

pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

pub async fn guard(
    State(settings): State<GuardSettings>,
    request: Request,
    next: Next,
) -> Response {
    if header_bytes(&request) > settings.max_header_bytes {
        return error_body(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            &format!(
                "the request line and headers are larger than {} bytes",
                settings.max_header_bytes
            ),
        );
    }
    if is_cross_site_write(&request, &settings.origins) {
        return error_body(
            StatusCode::FORBIDDEN,
            "cross_site",
            "cross-site requests are refused",
        );
    }
    let mut response = json_errors(next.run(request).await).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn header_bytes(request: &Request) -> usize {
    request.uri().to_string().len()
        + request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>()
}

fn is_cross_site_write(request: &Request, origins: &[String]) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return true;
        };
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        // `null`: sandboxed frames, data: URLs, some redirects: never the arena's own page.
        return origin == "null" || !origins.contains(&origin);
    }
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site")
}

/// Error responses that carry no body of their own (a 404 of the router, a 405, a 413 of the
/// body limit) or a plain-text one get the API's JSON error shape; HTML pages, JSON and event
/// streams keep theirs. Headers such as `Allow` and `Retry-After` are kept.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // A server function's error is encoded for the page's own client: left as it is.
    let server_fn_error = response.headers().contains_key("serverfnerror");
    if server_fn_error
        || content_type.starts_with("application/json")
        || content_type.starts_with("text/html")
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such page or API route"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "this route does not take this method")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the request body is larger than 64 KiB"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers_too_large", "the request headers are too large")
        }
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests; slow down"),
        s if s.is_server_error() => (
            "internal",
            "something went wrong on our side; it has been logged",
        ),
        _ => ("bad_request", "the request was not understood"),
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
