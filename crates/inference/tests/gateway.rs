//! The gateway against a scripted fake OpenAI-compatible worker (axum on port 0): a test double
//! for the failure modes of remote workers only (hangs, resets, garbage, slowness, errors,
//! going down). Timeouts are short so the suite runs in seconds.

use arena_inference::fake::{Fake, Mode, spawn_fake, spawn_fake_at};
use arena_inference::*;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn config() -> GatewayConfig {
    GatewayConfig {
        connect_timeout: Duration::from_millis(500),
        first_token_timeout: Duration::from_millis(700),
        idle_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_secs(10),
        failure_threshold: 3,
        queue_timeout: Duration::from_millis(800),
        health_timeout: Duration::from_millis(500),
        max_answer_bytes: 64 * 1024,
    }
}

fn endpoint(url: &str, id: &str, limit: usize) -> EndpointConfig {
    EndpointConfig::new(url, "fake-model")
        .with_id(id)
        .with_max_concurrency(limit)
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
    gateway_with_config(config(), endpoints).await
}

async fn gateway_with_config(config: GatewayConfig, endpoints: Vec<EndpointConfig>) -> Gateway {
    let gateway = Gateway::new(config);
    gateway.set_model_endpoints("m", endpoints);
    gateway.check_now().await;
    gateway
}

async fn collect(mut stream: ChatStream) -> (String, Vec<ChatEvent>, Option<GatewayError>) {
    let mut text = String::new();
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(ChatEvent::Delta(t)) => {
                text.push_str(&t);
                events.push(ChatEvent::Delta(t));
            }
            Ok(other) => events.push(other),
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing after an error");
                return (text, events, Some(e));
            }
        }
    }
    (text, events, None)
}

/// The outcome of one request, whether it failed before or after the stream started.
async fn outcome(gateway: &Gateway) -> (String, Option<GatewayError>) {
    match gateway.stream_chat("m", request()).await {
        Ok(stream) => {
            let (text, _, error) = collect(stream).await;
            (text, error)
        }
        Err(e) => (String::new(), Some(e)),
    }
}

fn status_of(gateway: &Gateway, id: &str) -> EndpointStatus {
    gateway
        .status()
        .into_iter()
        .find(|s| s.endpoint_id == id)
        .unwrap()
}

/// Waits (up to 2 s) for `condition`, so tests need not guess how long a close takes.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

async fn nothing_open(fake: &Fake) {
    eventually("the fake's responses all closed", || {
        fake.open_streams() == 0
    })
    .await;
}

const ANSWER: &str = "Hello there, friend!";

#[tokio::test]
async fn a_normal_stream_gives_text_then_finished_with_usage() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![endpoint(&url, "e1", 2).with_api_key("sk-test-key")]).await;
    assert!(gateway.is_model_available("m"));
    assert_eq!(gateway.available_models(), vec!["m".to_owned()]);
    let stream = gateway.stream_chat("m", request()).await.unwrap();
    assert_eq!(stream.endpoint_id(), "e1");
    assert_eq!(stream.endpoint_url(), url);
    let (text, events, error) = collect(stream).await;
    assert_eq!(error, None);
    assert_eq!(text, ANSWER);
    assert_eq!(events.len(), 5, "four deltas, one Finished: {events:?}");
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Finished {
            finish_reason: FinishReason::Stop,
            prompt_tokens: Some(7),
            completion_tokens: Some(4)
        })
    );
    // Only the fields that were set are sent upstream, and the key as a bearer token.
    let body = fake.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["max_tokens"], 8);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    for absent in ["temperature", "top_p", "seed", "stop"] {
        assert!(body.get(absent).is_none(), "{absent} was sent");
    }
    assert_eq!(
        fake.last_authorization.lock().unwrap().as_deref(),
        Some("Bearer sk-test-key")
    );
    assert_eq!(status_of(&gateway, "e1").in_flight, 0);
    nothing_open(&fake).await;

    // A server that rejects stream_options is not sent it.
    gateway.set_model_endpoints("m", vec![endpoint(&url, "e1", 2).with_include_usage(false)]);
    let (text, error) = outcome(&gateway).await;
    assert_eq!((text.as_str(), error), (ANSWER, None));
    let body = fake.last_body.lock().unwrap().clone().unwrap();
    assert!(body.get("stream_options").is_none());
}

fn raw(pieces: &[&str]) -> Mode {
    Mode::Raw(pieces.iter().map(|p| p.to_string()).collect())
}

