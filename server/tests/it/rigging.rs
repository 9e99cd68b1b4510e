//! Rigging defences on a real Postgres (issue #12): the stored surprise of a hand-checked vote,
//! a planted rigger quarantined with its votes out of the leaderboard (and back when an admin
//! clears it), a rating run that records the quarantine state, and the influence cap.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::json;
use std::time::Duration;

/// Two models (so every battle is alpha against beta); limits off; the sequential test at
/// α = 0.01; the latest ratings kept until reloaded.
async fn two_models(cap: u32) -> TestApp {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.limits.enabled = false;
        s.rigging.alpha = 0.01;
        s.rigging.cap_per_pair_per_day = cap;
        s.rigging.ratings_cache_secs = 3600;
    })
    .await
}

/// A battle streamed to its end: (id, the side alpha is on).
async fn battle(app: &TestApp, client: &reqwest::Client, i: usize) -> (String, &'static str) {
    let id = app.create_battle(client, &format!("Question {i}?")).await;
    app.read_stream(client, &id).await;
    let a: String = sqlx::query_scalar(
        "select m.key from battle b join model m on m.id = b.model_a_id where b.id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (id, if a == "alpha" { "model_a" } else { "model_b" })
}

fn other(side: &str) -> &'static str {
    if side == "model_a" {
        "model_b"
    } else {
        "model_a"
    }
}

