//! Imported files and work classes: an import bomb stops with a clear error and bounded memory; the classes' pools do not starve each other.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;

/// Runs `server import` on `path` and follows its peak memory (VmHWM) until it exits:
/// (exit code, stderr, peak RSS in bytes).
fn import_command(app: &TestApp, schema: &str, path: &std::path::Path) -> (i32, String, u64) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["import", "--schema", schema])
        .arg(path)
        .env("DATABASE_URL", &app.database)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if let Some(kb) = hwm {
                peak = peak.max(kb * 1024);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr, peak)
}

#[tokio::test]
async fn an_import_bomb_stops_with_a_clear_error_and_bounded_memory() {
    use std::io::Write;
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn(vec![model("alpha", &url, 16), model("beta", &url, 16)]).await;
    let dir = std::env::temp_dir().join(format!("arena-bomb-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();

    // A JSON line of 200 MB: read up to the row budget (1 MiB), never whole.
    let line = dir.join("line.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&line).unwrap());
        f.write_all(br#"{"id":1,"model_a":"alpha","model_b":"beta","prompt":""#)
            .unwrap();
        let block = vec![b'a'; 1 << 20];
        for _ in 0..200 {
            f.write_all(&block).unwrap();
        }
        f.write_all(b"\"}\n").unwrap();
    }
    let (code, stderr, peak) = import_command(&app, "kaggle-55k", &line);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("line 1 is longer than imports.max_row_bytes"),
        "{stderr}"
    );
    assert!(peak < 256 << 20, "the import peaked at {} MiB", peak >> 20);

    // A Parquet file whose rows decode to 2 MiB each, 256 of them (512 MB of rows).
    let bomb = dir.join("bomb.parquet");
    {
        let big = "x".repeat(2 << 20);
        let mut writer = arena_parquet::ParquetWriter::with_row_group_rows(
            arena_domain::export::Schema::Kaggle55k,
            4,
        )
        .unwrap();
        let mut f = std::fs::File::create(&bomb).unwrap();
        for i in 0..256i64 {
            let row = [
                ("id", serde_json::json!(i)),
                ("model_a", serde_json::json!("alpha")),
                ("model_b", serde_json::json!("beta")),
                ("prompt", serde_json::json!("[\"hi\"]")),
                ("response_a", serde_json::json!(big)),
                ("response_b", serde_json::json!("[\"b\"]")),
                ("winner_model_a", serde_json::json!(1)),
                ("winner_model_b", serde_json::json!(0)),
                ("winner_tie", serde_json::json!(0)),
            ];
            f.write_all(&writer.push(row).unwrap()).unwrap();
        }
        f.write_all(&writer.finish().unwrap()).unwrap();
    }
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(size < 32 << 20, "{size} bytes stand for 512 MB");
    let (code, stderr, peak) = import_command(&app, "kaggle-55k", &bomb);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("over the import budget"), "{stderr}");
    assert!(stderr.contains("row group 1"), "{stderr}");
    assert!(peak < 256 << 20, "the import peaked at {} MiB", peak >> 20);
    // Nothing was imported.
    assert_eq!(app.count("select count(*) from source_vote").await, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn work_classes_do_not_starve_each_other() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.database.research_connections = 2;
            s.database.admin_connections = 1;
            s.database.rating_connections = 1;
        },
    )
    .await;
    // Every connection of the research, admin and rating classes is taken (as slow exports,
    // console searches and fits would take them)…
    let mut held = Vec::new();
    for (pool, n) in [
        (&app.arena.research_pool, 2),
        (&app.arena.admin_pool, 1),
        (&app.arena.rating_pool, 1),
    ] {
        for _ in 0..n {
            held.push(pool.acquire().await.unwrap());
        }
    }
    // …and the public's requests are served: a battle, a vote, the default board, readiness.
    let voter = app.client();
    let battle = app.create_battle(&voter, "Still there?").await;
    app.read_stream(&voter, &battle).await;
    assert_eq!(app.vote(&voter, &battle, "model_a", None).await.0, 200);
    let (status, ready) = app.get_json(&voter, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["database"], true);
    let (status, _) = app.get_json(&voter, "/api/v1/leaderboard").await;
    assert_eq!(status, 200);
    // The classes' statement timeouts are their own.
    let timeout: String = sqlx::query_scalar("show statement_timeout")
        .fetch_one(&mut *held[0])
        .await
        .unwrap();
    assert_eq!(timeout, "15min");
    drop(held);
}
