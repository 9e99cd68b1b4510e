//! A scripted OpenAI-compatible worker: answers every chat request with `tokens` words after
//! `first_token_ms`, one every `token_delay_ms`, so that the arena's own costs can be measured
//! with the model's speed out of the picture. Its failure modes (hang, reset, garbage, slow) are
//! the remote failures `make chaos` throws at the arena.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::{Args, ValueEnum};
use std::io;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Answers in full.
    Normal,
    /// Sends the response headers, then nothing.
    Hang,
    /// Sends half the tokens, then drops the connection.
    Reset,
    /// Sends a chunk that is not JSON after the first token.
    Garbage,
    /// Answers in full, 250 ms a token.
    Slow,
    /// Ignores max_tokens: streams 50 MB of text in 16 KiB deltas, as fast as it is read.
    Flood,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// Tokens per answer (at most the request's max_tokens).
    #[arg(long, default_value_t = 16)]
    pub tokens: u32,
    /// Delay before the first token, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub first_token_ms: u64,
    /// Delay between tokens, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub token_delay_ms: u64,
    #[arg(long, value_enum, default_value_t = Mode::Normal)]
    pub mode: Mode,
}

struct Script {
    args: WorkerArgs,
}

pub async fn run(args: WorkerArgs) -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    eprintln!(
        "[worker] {:?} on http://{} ({} tokens, first after {} ms, then every {} ms)",
        args.mode,
        listener.local_addr()?,
        args.tokens,
        args.first_token_ms,
        args.token_delay_ms
    );
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::new(Script { args }));
    // Tokens are small writes: no Nagle delay, as real inference servers do.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

async fn models() -> Response {
    axum::Json(serde_json::json!({"object": "list",
        "data": [{"id": "scripted", "object": "model"}]}))
    .into_response()
}

fn chunk(content: Option<&str>, finish: Option<&str>) -> Bytes {
    let delta = match content {
        Some(c) => serde_json::json!({"content": c}),
        None => serde_json::json!({"role": "assistant"}),
    };
    let body = serde_json::json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk",
        "model": "scripted", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    Bytes::from(format!("data: {body}\n\n"))
}

async fn completions(State(script): State<Arc<Script>>, body: Bytes) -> Response {
    let request: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let max = request
        .get("max_tokens")
        .and_then(|v| v.as_u64())
        .unwrap_or(u64::MAX);
    let tokens = u64::from(script.args.tokens).min(max) as usize;
    let stream = request
        .get("stream")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let args = script.args.clone();
    if !stream {
        tokio::time::sleep(Duration::from_millis(args.first_token_ms)).await;
        let text: String = (0..tokens).map(word).collect();
        return axum::Json(
            serde_json::json!({"id": "chatcmpl-scripted", "object": "chat.completion",
            "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": tokens,
                      "total_tokens": 8 + tokens}}),
        )
        .into_response();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(4);
    tokio::spawn(async move {
        let delay = match args.mode {
            Mode::Slow => 250,
            _ => args.token_delay_ms,
        };
        if tx.send(Ok(chunk(None, None))).await.is_err() {
            return;
        }
        if args.mode == Mode::Flood {
            let delta = "x".repeat(16 << 10);
            for _ in 0..(50usize << 20) / delta.len() {
                if tx.send(Ok(chunk(Some(&delta), None))).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(Ok(chunk(None, Some("stop")))).await;
            let _ = tx.send(Ok(Bytes::from("data: [DONE]\n\n"))).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(args.first_token_ms)).await;
        for i in 0..tokens {
            if i > 0 && delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            match args.mode {
                Mode::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                Mode::Reset if i == tokens / 2 => {
                    let _ = tx.send(Err(io::Error::other("reset"))).await;
                    return;
                }
                Mode::Garbage if i == 1 => {
                    let _ = tx.send(Ok(Bytes::from("data: {garbage\n\n"))).await;
                }
                _ => {}
            }
            if tx.send(Ok(chunk(Some(&word(i)), None))).await.is_err() {
                return;
            }
        }
        let usage = serde_json::json!({"choices": [], "usage": {"prompt_tokens": 8,
            "completion_tokens": tokens, "total_tokens": 8 + tokens}});
        for piece in [
            chunk(None, Some("stop")),
            Bytes::from(format!("data: {usage}\n\n")),
            Bytes::from("data: [DONE]\n\n"),
        ] {
            if tx.send(Ok(piece)).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(tokio_stream(rx)))
        .expect("static response parts")
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The i-th word of every answer: plain words, so no identity filter trips on them.
fn word(i: usize) -> String {
    const WORDS: [&str; 8] = [
        "The", " quick", " brown", " fox", " jumps", " over", " the", " dog.",
    ];
    if i < WORDS.len() {
        WORDS[i].to_owned()
    } else {
        WORDS[i % WORDS.len()].to_lowercase()
    }
}
