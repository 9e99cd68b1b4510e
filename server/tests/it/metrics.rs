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

/// The arena's series a dashboard or rule file names (`arena_…`, `process_…`), histogram
/// suffixes kept (the scrape has `_bucket`, `_count` and `_sum` lines).
fn series_named(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let starts = (rest.starts_with("arena_") || rest.starts_with("process_"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..len].to_owned());
            i += len;
        } else {
            i += 1;
        }
    }
    names
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
        // A second vote on the pair is capped; a second new leaderboard view is refused.
        s.rigging.cap_per_pair_per_day = 1;
        s.exports.voter_salt = arena_core::config::Secret::new("metrics");
        s.limits.leaderboard.per_address.burst = 1;
        s.limits.leaderboard.per_address.per_minute = 1;
    })
    .await;
    let before = scrape(&app).await;

    let volunteer = app.client();
    let id = app
        .create_battle(&volunteer, "What do foxes eat in winter?")
        .await;
    app.read_stream(&volunteer, &id).await;
    assert_eq!(app.vote(&volunteer, &id, "tie", None).await.0, 200);
    let capped = app.create_battle(&volunteer, "And in summer?").await;
    app.read_stream(&volunteer, &capped).await;
    assert_eq!(app.vote(&volunteer, &capped, "model_a", None).await.0, 200);
    // An admin voids the first vote and restores it, and downloads the votes.
    let admin = signed_in_as(&app, "operator", "admin").await;
    let vote: i64 = app.count("select min(id) from vote").await;
    for action in ["void", "unvoid"] {
        let r = admin
            .post(format!("{}/api/v1/admin/votes/{vote}/{action}", app.url))
            .json(&serde_json::json!({"reason": "checking the metrics"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{action}");
    }
    let r = admin
        .get(format!("{}/api/v1/exports/battles?schema=full", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let downloaded = r.bytes().await.unwrap().len();
    // Two new leaderboard views from one address: the second is refused by its budget.
    let mut statuses = Vec::new();
    for language in ["eu", "es"] {
        let r = volunteer
            .get(format!(
                "{}/api/v1/leaderboard?language={language}",
                app.url
            ))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
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
    assert!(moved("arena_votes_total", &["counted=\"false\""]) >= 1.0);
    assert!(moved("arena_votes_capped_total", &[]) >= 1.0);
    assert!(moved("arena_votes_voided_total", &["kind=\"moderation\""]) >= 1.0);
    assert!(moved("arena_votes_restored_total", &["kind=\"moderation\""]) >= 1.0);
    assert!(moved("arena_export_bytes_total", &[]) >= downloaded as f64);
    assert!(moved("arena_refusals_total", &["code="]) >= 1.0);
    assert_eq!(
        value(
            &after,
            "arena_voters_quarantined_total",
            &["signal=\"sequential_test\""]
        ),
        value(
            &before,
            "arena_voters_quarantined_total",
            &["signal=\"sequential_test\""]
        ),
    );
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

    // Every series the dashboard and the alert rules name is in the scrape, and the rules
    // are valid.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in ["deploy/grafana/arena.json", "deploy/prometheus/alerts.yml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let names = series_named(&text);
        assert!(names.len() >= 8, "{file}: {names:?}");
        for name in names {
            assert!(
                has(&after, &name),
                "{file} names {name}, which no scrape has"
            );
        }
    }
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(root.join("deploy/prometheus/alerts.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Not on the public listener.
    let r = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(r.status(), 404);
}
