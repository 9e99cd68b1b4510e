//! Draining behind a load balancer (`server.drain_secs`): on SIGTERM `/readyz` answers 503
//! while every request is still served, then the process stops accepting.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_draining_process_is_unready_but_serves_until_it_stops() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = Arc::new(
        TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
            s.server.drain_secs = 2;
        })
        .await,
    );
    let client = app.client();
    let ready = |c: reqwest::Client, u: String| async move {
        c.get(format!("{u}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    // The gateway's first health checks may take a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(client.clone(), app.url.clone()).await.ok() != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let stopping = {
        let app = Arc::clone(&app);
        tokio::spawn(async move { app.stop().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["draining"], true, "{body}");
    // Still served meanwhile: a battle starts and streams to its end.
    let id = app.create_battle(&client, "Drained but serving?").await;
    app.read_stream(&client, &id).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the drain ended too soon to test"
    );
    stopping.await.unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "stopped after {:?}, before the drain ended",
        started.elapsed()
    );
    // Then it accepts nothing.
    assert!(
        reqwest::Client::new()
            .get(format!("{}/healthz", app.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err()
    );
}
