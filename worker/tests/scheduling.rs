//! Scheduling against the real model, on a worker of its own (no other test shares its slots):
//! two streams advance side by side, a client that leaves stops its generation at once, and a
//! sequence's clone of the weights is cheap (tensors shared, not copied).

use futures::StreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

async fn start_worker() -> String {
    let mut config = arena_worker::WorkerConfig::new(model_path(), "127.0.0.1:0".parse().unwrap());
    config.max_running = 2;
    config.max_waiting = 4;
    let worker = arena_worker::build(config).await.unwrap();
    let url = format!("http://{}", worker.local_addr());
    tokio::spawn(worker.run());
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{url}/health")).send().await
            && r.status() == 200
        {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the worker never became healthy");
}

async fn metric(url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
}

fn stream_body(prompt: &str, max_tokens: u32) -> Value {
    json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
           "temperature": 0, "stream": true})
}

/// Times of the first content delta and of the end of one stream, and its raw text.
async fn timed_stream(url: &str, body: Value, t0: Instant) -> (Duration, Duration, String) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut buf = String::new();
    let mut first = None;
    while let Some(chunk) = stream.next().await {
        buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        if first.is_none() && buf.matches("\"content\":\"").count() > 1 {
            first = Some(t0.elapsed());
        }
    }
    assert!(buf.trim_end().ends_with("data: [DONE]"), "{buf}");
    (first.expect("no content"), t0.elapsed(), buf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling() {
    let url = start_worker().await;

    // Two streams run interleaved: each gets its first token before the other finishes.
    let t0 = Instant::now();
    let (a, b) = tokio::join!(
        timed_stream(&url, stream_body("Describe the sea.", 32), t0),
        timed_stream(&url, stream_body("Describe a forest.", 32), t0),
    );
    assert!(a.0 < b.1 && b.0 < a.1, "not interleaved: {a:?} {b:?}");

    // A client that leaves mid-stream stops its generation.
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&stream_body(
            "Write a very long essay about the ocean.",
            4000,
        ))
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut deltas = 0;
    while deltas < 4 {
        let chunk = stream.next().await.unwrap().unwrap();
        deltas += std::str::from_utf8(&chunk)
            .unwrap()
            .matches("\"content\":\"")
            .count();
    }
    assert_eq!(metric(&url, "arena_worker_requests_running").await, 1.0);
    drop(stream);
    let left = Instant::now();
    while metric(&url, "arena_worker_requests_running").await != 0.0 {
        assert!(
            left.elapsed() < Duration::from_secs(5),
            "the abandoned generation kept running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tokens = metric(&url, "arena_worker_generated_tokens_total").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        metric(&url, "arena_worker_generated_tokens_total").await,
        tokens,
        "tokens still generated after the client left"
    );
    // 2×32 tokens above, a few for the abandoned stream: far from its 4000.
    assert!(tokens < 200.0, "{tokens} tokens generated");
    assert_eq!(metric(&url, "arena_worker_requests_waiting").await, 0.0);

    // The worker still answers.
    let (_, _, text) = timed_stream(&url, stream_body("Hi", 8), Instant::now()).await;
    assert!(text.contains("\"finish_reason\""));
}

#[test]
fn a_sequence_clone_of_the_weights_is_cheap() {
    let loaded = arena_worker::model::load(&model_path(), true).unwrap();
    let started = Instant::now();
    let clones: Vec<_> = (0..100).map(|_| loaded.weights.clone()).collect();
    let elapsed = started.elapsed();
    drop(clones);
    // Copying ~140 MB of Q8_0 weights 100 times would take seconds; sharing takes microseconds.
    assert!(
        elapsed < Duration::from_millis(100),
        "100 clones took {elapsed:?}"
    );
}
