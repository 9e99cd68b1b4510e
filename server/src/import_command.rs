//! `server import --schema S [--format F] [--source NAME] [--skip-bad] FILE`: loads a public
//! arena dataset as a named, read-only data source (see `arena_core::imports`). Exit codes: 0
//! imported (or nothing new), 1 failed, 2 bad input (malformed rows without `--skip-bad`, an
//! unknown schema): nothing was written then.

use arena_core::config::Settings;
use arena_core::imports::{ImportOptions, import};
use arena_domain::export::{Format, Schema};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// chatbot_arena_conversations, arena_human_preference_100k, arena_human_preference_140k,
    /// kaggle_55k, ebaluatoia, dpo or full (the datasets' own spellings with '-' work too).
    #[arg(long)]
    schema: String,
    /// jsonl, csv or parquet [default: from the file's extension].
    #[arg(long)]
    format: Option<String>,
    /// The data source's name [default: the file's name without extension, lowercased].
    #[arg(long)]
    source: Option<String>,
    /// Leave malformed rows out (each is reported with its line number) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// The dataset file.
    file: PathBuf,
}

fn default_source(file: &std::path::Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    arena_domain::import::model_key(&stem).unwrap_or(stem)
}

pub async fn run(settings: &Settings, args: ImportArgs) -> i32 {
    let bad_input = |message: String| {
        eprintln!("import refused: {message}");
        2
    };
    let schema: Schema = match args.schema.parse() {
        Ok(s) => s,
        Err(e) => return bad_input(e.to_string()),
    };
    let format_name = args.format.clone().unwrap_or_else(|| {
        args.file
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default()
    });
    let format: Format = match format_name.parse() {
        Ok(f) => f,
        Err(e) => return bad_input(format!("{e} (give --format for this file)")),
    };
    let source = args
        .source
        .clone()
        .unwrap_or_else(|| default_source(&args.file));
    let file = match std::fs::File::open(&args.file) {
        Ok(f) => f,
        Err(e) => return bad_input(format!("cannot open {}: {e}", args.file.display())),
    };
    let pool = match arena_core::db::connect(&settings.database).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("import failed: cannot connect to the database: {e}");
            return 1;
        }
    };
    if let Err(e) = arena_core::db::migrate(&pool).await {
        eprintln!("import failed: cannot migrate the database: {e}");
        return 1;
    }
    let options = ImportOptions {
        source,
        schema,
        format,
        skip_bad: args.skip_bad,
        file_name: args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        actor: None,
        bounds: settings.imports,
    };
    let start = std::time::Instant::now();
    let progress = move |rows: u64| {
        eprint!(
            "\r[import] {rows:>10} rows read in {:>6.1} s",
            start.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    };
    match import(&pool, options, Box::new(file), progress).await {
        Ok(report) => {
            eprintln!();
            for b in &report.bad_lines {
                eprintln!("[import] skipped line {}: {}", b.line, b.message);
            }
            eprintln!(
                "[import] {}: {} rows read, {} added, {} already there, {} skipped; {} new \
                 (retired) models; {:.1} s",
                report.source,
                report.rows_read,
                report.rows_added,
                report.rows_already_there,
                report.rows_skipped,
                report.models_created.len(),
                start.elapsed().as_secs_f64()
            );
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            0
        }
        Err(e @ arena_core::error::ArenaError::Invalid { .. }) => {
            eprintln!();
            bad_input(e.to_string())
        }
        Err(e) => {
            eprintln!("\nimport failed: {e}");
            1
        }
    }
}
