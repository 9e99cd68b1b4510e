//! A battle end to end through the API with the real built-in model (SmolLM2 on CPU).

use crate::common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

fn model_path() -> PathBuf {
    let path = std::env::var_os("ARENA_WORKER_MODEL_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.local/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-model.sh",
        path.display()
    );
    path
}

/// The built-in worker's binary, as `cargo test --workspace` builds it (the worker crate's own
/// integration tests need it): beside this test binary's `deps/` folder. Spawned as a process so
/// that this test binary does not link candle (minutes of every server rebuild's link).
fn worker_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ARENA_WORKER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join(format!("arena-worker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p arena-worker` (make test's `cargo test --workspace` \
         builds it), or set ARENA_WORKER_BIN",
        path.display()
    );
    path
}

/// The real worker in its own process, killed when dropped.
struct Worker {
    child: std::process::Child,
    url: String,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_worker() -> Worker {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(worker_binary())
        .env("ARENA_WORKER_MODEL_PATH", model_path())
        .env("ARENA_WORKER_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Worker {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

#[tokio::test]
async fn a_real_battle_with_two_turns() {
    let worker_process = start_worker();
    let worker = worker_process.url.clone();
    let client = reqwest::Client::new();
    for _ in 0..240 {
        if client
            .get(format!("{worker}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The worker answers only to the model name it serves, as vLLM and llama.cpp do.
    let served = |key: &str| {
        let mut seed = model(key, &worker, 24);
        seed.endpoints[0].upstream_model = "smollm2-135m-instruct".into();
        seed
    };
    let app = TestApp::spawn_with(vec![served("smol-cold"), served("smol-warm")], |s| {
        s.gateway.first_token_timeout_secs = 60;
        s.gateway.idle_timeout_secs = 30;
    })
    .await;
    // The health poller needs a moment to see the worker.
    for _ in 0..50 {
        if app.arena.gateway.any_healthy() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let voter = app.client();
    let battle = app.create_battle(&voter, "Name three colours.").await;
    let (_, events) = app.read_stream(&voter, &battle).await;
    assert!(!text_of(&events, "a").is_empty(), "{events:?}");
    assert!(!text_of(&events, "b").is_empty(), "{events:?}");
    assert_eq!(
        events.iter().filter(|(e, _)| e == "done").count(),
        2,
        "{events:?}"
    );
    let (status, reveal) = app.vote(&voter, &battle, "model_b", Some("real-1")).await;
    assert_eq!(status, 200, "{reveal}");

    let r = voter
        .post(format!("{}/api/v1/battles/{battle}/turns", app.url))
        .json(&serde_json::json!({"prompt": "And three animals?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, events) = app.read_stream(&voter, &battle).await;
    assert_eq!(events.iter().filter(|(e, _)| e == "done").count(), 2);
    let (status, _) = app.vote(&voter, &battle, "tie", Some("real-2")).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.count(
            "select count(*) from answer where status = 'done' and completion_tokens > 0
             and ttft_ms > 0 and prompt_tokens > 0"
        )
        .await,
        4
    );
    app.assert_nothing_left_running().await;
}
