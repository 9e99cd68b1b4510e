//! A scripted fake OpenAI-compatible worker: a test double for the failure modes of remote
//! workers only (hangs, resets, garbage, slowness, error statuses). Enabled by the
//! `fake-worker` feature, for tests.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Mode {
    Normal,
    /// Sends the response headers, then nothing.
    HangBeforeFirst,
    /// Sends `n` deltas, then drops the connection without finishing.
    ResetAfter(usize),
    /// Sends a chunk that is not JSON.
    Malformed,
    /// Answers with this status and body.
    Status(u16, &'static str),
    /// Sends `n` deltas, then goes silent.
    IdleAfter(usize),
    /// Sends every chunk after this delay.
    Slow(u64),
}

pub struct Fake {
    pub mode: Mutex<Mode>,
    pub health: AtomicU16,
    pub requests: AtomicUsize,
    pub open_streams: Arc<AtomicUsize>,
    pub last_body: Mutex<Option<serde_json::Value>>,
}

/// Decrements the open-stream count when the response body is dropped (the client left).
struct Open(Arc<AtomicUsize>);
impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn chunk(content: Option<&str>, finish: Option<&str>) -> String {
    let delta = match content {
        Some(c) => serde_json::json!({"content": c}),
        None => serde_json::json!({"role": "assistant"}),
    };
    format!(
        "data: {}\n\n",
        serde_json::json!({"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

async fn completions(State(fake): State<Arc<Fake>>, body: String) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    *fake.last_body.lock().unwrap() = serde_json::from_str(&body).ok();
    let mode = fake.mode.lock().unwrap().clone();
    if let Mode::Status(code, body) = mode {
        return (StatusCode::from_u16(code).unwrap(), body.to_owned()).into_response();
    }
    fake.open_streams.fetch_add(1, Ordering::SeqCst);
    let guard = Open(Arc::clone(&fake.open_streams));
    let words = ["Hello", " there", ", friend", "!"];
    let stream = async_stream(mode, words.iter().map(|w| w.to_string()).collect(), guard);
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn async_stream(
    mode: Mode,
    words: Vec<String>,
    guard: Open,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> {
    futures::stream::unfold((0usize, guard), move |(step, guard)| {
        let mode = mode.clone();
        let words = words.clone();
        async move {
            let delay = match mode {
                Mode::Slow(ms) => ms,
                _ => 5,
            };
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let n = words.len();
            let item = match (&mode, step) {
                (Mode::HangBeforeFirst, _) => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return None;
                }
                (_, 0) => Ok(chunk(None, None)),
                (Mode::Malformed, 1) => Ok("data: {not json\n\n".to_owned()),
                (Mode::ResetAfter(k), s) if s == k + 1 => Err(std::io::Error::other("reset")),
                (Mode::IdleAfter(k), s) if s == k + 1 => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return None;
                }
                (_, s) if s <= n => Ok(chunk(Some(&words[s - 1]), None)),
                (_, s) if s == n + 1 => Ok(chunk(None, Some("stop"))),
                (_, s) if s == n + 2 => Ok(format!(
                    "data: {}\n\n",
                    serde_json::json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": 7 + n}})
                )),
                (_, s) if s == n + 3 => Ok("data: [DONE]\n\n".to_owned()),
                _ => return None,
            };
            Some((item, (step + 1, guard)))
        }
    })
}

async fn health(State(fake): State<Arc<Fake>>) -> StatusCode {
    StatusCode::from_u16(fake.health.load(Ordering::SeqCst)).unwrap()
}

/// Starts a fake worker on a free port; returns its state and base URL.
pub async fn spawn_fake(mode: Mode) -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake {
        mode: Mutex::new(mode),
        health: AtomicU16::new(200),
        requests: AtomicUsize::new(0),
        open_streams: Arc::new(AtomicUsize::new(0)),
        last_body: Mutex::new(None),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/health", get(health))
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, url)
}

impl Fake {
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
    pub fn set_health(&self, status: u16) {
        self.health.store(status, Ordering::SeqCst);
    }
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    /// Responses still being streamed (a client that left is counted out).
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::SeqCst)
    }
}
