//! Requests, events and errors of the gateway.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// A chat request; only the fields that are set are sent (older vLLM rejects unknown fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    Other(String),
}

impl FinishReason {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "stop" | "eos_token" | "stop_sequence" => FinishReason::Stop,
            "length" => FinishReason::Length,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    Delta(String),
    Finished {
        finish_reason: FinishReason,
        prompt_tokens: Option<u32>,
        completion_tokens: Option<u32>,
    },
}

/// The model key the arena uses (the `model.key` column), not the name sent upstream.
pub type ModelKey = String;

/// An API key that never prints: its `Debug` is `***` and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey(s)
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey(s.to_owned())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One OpenAI-compatible worker serving one model.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Stable id (the database's), reported back with each stream. Defaults to the base URL.
    pub id: String,
    /// e.g. `http://10.0.0.5:8000` (a trailing `/` or `/v1` is removed).
    pub base_url: String,
    /// The `model` field sent upstream.
    pub upstream_model: String,
    pub api_key: Option<ApiKey>,
    /// Requests this endpoint may serve at once (at least 1).
    pub max_concurrency: usize,
    /// Ask for `stream_options.include_usage` (some servers reject it). Default true.
    pub include_usage: bool,
}

impl EndpointConfig {
    pub fn new(base_url: impl Into<String>, upstream_model: impl Into<String>) -> Self {
        let base_url = normalize_base_url(&base_url.into());
        Self {
            id: base_url.clone(),
            base_url,
            upstream_model: upstream_model.into(),
            api_key: None,
            max_concurrency: 4,
            include_usage: true,
        }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    pub fn with_api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    pub fn with_max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = limit;
        self
    }

    pub fn with_include_usage(mut self, include_usage: bool) -> Self {
        self.include_usage = include_usage;
        self
    }

    pub(crate) fn limit(&self) -> usize {
        self.max_concurrency.max(1)
    }
}

fn normalize_base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    url.strip_suffix("/v1").unwrap_or(url).to_owned()
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub connect_timeout: Duration,
    /// From sending the request to the first text (or the end): retries happen only within it.
    pub first_token_timeout: Duration,
    /// Longest silence between two chunks once text flows.
    pub idle_timeout: Duration,
    /// Longest a whole completion may take, from the request to its end.
    pub total_timeout: Duration,
    /// Consecutive failures (polls or requests) before an endpoint leaves the pool.
    pub failure_threshold: u32,
    /// How long a request waits for a free slot when every healthy replica is busy.
    pub queue_timeout: Duration,
    /// Timeout of one health poll.
    pub health_timeout: Duration,
    /// Most bytes of answer text one completion may bring, whatever the worker sends: beyond
    /// it the stream is cut and finishes with `length` (and the endpoint counts one failure).
    /// The request's `max_tokens` is enforced the same way, counting each content chunk as at
    /// least one token.
    pub max_answer_bytes: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_token_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(300),
            failure_threshold: 3,
            queue_timeout: Duration::from_secs(30),
            health_timeout: Duration::from_secs(5),
            max_answer_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// No text (nor a finished answer) within `first_token_timeout` of sending the request.
    FirstToken,
    /// Silence longer than `idle_timeout` between two chunks.
    Idle,
    /// The whole answer took longer than `total_timeout`.
    Total,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::FirstToken => "waiting for the first token",
            TimeoutKind::Idle => "idle between chunks",
            TimeoutKind::Total => "total time exceeded",
        })
    }
}

