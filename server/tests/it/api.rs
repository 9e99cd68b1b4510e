//! The JSON/SSE battle API against a real Postgres, with a scripted fake worker standing in for
//! remote failure modes (the real model is exercised in `with_real_model.rs`).

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use std::time::Duration;

async fn app_with_fake(mode: Mode) -> (TestApp, std::sync::Arc<arena_inference::fake::Fake>) {
    let (fake, url) = spawn_fake(mode).await;
    let app = TestApp::spawn(vec![model("alpha", &url, 16), model("beta", &url, 16)]).await;
    (app, fake)
}

#[tokio::test]
async fn a_battle_streams_both_sides_then_a_vote_reveals_the_models() {
    let (app, _fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    let battle = app.create_battle(&client, "Say hello").await;
    let (_, events) = app.read_stream(&client, &battle).await;
    assert_eq!(text_of(&events, "a"), "Hello there, friend!");
    assert_eq!(text_of(&events, "b"), "Hello there, friend!");
    for side in ["a", "b"] {
        let done = events
            .iter()
            .find(|(e, d)| e == "done" && d["side"] == side)
            .expect("a done event per side");
        assert_eq!(done.1["finish_reason"], "stop");
        assert_eq!(done.1["tokens"], 4);
    }
    let state: serde_json::Value = client
        .get(format!("{}/api/v1/battles/{battle}", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(state["model_a"].is_null() && state["model_b"].is_null());
    assert_eq!(state["turns"][0]["status"], "ready");

    let (status, reveal) = app.vote(&client, &battle, "model_a", Some("k1")).await;
    assert_eq!(status, 200, "{reveal}");
    let names = [
        reveal["model_a"].as_str().unwrap(),
        reveal["model_b"].as_str().unwrap(),
    ];
    assert!(names.contains(&"Display alpha") && names.contains(&"Display beta"));
    let state: serde_json::Value = client
        .get(format!("{}/api/v1/battles/{battle}", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["model_a"], reveal["model_a"]);
    assert_eq!(state["turns"][0]["winner"], "model_a");

    // The vote is counted, in the same transaction as the battle's final state.
    assert_eq!(
        app.count("select count(*) from vote where counted").await,
        1
    );
    assert_eq!(
        app.count("select sum(wins_a)::bigint from pair_count")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from battle_turn where status = 'voted'")
            .await,
        1
    );
    // Each answer records what the leaderboard and researchers need.
    assert_eq!(
        app.count(
            "select count(*) from answer where status = 'done' and completion_tokens = 4
             and ttft_ms is not null and duration_ms is not null and finish_reason = 'stop'
             and endpoint_url is not null and system_prompt_hash is not null
             and sampling ? 'temperature' and header_count = 0 and token_count = 4"
        )
        .await,
        2
    );
    app.assert_nothing_left_running().await;
}

#[tokio::test]
async fn votes_are_idempotent_and_final() {
    let (app, _fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    let battle = app.create_battle(&client, "Hi").await;
    app.read_stream(&client, &battle).await;

    // Concurrent retries of the same vote: one write, the same answer for all.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url, battle) = (client.clone(), app.url.clone(), battle.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{url}/api/v1/battles/{battle}/vote"))
                .header("Idempotency-Key", "retry-me")
                .json(&serde_json::json!({"winner": "tie"}))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 200);
    assert_eq!(app.count("select count(*) from vote").await, 1);
    assert_eq!(
        app.count("select sum(ties)::bigint from pair_count").await,
        1
    );

    // A different choice on the same turn is refused; the same choice again is harmless.
    let (status, body) = app
        .vote(&client, &battle, "model_b", Some("other-key"))
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "already_voted");
    let (status, body) = app
        .vote(&client, &battle, "model_b", Some("retry-me"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    let (status, _) = app.vote(&client, &battle, "tie", None).await;
    assert_eq!(status, 200);
    assert_eq!(app.count("select count(*) from vote").await, 1);
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_changes_nothing() {
    let (app, _fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    let post = |path: &str, body: Vec<u8>| {
        client
            .post(format!("{}{path}", app.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "/api/v1/battles",
            br#"{"prompt": ""}"#.to_vec(),
            422,
            "invalid_prompt",
        ),
        (
            "/api/v1/battles",
            br#"{"prompt": "   \n"}"#.to_vec(),
            422,
            "invalid_prompt",
        ),
        (
            "/api/v1/battles",
            serde_json::to_vec(&serde_json::json!({"prompt": "x".repeat(8001)})).unwrap(),
            422,
            "invalid_prompt",
        ),
        (
            "/api/v1/battles",
            b"{not json".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "/api/v1/battles",
            b"{\"prompt\": \"\xff\xfe\"}".to_vec(),
            400,
            "invalid_utf8",
        ),
        (
            "/api/v1/battles",
            br#"{"prompt": 5}"#.to_vec(),
            422,
            "invalid_request",
        ),
        ("/api/v1/battles", br#"{}"#.to_vec(), 422, "invalid_request"),
        (
            "/api/v1/battles",
            br#"{"prompt": "hi", "language": "<script>"}"#.to_vec(),
            422,
            "invalid_language",
        ),
        (
            "/api/v1/battles",
            serde_json::to_vec(&serde_json::json!({"prompt": "y".repeat(70_000)})).unwrap(),
            413,
            "too_large",
        ),
    ];
    for (path, body, status, code) in cases {
        let response = post(path, body).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path} {code}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // 8,000 characters is within the limit.
    let ok = post(
        "/api/v1/battles",
        serde_json::to_vec(&serde_json::json!({"prompt": "é".repeat(8000)})).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 201);
    assert_eq!(
        app.count("select count(*) from battle").await,
        1,
        "only the valid one"
    );

    let battle: serde_json::Value = ok.json().await.unwrap();
    let battle = battle["battle_id"].as_str().unwrap().to_owned();
    app.read_stream(&client, &battle).await;
    let (status, body) = app.vote(&client, &battle, "left", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_winner"))
    );
    let (status, _) = app
        .vote(&client, &battle, "model_a", Some("bad key with spaces"))
        .await;
    assert_eq!(status, 422);

    // Unknown battles, malformed ids, and other voters' battles are all 404.
    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        let (status, body) = app.vote(&client, &id, "tie", None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        let r = client
            .get(format!("{}/api/v1/battles/{id}/stream", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let stranger = app.client();
    let (status, _) = app.vote(&stranger, &battle, "tie", None).await;
    assert_eq!(status, 404);
    let r = stranger
        .get(format!("{}/api/v1/battles/{battle}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(app.count("select count(*) from vote").await, 0);
    let r = client
        .get(format!("{}/api/v1/nothing", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn voting_before_both_answers_finish_is_refused() {
    let (app, _fake) = app_with_fake(Mode::Slow(300)).await;
    let client = app.client();
    let battle = app.create_battle(&client, "Hi").await;
    let (status, body) = app.vote(&client, &battle, "model_a", Some("early")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_ready"))
    );
    let r = client
        .post(format!("{}/api/v1/battles/{battle}/turns", app.url))
        .json(&serde_json::json!({"prompt": "more"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    app.read_stream(&client, &battle).await;
    // The early attempt wrote nothing, so its key is free to use now.
    let (status, _) = app.vote(&client, &battle, "model_a", Some("early")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn no_healthy_worker_means_503() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = TestApp::spawn(vec![model("alpha", &dead, 16), model("beta", &dead, 16)]).await;
    let client = app.client();
    let r = client
        .post(format!("{}/api/v1/battles", app.url))
        .json(&serde_json::json!({"prompt": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(app.count("select count(*) from battle").await, 0);
    let ready = client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let alive = client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
}

/// Each remote failure mode: the battle says so, cannot be voted, and nothing is left running.
#[tokio::test]
async fn worker_failures_fail_the_battle_plainly() {
    for (mode, expected) in [
        (Mode::HangBeforeFirst, "did not start answering"),
        (Mode::ResetAfter(2), "cut off"),
        (Mode::Malformed, "invalid answer"),
        (Mode::IdleAfter(1), "stopped answering"),
        (
            Mode::Status(500, r#"{"error":{"message":"CUDA out of memory"}}"#),
            "reported an error",
        ),
    ] {
        let (app, fake) = app_with_fake(mode.clone()).await;
        let client = app.client();
        let battle = app.create_battle(&client, "Hi").await;
        let (raw, events) = app.read_stream(&client, &battle).await;
        let errors: Vec<_> = events.iter().filter(|(e, _)| e == "error").collect();
        assert_eq!(errors.len(), 2, "{mode:?}: {raw}");
        for (_, data) in &errors {
            let message = data["message"].as_str().unwrap();
            assert!(message.contains(expected), "{mode:?}: {message}");
            assert!(!message.contains("CUDA") && !message.contains("127.0.0.1"));
        }
        let (status, body) = app.vote(&client, &battle, "model_a", None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("battle_failed")),
            "{mode:?}"
        );
        assert_eq!(
            app.count("select count(*) from battle_turn where status = 'failed'")
                .await,
            1
        );
        assert_eq!(app.count("select count(*) from vote").await, 0);
        app.assert_nothing_left_running().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            fake.open_streams(),
            0,
            "{mode:?}: upstream connections were closed"
        );
    }
}

#[tokio::test]
async fn a_slow_worker_still_completes() {
    let (app, _fake) = app_with_fake(Mode::Slow(400)).await;
    let client = app.client();
    let battle = app.create_battle(&client, "Hi").await;
    let (_, events) = app.read_stream(&client, &battle).await;
    assert_eq!(events.iter().filter(|(e, _)| e == "done").count(), 2);
}

#[tokio::test]
async fn a_voter_who_leaves_cancels_the_generation() {
    let (app, fake) = app_with_fake(Mode::Slow(400)).await;
    let client = app.client();
    let battle = app.create_battle(&client, "Hi").await;
    {
        let response = client
            .get(format!("{}/api/v1/battles/{battle}/stream", app.url))
            .send()
            .await
            .unwrap();
        let mut body = response.bytes_stream();
        use futures::StreamExt;
        let _ = body.next().await;
        assert_eq!(fake.open_streams(), 2);
    } // the viewer leaves
    app.assert_nothing_left_running().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.open_streams(), 0);
    let turn_status: String = sqlx::query_scalar("select status from battle_turn")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(turn_status, "failed");
}

#[tokio::test]
async fn a_reconnecting_viewer_gets_the_whole_turn() {
    let (app, _fake) = app_with_fake(Mode::Slow(150)).await;
    let client = app.client();
    let battle = app.create_battle(&client, "Hi").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, first) = app.read_stream(&client, &battle).await;
    let (_, again) = app.read_stream(&client, &battle).await;
    assert_eq!(text_of(&first, "a"), "Hello there, friend!");
    assert_eq!(text_of(&again, "a"), "Hello there, friend!");
    assert_eq!(text_of(&again, "b"), "Hello there, friend!");
}

#[tokio::test]
async fn continue_regenerate_and_vote_each_turn() {
    let (app, fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    let battle = app.create_battle(&client, "First").await;
    app.read_stream(&client, &battle).await;

    // Regenerate before voting: the old answers are kept, marked discarded.
    let r = client
        .post(format!("{}/api/v1/battles/{battle}/regenerate", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    app.read_stream(&client, &battle).await;
    assert_eq!(
        app.count("select count(*) from answer where discarded")
            .await,
        2
    );
    assert_eq!(
        app.count("select count(*) from answer where not discarded")
            .await,
        2
    );
    let (status, _) = app.vote(&client, &battle, "model_b", Some("t0")).await;
    assert_eq!(status, 200);
    let r = client
        .post(format!("{}/api/v1/battles/{battle}/regenerate", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "no regenerate after the vote");

    // Continue: the same models get the whole history.
    let r = client
        .post(format!("{}/api/v1/battles/{battle}/turns", app.url))
        .json(&serde_json::json!({"prompt": "Second"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["turn"], 1);
    app.read_stream(&client, &battle).await;
    let sent = fake.last_body.lock().unwrap().clone().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let roles: Vec<_> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(messages[1]["content"], "First");
    assert_eq!(messages[2]["content"], "Hello there, friend!");
    let (status, _) = app.vote(&client, &battle, "tie", Some("t1")).await;
    assert_eq!(status, 200);
    // The second vote was cast with the names known: recorded, not counted.
    assert_eq!(app.count("select count(*) from vote").await, 2);
    assert_eq!(
        app.count("select count(*) from vote where counted").await,
        1
    );
}

#[tokio::test]
async fn nothing_sent_before_the_vote_names_a_model() {
    let (app, _fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    let secrets: Vec<String> = {
        let mut s = vec!["upstream-secret-name".to_owned()];
        for m in app.arena.catalog.all() {
            s.extend([
                m.key.clone(),
                m.display_name.clone(),
                m.id.to_string(),
                m.id.simple().to_string(),
            ]);
        }
        s
    };
    let check = |what: &str, bytes: &str| {
        for secret in &secrets {
            assert!(!bytes.contains(secret.as_str()), "{what} leaks {secret}");
        }
    };
    let page = client.get(&app.url).send().await.unwrap();
    check("page headers", &format!("{:?}", page.headers()));
    check("page", &page.text().await.unwrap());
    let created = client
        .post(format!("{}/api/v1/battles", app.url))
        .json(&serde_json::json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    check("create headers", &format!("{:?}", created.headers()));
    let created = created.text().await.unwrap();
    check("create", &created);
    let battle = serde_json::from_str::<serde_json::Value>(&created).unwrap()["battle_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stream = client
        .get(format!("{}/api/v1/battles/{battle}/stream", app.url))
        .send()
        .await
        .unwrap();
    check("stream headers", &format!("{:?}", stream.headers()));
    check("stream", &stream.text().await.unwrap());
    let state = client
        .get(format!("{}/api/v1/battles/{battle}", app.url))
        .send()
        .await
        .unwrap();
    check("state", &state.text().await.unwrap());
    let page = client.get(&app.url).send().await.unwrap();
    check("page during a battle", &page.text().await.unwrap());
    // After the vote, the names are there.
    app.accept_terms(&client).await;
    let (_, reveal) = app.vote(&client, &battle, "tie", None).await;
    assert!(reveal["model_a"].as_str().unwrap().starts_with("Display "));
}

#[tokio::test]
async fn cross_site_writes_are_refused() {
    let (app, _fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    let r = client
        .post(format!("{}/api/v1/battles", app.url))
        .header("Origin", "https://evil.example")
        .json(&serde_json::json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .post(format!("{}/api/v1/battles", app.url))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&serde_json::json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("select count(*) from battle").await, 0);
    let page = client.get(&app.url).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn the_leaderboard_is_fitted_from_counted_votes_and_recorded() {
    let (app, _fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    for winner in ["model_a", "model_b", "tie", "model_a"] {
        let battle = app.create_battle(&client, "Hi").await;
        app.read_stream(&client, &battle).await;
        let (status, _) = app.vote(&client, &battle, winner, None).await;
        assert_eq!(status, 200);
    }
    let r = client
        .get(format!("{}/api/v1/leaderboard?language=en", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let board: serde_json::Value = r.json().await.unwrap();
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let votes: u64 = entries.iter().map(|e| e["votes"].as_u64().unwrap()).sum();
    assert_eq!(votes, 8, "each vote counts for both models");
    assert!(
        entries
            .iter()
            .all(|e| e["rating"].is_number() && e["ci_lower"].is_number())
    );
    let mean =
        (entries[0]["rating"].as_f64().unwrap() + entries[1]["rating"].as_f64().unwrap()) / 2.0;
    assert!((mean - 1000.0).abs() < 1e-6);
    assert_eq!(board["vote_count"], 4);
    assert_eq!(
        app.count("select count(*) from rating_run where vote_count = 4 and language = 'en'")
            .await,
        1
    );
    let get = |path: String| {
        let client = client.clone();
        let app = &app;
        async move { app.get_json(&client, &path).await }
    };
    // The same votes fitted the same way: the recorded run comes back, nothing is refitted.
    let (_, again) = get("/api/v1/leaderboard?language=en".into()).await;
    assert_eq!(again["run_id"], board["run_id"]);
    assert_eq!(
        app.count("select count(*) from rating_run where language = 'en'")
            .await,
        1
    );
    // A run can be read back and refitted from the votes themselves, to the bit.
    let run = board["run_id"].as_i64().unwrap();
    let (status, stored) = get(format!("/api/v1/leaderboard/runs/{run}")).await;
    assert_eq!(status, 200);
    assert_eq!(stored["entries"], board["entries"]);
    assert_eq!(stored["params"]["ci"], "sandwich");
    let (status, reproduced) = get(format!("/api/v1/leaderboard/runs/{run}/reproduce")).await;
    assert_eq!(status, 200, "{reproduced}");
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    // More votes later: the old run still reproduces exactly (only the votes it saw), the
    // new one sees them all.
    for winner in ["model_b", "both_bad"] {
        let battle = app.create_battle(&client, "Hi").await;
        app.read_stream(&client, &battle).await;
        assert_eq!(app.vote(&client, &battle, winner, None).await.0, 200);
    }
    let (_, newer) = get("/api/v1/leaderboard?language=en".into()).await;
    assert_eq!(newer["vote_count"], 6);
    assert_ne!(newer["run_id"], board["run_id"]);
    let (_, reproduced) = get(format!("/api/v1/leaderboard/runs/{run}/reproduce")).await;
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    assert_eq!(reproduced["recomputed_vote_count"], 4);
    let newer_run = newer["run_id"].as_i64().unwrap();
    let (_, reproduced) = get(format!("/api/v1/leaderboard/runs/{newer_run}/reproduce")).await;
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    // Bootstrap intervals with a seed are recorded with it, and reproduce too.
    let (status, boot) =
        get("/api/v1/leaderboard?ci=bootstrap&rounds=200&seed=9&ties=davidson".into()).await;
    assert_eq!(status, 200, "{boot}");
    assert_eq!(boot["params"]["seed"], 9);
    assert_eq!(boot["params"]["rounds"], 200);
    assert!(
        boot["tie_parameter"].as_f64().is_some_and(|nu| nu > 0.0),
        "{boot}"
    );
    assert!(boot["method"].as_str().unwrap().contains("bootstrap"));
    let boot_run = boot["run_id"].as_i64().unwrap();
    assert_eq!(
        app.count(&format!(
            "select count(*) from rating_run where id = {boot_run} and seed = 9"
        ))
        .await,
        1
    );
    let (_, reproduced) = get(format!("/api/v1/leaderboard/runs/{boot_run}/reproduce")).await;
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    for (path, status, code) in [
        ("/api/v1/leaderboard?ci=jackknife", 422, "invalid_ci"),
        (
            "/api/v1/leaderboard?ci=bootstrap&rounds=0",
            422,
            "invalid_rounds",
        ),
        ("/api/v1/leaderboard?ties=nope", 422, "invalid_ties"),
        ("/api/v1/leaderboard/runs/999999", 404, "not_found"),
        ("/api/v1/leaderboard/runs/abc/reproduce", 404, "not_found"),
    ] {
        let (got, body) = get(path.into()).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }

    // Another language has no votes: listed without ratings.
    let other: serde_json::Value = client
        .get(format!("{}/api/v1/leaderboard?language=eu", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        other["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["rating"].is_null())
    );
    let bad = client
        .get(format!("{}/api/v1/leaderboard?from=yesterday", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    // The page renders on the server.
    let page = client
        .get(format!("{}/leaderboard", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Display alpha") && page.contains("<svg"),
        "{page}"
    );
}

#[tokio::test]
async fn an_answer_that_names_its_maker_is_flagged_and_not_counted() {
    let chunk = |content: &str| {
        format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":null}}]}}\n\n",
            serde_json::to_string(content).unwrap()
        )
    };
    let (app, _fake) = app_with_fake(Mode::Raw(vec![
        chunk("As an AI developed by Anthropic, "),
        chunk("I think the answer is **yes**, unlike GPT-4o or Qwen2.5."),
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".into(),
        "data: [DONE]\n\n".into(),
    ]))
    .await;
    let client = app.client();
    let battle = app.create_battle(&client, "Who made you?").await;
    let (_, events) = app.read_stream(&client, &battle).await;
    assert_eq!(
        events.iter().filter(|(e, _)| e == "done").count(),
        2,
        "{events:?}"
    );
    // Both answers name a vendor: flagged, with their style features recorded, and the words
    // that matched (version tails included) kept for review.
    assert_eq!(
        app.count("select count(*) from answer where identity_leak and bold_count = 1")
            .await,
        2
    );
    let matched: Vec<Vec<String>> = sqlx::query_scalar("select identity_matches from answer")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(matched.len(), 2);
    for words in matched {
        assert_eq!(words, ["Anthropic", "GPT-4o", "Qwen2.5"], "{words:?}");
    }
    // The volunteer may still vote and see the names; the vote is kept but not counted.
    let (status, reveal) = app.vote(&client, &battle, "model_a", Some("leak-1")).await;
    assert_eq!(status, 200, "{reveal}");
    assert_eq!(
        app.count("select count(*) from vote where not counted")
            .await,
        1
    );
    assert_eq!(app.count("select count(*) from pair_count").await, 0);
    let (_, board) = app.get_json(&client, "/api/v1/leaderboard").await;
    assert_eq!(board["vote_count"], 0, "{board}");
    assert!(
        board["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["rating"].is_null() && e["votes"] == 0)
    );
}

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts() {
    let (app, _fake) = app_with_fake(Mode::Normal).await;
    let client = app.client();
    for path in ["/", "/leaderboard"] {
        let page = client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let script_src = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe-inline"), "{csp}");
        let nonce = script_src
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("no nonce in {csp}"))
            .to_owned();
        let html = page.text().await.unwrap();
        // Every inline script of the page carries this response's nonce.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0);
        assert_eq!(
            html.matches(&format!("<script nonce=\"{nonce}\"")).count()
                + html.matches("<script type=\"module\" nonce=").count(),
            scripts,
            "{html}"
        );
    }
    // A second response gets a different nonce; API responses allow no inline script at all.
    let csp = |r: &reqwest::Response| {
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let a = csp(&client.get(format!("{}/", app.url)).send().await.unwrap());
    let b = csp(&client.get(format!("{}/", app.url)).send().await.unwrap());
    assert_ne!(a, b);
    let api = csp(&client
        .get(format!("{}/api/v1/leaderboard", app.url))
        .send()
        .await
        .unwrap());
    assert!(!api.contains("nonce-"), "{api}");
    assert!(
        !api.split(';')
            .any(|d| d.contains("script-src") && d.contains("unsafe-inline")),
        "{api}"
    );
}
