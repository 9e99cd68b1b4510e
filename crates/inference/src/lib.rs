//! The inference gateway: how the arena calls its workers (any OpenAI-compatible server: vLLM,
//! TGI, llama.cpp, SGLang, Ollama, and the built-in CPU worker).
//!
//! - Each model has one or more endpoints with a concurrency limit; a request goes to the
//!   least-loaded healthy one, or waits (bounded) for a slot.
//! - Health is polled; an endpoint failing `failure_threshold` times in a row leaves the pool
//!   until a health check succeeds.
//! - Timeouts: connect, first token, idle between chunks, total. A request is retried on another
//!   replica only before its first token. Dropping a [`ChatStream`] closes the upstream
//!   connection and frees the slot.
//!
//! ```no_run
//! # async fn demo() -> Result<(), arena_inference::GatewayError> {
//! use arena_inference::*;
//! use futures::StreamExt;
//! let gateway = Gateway::new(GatewayConfig::default());
//! gateway.set_model_endpoints("smollm", vec![EndpointConfig::new("http://127.0.0.1:8081", "smollm2-135m-instruct")]);
//! gateway.check_now().await;
//! let request = ChatRequest { messages: vec![ChatMessage { role: Role::User, content: "Hi".into() }], ..Default::default() };
//! let mut stream = gateway.stream_chat("smollm", request).await?;
//! while let Some(event) = stream.next().await {
//!     println!("{:?}", event?);
//! }
//! # Ok(()) }
//! ```

mod bound;
#[cfg(feature = "fake-worker")]
pub mod fake;
mod gateway;
pub mod request_id;
mod sse;
mod stream;
mod types;

pub use gateway::{EndpointStatus, Gateway};
pub use sse::{LineTooLong, SseParser};
pub use stream::ChatStream;
pub use types::{
    ApiKey, ChatEvent, ChatMessage, ChatRequest, EndpointConfig, FinishReason, GatewayConfig,
    GatewayError, ModelKey, Role, TimeoutKind, error_message,
};