#[tokio::test]
async fn the_stream_parser_copes_with_what_servers_really_send() {
    let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}"#;
    // CRLF, comments, event lines, JSON split across network chunks, several events per chunk,
    // usage after the finish_reason chunk.
    let messy = raw(&[
        ": ping\r\n\r\nevent: message\r\n",
        &format!("data: {role}\r\n\r\ndata: {{\"choices\":[{{\"delta\":{{\"con"),
        "tent\":\"Hé\"},\"finish_reason\":null}]}\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"llo\"},\"finish_reason\":null}]}\r\n\r\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\r\n",
        "\r\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\r\n\r\ndata: [DO",
        "NE]\r\n\r\n",
    ]);
    let (_fake, url) = spawn_fake(messy).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    let (text, events, error) = collect(gateway.stream_chat("m", request()).await.unwrap()).await;
    assert_eq!((text.as_str(), error), ("Héllo", None));
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Finished {
            finish_reason: FinishReason::Length,
            prompt_tokens: Some(3),
            completion_tokens: Some(2)
        })
    );

    // A finish_reason, then the connection closes without [DONE]: accepted.
    let delta = r#"data: {"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}"#;
    let stop = r#"data: {"choices":[{"delta":{},"finish_reason":"stop"}]}"#;
    let (_fake, url) = spawn_fake(raw(&[&format!("{delta}\n\n{stop}\n\n")])).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    let (_, events, error) = collect(gateway.stream_chat("m", request()).await.unwrap()).await;
    assert_eq!(error, None);
    assert!(matches!(
        events.last(),
        Some(ChatEvent::Finished {
            finish_reason: FinishReason::Stop,
            prompt_tokens: None,
            ..
        })
    ));

    // Text, then a clean close with neither finish_reason nor [DONE]: truncated.
    let (_fake, url) = spawn_fake(raw(&[&format!("{delta}\n\n")])).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    let (text, _, error) = collect(gateway.stream_chat("m", request()).await.unwrap()).await;
    assert_eq!(
        (text.as_str(), error),
        ("Hi", Some(GatewayError::Truncated))
    );
}

