//! Many server processes on one Postgres, and votes without a global lock: two apps share one
//! database; rating runs stay reproducible to the bit while votes commit concurrently.

use crate::common;

use arena_core::limits::{Budget, Rate};
use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use std::time::Duration;

fn generous() -> Budget {
    let r = Rate {
        burst: 1000,
        per_minute: 1000,
    };
    Budget {
        per_address: r,
        per_voter: r,
    }
}

#[tokio::test]
async fn a_restart_never_touches_a_siblings_battles() {
    let (_fake, url) = spawn_fake(Mode::Slow(400)).await;
    let database = fresh_database().await;
    let models = || vec![model("alpha", &url, 16), model("beta", &url, 16)];
    let a = TestApp::spawn_on(database.clone(), models(), |_| {}).await;
    let client = a.client();
    let battle = a.create_battle(&client, "Hi").await;
    // A sibling starts (as after a deploy or a crash) while A is generating.
    let b = TestApp::spawn_on(database.clone(), models(), |_| {}).await;
    assert_eq!(
        b.count("select count(*) from battle_turn where status = 'generating'")
            .await,
        1,
        "the sibling's start left A's turn alone"
    );
    let (_, events) = a.read_stream(&client, &battle).await;
    assert_eq!(
        events.iter().filter(|(e, _)| e == "done").count(),
        2,
        "{events:?}"
    );
    assert_eq!(a.vote(&client, &battle, "model_a", None).await.0, 200);
    assert_eq!(b.count("select count(*) from server_instance").await, 2);
}

