//! The arena's web server: configuration → database → gateway → serve.
//!
//! `server` serves; `server admin create --username NAME` creates the first admin (`--promote`
//! makes an existing account admin instead of refusing its name), the password read from stdin
//! when it is not a terminal, else from a prompt that does not echo. No admin ever exists by default. `server export --schema S
//! --format F --out FILE` writes a research export and its manifest (`FILE.manifest.json`);
//! `server import --schema S FILE` loads a public arena dataset as a read-only data source.

mod import_command;

use arena_core::accounts::Accounts;
use arena_core::config::Settings;
use arena_server::{Application, telemetry};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};

#[derive(Parser)]
#[command(name = "server", about = "The arena's web server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Administration from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Write a research export to a file, with its manifest beside it.
    Export(Box<ExportArgs>),
    /// Load a public arena dataset (JSONL, CSV or Parquet) as a named, read-only data source.
    Import(import_command::ImportArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// chatbot_arena_conversations, arena_human_preference_100k, arena_human_preference_140k,
    /// kaggle_55k, ebaluatoia, dpo or full.
    #[arg(long)]
    schema: String,
    /// jsonl (default), csv or parquet.
    #[arg(long, default_value = "jsonl")]
    format: String,
    /// The file to write (its manifest goes beside it, FILE.manifest.json).
    #[arg(long)]
    out: std::path::PathBuf,
    /// First and last day (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    language: Option<String>,
    /// Model keys, comma-separated.
    #[arg(long)]
    models: Option<String>,
    /// counted (default) or all.
    #[arg(long)]
    votes: Option<String>,
    /// exclude (default) or include.
    #[arg(long)]
    voided: Option<String>,
    /// include (default) or exclude.
    #[arg(long)]
    flagged: Option<String>,
    /// all (default) or first.
    #[arg(long)]
    turns: Option<String>,
    /// A rating run's id: exactly the votes it fitted (excludes the other filters).
    #[arg(long)]
    run: Option<String>,
    /// A campaign's slug: only the votes of its battles.
    #[arg(long)]
    campaign: Option<String>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account; with --promote, make an existing account admin (its password
    /// replaced by this one). Audited either way.
    Create {
        #[arg(long)]
        username: String,
        /// Make an existing account admin instead of refusing its username.
        #[arg(long)]
        promote: bool,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let loaded = Settings::load(&Settings::default_dir());
    let format = match &loaded {
        Ok(settings) => settings.log.format,
        Err(_) => telemetry::LogFormat::Text,
    };
    if cli.command.is_some() {
        telemetry::init_stderr(format);
    } else {
        telemetry::init(format);
    }
    let settings = match loaded {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "cannot load the configuration");
            std::process::exit(2);
        }
    };
    if let Some(Command::Import(args)) = cli.command {
        std::process::exit(import_command::run(&settings, args).await);
    }
    if let Some(Command::Export(args)) = cli.command {
        if let Err(e) = export(&settings, *args).await {
            eprintln!("export failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Some(Command::Admin {
        command: AdminCommand::Create { username, promote },
    }) = cli.command
    {
        match create_admin(&settings, &username, promote).await {
            Ok((name, false)) => println!("admin {name} is ready; sign in at /signin"),
            Ok((name, true)) => println!("{name} is now an admin; sign in at /signin"),
            Err(e) => {
                eprintln!("cannot create the admin: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %app.local_addr(), "arena listening on http://{}", app.local_addr());
    if let Err(e) = app.run_until_stopped().await {
        tracing::error!(error = %e, "server stopped with an error");
        std::process::exit(1);
    }
}

async fn create_admin(
    settings: &Settings,
    username: &str,
    promote: bool,
) -> Result<(String, bool), Box<dyn std::error::Error>> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password for the new admin: ")?;
        let again = rpassword::prompt_password("the same again: ")?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let pool = arena_core::db::connect(&settings.database).await?;
    arena_core::db::migrate(&pool).await?;
    let accounts = Accounts::new(pool, settings.accounts.clone());
    let (name, promoted) = accounts
        .create_admin_from_command_line(username, &password, promote)
        .await?;
    Ok((name.to_string(), promoted))
}

/// `[#######.............]  35%` of an upper bound, or nothing when rows are not counted.
fn progress_bar(rows: Option<(u64, u64)>) -> String {
    match rows {
        Some((done, at_most)) if at_most > 0 => {
            let share = (done as f64 / at_most as f64).min(1.0);
            let filled = (share * 20.0).round() as usize;
            format!(
                "[{}{}] {:>3.0}% {done:>9} rows",
                "#".repeat(filled),
                ".".repeat(20 - filled),
                share * 100.0
            )
        }
        _ => String::new(),
    }
}

async fn export(settings: &Settings, args: ExportArgs) -> Result<(), Box<dyn std::error::Error>> {
    use arena_core::exports::ExportEvent;
    use std::io::Write;
    let spec = arena_domain::export::ExportQuery {
        schema: Some(args.schema),
        format: Some(args.format),
        from: args.from,
        to: args.to,
        language: args.language,
        models: args.models,
        votes: args.votes,
        voided: args.voided,
        flagged: args.flagged,
        turns: args.turns,
        run: args.run,
        campaign: args.campaign,
    }
    .parse()?;
    // JSON Lines: a row per line, so the bar counts rows (CSV fields may hold newlines).
    let counts_lines = spec.format == arena_domain::export::Format::Jsonl;
    let pool = arena_core::db::connect(&settings.database).await?;
    arena_core::db::migrate(&pool).await?;
    let salt = settings.exports.voter_salt.expose().as_bytes().to_vec();
    let mut events = arena_core::exports::start(pool, salt, spec).await?;
    // Written beside the target and renamed at the end: a failed export leaves no file that
    // looks complete.
    let partial = args.out.with_extension("partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    let (start, mut written, mut shown) = (std::time::Instant::now(), 0usize, 0usize);
    let (mut lines, mut at_most) = (0u64, 0u64);
    let progress = |written: usize, lines: u64, at_most: u64, start: std::time::Instant| {
        eprint!(
            "\r[export] {} {:>10.1} MiB in {:>6.1} s",
            progress_bar(counts_lines.then_some((lines, at_most))),
            written as f64 / (1024.0 * 1024.0),
            start.elapsed().as_secs_f64()
        );
    };
    while let Some(event) = events.recv().await {
        match event {
            ExportEvent::Started { rows_at_most } => at_most = rows_at_most,
            ExportEvent::Chunk(bytes) => {
                file.write_all(&bytes)?;
                written += bytes.len();
                lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                if written - shown >= 4 << 20 {
                    progress(written, lines, at_most, start);
                    shown = written;
                }
            }
            ExportEvent::Done(manifest) => {
                file.flush()?;
                drop(file);
                std::fs::rename(&partial, &args.out)?;
                let mut path = args.out.clone().into_os_string();
                path.push(".manifest.json");
                std::fs::write(&path, serde_json::to_vec_pretty(&*manifest)?)?;
                progress(written, manifest.rows, manifest.rows, start);
                eprintln!(
                    "\n[export] {} rows of {} written to {} (manifest: {})",
                    manifest.rows,
                    manifest.schema,
                    args.out.display(),
                    std::path::Path::new(&path).display()
                );
                return Ok(());
            }
            ExportEvent::Failed(message) => {
                let _ = std::fs::remove_file(&partial);
                return Err(message.into());
            }
        }
    }
    let _ = std::fs::remove_file(&partial);
    Err("the export ended without a manifest".into())
}
