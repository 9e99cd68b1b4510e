//! Imports and reproduction on a real Postgres: every schema and format (JSONL, CSV, Parquet)
//! exported, imported back
//! as a data source (same counts, same leaderboard), idempotency, malformed lines with their
//! numbers (stop, or `--skip-bad`), and a rating run reproduced offline by `arena-ratings fit`
//! from its `run=ID` export.

use crate::common;

use arena_core::imports::{ImportOptions, import};
use arena_domain::api::LeaderboardFilter;
use arena_domain::export::{ExportQuery, Format, Schema};
use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

const WINNERS: [&str; 4] = ["model_a", "model_b", "tie", "both_bad"];

/// Three models, `n` counted votes with every outcome.
async fn arena_with_votes(n: usize) -> TestApp {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn_with(
        vec![
            model("alpha", &url, 16),
            model("beta", &url, 16),
            model("gamma", &url, 16),
        ],
        |s| {
            s.exports.voter_salt = arena_core::config::Secret::new("release-imports");
            s.limits.enabled = false;
        },
    )
    .await;
    let voter = app.client();
    for i in 0..n {
        let battle = app.create_battle(&voter, &format!("Question {i}?")).await;
        app.read_stream(&voter, &battle).await;
        // Mostly alpha-ish wins for model_a, so the fit has something to find.
        let winner = WINNERS[(i * 7 + i / 3) % 4];
        let (s, body) = app.vote(&voter, &battle, winner, None).await;
        assert_eq!(s, 200, "{body}");
    }
    app
}

/// Outcome counts per unordered pair of model keys: [wins of the first, of the second, ties,
/// both bad].
type Counts = BTreeMap<(String, String), [i64; 4]>;

async fn counts(app: &TestApp, table: &str, source: Option<&str>) -> Counts {
    let rows: Vec<(String, String, i64, i64, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select a.key, b.key, sum(wins_a)::bigint, sum(wins_b)::bigint, sum(ties)::bigint,
                    sum(both_bad)::bigint
             from {table} c join model a on a.id = c.model_a_id join model b on b.id = c.model_b_id
             {}
             group by 1, 2",
            match source {
                Some(_) => "where c.source_id = (select id from data_source where name = $1)",
                None => "where $1::text is null",
            }
        )))
        .bind(source)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let mut out = Counts::new();
    for (a, b, wa, wb, t, bb) in rows {
        let (key, won) = if a < b {
            ((a, b), [wa, wb])
        } else {
            ((b, a), [wb, wa])
        };
        let e = out.entry(key).or_default();
        e[0] += won[0];
        e[1] += won[1];
        e[2] += t;
        e[3] += bb;
    }
    out.retain(|_, c| c.iter().any(|n| *n != 0));
    out
}

async fn export_to(app: &TestApp, query: ExportQuery, path: &std::path::Path) -> u64 {
    let mut events = app.arena.export(query.parse().unwrap()).await.unwrap();
    let mut body = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            arena_core::exports::ExportEvent::Started { .. } => {}
            arena_core::exports::ExportEvent::Chunk(b) => body.extend(b),
            arena_core::exports::ExportEvent::Done(m) => {
                std::fs::write(path, &body).unwrap();
                return m.rows;
            }
            arena_core::exports::ExportEvent::Failed(e) => panic!("{e}"),
        }
    }
}

async fn import_file(
    app: &TestApp,
    source: &str,
    schema: Schema,
    format: Format,
    path: &std::path::Path,
    skip_bad: bool,
) -> Result<arena_core::imports::ImportReport, arena_core::error::ArenaError> {
    import(
        &app.pool,
        ImportOptions {
            source: source.into(),
            schema,
            format,
            skip_bad,
            file_name: path.file_name().unwrap().to_string_lossy().into(),
            actor: None,
            bounds: Default::default(),
        },
        Box::new(std::fs::File::open(path).unwrap()),
        |_| {},
    )
    .await
}

