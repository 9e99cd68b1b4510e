//! Erasure and retention (docs/privacy.md): a person erases their account and data, an admin
//! erases a voter, and old conversations lose their text; runs before stay reproducible and
//! exports after carry none of it.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

async fn arena(tweak: impl FnOnce(&mut arena_core::config::Settings)) -> TestApp {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.exports.voter_salt = arena_core::config::Secret::new("privacy");
        s.limits.enabled = false;
        tweak(s);
    })
    .await
}

/// A battle with `prompt`, read to the end and voted on.
async fn battle_and_vote(app: &TestApp, client: &reqwest::Client, prompt: &str) -> String {
    let id = app.create_battle(client, prompt).await;
    app.read_stream(client, &id).await;
    assert_eq!(app.vote(client, &id, "model_a", None).await.0, 200);
    id
}

async fn signed_up(app: &TestApp, username: &str) -> reqwest::Client {
    let client = app.client();
    let r = client
        .post(format!("{}/api/v1/account/signup", app.url))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    client
}

/// The full export, every vote (voided ones too), as researchers download it.
async fn export(app: &TestApp) -> String {
    let researcher = signed_in_as(
        app,
        &format!("res{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "researcher",
    )
    .await;
    let r = researcher
        .get(format!(
            "{}/api/v1/exports/battles?schema=full&votes=all&voided=include",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn latest_run(app: &TestApp) -> i64 {
    app.arena
        .refresh_leaderboard(app.arena.instance, Duration::from_secs(30))
        .await
        .unwrap();
    app.count("select max(id) from rating_run where refresh and source_id is null")
        .await
}

async fn reproduces(app: &TestApp, run: i64) -> bool {
    let (status, body) = app
        .get_json(
            &app.client(),
            &format!("/api/v1/leaderboard/runs/{run}/reproduce"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["identical"] == true
}

#[tokio::test]
async fn a_person_erases_their_account_and_data_and_runs_before_still_reproduce() {
    let app = arena(|_| {}).await;
    let person = signed_up(&app, "leaving").await;
    let mine = [
        battle_and_vote(
            &app,
            &person,
            "My private question about Gipuzkoa orchards?",
        )
        .await,
        battle_and_vote(&app, &person, "My second private question about Bizkaia?").await,
    ];
    let other = app.client();
    battle_and_vote(&app, &other, "Someone else's question about tides?").await;
    let answer: String = sqlx::query_scalar(
        "select a.content from answer a join battle_turn t on t.id = a.turn_id
         where t.battle_id = $1::uuid order by length(a.content) desc limit 1",
    )
    .bind(&mine[0])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!answer.is_empty());
    let before = latest_run(&app).await;
    assert_eq!(
        app.count(&format!(
            "select vote_count from rating_run where id = {before}"
        ))
        .await,
        3
    );

    // The password again: a wrong one changes nothing.
    let url = format!("{}/api/v1/account", app.url);
    let r = person
        .delete(&url)
        .json(&json!({"password": "not the password at all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        app.count("select count(*) from app_user where username = 'leaving'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from battle where redacted_at is not null")
            .await,
        0
    );

    let r = person
        .delete(&url)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cleared: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cleared.iter().any(|c| c.starts_with("arena_account=;")),
        "{cleared:?}"
    );
    let erasure: Value = r.json().await.unwrap();
    assert_eq!(erasure["battles_redacted"], 2, "{erasure}");
    assert_eq!(erasure["votes_voided"], 2, "{erasure}");
    assert_eq!(erasure["account_deleted"], true, "{erasure}");

    // The account, its sessions and the text are gone; the other person's battle is not.
    assert_eq!(
        app.count("select count(*) from app_user where username = 'leaving'")
            .await,
        0
    );
    assert_eq!(app.count("select count(*) from account_session s left join app_user u on u.id = s.user_id where u.id is null").await, 0);
    for id in &mine {
        assert_eq!(
            app.count(&format!(
                "select count(*) from battle_turn where battle_id = '{id}' and prompt <> ''"
            ))
            .await,
            0
        );
        assert_eq!(
            app.count(&format!(
                "select count(*) from answer a join battle_turn t on t.id = a.turn_id
                 where t.battle_id = '{id}' and a.content <> ''"
            ))
            .await,
            0
        );
    }
    assert_eq!(
        app.count("select count(*) from battle_turn where prompt like 'Someone else%'")
            .await,
        1
    );
    let r = app
        .client()
        .post(format!("{}/api/v1/account/signin", app.url))
        .json(&json!({"username": "leaving", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Out of the counts from now on; the run before still reproduces from its snapshot.
    let after = latest_run(&app).await;
    assert_eq!(
        app.count(&format!(
            "select vote_count from rating_run where id = {after}"
        ))
        .await,
        1
    );
    assert!(
        reproduces(&app, before).await,
        "run {before} no longer reproduces"
    );
    // Exports after the erasure carry none of it, not even with voided votes included.
    let exported = export(&app).await;
    assert!(exported.contains("Someone else's question about tides?"));
    // (The fake worker answers every battle alike, so the answers' absence is checked in the
    // database above and by the one line left.)
    for secret in ["Gipuzkoa orchards", "Bizkaia"] {
        assert!(!exported.contains(secret), "{secret:?} is still exported");
    }
    assert_eq!(exported.lines().count(), 1, "{exported}");
    // The audit log says it happened, without a name.
    let after: Value = sqlx::query_scalar(
        "select after from audit_log where action = 'account.erase' order by id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(after["battles_redacted"], 2);
    assert!(!after.to_string().contains("leaving"));
}

#[tokio::test]
async fn when_the_terms_say_so_an_erased_persons_votes_stay_as_anonymous_outcomes() {
    let app = arena(|s| s.privacy.erasure_keeps_votes = true).await;
    let person = signed_up(&app, "keepsvotes").await;
    battle_and_vote(&app, &person, "A question whose vote may stay?").await;
    let r = person
        .delete(format!("{}/api/v1/account", app.url))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let erasure: Value = r.json().await.unwrap();
    assert_eq!(
        (
            erasure["votes_voided"].as_i64(),
            erasure["votes_kept"].as_i64()
        ),
        (Some(0), Some(1))
    );
    // Still counted, pointing at nobody, and never exported.
    assert_eq!(
        app.count("select count(*) from vote where counted and not voided")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from vote where client_hash is not null")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from voter where user_id is not null")
            .await,
        0
    );
    let run = latest_run(&app).await;
    assert_eq!(
        app.count(&format!(
            "select vote_count from rating_run where id = {run}"
        ))
        .await,
        1,
        "the kept vote still counts"
    );
    let exported = export(&app).await;
    assert!(!exported.contains("whose vote may stay"), "{exported}");
}

#[tokio::test]
async fn an_admin_erases_an_anonymous_voter_and_it_is_audited() {
    let app = arena(|_| {}).await;
    let stranger = app.client();
    let id = battle_and_vote(&app, &stranger, "An anonymous question to be erased?").await;
    let voter: uuid::Uuid = sqlx::query_scalar("select voter_id from battle where id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let admin = signed_in_as(&app, "privacy-admin", "admin").await;
    let erase = |body: Value| {
        admin
            .post(format!("{}/api/v1/admin/voters/{voter}/erase", app.url))
            .json(&body)
            .send()
    };
    assert_eq!(erase(json!({"reason": ""})).await.unwrap().status(), 422);
    let r = erase(json!({"reason": "asked by email, ticket 118"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let erasure: Value = r.json().await.unwrap();
    assert_eq!(erasure["battles_redacted"], 1, "{erasure}");
    assert_eq!(erasure["account_deleted"], false, "{erasure}");
    assert_eq!(
        app.count("select count(*) from vote where voided and void_reason = 'erased'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'voter.erase'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from battle_turn where prompt like '%anonymous question%'")
            .await,
        0
    );
}

#[tokio::test]
async fn conversations_older_than_the_retention_lose_their_text_and_keep_their_votes() {
    let app = arena(|s| s.privacy.conversation_retention_days = 30).await;
    let client = app.client();
    let old = battle_and_vote(&app, &client, "An old question from last season?").await;
    battle_and_vote(&app, &client, "A fresh question from today?").await;
    sqlx::query("update battle set updated_at = now() - interval '31 days' where id = $1::uuid")
        .bind(&old)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.arena.redact_old_conversations().await.unwrap(), 1);
    assert_eq!(app.arena.redact_old_conversations().await.unwrap(), 0);
    assert_eq!(
        app.count("select count(*) from battle_turn where prompt like 'An old question%'")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from battle_turn where prompt like 'A fresh question%'")
            .await,
        1
    );
    // The votes stay counted; the export leaves the old battle out.
    assert_eq!(
        app.count("select count(*) from vote where counted and not voided")
            .await,
        2
    );
    let exported = export(&app).await;
    assert!(exported.contains("A fresh question from today?"));
    assert_eq!(exported.lines().count(), 1, "{exported}");
}

#[tokio::test]
async fn an_answer_still_being_written_when_its_battle_is_erased_keeps_no_text() {
    let (fake, url) = spawn_fake(Mode::Slow(200)).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.limits.enabled = false;
    })
    .await;
    let person = signed_up(&app, "midway").await;
    let id = app
        .create_battle(&person, "A question erased mid-answer?")
        .await;
    let r = person
        .delete(format!("{}/api/v1/account", app.url))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The answers end (cancelled, nobody watches) after the erasure and record their state.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let open = app
            .count(&format!(
                "select count(*) from answer a join battle_turn t on t.id = a.turn_id
                 where t.battle_id = '{id}' and a.status in ('pending', 'streaming')"
            ))
            .await;
        if open == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the answers never ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count(&format!(
            "select count(*) from answer a join battle_turn t on t.id = a.turn_id
             where t.battle_id = '{id}' and a.content <> ''"
        ))
        .await,
        0
    );
}
