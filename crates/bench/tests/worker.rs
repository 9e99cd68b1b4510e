//! The scripted worker of `make bench` / `make chaos` speaks the OpenAI streaming format the
//! gateway reads, and misbehaves exactly as its modes say.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Worker {
    child: Child,
    url: String,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(mode: &str) -> Worker {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_arena-bench"))
        .args([
            "worker",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tokens",
            "6",
        ])
        .args(["--mode", mode])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/health")).await.is_ok() {
            return Worker { child, url };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the scripted worker did not start");
}

/// The streamed body, or the error that cut it.
async fn chat(url: &str, max_tokens: u32) -> Result<String, String> {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(
            &serde_json::json!({"model": "scripted", "stream": true, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    response.text().await.map_err(|e| e.to_string())
}

fn contents(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn normal_mode_streams_the_tokens_asked_for_then_usage_and_done() {
    let worker = start("normal").await;
    let body = chat(&worker.url, 100).await.unwrap();
    assert_eq!(contents(&body).concat(), "The quick brown fox jumps over");
    assert!(body.contains("\"finish_reason\":\"stop\""));
    assert!(body.contains("\"completion_tokens\":6"));
    assert!(body.trim_end().ends_with("data: [DONE]"));
    // max_tokens caps the answer.
    assert_eq!(contents(&chat(&worker.url, 2).await.unwrap()).len(), 2);
}

#[tokio::test]
async fn failure_modes_cut_garble_or_stall_the_stream() {
    let reset = start("reset").await;
    assert!(
        chat(&reset.url, 100).await.is_err(),
        "reset drops the connection"
    );
    let garbage = start("garbage").await;
    let body = chat(&garbage.url, 100).await.unwrap();
    assert!(body.contains("data: {garbage"));
    let hang = start("hang").await;
    let err = chat(&hang.url, 100).await.unwrap_err();
    assert!(
        err.contains("timed out") || err.contains("error decoding"),
        "{err}"
    );
}