/// Everything that can go wrong calling a worker. `Display` is for logs (it may name the
/// endpoint's URL, never its key); [`GatewayError::public_message`] is for end users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("unknown model {0}")]
    UnknownModel(ModelKey),
    #[error("no healthy endpoint for model {0}")]
    NoHealthyEndpoint(ModelKey),
    #[error("every endpoint of model {0} stayed busy")]
    QueueTimeout(ModelKey),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    /// A non-2xx answer, with the message read from its body.
    #[error("upstream answered {status}: {message}")]
    Upstream { status: u16, message: String },
    /// A `data: {"error": …}` event inside a stream that had started with 200.
    #[error("upstream reported an error mid-stream: {0}")]
    StreamError(String),
    #[error("timed out ({0})")]
    Timeout(TimeoutKind),
    /// The stream closed without a finish_reason (nor `[DONE]`).
    #[error("the stream ended before it finished")]
    Truncated,
    /// A chunk that is not the JSON (or SSE) the protocol promises.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl GatewayError {
    /// Whether another replica may succeed where this one failed. The gateway acts on it only
    /// before the first token: once text was emitted, nothing is retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            GatewayError::Connect { .. }
            | GatewayError::Timeout(TimeoutKind::FirstToken)
            | GatewayError::Truncated
            | GatewayError::Protocol(_) => true,
            GatewayError::Upstream { status, .. } => {
                *status == 408 || *status == 429 || *status >= 500
            }
            _ => false,
        }
    }

    /// Counts against the endpoint's health. Failures a user's request can cause on a healthy
    /// worker (4xx, 429 overload, a long answer hitting the total timeout, an error event) do
    /// not, so users cannot take workers out of the pool.
    pub(crate) fn is_endpoint_failure(&self) -> bool {
        match self {
            GatewayError::Connect { .. }
            | GatewayError::Timeout(TimeoutKind::FirstToken | TimeoutKind::Idle)
            | GatewayError::Truncated
            | GatewayError::Protocol(_) => true,
            GatewayError::Upstream { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// A message safe to show to end users: no URLs, keys, model names or upstream details.
    pub fn public_message(&self) -> String {
        match self {
            GatewayError::UnknownModel(_) | GatewayError::NoHealthyEndpoint(_) => {
                "the model's worker is unavailable".into()
            }
            GatewayError::QueueTimeout(_) => "the model's workers are all busy".into(),
            GatewayError::Connect { .. } => "the model's worker cannot be reached".into(),
            GatewayError::Upstream { status: 429, .. } => "the model's worker is overloaded".into(),
            GatewayError::Upstream { status, .. } if *status < 500 => {
                "the model's worker refused the request".into()
            }
            GatewayError::Upstream { .. } | GatewayError::StreamError(_) => {
                "the model's worker reported an error".into()
            }
            GatewayError::Timeout(TimeoutKind::FirstToken) => {
                "the model did not start answering in time".into()
            }
            GatewayError::Timeout(TimeoutKind::Idle) => "the model stopped answering".into(),
            GatewayError::Timeout(TimeoutKind::Total) => "the answer took too long".into(),
            GatewayError::Truncated => "the answer was cut off".into(),
            GatewayError::Protocol(_) => "the model's worker sent an invalid answer".into(),
        }
    }
}

/// Longest message kept from an upstream error body.
const MAX_MESSAGE_CHARS: usize = 120;

/// Extracts a readable message from the error bodies servers send: OpenAI's
/// `{"error":{"message"}}`, old vLLM's `{"object":"error","message"}`, TGI's `{"error":"…"}`,
/// FastAPI's `{"detail":…}` (a string or a validation list), or plain text.
pub fn error_message(body: &str) -> String {
    let text = body.trim();
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| message_of(&v))
        .unwrap_or_else(|| {
            if text.starts_with('<') {
                // Another service's page (a URL pointing at the wrong thing): not echoed.
                format!("an HTML page ({} bytes)", text.len())
            } else {
                text.lines().next().unwrap_or_default().to_owned()
            }
        });
    // One line of printable text: no control characters, runs of whitespace as one space.
    let message = message
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if message.is_empty() {
        return "no details".into();
    }
    let mut short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    short
}

fn message_of(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::String(_) | Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    if let Some(e) = v.get("error") {
        return match e {
            Value::Object(_) => e
                .get("message")
                .and_then(text)
                .or_else(|| message_of(e))
                .or_else(|| text(e)),
            other => text(other),
        };
    }
    if let Some(m) = v.get("message").and_then(text) {
        return Some(m);
    }
    if let Some(d) = v.get("detail") {
        if let Some(items) = d.as_array() {
            let msgs: Vec<String> = items
                .iter()
                .filter_map(|i| i.get("msg").and_then(text))
                .collect();
            if !msgs.is_empty() {
                return Some(msgs.join("; "));
            }
        }
        return text(d);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_error_shape() {
        let cases = [
            (
                r#"{"error":{"message":"bad max_tokens","type":"invalid_request_error","code":400}}"#,
                "bad max_tokens",
            ),
            (
                r#"{"object":"error","message":"old vllm","type":"BadRequestError","code":400}"#,
                "old vllm",
            ),
            (
                r#"{"error":"Input validation error","error_type":"validation"}"#,
                "Input validation error",
            ),
            (r#"{"detail":"Not Found"}"#, "Not Found"),
            (
                r#"{"detail":[{"loc":["body","messages"],"msg":"field required","type":"missing"}]}"#,
                "field required",
            ),
            ("Internal Server Error\n", "Internal Server Error"),
            ("", "no details"),
            (r#"{"error":{"code":500}}"#, r#"{"code":500}"#),
        ];
        for (body, expected) in cases {
            assert_eq!(error_message(body), expected, "{body}");
        }
        let long = "x".repeat(10_000);
        assert_eq!(error_message(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
        // Another service's answer is not echoed: one short, printable line at most.
        assert_eq!(
            error_message("<!doctype html><html><body>admin panel secrets</body></html>"),
            "an HTML page (60 bytes)"
        );
        assert_eq!(
            error_message("first line\nsecond line with secrets"),
            "first line"
        );
        assert_eq!(
            error_message("{\"error\":\"bad\\u0007 thing\\n\\n  here\"}"),
            "bad thing here"
        );
    }

    #[test]
    fn base_urls_are_normalized_and_keys_hidden() {
        let e = EndpointConfig::new(" http://h:8000/v1/ ", "m").with_api_key("sk-secret");
        assert_eq!(e.base_url, "http://h:8000");
        assert_eq!(e.id, "http://h:8000");
        let printed = format!("{e:?}");
        assert!(
            !printed.contains("sk-secret") && printed.contains("***"),
            "{printed}"
        );
        assert_eq!(format!("{:?}", ApiKey::new("k")), "***");
        assert_eq!(e.with_max_concurrency(0).limit(), 1);
    }

    #[test]
    fn public_messages_hide_details() {
        let errors = [
            GatewayError::Connect {
                url: "http://10.1.2.3:8000".into(),
                message: "refused".into(),
            },
            GatewayError::Upstream {
                status: 500,
                message: "CUDA out of memory at http://10.1.2.3".into(),
            },
            GatewayError::StreamError("CUDA out of memory".into()),
            GatewayError::NoHealthyEndpoint("secret-model".into()),
            GatewayError::Protocol("malformed chunk: {\"x\"".into()),
        ];
        for e in errors {
            let public = e.public_message();
            assert!(
                !public.contains("10.1.2.3")
                    && !public.contains("CUDA")
                    && !public.contains("secret"),
                "{public}"
            );
        }
    }

    #[test]
    fn retry_and_health_policies() {
        let upstream = |status| GatewayError::Upstream {
            status,
            message: String::new(),
        };
        for e in [
            upstream(429),
            upstream(500),
            upstream(503),
            GatewayError::Timeout(TimeoutKind::FirstToken),
            GatewayError::Truncated,
        ] {
            assert!(e.is_retryable(), "{e:?}");
        }
        for e in [
            upstream(400),
            upstream(422),
            GatewayError::Timeout(TimeoutKind::Idle),
            GatewayError::StreamError(String::new()),
            GatewayError::QueueTimeout("m".into()),
        ] {
            assert!(!e.is_retryable(), "{e:?}");
        }
        // What a user's request can cause never counts against the worker.
        assert!(!upstream(400).is_endpoint_failure());
        assert!(!upstream(429).is_endpoint_failure());
        assert!(!GatewayError::Timeout(TimeoutKind::Total).is_endpoint_failure());
        assert!(upstream(502).is_endpoint_failure());
    }
}
