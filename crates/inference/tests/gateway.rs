//! The gateway against a scripted fake OpenAI-compatible worker: a test double for the failure
//! modes of remote workers only (hangs, resets, garbage, slowness, errors).

use arena_inference::fake::{Mode, spawn_fake};
use arena_inference::*;
use futures::StreamExt;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn config() -> GatewayConfig {
    GatewayConfig {
        connect_timeout: Duration::from_millis(500),
        first_token_timeout: Duration::from_millis(700),
        idle_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_secs(10),
        failure_threshold: 3,
        queue_timeout: Duration::from_millis(800),
        health_timeout: Duration::from_millis(500),
    }
}

fn endpoint(url: &str, id: &str, limit: usize) -> EndpointConfig {
    let mut e = EndpointConfig::new(url, "fake-model");
    e.id = id.to_owned();
    e.max_concurrency = limit;
    e
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage {
            role: Role::User,
            content: "hi".into(),
        }],
        max_tokens: Some(8),
        ..Default::default()
    }
}

async fn gateway_with(endpoints: Vec<EndpointConfig>) -> Gateway {
    let gateway = Gateway::new(config());
    gateway.set_model_endpoints("m", endpoints);
    gateway.check_now().await;
    gateway
}

async fn collect(stream: ChatStream) -> (String, Vec<ChatEvent>, Option<GatewayError>) {
    let mut text = String::new();
    let mut events = Vec::new();
    let mut stream = stream;
    while let Some(item) = stream.next().await {
        match item {
            Ok(ChatEvent::Delta(t)) => {
                text.push_str(&t);
                events.push(ChatEvent::Delta(t));
            }
            Ok(other) => events.push(other),
            Err(e) => return (text, events, Some(e)),
        }
    }
    (text, events, None)
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn a_normal_stream_gives_text_then_finished_with_usage() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![endpoint(&url, "e1", 2)]).await;
    assert!(gateway.is_model_available("m"));
    let stream = gateway.stream_chat("m", request()).await.unwrap();
    assert_eq!(stream.endpoint_id(), "e1");
    let (text, events, error) = collect(stream).await;
    assert_eq!(error, None);
    assert_eq!(text, "Hello there, friend!");
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Finished {
            finish_reason: FinishReason::Stop,
            prompt_tokens: Some(7),
            completion_tokens: Some(4)
        })
    );
    // Only the fields that were set are sent upstream.
    let body = fake.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["max_tokens"], 8);
    assert_eq!(body["stream"], true);
    assert!(body.get("temperature").is_none() && body.get("seed").is_none());
    settle().await;
    assert_eq!(gateway.status()[0].in_flight, 0);
}

#[tokio::test]
async fn a_hang_before_the_first_token_times_out_and_moves_to_another_replica() {
    let (hanging, hanging_url) = spawn_fake(Mode::HangBeforeFirst).await;
    let gateway = gateway_with(vec![endpoint(&hanging_url, "hang", 1)]).await;
    let err = gateway.stream_chat("m", request()).await.err().unwrap();
    assert_eq!(err, GatewayError::Timeout(TimeoutKind::FirstToken));
    settle().await;
    assert_eq!(
        hanging.open_streams.load(Ordering::SeqCst),
        0,
        "the hung connection was closed"
    );

    let (good, good_url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![
        endpoint(&hanging_url, "hang", 1),
        endpoint(&good_url, "good", 1),
    ])
    .await;
    for _ in 0..3 {
        let stream = gateway.stream_chat("m", request()).await.unwrap();
        assert_eq!(stream.endpoint_id(), "good");
        assert_eq!(collect(stream).await.2, None);
    }
    assert!(good.requests.load(Ordering::SeqCst) >= 3);
}

#[tokio::test]
async fn a_reset_mid_stream_is_truncated_and_not_retried() {
    let (fake, url) = spawn_fake(Mode::ResetAfter(2)).await;
    let gateway = gateway_with(vec![endpoint(&url, "reset", 2)]).await;
    let stream = gateway.stream_chat("m", request()).await.unwrap();
    let (text, _, error) = collect(stream).await;
    assert_eq!(text, "Hello there");
    assert_eq!(error, Some(GatewayError::Truncated));
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        1,
        "no retry after text was sent"
    );
}

