//! Abuse and bad input, as an attacker would try them against the real app on a real Postgres:
//! floods, spoofed forwarding headers, cross-site writes, races on unique constraints, slow and
//! heavy clients, malformed server-function calls, and GET loops that would write rating runs.

use crate::common;

use arena_core::limits::{Budget, Rate};
use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rate(burst: u32, per_minute: u32) -> Budget {
    let r = Rate { burst, per_minute };
    Budget {
        per_address: r,
        per_voter: r,
    }
}

async fn app_with(
    mode: Mode,
    tweak: impl FnOnce(&mut arena_core::config::Settings),
) -> (TestApp, std::sync::Arc<arena_inference::fake::Fake>) {
    let (fake, url) = spawn_fake(mode).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        tweak,
    )
    .await;
    (app, fake)
}

fn cookieless() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_flood_of_battles_gets_429_with_retry_after_and_creates_no_voters() {
    let (app, _fake) = app_with(Mode::Normal, |s| {
        s.limits.create_battle.per_address = Rate {
            burst: 5,
            per_minute: 5,
        };
        s.limits.max_generating_per_address = 100;
    })
    .await;
    let mut created = 0;
    let mut refused = None;
    for _ in 0..30 {
        let r = cookieless()
            .post(format!("{}/api/v1/battles", app.url))
            .json(&serde_json::json!({"prompt": "Hi"}))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => created += 1,
            429 => {
                let retry: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let body: serde_json::Value = r.json().await.unwrap();
                refused = Some((retry, body));
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 5, "the burst, then refusals");
    let (retry, body) = refused.expect("a refusal");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Refused requests created no voter: one per admitted battle.
    assert_eq!(app.count("select count(*) from voter").await, 5);
}

#[tokio::test]
async fn a_spoofed_forwarded_for_is_ignored_unless_the_proxy_is_trusted() {
    // A vote on an unknown battle (404 once admitted) from `xff` as the forwarded client.
    async fn vote_as(app: &TestApp, xff: String) -> u16 {
        cookieless()
            .post(format!(
                "{}/api/v1/battles/{}/vote",
                app.url,
                uuid::Uuid::new_v4()
            ))
            .header("X-Forwarded-For", xff)
            .json(&serde_json::json!({"winner": "tie"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
    let (app, _fake) = app_with(Mode::Normal, |s| {
        s.limits.vote = rate(3, 3);
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(vote_as(&app, format!("198.51.100.{i}")).await);
    }
    assert_eq!(
        statuses,
        [404, 404, 404, 429, 429, 429],
        "one budget for the peer"
    );

    // Behind a trusted proxy, each forwarded client has its own budget.
    let (app, _fake) = app_with(Mode::Normal, |s| {
        s.limits.vote = rate(3, 3);
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    for i in 0..6 {
        assert_eq!(vote_as(&app, format!("198.51.100.{i}")).await, 404);
    }
    // …and a client-written hop left of the proxy's does not buy a new budget.
    for i in 0..6 {
        let status = vote_as(&app, format!("6.6.6.{i}, 203.0.113.50")).await;
        assert_eq!(status, if i < 3 { 404 } else { 429 }, "hop {i}");
    }
}

#[tokio::test]
async fn a_voter_generates_at_most_its_cap_at_once() {
    let (app, _fake) = app_with(Mode::Slow(200), |s| {
        s.limits.max_generating_per_voter = 2;
    })
    .await;
    let client = app.client();
    app.create_battle(&client, "one").await;
    app.create_battle(&client, "two").await;
    let r = client
        .post(format!("{}/api/v1/battles", app.url))
        .json(&serde_json::json!({"prompt": "three"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_generating");
    assert_eq!(app.count("select count(*) from battle").await, 2);
    // Once they finish (or are abandoned), the voter may start again.
    app.assert_nothing_left_running().await;
    app.create_battle(&client, "four").await;
}

#[tokio::test]
async fn reads_never_create_a_voter_or_set_a_cookie() {
    let (app, _fake) = app_with(Mode::Normal, |_| {}).await;
    for path in [
        "/",
        "/leaderboard",
        "/api/v1/leaderboard",
        "/api/v1/nothing",
        "/no/such/page",
    ] {
        let r = cookieless()
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert!(
            !r.headers().contains_key("set-cookie"),
            "{path} set a cookie"
        );
    }
    let r = cookieless()
        .get(format!(
            "{}/api/v1/battles/{}",
            app.url,
            uuid::Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(app.count("select count(*) from voter").await, 0);
    // The first write creates the voter and its cookie.
    let r = cookieless()
        .post(format!("{}/api/v1/battles", app.url))
        .json(&serde_json::json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert_eq!(app.count("select count(*) from voter").await, 1);
}

#[tokio::test]
async fn the_cross_site_guard_checks_origin_against_the_public_origins() {
    let (app, _fake) = app_with(Mode::Normal, |_| {}).await;
    let client = app.client();
    let post = |origin: Option<&str>, host: Option<&str>| {
        let mut r = client
            .post(format!("{}/api/v1/battles", app.url))
            .json(&serde_json::json!({"prompt": "Hi"}));
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        if let Some(h) = host {
            r = r.header("Host", h);
        }
        r.send()
    };
    for (origin, host) in [
        (Some("null"), None),
        (Some("https://evil.example"), None),
        // A spoofed Host that matches a spoofed Origin no longer passes.
        (Some("http://evil.example"), Some("evil.example")),
        (Some("http://127.0.0.1:1"), None),
    ] {
        let r = post(origin, host).await.unwrap();
        assert_eq!(r.status(), 403, "{origin:?} {host:?}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "cross_site");
    }
    assert_eq!(app.count("select count(*) from battle").await, 0);
    // The arena's own origin passes, and so does a script with no Origin.
    let r = post(Some(&app.url), None).await.unwrap();
    assert_eq!(r.status(), 201);
    // Configured public origins replace the default.
    let (app2, _fake2) = app_with(Mode::Normal, |s| {
        s.server.public_origins = vec!["https://arena.example.org".into()];
    })
    .await;
    let r = app2
        .client()
        .post(format!("{}/api/v1/battles", app2.url))
        .header("Origin", "https://arena.example.org")
        .json(&serde_json::json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A form-encodable body type is refused on the JSON API (415), whatever its origin.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let r = client
            .post(format!("{}/api/v1/battles", app.url))
            .header("content-type", content_type)
            .body(r#"{"prompt": "Hi"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{content_type}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
    let r = client
        .post(format!("{}/api/v1/battles", app.url))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"prompt": "Hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn the_same_idempotency_key_on_two_battles_at_once_is_409_never_500() {
    let (app, _fake) = app_with(Mode::Normal, |s| s.limits.create_battle = rate(20, 20)).await;
    let client = app.client();
    for attempt in 0..6 {
        let a = app.create_battle(&client, "Hi").await;
        app.read_stream(&client, &a).await;
        let b = app.create_battle(&client, "Hi").await;
        app.read_stream(&client, &b).await;
        let key = format!("shared-{attempt}");
        let (ra, rb) = tokio::join!(
            app.vote(&client, &a, "model_a", Some(&key)),
            app.vote(&client, &b, "model_a", Some(&key)),
        );
        let mut statuses = [ra.0, rb.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{ra:?} {rb:?}");
        let refused = if ra.0 == 409 { &ra.1 } else { &rb.1 };
        assert_eq!(refused["error"]["code"], "idempotency_key_reused");
    }
    assert_eq!(app.count("select count(*) from vote").await, 6);
}

#[tokio::test]
async fn every_unique_constraint_has_a_meaning() {
    let (app, _fake) = app_with(Mode::Normal, |_| {}).await;
    let names: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_index i
         join pg_class c on c.oid = i.indexrelid
         join pg_namespace n on n.oid = c.relnamespace
         where i.indisunique and n.nspname = 'public'
         order by 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let known: Vec<&str> = arena_core::error::UNIQUE_CONSTRAINTS
        .iter()
        .map(|(n, ..)| *n)
        .chain(arena_core::error::GENERATED_KEYS.iter().copied())
        .collect();
    let unmapped: Vec<&String> = names
        .iter()
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    assert!(
        unmapped.is_empty(),
        "unique constraints without a mapping in arena_core::error: {unmapped:?}"
    );
    let stale: Vec<&&str> = arena_core::error::UNIQUE_CONSTRAINTS
        .iter()
        .map(|(n, ..)| n)
        .filter(|n| !names.iter().any(|m| m == *n))
        .collect();
    assert!(stale.is_empty(), "mapped but not in the schema: {stale:?}");

    // A real violation of one becomes its conflict, not an internal error.
    let e = sqlx::query(
        "insert into model (id, key, display_name) select gen_random_uuid(), key, 'x'
         from model limit 1",
    )
    .execute(&app.pool)
    .await
    .unwrap_err();
    match arena_core::ArenaError::from(e) {
        arena_core::ArenaError::Conflict { code, .. } => assert_eq!(code, "duplicate_model_key"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn two_processes_starting_on_one_new_database_both_come_up() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let database = fresh_database().await;
    let start = |db: String, url: String| async move {
        TestApp::spawn_on(
            db,
            vec![model("alpha", &url, 16), model("beta", &url, 16)],
            |_| {},
        )
        .await
    };
    let (a, b) = tokio::join!(
        start(database.clone(), url.clone()),
        start(database.clone(), url.clone())
    );
    assert_eq!(a.count("select count(*) from model").await, 2);
    assert_eq!(b.count("select count(*) from model_endpoint").await, 2);
}

#[tokio::test]
async fn heavy_and_slow_clients_are_cut_off() {
    let (app, _fake) = app_with(Mode::Normal, |s| {
        s.server.header_read_timeout_secs = 1;
        s.server.idle_timeout_secs = 2;
    })
    .await;
    // 100 KB of headers: 431 in the API's error shape.
    let r = cookieless()
        .get(format!("{}/api/v1/leaderboard", app.url))
        .header("X-Padding", "a".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");

    let addr = app.url.trim_start_matches("http://").to_owned();
    // Headers trickling in byte by byte: the connection is closed at the header timeout.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..20 {
            if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .expect("the writes end");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the server closed the trickling connection"
    );
    assert!(!String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));

    // A connection that says nothing is closed too.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(6), idle.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "idle connection still open: {closed:?}"
    );
}

#[tokio::test]
async fn every_error_has_a_json_body_and_unknown_fields_are_named() {
    let (app, _fake) = app_with(Mode::Normal, |_| {}).await;
    let client = app.client();
    let r = client
        .delete(format!("{}/api/v1/battles", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers().contains_key("allow"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    let r = client
        .post(format!("{}/api/v1/battles", app.url))
        .json(&serde_json::json!({"prompt": "Hi", "model": "alpha"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`model`"),
        "{body}"
    );
    let r = client
        .get(format!("{}/api/v1/leaderboard?bogus=1", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("bogus"));
    assert_eq!(app.count("select count(*) from battle").await, 0);
}

#[tokio::test]
async fn the_leaderboard_server_function_answers_bad_input_plainly() {
    let (app, _fake) = app_with(Mode::Normal, |_| {}).await;
    let client = app.client();
    let call = |body: String| {
        client
            .post(format!("{}/api/pages/leaderboard", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
    };
    let r = call("filter[ci]=sandwich".into()).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    for (body, status, needle) in [
        (
            "filter[ci]=foo".to_owned(),
            422,
            "ci must be sandwich or bootstrap",
        ),
        (
            "filter[from]=yesterday".to_owned(),
            422,
            "from must be a date",
        ),
        ("".to_owned(), 422, "filter"),
        ("filter[bogus]=1".to_owned(), 422, "bogus"),
        (
            format!("filter[ci]={}", "x".repeat(3_000_000)),
            413,
            "64 KiB",
        ),
    ] {
        let r = call(body.clone()).await.unwrap();
        let got = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(got, status, "{}: {text}", &body[..body.len().min(40)]);
        assert!(text.contains(needle), "{text}");
        for internal in [
            "error running server function",
            "sqlx",
            "database",
            "panicked",
        ] {
            assert!(!text.contains(internal), "{text}");
        }
    }
}

#[tokio::test]
async fn get_loops_cannot_write_rating_runs() {
    let (app, _fake) = app_with(Mode::Normal, |s| {
        s.limits.leaderboard = rate(3, 1);
    })
    .await;
    let client = app.client();
    // The default view: stored once, then read.
    for _ in 0..20 {
        let (status, _) = app.get_json(&client, "/api/v1/leaderboard").await;
        assert_eq!(status, 200);
    }
    assert_eq!(app.count("select count(*) from rating_run").await, 1);
    // New option sets: computed within the limiter's budget, then refused.
    let mut statuses = Vec::new();
    for seed in 0..8 {
        let path = format!("/api/v1/leaderboard?ci=bootstrap&rounds=10&seed={seed}");
        statuses.push(app.get_json(&client, &path).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429]);
    // An option set already computed for these votes is read, not refitted, and not refused.
    let (status, _) = app
        .get_json(&client, "/api/v1/leaderboard?ci=bootstrap&rounds=10&seed=1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.count("select count(*) from rating_run").await, 4);
    // Once a vote arrived, reading any non-default view again means reading the counts: that
    // too is behind the (now spent) budget.
    let battle = app.create_battle(&client, "Hi").await;
    app.read_stream(&client, &battle).await;
    assert_eq!(app.vote(&client, &battle, "tie", None).await.0, 200);
    let (status, body) = app
        .get_json(&client, "/api/v1/leaderboard?ci=bootstrap&rounds=10&seed=1")
        .await;
    assert_eq!(status, 429, "{body}");
    // The default view is never refused.
    assert_eq!(app.get_json(&client, "/api/v1/leaderboard").await.0, 200);
}

#[tokio::test]
async fn a_global_bound_caps_new_computations_across_clients() {
    let (app, _fake) = app_with(Mode::Normal, |s| {
        s.leaderboard.max_computations_per_minute = 2;
    })
    .await;
    let client = app.client();
    let mut statuses = Vec::new();
    for seed in 0..4 {
        let path = format!("/api/v1/leaderboard?ci=bootstrap&rounds=10&seed={seed}");
        let (status, body) = app.get_json(&client, &path).await;
        if status == 429 {
            assert_eq!(body["error"]["code"], "leaderboard_busy");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
}

#[tokio::test]
async fn racing_writes_on_one_battle_and_one_pair_get_their_meaning() {
    let (app, _fake) = app_with(Mode::Normal, |s| s.limits.create_battle = rate(40, 40)).await;
    let client = app.client();
    let url = |battle: &str, action: &str| format!("{}/api/v1/battles/{battle}/{action}", app.url);
    let battle = app.create_battle(&client, "Hi").await;
    app.read_stream(&client, &battle).await;

    // Two regenerations at once: one starts, the other is told the answers are being redone.
    let post = |u: String, body: serde_json::Value| {
        let client = client.clone();
        async move {
            let r = client.post(u).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (a, b) = tokio::join!(
        post(url(&battle, "regenerate"), serde_json::json!({})),
        post(url(&battle, "regenerate"), serde_json::json!({}))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    app.read_stream(&client, &battle).await;

    // Two votes with different keys on one turn at once: one is the vote, the other 409.
    let (a, b) = tokio::join!(
        app.vote(&client, &battle, "model_a", Some("k1")),
        app.vote(&client, &battle, "model_b", Some("k2"))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");

    // Two next prompts at once: one turn is added, the other is refused.
    let (a, b) = tokio::join!(
        post(url(&battle, "turns"), serde_json::json!({"prompt": "more"})),
        post(
            url(&battle, "turns"),
            serde_json::json!({"prompt": "other"})
        )
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    assert_eq!(
        app.count("select count(*) from battle_turn").await,
        2,
        "one turn added"
    );

    // Many first votes of the day on one pair at once: every one lands in the counts.
    let mut battles = Vec::new();
    for _ in 0..12 {
        let voter = app.client();
        let id = app.create_battle(&voter, "Hi").await;
        app.read_stream(&voter, &id).await;
        battles.push((voter, id));
    }
    let votes = battles
        .iter()
        .map(|(voter, id)| app.vote(voter, id, "tie", None));
    let results = futures::future::join_all(votes).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    assert_eq!(
        app.count(
            "select coalesce(sum(wins_a + wins_b + ties + both_bad), 0)::bigint from pair_count"
        )
        .await,
        app.count("select count(*) from vote where counted").await
    );
    assert_eq!(
        app.count("select count(*) from vote where counted").await,
        13
    );
}
