//! Every visitor is a voter at once: a random session token in an HttpOnly cookie, the voter row
//! created on the first request that has none.

use crate::AppState;
use arena_core::voters::{self, VoterId};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

#[derive(Debug, Clone, Copy)]
pub struct CookieSettings {
    pub secure: bool,
}

impl CookieSettings {
    /// `__Host-` cookies must be Secure; on plain http (local runs) a plain name is used.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-arena_session"
        } else {
            "arena_session"
        }
    }
}

/// Static files (`/pkg`, favicon) and health checks need no voter.
fn needs_voter(path: &str) -> bool {
    !(path.starts_with("/pkg/")
        || path.starts_with("/healthz")
        || path.starts_with("/readyz")
        || path == "/favicon.ico")
}

pub async fn ensure_voter(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    if !needs_voter(request.uri().path()) {
        return next.run(request).await;
    }
    let name = state.cookies.name();
    let existing = match jar.get(name) {
        Some(cookie) => match voters::find_by_token(&state.arena.pool, cookie.value()).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "voter lookup failed");
                return crate::api::ApiError::from(e).into_response();
            }
        },
        None => None,
    };
    let (voter, new_token) = match existing {
        Some(voter) => (voter, None),
        None => {
            let token = voters::new_session_token();
            match voters::create(&state.arena.pool, &token).await {
                Ok(voter) => (voter, Some(token)),
                Err(e) => {
                    tracing::error!(error = %e, "voter creation failed");
                    return crate::api::ApiError::from(e).into_response();
                }
            }
        }
    };
    request.extensions_mut().insert(voter);
    let mut response = next.run(request).await;
    if let Some(token) = new_token {
        let secure = if state.cookies.secure { "; Secure" } else { "" };
        let cookie =
            format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The current voter, put in the request by [`ensure_voter`].
pub struct CurrentVoter(pub VoterId);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CurrentVoter {
    type Rejection = crate::api::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VoterId>()
            .copied()
            .map(CurrentVoter)
            .ok_or_else(|| crate::api::ApiError::internal("no voter on the request"))
    }
}