#[tokio::test]
async fn a_malformed_chunk_is_a_protocol_error() {
    let (_fake, url) = spawn_fake(Mode::Malformed).await;
    let gateway = gateway_with(vec![endpoint(&url, "bad", 1)]).await;
    let result = match gateway.stream_chat("m", request()).await {
        Ok(stream) => collect(stream).await.2,
        Err(e) => Some(e),
    };
    assert!(
        matches!(result, Some(GatewayError::Protocol(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn slow_but_steady_completes_and_silence_times_out() {
    let (_slow, slow_url) = spawn_fake(Mode::Slow(300)).await;
    let gateway = gateway_with(vec![endpoint(&slow_url, "slow", 1)]).await;
    let stream = gateway.stream_chat("m", request()).await.unwrap();
    let (text, _, error) = collect(stream).await;
    assert_eq!((text.as_str(), error), ("Hello there, friend!", None));

    let (_idle, idle_url) = spawn_fake(Mode::IdleAfter(1)).await;
    let gateway = gateway_with(vec![endpoint(&idle_url, "idle", 1)]).await;
    let stream = gateway.stream_chat("m", request()).await.unwrap();
    let (text, _, error) = collect(stream).await;
    assert_eq!(text, "Hello");
    assert_eq!(error, Some(GatewayError::Timeout(TimeoutKind::Idle)));
}

#[tokio::test]
async fn server_errors_before_the_first_token_are_retried_elsewhere() {
    for (code, body) in [
        (503, r#"{"error":{"message":"loading","type":"x"}}"#),
        (500, r#"{"object":"error","message":"boom"}"#),
        (
            429,
            r#"{"error":"Model is overloaded","error_type":"overloaded"}"#,
        ),
    ] {
        let (failing, failing_url) = spawn_fake(Mode::Status(code, body)).await;
        let gateway = gateway_with(vec![endpoint(&failing_url, "failing", 1)]).await;
        let err = gateway.stream_chat("m", request()).await.err().unwrap();
        match &err {
            GatewayError::Upstream { status, message } => {
                assert_eq!(*status, code);
                assert!(["loading", "boom", "Model is overloaded"].contains(&message.as_str()));
            }
            other => panic!("{other:?}"),
        }
        let (_good, good_url) = spawn_fake(Mode::Normal).await;
        let gateway = gateway_with(vec![
            endpoint(&failing_url, "failing", 1),
            endpoint(&good_url, "good", 1),
        ])
        .await;
        for _ in 0..3 {
            let stream = gateway.stream_chat("m", request()).await.unwrap();
            assert_eq!(stream.endpoint_id(), "good");
        }
        assert!(failing.requests.load(Ordering::SeqCst) >= 1);
    }
    // A 4xx is the request's fault: not retried, readable message.
    let (bad, bad_url) =
        spawn_fake(Mode::Status(400, r#"{"detail":"max_tokens too large"}"#)).await;
    let (good, good_url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![
        endpoint(&bad_url, "bad", 1),
        endpoint(&good_url, "good", 1),
    ])
    .await;
    let mut refused = 0;
    for _ in 0..6 {
        if let Err(e) = gateway.stream_chat("m", request()).await {
            assert_eq!(
                e,
                GatewayError::Upstream {
                    status: 400,
                    message: "max_tokens too large".into()
                }
            );
            refused += 1;
        }
    }
    assert_eq!(refused, bad.requests.load(Ordering::SeqCst));
    assert_eq!(6 - refused, good.requests.load(Ordering::SeqCst));
}

#[tokio::test]
async fn dispatch_goes_to_the_least_loaded_replica_and_queues_when_full() {
    let (_a, url_a) = spawn_fake(Mode::Slow(100)).await;
    let (_b, url_b) = spawn_fake(Mode::Slow(100)).await;
    let gateway = gateway_with(vec![endpoint(&url_a, "a", 1), endpoint(&url_b, "b", 1)]).await;
    let first = gateway.stream_chat("m", request()).await.unwrap();
    let second = gateway.stream_chat("m", request()).await.unwrap();
    assert_ne!(first.endpoint_id(), second.endpoint_id());
    // A third waits for a slot, and gets one when the first stream is dropped.
    let g = gateway.clone();
    let third = tokio::spawn(async move { g.stream_chat("m", request()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(gateway.queue_depth("m"), 1);
    let freed = first.endpoint_id().to_owned();
    drop(first);
    let third = third.await.unwrap().unwrap();
    assert_eq!(third.endpoint_id(), freed);
    assert_eq!(gateway.queue_depth("m"), 0);
    // With both busy and nobody leaving, the wait is bounded.
    let err = gateway.stream_chat("m", request()).await.err().unwrap();
    assert_eq!(err, GatewayError::QueueTimeout("m".into()));
    drop((second, third));
}

#[tokio::test]
async fn failing_health_checks_take_an_endpoint_out_until_it_recovers() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    assert!(gateway.is_model_available("m"));
    fake.health.store(503, Ordering::SeqCst);
    gateway.check_now().await;
    gateway.check_now().await;
    assert!(
        gateway.is_model_available("m"),
        "two failures are tolerated"
    );
    gateway.check_now().await;
    assert!(!gateway.is_model_available("m"));
    assert!(!gateway.any_healthy());
    assert_eq!(
        gateway.stream_chat("m", request()).await.err(),
        Some(GatewayError::NoHealthyEndpoint("m".into()))
    );
    fake.health.store(200, Ordering::SeqCst);
    gateway.check_now().await;
    assert!(gateway.is_model_available("m"));
    assert_eq!(gateway.status()[0].consecutive_failures, 0);
}

#[tokio::test]
async fn a_dead_endpoint_is_never_healthy() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let gateway = gateway_with(vec![endpoint(&url, "dead", 1)]).await;
    assert!(!gateway.is_model_available("m"));
    assert!(gateway.status()[0].last_error.is_some());
    assert_eq!(
        gateway.stream_chat("unknown", request()).await.err(),
        Some(GatewayError::UnknownModel("unknown".into()))
    );
}

#[tokio::test]
async fn dropping_a_stream_closes_the_upstream_connection_and_frees_the_slot() {
    let (fake, url) = spawn_fake(Mode::Slow(200)).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    let mut stream = gateway.stream_chat("m", request()).await.unwrap();
    let _ = stream.next().await;
    assert_eq!(fake.open_streams.load(Ordering::SeqCst), 1);
    assert_eq!(gateway.status()[0].in_flight, 1);
    drop(stream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.open_streams.load(Ordering::SeqCst),
        0,
        "the fake saw the disconnect"
    );
    assert_eq!(gateway.status()[0].in_flight, 0);
    // Finished streams leave nothing open either.
    for _ in 0..3 {
        let stream = gateway.stream_chat("m", request()).await.unwrap();
        assert_eq!(collect(stream).await.2, None);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gateway.status()[0].in_flight, 0);
}
