//! A scripted fake OpenAI-compatible worker: a test double for the failure modes of remote
//! workers only (hangs, resets, garbage, slowness, error statuses, going down). Enabled by the
//! `fake-worker` feature, for tests (this crate's and the server's).
//!
//! It counts open response streams and open TCP connections, so tests can check that the
//! gateway closes what it opens.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The words of every scripted answer.
pub const WORDS: [&str; 4] = ["Hello", " there", ", friend", "!"];

#[derive(Clone, Debug)]
pub enum Mode {
    /// Role chunk, the four [`WORDS`], a finish_reason chunk, a usage chunk, `[DONE]`.
    Normal,
    /// Sends the response headers, then nothing.
    HangBeforeFirst,
    /// Accepts the request and never answers, not even headers.
    HangBeforeHeaders,
    /// Sends `n` deltas, then drops the connection without finishing.
    ResetAfter(usize),
    /// Sends a chunk that is not JSON after the role chunk.
    Malformed,
    /// Sends `n` deltas, then a chunk that is not JSON.
    MalformedAfter(usize),
    /// Sends `n` deltas, then `data: {"error": …}` with this body.
    ErrorAfter(usize, &'static str),
    /// Answers with this status and body.
    Status(u16, &'static str),
    /// Sends `n` deltas, then goes silent.
    IdleAfter(usize),
    /// Sends every chunk after this delay (ms).
    Slow(u64),
    /// Sends these exact body pieces, 5 ms apart, then closes.
    Raw(Vec<String>),
    /// Ignores `max_tokens`: streams `total` bytes of text in deltas of `delta` bytes as fast as
    /// the client reads, then finishes with `stop`.
    Flood { total: usize, delta: usize },
}

pub struct Fake {
    pub mode: Mutex<Mode>,
    /// Status `/health` answers (404 makes the gateway fall back to `/v1/models`).
    pub health: AtomicU16,
    /// Status `/v1/models` answers.
    pub models_status: AtomicU16,
    pub health_requests: AtomicUsize,
    pub requests: AtomicUsize,
    /// Bytes of response bodies handed to the connection (what a client read, give or take the
    /// socket buffers).
    pub sent_bytes: Arc<AtomicUsize>,
    pub open_streams: Arc<AtomicUsize>,
    pub open_connections: Arc<AtomicUsize>,
    pub last_body: Mutex<Option<serde_json::Value>>,
    pub last_authorization: Mutex<Option<String>>,
    /// The `x-request-id` of every completion request, in order.
    pub request_ids: Mutex<Vec<String>>,
    addr: SocketAddr,
    stop: CancellationToken,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Decrements a count when dropped (a response body or a connection went away).
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Open(Arc::clone(counter))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A TCP connection that is counted while open.
struct CountedStream {
    stream: TcpStream,
    _open: Open,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

struct CountingListener {
    listener: TcpListener,
    open: Arc<AtomicUsize>,
}

impl axum::serve::Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((stream, addr)) = self.listener.accept().await {
                let open = Open::new(&self.open);
                return (
                    CountedStream {
                        stream,
                        _open: open,
                    },
                    addr,
                );
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
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

async fn completions(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    *fake.last_body.lock().unwrap() = serde_json::from_str(&body).ok();
    *fake.last_authorization.lock().unwrap() = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        fake.request_ids.lock().unwrap().push(id.to_owned());
    }
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        Mode::Status(code, body) => {
            return (StatusCode::from_u16(code).unwrap(), body.to_owned()).into_response();
        }
        Mode::HangBeforeHeaders => {
            let _open = Open::new(&fake.open_streams);
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        _ => {}
    }
    let guard = Open::new(&fake.open_streams);
    let sent = Arc::clone(&fake.sent_bytes);
    let body = script(mode, guard).inspect(move |item| {
        if let Ok(piece) = item {
            sent.fetch_add(piece.len(), Ordering::SeqCst);
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap()
}

/// The body of [`Mode::Flood`]: a role chunk, `total` bytes of `x` in deltas, `stop`, `[DONE]`.
fn flood(total: usize, delta: usize, step: usize) -> Option<String> {
    let delta = delta.max(1);
    let deltas = total.div_ceil(delta);
    Some(match step {
        0 => chunk(None, None),
        s if s <= deltas => {
            let len = delta.min(total - (s - 1) * delta);
            chunk(Some(&"x".repeat(len)), None)
        }
        s if s == deltas + 1 => chunk(None, Some("stop")),
        s if s == deltas + 2 => "data: [DONE]\n\n".to_owned(),
        _ => return None,
    })
}

fn script(mode: Mode, guard: Open) -> impl futures::Stream<Item = Result<String, io::Error>> {
    futures::stream::unfold((0usize, guard), move |(step, guard)| {
        let mode = mode.clone();
        async move {
            if let Mode::Flood { total, delta } = mode {
                return Some((Ok(flood(total, delta, step)?), (step + 1, guard)));
            }
            let delay = match mode {
                Mode::Slow(ms) => ms,
                _ => 5,
            };
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let n = WORDS.len();
            let silence = || tokio::time::sleep(Duration::from_secs(3600));
            let item = match (&mode, step) {
                (Mode::Raw(pieces), s) => Ok(pieces.get(s)?.clone()),
                (Mode::HangBeforeFirst, _) => {
                    silence().await;
                    return None;
                }
                (_, 0) => Ok(chunk(None, None)),
                (Mode::Malformed, 1) => Ok("data: {not json\n\n".to_owned()),
                (Mode::MalformedAfter(k), s) if s == k + 1 => Ok("data: {not json\n\n".to_owned()),
                (Mode::ErrorAfter(k, body), s) if s == k + 1 => Ok(format!("data: {body}\n\n")),
                (Mode::ErrorAfter(k, _), s) if s > k + 1 => return None,
                (Mode::ResetAfter(k), s) if s == k + 1 => Err(io::Error::other("reset")),
                (Mode::IdleAfter(k), s) if s == k + 1 => {
                    silence().await;
                    return None;
                }
                (_, s) if s <= n => Ok(chunk(Some(WORDS[s - 1]), None)),
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
    fake.health_requests.fetch_add(1, Ordering::SeqCst);
    StatusCode::from_u16(fake.health.load(Ordering::SeqCst)).unwrap()
}

async fn models(State(fake): State<Arc<Fake>>) -> Response {
    let status = StatusCode::from_u16(fake.models_status.load(Ordering::SeqCst)).unwrap();
    let body =
        serde_json::json!({"object": "list", "data": [{"id": "fake-model", "object": "model"}]});
    (status, axum::Json(body)).into_response()
}

/// Starts a fake worker on a free port; returns its state and base URL.
pub async fn spawn_fake(mode: Mode) -> (Arc<Fake>, String) {
    spawn_fake_at(mode, "127.0.0.1:0".parse().unwrap()).await
}

/// Starts a fake worker on `addr` (e.g. the address of one that was stopped, to bring it back).
pub async fn spawn_fake_at(mode: Mode, addr: SocketAddr) -> (Arc<Fake>, String) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Arc::new(Fake {
        mode: Mutex::new(mode),
        health: AtomicU16::new(200),
        models_status: AtomicU16::new(200),
        health_requests: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        sent_bytes: Arc::new(AtomicUsize::new(0)),
        open_streams: Arc::new(AtomicUsize::new(0)),
        open_connections: Arc::new(AtomicUsize::new(0)),
        last_body: Mutex::new(None),
        last_authorization: Mutex::new(None),
        request_ids: Mutex::new(Vec::new()),
        addr,
        stop: CancellationToken::new(),
        server: Mutex::new(None),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .with_state(Arc::clone(&fake));
    let listener = CountingListener {
        listener,
        open: Arc::clone(&fake.open_connections),
    };
    let stop = fake.stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .unwrap();
    });
    *fake.server.lock().unwrap() = Some(server);
    (fake, format!("http://{addr}"))
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
    /// Bytes of response bodies sent so far.
    pub fn sent_bytes(&self) -> usize {
        self.sent_bytes.load(Ordering::SeqCst)
    }
    /// Responses still being streamed (a client that left is counted out).
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::SeqCst)
    }
    /// TCP connections still open, idle keep-alive ones included.
    pub fn open_connections(&self) -> usize {
        self.open_connections.load(Ordering::SeqCst)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Stops accepting, closes idle connections, waits for running responses, and releases the
    /// port: afterwards, connecting is refused. Call it when no stream is running.
    pub async fn stop(&self) {
        self.stop.cancel();
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            let _ = server.await;
        }
    }
}
