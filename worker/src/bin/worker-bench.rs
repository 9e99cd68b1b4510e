//! `worker-bench`: tokens/s and time to first token of the built-in worker on this machine,
//! for one stream and two concurrent streams, Q8_0 (requantized, the default) against the
//! GGUF's own Q4_1 as the baseline, measured in the same run. Prints a table with ratios.

use arena_worker::{WorkerConfig, build};
use futures::StreamExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const TOKENS: u32 = 128;

struct Run {
    ttft: Duration,
    tokens_per_sec: f64,
}

async fn one_stream(url: &str, seed: u64) -> Run {
    let body = serde_json::json!({
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        "max_tokens": TOKENS, "temperature": 0.8, "seed": seed, "stream": true,
        "stream_options": {"include_usage": true}
    });
    let start = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let mut stream = response.bytes_stream();
    let mut ttft = None;
    let mut tokens = 0u64;
    let mut buf = String::new();
    while let Some(chunk) = stream.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        if ttft.is_none() && buf.contains("\"content\":\"") && buf.matches("data:").count() > 1 {
            ttft = Some(start.elapsed());
        }
        if let Some(i) = buf.find("\"completion_tokens\":") {
            let rest = &buf[i + 20..];
            let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            tokens = n.parse().unwrap_or(0);
        }
    }
    let total = start.elapsed();
    let ttft = ttft.unwrap_or(total);
    let decode = (total - ttft).as_secs_f64().max(1e-9);
    Run {
        ttft,
        tokens_per_sec: tokens.saturating_sub(1) as f64 / decode,
    }
}

async fn measure(requantize: bool, path: PathBuf) -> (Run, Run) {
    let mut config = WorkerConfig::new(path, "127.0.0.1:0".parse().unwrap());
    config.no_requantize = !requantize;
    let worker = build(config).await.expect("worker");
    let url = format!("http://{}", worker.local_addr());
    tokio::spawn(worker.run());
    let client = reqwest::Client::new();
    loop {
        if client
            .get(format!("{url}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _warm = one_stream(&url, 0).await;
    let single = one_stream(&url, 1).await;
    let (a, b) = tokio::join!(one_stream(&url, 2), one_stream(&url, 3));
    let pair = Run {
        ttft: (a.ttft + b.ttft) / 2,
        tokens_per_sec: a.tokens_per_sec + b.tokens_per_sec,
    };
    (single, pair)
}

fn main() {
    // One compute thread, as the worker's default (candle reads its thread count from the env).
    if let Some(e) = arena_worker::reexec_with_compute_threads(1) {
        eprintln!("cannot re-execute with CANDLE_NUM_THREADS set: {e}");
    }
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(bench());
}

async fn bench() {
    let path = std::env::var_os("ARENA_WORKER_MODEL_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".local/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-model.sh",
        path.display()
    );
    println!(
        "measuring {TOKENS}-token answers (after a warm-up), candle on {} thread(s) …",
        arena_worker::candle_threads()
    );
    let (base_single, base_pair) = measure(false, path.clone()).await;
    let (q8_single, q8_pair) = measure(true, path).await;
    println!();
    println!(
        "| weights | streams | tokens/s (total) | ratio to Q4_1 | time to first token | ratio to Q4_1 |"
    );
    println!("|---|---|---|---|---|---|");
    let rows = [
        ("Q4_1 (baseline)", "1", &base_single, &base_single),
        ("Q4_1 (baseline)", "2", &base_pair, &base_pair),
        ("Q8_0 (requantized)", "1", &q8_single, &base_single),
        ("Q8_0 (requantized)", "2", &q8_pair, &base_pair),
    ];
    for (name, streams, run, base) in rows {
        println!(
            "| {name} | {streams} | {:.1} | {:.2}× | {:.0} ms | {:.2}× |",
            run.tokens_per_sec,
            run.tokens_per_sec / base.tokens_per_sec,
            run.ttft.as_secs_f64() * 1000.0,
            run.ttft.as_secs_f64() / base.ttft.as_secs_f64(),
        );
    }
}