async fn last_vote(app: &TestApp) -> (i64, uuid::Uuid, Option<f64>, Option<i64>) {
    sqlx::query_as(
        "select id, voter_id, surprise, surprise_run_id from vote order by id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Honest votes: alpha 8 wins, beta 8 wins, 4 ties (equal ratings; 20 votes, as many as a
/// model needs to be scored against, `MIN_VOTES_TO_SCORE`), a run of them (made here, or
/// already by the background refresh), and the predictor reading it. The honest voter's client.
async fn honest_baseline(app: &TestApp) -> reqwest::Client {
    let honest = app.client();
    let picks = ["alpha", "beta", "alpha", "beta", "tie"];
    for (i, pick) in picks.iter().cycle().take(20).enumerate() {
        let (id, alpha_side) = battle(app, &honest, i).await;
        let winner = match *pick {
            "alpha" => alpha_side,
            "beta" => other(alpha_side),
            _ => "tie",
        };
        assert_eq!(app.vote(&honest, &id, winner, None).await.0, 200);
    }
    app.arena
        .refresh_leaderboard(app.arena.instance, Duration::from_secs(30))
        .await
        .unwrap();
    app.arena.reload_predictor();
    honest
}

/// A volunteer account `username`, signed in on `n` browsers (each a voter of its own).
async fn browsers_of(app: &TestApp, username: &str, n: usize) -> Vec<reqwest::Client> {
    app.arena
        .accounts
        .create_admin(username, PASSWORD)
        .await
        .unwrap();
    sqlx::query("update app_user set role = 'volunteer' where username = $1")
        .bind(username)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut browsers = Vec::new();
    for _ in 0..n {
        let browser = app.client();
        let r = browser
            .post(format!("{}/api/v1/account/signin", app.url))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        browsers.push(browser);
    }
    browsers
}

/// Counted, not voided votes in the counts (what the leaderboard fits).
async fn counted_in_counts(app: &TestApp) -> i64 {
    app.arena
        .counted_votes_per_model()
        .await
        .unwrap()
        .values()
        .sum::<i64>()
        / 2
}

#[tokio::test]
async fn a_planted_rigger_is_quarantined_and_clearing_brings_its_votes_back() {
    let app = two_models(100).await;
    let honest = honest_baseline(&app).await;
    let run: i64 = app
        .count("select max(id) from rating_run where refresh and vote_count = 20")
        .await;

    // Hand-checked: equal ratings, σ = ½; 4 ties in 20 votes, by the rule of succession
    // τ = (4 + 1)/(20 + 2) = 5/22; P(tie) = τ·2·min(σ, 1−σ) = 5/22, P(a wins) = ½ − 5/44 =
    // 17/44.
    let (id, _) = battle(&app, &honest, 30).await;
    assert_eq!(app.vote(&honest, &id, "tie", None).await.0, 200);
    let (_, honest_id, surprise, scored_by) = last_vote(&app).await;
    assert!(
        (surprise.unwrap() - 5.0 / 22.0).abs() < 1e-9,
        "{surprise:?}"
    );
    assert_eq!(scored_by, Some(run));
    let (id, _) = battle(&app, &honest, 31).await;
    assert_eq!(app.vote(&honest, &id, "model_a", None).await.0, 200);
    assert!((last_vote(&app).await.2.unwrap() - 17.0 / 44.0).abs() < 1e-9);
    let honest_votes = 22;

    // The rigger votes for alpha whenever it appears. Each vote multiplies its "for alpha"
    // evidence by ½ + ½·44/17 ≈ 1.794, and "against beta" alike; with weight 1/(4K) = 1/8 on
    // each, the evidence passes 1/α = 100 at the 11th vote (1.794^n/4 ≥ 100: n ≥ 10.3), at the
    // 10th with what the one-side alternative adds when alpha sat on the same side often.
    let rigger = app.client();
    let mut rigger_id = None;
    let mut flagged_at = None;
    for i in 0..16 {
        let (id, alpha_side) = battle(&app, &rigger, 100 + i).await;
        let (status, reveal) = app.vote(&rigger, &id, alpha_side, None).await;
        // The rigger sees nothing different: the same reveal as anyone.
        assert_eq!(status, 200, "{reveal}");
        assert!(reveal["model_a"].is_string());
        let (_, voter, ..) = last_vote(&app).await;
        rigger_id = Some(voter);
        let held = app
            .count(&format!(
                "select count(*) from voter_quarantine where voter_id = '{voter}'"
            ))
            .await;
        if held == 1 && flagged_at.is_none() {
            flagged_at = Some(i + 1);
        }
    }
    let rigger_id = rigger_id.unwrap();
    assert!(
        matches!(flagged_at, Some(10 | 11)),
        "flagged at {flagged_at:?}"
    );
    let (state, detail): (String, String) =
        sqlx::query_as("select state, detail from voter_quarantine where voter_id = $1")
            .bind(rigger_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(state, "quarantined");
    assert!(
        detail.contains("alpha") || detail.contains("beta"),
        "{detail}"
    );
    // Every one of its votes is out of the counts, including those after the flag.
    assert_eq!(
        app.count(&format!(
            "select count(*) from vote where voter_id = '{rigger_id}' and voided
               and void_reason = 'quarantine'"
        ))
        .await,
        16
    );
    assert_eq!(counted_in_counts(&app).await, honest_votes);
    // The honest voter is not in the queue.
    assert_eq!(
        app.count(&format!(
            "select count(*) from voter_quarantine where voter_id = '{honest_id}'"
        ))
        .await,
        0
    );
    // A rating run made now records the quarantine state it used.
    app.arena
        .refresh_leaderboard(app.arena.instance, Duration::from_secs(30))
        .await
        .unwrap();
    let (votes, quarantined): (i64, Option<i32>) = sqlx::query_as(
        "select vote_count, quarantined_voters from rating_run where refresh
         order by id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((votes, quarantined), (honest_votes, Some(1)));
    let held_run: i64 = app
        .count("select max(id) from rating_run where refresh")
        .await;

    // The queue, for an admin; clearing brings the votes back.
    let admin = signed_in_as(&app, "moderator", "admin").await;
    let (s, queue) = app.get_json(&admin, "/api/v1/admin/quarantine").await;
    assert_eq!(s, 200);
    assert_eq!(queue[0]["voter_id"], rigger_id.to_string());
    assert_eq!(queue[0]["state"], "quarantined");
    assert_eq!(queue[0]["votes_held"], 16);
    let r = admin
        .post(format!("{}/api/v1/admin/voters/{rigger_id}/clear", app.url))
        .json(&json!({"reason": "a real fan of alpha, checked by hand"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["votes_changed"], 16);
    assert_eq!(counted_in_counts(&app).await, honest_votes + 16);
    let (_, queue) = app.get_json(&admin, "/api/v1/admin/quarantine").await;
    assert_eq!(queue[0]["state"], "cleared");
    let actions: Vec<String> = sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(actions.contains(&"voter.quarantine".to_owned()));
    assert!(actions.contains(&"voter.quarantine.clear".to_owned()));
    // The run made during the quarantine still reproduces from its snapshot.
    let (s, reproduced) = app
        .get_json(
            &admin,
            &format!("/api/v1/leaderboard/runs/{held_run}/reproduce"),
        )
        .await;
    assert_eq!(s, 200, "{reproduced}");
    assert_eq!(reproduced["identical"], true, "{reproduced}");
    // A bad decision is refused and changes nothing.
    let r = admin
        .post(format!(
            "{}/api/v1/admin/voters/{honest_id}/confirm",
            app.url
        ))
        .json(&json!({"reason": "not in the queue"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_influence_cap_counts_at_most_n_votes_per_voter_per_pair_per_day() {
    let app = two_models(3).await;
    for voter in 0..2 {
        let client = app.client();
        for i in 0..5 {
            let (id, _) = battle(&app, &client, voter * 10 + i).await;
            assert_eq!(app.vote(&client, &id, "model_a", None).await.0, 200);
        }
    }
    assert_eq!(app.count("select count(*) from vote").await, 10);
    assert_eq!(
        app.count("select count(*) from vote where counted").await,
        6
    );
    assert_eq!(
        app.count("select count(*) from vote where capped and not counted")
            .await,
        4
    );
    assert_eq!(counted_in_counts(&app).await, 6);
}

/// Two models with the sequential test off and one script signal tuned low by `tweak`.
async fn signal_app(tweak: impl FnOnce(&mut arena_core::rigging::RiggingSettings)) -> TestApp {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.limits.enabled = false;
        s.rigging.alpha = 1e-300;
        s.rigging.fast_votes = 0;
        s.rigging.repeated_prompts = 0;
        s.rigging.burst_votes = 0;
        tweak(&mut s.rigging);
    })
    .await
}

async fn held(app: &TestApp) -> Vec<(uuid::Uuid, String)> {
    sqlx::query_as("select voter_id, signal from voter_quarantine order by flagged_at")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn votes_faster_than_anyone_reads_are_flagged() {
    // A script votes the moment the last token arrives; here every vote counts as unread.
    let app = signal_app(|r| {
        r.fast_vote_ms = 60_000;
        r.fast_votes = 4;
    })
    .await;
    let script = app.client();
    for i in 0..4 {
        let (id, _) = battle(&app, &script, i).await;
        assert_eq!(app.vote(&script, &id, "model_a", None).await.0, 200);
        let expected = usize::from(i == 3);
        assert_eq!(held(&app).await.len(), expected, "after vote {}", i + 1);
    }
    assert_eq!(held(&app).await[0].1, "unread_votes");
    assert_eq!(
        app.count("select count(*) from vote where read_ms is null")
            .await,
        0
    );
    assert_eq!(counted_in_counts(&app).await, 0);
}

#[tokio::test]
async fn the_same_prompt_over_and_over_is_flagged() {
    let app = signal_app(|r| r.repeated_prompts = 3).await;
    let script = app.client();
    let person = app.client();
    for i in 0..3 {
        let id = app.create_battle(&script, "Which model is best?").await;
        app.read_stream(&script, &id).await;
        assert_eq!(app.vote(&script, &id, "model_b", None).await.0, 200);
        // Someone else asking different things is left alone.
        let (id, _) = battle(&app, &person, i).await;
        assert_eq!(app.vote(&person, &id, "model_b", None).await.0, 200);
    }
    let held = held(&app).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].1, "repeated_prompt");
    assert_eq!(counted_in_counts(&app).await, 3);
}

#[tokio::test]
async fn a_burst_from_one_address_is_reviewed_not_quarantined_and_the_address_is_never_stored() {
    // A school behind one NAT: many people, one address. The burst puts its voters up for an
    // admin's review; nobody is quarantined and every vote keeps counting.
    let app = signal_app(|r| {
        r.burst_votes = 6;
        r.burst_exempt_loopback = false;
    })
    .await;
    let (first, second) = (app.client(), app.client());
    for i in 0..3 {
        for client in [&first, &second] {
            let (id, _) = battle(&app, client, i).await;
            assert_eq!(app.vote(client, &id, "tie", None).await.0, 200);
        }
    }
    // The sixth vote from 127.0.0.1 in ten minutes puts both of its voters up for review.
    let states: Vec<(String, String)> =
        sqlx::query_as("select state, signal from voter_quarantine order by voter_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        vec![("review".to_owned(), "address_burst".to_owned()); 2]
    );
    let (id, _) = battle(&app, &first, 9).await;
    assert_eq!(app.vote(&first, &id, "tie", None).await.0, 200);
    assert_eq!(held(&app).await.len(), 2, "no one is added twice");
    assert_eq!(counted_in_counts(&app).await, 7, "every vote still counts");
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'voters.review'")
            .await,
        1
    );
    let hashes: Vec<String> = sqlx::query_scalar("select distinct client_hash from vote")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert_eq!(hashes[0].len(), 64);
    assert!(!hashes[0].contains("127.0.0.1"));
    // The admin confirms one (its votes leave the counts) and clears the other (they stay).
    let admin = signed_in_as(&app, "moderator", "admin").await;
    let (s, queue) = app.get_json(&admin, "/api/v1/admin/quarantine").await;
    assert_eq!(s, 200);
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["state"] == "review")
    );
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["votes_held"] == 0)
    );
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("select voter_id from voter_quarantine order by voter_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut changed = Vec::new();
    for (id, action) in [(ids[0], "confirm"), (ids[1], "clear")] {
        let r = admin
            .post(format!("{}/api/v1/admin/voters/{id}/{action}", app.url))
            .json(&json!({"reason": "checked the school's votes"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        changed.push(body["votes_changed"].as_i64().unwrap());
    }
    assert!(changed[0] >= 3, "{changed:?}");
    assert_eq!(changed[1], 0);
    assert_eq!(counted_in_counts(&app).await, 7 - changed[0]);
}

#[tokio::test]
async fn the_cap_holds_under_concurrency_and_per_account() {
    let app = two_models(20).await;
    let voter = app.client();
    let mut battles = Vec::new();
    for i in 0..40 {
        battles.push(battle(&app, &voter, i).await.0);
    }
    // 40 votes of one voter on one pair, all at once: exactly the cap counts.
    let votes = battles.iter().map(|b| app.vote(&voter, b, "tie", None));
    let statuses: Vec<u16> = futures::future::join_all(votes)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        app.count("select count(*) from vote where counted").await,
        20
    );
    assert_eq!(
        app.count("select count(*) from vote where capped").await,
        20
    );

    // One account in two browsers: one cap for the person, not one per browser.
    let app = two_models(20).await;
    let browsers = browsers_of(&app, "ane", 2).await;
    let mut i = 100;
    for browser in &browsers {
        for _ in 0..15 {
            let (id, _) = battle(&app, browser, i).await;
            i += 1;
            assert_eq!(app.vote(browser, &id, "tie", None).await.0, 200);
        }
    }
    assert_eq!(
        app.count("select count(distinct voter_id) from vote").await,
        2,
        "two browsers, two voters"
    );
    assert_eq!(
        app.count("select count(*) from vote where counted").await,
        20
    );
}

#[tokio::test]
async fn one_person_in_many_browsers_is_one_voter_for_the_sequential_test() {
    let app = two_models(100).await;
    // The same honest baseline as the planted rigger's: equal ratings, 20 votes.
    honest_baseline(&app).await;
    // One account, four browsers (four voters), five votes for alpha from each: no browser
    // alone has the ~12 votes the test needs, the person has 20.
    let browsers = browsers_of(&app, "fan", 4).await;
    let mut i = 100;
    for _round in 0..5 {
        for browser in &browsers {
            let (id, alpha_side) = battle(&app, browser, i).await;
            i += 1;
            assert_eq!(app.vote(browser, &id, alpha_side, None).await.0, 200);
        }
    }
    assert_eq!(
        app.count(
            "select count(distinct v.voter_id) from vote v join voter r on r.id = v.voter_id
             where r.user_id is not null"
        )
        .await,
        4,
        "four browsers, four voters"
    );
    // One queue row for the person, and every browser's votes out of the counts.
    assert_eq!(
        app.count("select count(*) from voter_quarantine where state = 'quarantined'")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from vote v join voter r on r.id = v.voter_id
             where r.user_id is not null and v.voided and v.void_reason = 'quarantine'"
        )
        .await,
        20
    );
    assert_eq!(counted_in_counts(&app).await, 20);
    assert_eq!(
        app.count("select count(*) from voter_evidence").await,
        1,
        "one evidence row for the person"
    );
    // Clearing the person brings all four browsers' votes back.
    let person: uuid::Uuid = sqlx::query_scalar("select voter_id from voter_quarantine")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let admin = signed_in_as(&app, "moderator", "admin").await;
    let r = admin
        .post(format!("{}/api/v1/admin/voters/{person}/clear", app.url))
        .json(&json!({"reason": "a real fan of alpha"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["votes_changed"], 20);
    assert_eq!(counted_in_counts(&app).await, 40);
}
