//! Workers that ignore their bounds: answers cut at the byte and token bounds, and endpoints that never follow redirects, echo other services or take numeric hosts.

use super::*;
use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;

#[tokio::test]
async fn a_worker_that_ignores_its_bounds_is_cut_and_the_answer_stored_bounded() {
    // 50 MB for max_tokens = 16, in 16 KiB deltas: the byte bound (64 KiB) cuts it.
    let (fake, url) = spawn_fake(Mode::Flood {
        total: 50 << 20,
        delta: 16 << 10,
    })
    .await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            // The failure it counts must not take the only endpoint out of this test's pool.
            s.gateway.failure_threshold = 100;
        },
    )
    .await;
    let max = app.arena.gateway.config().max_answer_bytes;
    assert_eq!(max, 64 * 1024, "the documented default");
    let rss_before = rss_bytes();
    let voter = app.client();
    let battle = app.create_battle(&voter, "Say hello.").await;
    let (raw, events) = app.read_stream(&voter, &battle).await;
    for side in ["a", "b"] {
        let text = text_of(&events, side);
        assert!(text.len() <= max, "{side}: {} bytes streamed", text.len());
        assert!(
            text.len() >= max - (16 << 10),
            "{side}: cut at the bound, not before"
        );
    }
    let done: Vec<_> = events.iter().filter(|(e, _)| e == "done").collect();
    assert_eq!(done.len(), 2, "{}", &raw[raw.len().saturating_sub(500)..]);
    assert!(
        done.iter().all(|(_, d)| d["finish_reason"] == "length"),
        "{done:?}"
    );
    let stored: Vec<(String, Option<String>, i32)> = sqlx::query_as(
        "select status, finish_reason, octet_length(content) from answer order by side",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 2);
    for (status, finish, bytes) in &stored {
        assert_eq!(status, "done");
        assert_eq!(finish.as_deref(), Some("length"));
        assert!(*bytes as usize <= max, "{bytes} bytes stored");
    }
    // The worker was cut off, not read to its end: what it handed its sockets (two answers,
    // each at most its socket buffers, 4 MiB here, past the bound) is far from 2 × 50 MB.
    assert!(
        fake.sent_bytes() < 2 * (8 << 20),
        "{} bytes were read of the 50 MB",
        fake.sent_bytes()
    );
    // A replay reads the bounded answer.
    let (replay, _) = app.read_stream(&voter, &battle).await;
    assert!(replay.len() < 4 * max, "{} bytes replayed", replay.len());
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);
    // The endpoint counted the misbehaviour.
    let status = app.arena.gateway.status();
    assert!(
        status.iter().any(|s| s
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("longer than 65536 bytes"))),
        "{status:?}"
    );
    app.assert_nothing_left_running().await;
}

#[tokio::test]
async fn a_worker_that_ignores_max_tokens_is_cut_at_max_tokens_chunks() {
    let (_fake, url) = spawn_fake(Mode::Flood {
        total: 1 << 20,
        delta: 3,
    })
    .await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.gateway.failure_threshold = 100;
        },
    )
    .await;
    let voter = app.client();
    let battle = app.create_battle(&voter, "Say hello.").await;
    let (_, events) = app.read_stream(&voter, &battle).await;
    for side in ["a", "b"] {
        assert_eq!(
            text_of(&events, side),
            "x".repeat(48),
            "16 chunks of 3 bytes"
        );
    }
    let stored: Vec<(String, i32)> =
        sqlx::query_as("select finish_reason, completion_tokens from answer")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, vec![("length".to_owned(), 16); 2]);
    app.assert_nothing_left_running().await;
}

/// A service that answers every request with a redirect to `target`, or with an HTML page.
async fn spawn_misdirecting(target: Option<String>) -> String {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let target = target.clone();
        async move {
            match target {
                Some(to) => (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [("location", format!("{to}{}", uri.path()))],
                )
                    .into_response(),
                None => (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    [("content-type", "text/html")],
                    "<html><body>SECRET-INTERNAL-PAGE admin token=abc123</body></html>",
                )
                    .into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn endpoints_never_follow_redirects_nor_echo_other_services_or_take_numeric_hosts() {
    let (worker, worker_url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn(vec![
        model("alpha", &worker_url, 16),
        model("beta", &worker_url, 16),
    ])
    .await;
    let admin = signed_in_as(&app, "root", "admin").await;
    let add = |base_url: String| {
        let admin = admin.clone();
        let url = format!("{}/api/v1/admin/models/alpha/endpoints", app.url);
        async move {
            let r = admin
                .post(url)
                .json(&serde_json::json!({
                    "base_url": base_url, "upstream_model": "m", "max_concurrency": 2
                }))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    // Numeric and shortened IPv4 forms are refused, with the form to write instead.
    for bad in [
        "http://0",
        "http://2130706433",
        "http://127.1",
        "http://0x7f.0.0.1",
        "http://0.0.0.0:8081",
    ] {
        let (status, body) = add(bad.to_owned()).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("base_url"),
            "{body}"
        );
    }
    let endpoints_before = app.count("select count(*) from model_endpoint").await;
    assert_eq!(endpoints_before, 2, "the refused ones were not stored");

    let test = |base_url: String| {
        let admin = admin.clone();
        let app_url = app.url.clone();
        let pool = app.pool.clone();
        async move {
            let (status, body) = add(base_url.clone()).await;
            assert_eq!(status, 201, "{body}");
            let id: uuid::Uuid =
                sqlx::query_scalar("select id from model_endpoint where base_url = $1")
                    .bind(&base_url)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let r = admin
                .post(format!("{app_url}/api/v1/admin/endpoints/{id}/test"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    // A 307 to the real worker is not followed: the prompt is not re-posted there.
    let redirecting = spawn_misdirecting(Some(worker_url.clone())).await;
    let requests_before = worker.requests();
    let t = test(redirecting).await;
    assert_eq!(t["ok"], false, "{t}");
    assert!(t["error"].as_str().unwrap().contains("307"), "{t}");
    assert_eq!(
        worker.requests(),
        requests_before,
        "the redirect was followed"
    );
    // Another service's error page: the status and a short reason, never its content.
    let t = test(spawn_misdirecting(None).await).await;
    let error = t["error"].as_str().unwrap();
    assert!(error.contains("500"), "{t}");
    assert!(
        !error.contains("SECRET") && !error.contains("abc123") && error.len() < 200,
        "{error}"
    );
}
