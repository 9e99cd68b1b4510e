//! The JSON API's boundary types: [`ApiError`] (every error as `{"error": {code, message}}`
//! with its status) and [`ApiJson`] (a JSON body with our own errors).

use arena_core::ArenaError;
use arena_domain::api::{ApiErrorBody, ApiErrorDetail};
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// The API's error: a status, a stable code and a message safe to show.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged",
        )
    }
}

impl From<ArenaError> for ApiError {
    fn from(e: ArenaError) -> Self {
        match e {
            ArenaError::Invalid { code, message } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            ArenaError::NotFound { what } => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            ArenaError::Conflict { code, message } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            ArenaError::RateLimited {
                code,
                message,
                retry_after,
            } => {
                crate::metrics::refused(code);
                Self {
                    retry_after: Some(retry_after.as_secs().max(1)),
                    ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
                }
            }
            ArenaError::Unavailable(message) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            ArenaError::Busy {
                message,
                retry_after,
            } => {
                crate::metrics::refused("busy");
                Self {
                    retry_after: Some(retry_after.as_secs().max(1)),
                    ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
                }
            }
            ArenaError::Unauthorized { code, message } => {
                Self::new(StatusCode::UNAUTHORIZED, code, message)
            }
            ArenaError::Forbidden { code, message } => {
                Self::new(StatusCode::FORBIDDEN, code, message)
            }
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// A JSON body parsed with our own errors: another Content-Type than `application/json` → 415
/// (a browser form cannot send JSON, so a cross-site form post never reaches a handler), malformed
/// JSON or invalid UTF-8 → 400, a well-formed body of the wrong shape or with an unknown field →
/// 422 naming it, too large → 413.
pub struct ApiJson<T>(pub T);

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&request) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = bytes::Bytes::from_request(request, state)
            .await
            .map_err(|e| {
                let status = e.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "too_large",
                        "the request body is larger than 64 KiB",
                    )
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, "bad_body", e.body_text())
                }
            })?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_utf8",
                "the request body is not valid UTF-8",
            ));
        }
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    format!("the request body has the wrong shape: {e}"),
                ),
                _ => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("the request body is not valid JSON: {e}"),
                ),
            }
        })
    }
}