#[tokio::test]
async fn a_hang_before_the_first_token_times_out_and_moves_to_another_replica() {
    for mode in [Mode::HangBeforeFirst, Mode::HangBeforeHeaders] {
        let (hanging, hanging_url) = spawn_fake(mode.clone()).await;
        let gateway = gateway_with(vec![endpoint(&hanging_url, "hang", 1)]).await;
        let started = tokio::time::Instant::now();
        let err = gateway.stream_chat("m", request()).await.unwrap_err();
        assert_eq!(
            err,
            GatewayError::Timeout(TimeoutKind::FirstToken),
            "{mode:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(1500));
        nothing_open(&hanging).await;
        assert_eq!(status_of(&gateway, "hang").in_flight, 0);
        assert_eq!(status_of(&gateway, "hang").consecutive_failures, 1);

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
        assert_eq!(good.requests(), 3);
        nothing_open(&hanging).await;
    }
}

#[tokio::test]
async fn a_reset_mid_stream_is_truncated_and_not_retried() {
    let (a, url_a) = spawn_fake(Mode::ResetAfter(2)).await;
    let (b, url_b) = spawn_fake(Mode::ResetAfter(2)).await;
    let gateway = gateway_with(vec![endpoint(&url_a, "a", 2), endpoint(&url_b, "b", 2)]).await;
    for n in 1..=2 {
        let stream = gateway.stream_chat("m", request()).await.unwrap();
        let (text, _, error) = collect(stream).await;
        assert_eq!(text, "Hello there");
        assert_eq!(error, Some(GatewayError::Truncated));
        assert_eq!(
            a.requests() + b.requests(),
            n,
            "no retry after text was sent"
        );
    }
    nothing_open(&a).await;
    nothing_open(&b).await;
}

#[tokio::test]
async fn malformed_chunks_and_error_events_end_the_stream() {
    // Before any text: a protocol error (the only replica, so nowhere to retry).
    let (_fake, url) = spawn_fake(Mode::Malformed).await;
    let gateway = gateway_with(vec![endpoint(&url, "bad", 1)]).await;
    let (_, error) = outcome(&gateway).await;
    assert!(
        matches!(error, Some(GatewayError::Protocol(_))),
        "{error:?}"
    );

    // After some text: the text stays, then the error; no retry.
    let (bad, bad_url) = spawn_fake(Mode::MalformedAfter(2)).await;
    let gateway = gateway_with(vec![endpoint(&bad_url, "bad", 1)]).await;
    let (text, error) = outcome(&gateway).await;
    assert_eq!(text, "Hello there");
    assert!(
        matches!(error, Some(GatewayError::Protocol(_))),
        "{error:?}"
    );
    assert_eq!(bad.requests(), 1);

    // `data: {"error": …}` mid-stream, in the OpenAI and the TGI shapes.
    for body in [
        r#"{"error":{"message":"CUDA out of memory","type":"InternalServerError","code":500}}"#,
        r#"{"error":"CUDA out of memory","error_type":"generation"}"#,
    ] {
        let (fake, url) = spawn_fake(Mode::ErrorAfter(1, body)).await;
        let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
        let (text, error) = outcome(&gateway).await;
        assert_eq!(text, "Hello");
        assert_eq!(
            error,
            Some(GatewayError::StreamError("CUDA out of memory".into()))
        );
        assert_eq!(
            error.unwrap().public_message(),
            "the model's worker reported an error"
        );
        nothing_open(&fake).await;
    }
}

#[tokio::test]
async fn slow_but_steady_completes_and_silence_times_out() {
    let (_slow, slow_url) = spawn_fake(Mode::Slow(300)).await;
    let gateway = gateway_with(vec![endpoint(&slow_url, "slow", 1)]).await;
    let stream = gateway.stream_chat("m", request()).await.unwrap();
    let (text, _, error) = collect(stream).await;
    assert_eq!((text.as_str(), error), (ANSWER, None));

    let (idle, idle_url) = spawn_fake(Mode::IdleAfter(1)).await;
    let gateway = gateway_with(vec![endpoint(&idle_url, "idle", 1)]).await;
    let stream = gateway.stream_chat("m", request()).await.unwrap();
    let (text, _, error) = collect(stream).await;
    assert_eq!(text, "Hello");
    assert_eq!(error, Some(GatewayError::Timeout(TimeoutKind::Idle)));
    nothing_open(&idle).await;
    assert_eq!(status_of(&gateway, "idle").in_flight, 0);

    // Steady chunks but too long in all: the total timeout.
    let (slow, slow_url) = spawn_fake(Mode::Slow(300)).await;
    let short_total = GatewayConfig {
        total_timeout: Duration::from_millis(1000),
        ..config()
    };
    let gateway = gateway_with_config(short_total, vec![endpoint(&slow_url, "slow", 1)]).await;
    let (text, error) = outcome(&gateway).await;
    assert!(!text.is_empty() && text.len() < ANSWER.len(), "{text}");
    assert_eq!(error, Some(GatewayError::Timeout(TimeoutKind::Total)));
    nothing_open(&slow).await;
}

#[tokio::test]
async fn server_errors_before_the_first_token_are_retried_elsewhere() {
    for (code, body, message) in [
        (
            503,
            r#"{"error":{"message":"loading","type":"x"}}"#,
            "loading",
        ),
        (500, r#"{"object":"error","message":"boom"}"#, "boom"),
        (
            429,
            r#"{"error":"Model is overloaded","error_type":"overloaded"}"#,
            "Model is overloaded",
        ),
    ] {
        let (failing, failing_url) = spawn_fake(Mode::Status(code, body)).await;
        let gateway = gateway_with(vec![endpoint(&failing_url, "failing", 1)]).await;
        let err = gateway.stream_chat("m", request()).await.unwrap_err();
        assert_eq!(
            err,
            GatewayError::Upstream {
                status: code,
                message: message.into()
            }
        );
        let (good, good_url) = spawn_fake(Mode::Normal).await;
        let gateway = gateway_with(vec![
            endpoint(&failing_url, "failing", 1),
            endpoint(&good_url, "good", 1),
        ])
        .await;
        for _ in 0..4 {
            let stream = gateway.stream_chat("m", request()).await.unwrap();
            assert_eq!(stream.endpoint_id(), "good");
            assert_eq!(collect(stream).await.2, None);
        }
        assert_eq!(good.requests(), 4);
        assert!(failing.requests() >= 1);
    }
    // A 4xx is the request's fault: not retried, not counted against the worker.
    let (bad, bad_url) =
        spawn_fake(Mode::Status(400, r#"{"detail":"max_tokens too large"}"#)).await;
    let (good, good_url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![
        endpoint(&bad_url, "bad", 1),
        endpoint(&good_url, "good", 1),
    ])
    .await;
    let mut refused = 0;
    for _ in 0..8 {
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
    assert_eq!(refused, bad.requests());
    assert_eq!(8 - refused, good.requests());
    let bad_status = status_of(&gateway, "bad");
    assert!(bad_status.healthy && bad_status.consecutive_failures == 0);
}

#[tokio::test]
async fn every_error_shape_gives_a_readable_message() {
    for (body, expected) in [
        (
            r#"{"error":{"message":"This model's maximum context length is 2048 tokens","type":"invalid_request_error","code":400}}"#,
            "This model's maximum context length is 2048 tokens",
        ),
        (
            r#"{"object":"error","message":"[{'type': 'extra_forbidden'}]","type":"BadRequestError","param":null,"code":400}"#,
            "[{'type': 'extra_forbidden'}]",
        ),
        (
            r#"{"error":"Input validation error: `inputs` must have less than 4096 tokens","error_type":"validation"}"#,
            "Input validation error: `inputs` must have less than 4096 tokens",
        ),
        (r#"{"detail":"Not authenticated"}"#, "Not authenticated"),
        (
            r#"{"detail":[{"loc":["body","messages"],"msg":"Field required","type":"missing"}]}"#,
            "Field required",
        ),
        ("Bad Request: no body", "Bad Request: no body"),
    ] {
        let (_fake, url) = spawn_fake(Mode::Status(422, body)).await;
        let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
        let err = gateway.stream_chat("m", request()).await.unwrap_err();
        assert_eq!(
            err,
            GatewayError::Upstream {
                status: 422,
                message: expected.into()
            }
        );
        assert_eq!(
            err.public_message(),
            "the model's worker refused the request"
        );
    }
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
    eventually("the third request queued", || gateway.queue_depth("m") == 1).await;
    assert_eq!(gateway.queue_depths(), vec![("m".to_owned(), 1)]);
    let freed = first.endpoint_id().to_owned();
    drop(first);
    let third = third.await.unwrap().unwrap();
    assert_eq!(third.endpoint_id(), freed);
    assert_eq!(gateway.queue_depth("m"), 0);
    // With both busy and nobody leaving, the wait is bounded.
    let started = tokio::time::Instant::now();
    let err = gateway.stream_chat("m", request()).await.unwrap_err();
    assert_eq!(err, GatewayError::QueueTimeout("m".into()));
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(gateway.queue_depth("m"), 0);
    // A waiter that gives up (its future dropped) leaves the queue.
    let g = gateway.clone();
    let quitter = tokio::spawn(async move { g.stream_chat("m", request()).await });
    eventually("the quitter queued", || gateway.queue_depth("m") == 1).await;
    quitter.abort();
    eventually("the quitter left the queue", || {
        gateway.queue_depth("m") == 0
    })
    .await;
    drop((second, third));
    eventually("all slots free", || {
        gateway.status().iter().all(|s| s.in_flight == 0)
    })
    .await;
}

#[tokio::test]
async fn load_is_in_flight_over_the_limit() {
    let (_a, url_a) = spawn_fake(Mode::Slow(200)).await;
    let (_b, url_b) = spawn_fake(Mode::Slow(200)).await;
    let gateway = gateway_with(vec![endpoint(&url_a, "a", 2), endpoint(&url_b, "b", 1)]).await;
    // Whatever the first pick, three requests fill a (2 of 2) and b (1 of 1) exactly.
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(gateway.stream_chat("m", request()).await.unwrap());
    }
    let on = |id: &str| streams.iter().filter(|s| s.endpoint_id() == id).count();
    assert_eq!((on("a"), on("b")), (2, 1));
    assert_eq!(status_of(&gateway, "a").in_flight, 2);
    assert_eq!(status_of(&gateway, "b").in_flight, 1);
}

#[tokio::test]
async fn failing_health_checks_take_an_endpoint_out_until_it_recovers() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    assert!(gateway.is_model_available("m"));
    fake.set_health(503);
    gateway.check_now().await;
    gateway.check_now().await;
    assert!(
        gateway.is_model_available("m"),
        "two failures are tolerated"
    );
    gateway.check_now().await;
    assert!(!gateway.is_model_available("m"));
    assert!(!gateway.any_healthy());
    assert!(gateway.available_models().is_empty());
    let status = status_of(&gateway, "e");
    assert_eq!(status.consecutive_failures, 3);
    assert!(status.last_error.unwrap().contains("503"));
    assert_eq!(
        gateway.stream_chat("m", request()).await.err(),
        Some(GatewayError::NoHealthyEndpoint("m".into()))
    );
    fake.set_health(200);
    gateway.check_now().await;
    assert!(gateway.is_model_available("m"));
    assert_eq!(status_of(&gateway, "e").consecutive_failures, 0);

    // No /health at all (404): /v1/models decides.
    fake.set_health(404);
    gateway.check_now().await;
    assert_eq!(status_of(&gateway, "e").consecutive_failures, 0);
    fake.models_status.store(500, Ordering::SeqCst);
    for _ in 0..3 {
        gateway.check_now().await;
    }
    assert!(!gateway.is_model_available("m"));
}

#[tokio::test]
async fn a_worker_that_goes_down_leaves_the_pool_and_comes_back() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let (good, good_url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![
        endpoint(&url, "down", 1),
        endpoint(&good_url, "good", 1),
    ])
    .await;
    let addr = fake.addr();
    fake.stop().await;
    // Requests that find it down are retried on the other replica; after three connect errors
    // it leaves the pool (no health check involved). Equal loads are tied at random, so how
    // many requests that takes varies.
    let mut sent = 0;
    while status_of(&gateway, "down").healthy {
        assert!(sent < 200, "the endpoint never left the pool");
        let stream = gateway.stream_chat("m", request()).await.unwrap();
        assert_eq!(stream.endpoint_id(), "good");
        assert_eq!(collect(stream).await.2, None);
        sent += 1;
    }
    let down = status_of(&gateway, "down");
    assert_eq!(down.consecutive_failures, 3, "{down:?}");
    assert_eq!(good.requests(), sent);
    // Health checks keep failing while it is down...
    gateway.check_now().await;
    assert!(!status_of(&gateway, "down").healthy);
    assert!(status_of(&gateway, "down").last_error.is_some());
    // ...and bring it back once it is up again.
    let (back, _) = spawn_fake_at(Mode::Normal, addr).await;
    gateway.check_now().await;
    assert!(status_of(&gateway, "down").healthy);
    let mut served = 0;
    for _ in 0..100 {
        let stream = gateway.stream_chat("m", request()).await.unwrap();
        served += usize::from(stream.endpoint_id() == "down");
        assert_eq!(collect(stream).await.2, None);
        if served > 0 {
            break;
        }
    }
    assert!(served > 0 && back.requests() == served);
}

#[tokio::test]
async fn a_dead_endpoint_is_never_healthy() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let gateway = gateway_with(vec![endpoint(&url, "dead", 1)]).await;
    assert!(!gateway.is_model_available("m"));
    assert!(status_of(&gateway, "dead").last_error.is_some());
    assert_eq!(
        gateway.stream_chat("m", request()).await.err(),
        Some(GatewayError::NoHealthyEndpoint("m".into()))
    );
    assert_eq!(
        gateway.stream_chat("unknown", request()).await.err(),
        Some(GatewayError::UnknownModel("unknown".into()))
    );
}

#[tokio::test]
async fn background_health_checks_follow_the_worker_and_stop_when_cancelled() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    let cancel = CancellationToken::new();
    let task = gateway.spawn_health_checks_until(Duration::from_millis(20), cancel.clone());
    fake.set_health(503);
    eventually("the endpoint left the pool", || {
        !gateway.is_model_available("m")
    })
    .await;
    fake.set_health(200);
    eventually("the endpoint came back", || gateway.is_model_available("m")).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("the task stopped")
        .unwrap();
    let polls = fake.health_requests.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.health_requests.load(Ordering::SeqCst), polls);

    // The gateway's own shutdown stops the plain variant.
    let task = gateway.spawn_health_checks(Duration::from_millis(20));
    gateway.shutdown();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("the task stopped")
        .unwrap();
}

