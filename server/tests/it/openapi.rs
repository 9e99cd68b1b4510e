//! The OpenAPI document, `GET /api/v1/openapi.json`, held to the server it describes:
//!
//! - **Every route is in it.** Axum cannot list its routes, so the router side is read from
//!   the server's source: every `.route("path", get(..).post(..))` call under `server/src`,
//!   prefixed by where `lib.rs` mounts the function that builds it ([`MOUNTS`]; routes in a
//!   function that is not in that table fail the test). The (method, path) set must equal the
//!   document's.
//! - **Everything in it is routed.** Each documented operation is sent to the running app
//!   (anonymous, no body: nothing is written) and must reach a handler: neither 405 nor the
//!   router's own 404 (`no such API route`, which a handler's 404 never says). This also proves
//!   [`MOUNTS`] right: a wrong prefix would document paths the app does not serve.
//! - **It is valid OpenAPI**: `openapi-spec-validator` (installed by `scripts/setup.sh` into
//!   `.local/pyenv`) checks the served document.

use crate::common::TestApp;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where `server/src/lib.rs` mounts each router-building function: (file, function, prefix),
/// or `None` for routes that are not the JSON API (a page's form post).
const MOUNTS: [(&str, &str, Option<&str>); 12] = [
    ("health.rs", "router", Some("")),
    ("api.rs", "router", Some("/api/v1")),
    ("account.rs", "router", Some("/api/v1")),
    ("exports.rs", "router", Some("/api/v1")),
    ("openapi.rs", "router", Some("/api/v1")),
    ("admin.rs", "router", Some("/api/v1/admin")),
    ("imports.rs", "api_router", Some("/api/v1/admin")),
    ("campaigns.rs", "router", Some("/api/v1")),
    ("campaigns.rs", "admin_router", Some("/api/v1/admin")),
    // The console page's upload form (multipart, answered with a redirect to the page).
    ("imports.rs", "page_router", None),
    // The top bar's language switch (a cookie and a redirect back to the page).
    ("language.rs", "router", None),
    // The Prometheus scrape, on a listener of its own (`server.metrics_listen`).
    ("metrics.rs", "router", None),
];

const METHODS: [&str; 8] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace",
];

/// What a route-level miss says (the API's fallback, and the JSON error layer's for the rest).
const NO_ROUTE: [&str; 2] = ["no such API route", "no such page or API route"];

type Route = (String, String); // (METHOD, path)

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of a call's arguments: from just after its `(` to the matching `)`.
fn arguments(text: &str) -> &str {
    let mut depth = 1;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced .route( call: {text}")
}

/// The HTTP methods of a method router such as `get(a).post(b)` or `axum::routing::delete(c)`.
fn methods_of(method_router: &str) -> Vec<String> {
    let mut found = Vec::new();
    for method in METHODS {
        let mut from = 0;
        while let Some(at) = method_router[from..].find(method) {
            let start = from + at;
            let end = start + method.len();
            from = end;
            let before = method_router[..start].chars().next_back();
            let after = method_router[end..].trim_start().chars().next();
            let identifier = |c: char| c.is_alphanumeric() || c == '_';
            if before.is_some_and(identifier) || after != Some('(') {
                continue;
            }
            found.push(method.to_ascii_uppercase());
        }
    }
    found
}

/// Every (method, path) the server's source routes, full paths.
fn routes_in_source() -> BTreeSet<Route> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut routes = BTreeSet::new();
    for file in files {
        // Comments may mention `.route(` too.
        let text: String = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let name = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for unknown in [
            ".route_service(",
            ".nest_service(",
            "routing::on(",
            "routing::any(",
        ] {
            assert!(
                !text.contains(unknown),
                "{name} uses {unknown}: teach tests/it/openapi.rs to read it"
            );
        }
        let mut calls = text.split(".route(");
        let mut before = calls.next().unwrap_or("").to_owned();
        for call in calls {
            // The function the call is in: the last `fn name(` before it.
            let function = before
                .rsplit_once("fn ")
                .and_then(|(_, rest)| rest.split_once('('))
                .map_or(String::new(), |(function, _)| function.trim().to_owned());
            before.push_str(".route(");
            before.push_str(call);
            let prefix = MOUNTS
                .iter()
                .find(|(file, f, _)| *file == name && *f == function.as_str())
                .map(|(_, _, prefix)| *prefix)
                .unwrap_or_else(|| {
                    panic!(
                        "{name}: `fn {function}` builds routes but is not in MOUNTS of \
                         tests/it/openapi.rs: add it with the prefix lib.rs mounts it at (and \
                         document its handlers)"
                    )
                });
            let Some(prefix) = prefix else { continue };
            let args = arguments(call);
            let (path, method_router) = args
                .trim_start()
                .strip_prefix('"')
                .and_then(|rest| rest.split_once('"'))
                .unwrap_or_else(|| panic!("{name}: a .route( whose path is not a literal: {args}"));
            let methods = methods_of(method_router);
            assert!(!methods.is_empty(), "{name}: no method in .route({args})");
            for method in methods {
                routes.insert((method, format!("{prefix}{path}")));
            }
        }
    }
    routes
}

