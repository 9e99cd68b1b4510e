//! `/lang/{code}`: the language switch of the top bar. Remembers the choice in the `arena_lang`
//! cookie (a year) and goes back to the page it came from (a same-site path only), where the
//! server renders the page in the new language.

use crate::AppState;
use app::i18n::{COOKIE, Lang};
use arena_core::Arena;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route("/lang/{code}", get(switch))
}

/// The path of a same-site `Referer` (its host is this request's), else `/`.
fn back(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| {
            let rest = r
                .strip_prefix("http://")
                .or_else(|| r.strip_prefix("https://"))?;
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            (Some(authority) == host).then(|| format!("/{path}"))
        })
        .filter(|p| !p.starts_with("//") && !p.starts_with("/lang/"))
        .unwrap_or_else(|| "/".to_owned())
}

async fn switch(
    State(arena): State<Arena>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(lang) = Lang::parse(&code).filter(|l| l.code() == code) else {
        return (
            StatusCode::NOT_FOUND,
            "unknown language: the arena speaks en, eu and es",
        )
            .into_response();
    };
    let cookie = format!(
        "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{}",
        lang.code(),
        if arena.secure_cookies { "; Secure" } else { "" }
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let (Ok(cookie), Ok(location)) = (
        HeaderValue::from_str(&cookie),
        HeaderValue::from_str(&back(&headers)),
    ) {
        h.insert(header::SET_COOKIE, cookie);
        h.insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_gone_back_to() {
        let with = |host: &str, referer: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            h.insert(header::REFERER, HeaderValue::from_str(referer).unwrap());
            back(&h)
        };
        assert_eq!(
            with("a.org", "https://a.org/leaderboard?x=1"),
            "/leaderboard?x=1"
        );
        assert_eq!(with("a.org", "https://evil.org/leaderboard"), "/");
        assert_eq!(with("a.org", "https://a.org//evil.org"), "/");
        assert_eq!(with("a.org", "https://a.org"), "/");
        assert_eq!(back(&HeaderMap::new()), "/");
    }
}
