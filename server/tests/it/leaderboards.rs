//! The leaderboards people ask for (issue #11), on a real Postgres: the style-controlled ranking
//! recovering a length bias planted in the stored votes, stored once per vote set; and a young
//! arena shown as provisional models instead of absurd ranks.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;

async fn three_models() -> TestApp {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    TestApp::spawn_with(
        vec![
            model("alpha", &url, 8),
            model("beta", &url, 8),
            model("gamma", &url, 8),
        ],
        |s| s.limits.enabled = false,
    )
    .await
}

/// `n` counted votes between equally strong models whose voters like length: the longer
/// answer wins with probability σ(3·(la − lb)/(la + lb)) (ties aside), and alpha's answers are
/// 2.5 times as long as the others' on average. Deterministic (`setseed`).
async fn plant_length_bias(app: &TestApp, n: usize) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "select setseed(0.42);
         create temp table planted as
           select gen_random_uuid() as battle, gen_random_uuid() as turn, k, ma, mb,
                  (case when ma = 'alpha' then 250 else 100 end * (0.5 + random()))::int as la,
                  (case when mb = 'alpha' then 250 else 100 end * (0.5 + random()))::int as lb,
                  random() as u, random() as w
           from generate_series(1, {n}) k,
                lateral (select (array['alpha', 'beta', 'gamma'])[1 + k % 3] as ma,
                                (array['beta', 'gamma', 'alpha'])[1 + k % 3] as mb) m;
         insert into voter (id, session_hash) select battle, decode(md5(battle::text), 'hex') from planted;
         insert into battle (id, voter_id, model_a_id, model_b_id, language)
           select battle, battle, (select id from model where key = ma),
                  (select id from model where key = mb), 'en' from planted;
         insert into battle_turn (id, battle_id, turn_index, prompt, status)
           select turn, battle, 0, 'Q' || k, 'voted' from planted;
         insert into answer (id, turn_id, side, model_id, status, content, token_count,
                             header_count, list_count, bold_count)
           select gen_random_uuid(), turn, s, (select id from model where key = m), 'done', 'x',
                  len, 0, case when s = 'a' then k % 2 else (k / 2) % 3 end, 0
           from planted, lateral (values ('a', ma, la), ('b', mb, lb)) sides(s, m, len);
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
           select turn, battle, battle,
                  case when u < 0.1 then 'tie'
                       when w < 1 / (1 + exp(-3.0 * (la - lb) / (la + lb))) then 'model_a'
                       else 'model_b' end,
                  true
           from planted;"
    )))
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn style_control_recovers_a_planted_length_bias_and_is_stored_once_per_vote_set() {
    let app = three_models().await;
    plant_length_bias(&app, 3000).await;
    let client = app.client();
    let (status, view) = app.get_json(&client, "/api/v1/leaderboard/style").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["vote_count"], 3000);
    let coefficients = view["coefficients"].as_array().unwrap();
    let length = coefficients
        .iter()
        .find(|c| c["feature"] == "length")
        .unwrap_or_else(|| panic!("{coefficients:?}"));
    assert!(length["ci_lower"].as_f64().unwrap() > 0.0, "{length}");
    // Headers and bold never vary: left out. Lists vary but voters ignore them.
    assert!(coefficients.iter().all(|c| c["feature"] != "headers"));
    let lists = coefficients
        .iter()
        .find(|c| c["feature"] == "lists")
        .unwrap();
    assert!(lists["ci_lower"].as_f64().unwrap() < 0.0 && lists["ci_upper"].as_f64().unwrap() > 0.0);
    // With style held equal, alpha's long answers earn it nothing: the three models are equal
    // within their intervals (all rank 1), alpha within 40 Elo of the others.
    let entries = view["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for e in entries {
        assert_eq!(e["rank"], 1, "{view}");
        assert!((e["rating"].as_f64().unwrap() - 1000.0).abs() < 40.0, "{e}");
    }
    // Stored: the same vote set gives the same run.
    let (_, again) = app.get_json(&client, "/api/v1/leaderboard/style").await;
    assert_eq!(again["run_id"], view["run_id"]);
    assert_eq!(app.count("select count(*) from style_run").await, 1);
    // A filter is a different run; a language without votes is a plain 422.
    let (status, en) = app
        .get_json(&client, "/api/v1/leaderboard/style?language=en")
        .await;
    assert_eq!(status, 200, "{en}");
    assert_ne!(en["run_id"], view["run_id"]);
    let (status, none) = app
        .get_json(&client, "/api/v1/leaderboard/style?language=eu")
        .await;
    assert_eq!(status, 422, "{none}");
    assert_eq!(none["error"]["code"], "too_few_votes", "{none}");
    // The main view's other vote filters narrow the style fit's votes too.
    let decisive = app
        .count("select count(*) from vote where winner in ('model_a', 'model_b')")
        .await;
    assert!(decisive > 2000 && decisive < 3000, "{decisive}");
    let (status, no_ties) = app
        .get_json(&client, "/api/v1/leaderboard/style?category=no_ties")
        .await;
    assert_eq!(status, 200, "{no_ties}");
    assert_eq!(no_ties["vote_count"], decisive, "{no_ties}");
    assert_eq!(no_ties["filter"]["category"], "no_ties");
    let (status, arena) = app
        .get_json(&client, "/api/v1/leaderboard/style?campaign=arena")
        .await;
    assert_eq!(status, 200, "{arena}");
    assert_eq!(arena["vote_count"], 3000);
    assert_eq!(arena["filter"]["campaign"], "arena");
    sqlx::query(
        "insert into campaign (id, slug, name, languages, pairing)
         values (gen_random_uuid(), 'empty', 'Empty', '{en}', 'uniform')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (status, empty) = app
        .get_json(&client, "/api/v1/leaderboard/style?campaign=empty")
        .await;
    assert_eq!(status, 422, "{empty}");
    assert_eq!(empty["error"]["code"], "too_few_votes", "{empty}");
    // No planted prompt has a detected language.
    let (status, detected) = app
        .get_json(
            &client,
            "/api/v1/leaderboard/style?language=en&language_by=detected",
        )
        .await;
    assert_eq!(status, 422, "{detected}");
    let (status, unknown) = app
        .get_json(&client, "/api/v1/leaderboard/style?campaign=nope")
        .await;
    assert_eq!(status, 404, "{unknown}");
    // Bad input: named, nothing stored.
    let before = app.count("select count(*) from style_run").await;
    for bad in [
        "from=yesterday",
        "source=lmsys",
        "nonsense=1",
        "category=poetry",
        "campaign=Not%20A%20Slug",
        "language=en&language_by=guessed",
    ] {
        let (status, body) = app
            .get_json(&client, &format!("/api/v1/leaderboard/style?{bad}"))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    assert_eq!(app.count("select count(*) from style_run").await, before);
}

/// Three votes between two models: the page shows neither a rank nor the ridge's absurd
/// numbers, says so once, and the JSON keeps the exact fit beside the posterior.
/// A vote whose transaction was still open when a style run read its snapshot took an id below
/// the run's mark: once it commits, that run is not served as current (the mark is the same).
#[tokio::test]
async fn a_style_run_that_missed_an_in_flight_vote_is_not_reused() {
    let app = three_models().await;
    plant_length_bias(&app, 900).await;
    // The two newest planted votes are taken back: their turns get the votes below.
    let freed: Vec<(uuid::Uuid, uuid::Uuid, uuid::Uuid)> = sqlx::query_as(
        "delete from vote where id in (select id from vote order by id desc limit 2)
         returning turn_id, battle_id, voter_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let insert = "insert into vote (turn_id, battle_id, voter_id, winner, counted, txid)
                  values ($1, $2, $3, 'model_a', true, pg_current_xact_id())";
    // The slow vote takes its id first and commits last.
    let mut in_flight = app.pool.begin().await.unwrap();
    let (turn, battle, voter) = freed[0];
    sqlx::query(insert)
        .bind(turn)
        .bind(battle)
        .bind(voter)
        .execute(&mut *in_flight)
        .await
        .unwrap();
    let (turn, battle, voter) = freed[1];
    sqlx::query(insert)
        .bind(turn)
        .bind(battle)
        .bind(voter)
        .execute(&app.pool)
        .await
        .unwrap();
    let client = app.client();
    let (status, seen) = app.get_json(&client, "/api/v1/leaderboard/style").await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(
        seen["vote_count"], 899,
        "the open transaction's vote is invisible: {seen}"
    );
    in_flight.commit().await.unwrap();
    let (_, now) = app.get_json(&client, "/api/v1/leaderboard/style").await;
    assert_eq!(now["vote_count"], 900, "{now}");
    assert_eq!(now["max_vote_id"], seen["max_vote_id"]);
    assert_ne!(now["run_id"], seen["run_id"]);
    // The new run saw every vote: asked again, it is reused.
    let (_, again) = app.get_json(&client, "/api/v1/leaderboard/style").await;
    assert_eq!(again["run_id"], now["run_id"]);
    assert_eq!(app.count("select count(*) from style_run").await, 2);
}

#[tokio::test]
async fn a_young_arena_is_provisional_on_the_page_and_in_the_api() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.limits.enabled = false
    })
    .await;
    for _ in 0..3 {
        let voter = app.client();
        let battle = app.create_battle(&voter, "Hi").await;
        app.read_stream(&voter, &battle).await;
        let (s, body) = app.vote(&voter, &battle, "model_a", None).await;
        assert_eq!(s, 200, "{body}");
    }
    let client = app.client();
    let mut view = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, v) = app.get_json(&client, "/api/v1/leaderboard").await;
        assert_eq!(status, 200);
        if v["vote_count"] == 3 {
            view = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(view["vote_count"], 3, "{view}");
    for e in view["entries"].as_array().unwrap() {
        assert_eq!(e["provisional"], true, "{e}");
        assert!(e["rank"].is_null());
        let posterior = e["posterior_rating"].as_f64().unwrap();
        assert!((850.0..1150.0).contains(&posterior), "{e}");
        assert!(e["votes_to_rank"].as_u64().unwrap() > 50);
    }
    let html = client
        .get(format!("{}/leaderboard", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("class=\"notice").count(), 1, "one notice");
    assert!(html.contains("Too few votes to rank the models yet (3 so far)"));
    assert!(html.contains(">provisional</td>"));
    assert!(html.contains("more to rank)"));
    // The ridge's numbers stay in the JSON, not on the page.
    for e in view["entries"].as_array().unwrap() {
        let ml = format!(">{:.0}</td>", e["rating"].as_f64().unwrap());
        assert!(!html.contains(&ml), "{ml} shown");
    }
}

/// One counted vote through SQL: a battle of alpha against beta whose voted turn has `prompt`
/// (at `turn_index`, earlier turns unvoted) and answers `a`, `b`.
async fn vote_sql(app: &TestApp, prompt: &str, turn_index: i32, a: &str, winner: &str) {
    let battle = uuid::Uuid::new_v4();
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("insert into voter (id, session_hash) values ($1, decode(md5($1::text), 'hex'))")
        .bind(battle)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "insert into battle (id, voter_id, model_a_id, model_b_id)
         values ($1, $1, (select id from model where key = 'alpha'),
                 (select id from model where key = 'beta'))",
    )
    .bind(battle)
    .execute(&mut *tx)
    .await
    .unwrap();
    let mut turn = uuid::Uuid::nil();
    for index in 0..=turn_index {
        turn = uuid::Uuid::new_v4();
        sqlx::query(
            "insert into battle_turn (id, battle_id, turn_index, prompt, status)
             values ($1, $2, $3, $4, 'voted')",
        )
        .bind(turn)
        .bind(battle)
        .bind(index)
        .bind(if index == turn_index { prompt } else { "Hello" })
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "insert into answer (id, turn_id, side, model_id, status, content, prompt_tokens)
             select gen_random_uuid(), $1, s, (select id from model where key = m), 'done', c,
                    length($3) / 4 + 10
             from (values ('a', 'alpha', $2), ('b', 'beta', 'Fine.')) x(s, m, c)",
        )
        .bind(turn)
        .bind(a)
        .bind(prompt)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query(
        "insert into vote (turn_id, battle_id, voter_id, winner, counted)
         values ($1, $2, $2, $3, true)",
    )
    .bind(turn)
    .bind(battle)
    .bind(winner)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Each category is a filter with its own vote count, its runs reproduce from the votes, and a
/// bad category is a plain 422.
#[tokio::test]
async fn categories_filter_the_votes_and_count_them() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.limits.enabled = false
    })
    .await;
    let long = "word ".repeat(2600);
    let cases: [(&str, i32, &str, &str, usize); 7] = [
        (
            "Fix this:\n```rust\nfn main() {}\n```",
            0,
            "Done.",
            "model_a",
            3,
        ),
        (
            "Write a sort function",
            0,
            "```py\nsorted(x)\n```",
            "model_b",
            2,
        ),
        ("Solve 3x + 4 = 10", 0, "x = 2", "model_a", 2),
        ("What is the derivative of x^2?", 0, "2x", "tie", 1),
        (&long, 0, "Long indeed.", "model_a", 1),
        ("And then?", 1, "Then this.", "model_b", 2),
        ("Hi", 0, "Hello!", "both_bad", 1),
    ];
    for (prompt, turn, a, winner, times) in cases {
        for _ in 0..times {
            vote_sql(&app, prompt, turn, a, winner).await;
        }
    }
    let client = app.client();
    let (status, counts) = app
        .get_json(&client, "/api/v1/leaderboard/categories")
        .await;
    assert_eq!(status, 200, "{counts}");
    let count = |c: &str| {
        counts
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["category"] == c)
            .unwrap()["votes"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count("coding"), 5);
    assert_eq!(count("math"), 3);
    assert_eq!(count("long"), 1);
    assert_eq!(count("multi_turn"), 2);
    assert_eq!(count("no_ties"), 10);
    for (category, votes) in [
        ("coding", 5),
        ("math", 3),
        ("multi_turn", 2),
        ("no_ties", 10),
    ] {
        let (status, view) = app
            .get_json(&client, &format!("/api/v1/leaderboard?category={category}"))
            .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["vote_count"], votes, "{category}: {view}");
        assert_eq!(view["filter"]["category"], category);
        assert!(view["method"].as_str().unwrap().contains("category"));
        let run = view["run_id"].as_i64().unwrap();
        let (status, again) = app
            .get_json(
                &client,
                &format!("/api/v1/leaderboard/runs/{run}/reproduce"),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(again["identical"], true, "{category}: {again}");
        assert_eq!(again["recomputed_vote_count"], votes);
    }
    for bad in ["category=poetry", "category=coding&source=lmsys"] {
        let (status, body) = app
            .get_json(&client, &format!("/api/v1/leaderboard?{bad}"))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_category", "{body}");
    }
    // The page offers each category with its count.
    let html = client
        .get(format!("{}/leaderboard?category=coding", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Coding (5 votes)"), "counts in the control");
    assert!(html.contains("category: Coding"));
}

/// Rebuilds `pair_count` from the votes planted by SQL (the vote path keeps it in step).
async fn recount(app: &TestApp) {
    sqlx::raw_sql(
        "delete from pair_count;
         insert into pair_count (model_a_id, model_b_id, language, day, wins_a, wins_b, ties,
                                 both_bad)
           select b.model_a_id, b.model_b_id, coalesce(b.language, ''),
                  (v.created_at at time zone 'utc')::date,
                  count(*) filter (where v.winner = 'model_a'),
                  count(*) filter (where v.winner = 'model_b'),
                  count(*) filter (where v.winner = 'tie'),
                  count(*) filter (where v.winner = 'both_bad')
           from vote v join battle b on b.id = v.battle_id
           where v.counted and not v.voided
           group by 1, 2, 3, 4",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

/// gamma is a new version of alpha that forgot Basque: as good as alpha in English, 170 Elo
/// worse in Basque; beta is a new version of alpha that changed nothing. The report flags
/// gamma in Basque only and beta nowhere; the admin action refuses unknown bases and cycles.
#[tokio::test]
async fn a_new_version_that_forgot_a_language_is_flagged_there() {
    let app = three_models().await;
    sqlx::raw_sql(
        "select setseed(0.7);
         create temp table planted as
           select gen_random_uuid() as battle, gen_random_uuid() as turn, k, ma, mb, language,
                  random() as u, random() as w
           from generate_series(1, 6000) k,
                lateral (select (array['alpha', 'beta', 'gamma'])[1 + k % 3] as ma,
                                (array['beta', 'gamma', 'alpha'])[1 + k % 3] as mb,
                                case when k % 2 = 0 then 'en' else 'eu' end as language) m;
         create temp table strength as
           select * from (values ('alpha', 'en', 0.0), ('alpha', 'eu', 0.0),
                                 ('beta', 'en', 0.0), ('beta', 'eu', 0.0),
                                 ('gamma', 'en', 0.0), ('gamma', 'eu', -1.0)) s(m, l, theta);
         insert into voter (id, session_hash) select battle, decode(md5(battle::text), 'hex') from planted;
         insert into battle (id, voter_id, model_a_id, model_b_id, language)
           select battle, battle, (select id from model where key = ma),
                  (select id from model where key = mb), language from planted;
         insert into battle_turn (id, battle_id, turn_index, prompt, status)
           select turn, battle, 0, 'Q' || k, 'voted' from planted;
         insert into answer (id, turn_id, side, model_id, status, content)
           select gen_random_uuid(), turn, s, (select id from model where key = m), 'done', 'x'
           from planted, lateral (values ('a', ma), ('b', mb)) sides(s, m);
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
           select turn, battle, battle,
                  case when u < 0.1 then 'tie'
                       when w < 1 / (1 + exp((select theta from strength where m = mb and l = language)
                                            - (select theta from strength where m = ma and l = language)))
                            then 'model_a'
                       else 'model_b' end,
                  true
           from planted;",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    recount(&app).await;
    let admin = signed_in_as(&app, "adm", "admin").await;
    let put = |key: &'static str, base: serde_json::Value| {
        let admin = admin.clone();
        let url = format!("{}/api/v1/admin/models/{key}/version-of", app.url);
        async move {
            let r = admin
                .put(url)
                .json(&serde_json::json!({ "base": base }))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = put("gamma", "alpha".into()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version_of"], "alpha");
    assert_eq!(put("beta", "alpha".into()).await.0, 200);
    // Refused, nothing changed: an unknown base, itself, a cycle.
    assert_eq!(put("beta", "nobody".into()).await.0, 422);
    assert_eq!(put("beta", "beta".into()).await.0, 422);
    assert_eq!(put("alpha", "gamma".into()).await.0, 422);
    assert_eq!(
        app.count("select count(*) from model where version_of is not null")
            .await,
        2
    );
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'model.version_of'")
            .await,
        2
    );
    let client = app.client();
    let (status, report) = app
        .get_json(&client, "/api/v1/leaderboard/regressions")
        .await;
    assert_eq!(status, 200, "{report}");
    let pair = |new: &str| {
        report["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["new"] == new)
            .unwrap_or_else(|| panic!("{report}"))
            .clone()
    };
    let flagged = |p: &serde_json::Value| -> Vec<String> {
        p["views"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["flagged"] == true)
            .map(|v| v["view"].as_str().unwrap().to_owned())
            .collect()
    };
    let gamma = pair("gamma");
    assert!(
        flagged(&gamma).contains(&"language:eu".to_owned()),
        "{gamma}"
    );
    assert!(
        !flagged(&gamma).contains(&"language:en".to_owned()),
        "{gamma}"
    );
    let eu = gamma["views"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["view"] == "language:eu")
        .unwrap();
    assert!((eu["elo"].as_f64().unwrap() + 174.0).abs() < 50.0, "{eu}");
    assert_eq!(flagged(&pair("beta")), Vec::<String>::new(), "{report}");
    // Stored for this vote set; the page shows it.
    let (_, again) = app
        .get_json(&client, "/api/v1/leaderboard/regressions")
        .await;
    assert_eq!(again["computed_at"], report["computed_at"]);
    let html = client
        .get(format!("{}/leaderboard/regressions", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Significantly worse than its base in"),
        "flag on the page"
    );
    assert!(html.contains("data-view=\"language:eu\""));
}

/// Static benchmarks: an admin imports scores (a bad file changes nothing and names its line);
/// the leaderboard shows them beside the ratings with each one's rank correlation.
#[tokio::test]
async fn benchmark_scores_sit_beside_the_ratings_with_their_correlations() {
    let app = three_models().await;
    sqlx::raw_sql(
        "select setseed(0.3);
         create temp table planted as
           select gen_random_uuid() as battle, gen_random_uuid() as turn, k, ma, mb,
                  random() as w
           from generate_series(1, 3000) k,
                lateral (select (array['alpha', 'beta', 'gamma'])[1 + k % 3] as ma,
                                (array['beta', 'gamma', 'alpha'])[1 + k % 3] as mb) m;
         create temp table strength as
           select * from (values ('alpha', 0.6), ('beta', 0.0), ('gamma', -0.6)) s(m, theta);
         insert into voter (id, session_hash) select battle, decode(md5(battle::text), 'hex') from planted;
         insert into battle (id, voter_id, model_a_id, model_b_id)
           select battle, battle, (select id from model where key = ma),
                  (select id from model where key = mb) from planted;
         insert into battle_turn (id, battle_id, turn_index, prompt, status)
           select turn, battle, 0, 'Q' || k, 'voted' from planted;
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
           select turn, battle, battle,
                  case when w < 1 / (1 + exp((select theta from strength where m = mb)
                                            - (select theta from strength where m = ma)))
                       then 'model_a' else 'model_b' end,
                  true
           from planted;",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    recount(&app).await;
    let admin = signed_in_as(&app, "adm", "admin").await;
    let post = |csv: &'static str| {
        let admin = admin.clone();
        let url = format!("{}/api/v1/admin/benchmarks", app.url);
        async move {
            let r = admin
                .post(url)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    // Bad files: nothing stored, the line named.
    let (status, body) = post("model,agree\nalpha,80\nnobody,50\n").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{body}"
    );
    let (status, body) = post("model,agree\nalpha,eighty\n").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{body}"
    );
    assert_eq!(app.count("select count(*) from benchmark_score").await, 0);
    let volunteer = signed_in_as(&app, "vol", "volunteer").await;
    let r = volunteer
        .post(format!("{}/api/v1/admin/benchmarks", app.url))
        .header("content-type", "text/csv")
        .body("model,x\nalpha,1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (status, done) = post("model,agree,disagree\nalpha,80,10\nbeta,70,20\ngamma,60,\n").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["scores"], 5);
    assert_eq!(done["models"], 3);
    let client = app.client();
    let (status, report) = app
        .get_json(&client, "/api/v1/leaderboard/benchmarks")
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["benchmarks"],
        serde_json::json!(["agree", "disagree"])
    );
    let correlation = |b: &str| {
        report["correlations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["benchmark"] == b)
            .unwrap()
            .clone()
    };
    let agree = correlation("agree");
    assert_eq!(agree["models"], 3);
    assert!(
        (agree["spearman"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{agree}"
    );
    assert!(
        (agree["kendall"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{agree}"
    );
    // Two models only (gamma has no score): too few for a correlation.
    let disagree = correlation("disagree");
    assert_eq!(disagree["models"], 2);
    assert!(disagree["spearman"].is_null());
    // Re-importing replaces a score, never duplicates it.
    let (status, _) = post("model,disagree\ngamma,30\n").await;
    assert_eq!(status, 200);
    assert_eq!(app.count("select count(*) from benchmark_score").await, 6);
    let (_, report) = app
        .get_json(&client, "/api/v1/leaderboard/benchmarks")
        .await;
    let disagree = report["correlations"][1].clone();
    assert!(
        (disagree["spearman"].as_f64().unwrap() + 1.0).abs() < 1e-9,
        "{disagree}"
    );
    let html = client
        .get(format!("{}/leaderboard", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Static benchmarks"));
    assert!(
        html.contains("Spearman ρ = 1.00"),
        "the correlation on the page"
    );
}

/// Each prompt's language is detected and stored beside the one the voter chose (here always
/// "en"); the leaderboard filters by either, and a detected-language run reproduces.
#[tokio::test]
async fn prompt_languages_are_detected_and_filter_the_leaderboard() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(vec![model("alpha", &url, 8), model("beta", &url, 8)], |s| {
        s.limits.enabled = false
    })
    .await;
    let prompts = [
        "Zein da Euskal Herriko mendirik altuena eta zenbat metro ditu?",
        "Idatzi olerki labur bat itsasoari buruz, mesedez.",
        "What is the tallest mountain in the Basque Country?",
        "Ok",
    ];
    for prompt in prompts {
        let voter = app.client();
        let battle = app.create_battle(&voter, prompt).await;
        app.read_stream(&voter, &battle).await;
        let (s, body) = app.vote(&voter, &battle, "model_a", None).await;
        assert_eq!(s, 200, "{body}");
    }
    // Detection runs beside the answers: wait until the three long prompts have theirs.
    for _ in 0..100 {
        if app
            .count("select count(*) from battle_turn where detected_language is not null")
            .await
            == 3
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count("select count(*) from battle where detected_language = 'eu' and language = 'en'")
            .await,
        2
    );
    assert_eq!(
        app.count(
            "select count(*) from battle_turn where prompt = 'Ok' and detected_language is null"
        )
        .await,
        1,
        "too short to tell"
    );
    let client = app.client();
    let (status, detected) = app
        .get_json(
            &client,
            "/api/v1/leaderboard?language=eu&language_by=detected",
        )
        .await;
    assert_eq!(status, 200, "{detected}");
    assert_eq!(detected["vote_count"], 2);
    assert_eq!(detected["filter"]["language_by"], "detected");
    let run = detected["run_id"].as_i64().unwrap();
    let (_, again) = app
        .get_json(
            &client,
            &format!("/api/v1/leaderboard/runs/{run}/reproduce"),
        )
        .await;
    assert_eq!(again["identical"], true, "{again}");
    let (_, chosen) = app
        .get_json(&client, "/api/v1/leaderboard?language=eu")
        .await;
    assert_eq!(chosen["vote_count"], 0, "nobody chose Basque");
    let (_, english) = app
        .get_json(
            &client,
            "/api/v1/leaderboard?language=en&language_by=detected",
        )
        .await;
    assert_eq!(english["vote_count"], 1);
    let (status, bad) = app
        .get_json(
            &client,
            "/api/v1/leaderboard?language=eu&language_by=guessed",
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["error"]["code"], "invalid_language_by");
}
