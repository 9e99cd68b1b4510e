//! Test harness: the real app on port 0, a fresh Postgres database per test, and either the
//! built-in worker or a scripted fake one (for remote failure modes).
#![allow(dead_code)]

use arena_core::config::{EndpointSeed, ModelSeed, Settings};
use arena_server::Application;
use futures::StreamExt;
use std::path::Path;
use std::time::Duration;

pub struct TestApp {
    pub url: String,
    /// The Prometheus scrape's base URL (`server.metrics_listen`), when the test turned it on.
    pub metrics_url: Option<String>,
    pub pool: sqlx::PgPool,
    pub arena: arena_core::Arena,
    pub database: String,
    stop: std::sync::Mutex<Option<Stopper>>,
}

/// What stops a test app (as SIGTERM does) and the task serving it.
type Stopper = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

/// A fresh database on the server named by DATABASE_URL (required: `make test` sets it).
pub async fn fresh_database() -> String {
    let base = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a Postgres server (make test starts one)");
    let name = format!("arena_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    format!("{prefix}/{name}")
}

pub fn model(key: &str, worker_url: &str, max_tokens: i32) -> ModelSeed {
    ModelSeed {
        key: key.to_owned(),
        display_name: format!("Display {key}"),
        organization: "Test Org".into(),
        license: "Apache-2.0".into(),
        description: String::new(),
        weight: 1.0,
        temperature: Some(0.7),
        top_p: None,
        max_tokens,
        system_prompt: Some("You are a helpful assistant.".into()),
        endpoints: vec![EndpointSeed {
            base_url: worker_url.to_owned(),
            upstream_model: "upstream-secret-name".into(),
            api_key: None,
            max_concurrency: 4,
        }],
    }
}

impl TestApp {
    pub async fn spawn(models: Vec<ModelSeed>) -> TestApp {
        Self::spawn_with(models, |_| {}).await
    }

    pub async fn spawn_with(models: Vec<ModelSeed>, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_on(fresh_database().await, models, tweak).await
    }

    /// The app on an existing database (several processes on one database).
    pub async fn spawn_on(
        database: String,
        models: Vec<ModelSeed>,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let mut settings = Settings::load(&dir).expect("default configuration");
        settings.database.url = arena_core::config::Secret::new(database.clone());
        settings.server.listen = "127.0.0.1:0".parse().unwrap();
        settings.models = models;
        settings.gateway.first_token_timeout_secs = 2;
        settings.gateway.idle_timeout_secs = 2;
        settings.gateway.connect_timeout_secs = 1;
        settings.gateway.queue_timeout_secs = 5;
        settings.gateway.health_interval_secs = 1;
        settings.arena.abandon_grace_secs = 1;
        settings.leaderboard.refresh_interval_ms = 100;
        settings.arena.instance_heartbeat_ms = 200;
        settings.arena.instance_lease_ms = 5000;
        tweak(&mut settings);
        let app = Application::build(settings).await.expect("app starts");
        let url = format!("http://{}", app.local_addr());
        let metrics_url = app.metrics_addr().map(|a| format!("http://{a}"));
        let arena = app.arena().clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stopped = tokio::spawn(app.run_until(async move {
            let _ = stop_rx.await;
        }));
        TestApp {
            url,
            metrics_url,
            pool: arena.pool.clone(),
            arena,
            database,
            stop: std::sync::Mutex::new(Some((stop_tx, stopped))),
        }
    }

    /// Stops the app as SIGTERM does; resolves when it has shut down.
    pub async fn stop(&self) -> std::io::Result<()> {
        let (tx, handle) = self.stop.lock().unwrap().take().expect("stopped once");
        let _ = tx.send(());
        handle.await.unwrap()
    }

    /// A browser-like client: keeps its session cookie.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap()
    }

    pub async fn create_battle(&self, client: &reqwest::Client, prompt: &str) -> String {
        let response = client
            .post(format!("{}/api/v1/battles", self.url))
            .json(&serde_json::json!({"prompt": prompt, "language": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: serde_json::Value = response.json().await.unwrap();
        self.accept_terms(client).await;
        body["battle_id"].as_str().unwrap().to_owned()
    }

    /// Accepts the current terms for the client's voter (a vote needs them).
    pub async fn accept_terms(&self, client: &reqwest::Client) {
        let response = client
            .post(format!("{}/api/v1/terms/accept", self.url))
            .json(&serde_json::json!({ "version": arena_domain::terms::TERMS_VERSION }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    }

    /// Reads the SSE stream to its end: (raw bytes, parsed (event, data) pairs).
    pub async fn read_stream(
        &self,
        client: &reqwest::Client,
        battle: &str,
    ) -> (String, Vec<(String, serde_json::Value)>) {
        let response = client
            .get(format!("{}/api/v1/battles/{battle}/stream", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut raw = String::new();
        let mut body = response.bytes_stream();
        let read = async {
            while let Some(chunk) = body.next().await {
                raw.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            }
        };
        tokio::time::timeout(Duration::from_secs(120), read)
            .await
            .expect("the stream ends once both sides ended");
        (raw.clone(), parse_sse(&raw))
    }

    pub async fn vote(
        &self,
        client: &reqwest::Client,
        battle: &str,
        winner: &str,
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = client
            .post(format!("{}/api/v1/battles/{battle}/vote", self.url))
            .json(&serde_json::json!({ "winner": winner }));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// `GET path` with a fresh client: the page's HTML (whatever the status).
    pub async fn get_html(&self, path: &str) -> String {
        self.client()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET path` as `client`: the status and the JSON body.
    pub async fn get_json(&self, client: &reqwest::Client, path: &str) -> (u16, serde_json::Value) {
        let response = client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Waits until no generation is running and no worker slot is held.
    pub async fn assert_nothing_left_running(&self) {
        for _ in 0..100 {
            let busy = self.arena.gateway.status().iter().any(|s| s.in_flight > 0);
            if self.arena.live.is_empty() && !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "still running: {} live turns, gateway {:?}",
            self.arena.live.len(),
            self.arena.gateway.status()
        );
    }
}

pub fn parse_sse(raw: &str) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for block in raw.split("\n\n") {
        let mut event = None;
        let mut data = None;
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = Some(e.trim().to_owned());
            } else if let Some(d) = line.strip_prefix("data:") {
                data = serde_json::from_str(d.trim()).ok();
            }
        }
        if let (Some(e), Some(d)) = (event, data) {
            out.push((e, d));
        }
    }
    out
}

pub fn text_of(events: &[(String, serde_json::Value)], side: &str) -> String {
    events
        .iter()
        .filter(|(e, d)| e == "delta" && d["side"] == side)
        .map(|(_, d)| d["text"].as_str().unwrap().to_owned())
        .collect()
}

/// A browser signed in as a new account `username` with `role` (password `PASSWORD`).
pub const PASSWORD: &str = "correct horse battery";

pub async fn signed_in_as(app: &TestApp, username: &str, role: &str) -> reqwest::Client {
    app.arena
        .accounts
        .create_admin(username, PASSWORD)
        .await
        .unwrap();
    sqlx::query("update app_user set role = $2 where username = $1")
        .bind(username)
        .bind(role)
        .execute(&app.pool)
        .await
        .unwrap();
    let client = app.client();
    let r = client
        .post(format!("{}/api/v1/account/signin", app.url))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    client
}