fn ratings(view: &arena_domain::api::LeaderboardView) -> BTreeMap<String, f64> {
    view.entries
        .iter()
        .filter_map(|e| e.rating.map(|r| (e.model.clone(), r)))
        .collect()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("arena-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn every_schema_and_format_round_trips_through_an_import() {
    let app = arena_with_votes(16).await;
    let arena_counts = counts(&app, "pair_count", None).await;
    assert_eq!(
        arena_counts.values().flatten().sum::<i64>(),
        16,
        "{arena_counts:?}"
    );
    // A filter that changes nothing, so the view is fitted now (the default view is the latest
    // background run, which may predate the last votes).
    let live = app
        .arena
        .leaderboard(
            LeaderboardFilter {
                from: Some("2000-01-01".into()),
                ..LeaderboardFilter::default()
            },
            || async { Ok(()) },
        )
        .await
        .unwrap();
    assert_eq!(live.vote_count, 16);
    let dir = temp_dir("roundtrip");
    for schema in Schema::ALL {
        for format in Format::ALL {
            let path = dir.join(format!("{schema}.{}", format.as_str()));
            let rows = export_to(
                &app,
                ExportQuery {
                    schema: Some(schema.as_str().into()),
                    format: Some(format.as_str().into()),
                    ..ExportQuery::default()
                },
                &path,
            )
            .await;
            let source = format!(
                "rt-{}-{}",
                schema.as_str().replace('_', "-"),
                format.as_str()
            );
            let report = import_file(&app, &source, schema, format, &path, false)
                .await
                .unwrap_or_else(|e| panic!("{source}: {e}"));
            assert_eq!(report.rows_read, rows, "{source}");
            assert_eq!(report.rows_added, rows, "{source}");
            assert_eq!(report.rows_skipped, 0);
            assert!(
                report.models_created.is_empty(),
                "{source}: known models are reused"
            );
            // The same counts, as far as the schema can tell them apart.
            let expected: Counts = arena_counts
                .iter()
                .map(|(k, c)| {
                    let c = match schema {
                        // One-hot: a both-bad is a tie.
                        Schema::Kaggle55k => [c[0], c[1], c[2] + c[3], 0],
                        // Pairs only for a winner.
                        Schema::Dpo => [c[0], c[1], 0, 0],
                        _ => *c,
                    };
                    (k.clone(), c)
                })
                .filter(|(_, c)| c.iter().any(|n| *n != 0))
                .collect();
            let got = counts(&app, "source_pair_count", Some(&source)).await;
            assert_eq!(got, expected, "{source}");
            // Every schema that keeps ties rates the source as the arena (ties and both-bad
            // are both half wins).
            if schema != Schema::Dpo {
                let board = app
                    .arena
                    .leaderboard(
                        LeaderboardFilter {
                            source: Some(source.clone()),
                            ..LeaderboardFilter::default()
                        },
                        || async { Ok(()) },
                    )
                    .await
                    .unwrap();
                let (a, b) = (ratings(&board), ratings(&live));
                assert_eq!(a.len(), b.len(), "{source}");
                for (m, r) in &a {
                    assert!((r - b[m]).abs() < 1e-9, "{source}: {m} {r} vs {}", b[m]);
                }
                assert_eq!(board.vote_count, live.vote_count);
                // The source's run reproduces from its stored votes.
                let again = app.arena.reproduce_run(board.run_id).await.unwrap();
                assert!(again.identical, "{source}");
            }
        }
    }
    // The arena's own board is untouched by the sources.
    assert_eq!(counts(&app, "pair_count", None).await, arena_counts);
    let sources = arena_core::imports::sources(&app.pool).await.unwrap();
    assert_eq!(sources.len(), Schema::ALL.len() * Format::ALL.len());
    // Public list for the leaderboard's choice.
    let (s, list) = app.get_json(&app.client(), "/api/v1/sources").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(
        list.as_array().unwrap().len(),
        Schema::ALL.len() * Format::ALL.len()
    );
    let (s, _) = app
        .get_json(&app.client(), "/api/v1/leaderboard?source=no-such-source")
        .await;
    assert_eq!(s, 404);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn imports_are_idempotent_and_bad_lines_are_reported_by_number() {
    let app = arena_with_votes(0).await;
    let dir = temp_dir("badlines");
    let path = dir.join("votes.jsonl");
    let good = |id: u32, a: &str, b: &str, w: &str| {
        format!(
            r#"{{"question_id":"q{id}","model_a":"{a}","model_b":"{b}","winner":"{w}","tstamp":1700000000.5,"language":"English","turn":1}}"#
        )
    };
    let lines = [
        good(1, "GPT-4-0314", "claude-v1", "model_a"),
        good(2, "claude-v1", "vicuna-13b", "tie (bothbad)"),
        r#"{"question_id":"q3","model_a":"x","model_b":"y","winner":"draw"}"#.to_owned(),
        String::new(),
        "not json".to_owned(),
        good(4, "vicuna-13b", "GPT-4-0314", "both_bad"),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let schema = Schema::ChatbotArenaConversations;
    // Stops on bad lines, names them, writes nothing.
    let err = import_file(&app, "lmsys", schema, Format::Jsonl, &path, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3: winner"), "{err}");
    assert!(err.contains("line 5: not JSON"), "{err}");
    assert!(err.contains("2 malformed"), "{err}");
    for table in [
        "data_source",
        "source_vote",
        "source_pair_count",
        "source_import",
    ] {
        assert_eq!(
            app.count(&format!("select count(*) from {table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        app.count("select count(*) from model where key = 'gpt-4-0314'")
            .await,
        0
    );
    // --skip-bad: the good rows, the bad ones listed.
    let report = import_file(&app, "lmsys", schema, Format::Jsonl, &path, true)
        .await
        .unwrap();
    assert_eq!(
        (report.rows_read, report.rows_added, report.rows_skipped),
        (5, 3, 2)
    );
    let lines_reported: Vec<u64> = report.bad_lines.iter().map(|b| b.line).collect();
    assert_eq!(lines_reported, [3, 5]);
    assert_eq!(
        report.models_created,
        ["claude-v1", "gpt-4-0314", "vicuna-13b"]
    );
    // Created retired, with the dataset's name shown.
    let (active, name): (bool, String) =
        sqlx::query_as("select active, display_name from model where key = 'gpt-4-0314'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!active);
    assert_eq!(name, "GPT-4-0314");
    let before = counts(&app, "source_pair_count", Some("lmsys")).await;
    assert_eq!(before.values().flatten().sum::<i64>(), 3);
    // Both spellings of both-bad.
    assert_eq!(
        before[&("claude-v1".to_owned(), "vicuna-13b".to_owned())],
        [0, 0, 0, 1]
    );
    // The same file again: nothing changes.
    let again = import_file(&app, "lmsys", schema, Format::Jsonl, &path, true)
        .await
        .unwrap();
    assert_eq!((again.rows_added, again.rows_already_there), (0, 3));
    assert!(again.models_created.is_empty());
    assert_eq!(
        counts(&app, "source_pair_count", Some("lmsys")).await,
        before
    );
    assert_eq!(app.count("select count(*) from source_vote").await, 3);
    assert_eq!(app.count("select count(*) from source_import").await, 2);
    // A JSON line is stored as the file had it.
    let stored: String = sqlx::query_scalar(
        "select payload::text from source_vote where row_key = 'q1-1'
            or row_key = 'q1' order by seq limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, lines[0]);
    // Another file into the same source (rows it has are left out), and the same file into a
    // new source (a row repeated within the file goes in once): the counts add up either way.
    let more = dir.join("more.jsonl");
    let more_lines = [
        good(4, "vicuna-13b", "GPT-4-0314", "both_bad"),
        good(5, "GPT-4-0314", "llama-13b", "model_b"),
        good(5, "GPT-4-0314", "llama-13b", "model_b"),
    ];
    std::fs::write(&more, more_lines.join("\n") + "\n").unwrap();
    let added = import_file(&app, "lmsys", schema, Format::Jsonl, &more, false)
        .await
        .unwrap();
    assert_eq!((added.rows_added, added.rows_already_there), (1, 2));
    assert_eq!(added.models_created, ["llama-13b"]);
    let fresh = import_file(&app, "lmsys-more", schema, Format::Jsonl, &more, false)
        .await
        .unwrap();
    assert_eq!((fresh.rows_added, fresh.rows_already_there), (2, 1));
    assert!(fresh.models_created.is_empty());
    let lmsys = counts(&app, "source_pair_count", Some("lmsys")).await;
    assert_eq!(lmsys.values().flatten().sum::<i64>(), 4);
    assert_eq!(
        lmsys[&("gpt-4-0314".to_owned(), "llama-13b".to_owned())],
        [0, 1, 0, 0]
    );
    // A model or a source that imported votes name cannot be deleted (nor renumbered).
    for sql in [
        "delete from model where key = 'llama-13b'",
        "update model set id = gen_random_uuid() where key = 'llama-13b'",
        "delete from data_source where name = 'lmsys-more'",
    ] {
        let err = sqlx::query(sql).execute(&app.pool).await.unwrap_err();
        assert!(
            err.to_string().contains("named by imported votes"),
            "{sql}: {err}"
        );
    }
    let lmsys_more = counts(&app, "source_pair_count", Some("lmsys-more")).await;
    assert_eq!(lmsys_more.values().flatten().sum::<i64>(), 2);
    assert_eq!(
        lmsys_more[&("gpt-4-0314".to_owned(), "llama-13b".to_owned())],
        lmsys[&("gpt-4-0314".to_owned(), "llama-13b".to_owned())]
    );
    // Imported models are never paired and stay off the arena's own board.
    let board = app
        .arena
        .leaderboard(LeaderboardFilter::default(), || async { Ok(()) })
        .await
        .unwrap();
    assert!(board.entries.iter().all(|e| e.model != "gpt-4-0314"));
    let (s, pairing) = app.get_json(&app.client(), "/api/v1/pairing").await;
    assert_eq!(s, 200);
    assert!(!pairing.to_string().contains("gpt-4-0314"), "{pairing}");

    // CSV: a quoted field spanning lines; the bad record is named by the line it starts on.
    let csv = dir.join("votes.csv");
    std::fs::write(
        &csv,
        "question_id,model_a,model_b,winner,judge,conversation_a\n\
         c1,alpha,beta,model_a,\"two\nlines\",\"[{\"\"role\"\":\"\"user\"\",\"\"content\"\":\"\"hi\\nthere\"\"}]\"\n\
         c2,alpha,beta,nobody,x,[]\n\
         c3,beta,alpha,tie,x,[]\n",
    )
    .unwrap();
    let err = import_file(&app, "csv-src", schema, Format::Csv, &csv, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 4: winner"), "{err}");
    let report = import_file(&app, "csv-src", schema, Format::Csv, &csv, true)
        .await
        .unwrap();
    assert_eq!((report.rows_added, report.rows_skipped), (2, 1));
    let payload: Value = sqlx::query_scalar(
        "select payload::json from source_vote where row_key = 'c1' and source_id =
             (select id from data_source where name = 'csv-src')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        payload["conversation_a"][0]["content"], "hi\nthere",
        "nested columns are JSON again"
    );
    assert_eq!(payload["judge"], "two\nlines");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_import_command_reports_and_refuses_clearly() {
    let app = arena_with_votes(0).await;
    let dir = temp_dir("importcmd");
    let path = dir.join("Kaggle-Train.csv");
    std::fs::write(
        &path,
        "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n\
         1,alpha,beta,\"[\"\"hi\"\"]\",\"[\"\"a\"\"]\",\"[\"\"b\"\"]\",1,0,0\n\
         2,alpha,beta,\"[\"\"hi\"\"]\",\"[\"\"a\"\"]\",\"[\"\"b\"\"]\",1,1,0\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["import", "--schema", "kaggle-55k"])
            .args(extra)
            .arg(&path)
            .env("DATABASE_URL", &app.database)
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 3: winner_model_a"), "{stderr}");
    assert!(stderr.contains("--skip-bad"), "{stderr}");
    assert_eq!(app.count("select count(*) from source_vote").await, 0);
    let done = run(&["--skip-bad"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report: Value = serde_json::from_slice(&done.stdout).unwrap();
    // The source is named after the file.
    assert_eq!(report["source"], "kaggle-train");
    assert_eq!(report["rows_added"], 1);
    assert_eq!(report["bad_lines"][0]["line"], 3);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(stderr.contains("skipped line 3"), "{stderr}");
    let bad_schema = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["import", "--schema", "nope"])
        .arg(&path)
        .env("DATABASE_URL", &app.database)
        .output()
        .unwrap();
    assert_eq!(bad_schema.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_schema.stderr).contains("unknown schema"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `arena-ratings` binary of this workspace (built if `cargo test -p server` ran alone).
fn arena_ratings() -> std::path::PathBuf {
    let server = std::path::PathBuf::from(env!("CARGO_BIN_EXE_server"));
    let bin = server.with_file_name("arena-ratings");
    if !bin.exists() {
        let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
            .args(["build", "-p", "arena-ratings", "--bin", "arena-ratings"])
            .status()
            .unwrap();
        assert!(status.success());
    }
    bin
}

#[tokio::test]
async fn a_rating_run_is_reproduced_offline_from_its_export() {
    let app = arena_with_votes(12).await;
    let view = app
        .arena
        .leaderboard(LeaderboardFilter::default(), || async { Ok(()) })
        .await
        .unwrap();
    // After the run: one more vote, and one of the run's votes voided. Neither changes the run's
    // vote set.
    let voter = app.client();
    let battle = app.create_battle(&voter, "Late?").await;
    app.read_stream(&voter, &battle).await;
    let (s, _) = app.vote(&voter, &battle, "model_a", None).await;
    assert_eq!(s, 200);
    let first: i64 = sqlx::query_scalar("select min(id) from vote")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let admin = signed_in_as(&app, "adm", "admin").await;
    let r = admin
        .post(format!("{}/api/v1/admin/votes/{first}/void", app.url))
        .json(&serde_json::json!({"reason": "after the run"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let dir = temp_dir("reproduce");
    let path = dir.join("run.jsonl");
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let r = researcher
        .get(format!(
            "{}/api/v1/exports/battles?schema=full&run={}",
            app.url, view.run_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(body.lines().count() as i64, view.vote_count);
    std::fs::write(&path, &body).unwrap();
    let out = std::process::Command::new(arena_ratings())
        .args(["fit", "--format", "json", "--battles"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let offline: BTreeMap<String, f64> = rows
        .iter()
        .filter_map(|r| Some((r["model"].as_str()?.to_owned(), r["rating"].as_f64()?)))
        .collect();
    let online = ratings(&view);
    assert_eq!(offline.len(), online.len(), "{offline:?} vs {online:?}");
    for (m, r) in &online {
        assert!(
            (r - offline[m]).abs() < 1e-9,
            "{m}: run {r}, offline {}",
            offline[m]
        );
    }
    // The manifest names the run; other filters beside run= are refused.
    let (s, manifest) = app
        .get_json(
            &researcher,
            &format!(
                "/api/v1/exports/battles/manifest?schema=full&run={}",
                view.run_id
            ),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(manifest["rating_run"], view.run_id);
    let (s, err) = app
        .get_json(
            &researcher,
            &format!(
                "/api/v1/exports/battles/manifest?schema=full&run={}&language=en",
                view.run_id
            ),
        )
        .await;
    assert_eq!(s, 422, "{err}");
    let (s, _) = app
        .get_json(
            &researcher,
            "/api/v1/exports/battles/manifest?schema=full&run=999999",
        )
        .await;
    assert_eq!(s, 404);
    std::fs::remove_dir_all(&dir).unwrap();
}
