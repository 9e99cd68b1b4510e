//! One streamed chat completion: the request, the wait for the first token (the only phase in
//! which the gateway may retry elsewhere), then the events, each chunk bounded by the idle and
//! total timeouts.

use crate::bound::{Admitted, AnswerBound};
use crate::gateway::Slot;
use crate::sse::SseParser;
use crate::types::{
    ChatEvent, ChatRequest, FinishReason, GatewayConfig, GatewayError, TimeoutKind, error_message,
};
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::Instant;

/// Most bytes read from a non-2xx answer's body.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// The events of one completion: zero or more [`ChatEvent::Delta`], then one
/// [`ChatEvent::Finished`], or an error; nothing follows either. Dropping it closes the upstream
/// connection and frees the endpoint's slot.
pub struct ChatStream {
    endpoint_id: String,
    endpoint_url: String,
    inner: BoxStream<'static, Result<ChatEvent, GatewayError>>,
}

impl ChatStream {
    /// The id of the endpoint serving this stream (the database's, for the record).
    pub fn endpoint_id(&self) -> &str {
        &self.endpoint_id
    }

    /// The base URL of the endpoint serving this stream (for logs and the record).
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }
}

impl fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream")
            .field("endpoint_id", &self.endpoint_id)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatEvent, GatewayError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Turns SSE payloads into events. Pure: fed payloads, it queues events.
#[derive(Default)]
pub(crate) struct Decoder {
    pending: VecDeque<ChatEvent>,
    finish: Option<FinishReason>,
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    done: bool,
}

impl Decoder {
    fn finished_event(&mut self) -> ChatEvent {
        self.done = true;
        ChatEvent::Finished {
            // `[DONE]` without any finish_reason: the server says it is done, but not why.
            finish_reason: self
                .finish
                .clone()
                .unwrap_or_else(|| FinishReason::Other("unspecified".into())),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
        }
    }

    /// Handles one `data:` payload. Usage may come after the finish_reason (in a chunk with
    /// `choices: []`), so `Finished` waits for `[DONE]` or the end of the body.
    pub(crate) fn handle(&mut self, payload: &str) -> Result<(), GatewayError> {
        let payload = payload.trim();
        if payload.is_empty() || self.done {
            return Ok(());
        }
        if payload == "[DONE]" {
            let event = self.finished_event();
            self.pending.push_back(event);
            return Ok(());
        }
        let value: Value = serde_json::from_str(payload).map_err(|e| {
            let start: String = payload.chars().take(80).collect();
            GatewayError::Protocol(format!("malformed chunk ({e}): {start}"))
        })?;
        if !value.is_object() {
            return Err(GatewayError::Protocol(
                "a chunk that is not an object".into(),
            ));
        }
        if value.get("error").is_some_and(|e| !e.is_null())
            || value.get("object").and_then(Value::as_str) == Some("error")
        {
            return Err(GatewayError::StreamError(error_message(payload)));
        }
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            let get = |k: &str| {
                usage
                    .get(k)
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            self.prompt_tokens = get("prompt_tokens").or(self.prompt_tokens);
            self.completion_tokens = get("completion_tokens").or(self.completion_tokens);
        }
        let Some(choices) = value.get("choices").filter(|c| !c.is_null()) else {
            return Ok(());
        };
        let Some(choices) = choices.as_array() else {
            return Err(GatewayError::Protocol("`choices` is not an array".into()));
        };
        if let Some(choice) = choices.first() {
            match choice.get("delta").and_then(|d| d.get("content")) {
                Some(Value::String(text)) if !text.is_empty() => {
                    self.pending.push_back(ChatEvent::Delta(text.clone()));
                }
                None | Some(Value::Null | Value::String(_)) => {}
                Some(_) => {
                    return Err(GatewayError::Protocol(
                        "`delta.content` is not a string".into(),
                    ));
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(FinishReason::parse(reason));
            }
        }
        Ok(())
    }

    fn pop(&mut self) -> Option<ChatEvent> {
        self.pending.pop_front()
    }

    /// The body ended (cleanly or not): finished if a finish_reason was seen, else truncated.
    fn end_of_body(&mut self) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        if self.finish.is_some() {
            let event = self.finished_event();
            self.pending.push_back(event);
            return Ok(());
        }
        Err(GatewayError::Truncated)
    }
}

