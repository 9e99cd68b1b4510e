//! `arena-bench`: the harness of `make bench` and `make chaos` (see docs/scale.md).
//!
//! - `worker`: a scripted OpenAI-compatible worker (configurable tokens, delays, failure modes);
//! - `prepare`: battles ready to vote on, for the vote-ingest load (`wrk`);
//! - `ttft`: time to first token through the arena against straight to the worker;
//! - `streams`: many concurrent streaming battles, with the server's memory sampled;
//! - `chaos`: a steady vote load across server processes, then the audit of the vote record;
//! - `seed`: many voted battles straight into the database (the export/import benchmark).

mod chaos;
mod client;
mod load;
mod seed;
mod worker;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "arena-bench", about = "Load and chaos harness for the arena")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a scripted OpenAI-compatible worker.
    Worker(worker::WorkerArgs),
    /// Create battles ready to vote on; write `battle_id session_token` lines.
    Prepare(load::PrepareArgs),
    /// Time to first token through the arena against straight to the worker.
    Ttft(load::TtftArgs),
    /// Many concurrent streaming battles; the server's RSS.
    Streams(load::StreamsArgs),
    /// A vote load through several server processes, then the audit of the vote record.
    Chaos(chaos::ChaosArgs),
    /// Many voted battles straight into a migrated database.
    Seed(seed::SeedArgs),
}

#[tokio::main]
async fn main() {
    let result = match Cli::parse().command {
        Command::Worker(args) => worker::run(args).await.map_err(Into::into),
        Command::Prepare(args) => load::prepare(args).await,
        Command::Ttft(args) => load::ttft(args).await,
        Command::Streams(args) => load::streams(args).await,
        Command::Chaos(args) => chaos::run(args).await,
        Command::Seed(args) => seed::run(args).await,
    };
    if let Err(e) = result {
        eprintln!("arena-bench: {e}");
        std::process::exit(1);
    }
}
