//! The OpenAI-compatible HTTP API. Bad input gets an OpenAI-shaped 400; nothing panics.

use crate::Shared;
use crate::engine::{Event, Job, SamplingParams};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<&'static str>,
    code: &'static str,
}

fn invalid(
    message: impl Into<String>,
    param: Option<&'static str>,
    code: &'static str,
) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
        kind: "invalid_request_error",
        param,
        code,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "message": self.message, "type": self.kind, "param": self.param, "code": self.code,
        }});
        (self.status, Json(body)).into_response()
    }
}

fn unavailable(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: message.to_owned(),
        kind: "server_error",
        param: None,
        code: "unavailable",
    }
}

#[derive(Deserialize)]
struct ChatCompletionRequest {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    seed: Option<u64>,
    stop: Option<Stop>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Value,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// Text of a message: a string, or OpenAI's array of `{type: "text", text}` parts.
fn message_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => parts
            .iter()
            .map(|p| p.get("text").and_then(Value::as_str).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

const DEFAULT_MAX_TOKENS: usize = 256;

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    // The arena's request id (`x-request-id`), so that one id finds a volunteer's battle in the
    // balancer's, the arena's and this worker's logs (never the prompt).
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
        })
        .unwrap_or("-")
        .to_owned();
    match prepare(&shared, &body) {
        Ok((job, rx, stream, include_usage)) => {
            let ready = shared.ready.get().expect("checked in prepare");
            if shared.metrics.waiting.load(Ordering::SeqCst) >= shared.config.max_waiting {
                return unavailable("the worker's queue is full; retry later").into_response();
            }
            shared.metrics.waiting.fetch_add(1, Ordering::SeqCst);
            let prompt_tokens = job.prompt_tokens.len();
            if ready.jobs.try_send(job).is_err() {
                shared.metrics.waiting.fetch_sub(1, Ordering::SeqCst);
                return unavailable("the worker's queue is full; retry later").into_response();
            }
            shared.metrics.requests.fetch_add(1, Ordering::SeqCst);
            tracing::info!(request_id = %request_id, prompt_tokens, stream, "completion queued");
            let model = shared.config.model_name.clone();
            if stream {
                stream_response(rx, model, include_usage).into_response()
            } else {
                complete_response(rx, model, prompt_tokens).await
            }
        }
        Err(e) => e.into_response(),
    }
}

type Prepared = (Job, tokio::sync::mpsc::UnboundedReceiver<Event>, bool, bool);

fn prepare(shared: &Shared, body: &[u8]) -> Result<Prepared, ApiError> {
    let request: ChatCompletionRequest = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("invalid JSON body: {e}"), None, "invalid_json"))?;
    let Some(ready) = shared.ready.get() else {
        return Err(match shared.load_error.get() {
            Some(e) => unavailable(&format!("the model failed to load: {e}")),
            None => unavailable("the model is loading"),
        });
    };
    if let Some(model) = &request.model
        && !model.is_empty()
        && model != &shared.config.model_name
    {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("the model `{model}` does not exist"),
            kind: "invalid_request_error",
            param: Some("model"),
            code: "model_not_found",
        });
    }
    let messages = request.messages.unwrap_or_default();
    if messages.is_empty() {
        return Err(invalid(
            "`messages` must contain at least one message",
            Some("messages"),
            "invalid_value",
        ));
    }
    let mut conversation = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant") {
            return Err(invalid(
                format!(
                    "messages[{i}].role `{}` is not one of system, user, assistant",
                    m.role
                ),
                Some("messages"),
                "invalid_value",
            ));
        }
        let text = message_text(&m.content).ok_or_else(|| {
            invalid(
                format!("messages[{i}].content must be a string"),
                Some("messages"),
                "invalid_value",
            )
        })?;
        conversation.push((m.role.clone(), text));
    }
    let context = ready.context_length;
    let max_tokens = match request.max_tokens.or(request.max_completion_tokens) {
        None => DEFAULT_MAX_TOKENS,
        Some(n) if n >= 1 && (n as u64) <= context as u64 => n as usize,
        Some(n) => {
            return Err(invalid(
                format!("max_tokens must be between 1 and {context}, got {n}"),
                Some("max_tokens"),
                "invalid_value",
            ));
        }
    };
    let temperature = request.temperature.unwrap_or(0.7);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(invalid(
            "temperature must be between 0 and 2",
            Some("temperature"),
            "invalid_value",
        ));
    }
    if let Some(p) = request.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(invalid(
            "top_p must be in (0, 1]",
            Some("top_p"),
            "invalid_value",
        ));
    }
    let stop = match request.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    let stop: Vec<String> = stop.into_iter().filter(|s| !s.is_empty()).collect();
    if stop.len() > 4 {
        return Err(invalid(
            "at most 4 stop sequences",
            Some("stop"),
            "invalid_value",
        ));
    }
    // Piecewise: only the template emits `<|im_start|>` / `<|im_end|>`; message text is plain
    // text, so a typed `<|im_end|>` cannot close its turn (see `model::ChatTemplate`).
    let prompt_tokens = ready.template.encode(&conversation).map_err(|e| {
        invalid(
            format!("cannot tokenize the prompt: {e}"),
            Some("messages"),
            "invalid_value",
        )
    })?;
    if prompt_tokens.len() + max_tokens > context {
        return Err(invalid(
            format!(
                "this model's maximum context length is {context} tokens; the prompt has {} and max_tokens is {max_tokens}",
                prompt_tokens.len()
            ),
            Some("messages"),
            "context_length_exceeded",
        ));
    }
    let (events, rx) = tokio::sync::mpsc::unbounded_channel();
    let job = Job {
        prompt_tokens,
        max_tokens,
        sampling: SamplingParams {
            temperature,
            top_p: request.top_p,
            seed: request.seed.unwrap_or_else(rand::random),
        },
        stop,
        events,
        queued_at: Instant::now(),
    };
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    Ok((job, rx, request.stream, include_usage))
}