#[tokio::test]
async fn endpoints_can_be_replaced_and_models_removed_at_runtime() {
    let (a, url_a) = spawn_fake(Mode::Slow(100)).await;
    let (b, url_b) = spawn_fake(Mode::Normal).await;
    let gateway = Gateway::new(config());
    // Without calling check_now: a new endpoint is probed at once.
    gateway.set_model_endpoints("m", vec![endpoint(&url_a, "a", 1)]);
    eventually("the new endpoint was probed", || {
        gateway.is_model_available("m")
    })
    .await;
    let running = gateway.stream_chat("m", request()).await.unwrap();
    // Same id and URL with a new limit: the in-flight count carries over.
    gateway.set_model_endpoints(
        "m",
        vec![endpoint(&url_a, "a", 2), endpoint(&url_b, "b", 1)],
    );
    let a_status = status_of(&gateway, "a");
    assert_eq!((a_status.in_flight, a_status.max_concurrency), (1, 2));
    assert!(a_status.healthy);
    eventually("b was probed", || status_of(&gateway, "b").healthy).await;
    // A request waiting for a slot learns that its model was removed.
    gateway.set_model_endpoints("m", vec![endpoint(&url_a, "a", 1)]);
    let g = gateway.clone();
    let waiter = tokio::spawn(async move { g.stream_chat("m", request()).await });
    eventually("the request queued", || gateway.queue_depth("m") == 1).await;
    gateway.remove_model("m");
    assert_eq!(
        waiter.await.unwrap().unwrap_err(),
        GatewayError::UnknownModel("m".into())
    );
    assert!(!gateway.is_model_available("m"));
    assert!(gateway.status().is_empty());
    // The stream already running finishes normally.
    assert_eq!(collect(running).await.2, None);
    nothing_open(&a).await;
    assert_eq!(b.requests(), 0);
}

