//! Active sampling where it runs: 8 models in active mode, at the live defaults (floor 0.2,
//! weights 1), on a real Postgres. Four models already have many votes among themselves, four
//! have few: the widest intervals are the newcomers', so the battles drawn must favour their
//! pairs as the criterion says, and the realised draw must follow the published table.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use std::collections::HashMap;
use std::time::Duration;

const MODELS: usize = 8;
/// Models 0–3 are well measured among themselves; 4–7 are new.
fn measured(i: usize) -> bool {
    i < 4
}

#[tokio::test]
async fn active_sampling_draws_the_widest_interval_pairs_most_and_follows_its_table() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let keys: Vec<String> = (0..MODELS).map(|i| format!("model{i}")).collect();
    let app = TestApp::spawn_with(keys.iter().map(|k| model(k, &url, 8)).collect(), |s| {
        s.limits.enabled = false;
    })
    .await;
    // Planted history: 300 votes on each measured pair, 8 on every other pair, equal
    // strengths (each side wins half, by a seeded draw).
    sqlx::raw_sql(
        "select setseed(0.42);
         create temp table planted as
           select gen_random_uuid() as battle, gen_random_uuid() as turn, k, ma, mb,
                  random() as w
           from (select 'model' || i as ma, 'model' || j as mb,
                        case when i < 4 and j < 4 then 300 else 8 end as n
                 from generate_series(0, 7) i, generate_series(0, 7) j where i < j) p,
                lateral generate_series(1, p.n) k;
         insert into voter (id, session_hash)
           select battle, decode(md5(battle::text), 'hex') from planted;
         insert into battle (id, voter_id, model_a_id, model_b_id)
           select battle, battle, (select id from model where key = ma),
                  (select id from model where key = mb) from planted;
         insert into battle_turn (id, battle_id, turn_index, prompt, status)
           select turn, battle, 0, 'Q' || k, 'voted' from planted;
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
           select turn, battle, battle,
                  case when w < 0.5 then 'model_a' else 'model_b' end, true
           from planted;
         delete from pair_count;
         insert into pair_count (model_a_id, model_b_id, language, day, wins_a, wins_b, ties,
                                 both_bad)
           select b.model_a_id, b.model_b_id, coalesce(b.language, ''),
                  (v.created_at at time zone 'utc')::date,
                  count(*) filter (where v.winner = 'model_a'),
                  count(*) filter (where v.winner = 'model_b'), 0, 0
           from vote v join battle b on b.id = v.battle_id
           group by 1, 2, 3, 4;",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.arena
        .refresh_leaderboard(app.arena.instance, Duration::from_secs(30))
        .await
        .unwrap();
    // Active mode at the live default floor, through the console's API.
    let admin = signed_in_as(&app, "boss", "admin").await;
    let (_, p) = app.get_json(&admin, "/api/v1/admin/pairing").await;
    assert_eq!(p["uniform_floor"], 0.2, "the live default floor");
    let r = admin
        .put(format!("{}/api/v1/admin/pairing", app.url))
        .json(
            &serde_json::json!({"mode": "active", "uniform_floor": 0.2, "warmup_votes": 0,
                                  "warmup_boost": 1, "version": p["version"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.arena.refresh_pairing().await.unwrap();
    app.arena.gateway.check_now().await;

    // The published table follows the criterion: every pair of two new models is drawn more
    // often than any pair of two measured ones, which keep about the floor's share.
    let (s, view) = app.get_json(&app.client(), "/api/v1/pairing").await;
    assert_eq!(s, 200);
    let index = |k: &str| k[5..].parse::<usize>().unwrap();
    let mut table: HashMap<(usize, usize), f64> = HashMap::new();
    for pair in view["pairs"].as_array().unwrap() {
        let (a, b) = (
            index(pair["model_a"].as_str().unwrap()),
            index(pair["model_b"].as_str().unwrap()),
        );
        table.insert((a.min(b), a.max(b)), pair["probability"].as_f64().unwrap());
    }
    assert_eq!(table.len(), MODELS * (MODELS - 1) / 2);
    let both = |m: bool| {
        table
            .iter()
            .filter(move |((a, b), _)| measured(*a) == m && measured(*b) == m)
            .map(|(_, p)| *p)
    };
    let measured_max = both(true).fold(0.0, f64::max);
    let new_min = both(false).fold(1.0, f64::min);
    assert!(
        new_min > measured_max,
        "new pairs {new_min} vs measured pairs {measured_max}: {table:?}"
    );
    let floor_share = 0.2 / table.len() as f64;
    assert!(
        measured_max < 3.0 * floor_share,
        "{measured_max} vs floor {floor_share}"
    );

    // The realised draw: 400 battles through the API, each streamed to its end.
    let client = app.client();
    for i in 0..400 {
        let id = app.create_battle(&client, &format!("Question {i}?")).await;
        app.read_stream(&client, &id).await;
    }
    let drawn: Vec<(String, String, i64)> = sqlx::query_as(
        "select ma.key, mb.key, count(*) from battle b
         join battle_turn t on t.battle_id = b.id and t.turn_index = 0
         join model ma on ma.id = b.model_a_id join model mb on mb.id = b.model_b_id
         where t.prompt like 'Question %'
         group by 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let total: i64 = drawn.iter().map(|(.., n)| n).sum();
    assert_eq!(total, 400);
    let mut realised: HashMap<(usize, usize), f64> = HashMap::new();
    for (a, b, n) in drawn {
        let (a, b) = (index(&a), index(&b));
        *realised.entry((a.min(b), a.max(b))).or_default() += n as f64 / total as f64;
    }
    // Total variation distance from the table: about 0.1 expected at 400 draws over 28 pairs.
    let tv: f64 = table
        .iter()
        .map(|(k, p)| (realised.get(k).copied().unwrap_or(0.0) - p).abs())
        .sum::<f64>()
        / 2.0;
    assert!(tv < 0.22, "realised draw far from the table: TV {tv}");
    let share = |m: bool| {
        realised
            .iter()
            .filter(|((a, b), _)| measured(*a) == m && measured(*b) == m)
            .map(|(_, s)| *s)
            .sum::<f64>()
            / 6.0
    };
    assert!(
        share(false) > 3.0 * share(true),
        "new pairs drawn {} each, measured pairs {} each",
        share(false),
        share(true)
    );
    println!(
        "active sampling, 8 models, floor 0.2: TV(realised, table) {tv:.3}; mean share of a \
         new pair {:.3}, of a measured pair {:.3}",
        share(false),
        share(true)
    );
}