#[tokio::test]
async fn the_turns_of_a_process_that_stopped_fail_after_its_lease() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.arena.instance_lease_ms = 1000;
        },
    )
    .await;
    // A process killed mid-generation: its heartbeat stops, its turn stays `generating`.
    let dead = uuid::Uuid::now_v7();
    let (battle, turn) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    sqlx::query("insert into server_instance (id, heartbeat_at) values ($1, now())")
        .bind(dead)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "insert into voter (id, session_hash) values ('{battle}', 'x'::bytea);
         insert into battle (id, voter_id, model_a_id, model_b_id)
           select '{battle}', '{battle}', (select id from model where key = 'alpha'),
                  (select id from model where key = 'beta');
         insert into battle_turn (id, battle_id, turn_index, prompt, owner)
           values ('{turn}', '{battle}', 0, 'Hi', '{dead}');
         insert into answer (id, turn_id, side, model_id, status)
           select gen_random_uuid(), '{turn}', s, (select id from model where key = 'alpha'),
                  'streaming' from unnest(array['a', 'b']) s"
    )))
    .execute(&app.pool)
    .await
    .unwrap();
    // While its lease runs, nothing happens to it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = || async {
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
            "select status from battle_turn where id = '{turn}'"
        )))
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    assert_eq!(status().await, "generating");
    // Then a live process fails it, plainly.
    for _ in 0..50 {
        if status().await == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status().await, "failed");
    assert_eq!(
        app.count(&format!(
            "select count(*) from answer where turn_id = '{turn}' and status = 'error'"
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn rating_runs_stay_reproducible_under_concurrent_votes() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let models = vec![
        model("alpha", &url, 16),
        model("beta", &url, 16),
        model("gamma", &url, 16),
    ];
    let app = TestApp::spawn_with(models, |s| {
        s.limits.leaderboard = generous();
        s.limits.create_battle = generous();
        s.limits.vote = generous();
        s.limits.max_generating_per_address = 1000;
    })
    .await;
    let mut ready = Vec::new();
    for _ in 0..40 {
        let voter = app.client();
        let id = app.create_battle(&voter, "Hi").await;
        app.read_stream(&voter, &id).await;
        ready.push((voter, id));
    }
    // A run before any vote: the runs below cannot all be the same one.
    let (_, before) = app
        .get_json(&app.client(), "/api/v1/leaderboard?language=en")
        .await;
    let winners = ["model_a", "model_b", "tie", "both_bad"];
    let votes = ready
        .iter()
        .enumerate()
        .map(|(i, (voter, id))| app.vote(voter, id, winners[i % 4], None));
    let reader = async {
        let client = app.client();
        let mut runs = Vec::new();
        for _ in 0..30 {
            let (status, board) = app
                .get_json(&client, "/api/v1/leaderboard?language=en")
                .await;
            assert_eq!(status, 200, "{board}");
            runs.push(board["run_id"].as_i64().unwrap());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        runs
    };
    let (results, mut runs) = tokio::join!(futures::future::join_all(votes), reader);
    assert!(results.iter().all(|(s, _)| *s == 200));
    // The counts equal the counted votes, with no lock serialising them.
    assert_eq!(
        app.count(
            "select coalesce(sum(wins_a + wins_b + ties + both_bad), 0)::bigint from pair_count"
        )
        .await,
        40
    );
    let (_, last) = app
        .get_json(&app.client(), "/api/v1/leaderboard?language=en")
        .await;
    assert_eq!(last["vote_count"], 40);
    runs.push(last["run_id"].as_i64().unwrap());
    runs.insert(0, before["run_id"].as_i64().unwrap());
    runs.dedup();
    assert!(runs.len() >= 2, "runs saw different vote sets: {runs:?}");
    for run in runs {
        let (status, reproduced) = app
            .get_json(
                &app.client(),
                &format!("/api/v1/leaderboard/runs/{run}/reproduce"),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(reproduced["identical"], true, "run {run}: {reproduced}");
    }
}

#[tokio::test]
async fn a_catalog_change_reaches_every_process_within_seconds() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let database = fresh_database().await;
    let models = || {
        vec![
            model("alpha", &url, 16),
            model("beta", &url, 16),
            model("gamma", &url, 16),
        ]
    };
    let a = TestApp::spawn_on(database.clone(), models(), |_| {}).await;
    let b = TestApp::spawn_on(database.clone(), models(), |_| {}).await;
    // A change made through A's database connection (as the admin console will).
    sqlx::query("update model set display_name = 'Renamed Gamma', weight = 2 where key = 'gamma'")
        .execute(&a.pool)
        .await
        .unwrap();
    sqlx::query("update model set active = false where key in ('alpha', 'beta')")
        .execute(&a.pool)
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..50 {
        let gamma = b.arena.catalog.all().into_iter().find(|m| m.key == "gamma");
        let alpha = b.arena.catalog.all().into_iter().find(|m| m.key == "alpha");
        if gamma.is_some_and(|g| g.display_name == "Renamed Gamma" && g.weight == 2.0)
            && alpha.is_some_and(|a| !a.active)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "process B did not see the change within 5 s");
    // With one active model left, B starts no battle.
    let r = b
        .client()
        .post(format!("{}/api/v1/battles", b.url))
        .json(&serde_json::json!({"prompt": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn on_sigterm_streams_finish_and_nothing_is_left_half_written() {
    let (_fake, url) = spawn_fake(Mode::Slow(150)).await;
    let app = TestApp::spawn(vec![model("alpha", &url, 16), model("beta", &url, 16)]).await;
    let client = app.client();
    let battle = app.create_battle(&client, "Hi").await;
    let reading = {
        let (client, url, battle) = (client.clone(), app.url.clone(), battle.clone());
        tokio::spawn(async move {
            let text = client
                .get(format!("{url}/api/v1/battles/{battle}/stream"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            parse_sse(&text)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    app.stop().await.unwrap();
    // The viewer saw its answers to the end, and the process waited for them.
    let events = reading.await.unwrap();
    assert_eq!(
        events.iter().filter(|(e, _)| e == "done").count(),
        2,
        "{events:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // No new connection is accepted; the records are complete; the process left the roster.
    assert!(
        reqwest::Client::new()
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        app.count("select count(*) from battle_turn where status = 'ready'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from answer where status in ('pending', 'streaming')")
            .await,
        0
    );
    assert_eq!(app.count("select count(*) from server_instance").await, 0);
}

#[tokio::test]
async fn responses_are_compressed_but_event_streams_are_not() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn(vec![model("alpha", &url, 16), model("beta", &url, 16)]).await;
    let client = app.client();
    for (path, encoding) in [("/", "br"), ("/api/v1/leaderboard", "gzip")] {
        let r = client
            .get(format!("{}{path}", app.url))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], encoding, "{path}");
    }
    let battle = app.create_battle(&client, "Hi").await;
    let r = client
        .get(format!("{}/api/v1/battles/{battle}/stream", app.url))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("content-encoding"));
    assert!(r.text().await.unwrap().contains("event: done"));
}

#[tokio::test]
async fn the_page_draws_heatmaps_of_the_top_20_unless_asked_for_more() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let models = (0..25)
        .map(|i| model(&format!("model-{i:02}"), &url, 16))
        .collect();
    let app = TestApp::spawn(models).await;
    let client = app.client();
    let page = |query: &'static str| {
        let client = client.clone();
        let url = format!("{}/leaderboard{query}", app.url);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let default = page("").await;
    assert_eq!(default.matches("<rect").count(), 2 * 20 * 20);
    assert!(default.contains("The 20 best-ranked of 25 models"));
    let all = page("?heatmaps=all").await;
    assert_eq!(all.matches("<rect").count(), 2 * 25 * 25);
    assert!(!all.contains("best-ranked of"));
    assert_eq!(
        page("?heatmaps=5").await.matches("<rect").count(),
        2 * 5 * 5
    );
    // The JSON API keeps the whole matrices.
    let (status, json) = app.get_json(&client, "/api/v1/leaderboard").await;
    assert_eq!(status, 200);
    assert_eq!(json["battles"].as_array().unwrap().len(), 25);
}

#[tokio::test]
async fn content_hashed_site_files_are_cached_for_a_year_and_the_page_links_them() {
    // A built site as scripts/build-site.sh leaves it.
    let site = std::env::temp_dir().join(format!("arena-site-{}", uuid::Uuid::new_v4()));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let name = "arena.0123456789abcdef";
    std::fs::write(pkg.join("output-name"), format!("{name}\n")).unwrap();
    std::fs::write(
        pkg.join(format!("{name}.js")),
        "export default function(){}",
    )
    .unwrap();
    std::fs::write(pkg.join(format!("{name}_bg.wasm")), b"\0asm").unwrap();
    std::fs::write(pkg.join(format!("{name}.css")), "body{}").unwrap();
    std::fs::write(pkg.join("unhashed.txt"), "x").unwrap();
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let site_root = site.clone();
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.server.site_root = site_root;
        },
    )
    .await;
    let client = app.client();
    let page = client.get(format!("{}/", app.url)).send().await.unwrap();
    assert!(
        !page.headers().contains_key("cache-control")
            || page.headers()["cache-control"] != "public, max-age=31536000, immutable"
    );
    let html = page.text().await.unwrap();
    for linked in [
        format!("/pkg/{name}.js"),
        format!("/pkg/{name}_bg.wasm"),
        format!("/pkg/{name}.css"),
    ] {
        assert!(html.contains(&linked), "the page links {linked}");
        let r = client
            .get(format!("{}{linked}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{linked}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{linked}"
        );
    }
    let r = client
        .get(format!("{}/pkg/unhashed.txt", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let r = client
        .get(format!("{}/pkg/arena.0123456789abcdef.missing.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(!r.headers().contains_key("cache-control"));
    std::fs::remove_dir_all(&site).unwrap();
}

#[tokio::test]
async fn a_battle_created_on_one_process_streams_and_votes_through_another() {
    // Slow enough (about 2 s a turn) that both joins happen while the turn is written.
    let (_fake, url) = spawn_fake(Mode::Slow(250)).await;
    let database = fresh_database().await;
    let models = || vec![model("alpha", &url, 16), model("beta", &url, 16)];
    let a = TestApp::spawn_on(database.clone(), models(), |_| {}).await;
    let b = TestApp::spawn_on(database.clone(), models(), |_| {}).await;
    // One browser (one cookie), two processes behind a balancer with no sticky sessions.
    let client = a.client();
    for late_ms in [0u64, 400] {
        let battle = a.create_battle(&client, "Hi").await;
        tokio::time::sleep(Duration::from_millis(late_ms)).await;
        let (_, events) = b.read_stream(&client, &battle).await;
        assert_eq!(
            events.iter().filter(|(e, _)| e == "done").count(),
            2,
            "joined after {late_ms} ms: {events:?}"
        );
        // Followed live from A (a replay from the database would be one delta per side).
        let deltas = events.iter().filter(|(e, _)| e == "delta").count();
        assert!(
            deltas > 2,
            "joined after {late_ms} ms: only {deltas} deltas"
        );
        // Every byte, once: the text B streamed is the text A recorded.
        for side in ["a", "b"] {
            let recorded: String = sqlx::query_scalar(
                "select a.content from answer a join battle_turn t on t.id = a.turn_id
                 where t.battle_id = $1::uuid and a.side = $2 and not a.discarded",
            )
            .bind(&battle)
            .bind(side)
            .fetch_one(&a.pool)
            .await
            .unwrap();
            assert_eq!(
                text_of(&events, side),
                recorded,
                "side {side}, late {late_ms} ms"
            );
            assert!(!recorded.is_empty());
        }
        let (status, reveal) = b.vote(&client, &battle, "tie", None).await;
        assert_eq!(status, 200, "{reveal}");
    }
    // The other way round: created on B, streamed through A.
    let battle = b.create_battle(&client, "Hello").await;
    let (_, events) = a.read_stream(&client, &battle).await;
    assert_eq!(events.iter().filter(|(e, _)| e == "done").count(), 2);
    for _ in 0..50 {
        if a.arena.remote.is_empty() && b.arena.remote.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        a.arena.remote.is_empty() && b.arena.remote.is_empty(),
        "stand-ins left behind"
    );
}

/// A vote whose transaction was open when a run read its snapshot, and that committed after it,
/// has an id below the run's mark: the run must not be served as current afterwards (it once
/// was, for as long as no newer vote arrived).
#[tokio::test]
async fn a_run_that_missed_an_in_flight_vote_is_not_served_as_current() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn(vec![model("alpha", &url, 16), model("beta", &url, 16)]).await;
    let (slow, fast) = (app.client(), app.client());
    let slow_battle = app.create_battle(&slow, "Hi").await;
    let fast_battle = app.create_battle(&fast, "Hi").await;
    app.read_stream(&slow, &slow_battle).await;
    app.read_stream(&fast, &fast_battle).await;
    // The slow vote takes its id first and commits last, as the vote path writes it, except
    // that its count goes to yesterday's row: the fast vote picks one of 16 shards of today's
    // row at random and would wait for this open transaction's lock on the same one (as votes
    // on one shard do, briefly), while the test waits for the fast vote before committing.
    let mut in_flight = app.pool.begin().await.unwrap();
    sqlx::query(
        "with v as (
             insert into vote (turn_id, battle_id, voter_id, winner, counted, txid)
             select t.id, b.id, b.voter_id, 'model_a', true, pg_current_xact_id()
             from battle b join battle_turn t on t.battle_id = b.id where b.id = $1::uuid
             returning battle_id)
         insert into pair_count (model_a_id, model_b_id, language, day, wins_a, wins_b, ties,
                                 both_bad, shard)
         select b.model_a_id, b.model_b_id, coalesce(b.language, ''),
                (now() at time zone 'utc')::date - 1, 1, 0, 0, 0, 15
         from v join battle b on b.id = v.battle_id
         on conflict (model_a_id, model_b_id, language, day, shard) do update
             set wins_a = pair_count.wins_a + 1",
    )
    .bind(&slow_battle)
    .execute(&mut *in_flight)
    .await
    .unwrap();
    let (s, _) = app.vote(&fast, &fast_battle, "model_b", None).await;
    assert_eq!(s, 200);
    let (_, seen) = app
        .get_json(&app.client(), "/api/v1/leaderboard?language=en")
        .await;
    assert_eq!(
        seen["vote_count"], 1,
        "the open transaction's vote is invisible: {seen}"
    );
    in_flight.commit().await.unwrap();
    let (_, now) = app
        .get_json(&app.client(), "/api/v1/leaderboard?language=en")
        .await;
    assert_eq!(now["vote_count"], 2, "{now}");
    assert_ne!(now["run_id"], seen["run_id"]);
}
