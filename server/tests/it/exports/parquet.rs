//! Parquet exports over HTTP and from the command line: read back with `arena_parquet` (the
//! importer's reader), every schema's rows are the JSONL export's rows; the manifest counts them
//! and hashes the Parquet bytes; nothing secret is in them.

#[cfg(feature = "parquet")]
use super::SCHEMAS;
use super::{arena_with_votes, get};
use crate::common::*;
#[cfg(feature = "parquet")]
use serde_json::Value;

#[cfg(feature = "parquet")]
async fn get_bytes(client: &reqwest::Client, app: &TestApp, query: &str) -> reqwest::Response {
    client
        .get(format!("{}/api/v1/exports/battles?{query}", app.url))
        .send()
        .await
        .unwrap()
}

/// The rows of a Parquet file as JSON objects, checking the row numbers and the schema's name.
#[cfg(feature = "parquet")]
fn parquet_rows(bytes: Vec<u8>, schema: &str) -> Vec<Value> {
    let rows = arena_parquet::read_rows(arena_parquet::Bytes::from(bytes)).unwrap();
    assert_eq!(rows.schema_name(), Some(schema));
    rows.enumerate()
        .map(|(i, row)| {
            let (number, row) = row.unwrap();
            assert_eq!(number, i as u64 + 1);
            Value::Object(row)
        })
        .collect()
}

#[cfg(feature = "parquet")]
fn jsonl_rows(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[cfg(feature = "parquet")]
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(feature = "parquet")]
#[tokio::test]
async fn parquet_exports_hold_the_jsonl_rows_and_their_manifest_hashes_them() {
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    for filters in ["", "&votes=all&voided=include", "&turns=first"] {
        for schema in SCHEMAS {
            let query = format!("schema={schema}{filters}");
            let (_, jsonl) = get(&researcher, &app, &format!("{query}&format=jsonl")).await;
            let expected = jsonl_rows(&jsonl);
            assert!(!expected.is_empty(), "{query}");
            let r = get_bytes(&researcher, &app, &format!("{query}&format=parquet")).await;
            assert_eq!(r.status(), 200, "{query}");
            assert_eq!(
                r.headers()["content-type"],
                "application/vnd.apache.parquet"
            );
            assert_eq!(
                r.headers()["content-disposition"],
                format!("attachment; filename=\"arena-{schema}.parquet\"")
            );
            let bytes = r.bytes().await.unwrap().to_vec();
            assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
            let digest = sha256(&bytes);
            assert_eq!(parquet_rows(bytes, schema), expected, "{query}");
            let manifest: Value = researcher
                .get(format!(
                    "{}/api/v1/exports/battles/manifest?{query}&format=parquet",
                    app.url
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(manifest["format"], "parquet");
            assert_eq!(manifest["rows"], expected.len(), "{manifest}");
            assert_eq!(
                manifest["sha256"], digest,
                "the same snapshot, the same bytes"
            );
        }
    }
    // The rows of every schema hold no secret (the files are compressed: read them back).
    let voters: Vec<String> = sqlx::query_scalar("select id::text from voter")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for schema in SCHEMAS {
        let r = get_bytes(
            &researcher,
            &app,
            &format!("schema={schema}&format=parquet&votes=all&voided=include"),
        )
        .await;
        let text =
            Value::Array(parquet_rows(r.bytes().await.unwrap().to_vec(), schema)).to_string();
        for secret in voters.iter().map(String::as_str).chain([
            "127.0.0.1",
            "release-2026-12",
            "You are a helpful assistant",
        ]) {
            assert!(!text.contains(secret), "{schema} leaks {secret}");
        }
    }
}

#[cfg(feature = "parquet")]
#[tokio::test]
async fn the_export_command_writes_parquet_with_its_manifest() {
    let (app, _) = arena_with_votes().await;
    let dir = std::env::temp_dir().join(format!("arena-parquet-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("votes.parquet");
    let done = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["export", "--schema", "full", "--format", "parquet", "--out"])
        .arg(&out)
        .env("DATABASE_URL", &app.database)
        .env("ARENA__EXPORTS__VOTER_SALT", "release-2026-12")
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("votes.parquet.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["sha256"], sha256(&bytes));
    assert_eq!(manifest["rows"], 2);
    assert_eq!(manifest["format"], "parquet");
    // The reader takes the file itself, as an importer opens it.
    let rows: Vec<_> = arena_parquet::read_rows(std::fs::File::open(&out).unwrap())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2);
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let (_, http) = get(&researcher, &app, "schema=full").await;
    let rows: Vec<Value> = rows.into_iter().map(|(_, r)| Value::Object(r)).collect();
    assert_eq!(rows, jsonl_rows(&http));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(not(feature = "parquet"))]
#[tokio::test]
async fn without_the_parquet_feature_parquet_is_refused_before_anything_is_sent() {
    let (app, _) = arena_with_votes().await;
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let (s, body) = get(&researcher, &app, "schema=full&format=parquet").await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("`parquet` cargo feature"), "{body}");
}