struct Reader {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    parser: SseParser,
    decoder: Decoder,
}

/// How long to wait for the end of a body after `[DONE]`.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);

impl Reader {
    /// Reads what is left after `[DONE]` (usually just the end of the chunked body), briefly,
    /// so the connection goes back to the pool instead of being closed.
    async fn drain(&mut self) {
        let rest = async { while let Some(Ok(_)) = self.body.next().await {} };
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, rest).await;
    }

    /// The next event, reading chunks until `deadline` (`kind` names the timeout that applies).
    async fn next_event(
        &mut self,
        deadline: Instant,
        kind: TimeoutKind,
    ) -> Result<Option<ChatEvent>, GatewayError> {
        loop {
            if let Some(event) = self.decoder.pop() {
                return Ok(Some(event));
            }
            if self.decoder.done {
                return Ok(None);
            }
            let chunk = match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(chunk) => chunk,
                // The answer was complete; only the usage or the closing `[DONE]` never came.
                Err(_) if self.decoder.finish.is_some() => {
                    self.decoder.end_of_body()?;
                    continue;
                }
                Err(_) => return Err(GatewayError::Timeout(kind)),
            };
            match chunk {
                Some(Ok(bytes)) => {
                    let payloads = self
                        .parser
                        .feed(&bytes)
                        .map_err(|e| GatewayError::Protocol(e.to_string()))?;
                    for payload in payloads {
                        self.decoder.handle(&payload)?;
                    }
                }
                Some(Err(_)) | None => {
                    if let Some(rest) = self.parser.finish() {
                        self.decoder.handle(&rest)?;
                    }
                    self.decoder.end_of_body()?;
                }
            }
        }
    }
}

