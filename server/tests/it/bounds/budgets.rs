//! Budgets per address, per voter and per account: failed sign-ins, sign-ups, budgets shared by processes, open streams, and campaign boards under fresh seeds.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;

async fn post_from(
    app: &TestApp,
    client: &reqwest::Client,
    address: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, Option<String>, serde_json::Value) {
    let r = client
        .post(format!("{}{path}", app.url))
        .header("X-Forwarded-For", address)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        retry,
        r.json().await.unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn wrong_passwords_from_one_address_never_lock_the_owner_out_from_another() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.server.trusted_proxies = vec!["127.0.0.1".into()];
            s.accounts.failed_signins_per_account = 5;
            s.accounts.failed_signins_per_address = 20;
        },
    )
    .await;
    let admin = signed_in_as(&app, "root", "admin").await;
    app.arena
        .accounts
        .create_admin("owner", PASSWORD)
        .await
        .unwrap();
    let sign_in = |address: &'static str, password: &'static str| {
        let app = &app;
        async move {
            post_from(
                app,
                &reqwest::Client::new(),
                address,
                "/api/v1/account/signin",
                serde_json::json!({"username": "owner", "password": password}),
            )
            .await
        }
    };
    let attacker = "203.0.113.7";
    for _ in 0..5 {
        assert_eq!(sign_in(attacker, "wrong password here").await.0, 401);
    }
    let (status, retry, body) = sign_in(attacker, "wrong password here").await;
    assert_eq!(status, 429, "{body}");
    assert!(retry.is_some());
    assert_eq!(body["error"]["code"], "too_many_failed_signins");
    // Even the right password is refused from the attacker's address…
    assert_eq!(sign_in(attacker, PASSWORD).await.0, 429);
    // …but the owner, elsewhere, signs in (in the old design: 429, Retry-After 899).
    let (status, _, body) = sign_in("198.51.100.2", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    // An admin clears the account's throttles, audited with what was read before.
    let r = admin
        .post(format!(
            "{}/api/v1/admin/users/owner/clear-throttle",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["cleared"], 5);
    let audit: (String, serde_json::Value) =
        sqlx::query_as("select action, before from audit_log where action = 'user.clear_throttle'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audit.1["failed_signins"], 5, "{audit:?}");
    assert_eq!(sign_in(attacker, PASSWORD).await.0, 200);
    // An unknown account: 404, nothing audited.
    let r = admin
        .post(format!(
            "{}/api/v1/admin/users/nobody/clear-throttle",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'user.clear_throttle'")
            .await,
        1
    );
}

#[tokio::test]
async fn sign_ups_have_a_budget_per_address() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.server.trusted_proxies = vec!["127.0.0.1".into()];
            s.accounts.signup_burst = 5;
            s.accounts.signups_per_hour = 20;
        },
    )
    .await;
    let sign_up = |address: &'static str, i: usize| {
        let app = &app;
        async move {
            post_from(
                app,
                &reqwest::Client::new(),
                address,
                "/api/v1/account/signup",
                serde_json::json!({"username": format!("user{i}"), "password": PASSWORD}),
            )
            .await
        }
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(sign_up("203.0.113.9", i).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|s| s.0).collect();
    assert_eq!(codes, [201, 201, 201, 201, 201, 429, 429, 429]);
    let (_, retry, body) = &statuses[5];
    // One more every 3 minutes (20 per hour).
    let retry: u64 = retry.as_deref().unwrap().parse().unwrap();
    assert!((150..=180).contains(&retry), "{retry}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new accounts")
    );
    // Refused sign-ups created nothing; another address has its own budget.
    assert_eq!(app.count("select count(*) from app_user").await, 5);
    assert_eq!(sign_up("198.51.100.3", 100).await.0, 201);
}

#[tokio::test]
async fn three_processes_on_one_database_give_a_client_the_budget_of_one() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let database = fresh_database().await;
    let models = || vec![model("alpha", &url, 16), model("beta", &url, 16)];
    let tweak = |s: &mut arena_core::config::Settings| {
        s.limits.create_battle.per_address = arena_core::limits::Rate {
            burst: 6,
            per_minute: 1,
        };
        s.limits.create_battle.per_voter = arena_core::limits::Rate {
            burst: 100,
            per_minute: 100,
        };
        s.limits.max_generating_per_address = 100;
        s.limits.max_generating_per_voter = 100;
    };
    let mut apps = Vec::new();
    for _ in 0..3 {
        apps.push(TestApp::spawn_on(database.clone(), models(), tweak).await);
    }
    let client = reqwest::Client::new();
    let mut admitted = 0;
    let mut refused = 0;
    for i in 0..18 {
        let app = &apps[i % 3];
        let r = client
            .post(format!("{}/api/v1/battles", app.url))
            .json(&serde_json::json!({"prompt": format!("question {i}")}))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => admitted += 1,
            429 => refused += 1,
            other => panic!("{other}: {}", r.text().await.unwrap()),
        }
    }
    // Per-process budgets would have admitted 18.
    assert_eq!((admitted, refused), (6, 12));
    // The held generations are the database's too: every process sees the others'.
    for app in &apps {
        app.assert_nothing_left_running().await;
    }
    assert_eq!(
        apps[0].count("select count(*) from held_slot").await,
        0,
        "every generation gave its place back"
    );
}