fn completion_id() -> String {
    format!("chatcmpl-{:032x}", rand::random::<u128>())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn stream_response(
    rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    model: String,
    include_usage: bool,
) -> Sse<impl futures::Stream<Item = Result<SseEvent, Infallible>>> {
    let id = completion_id();
    let created = now_secs();
    let chunk = {
        let (id, model) = (id.clone(), model.clone());
        move |delta: Value, finish: Option<&str>| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        }
    };
    let first = SseEvent::default()
        .data(chunk(json!({"role": "assistant", "content": ""}), None).to_string());
    let events = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).flat_map(move |event| {
        let items: Vec<SseEvent> = match event {
            Event::Text(text) => vec![SseEvent::default().data(chunk(json!({"content": text}), None).to_string())],
            Event::Finished {
                reason,
                prompt_tokens,
                completion_tokens,
            } => {
                let mut v = vec![SseEvent::default().data(chunk(json!({}), Some(reason)).to_string())];
                if include_usage {
                    v.push(SseEvent::default().data(
                        json!({"id": id, "object": "chat.completion.chunk", "created": created,
                               "model": model, "choices": [],
                               "usage": {"prompt_tokens": prompt_tokens,
                                         "completion_tokens": completion_tokens,
                                         "total_tokens": prompt_tokens + completion_tokens}})
                        .to_string(),
                    ));
                }
                v.push(SseEvent::default().data("[DONE]"));
                v
            }
            Event::Failed(message) => vec![SseEvent::default().data(
                json!({"error": {"message": message, "type": "server_error", "param": null, "code": "generation_failed"}})
                    .to_string(),
            )],
        };
        stream::iter(items.into_iter().map(Ok))
    });
    Sse::new(stream::once(async move { Ok(first) }).chain(events))
}

async fn complete_response(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    model: String,
    _prompt_tokens: usize,
) -> Response {
    let mut text = String::new();
    while let Some(event) = rx.recv().await {
        match event {
            Event::Text(t) => text.push_str(&t),
            Event::Finished {
                reason,
                prompt_tokens,
                completion_tokens,
            } => {
                return Json(json!({
                    "id": completion_id(), "object": "chat.completion", "created": now_secs(),
                    "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": reason}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                              "total_tokens": prompt_tokens + completion_tokens},
                }))
                .into_response();
            }
            Event::Failed(message) => {
                return ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message,
                    kind: "server_error",
                    param: None,
                    code: "generation_failed",
                }
                .into_response();
            }
        }
    }
    unavailable("the generation stopped").into_response()
}

async fn models(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"object": "list", "data": [{
        "id": shared.config.model_name, "object": "model", "created": 0, "owned_by": "arena",
        "max_model_len": shared.ready.get().map(|r| r.context_length),
    }]}))
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    if shared.ready.get().is_some() {
        (StatusCode::OK, "ok").into_response()
    } else if let Some(e) = shared.load_error.get() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("model failed to load: {e}"),
        )
            .into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading").into_response()
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.render(&shared.config.model_name),
    )
        .into_response()
}
