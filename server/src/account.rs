//! Accounts over HTTP: sign up, sign in, sign out, change password, who am I, and the admins'
//! role changes. The session cookie (`arena_account`, `__Host-arena_account` over https) holds an
//! opaque id; every request's account is resolved once here, from the server-side session.

use crate::AppState;
use crate::api::{ApiError, ApiJson};
use crate::client::ClientAddr;
use crate::session::Session;
use arena_core::Arena;
use arena_core::accounts::tokens::{TokenCreated, TokenRefusal, TokenView};
use arena_core::accounts::{self, Account, SignedIn, cookie};
use arena_domain::account::Role;
use arena_domain::api::{AccountView, ApiErrorBody, ChangePassword, Credentials};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use axum_extra::extract::cookie::CookieJar;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(me).delete(erase_account))
        .route("/account/signup", post(sign_up))
        .route("/account/signin", post(sign_in))
        .route("/account/signout", post(sign_out))
        .route("/account/password", post(change_password))
        .route("/account/tokens", get(tokens).post(create_token))
        .route("/account/tokens/{id}", axum::routing::delete(revoke_token))
}

/// The request's account, if it is signed in (resolved by [`attach_account`]).
#[derive(Debug, Clone, Default)]
pub struct SignedInAs(pub Option<Account>);

fn header(value: String) -> HeaderValue {
    HeaderValue::from_str(&value).expect("cookie values are hex")
}

pub async fn attach_account(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    if !crate::session::may_have_voter(request.uri().path()) {
        return next.run(request).await;
    }
    // A bearer token: read-only, for the exports and the leaderboard, limited per token.
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .trim()
            .to_owned();
        let account = match state.arena.accounts.resolve_token(&token).await {
            Ok(Ok(account)) => account,
            Ok(Err(refusal)) => {
                let message = match refusal {
                    TokenRefusal::Unknown => "this API token is not valid",
                    TokenRefusal::Revoked => "this API token was revoked",
                    TokenRefusal::Expired => "this API token has expired",
                };
                return ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
                    .into_response();
            }
            Err(e) => return ApiError::from(e).into_response(),
        };
        let path = request.uri().path();
        let readable = request.method() == axum::http::Method::GET
            && (path.starts_with("/api/v1/exports/") || path.starts_with("/api/v1/leaderboard"));
        if !readable {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "token_scope",
                "API tokens only read the exports and the leaderboard; sign in for anything else",
            )
            .into_response();
        }
        if let Err(e) = state
            .arena
            .limits
            .check_voter(arena_core::limits::Action::Leaderboard, account.session_id)
            .await
        {
            return ApiError::from(e).into_response();
        }
        request.extensions_mut().insert(account.clone());
        request.extensions_mut().insert(SignedInAs(Some(account)));
        return next.run(request).await;
    }
    let mut rotated = None;
    let secure = state.arena.secure_cookies;
    let account = match jar.get(cookie::account_name(secure)) {
        Some(c) => match state.arena.accounts.resolve(c.value()).await {
            Ok(Some(resolved)) => {
                rotated = resolved.rotated_token;
                Some(resolved.account)
            }
            Ok(None) => None,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    // The pages' server functions read the account as such.
    if let Some(account) = &account {
        request.extensions_mut().insert(account.clone());
    }
    request.extensions_mut().insert(SignedInAs(account));
    let mut response = next.run(request).await;
    if let Some(token) = rotated {
        response
            .headers_mut()
            .append(header::SET_COOKIE, header(cookie::account(secure, &token)));
    }
    response
}

fn view(account: &Account, votes: i64) -> AccountView {
    AccountView {
        username: account.username.clone(),
        role: account.role.as_str().to_owned(),
        votes,
    }
}

/// The answer to a sign-up or sign-in: the account, and both cookies (the session's and the
/// browser's voter, rotated).
async fn signed_in(
    state: &AppState,
    status: StatusCode,
    done: SignedIn,
) -> Result<Response, ApiError> {
    let votes = state
        .arena
        .accounts
        .vote_count(done.account.user_id)
        .await?;
    let secure = state.arena.secure_cookies;
    let mut response = (status, Json(view(&done.account, votes))).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        header(cookie::account(secure, &done.session_token)),
    );
    headers.append(
        header::SET_COOKIE,
        header(cookie::voter(secure, &done.voter_token)),
    );
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/account",
    tag = "accounts",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Who is signed in", body = AccountView),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
    )
)]
async fn me(
    State(arena): State<Arena>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
) -> Result<Response, ApiError> {
    let account = accounts::require(account.as_ref(), Role::Volunteer)?;
    let votes = arena.accounts.vote_count(account.user_id).await?;
    Ok(Json(view(account, votes)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/account/signup",
    tag = "accounts",
    request_body = Credentials,
    security((), ("voter_cookie" = [])),
    responses(
        (status = 201, description = "Signed up and in: sets the session cookie and a new voter \
            cookie; the browser's earlier votes stay with the account", body = AccountView,
            headers(("Set-Cookie" = String))),
        (status = 409, description = "The username is taken", body = ApiErrorBody),
        (status = 429, description = "Rate limited (`Retry-After`)", body = ApiErrorBody),
    )
)]
async fn sign_up(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    session: Session,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let done = state
        .arena
        .accounts
        .sign_up(&body.username, &body.password, address, session.voter())
        .await?;
    signed_in(&state, StatusCode::CREATED, done).await
}

#[utoipa::path(
    post,
    path = "/api/v1/account/signin",
    tag = "accounts",
    request_body = Credentials,
    security((), ("voter_cookie" = [])),
    responses(
        (status = 200, description = "Signed in: sets the session cookie and a new voter cookie",
            body = AccountView, headers(("Set-Cookie" = String))),
        (status = 401, description = "Wrong username or password", body = ApiErrorBody),
        (status = 429, description = "Too many failed sign-ins (`Retry-After`)",
            body = ApiErrorBody),
    )
)]
async fn sign_in(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    session: Session,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let done = state
        .arena
        .accounts
        .sign_in(&body.username, &body.password, address, session.voter())
        .await?;
    signed_in(&state, StatusCode::OK, done).await
}

