//! Voters: a random session token in an HttpOnly cookie names the voter. A voter row (and its
//! cookie) is created only by the first state-changing request that needs one, after that
//! request passed its validation and its address's rate limit: page views, reads, 404s and
//! refused requests create nothing.

use crate::AppState;
use crate::api::ApiError;
use arena_core::voters::{self, VoterId};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy)]
pub struct CookieSettings {
    pub secure: bool,
}

impl CookieSettings {
    /// `__Host-` cookies must be Secure; on plain http (local runs) a plain name is used.
    pub fn name(&self) -> &'static str {
        arena_core::accounts::cookie::voter_name(self.secure)
    }
}

/// Static files (`/pkg`, favicon) and health checks have no voter (nor account: browsers send
/// the cookies with every asset, and those requests need no database lookup).
pub(crate) fn may_have_voter(path: &str) -> bool {
    !(path.starts_with("/pkg/")
        || path.starts_with("/healthz")
        || path.starts_with("/readyz")
        || path == "/favicon.ico")
}

/// The request's voter, if its cookie names one, and the place a new session token goes when a
/// handler creates the voter.
#[derive(Clone)]
pub struct Session {
    existing: Option<VoterId>,
    created: Arc<Mutex<Option<(VoterId, String)>>>,
    pool: sqlx::PgPool,
}

impl Session {
    /// The voter named by the cookie, if any (reads never create one).
    pub fn voter(&self) -> Option<VoterId> {
        self.existing.or_else(|| {
            self.created
                .lock()
                .expect("session lock")
                .as_ref()
                .map(|c| c.0)
        })
    }

    /// The voter, created now (with a cookie on the response) if the request has none.
    pub async fn voter_or_create(&self) -> Result<VoterId, ApiError> {
        if let Some(voter) = self.voter() {
            return Ok(voter);
        }
        let token = voters::new_session_token();
        let voter = voters::create(&self.pool, &token).await?;
        *self.created.lock().expect("session lock") = Some((voter, token));
        Ok(voter)
    }
}

pub async fn attach_voter(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    if !may_have_voter(request.uri().path()) {
        return next.run(request).await;
    }
    let name = state.cookies.name();
    let existing = match jar.get(name) {
        Some(cookie) => match voters::find_by_token(&state.arena.pool, cookie.value()).await {
            Ok(found) => found,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    let session = Session {
        existing,
        created: Arc::new(Mutex::new(None)),
        pool: state.arena.pool.clone(),
    };
    request.extensions_mut().insert(session.clone());
    if let Some(voter) = existing {
        request.extensions_mut().insert(voter);
    }
    let mut response = next.run(request).await;
    let created = session.created.lock().expect("session lock").take();
    if let Some((_, token)) = created {
        let cookie = arena_core::accounts::cookie::voter(state.cookies.secure, &token);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| ApiError::internal("no session on the request"))
    }
}