#[tokio::test]
async fn dropping_a_stream_closes_the_upstream_connection_and_frees_the_slot() {
    let (fake, url) = spawn_fake(Mode::Slow(200)).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 1)]).await;
    let mut stream = gateway.stream_chat("m", request()).await.unwrap();
    let _ = stream.next().await;
    assert_eq!(fake.open_streams(), 1);
    assert_eq!(status_of(&gateway, "e").in_flight, 1);
    drop(stream);
    eventually("the fake saw the disconnect", || fake.open_streams() == 0).await;
    assert_eq!(status_of(&gateway, "e").in_flight, 0);
    assert_eq!(
        status_of(&gateway, "e").consecutive_failures,
        0,
        "leaving is not a failure"
    );

    // Giving up while waiting for the first token closes the request too.
    fake.set_mode(Mode::HangBeforeFirst);
    let gave_up = tokio::time::timeout(
        Duration::from_millis(200),
        gateway.stream_chat("m", request()),
    )
    .await;
    assert!(gave_up.is_err());
    eventually("the fake saw the disconnect", || fake.open_streams() == 0).await;
    assert_eq!(status_of(&gateway, "e").in_flight, 0);
}

#[tokio::test]
async fn nothing_is_left_open_once_streams_end_and_the_gateway_is_dropped() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let (failing, failing_url) = spawn_fake(Mode::ResetAfter(1)).await;
    let gateway = gateway_with(vec![endpoint(&url, "e", 4)]).await;
    let streams: Vec<ChatStream> =
        futures::future::join_all((0..4).map(|_| gateway.stream_chat("m", request())))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    for (text, _, error) in futures::future::join_all(streams.into_iter().map(collect)).await {
        assert_eq!((text.as_str(), error), (ANSWER, None));
    }
    let other = gateway_with(vec![endpoint(&failing_url, "f", 1)]).await;
    assert_eq!(outcome(&other).await.1, Some(GatewayError::Truncated));
    assert!(fake.open_connections() >= 1, "kept alive for reuse");
    assert_eq!(status_of(&gateway, "e").in_flight, 0);
    drop((gateway, other));
    eventually("every connection closed", || {
        fake.open_connections() == 0 && failing.open_connections() == 0
    })
    .await;
    assert_eq!(fake.open_streams() + failing.open_streams(), 0);
}

#[tokio::test]
async fn many_concurrent_requests_never_exceed_the_limits() {
    let (a, url_a) = spawn_fake(Mode::Slow(20)).await;
    let (b, url_b) = spawn_fake(Mode::Slow(20)).await;
    let config = GatewayConfig {
        queue_timeout: Duration::from_secs(10),
        ..config()
    };
    let gateway = gateway_with_config(
        config,
        vec![endpoint(&url_a, "a", 2), endpoint(&url_b, "b", 3)],
    )
    .await;
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let watcher = {
        let (gateway, peak) = (gateway.clone(), Arc::clone(&peak));
        tokio::spawn(async move {
            loop {
                let over = gateway
                    .status()
                    .iter()
                    .any(|s| s.in_flight > s.max_concurrency);
                if over {
                    peak.store(usize::MAX, Ordering::SeqCst);
                }
                let open = a.open_streams() + b.open_streams();
                peak.fetch_max(open, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let results = futures::future::join_all((0..20).map(|_| outcome(&gateway))).await;
    watcher.abort();
    for (text, error) in results {
        assert_eq!((text.as_str(), error), (ANSWER, None));
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 5, "at most 2 + 3 at once, saw {peak}");
    assert_eq!(gateway.queue_depth("m"), 0);
}