/// Ends the session on the server and forgets both cookies: the browser is a new anonymous
/// voter from its next write.
#[utoipa::path(
    post,
    path = "/api/v1/account/signout",
    tag = "accounts",
    security((), ("session_cookie" = [])),
    responses((status = 204, description = "Signed out; both cookies cleared",
        headers(("Set-Cookie" = String))))
)]
async fn sign_out(
    State(state): State<AppState>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
) -> Result<Response, ApiError> {
    if let Some(account) = &account {
        state.arena.accounts.end(account.session_id).await?;
    }
    let secure = state.arena.secure_cookies;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, header(cookie::clear_account(secure)));
    headers.append(header::SET_COOKIE, header(cookie::clear_voter(secure)));
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/api/v1/account/password",
    tag = "accounts",
    request_body = ChangePassword,
    security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Not signed in, or the current password is wrong",
            body = ApiErrorBody),
    )
)]
async fn change_password(
    State(arena): State<Arena>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<Response, ApiError> {
    let account = accounts::require(account.as_ref(), Role::Volunteer)?;
    arena
        .accounts
        .change_password(account, &body.current_password, &body.new_password, address)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Erases the signed-in person: the text of their battles, their reports and registrations,
/// their votes from the counts (or kept as anonymous outcomes when the terms say so), and the
/// account with its sessions and tokens; both cookies are cleared (docs/privacy.md).
#[utoipa::path(
    delete,
    path = "/api/v1/account",
    tag = "accounts",
    request_body = arena_domain::api::EraseAccount,
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Erased: what went; both cookies cleared",
            body = arena_core::privacy::Erasure, headers(("Set-Cookie" = String))),
        (status = 401, description = "Not signed in, or the password is wrong",
            body = ApiErrorBody),
        (status = 409, description = "The account acted in the console (the audit log keeps \
            who did what): an admin cannot erase it", body = ApiErrorBody),
    )
)]
async fn erase_account(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
    ApiJson(body): ApiJson<arena_domain::api::EraseAccount>,
) -> Result<Response, ApiError> {
    let account = accounts::require(account.as_ref(), Role::Volunteer)?;
    state
        .arena
        .accounts
        .confirm_password(account, &body.password, address)
        .await?;
    let erasure = state.arena.erase_account(account.user_id).await?;
    let secure = state.arena.secure_cookies;
    let mut response = Json(erasure).into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, header(cookie::clear_account(secure)));
    headers.append(header::SET_COOKIE, header(cookie::clear_voter(secure)));
    Ok(response)
}

/// The console's pages (`/admin...`): a stranger is sent to the sign-in page (and back after),
/// any role but admin gets the page's refusal with 403. (Every server function behind the
/// pages checks the role again, on its own.)
pub async fn console_gate(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !(path == "/admin" || path.starts_with("/admin/")) {
        return next.run(request).await;
    }
    let account = request
        .extensions()
        .get::<SignedInAs>()
        .and_then(|s| s.0.clone());
    let mut response = match account {
        None => {
            let next_path = request
                .uri()
                .path_and_query()
                .map_or("/admin", |p| p.as_str())
                .to_owned();
            let to = format!("/signin?next={}", url_escape(&next_path));
            return (
                StatusCode::SEE_OTHER,
                [(
                    header::LOCATION,
                    HeaderValue::from_str(&to).unwrap_or(HeaderValue::from_static("/signin")),
                )],
            )
                .into_response();
        }
        Some(account) if account.role != Role::Admin => {
            let mut response = next.run(request).await;
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        }
        Some(_) => next.run(request).await,
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Percent-encodes what a query value may not hold as is.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    expires_days: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/account/tokens",
    tag = "accounts",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The account's API tokens (never the tokens themselves)",
            body = Vec<TokenView>),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 403, description = "A volunteer: tokens are for researchers and admins", body = ApiErrorBody),
    )
)]
async fn tokens(
    State(arena): State<Arena>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
) -> Result<Response, ApiError> {
    let account = accounts::require(account.as_ref(), Role::Researcher)?;
    Ok(Json(arena.accounts.tokens(account).await?).into_response())
}

/// A new token, shown in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/account/tokens",
    tag = "accounts",
    request_body = NewToken,
    security(("session_cookie" = [])),
    responses(
        (status = 201, description = "The new token: the only time it is shown",
            body = TokenCreated),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 403, description = "A volunteer: tokens are for researchers and admins", body = ApiErrorBody),
    )
)]
async fn create_token(
    State(arena): State<Arena>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<Response, ApiError> {
    let account = accounts::require(account.as_ref(), Role::Researcher)?;
    let created = arena
        .accounts
        .create_token(account, &body.name, body.expires_days)
        .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/account/tokens/{id}",
    tag = "accounts",
    params(("id" = String, Path, format = Uuid, description = "The token's id")),
    security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 403, description = "A volunteer: tokens are for researchers and admins", body = ApiErrorBody),
        (status = 404, description = "No such token of this account", body = ApiErrorBody),
    )
)]
async fn revoke_token(
    State(arena): State<Arena>,
    Extension(SignedInAs(account)): Extension<SignedInAs>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let account = accounts::require(account.as_ref(), Role::Researcher)?;
    arena.accounts.revoke_token(account, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
