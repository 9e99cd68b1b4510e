//! The site's static files. `scripts/build-site.sh` names the script, wasm and stylesheet after
//! a hash of their content (`arena.HASH.js`, `arena.HASH_bg.wasm`, `arena.HASH.css`) and writes
//! `arena.HASH` to `pkg/output-name`; the pages link those names, so a browser may keep them for
//! a year without asking again, and a new build is fetched at once because its names differ.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::path::Path;

/// The output name the site was built with (`arena` when the site has no hashed names, e.g. a
/// server started without a built site).
pub fn output_name(site_root: &Path) -> String {
    std::fs::read_to_string(site_root.join("pkg").join("output-name"))
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        })
        .unwrap_or_else(|| "arena".to_owned())
}

/// A name with a content hash: `arena.` then 16 hex digits, then `.js`, `_bg.wasm` or `.css`.
fn is_content_hashed(file: &str) -> bool {
    file.strip_prefix("arena.")
        .and_then(|rest| rest.get(..16).zip(rest.get(16..)))
        .is_some_and(|(hash, suffix)| {
            hash.bytes().all(|b| b.is_ascii_hexdigit())
                && matches!(suffix, ".js" | "_bg.wasm" | ".css")
        })
}

/// Cache headers for static files: a year and immutable for content-hashed names; revalidate
/// (ETag/Last-Modified) for the rest of `/pkg/` and the public files.
pub async fn cache_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if !response.status().is_success() || response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let value = match path.strip_prefix("/pkg/") {
        Some(file) if is_content_hashed(file) => "public, max-age=31536000, immutable",
        Some(_) => "no-cache",
        None if path == "/favicon.ico" || path.starts_with("/assets/") => "public, max-age=3600",
        None => return response,
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_site_files_are_immutable() {
        assert!(is_content_hashed("arena.0123456789abcdef.js"));
        assert!(is_content_hashed("arena.0123456789abcdef_bg.wasm"));
        assert!(is_content_hashed("arena.0123456789abcdef.css"));
        assert!(!is_content_hashed("arena.js"));
        assert!(!is_content_hashed("arena_bg.wasm"));
        assert!(!is_content_hashed("arena.0123456789abcdeg.js"));
        assert!(!is_content_hashed("arena.0123456789abcdef.js.map"));
        assert!(!is_content_hashed("arena.0123456789abcde.js"));
    }
}
