//! One streamed chat completion: the request, the wait for the first token (where retries may
//! happen), then the events, each chunk bounded by the idle and total timeouts.

use crate::gateway::{Inner, Slot};
use crate::sse::SseParser;
use crate::types::{
    ChatEvent, ChatRequest, FinishReason, GatewayError, TimeoutKind, error_message,
};
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::Instant;

/// The events of one completion. Dropping it closes the upstream connection and frees the slot.
pub struct ChatStream {
    endpoint_id: String,
    endpoint_url: String,
    inner: BoxStream<'static, Result<ChatEvent, GatewayError>>,
}

impl ChatStream {
    /// The id of the endpoint serving this stream.
    pub fn endpoint_id(&self) -> &str {
        &self.endpoint_id
    }

    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatEvent, GatewayError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct Reader {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    parser: SseParser,
    pending: VecDeque<ChatEvent>,
    finish: Option<FinishReason>,
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    done: bool,
}

impl Reader {
    fn finished_event(&mut self) -> ChatEvent {
        self.done = true;
        ChatEvent::Finished {
            finish_reason: self.finish.clone().unwrap_or(FinishReason::Stop),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
        }
    }

    fn handle(&mut self, payload: &str) -> Result<(), GatewayError> {
        let payload = payload.trim();
        if payload.is_empty() || self.done {
            return Ok(());
        }
        if payload == "[DONE]" {
            let event = self.finished_event();
            self.pending.push_back(event);
            return Ok(());
        }
        let value: Value = serde_json::from_str(payload)
            .map_err(|e| GatewayError::Protocol(format!("malformed chunk: {e}")))?;
        if value.get("error").is_some()
            || value.get("object").and_then(Value::as_str) == Some("error")
        {
            return Err(GatewayError::Upstream {
                status: 200,
                message: error_message(payload),
            });
        }
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            let get = |k: &str| usage.get(k).and_then(Value::as_u64).map(|n| n as u32);
            self.prompt_tokens = get("prompt_tokens").or(self.prompt_tokens);
            self.completion_tokens = get("completion_tokens").or(self.completion_tokens);
        }
        let choices = value.get("choices");
        if choices.is_some_and(|c| !c.is_array()) {
            return Err(GatewayError::Protocol("`choices` is not an array".into()));
        }
        if let Some(choice) = choices.and_then(|c| c.get(0)) {
            if let Some(text) = choice
                .get("delta")
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.pending.push_back(ChatEvent::Delta(text.to_owned()));
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(FinishReason::parse(reason));
            }
        }
        Ok(())
    }

    /// The next event, reading chunks until `deadline` (`kind` names the timeout that applies).
    async fn next_event(
        &mut self,
        deadline: Instant,
        kind: TimeoutKind,
    ) -> Result<Option<ChatEvent>, GatewayError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if self.done {
                return Ok(None);
            }
            let chunk = match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(chunk) => chunk,
                // The answer was complete; only the closing `[DONE]` never came.
                Err(_) if self.finish.is_some() => return Ok(Some(self.finished_event())),
                Err(_) => return Err(GatewayError::Timeout(kind)),
            };
            match chunk {
                Some(Ok(bytes)) => {
                    for payload in self.parser.feed(&bytes) {
                        self.handle(&payload)?;
                    }
                }
                Some(Err(_)) | None => {
                    if let Some(rest) = self.parser.finish() {
                        self.handle(&rest)?;
                    }
                    if self.done || !self.pending.is_empty() {
                        continue;
                    }
                    if self.finish.is_some() {
                        return Ok(Some(self.finished_event()));
                    }
                    return Err(GatewayError::Truncated);
                }
            }
        }
    }
}

fn request_body(upstream_model: &str, request: &ChatRequest, include_usage: bool) -> Value {
    let mut body = json!({
        "model": upstream_model,
        "messages": request.messages,
        "stream": true,
    });
    let map = body.as_object_mut().expect("object");
    if include_usage {
        map.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(v) = request.max_tokens {
        map.insert("max_tokens".into(), json!(v));
    }
    if let Some(v) = request.temperature {
        map.insert("temperature".into(), json!(v));
    }
    if let Some(v) = request.top_p {
        map.insert("top_p".into(), json!(v));
    }
    if let Some(v) = request.seed {
        map.insert("seed".into(), json!(v));
    }
    if !request.stop.is_empty() {
        map.insert("stop".into(), json!(request.stop));
    }
    body
}

/// Sends the request and waits for the first event; errors here may be retried elsewhere.
pub(crate) async fn open_stream(
    inner: &Inner,
    slot: Slot,
    request: &ChatRequest,
) -> Result<ChatStream, GatewayError> {
    let started = Instant::now();
    let first_deadline = started + inner.config.first_token_timeout;
    let total_deadline = started + inner.config.total_timeout;
    let endpoint = &slot.endpoint.config;
    let url = format!("{}/v1/chat/completions", endpoint.base_url);
    let mut http = inner.client.post(&url).json(&request_body(
        &endpoint.upstream_model,
        request,
        endpoint.include_usage,
    ));
    if let Some(key) = &endpoint.api_key {
        http = http.bearer_auth(key.expose());
    }
    let opened = async {
        let response = http.send().await.map_err(|e| GatewayError::Connect {
            url: endpoint.base_url.clone(),
            message: e.to_string(),
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(GatewayError::Upstream {
                status: status.as_u16(),
                message: error_message(&body),
            });
        }
        let mut reader = Reader {
            body: response.bytes_stream().boxed(),
            parser: SseParser::default(),
            pending: VecDeque::new(),
            finish: None,
            prompt_tokens: None,
            completion_tokens: None,
            done: false,
        };
        let first = reader
            .next_event(first_deadline.min(total_deadline), TimeoutKind::FirstToken)
            .await?;
        Ok((reader, first))
    };
    let (reader, first) = match tokio::time::timeout_at(first_deadline, opened).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => {
            slot.failed(&e);
            return Err(e);
        }
        Err(_) => {
            let e = GatewayError::Timeout(TimeoutKind::FirstToken);
            slot.failed(&e);
            return Err(e);
        }
    };
    let endpoint_id = endpoint.id.clone();
    let endpoint_url = endpoint.base_url.clone();
    let idle = inner.config.idle_timeout;
    struct State {
        reader: Reader,
        first: Option<Option<ChatEvent>>,
        slot: Option<Slot>,
    }
    let state = State {
        reader,
        first: Some(first),
        slot: Some(slot),
    };
    let events = futures::stream::unfold(state, move |mut state| async move {
        let slot = state.slot.as_ref()?;
        let next = match state.first.take() {
            Some(first) => Ok(first),
            None => {
                let now = Instant::now();
                let (deadline, kind) = if now + idle < total_deadline {
                    (now + idle, TimeoutKind::Idle)
                } else {
                    (total_deadline, TimeoutKind::Total)
                };
                state.reader.next_event(deadline, kind).await
            }
        };
        match next {
            Ok(Some(event)) => {
                if matches!(event, ChatEvent::Finished { .. }) {
                    slot.succeeded();
                    state.slot = None; // frees the slot now; the stream ends next poll
                    return Some((
                        Ok(event),
                        State {
                            slot: None,
                            ..state
                        },
                    ));
                }
                Some((Ok(event), state))
            }
            Ok(None) => None,
            Err(e) => {
                slot.failed(&e);
                state.slot = None;
                Some((Err(e), state))
            }
        }
    });
    Ok(ChatStream {
        endpoint_id,
        endpoint_url,
        inner: events.boxed(),
    })
}