#[tokio::test]
async fn open_streams_are_capped_per_voter_and_per_address() {
    // Slow answers keep the turn live, so every stream stays open.
    let (_fake, url) = spawn_fake(Mode::Slow(2000)).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.limits.max_streams_per_voter = 8;
            s.limits.max_streams_per_address = 12;
            s.limits.max_generating_per_address = 100;
            s.gateway.idle_timeout_secs = 30;
            s.gateway.first_token_timeout_secs = 30;
        },
    )
    .await;
    let voter = app.client();
    let battle = app.create_battle(&voter, "Tell me a story.").await;
    let open = |client: reqwest::Client, battle: String| {
        let url = format!("{}/api/v1/battles/{battle}/stream", app.url);
        async move { client.get(url).send().await.unwrap() }
    };
    let mut held = Vec::new();
    for _ in 0..8 {
        let r = open(voter.clone(), battle.clone()).await;
        assert_eq!(r.status(), 200);
        held.push(r);
    }
    let r = open(voter.clone(), battle.clone()).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams");
    // Closing one gives its place back.
    drop(held.pop());
    let mut reopened = None;
    for _ in 0..50 {
        let r = open(voter.clone(), battle.clone()).await;
        if r.status() == 200 {
            reopened = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    held.push(reopened.expect("a closed stream's place is given back"));
    // Other voters on the same address: the address's cap (12) holds across them.
    let mut others = Vec::new();
    for _ in 0..3 {
        let other = app.client();
        let battle = app.create_battle(&other, "Another story.").await;
        others.push((other, battle));
    }
    let mut statuses = Vec::new();
    for (other, battle) in &others {
        for _ in 0..2 {
            let r = open(other.clone(), battle.clone()).await;
            statuses.push(r.status().as_u16());
            held.push(r);
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429, 429],
        "8 + 4 = the address's 12"
    );
    assert_eq!(
        app.arena
            .limits
            .held(&format!("stream/v/{}", app_voter(&app, &voter).await))
            .await
            .unwrap(),
        8
    );
    drop(held);
}

/// The voter id behind a browser's cookie (its latest battle's).
async fn app_voter(app: &TestApp, _client: &reqwest::Client) -> uuid::Uuid {
    sqlx::query_scalar("select voter_id from battle order by created_at limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn fresh_seeds_from_many_addresses_never_freeze_a_campaign_board() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.server.trusted_proxies = vec!["127.0.0.1".into()];
            s.leaderboard.max_computations_per_minute = 60;
            s.limits.leaderboard.per_address = arena_core::limits::Rate {
                burst: 10,
                per_minute: 10,
            };
        },
    )
    .await;
    let voter = app.client();
    for prompt in ["one", "two"] {
        let battle = app.create_battle(&voter, prompt).await;
        app.read_stream(&voter, &battle).await;
        assert_eq!(app.vote(&voter, &battle, "model_a", None).await.0, 200);
    }
    let get = |address: String, path: String| {
        let url = format!("{}{path}", app.url);
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("X-Forwarded-For", address)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    // 7 addresses × 10 fresh seeds: 70 computations asked for, the global bound is 60.
    let mut refused = 0;
    for a in 0..7 {
        for seed in 0..10 {
            let (status, body) = get(
                format!("198.51.100.{a}"),
                format!(
                    "/api/v1/leaderboard?ci=bootstrap&rounds=10&seed={}",
                    a * 100 + seed
                ),
            )
            .await;
            match status {
                200 => {}
                429 => refused += 1,
                other => panic!("{other}: {body}"),
            }
        }
    }
    assert!(refused >= 10, "the global bound held: {refused} refused");
    // The campaign's board (its default view) and the arena's default still answer, from a
    // new address and from one whose budget is spent, after a new vote.
    let battle = app.create_battle(&voter, "three").await;
    app.read_stream(&voter, &battle).await;
    assert_eq!(app.vote(&voter, &battle, "model_b", None).await.0, 200);
    for address in ["203.0.113.1", "198.51.100.0"] {
        let (status, body) = get(address.into(), "/api/v1/leaderboard?campaign=arena".into()).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = get(address.into(), "/api/v1/leaderboard".into()).await;
        assert_eq!(status, 200, "{body}");
    }
}
