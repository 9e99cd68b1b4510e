//! Research exports over HTTP on a real Postgres: every schema in JSONL and CSV, roles, filters,
//! privacy (no secret ever appears), the manifest, and one snapshot per export. Parquet in
//! [`parquet`].

mod cache;
mod parquet;

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::{Value, json};

const SCHEMAS: [&str; 7] = [
    "chatbot_arena_conversations",
    "arena_human_preference_100k",
    "arena_human_preference_140k",
    "kaggle_55k",
    "ebaluatoia",
    "dpo",
    "full",
];

/// Two voters, three votes (one a tie on a second turn), on two models.
async fn arena_with_votes() -> (TestApp, Vec<String>) {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| s.exports.voter_salt = arena_core::config::Secret::new("release-2026-12"),
    )
    .await;
    let mut cookies = Vec::new();
    for (prompt, winners) in [("Hi", vec!["model_a", "tie"]), ("Hello", vec!["model_b"])] {
        let voter = app.client();
        let battle = app.create_battle(&voter, prompt).await;
        for (turn, winner) in winners.iter().enumerate() {
            if turn > 0 {
                let r = voter
                    .post(format!("{}/api/v1/battles/{battle}/turns", app.url))
                    .json(&json!({"prompt": "And then?"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
            app.read_stream(&voter, &battle).await;
            let (s, _) = app.vote(&voter, &battle, winner, None).await;
            assert_eq!(s, 200);
        }
        cookies.push(battle);
    }
    (app, cookies)
}

async fn get(client: &reqwest::Client, app: &TestApp, query: &str) -> (u16, String) {
    let r = client
        .get(format!("{}/api/v1/exports/battles?{query}", app.url))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn every_schema_exports_as_jsonl_and_csv_for_researchers_only() {
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let volunteer = signed_in_as(&app, "vol", "volunteer").await;
    let (s, _) = get(&app.client(), &app, "schema=full").await;
    assert_eq!(s, 401);
    let (s, _) = get(&volunteer, &app, "schema=full").await;
    assert_eq!(s, 403);
    // Counted votes only by default: the second-turn tie (names revealed) is not counted.
    for schema in SCHEMAS {
        let (s, body) = get(&researcher, &app, &format!("schema={schema}&format=jsonl")).await;
        assert_eq!(s, 200, "{schema}: {body}");
        let rows: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // Both counted votes have a winner, so DPO has a pair for each too.
        let expected = 2;
        assert_eq!(rows.len(), expected, "{schema}: {body}");
        let (s, csv) = get(&researcher, &app, &format!("schema={schema}&format=csv")).await;
        assert_eq!(s, 200);
        let mut reader = csv_lines(&csv);
        let header = reader.remove(0);
        assert_eq!(reader.len(), expected, "{schema}: {csv}");
        assert!(!header.is_empty());
    }
    // Compressed as a browser asks for it, to its end.
    let r = researcher
        .get(format!(
            "{}/api/v1/exports/battles?schema=full&votes=all",
            app.url
        ))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let compressed = r.bytes().await.expect("the whole compressed body");
    assert!(compressed.len() > 20);
    // All votes: the tie on the second turn, with its two-turn conversation.
    let (_, body) = get(
        &researcher,
        &app,
        "schema=chatbot_arena_conversations&votes=all",
    )
    .await;
    let rows: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    let tie = rows.iter().find(|r| r["winner"] == "tie").unwrap();
    assert_eq!(tie["turn"], 2);
    assert_eq!(tie["conversation_a"].as_array().unwrap().len(), 4);
    assert_eq!(tie["anony"], true);
    // DPO leaves the tie out even when asked for all votes.
    let (_, body) = get(&researcher, &app, "schema=dpo&votes=all").await;
    assert_eq!(body.lines().count(), 2);
    // First turns only; a model filter; an unknown model; bad values.
    let (_, body) = get(&researcher, &app, "schema=full&votes=all&turns=first").await;
    assert_eq!(body.lines().count(), 2);
    let (s, body) = get(&researcher, &app, "schema=full&models=nope").await;
    assert_eq!(s, 422, "{body}");
    for bad in [
        "schema=nope",
        "schema=full&format=xml",
        "schema=full&from=2026-13-40",
        "schema=full&extra=1",
        "format=csv",
    ] {
        let (s, body) = get(&researcher, &app, bad).await;
        assert_eq!(s, 422, "{bad}: {body}");
        assert!(body.contains("\"error\""), "{body}");
    }
}

/// CSV records (quoted fields may hold newlines).
fn csv_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == '\n' && !quoted {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out
}

#[tokio::test]
async fn voided_votes_opt_outs_and_secrets_stay_out() {
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    // A voided vote leaves by default and comes back marked when asked for.
    let vote: i64 = app.count("select min(id) from vote").await;
    let admin = signed_in_as(&app, "boss", "admin").await;
    let r = admin
        .post(format!("{}/api/v1/admin/votes/{vote}/void", app.url))
        .json(&json!({"reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, body) = get(&researcher, &app, "schema=full").await;
    assert_eq!(body.lines().count(), 1);
    let (_, body) = get(&researcher, &app, "schema=full&voided=include").await;
    let rows: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.iter().filter(|r| r["voided"] == true).count(), 1);
    // The voter ids are keyed hashes; nothing secret is anywhere in any export.
    let voters: Vec<String> = sqlx::query_scalar("select id::text from voter")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let sessions: Vec<String> = sqlx::query_scalar("select encode(session_hash, 'hex') from voter")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let urls: Vec<String> = sqlx::query_scalar("select base_url from model_endpoint")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for schema in SCHEMAS {
        for format in ["jsonl", "csv"] {
            let (_, body) = get(
                &researcher,
                &app,
                &format!("schema={schema}&format={format}&votes=all&voided=include"),
            )
            .await;
            for secret in voters.iter().chain(&sessions).chain(&urls) {
                assert!(
                    !body.contains(secret.as_str()),
                    "{schema}/{format} leaks {secret}"
                );
            }
            for forbidden in [
                "127.0.0.1",
                "upstream-secret-name",
                "release-2026-12",
                "You are a helpful assistant",
            ] {
                assert!(
                    !body.contains(forbidden),
                    "{schema}/{format} contains {forbidden}"
                );
            }
        }
    }
    // A voter who opts out of data release (from their browser) leaves every export.
    let all = "schema=full&voided=include&votes=all";
    let n = get(&researcher, &app, all).await.1.lines().count();
    let owner = app.client();
    let battle = app.create_battle(&owner, "Mine").await;
    app.read_stream(&owner, &battle).await;
    assert_eq!(app.vote(&owner, &battle, "model_a", None).await.0, 200);
    assert_eq!(get(&researcher, &app, all).await.1.lines().count(), n + 1);
    let url = format!("{}/api/v1/data-release", app.url);
    let r = owner.get(&url).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["opt_out"], false);
    let r = owner
        .put(&url)
        .json(&json!({"opt_out": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = owner
        .put(&url)
        .json(&json!({"opt_out": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = owner.get(&url).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["opt_out"], true);
    assert_eq!(get(&researcher, &app, all).await.1.lines().count(), n);
}

#[tokio::test]
async fn the_manifest_names_the_snapshot_rows_hash_and_rating_run() {
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    // Wait for the refresh to record the run of this vote set.
    let mut run = None;
    for _ in 0..100 {
        let (_, board) = app.get_json(&app.client(), "/api/v1/leaderboard").await;
        if board["vote_count"] == 2 {
            run = board["run_id"].as_i64();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, body) = get(&researcher, &app, "schema=full").await;
    let r = researcher
        .get(format!(
            "{}/api/v1/exports/battles/manifest?schema=full",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let manifest: Value = r.json().await.unwrap();
    assert_eq!(manifest["rows"], 2);
    assert_eq!(manifest["schema"], "full");
    assert_eq!(manifest["schema_version"], 1);
    use sha2::Digest;
    assert_eq!(
        manifest["sha256"],
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    );
    assert_eq!(manifest["rating_run"].as_i64(), run, "{manifest}");
    assert!(manifest["max_vote_id"].as_i64().unwrap() >= 3);
}

#[tokio::test]
async fn the_export_command_writes_the_file_and_its_manifest() {
    let (app, _) = arena_with_votes().await;
    let dir = std::env::temp_dir().join(format!("arena-export-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("votes.jsonl");
    let run = |salt: &str, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["export", "--schema", "chatbot_arena_conversations", "--out"])
            .arg(&out)
            .args(extra)
            .env("DATABASE_URL", &app.database)
            .env("ARENA__EXPORTS__VOTER_SALT", salt)
            .output()
            .unwrap()
    };
    let done = run("release-2026-12", &["--votes", "all"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stderr).contains("3 rows"));
    let body = std::fs::read_to_string(&out).unwrap();
    assert_eq!(body.lines().count(), 3);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("votes.jsonl.manifest.json")).unwrap())
            .unwrap();
    use sha2::Digest;
    assert_eq!(
        manifest["sha256"],
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    );
    assert_eq!(manifest["rows"], 3);
    // The same voter hashes as the HTTP export of the same release.
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let (_, http) = get(
        &researcher,
        &app,
        "schema=chatbot_arena_conversations&votes=all",
    )
    .await;
    assert_eq!(http, body);
    // Bad input: a clear message, exit 1, no file written.
    std::fs::remove_file(&out).unwrap();
    let refused = run("release-2026-12", &["--format", "xml"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("format"));
    let refused = run("", &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("voter_salt"));
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_vote_committed_during_an_export_is_wholly_in_or_out() {
    let (app, _) = arena_with_votes().await;
    // Enough votes for several chunks (about 64 KiB each): copies of the existing battles.
    sqlx::query(
        "with src as (select b.* from battle b join vote v on v.battle_id = b.id and v.counted
                      limit 1),
              n as (select gen_random_uuid() as id, gen_random_uuid() as turn, k
                    from generate_series(1, 3000) k),
              b as (insert into battle (id, voter_id, model_a_id, model_b_id, language)
                    select n.id, src.voter_id, src.model_a_id, src.model_b_id, src.language
                    from n, src returning id),
              t as (insert into battle_turn (id, battle_id, turn_index, prompt, status)
                    select n.turn, n.id, 0, repeat('a long prompt ', 4) || n.k, 'voted'
                    from n returning id),
              a as (insert into answer (id, turn_id, side, model_id, status, content)
                    select gen_random_uuid(), n.turn, s.side, src.model_a_id, 'done',
                           'an answer ' || n.k
                    from n, src, (values ('a'), ('b')) s(side) returning id)
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
         select n.turn, n.id, src.voter_id, 'model_a', true from n, src",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let before: i64 = app.count("select count(*) from vote where counted").await;
    let spec = arena_domain::export::ExportQuery {
        schema: Some("full".into()),
        ..Default::default()
    }
    .parse()
    .unwrap();
    let mut events = app.arena.export(spec).await.unwrap();
    // The export has started: its snapshot is taken. A vote commits now.
    let first = events.recv().await.unwrap();
    let arena_core::exports::ExportEvent::Started { rows_at_most } = first else {
        panic!("the first event is Started, got {first:?}");
    };
    assert!(rows_at_most >= before as u64);
    let late: i64 = sqlx::query_scalar(
        "with b as (insert into battle (id, voter_id, model_a_id, model_b_id)
                    select gen_random_uuid(), voter_id, model_a_id, model_b_id from battle limit 1
                    returning id, voter_id),
              t as (insert into battle_turn (id, battle_id, turn_index, prompt, status)
                    select gen_random_uuid(), b.id, 0, 'late', 'voted' from b
                    returning id, battle_id)
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
         select t.id, t.battle_id, b.voter_id, 'tie', true from t, b returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut body = Vec::new();
    let manifest = loop {
        match events.recv().await.unwrap() {
            arena_core::exports::ExportEvent::Started { .. } => panic!("started twice"),
            arena_core::exports::ExportEvent::Chunk(b) => body.extend(b),
            arena_core::exports::ExportEvent::Done(m) => break m,
            arena_core::exports::ExportEvent::Failed(e) => panic!("{e}"),
        }
    };
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text.lines().count() as i64,
        before,
        "the export is the snapshot's votes"
    );
    assert_eq!(manifest.rows as i64, before);
    assert!(manifest.rows <= rows_at_most);
    assert!(manifest.max_vote_id < late);
    assert!(!text.contains(&format!("\"vote_id\":{late},")));
    // The next export has it.
    let spec = arena_domain::export::ExportQuery {
        schema: Some("full".into()),
        ..Default::default()
    }
    .parse()
    .unwrap();
    let mut events = app.arena.export(spec).await.unwrap();
    let manifest = loop {
        if let arena_core::exports::ExportEvent::Done(m) = events.recv().await.unwrap() {
            break m;
        }
    };
    assert_eq!(manifest.rows as i64, before + 1);
}

#[tokio::test]
async fn api_tokens_read_exports_only_until_revoked_or_expired() {
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let volunteer = signed_in_as(&app, "vol", "volunteer").await;
    let url = |p: &str| format!("{}{p}", app.url);
    let r = volunteer
        .post(url("/api/v1/account/tokens"))
        .json(&json!({"name": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = researcher
        .post(url("/api/v1/account/tokens"))
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = researcher
        .post(url("/api/v1/account/tokens"))
        .json(&json!({"name": "laptop", "expires_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("arena_"));
    // Listed without the token; only its hash is stored.
    let list: Value = researcher
        .get(url("/api/v1/account/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], "laptop");
    assert!(!list.to_string().contains(&token));
    assert_eq!(
        app.count(&format!(
            "select count(*) from api_token where token_hash::text like '%{}%'",
            &token[6..20]
        ))
        .await,
        0
    );
    let bearer = |t: &str| format!("Bearer {t}");
    let anon = reqwest::Client::new();
    // Reads the exports and the leaderboard.
    let r = anon
        .get(url("/api/v1/exports/battles?schema=dpo"))
        .header("Authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().lines().count(), 2);
    let r = anon
        .get(url("/api/v1/leaderboard"))
        .header("Authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Nothing else: no writes, no console, no account.
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/battles"),
        (reqwest::Method::GET, "/api/v1/admin/models"),
        (reqwest::Method::GET, "/api/v1/account"),
        (reqwest::Method::POST, "/api/v1/account/tokens"),
    ] {
        let r = anon
            .request(method.clone(), url(path))
            .header("Authorization", bearer(&token))
            .json(&json!({"prompt": "Hi", "name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "token_scope");
    }
    // Garbage, expired, revoked: 401 with a JSON error.
    let r = anon
        .get(url("/api/v1/leaderboard"))
        .header("Authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_token"
    );
    let r = researcher
        .post(url("/api/v1/account/tokens"))
        .json(&json!({"name": "old"}))
        .send()
        .await
        .unwrap();
    let old: Value = r.json().await.unwrap();
    sqlx::query("update api_token set expires_at = now() - interval '1 day' where name = 'old'")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = anon
        .get(url("/api/v1/leaderboard"))
        .header("Authorization", bearer(old["token"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("expired"));
    let id = created["id"].as_str().unwrap();
    let r = volunteer
        .delete(url(&format!("/api/v1/account/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "someone else's token");
    let r = researcher
        .delete(url(&format!("/api/v1/account/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = anon
        .get(url("/api/v1/leaderboard"))
        .header("Authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("revoked"));
}

#[tokio::test]
async fn api_tokens_are_rate_limited_per_token() {
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let r = researcher
        .post(format!("{}/api/v1/account/tokens", app.url))
        .json(&json!({"name": "script"}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/leaderboard", app.url))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 200);
    // Per token: another token from the same address still reads.
    let r = researcher
        .post(format!("{}/api/v1/account/tokens", app.url))
        .json(&json!({"name": "other"}))
        .send()
        .await
        .unwrap();
    let other = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/exports/battles?schema=dpo", app.url))
        .header("Authorization", format!("Bearer {other}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_download_has_an_id_and_the_stored_manifest_of_the_bytes_it_sent() {
    use sha2::Digest;
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "ane", "researcher").await;
    let r = researcher
        .get(format!("{}/api/v1/exports/battles?schema=full", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-arena-export-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = r.bytes().await.unwrap();
    // A vote committed after the download changes nothing in its manifest.
    let late: i64 = sqlx::query_scalar(
        "with b as (insert into battle (id, voter_id, model_a_id, model_b_id)
                    select gen_random_uuid(), voter_id, model_a_id, model_b_id from battle limit 1
                    returning id, voter_id),
              t as (insert into battle_turn (id, battle_id, turn_index, prompt, status)
                    select gen_random_uuid(), b.id, 0, 'late', 'voted' from b
                    returning id, battle_id)
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
         select t.id, t.battle_id, b.voter_id, 'tie', true from t, b returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (status, manifest) = app
        .get_json(&researcher, &format!("/api/v1/exports/{id}/manifest"))
        .await;
    assert_eq!(status, 200, "{manifest}");
    assert_eq!(manifest["sha256"], hex::encode(sha2::Sha256::digest(&body)));
    assert_eq!(
        manifest["rows"],
        body.iter().filter(|b| **b == b'\n').count()
    );
    assert!(manifest["max_vote_id"].as_i64().unwrap() < late);
    // The manifest of a new export with the same query has the late vote.
    let (_, fresh) = app
        .get_json(&researcher, "/api/v1/exports/battles/manifest?schema=full")
        .await;
    assert_ne!(fresh["sha256"], manifest["sha256"]);
    // Another researcher does not see it; an unknown id is 404 too.
    let other = signed_in_as(&app, "jon", "researcher").await;
    let (status, _) = app
        .get_json(&other, &format!("/api/v1/exports/{id}/manifest"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get_json(
            &researcher,
            &format!("/api/v1/exports/{}/manifest", uuid::Uuid::new_v4()),
        )
        .await;
    assert_eq!(status, 404);
    // An admin may read any download's manifest.
    let admin = signed_in_as(&app, "root", "admin").await;
    let (status, again) = app
        .get_json(&admin, &format!("/api/v1/exports/{id}/manifest"))
        .await;
    assert_eq!((status, again), (200, manifest));
}
