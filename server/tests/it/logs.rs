//! Logs and request ids: every request's log lines carry its id (a trusted proxy's, else a new
//! one), the response returns it, the worker receives it; and a run's logs at info level hold
//! no prompt, answer, password, session or API token.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// The process's log lines (the JSON format of `log.format = "json"`), at the server's default
/// filter. One global subscriber per process: this is the only test that installs one, and it
/// greps for strings no other test uses.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

#[tokio::test]
async fn request_ids_follow_a_battle_to_the_worker_and_logs_hold_no_secret() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,sqlx=warn,tower_http=info",
        ))
        .with_writer(capture.clone())
        .try_init()
        .expect("no other test installs a global subscriber");
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;

    // A researcher signs up (password), is given the role, makes an API token.
    let password = "Quokka-sunrise-passphrase-4471";
    let browser = reqwest::Client::new();
    let r = browser
        .post(format!("{}/api/v1/account/signup", app.url))
        .json(&json!({"username": "logwatcher", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let session = cookie(&r, "arena_session");
    sqlx::query("update app_user set role = 'researcher' where username = 'logwatcher'")
        .execute(&app.pool)
        .await
        .unwrap();
    let signed_in = app.client();
    let r = signed_in
        .post(format!("{}/api/v1/account/signin", app.url))
        .json(&json!({"username": "logwatcher", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = signed_in
        .post(format!("{}/api/v1/account/tokens", app.url))
        .json(&json!({"name": "laptop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A battle whose request carries a proxy's id: returned, in the logs, at the worker.
    let prompt = "Which marmot-lantern-zephyr rhymes best?";
    let volunteer = app.client();
    let r = volunteer
        .post(format!("{}/api/v1/battles", app.url))
        .header("x-request-id", "edge-7f3a-0001")
        .json(&json!({"prompt": prompt, "language": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-request-id"], "edge-7f3a-0001");
    let id = r.json::<serde_json::Value>().await.unwrap()["battle_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.accept_terms(&volunteer).await;
    app.read_stream(&volunteer, &id).await;
    assert_eq!(app.vote(&volunteer, &id, "model_a", None).await.0, 200);
    let ids = fake.request_ids.lock().unwrap().clone();
    assert_eq!(
        ids.iter().filter(|i| *i == "edge-7f3a-0001").count(),
        2,
        "both answers' requests carry the id: {ids:?}"
    );
    let answer: String = sqlx::query_scalar(
        "select content from answer a join battle_turn t on t.id = a.turn_id
         where t.battle_id = $1::uuid order by length(content) desc limit 1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(answer.len() >= 12, "{answer:?}");

    // A malformed id is replaced by a new one; so is any id from a client no proxy vouches for.
    let r = volunteer
        .get(format!("{}/api/v1/battles/{id}", app.url))
        .header("x-request-id", "two words\tand a tab")
        .send()
        .await
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
    let direct = TestApp::spawn(vec![model("alpha", &url, 8), model("beta", &url, 8)]).await;
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/leaderboard", direct.url))
        .header("x-request-id", "spoofed-by-a-client")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "spoofed-by-a-client");

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("edge-7f3a-0001") && logs.contains("battle created"),
        "the battle's log lines carry its request id"
    );
    for (what, secret) in [
        ("the prompt", prompt),
        ("the answer", answer.as_str()),
        ("the password", password),
        ("the session token", session.as_str()),
        ("the API token", token.as_str()),
    ] {
        assert!(!logs.contains(secret), "{what} is in the logs");
    }
}
