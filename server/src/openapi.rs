//! The OpenAPI 3.1 document of the JSON API, `GET /api/v1/openapi.json`. Nothing in it is
//! written by hand: each handler carries its `#[utoipa::path]` next to its code, the request and
//! response types derive `ToSchema` (feature `openapi` of `arena-domain` and `arena-core`, on
//! only in the server: the wasm bundle never builds utoipa), and [`ApiDoc`] collects them.
//! `tests/it/openapi.rs` holds it to the router: every `.route(...)` of the server is in the
//! document and every documented operation is routed, and the served document passes
//! `openapi-spec-validator`.

use crate::AppState;
use arena_domain::api::ApiErrorBody;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LLM arena",
        description = "The arena's JSON API. Every error is `{\"error\": {\"code\", \"message\"}}` \
            (`ApiErrorBody`) with its status; `code` is stable, `message` is safe to show. A write \
            (POST, PUT, DELETE) from a browser on another origin is refused with 403 `cross_site`. \
            Anonymous volunteers are known by the voter cookie, created by their first write; \
            accounts by the session cookie (`POST /api/v1/account/signin`). An API token \
            (`Authorization: Bearer …`, created on the account page) only reads the exports and \
            the leaderboard: anywhere else it gets 403 `token_scope`."
    ),
    paths(
        crate::health::healthz,
        crate::health::readyz,
        openapi_json,
        crate::api::create_battle,
        crate::api::get_battle,
        crate::api::stream_battle,
        crate::api::continue_battle,
        crate::api::regenerate,
        crate::api::vote,
        crate::api::report,
        crate::api::terms,
        crate::api::accept_terms,
        crate::api::data_release,
        crate::api::set_data_release,
        crate::api::pairing,
        crate::api::leaderboard::leaderboard,
        crate::api::leaderboard::style_leaderboard,
        crate::api::leaderboard::category_counts,
        crate::api::leaderboard::regressions,
        crate::api::leaderboard::benchmarks,
        crate::api::leaderboard::rating_run,
        crate::api::leaderboard::reproduce_run,
        crate::account::me,
        crate::account::sign_up,
        crate::account::sign_in,
        crate::account::sign_out,
        crate::account::change_password,
        crate::account::erase_account,
        crate::account::tokens,
        crate::account::create_token,
        crate::account::revoke_token,
        crate::exports::export,
        crate::exports::manifest,
        crate::exports::download_manifest,
        crate::exports::sources,
        crate::admin::models,
        crate::admin::create_model,
        crate::admin::model,
        crate::admin::update_model,
        crate::admin::retire,
        crate::admin::set_version_of,
        crate::admin::import_benchmarks,
        crate::admin::reactivate,
        crate::admin::add_endpoint,
        crate::admin::update_endpoint,
        crate::admin::delete_endpoint,
        crate::admin::test_endpoint,
        crate::admin::pairing,
        crate::admin::set_policy,
        crate::admin::set_rule,
        crate::admin::moderation::votes,
        crate::admin::moderation::vote_action,
        crate::admin::moderation::voter_action,
        crate::admin::moderation::flags,
        crate::admin::moderation::quarantine,
        crate::admin::moderation::battle_action,
        crate::admin::moderation::audit,
        crate::admin::users,
        crate::admin::set_role,
        crate::admin::clear_throttle,
        crate::imports::api_import,
        crate::campaigns::campaigns,
        crate::campaigns::campaign,
        crate::campaigns::register,
        crate::campaigns::opt_in,
        crate::campaigns::opt_out,
        crate::campaigns::contributors,
        crate::campaigns::progress,
        crate::campaigns::admin_campaigns,
        crate::campaigns::create_campaign,
        crate::campaigns::update_campaign,
    ),
    // The error body (the responses `Conventions` adds refer to it) and the events of the battle
    // stream (a text/event-stream body has no schema of its own).
    components(schemas(ApiErrorBody, arena_domain::api::StreamEvent)),
    modifiers(&Conventions),
    tags(
        (name = "battles", description = "Battles between two anonymous models, and the vote"),
        (name = "voters", description = "A browser's terms and data-release choices"),
        (name = "leaderboard", description = "Ratings, their recorded runs, and the pairing"),
        (name = "accounts", description = "Sign up, sign in, API tokens"),
        (name = "exports", description = "Research exports (researchers and admins)"),
        (name = "campaigns", description = "Campaigns: their pages, registration and boards"),
        (name = "admin", description = "The admins' console"),
        (name = "service", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// What holds for every operation, added here rather than repeated on each handler: the
/// security schemes; the errors of [`crate::api::ApiJson`] on every JSON body; and a `default`
/// response with the error body (431, 500, 503 ... can answer anything).
struct Conventions;

const BODY_ERRORS: [(&str, &str); 4] = [
    (
        "400",
        "Malformed JSON or invalid UTF-8 (`malformed_json`, `invalid_utf8`)",
    ),
    ("413", "The body is larger than 64 KiB (`too_large`)"),
    (
        "415",
        "The body is not `Content-Type: application/json` (`unsupported_media_type`)",
    ),
    (
        "422",
        "The body has the wrong shape, an unknown field or a bad value; the message names it",
    ),
];

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let schema = RefOr::Ref(Ref::from_schema_name("ApiErrorBody"));
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .build()
        .into()
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "voter_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "arena_session",
                "The anonymous voter of this browser (`__Host-arena_session` over https), set \
                 by its first write. Battles belong to it.",
            ))),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "arena_account",
                "A signed-in account (`__Host-arena_account` over https), set by sign-up and \
                 sign-in.",
            ))),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token of a researcher or admin: reads the exports and the \
                         leaderboard only, rate-limited per token.",
                    ))
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/json"));
                if json_body {
                    for (status, description) in BODY_ERRORS {
                        responses
                            .entry(status.into())
                            .or_insert_with(|| error_response(description));
                    }
                }
                responses.entry("default".into()).or_insert_with(|| {
                    error_response(
                        "Any other error, e.g. 431 headers over 16 KiB, 500, 503 when the \
                         service is unavailable",
                    )
                });
            }
        }
    }
}

/// The document as served: rendered once; its ETag is a hash of it.
static DOCUMENT: LazyLock<(String, HeaderValue)> = LazyLock::new(|| {
    use std::hash::{Hash, Hasher};
    let json = ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serializes");
    let mut hasher = std::hash::DefaultHasher::new();
    json.hash(&mut hasher);
    let etag = HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
        .expect("hex is a valid header value");
    (json, etag)
});

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This document. Public; caches may keep it five minutes and revalidate with its ETag.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json",
            body = Object,
            headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified (`If-None-Match` named the current ETag)"),
    )
)]
async fn openapi_json(headers: HeaderMap) -> Response {
    let (json, etag) = &*DOCUMENT;
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == *etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.clone(),
    )
        .into_response()
}
