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

/// An API key that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey(s)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// One OpenAI-compatible worker serving one model.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Stable id (the database's), reported back with each stream.
    pub id: String,
    /// e.g. `http://10.0.0.5:8000` (a trailing `/v1` is accepted and removed).
    pub base_url: String,
    /// The `model` field sent upstream.
    pub upstream_model: String,
    pub api_key: Option<ApiKey>,
    pub max_concurrency: usize,
    /// Ask for `stream_options.include_usage` (some servers reject it).
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
    pub total_timeout: Duration,
    /// Consecutive failures (polls or requests) before an endpoint leaves the pool.
    pub failure_threshold: u32,
    /// How long a request waits for a free slot when every healthy replica is busy.
    pub queue_timeout: Duration,
    pub health_timeout: Duration,
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    FirstToken,
    Idle,
    Total,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("unknown model {0}")]
    UnknownModel(String),
    #[error("no healthy endpoint for model {0}")]
    NoHealthyEndpoint(String),
    #[error("every endpoint of model {0} stayed busy")]
    QueueTimeout(String),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("upstream answered {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("timed out ({0:?})")]
    Timeout(TimeoutKind),
    #[error("the stream ended before it finished")]
    Truncated,
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl GatewayError {
    /// Worth trying another replica (only ever before the first token).
    pub fn is_retryable(&self) -> bool {
        match self {
            GatewayError::Connect { .. } | GatewayError::Timeout(TimeoutKind::FirstToken) => true,
            GatewayError::Upstream { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// Counts against the endpoint's health.
    pub(crate) fn is_endpoint_failure(&self) -> bool {
        match self {
            GatewayError::Connect { .. }
            | GatewayError::Timeout(_)
            | GatewayError::Truncated
            | GatewayError::Protocol(_) => true,
            GatewayError::Upstream { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// A message safe to show to end users: no URLs, keys or model names.
    pub fn public_message(&self) -> String {
        match self {
            GatewayError::UnknownModel(_) | GatewayError::NoHealthyEndpoint(_) => {
                "the model's worker is unavailable".into()
            }
            GatewayError::QueueTimeout(_) => "the model's workers are all busy".into(),
            GatewayError::Connect { .. } => "the model's worker cannot be reached".into(),
            GatewayError::Upstream { status, .. } if *status < 500 && *status != 429 => {
                "the model's worker refused the request".into()
            }
            GatewayError::Upstream { .. } => "the model's worker reported an error".into(),
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

/// Extracts a readable message from the error bodies servers send: OpenAI's
/// `{"error":{"message"}}`, old vLLM's `{"object":"error","message"}`, TGI's `{"error":"…"}`,
/// FastAPI's `{"detail":…}`, or plain text.
pub fn error_message(body: &str) -> String {
    let text = body.trim();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let pick = |v: &serde_json::Value| -> Option<String> {
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        if let Some(e) = v.get("error") {
            if let Some(m) = e.get("message").and_then(pick) {
                return m;
            }
            if let Some(m) = pick(e) {
                return m;
            }
        }
        if let Some(m) = v.get("message").and_then(pick) {
            return m;
        }
        if let Some(d) = v.get("detail") {
            if let Some(m) = d.get(0).and_then(|d| d.get("msg")).and_then(pick) {
                return m;
            }
            if let Some(m) = pick(d) {
                return m;
            }
        }
    }
    let mut s: String = text.chars().take(300).collect();
    if s.is_empty() {
        s = "no details".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_error_shape() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad max_tokens","type":"x","code":400}}"#),
            "bad max_tokens"
        );
        assert_eq!(
            error_message(r#"{"object":"error","message":"old vllm","type":"x"}"#),
            "old vllm"
        );
        assert_eq!(
            error_message(r#"{"error":"Input validation error","error_type":"validation"}"#),
            "Input validation error"
        );
        assert_eq!(error_message(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            error_message(r#"{"detail":[{"msg":"field required"}]}"#),
            "field required"
        );
        assert_eq!(
            error_message("Internal Server Error"),
            "Internal Server Error"
        );
    }

    #[test]
    fn base_urls_are_normalized_and_keys_hidden() {
        let mut e = EndpointConfig::new("http://h:8000/v1/", "m");
        assert_eq!(e.base_url, "http://h:8000");
        e.api_key = Some(ApiKey::from("sk-secret".to_owned()));
        assert!(!format!("{e:?}").contains("sk-secret"));
    }

    #[test]
    fn public_messages_hide_details() {
        let e = GatewayError::Connect {
            url: "http://10.1.2.3:8000".into(),
            message: "refused".into(),
        };
        assert!(!e.public_message().contains("10.1.2.3"));
        assert!(e.is_retryable());
        assert!(!GatewayError::Truncated.is_retryable());
    }
}
