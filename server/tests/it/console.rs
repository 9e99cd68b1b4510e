//! The admins' console over HTTP, on a real Postgres with scripted fake workers: every role
//! boundary, every bad input, live catalog changes, voids, bans, reports, pairing, consent and
//! the audit log.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

async fn app() -> (TestApp, String) {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| s.secrets.key = Some(arena_core::config::Secret::new("ab".repeat(32))),
    )
    .await;
    (app, url)
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = client.request(method, url);
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn new_model(key: &str) -> Value {
    json!({"key": key, "display_name": format!("Model {key}"), "organization": "Org",
           "license": "MIT", "max_tokens": 16, "weight": 1.0, "temperature": 0.5})
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_console_route_checks_the_role_first() {
    let (app, _) = app().await;
    let stranger = app.client();
    let volunteer = signed_in_as(&app, "vol", "volunteer").await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    let routes: Vec<(reqwest::Method, &str, Option<Value>)> = vec![
        (get.clone(), "/api/v1/admin/models", None),
        (
            post.clone(),
            "/api/v1/admin/models",
            Some(new_model("new-one")),
        ),
        (
            put.clone(),
            "/api/v1/admin/models/alpha",
            Some(new_model("alpha")),
        ),
        (post.clone(), "/api/v1/admin/models/alpha/retire", None),
        (get.clone(), "/api/v1/admin/votes", None),
        (
            post.clone(),
            "/api/v1/admin/votes/1/void",
            Some(json!({"reason": "x"})),
        ),
        (get.clone(), "/api/v1/admin/flags", None),
        (get.clone(), "/api/v1/admin/audit", None),
        (get.clone(), "/api/v1/admin/users", None),
        (
            put.clone(),
            "/api/v1/admin/users/vol/role",
            Some(json!({"role": "admin"})),
        ),
        (get.clone(), "/api/v1/admin/pairing", None),
    ];
    for (method, path, body) in &routes {
        let url = format!("{}{path}", app.url);
        let (s, b) = call(&stranger, method.clone(), url.clone(), body.clone()).await;
        assert_eq!(s, 401, "stranger {method} {path}: {b}");
        for client in [&volunteer, &researcher] {
            let (s, b) = call(client, method.clone(), url.clone(), body.clone()).await;
            assert_eq!(s, 403, "{method} {path}: {b}");
            assert_eq!(b["error"]["code"], "forbidden");
        }
    }
    // Nothing changed: no model, no role, no audit row.
    assert_eq!(
        app.count("select count(*) from model where key = 'new-one'")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from app_user where role = 'admin'")
            .await,
        1
    );
    assert_eq!(app.count("select count(*) from audit_log").await, 0);
    assert_eq!(
        app.count("select count(*) from model where not active")
            .await,
        0
    );
    // The pages: a stranger is sent to sign in, a volunteer refused, an admin served.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(format!("{}/admin/moderation", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/signin?next=/admin/moderation",
        "back to the page after signing in"
    );
    let r = volunteer
        .get(format!("{}/admin", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = admin
        .get(format!("{}/admin", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("alpha"));
    // The pages' server functions check the role on their own.
    let r = volunteer
        .post(format!("{}/api/pages/admin_models", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A cross-site write with the admin's cookies (Origin: null) is refused before anything.
    let r = admin
        .post(format!("{}/api/v1/admin/models", app.url))
        .header("Origin", "null")
        .json(&new_model("csrf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.count("select count(*) from model where key = 'csrf'")
            .await,
        0
    );
}

#[tokio::test]
async fn bad_model_and_endpoint_input_gets_a_clear_error_and_changes_nothing() {
    let (app, _) = app().await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let url = |p: &str| format!("{}{p}", app.url);
    let post = reqwest::Method::POST;
    let cases = [
        (json!({"key": "Bad Key"}), "key"),
        (json!({"weight": -1.0}), "weight"),
        (json!({"top_p": 0.0}), "top_p"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"display_name": ""}), "display_name"),
    ];
    for (patch, field) in cases {
        let mut body = new_model("fresh");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, b) = call(
            &admin,
            post.clone(),
            url("/api/v1/admin/models"),
            Some(body),
        )
        .await;
        assert_eq!(s, 422, "{field}: {b}");
        assert!(
            b["error"]["message"].as_str().unwrap().starts_with(field),
            "{b}"
        );
    }
    let (s, b) = call(
        &admin,
        post.clone(),
        url("/api/v1/admin/models"),
        Some(new_model("alpha")),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["code"], "duplicate_model_key");
    // Endpoints: malformed URL, credentials in the URL, bad concurrency, unknown model.
    for (body, status) in [
        (
            json!({"base_url": "not a url", "upstream_model": "m", "max_concurrency": 2}),
            422,
        ),
        (
            json!({"base_url": "http://", "upstream_model": "m", "max_concurrency": 2}),
            422,
        ),
        (
            json!({"base_url": "http://u:p@10.0.0.1/v1", "upstream_model": "m", "max_concurrency": 2}),
            422,
        ),
        (
            json!({"base_url": "http://10.0.0.1/v1", "upstream_model": "m", "max_concurrency": 0}),
            422,
        ),
    ] {
        let (s, b) = call(
            &admin,
            post.clone(),
            url("/api/v1/admin/models/alpha/endpoints"),
            Some(body),
        )
        .await;
        assert_eq!(s, status, "{b}");
    }
    let (s, _) = call(
        &admin,
        post.clone(),
        url("/api/v1/admin/models/nope/endpoints"),
        Some(
            json!({"base_url": "http://10.0.0.1/v1", "upstream_model": "m", "max_concurrency": 2}),
        ),
    )
    .await;
    assert_eq!(s, 404);
    // Roles: unknown role, unknown user, an admin demoting themself.
    let put = reqwest::Method::PUT;
    let (s, _) = call(
        &admin,
        put.clone(),
        url("/api/v1/admin/users/boss/role"),
        Some(json!({"role": "king"})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = call(
        &admin,
        put.clone(),
        url("/api/v1/admin/users/ghost/role"),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, b) = call(
        &admin,
        put,
        url("/api/v1/admin/users/boss/role"),
        Some(json!({"role": "volunteer"})),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    // Nothing of it was written.
    assert_eq!(app.count("select count(*) from model").await, 2);
    assert_eq!(app.count("select count(*) from model_endpoint").await, 2);
    assert_eq!(app.count("select count(*) from audit_log").await, 0);
}

#[tokio::test]
async fn a_concurrent_edit_of_the_same_model_is_refused_not_overwritten() {
    let (app, _) = app().await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let url = format!("{}/api/v1/admin/models/alpha", app.url);
    let (_, m) = call(&admin, reqwest::Method::GET, url.clone(), None).await;
    let version = m["version"].as_i64().unwrap();
    let edit = |weight: f64| {
        let mut body = new_model("alpha");
        body["weight"] = json!(weight);
        body["version"] = json!(version);
        call(&admin, reqwest::Method::PUT, url.clone(), Some(body))
    };
    let (first, second) = tokio::join!(edit(2.0), edit(5.0));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{first:?} {second:?}");
    let loser = if first.0 == 409 { &first.1 } else { &second.1 };
    assert_eq!(loser["error"]["code"], "edited_concurrently");
    let winner_weight = if first.0 == 200 { 2.0 } else { 5.0 };
    let weight: f64 = sqlx::query_scalar("select weight from model where key = 'alpha'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(weight, winner_weight);
    // A key never changes; a missing version is refused.
    let mut body = new_model("renamed");
    body["version"] = json!(version + 1);
    let (s, _) = call(&admin, reqwest::Method::PUT, url.clone(), Some(body)).await;
    assert_eq!(s, 422);
    let (s, _) = call(&admin, reqwest::Method::PUT, url, Some(new_model("alpha"))).await;
    assert_eq!(s, 422);
    // One audit row, with before and after.
    let (before, after): (Value, Value) =
        sqlx::query_as("select before, after from audit_log where action = 'model.update'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(before["weight"], 1.0);
    assert_eq!(after["weight"], winner_weight);
}

/// Waits until `check` holds, for up to 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_model_added_while_running_serves_the_next_battles_with_no_restart() {
    let (app, _) = app().await;
    let (second, second_url) = spawn_fake(Mode::Normal).await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let url = |p: &str| format!("{}{p}", app.url);
    let (s, b) = call(
        &admin,
        reqwest::Method::POST,
        url("/api/v1/admin/models"),
        Some(new_model("gamma")),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = call(
        &admin,
        reqwest::Method::POST,
        url("/api/v1/admin/models/gamma/endpoints"),
        Some(
            json!({"base_url": second_url, "upstream_model": "gamma-up", "api_key": "sk-secret-123",
                    "max_concurrency": 4}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // Write-only key: "set", never shown, sealed at rest.
    let endpoint = &b["endpoints"][0];
    assert_eq!(endpoint["api_key_set"], true);
    assert!(!b.to_string().contains("sk-secret-123"));
    let sealed: Vec<u8> = sqlx::query_scalar(
        "select api_key_sealed from model_endpoint where upstream_model = 'gamma-up'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!sealed.windows(9).any(|w| w == b"sk-secret"));
    let plain: Option<String> =
        sqlx::query_scalar("select api_key from model_endpoint where upstream_model = 'gamma-up'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(plain, None);
    let audit: String =
        sqlx::query_scalar("select after::text from audit_log where action = 'endpoint.create'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!audit.contains("sk-secret"), "{audit}");
    // Alpha out of the draw: every new battle is beta against gamma.
    let mut body = new_model("alpha");
    body["weight"] = json!(0.0);
    body["version"] = json!(1);
    let (s, b) = call(
        &admin,
        reqwest::Method::PUT,
        url("/api/v1/admin/models/alpha"),
        Some(body),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Applied in this process before the answer (the weight is in the pairing table already).
    let alpha_id = app
        .arena
        .catalog
        .all()
        .iter()
        .find(|m| m.key == "alpha")
        .unwrap()
        .id;
    assert!(
        app.arena
            .catalog
            .pair_table()
            .iter()
            .all(|((a, b), p)| *p == 0.0 || (*a != alpha_id && *b != alpha_id)),
        "alpha has weight 0"
    );
    eventually("the new endpoint to be healthy", || async {
        app.arena.gateway.is_model_available("gamma")
    })
    .await;
    let volunteer = app.client();
    for _ in 0..3 {
        let battle = app.create_battle(&volunteer, "Hi").await;
        let pair: (String, String) = sqlx::query_as(
            "select ma.key, mb.key from battle b join model ma on ma.id = b.model_a_id
             join model mb on mb.id = b.model_b_id where b.id = $1::uuid",
        )
        .bind(&battle)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let mut keys = [pair.0, pair.1];
        keys.sort();
        assert_eq!(keys, ["beta".to_owned(), "gamma".to_owned()]);
        app.read_stream(&volunteer, &battle).await;
    }
    // The second worker served them, with the key it was given.
    assert!(second.requests() >= 3, "{}", second.requests());
    // "Test this endpoint": an answer with its timings; a dead endpoint: the exact error.
    let id = endpoint["id"].as_str().unwrap();
    let (s, t) = call(
        &admin,
        reqwest::Method::POST,
        url(&format!("/api/v1/admin/endpoints/{id}/test")),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(t["ok"], true, "{t}");
    assert!(!t["answer"].as_str().unwrap().is_empty());
    assert!(t["ttft_ms"].as_f64().is_some());
    let (s, b) = call(
        &admin,
        reqwest::Method::PUT,
        url(&format!("/api/v1/admin/endpoints/{id}")),
        Some(json!({"base_url": "http://127.0.0.1:9", "upstream_model": "gamma-up", "max_concurrency": 4})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["endpoints"][0]["api_key_set"], true,
        "an absent key keeps the stored one"
    );
    let (_, t) = call(
        &admin,
        reqwest::Method::POST,
        url(&format!("/api/v1/admin/endpoints/{id}/test")),
        None,
    )
    .await;
    assert_eq!(t["ok"], false);
    assert!(!t["error"].as_str().unwrap().is_empty(), "{t}");
    // Health is on the models page.
    let (_, models) = call(
        &admin,
        reqwest::Method::GET,
        url("/api/v1/admin/models"),
        None,
    )
    .await;
    let beta = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "beta")
        .unwrap();
    let health = &beta["endpoints"][0]["health"];
    assert_eq!(health["healthy"], true, "{health}");
    assert!(health["ttft_p50_ms"].as_f64().is_some(), "{health}");
    // Retired: never paired again.
    let (s, _) = call(
        &admin,
        reqwest::Method::POST,
        url("/api/v1/admin/models/gamma/retire"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    // This process applied the change before answering: no wait.
    assert!(
        app.arena
            .catalog
            .all()
            .iter()
            .any(|m| m.key == "gamma" && !m.active)
    );
    let r = volunteer
        .post(url("/api/v1/battles"))
        .json(&json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        503,
        "alpha has weight 0 and gamma is retired: no pair is left"
    );
    let actions = audit_actions(&app).await;
    for expected in [
        "model.create",
        "endpoint.create",
        "model.update",
        "endpoint.update",
        "model.retire",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_voided_vote_leaves_the_leaderboard_at_once_and_stays_marked() {
    let (app, _) = app().await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let volunteer = app.client();
    let battle = app.create_battle(&volunteer, "Hi").await;
    app.read_stream(&volunteer, &battle).await;
    let (s, _) = app.vote(&volunteer, &battle, "model_a", None).await;
    assert_eq!(s, 200);
    let counted = || {
        app.count(
            "select coalesce(sum(wins_a + wins_b + ties + both_bad), 0)::bigint from pair_count",
        )
    };
    assert_eq!(counted().await, 1);
    eventually("the vote on the leaderboard", || async {
        app.get_json(&volunteer, "/api/v1/leaderboard").await.1["vote_count"] == 1
    })
    .await;
    let run_before: i64 = app.get_json(&volunteer, "/api/v1/leaderboard").await.1["run_id"]
        .as_i64()
        .unwrap();
    let vote_id: i64 = app.count("select id from vote").await;
    let url = |p: String| format!("{}{p}", app.url);
    // A reason is required.
    let (s, _) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/votes/{vote_id}/void")),
        Some(json!({"reason": " "})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, b) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/votes/{vote_id}/void")),
        Some(json!({"reason": "rigged"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["votes_changed"], 1);
    // The counts changed with the mark; the vote is still there.
    assert_eq!(counted().await, 0);
    assert_eq!(
        app.count("select count(*) from vote where voided and void_reason = 'rigged'")
            .await,
        1
    );
    eventually("the leaderboard without the vote", || async {
        app.get_json(&volunteer, "/api/v1/leaderboard").await.1["vote_count"] == 0
    })
    .await;
    // Voiding twice changes nothing; the search finds it as voided.
    let (_, b) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/votes/{vote_id}/void")),
        Some(json!({"reason": "again"})),
    )
    .await;
    assert_eq!(b["votes_changed"], 0);
    let (_, rows) = call(
        &admin,
        reqwest::Method::GET,
        url("/api/v1/admin/votes?voided=true&model=alpha".into()),
        None,
    )
    .await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["void_reason"], "rigged");
    let (s, _) = call(
        &admin,
        reqwest::Method::GET,
        url("/api/v1/admin/votes?from=yesterday".into()),
        None,
    )
    .await;
    assert_eq!(s, 422);
    // The earlier run is still reproduced exactly: it saw the vote before the void.
    let (_, reproduced) = app
        .get_json(
            &volunteer,
            &format!("/api/v1/leaderboard/runs/{run_before}/reproduce"),
        )
        .await;
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    assert_eq!(reproduced["recomputed_vote_count"], 1);
    // Unvoid: back in.
    let (_, b) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/votes/{vote_id}/unvoid")),
        Some(json!({"reason": "appeal upheld"})),
    )
    .await;
    assert_eq!(b["votes_changed"], 1);
    assert_eq!(counted().await, 1);
    eventually("the vote back on the leaderboard", || async {
        app.get_json(&volunteer, "/api/v1/leaderboard").await.1["vote_count"] == 1
    })
    .await;
    let latest: i64 = app.get_json(&volunteer, "/api/v1/leaderboard").await.1["run_id"]
        .as_i64()
        .unwrap();
    let (_, reproduced) = app
        .get_json(
            &volunteer,
            &format!("/api/v1/leaderboard/runs/{latest}/reproduce"),
        )
        .await;
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    // Renaming a model or changing its license does not make a run "not identical".
    sqlx::query("update model set display_name = 'Renamed', license = 'Other'")
        .execute(&app.pool)
        .await
        .unwrap();
    eventually("the catalog to reload", || async {
        app.arena
            .catalog
            .all()
            .iter()
            .all(|m| m.display_name == "Renamed")
    })
    .await;
    let (_, reproduced) = app
        .get_json(
            &volunteer,
            &format!("/api/v1/leaderboard/runs/{latest}/reproduce"),
        )
        .await;
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    // Every void of a voter at once.
    let voter: String = sqlx::query_scalar("select voter_id::text from vote")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (_, b) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/voters/{voter}/void")),
        Some(json!({"reason": "bot"})),
    )
    .await;
    assert_eq!(b["votes_changed"], 1);
    assert_eq!(counted().await, 0);
    assert_eq!(
        audit_actions(&app).await,
        ["vote.void", "vote.void", "vote.unvoid", "voter.void_votes"]
    );
    // The log is append-only, even for the database's owner.
    let e = sqlx::query("update audit_log set actor = 'someone else'")
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    assert!(
        sqlx::query("delete from audit_log")
            .execute(&app.pool)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_banned_voter_starts_no_battle_and_a_report_reaches_the_queue() {
    let (app, _) = app().await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let volunteer = app.client();
    let battle = app.create_battle(&volunteer, "Hi").await;
    app.read_stream(&volunteer, &battle).await;
    let url = |p: String| format!("{}{p}", app.url);
    // A report by the battle's voter (someone else's battle: 404).
    let (s, _) = call(
        &app.client(),
        reqwest::Method::POST,
        url(format!("/api/v1/battles/{battle}/report")),
        Some(json!({"reason": "rude"})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &volunteer,
        reqwest::Method::POST,
        url(format!("/api/v1/battles/{battle}/report")),
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = call(
        &volunteer,
        reqwest::Method::POST,
        url(format!("/api/v1/battles/{battle}/report")),
        Some(json!({"reason": "it insults me"})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, flags) = call(
        &admin,
        reqwest::Method::GET,
        url("/api/v1/admin/flags".into()),
        None,
    )
    .await;
    assert_eq!(flags.as_array().unwrap().len(), 1, "{flags}");
    assert_eq!(flags[0]["battle_id"], battle);
    assert!(
        flags[0]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("it insults me")
    );
    let (s, _) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/battles/{battle}/dismiss")),
        Some(json!({"reason": "fine"})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, flags) = call(
        &admin,
        reqwest::Method::GET,
        url("/api/v1/admin/flags".into()),
        None,
    )
    .await;
    assert!(flags.as_array().unwrap().is_empty());
    // Ban: new battles and votes refused with a plain message; unban: back.
    let voter: String = sqlx::query_scalar("select voter_id::text from battle")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (s, _) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/voters/{voter}/ban")),
        Some(json!({"reason": "spam"})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = call(
        &volunteer,
        reqwest::Method::POST,
        url("/api/v1/battles".into()),
        Some(json!({"prompt": "Hi"})),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["code"], "banned");
    assert!(b["error"]["message"].as_str().unwrap().contains("banned"));
    let (s, _) = app.vote(&volunteer, &battle, "tie", None).await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/voters/{voter}/unban")),
        Some(json!({"reason": "appeal"})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = app.vote(&volunteer, &battle, "tie", None).await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &admin,
        reqwest::Method::POST,
        url(format!("/api/v1/admin/voters/{}/ban", uuid::Uuid::new_v4())),
        Some(json!({"reason": "x"})),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        audit_actions(&app).await,
        ["battle.review", "voter.ban", "voter.unban"]
    );
}

#[tokio::test]
async fn the_pairing_policy_steers_battles_and_the_realised_rates_are_public() {
    let (app, url) = app().await;
    // A third model, from the configuration of a fresh arena on the same fake worker.
    let _ = url;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let u = |p: &str| format!("{}{p}", app.url);
    let (_, p) = call(
        &admin,
        reqwest::Method::GET,
        u("/api/v1/admin/pairing"),
        None,
    )
    .await;
    let version = p["version"].as_i64().unwrap();
    assert_eq!(p["mode"], "weighted");
    // Bad input, and a stale version.
    for body in [
        json!({"mode": "random", "uniform_floor": 0.2, "warmup_votes": 0, "warmup_boost": 1, "version": version}),
        json!({"mode": "active", "uniform_floor": 1.5, "warmup_votes": 0, "warmup_boost": 1, "version": version}),
        json!({"mode": "active", "uniform_floor": 0.2, "warmup_votes": -3, "warmup_boost": 1, "version": version}),
    ] {
        let (s, b) = call(
            &admin,
            reqwest::Method::PUT,
            u("/api/v1/admin/pairing"),
            Some(body),
        )
        .await;
        assert_eq!(s, 422, "{b}");
    }
    let good = json!({"mode": "active", "uniform_floor": 0.3, "warmup_votes": 10, "warmup_boost": 2, "version": version});
    let (s, b) = call(
        &admin,
        reqwest::Method::PUT,
        u("/api/v1/admin/pairing"),
        Some(good.clone()),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["mode"], "active");
    let (s, _) = call(
        &admin,
        reqwest::Method::PUT,
        u("/api/v1/admin/pairing"),
        Some(good),
    )
    .await;
    assert_eq!(s, 409, "the same version twice");
    // Pair rules: unknown model, a model with itself, then exclude the only pair.
    let (s, _) = call(
        &admin,
        reqwest::Method::PUT,
        u("/api/v1/admin/pairing/rules"),
        Some(json!({"model_a": "alpha", "model_b": "nope"})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = call(
        &admin,
        reqwest::Method::PUT,
        u("/api/v1/admin/pairing/rules"),
        Some(json!({"model_a": "alpha", "model_b": "alpha"})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = call(
        &admin,
        reqwest::Method::PUT,
        u("/api/v1/admin/pairing/rules"),
        Some(json!({"model_a": "alpha", "model_b": "beta", "boost": 0.0})),
    )
    .await;
    assert_eq!(s, 422, "a boost must be positive");
    // Battles on the pair, then the public view shows the realised share.
    let volunteer = app.client();
    let battle = app.create_battle(&volunteer, "Hi").await;
    app.read_stream(&volunteer, &battle).await;
    let (s, public) = app.get_json(&app.client(), "/api/v1/pairing").await;
    assert_eq!(s, 200);
    assert_eq!(public["battles_last_day"], 1);
    let pair = &public["pairs"][0];
    assert_eq!(
        (pair["model_a"].as_str(), pair["model_b"].as_str()),
        (Some("alpha"), Some("beta"))
    );
    assert!((pair["probability"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(pair["realised_share"], 1.0);
    let (s, b) = call(
        &admin,
        reqwest::Method::PUT,
        u("/api/v1/admin/pairing/rules"),
        Some(json!({"model_a": "beta", "model_b": "alpha", "excluded": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["rules"][0]["excluded"], true);
    let r = volunteer
        .post(u("/api/v1/battles"))
        .json(&json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "the only pair is excluded");
    assert_eq!(
        audit_actions(&app).await,
        ["pairing.policy", "pairing.rule"]
    );
}

#[tokio::test]
async fn a_model_retired_while_its_battles_run_lets_them_finish() {
    let (fake, url) = spawn_fake(Mode::Slow(150)).await;
    let app = TestApp::spawn(vec![model("alpha", &url, 16), model("beta", &url, 16)]).await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let volunteer = app.client();
    let battle = app.create_battle(&volunteer, "Hi").await;
    let (s, b) = call(
        &admin,
        reqwest::Method::POST,
        format!("{}/api/v1/admin/models/alpha/retire", app.url),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["active"], false);
    assert_eq!(b["live_battles"], 1, "the form says a battle keeps it: {b}");
    eventually("retirement to reach the catalog", || async {
        app.arena
            .catalog
            .all()
            .iter()
            .any(|m| m.key == "alpha" && !m.active)
    })
    .await;
    // The running battle is answered in full and can be voted on.
    let (_, events) = app.read_stream(&volunteer, &battle).await;
    assert_eq!(
        events.iter().filter(|(e, _)| e == "done").count(),
        2,
        "{events:?}"
    );
    let (s, _) = app.vote(&volunteer, &battle, "model_a", None).await;
    assert_eq!(s, 200);
    // No new battle gets it.
    let r = volunteer
        .post(format!("{}/api/v1/battles", app.url))
        .json(&json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    drop(fake);
}
