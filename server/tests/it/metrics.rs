//! Prometheus metrics (`server.metrics_listen`): a scrape after a battle and a vote shows the
//! series moved, the state gauges are there, `promtool check metrics` accepts the scrape, and
//! the public listener does not serve it.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use std::time::Duration;

/// The sum of the samples of `name` whose labels contain every one of `labels` (`k="v"`).
fn value(scrape: &str, name: &str, labels: &[&str]) -> f64 {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest),
                None => (series, ""),
            };
            (n == name && labels.iter().all(|want| rest.contains(want)))
                .then(|| v.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

fn has(scrape: &str, name: &str) -> bool {
    scrape
        .lines()
        .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
}

async fn scrape(app: &TestApp) -> String {
    let url = app.metrics_url.as_ref().expect("metrics are on");
    let r = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_scrape_after_a_battle_and_a_vote_shows_them_and_promtool_accepts_it() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.server.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let before = scrape(&app).await;

    let volunteer = app.client();
    let id = app
        .create_battle(&volunteer, "What do foxes eat in winter?")
        .await;
    app.read_stream(&volunteer, &id).await;
    assert_eq!(app.vote(&volunteer, &id, "tie", None).await.0, 200);
    // A vote on a battle that does not exist: a 404 by its route, not by its path.
    let missing = uuid::Uuid::new_v4();
    let r = volunteer
        .get(format!("{}/api/v1/battles/{missing}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The default leaderboard is refitted every 100 ms in tests.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = scrape(&app).await;

    let moved =
        |name: &str, labels: &[&str]| value(&after, name, labels) - value(&before, name, labels);
    // Other tests of this binary record into the same process-wide recorder: at least ours.
    assert!(moved("arena_battles_created_total", &[]) >= 1.0);
    assert!(
        moved(
            "arena_votes_total",
            &["outcome=\"tie\"", "counted=\"true\""]
        ) >= 1.0
    );
    assert!(
        moved(
            "arena_answers_total",
            &["model=\"alpha\"", "status=\"done\""]
        ) >= 1.0
    );
    assert!(
        moved(
            "arena_answers_total",
            &["model=\"beta\"", "status=\"done\""]
        ) >= 1.0
    );
    assert!(moved("arena_turns_finished_total", &["status=\"done\""]) >= 1.0);
    assert!(
        moved(
            "arena_time_to_first_token_seconds_count",
            &["model=\"alpha\""]
        ) >= 1.0
    );
    assert!(
        moved(
            "arena_http_requests_total",
            &[
                "route=\"/api/v1/battles\"",
                "method=\"POST\"",
                "status=\"201\""
            ]
        ) >= 1.0
    );
    assert!(
        moved(
            "arena_http_requests_total",
            &["route=\"/api/v1/battles/{id}\"", "status=\"404\""]
        ) >= 1.0
    );
    assert!(
        !after.contains(&missing.to_string()),
        "a path, not a route, became a label"
    );
    assert!(
        moved(
            "arena_http_request_duration_seconds_count",
            &["method=\"POST\""]
        ) >= 1.0
    );
    // The state gauges, set by the scrape.
    assert_eq!(
        value(&after, "arena_endpoint_healthy", &["model=\"alpha\""]),
        1.0
    );
    assert!(has(&after, "arena_gateway_queue_depth"));
    assert!(
        value(
            &after,
            "arena_db_pool_max_connections",
            &["class=\"public\""]
        ) >= 1.0
    );
    for class in ["public", "research", "admin", "rating"] {
        assert!(has(&after, "arena_db_pool_acquire_seconds"), "{class}");
        assert!(after.contains(&format!("arena_db_pool_connections{{class=\"{class}\"")));
    }
    let age = value(&after, "arena_leaderboard_run_age_seconds", &[]);
    assert!((0.0..60.0).contains(&age), "leaderboard age {age}");
    assert!(value(&after, "arena_instance_heartbeat_timestamp_seconds", &[]) > 1.7e9);
    assert_eq!(value(&after, "arena_build_info", &["profile="]), 1.0);
    assert!(has(&after, "arena_sse_streams_open"));
    assert!(has(&after, "process_start_time_seconds"));

    // The format, as Prometheus's own linter reads it (Debian's `prometheus`, which
    // scripts/setup.sh installs).
    let file = std::env::temp_dir().join(format!("arena-scrape-{}.txt", uuid::Uuid::new_v4()));
    std::fs::write(&file, &after).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool (Debian's prometheus package; scripts/setup.sh installs it)");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Not on the public listener.
    let r = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(r.status(), 404);
}