fn routes_in_document(doc: &Value) -> BTreeSet<Route> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// A value for a path parameter the handler accepts as well formed: an enum's first choice, a
/// number, or else a UUID. (Whether it names anything does not matter: a handler's 404 is not
/// the router's.)
fn sample(parameter: &Value) -> String {
    let schema = &parameter["schema"];
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.as_str().unwrap().to_owned();
    }
    match schema["type"].as_str() {
        Some("integer") | Some("number") => "1".into(),
        _ => "00000000-0000-0000-0000-000000000000".into(),
    }
}

fn concrete_path(path: &str, operation: &Value) -> String {
    let mut concrete = path.to_owned();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] == "path" {
            let name = parameter["name"].as_str().unwrap();
            concrete = concrete.replace(&format!("{{{name}}}"), &sample(parameter));
        }
    }
    assert!(
        !concrete.contains('{'),
        "{path}: a path parameter is not in the operation's parameters"
    );
    concrete
}

/// `None` when the request reached a handler; else why not.
async fn unrouted(client: &reqwest::Client, method: &str, url: &str) -> Option<String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = client.request(method, url).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let message = body["error"]["message"].as_str().unwrap_or("");
    match status {
        405 => Some(format!("405 {message}")),
        404 if NO_ROUTE.contains(&message) => Some(format!("404 {message}")),
        _ => None,
    }
}

async fn fetch_document(app: &TestApp) -> Value {
    let response = reqwest::get(format!("{}/api/v1/openapi.json", app.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(
        header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
    let etag = header("etag").expect("an ETag");
    let doc: Value = response.json().await.unwrap();
    let again = reqwest::Client::new()
        .get(format!("{}/api/v1/openapi.json", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "the same ETag is not modified");
    doc
}

#[tokio::test]
async fn the_document_lists_every_route_and_every_listed_route_is_served() {
    let app = TestApp::spawn(vec![]).await;
    let doc = fetch_document(&app).await;
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));

    let source = routes_in_source();
    let documented = routes_in_document(&doc);
    let undocumented: Vec<_> = source.difference(&documented).collect();
    let unrouted_in_source: Vec<_> = documented.difference(&source).collect();
    assert!(
        undocumented.is_empty(),
        "routes without #[utoipa::path] in src/openapi.rs's ApiDoc: {undocumented:?}"
    );
    assert!(
        unrouted_in_source.is_empty(),
        "documented but not routed in server/src: {unrouted_in_source:?}"
    );
    assert!(source.len() >= 50, "too few routes read: {}", source.len());

    // The detector itself: a route-level miss and a wrong method are told apart from handlers.
    let client = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/api/v1/no-such-route"),
        ("GET", "/api/v1/admin/no-such-route"),
        ("DELETE", "/api/v1/leaderboard"),
    ] {
        assert!(
            unrouted(&client, method, &format!("{}{path}", app.url))
                .await
                .is_some(),
            "{method} {path} should not reach a handler"
        );
    }

    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let url = format!("{}{}", app.url, concrete_path(path, operation));
            let method = method.to_ascii_uppercase();
            if let Some(why) = unrouted(&client, &method, &url).await {
                missing.push(format!("{method} {path}: {why}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documented but not served: {missing:#?}"
    );
}

#[tokio::test]
async fn the_served_document_is_valid_openapi() {
    let app = TestApp::spawn(vec![]).await;
    let doc = fetch_document(&app).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let validator = root.join(".local/pyenv/bin/openapi-spec-validator");
    assert!(
        validator.exists(),
        "{} is missing: run `bash scripts/setup.sh` (it installs openapi-spec-validator into \
         .local/pyenv)",
        validator.display()
    );
    let file = std::env::temp_dir().join(format!("arena-openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let output = std::process::Command::new(&validator)
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Every operation says what it answers, errors included.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "304"),
                "{method} {path}: no success response"
            );
            assert!(
                responses.contains_key("default"),
                "{method} {path}: no error response"
            );
        }
    }
}
