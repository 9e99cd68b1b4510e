//! Campaigns (issue #11) on a real Postgres through the JSON API: an admin creates one; before
//! its dates it refuses battles, during them it asks for the registration answers, keeps to its
//! language and model pool and takes rubric votes whose winner its rule derives; after them it
//! refuses battles while its leaderboard, progress and contributor board stay; exports and the
//! leaderboard take `campaign=`.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::{Value, json};

async fn arena() -> TestApp {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    TestApp::spawn_with(
        vec![
            model("alpha", &url, 8),
            model("beta", &url, 8),
            model("gamma", &url, 8),
        ],
        |s| {
            s.limits.enabled = false;
            s.exports.voter_salt = arena_core::config::Secret::new("campaign-release");
        },
    )
    .await
}

fn at(offset_minutes: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(offset_minutes))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn basque(starts_at: String, ends_at: String, version: Option<i64>) -> Value {
    json!({
        "slug": "euskara",
        "name": "Euskarazko arena",
        "description": "Two weeks of Basque.",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "languages": ["eu"],
        "models": ["alpha", "beta"],
        "pairing": "uniform",
        "sign_in_required": false,
        "questions": [
            {"key": "proficiency", "label": "Basque proficiency", "kind": "scale", "min": 1, "max": 5},
            {"key": "education", "label": "Education", "kind": "choice",
             "options": ["secondary", "university"]}
        ],
        "rubric": {
            "axes": [{"key": "content", "label": "Content"}, {"key": "language", "label": "Language"}],
            "rule": {"kind": "ordered", "order": ["content", "language"]}
        },
        "version": version,
    })
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: &Value,
) -> (u16, Value) {
    let r = client.request(method, url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn battle_in(app: &TestApp, client: &reqwest::Client, body: Value) -> (u16, Value) {
    send(
        client,
        reqwest::Method::POST,
        format!("{}/api/v1/battles", app.url),
        &body,
    )
    .await
}

async fn vote_with(
    app: &TestApp,
    client: &reqwest::Client,
    battle: &str,
    body: Value,
) -> (u16, Value) {
    send(
        client,
        reqwest::Method::POST,
        format!("{}/api/v1/battles/{battle}/vote", app.url),
        &body,
    )
    .await
}

#[tokio::test]
async fn a_campaign_before_during_and_after_its_dates() {
    let app = arena().await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let admins = format!("{}/api/v1/admin/campaigns", app.url);

    // Only admins create campaigns, with checked fields.
    let volunteer = signed_in_as(&app, "vol", "volunteer").await;
    let (s, _) = send(
        &volunteer,
        reqwest::Method::POST,
        admins.clone(),
        &basque(at(60), at(120), None),
    )
    .await;
    assert_eq!(s, 403);
    let mut bad = basque(at(60), at(120), None);
    bad["models"] = json!(["alpha", "nope"]);
    let (s, e) = send(&admin, reqwest::Method::POST, admins.clone(), &bad).await;
    assert_eq!(s, 422, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("nope"));
    let (s, e) = send(
        &admin,
        reqwest::Method::POST,
        admins.clone(),
        &basque(at(120), at(60), None),
    )
    .await;
    assert_eq!(s, 422, "a campaign that ends before it starts: {e}");
    assert_eq!(
        app.count("select count(*) from campaign").await,
        1,
        "only the default arena"
    );

    // Before: the battle page says when it opens, and no battle starts.
    let (s, created) = send(
        &admin,
        reqwest::Method::POST,
        admins.clone(),
        &basque(at(60), at(120), None),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["status"], "upcoming");
    let (s, _) = send(
        &admin,
        reqwest::Method::POST,
        admins.clone(),
        &basque(at(60), at(120), None),
    )
    .await;
    assert_eq!(s, 409, "the slug is taken");
    let voter = app.client();
    app.accept_terms(&voter).await;
    let (s, e) = battle_in(
        &app,
        &voter,
        json!({"prompt": "Kaixo", "campaign": "euskara"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("campaign_not_open")),
        "{e}"
    );
    let html = app.get_html("/c/euskara").await;
    assert!(html.contains("This campaign opens on"), "{html}");
    assert_eq!(app.count("select count(*) from battle").await, 0);

    // During: an edit opens it (a stale edit is refused, never overwritten).
    let (s, e) = send(
        &admin,
        reqwest::Method::PUT,
        format!("{admins}/euskara"),
        &basque(at(-60), at(60), Some(7)),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("stale_version"))
    );
    let (s, open) = send(
        &admin,
        reqwest::Method::PUT,
        format!("{admins}/euskara"),
        &basque(at(-60), at(60), Some(1)),
    )
    .await;
    assert_eq!((s, open["status"].as_str()), (200, Some("open")), "{open}");

    // The registration questions come first; bad answers change nothing.
    let (s, e) = battle_in(
        &app,
        &voter,
        json!({"prompt": "Kaixo", "campaign": "euskara"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("registration_required"))
    );
    let registration = format!("{}/api/v1/campaigns/euskara/registration", app.url);
    for bad in [
        json!({"proficiency": 7, "education": "university"}),
        json!({"proficiency": 3}),
        json!({"proficiency": 3, "education": "university", "age": 40}),
    ] {
        let (s, _) = send(&voter, reqwest::Method::PUT, registration.clone(), &bad).await;
        assert_eq!(s, 422, "{bad}");
    }
    assert_eq!(
        app.count("select count(*) from campaign_registration")
            .await,
        0
    );
    let answers = json!({"proficiency": 4, "education": "university"});
    let (s, _) = send(&voter, reqwest::Method::PUT, registration.clone(), &answers).await;
    assert_eq!(s, 204);
    let (s, page) = app.get_json(&voter, "/api/v1/campaigns/euskara").await;
    assert_eq!((s, &page["registered"]), (200, &json!(true)));

    // Its language only; its pool only.
    let (s, e) = battle_in(
        &app,
        &voter,
        json!({"prompt": "Hi", "language": "en", "campaign": "euskara"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("invalid_language"))
    );
    let mut battles = Vec::new();
    for _ in 0..6 {
        let (s, b) = battle_in(
            &app,
            &voter,
            json!({"prompt": "Kaixo", "campaign": "euskara"}),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        let id = b["battle_id"].as_str().unwrap().to_owned();
        app.read_stream(&voter, &id).await;
        battles.push(id);
    }
    assert_eq!(
        app.count(
            "select count(*) from battle b join campaign c on c.id = b.campaign_id
             join model ma on ma.id = b.model_a_id join model mb on mb.id = b.model_b_id
             where c.slug = 'euskara' and b.language = 'eu'
               and ma.key in ('alpha', 'beta') and mb.key in ('alpha', 'beta')"
        )
        .await,
        6,
        "every battle in Basque, between the pool's two models"
    );

    // Rubric votes: the axes decide, by the stored rule (content first, language breaks ties).
    let (s, e) = vote_with(&app, &voter, &battles[0], json!({"winner": "model_a"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("axes_required"))
    );
    let axes = json!({"content": "tie", "language": "model_b"});
    let (s, e) = vote_with(
        &app,
        &voter,
        &battles[0],
        json!({"winner": "model_a", "axes": axes}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("winner_mismatch"))
    );
    let (s, e) = vote_with(
        &app,
        &voter,
        &battles[0],
        json!({"axes": {"content": "tie"}}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("invalid_axes"))
    );
    assert_eq!(
        app.count("select count(*) from vote").await,
        0,
        "refused votes write nothing"
    );
    let (s, reveal) = vote_with(&app, &voter, &battles[0], json!({"axes": axes})).await;
    assert_eq!(
        (s, reveal["winner"].as_str()),
        (200, Some("model_b")),
        "{reveal}"
    );
    let (s, reveal) = vote_with(
        &app,
        &voter,
        &battles[1],
        json!({"axes": {"content": "model_a", "language": "model_b"}}),
    )
    .await;
    assert_eq!((s, reveal["winner"].as_str()), (200, Some("model_a")));
    let (s, reveal) = vote_with(&app, &voter, &battles[2], json!({"winner": "both_bad"})).await;
    assert_eq!(
        (s, reveal["winner"].as_str()),
        (200, Some("both_bad")),
        "both-bad needs no axes"
    );
    assert_eq!(app.count("select count(*) from vote_axis").await, 4);

    // The contributor board is opt-in, by pseudonym.
    let contributor = format!("{}/api/v1/campaigns/euskara/contributor", app.url);
    let (s, _) = send(
        &voter,
        reqwest::Method::PUT,
        contributor.clone(),
        &json!({"alias": "<b>x</b>"}),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = send(
        &voter,
        reqwest::Method::PUT,
        contributor.clone(),
        &json!({"alias": "Mikel"}),
    )
    .await;
    assert_eq!(s, 200);
    let other = app.client();
    app.accept_terms(&other).await;
    let (s, _) = send(&other, reqwest::Method::PUT, registration.clone(), &answers).await;
    assert_eq!(s, 204);
    let (s, e) = send(
        &other,
        reqwest::Method::PUT,
        contributor.clone(),
        &json!({"alias": "mikel"}),
    )
    .await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("alias_taken")));
    let (_, b) = battle_in(
        &app,
        &other,
        json!({"prompt": "Egun on", "campaign": "euskara"}),
    )
    .await;
    let b = b["battle_id"].as_str().unwrap().to_owned();
    app.read_stream(&other, &b).await;
    let (s, _) = vote_with(
        &app,
        &other,
        &b,
        json!({"axes": {"content": "model_b", "language": "tie"}}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, board) = app
        .get_json(&other, "/api/v1/campaigns/euskara/contributors")
        .await;
    assert_eq!(board["volunteers"], 2);
    assert_eq!(board["votes"], 4);
    assert_eq!(
        board["contributors"],
        json!([{"rank": 1, "alias": "Mikel", "votes": 3}])
    );
    // A new name shows at once (the process's cached board is dropped).
    let (s, _) = send(
        &other,
        reqwest::Method::PUT,
        contributor.clone(),
        &json!({"alias": "Itziar"}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, board) = app
        .get_json(&other, "/api/v1/campaigns/euskara/contributors")
        .await;
    assert_eq!(
        board["contributors"],
        json!([
            {"rank": 1, "alias": "Mikel", "votes": 3},
            {"rank": 2, "alias": "Itziar", "votes": 1}
        ])
    );
    let (_, progress) = app
        .get_json(&other, "/api/v1/campaigns/euskara/progress")
        .await;
    assert_eq!(progress["votes"], 4);
    assert_eq!(progress["days"].as_array().unwrap().len(), 1);
    assert_eq!(progress["pairs"][0]["votes"], 4, "{progress}");

    // A battle outside the campaign is the default arena's.
    let plain = app.create_battle(&voter, "Hello").await;
    app.read_stream(&voter, &plain).await;
    let (s, _) = app.vote(&voter, &plain, "model_a", None).await;
    assert_eq!(s, 200);
    // Its page says so in the singular; the campaign's in the plural.
    for (slug, total, volunteers) in [
        ("arena", "1 vote so far.", "1 volunteer has voted in all."),
        (
            "euskara",
            "4 votes so far.",
            "volunteers have voted in all.",
        ),
    ] {
        let html = app.get_html(&format!("/c/{slug}/leaderboard")).await;
        assert!(
            html.contains(total) && html.contains(volunteers),
            "{slug}: {html}"
        );
    }

    // The leaderboard and the exports take campaign=.
    let (s, board) = app
        .get_json(&voter, "/api/v1/leaderboard?campaign=euskara")
        .await;
    assert_eq!(s, 200, "{board}");
    assert_eq!(board["vote_count"], 4);
    assert_eq!(board["filter"]["campaign"], "euskara");
    let (_, board) = app
        .get_json(&voter, "/api/v1/leaderboard?campaign=arena")
        .await;
    assert_eq!(board["vote_count"], 1);
    let (s, _) = app
        .get_json(&voter, "/api/v1/leaderboard?campaign=nope")
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get_json(&voter, "/api/v1/leaderboard?campaign=Not%20A%20Slug")
        .await;
    assert_eq!(s, 422);
    let run = board["run_id"].as_i64().unwrap();
    let (_, campaign_board) = app
        .get_json(&voter, "/api/v1/leaderboard?campaign=euskara")
        .await;
    let (s, reproduced) = app
        .get_json(
            &voter,
            &format!(
                "/api/v1/leaderboard/runs/{}/reproduce",
                campaign_board["run_id"]
            ),
        )
        .await;
    assert_eq!(
        (s, &reproduced["identical"]),
        (200, &json!(true)),
        "{reproduced}"
    );
    assert_ne!(run, campaign_board["run_id"].as_i64().unwrap());

    let researcher = signed_in_as(&app, "res", "researcher").await;
    let text = researcher
        .get(format!(
            "{}/api/v1/exports/battles?schema=full&campaign=euskara",
            app.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows.iter().all(|r| r["campaign"] == "euskara"));
    let first: Value = serde_json::from_str(rows[0]["axes"].as_str().unwrap()).unwrap();
    assert_eq!(first, json!({"content": "tie", "language": "model_b"}));
    let registered: Value =
        serde_json::from_str(rows[0]["registration"].as_str().unwrap()).unwrap();
    assert_eq!(registered, answers);
    assert!(rows[2]["axes"].is_null(), "both-bad has no axes");
    let text = researcher
        .get(format!(
            "{}/api/v1/exports/battles?schema=ebaluatoia&campaign=euskara",
            app.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["user_education"], "university");
    let r = researcher
        .get(format!(
            "{}/api/v1/exports/battles?schema=full&campaign=nope",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // After: no battle starts; the leaderboard and the boards stay.
    let (s, closed) = send(
        &admin,
        reqwest::Method::PUT,
        format!("{admins}/euskara"),
        &basque(at(-120), at(-1), Some(2)),
    )
    .await;
    assert_eq!(
        (s, closed["status"].as_str()),
        (200, Some("closed")),
        "{closed}"
    );
    let (s, e) = battle_in(
        &app,
        &voter,
        json!({"prompt": "Kaixo", "campaign": "euskara"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("campaign_closed"))
    );
    let html = app.get_html("/c/euskara").await;
    assert!(html.contains("This campaign closed on"), "{html}");
    let (s, board) = app
        .get_json(&voter, "/api/v1/leaderboard?campaign=euskara")
        .await;
    assert_eq!((s, &board["vote_count"]), (200, &json!(4)));
    let html = app.get_html("/c/euskara/leaderboard").await;
    assert!(
        html.contains("Mikel") && html.contains("progress-chart"),
        "{html}"
    );

    // Every change is in the audit log.
    assert_eq!(
        app.count(
            "select count(*) from audit_log where action like 'campaign.%' and target = 'euskara'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn a_campaign_can_require_sign_in_and_the_default_arena_never_closes() {
    let app = arena().await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let (s, created) = send(
        &admin,
        reqwest::Method::POST,
        format!("{}/api/v1/admin/campaigns", app.url),
        &json!({"slug": "members", "name": "Members only", "sign_in_required": true}),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let anonymous = app.client();
    app.accept_terms(&anonymous).await;
    let (s, e) = battle_in(
        &app,
        &anonymous,
        json!({"prompt": "Hi", "campaign": "members"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("sign_in_required"))
    );
    let member = signed_in_as(&app, "member", "volunteer").await;
    let (s, b) = battle_in(
        &app,
        &member,
        json!({"prompt": "Hi", "campaign": "members"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, e) = battle_in(
        &app,
        &anonymous,
        json!({"prompt": "Hi", "campaign": "nope"}),
    )
    .await;
    assert_eq!(s, 404, "{e}");

    // The default arena is listed first and cannot be given an end.
    let (_, list) = app.get_json(&anonymous, "/api/v1/campaigns").await;
    assert_eq!(list[0]["slug"], "arena");
    assert_eq!(list[0]["is_default"], true);
    let (s, e) = send(
        &admin,
        reqwest::Method::PUT,
        format!("{}/api/v1/admin/campaigns/arena", app.url),
        &json!({"slug": "arena", "name": "Arena", "ends_at": at(10)}),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let (s, e) = send(
        &admin,
        reqwest::Method::POST,
        format!("{}/api/v1/admin/campaigns", app.url),
        &json!({"slug": "x", "name": "X", "starts_at": "tomorrow"}),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("starts_at")
    );
}

#[tokio::test]
async fn pairing_and_the_leaderboard_are_per_campaign() {
    let app = arena().await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let mut campaign = json!({
        "slug": "duo", "name": "Two models", "description": "", "languages": [],
        "models": ["alpha", "beta"], "pairing": "arena", "sign_in_required": false,
        "questions": [], "rubric": null, "version": null,
    });
    let (s, body) = send(
        &admin,
        reqwest::Method::POST,
        format!("{}/api/v1/admin/campaigns", app.url),
        &campaign,
    )
    .await;
    assert!(s == 200 || s == 201, "{s}: {body}");
    campaign["version"] = body["version"].clone();
    // Three battles in the campaign, two in the open arena.
    let voter = app.client();
    app.accept_terms(&voter).await;
    for i in 0..3 {
        let (s, b) = battle_in(
            &app,
            &voter,
            json!({"prompt": format!("q{i}"), "campaign": "duo"}),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        let id = b["battle_id"].as_str().unwrap().to_owned();
        app.read_stream(&voter, &id).await;
        assert_eq!(app.vote(&voter, &id, "model_a", None).await.0, 200);
    }
    for i in 0..2 {
        app.create_battle(&voter, &format!("arena {i}")).await;
    }
    let (s, duo) = app.get_json(&voter, "/api/v1/pairing?campaign=duo").await;
    assert_eq!(s, 200, "{duo}");
    assert_eq!(duo["battles_last_day"], 3, "the campaign's battles only");
    let drawn: Vec<(String, String, f64)> = duo["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["probability"].as_f64().unwrap() > 0.0)
        .map(|p| {
            (
                p["model_a"].as_str().unwrap().to_owned(),
                p["model_b"].as_str().unwrap().to_owned(),
                p["probability"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(drawn.len(), 1, "only the pool's pair: {drawn:?}");
    assert!((drawn[0].2 - 1.0).abs() < 1e-9, "{drawn:?}");
    assert!(!format!("{duo}").contains("gamma"), "{duo}");
    let (_, arena_view) = app.get_json(&voter, "/api/v1/pairing").await;
    assert_eq!(
        arena_view["battles_last_day"], 2,
        "the open arena's battles only"
    );
    let (_, same) = app.get_json(&voter, "/api/v1/pairing?campaign=arena").await;
    assert_eq!(same["battles_last_day"], 2);
    let (s, _) = app.get_json(&voter, "/api/v1/pairing?campaign=nope").await;
    assert_eq!(s, 404);
    let (s, _) = app.get_json(&voter, "/api/v1/pairing?bogus=1").await;
    assert_eq!(s, 422);
    // The campaign's leaderboard lists its pool only.
    let (s, board) = app
        .get_json(&voter, "/api/v1/leaderboard?campaign=duo")
        .await;
    assert_eq!(s, 200, "{board}");
    let mut listed: Vec<&str> = board["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["model"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, ["alpha", "beta"]);
}
