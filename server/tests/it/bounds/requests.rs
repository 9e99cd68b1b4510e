//! Every server function refuses bad input with a typed status, never a 500.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;

/// Every server function under `/api/pages/*`, read from the app's source as written:
/// (endpoint, [(parameter, type)]).
fn server_functions() -> Vec<(String, Vec<(String, String)>)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut sources = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src"),
        &mut sources,
    );
    let mut found = Vec::new();
    for source in &sources {
        let marker = "#[server(prefix = \"/api/pages\", endpoint = \"";
        for (at, _) in source.match_indices(marker) {
            let rest = &source[at + marker.len()..];
            let endpoint = rest[..rest.find('"').unwrap()].to_owned();
            let signature = &rest[rest.find("fn ").unwrap()..];
            let open = signature.find('(').unwrap();
            let mut depth = 0;
            let mut close = open;
            for (i, c) in signature[open..].char_indices() {
                match c {
                    '(' | '<' => depth += 1,
                    ')' | '>' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    close = open + i;
                    break;
                }
            }
            let params = signature[open + 1..close]
                .split(',')
                .filter_map(|p| p.split_once(':'))
                .map(|(name, ty)| (name.trim().to_owned(), ty.trim().to_owned()))
                .collect();
            found.push((endpoint, params));
        }
    }
    found.sort();
    found
}

/// A form body a browser could send: every plain argument filled in, optional ones left out.
fn plausible_form(params: &[(String, String)]) -> String {
    params
        .iter()
        .filter_map(|(name, ty)| match ty.as_str() {
            "String" => Some(format!("{name}=x")),
            "LeaderboardFilter" => Some(format!("{name}[ci]=sandwich")),
            "VoteQuery" => Some(format!("{name}[model]=alpha")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn every_server_function_refuses_with_a_typed_status_never_500() {
    let functions = server_functions();
    assert!(
        functions.len() >= 35,
        "{} server functions found",
        functions.len()
    );
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn(vec![model("alpha", &url, 16), model("beta", &url, 16)]).await;
    // Three callers: nobody, a browser with a voter cookie, a signed-in volunteer.
    let nobody = app.client();
    let voter = app.client();
    app.create_battle(&voter, "Hello there.").await;
    let volunteer = signed_in_as(&app, "vol", "volunteer").await;
    let needs_account = ["tokens", "create_token", "revoke_token", "password"];
    let mut checked = 0;
    for (who, client) in [
        ("nobody", &nobody),
        ("voter", &voter),
        ("volunteer", &volunteer),
    ] {
        for (endpoint, params) in &functions {
            let response = client
                .post(format!("{}/api/pages/{endpoint}", app.url))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(plausible_form(params))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let what = format!("{who} → {endpoint}: {status} {body}");
            assert!(
                [200, 204, 302, 303, 401, 403, 404, 422, 429].contains(&status),
                "{what}"
            );
            if status >= 400 {
                let error: serde_json::Value = serde_json::from_str(&body).expect(&what);
                assert!(error.is_object(), "{what}");
            }
            let admin_only = endpoint.starts_with("admin_");
            let expected = match who {
                "volunteer" if admin_only => Some(403),
                "nobody" | "voter" if admin_only || needs_account.contains(&endpoint.as_str()) => {
                    Some(401)
                }
                _ => None,
            };
            if let Some(expected) = expected {
                assert_eq!(status, expected, "{what}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * functions.len());
    // Nothing was written by the refused calls: the volunteer's account is the only one.
    assert_eq!(app.count("select count(*) from app_user").await, 1);
    assert_eq!(app.count("select count(*) from api_token").await, 0);
    assert_eq!(app.count("select count(*) from audit_log").await, 0);
}