/// A float as JSON, printed the way it reads (`0.7`, not `0.699999988079071`).
fn float(v: f32) -> Value {
    v.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// The JSON body: only the fields that are set, since older vLLM rejects unknown ones.
pub(crate) fn request_body(
    upstream_model: &str,
    request: &ChatRequest,
    include_usage: bool,
) -> Value {
    let mut body = json!({
        "model": upstream_model,
        "messages": request.messages,
        "stream": true,
    });
    let map = body.as_object_mut().expect("a JSON object");
    if include_usage {
        map.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(v) = request.max_tokens {
        map.insert("max_tokens".into(), json!(v));
    }
    if let Some(v) = request.temperature {
        map.insert("temperature".into(), float(v));
    }
    if let Some(v) = request.top_p {
        map.insert("top_p".into(), float(v));
    }
    if let Some(v) = request.seed {
        map.insert("seed".into(), json!(v));
    }
    if !request.stop.is_empty() {
        map.insert("stop".into(), json!(request.stop));
    }
    body
}

async fn read_error_body(response: reqwest::Response) -> String {
    let mut body = response.bytes_stream();
    let mut buf = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= MAX_ERROR_BODY_BYTES {
            buf.truncate(MAX_ERROR_BODY_BYTES);
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Sends the request on `slot`'s endpoint and waits for the first event. An error here comes
/// before any text, so the caller may retry it elsewhere.
pub(crate) async fn open_stream(
    client: &reqwest::Client,
    config: &GatewayConfig,
    slot: Slot,
    request: &ChatRequest,
) -> Result<ChatStream, GatewayError> {
    let started = Instant::now();
    let total_deadline = started + config.total_timeout;
    let first_deadline = (started + config.first_token_timeout).min(total_deadline);
    let first_kind = if config.first_token_timeout <= config.total_timeout {
        TimeoutKind::FirstToken
    } else {
        TimeoutKind::Total
    };
    let endpoint = &slot.endpoint().config;
    let url = format!("{}/v1/chat/completions", endpoint.base_url);
    let mut http = client.post(&url).json(&request_body(
        &endpoint.upstream_model,
        request,
        endpoint.include_usage,
    ));
    if let Some(key) = &endpoint.api_key {
        http = http.bearer_auth(key.expose());
    }
    // The volunteer's request, followed into the worker's logs.
    if let Some(id) = crate::request_id::current() {
        http = http.header("x-request-id", id);
    }
    let opened = async {
        let response = http.send().await.map_err(|e| GatewayError::Connect {
            url: endpoint.base_url.clone(),
            message: describe(&e),
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(GatewayError::Upstream {
                status: status.as_u16(),
                message: error_message(&read_error_body(response).await),
            });
        }
        let mut reader = Reader {
            body: response.bytes_stream().boxed(),
            parser: SseParser::default(),
            decoder: Decoder::default(),
        };
        let first = reader.next_event(first_deadline, first_kind).await?;
        Ok((reader, first))
    };
    let (reader, first) = match tokio::time::timeout_at(first_deadline, opened).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => {
            slot.failed(&e);
            return Err(e);
        }
        Err(_) => {
            let e = GatewayError::Timeout(first_kind);
            slot.failed(&e);
            return Err(e);
        }
    };
    let endpoint_id = endpoint.id.clone();
    let endpoint_url = endpoint.base_url.clone();
    let idle = config.idle_timeout;
    let bound = AnswerBound::new(config.max_answer_bytes, request.max_tokens);

    /// Reader and slot live together and go together: at the end, at an error, or on drop.
    struct Live {
        reader: Reader,
        slot: Slot,
    }
    struct State {
        live: Option<Live>,
        first: Option<ChatEvent>,
        bound: AnswerBound,
        /// The answer was cut at its bound: `Finished` comes next, then nothing.
        cut: Option<ChatEvent>,
    }
    let state = State {
        live: Some(Live { reader, slot }),
        first,
        bound,
        cut: None,
    };
    let events = futures::stream::unfold(state, move |mut state| async move {
        if let Some(finished) = state.cut.take() {
            return Some((Ok(finished), state));
        }
        let live = state.live.as_mut()?;
        let next = match state.first.take() {
            Some(first) => Ok(Some(first)),
            None => {
                let now = Instant::now();
                let (deadline, kind) = if now + idle < total_deadline {
                    (now + idle, TimeoutKind::Idle)
                } else {
                    (total_deadline, TimeoutKind::Total)
                };
                live.reader.next_event(deadline, kind).await
            }
        };
        match next {
            Ok(Some(ChatEvent::Delta(text))) => match state.bound.admit(text) {
                Admitted::Whole(text) => Some((Ok(ChatEvent::Delta(text)), state)),
                Admitted::Cut { text, why } => {
                    // The worker ignored the bound: close its connection now (nothing more
                    // of it is read), count it against the endpoint, and finish as `length`.
                    live.slot.misbehaved(why);
                    state.live = None;
                    let finished = ChatEvent::Finished {
                        finish_reason: FinishReason::Length,
                        prompt_tokens: None,
                        completion_tokens: Some(state.bound.deltas),
                    };
                    match text {
                        Some(text) => {
                            state.cut = Some(finished);
                            Some((Ok(ChatEvent::Delta(text)), state))
                        }
                        None => Some((Ok(finished), state)),
                    }
                }
            },
            Ok(Some(event)) => {
                if matches!(event, ChatEvent::Finished { .. }) {
                    live.slot.succeeded();
                    live.reader.drain().await;
                    // Closes the connection and frees the slot now, not when the caller drops us.
                    state.live = None;
                }
                Some((Ok(event), state))
            }
            Ok(None) => None,
            Err(e) => {
                live.slot.failed(&e);
                state.live = None;
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

/// A reqwest error with its causes ("error sending request" alone says nothing).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChatMessage, Role};

    fn decode(payloads: &[&str]) -> (Vec<ChatEvent>, Result<(), GatewayError>) {
        let mut d = Decoder::default();
        let mut result = Ok(());
        for p in payloads {
            result = d.handle(p);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = d.end_of_body();
        }
        let mut events = Vec::new();
        while let Some(e) = d.pop() {
            events.push(e);
        }
        (events, result)
    }

    const ROLE: &str =
        r#"{"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#;
    const HI: &str = r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
    const NULL_CONTENT: &str =
        r#"{"choices":[{"index":0,"delta":{"content":null},"finish_reason":null}]}"#;
    const STOP: &str = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
    const LENGTH: &str =
        r#"{"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"length"}]}"#;
    const USAGE: &str =
        r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;

    #[test]
    fn usage_after_the_finish_reason_is_kept() {
        let (events, result) = decode(&[ROLE, HI, NULL_CONTENT, STOP, USAGE, "[DONE]"]);
        assert_eq!(result, Ok(()));
        assert_eq!(
            events,
            vec![
                ChatEvent::Delta("Hi".into()),
                ChatEvent::Finished {
                    finish_reason: FinishReason::Stop,
                    prompt_tokens: Some(5),
                    completion_tokens: Some(2)
                }
            ]
        );
    }

    #[test]
    fn a_finish_reason_without_done_is_finished_and_done_without_one_is_unspecified() {
        let (events, result) = decode(&[HI, LENGTH]);
        assert_eq!(result, Ok(()));
        assert_eq!(
            events.last(),
            Some(&ChatEvent::Finished {
                finish_reason: FinishReason::Length,
                prompt_tokens: None,
                completion_tokens: None
            })
        );
        let (events, _) = decode(&[HI, "[DONE]", HI]);
        assert_eq!(events.len(), 2, "nothing after [DONE]");
        assert!(matches!(
            &events[1],
            ChatEvent::Finished { finish_reason: FinishReason::Other(r), .. } if r == "unspecified"
        ));
    }

    #[test]
    fn no_finish_reason_is_truncated() {
        let (events, result) = decode(&[ROLE, HI]);
        assert_eq!(events, vec![ChatEvent::Delta("Hi".into())]);
        assert_eq!(result, Err(GatewayError::Truncated));
    }

    #[test]
    fn errors_and_garbage() {
        let (_, result) = decode(&[HI, r#"{"error":{"message":"engine died","code":500}}"#]);
        assert_eq!(result, Err(GatewayError::StreamError("engine died".into())));
        let (_, result) =
            decode(&[r#"{"error":"Request failed during generation","error_type":"generation"}"#]);
        assert_eq!(
            result,
            Err(GatewayError::StreamError(
                "Request failed during generation".into()
            ))
        );
        for garbage in [
            "{not json",
            "[1,2]",
            r#"{"choices":{}}"#,
            r#"{"choices":[{"delta":{"content":5}}]}"#,
        ] {
            let (_, result) = decode(&[garbage]);
            assert!(
                matches!(result, Err(GatewayError::Protocol(_))),
                "{garbage}: {result:?}"
            );
        }
        // Unknown chunks (no choices, no usage) are ignored.
        let (events, result) = decode(&[r#"{"id":"x","object":"chat.completion.chunk"}"#, STOP]);
        assert_eq!(result, Ok(()));
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn only_the_fields_that_are_set_are_sent() {
        let request = ChatRequest {
            messages: vec![ChatMessage {
                role: Role::System,
                content: "be brief".into(),
            }],
            ..Default::default()
        };
        let body = request_body("up", &request, false);
        assert_eq!(
            body,
            json!({"model": "up", "messages": [{"role": "system", "content": "be brief"}], "stream": true})
        );
        let request = ChatRequest {
            temperature: Some(0.7),
            top_p: Some(0.9),
            max_tokens: Some(16),
            seed: Some(42),
            stop: vec!["\n\n".into()],
            ..request
        };
        let body = request_body("up", &request, true);
        assert_eq!(body["temperature"], json!(0.7));
        assert_eq!(body["top_p"], json!(0.9));
        assert_eq!(body["max_tokens"], 16);
        assert_eq!(body["seed"], 42);
        assert_eq!(body["stop"], json!(["\n\n"]));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }
}
