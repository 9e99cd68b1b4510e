//! The load phases of `make bench`: battles ready to vote on, time to first token through the
//! arena against straight to the worker, and many concurrent streaming battles with the server's
//! memory sampled throughout.

use crate::client::{Error, Voter, http_client, percentile, rss_mib};
use clap::Args;
use futures::StreamExt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct PrepareArgs {
    /// The arena's base URL.
    #[arg(long)]
    pub url: String,
    /// Battles to create (each streamed to its end, so it can be voted on).
    #[arg(long)]
    pub battles: usize,
    /// Voters creating battles at once.
    #[arg(long, default_value_t = 32)]
    pub voters: usize,
    /// Where the `battle_id session_token` lines go.
    #[arg(long)]
    pub out: String,
}

/// Creates ready battles for the vote-ingest load; one line per battle: `battle_id token`.
pub async fn prepare(args: PrepareArgs) -> Result<(), Error> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let http = http_client();
    let tasks: Vec<_> = (0..args.voters)
        .map(|_| {
            let (next, http, url, total) = (
                Arc::clone(&next),
                http.clone(),
                args.url.clone(),
                args.battles,
            );
            tokio::spawn(async move {
                let mut voter = Voter::new(http);
                let mut lines = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let battle = voter.create_battle(&url, "Tell me about foxes.").await?;
                    if voter.stream(&url, &battle).await?.ok {
                        lines.push(format!(
                            "{battle} {}",
                            voter.token.clone().unwrap_or_default()
                        ));
                    }
                }
                Ok::<_, Error>(lines)
            })
        })
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    let mut ready = 0;
    for task in tasks {
        for line in task.await?? {
            writeln!(out, "{line}")?;
            ready += 1;
        }
    }
    out.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "[prepare] {ready} battles ready to vote on in {secs:.1} s ({:.0} battles/s, created and streamed)",
        ready as f64 / secs
    );
    Ok(())
}

#[derive(Debug, Clone, Args)]
pub struct TtftArgs {
    #[arg(long)]
    pub arena: String,
    /// The scripted worker the arena's models point at.
    #[arg(long)]
    pub worker: String,
    /// Samples of each.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
}

/// Time to first token through the arena (battle created → first answer text on its event
/// stream) against straight to the worker (request sent → first content chunk), interleaved.
pub async fn ttft(args: TtftArgs) -> Result<(), Error> {
    let http = http_client();
    let mut voter = Voter::new(http.clone());
    let (mut direct, mut arena) = (Vec::new(), Vec::new());
    for i in 0..args.samples + 10 {
        let d = direct_ttft(&http, &args.worker).await?;
        let started = Instant::now();
        let battle = voter
            .create_battle(&args.arena, "Tell me about foxes.")
            .await?;
        let streamed = voter.stream(&args.arena, &battle).await?;
        let first = streamed.first_delta.ok_or("the arena streamed no text")?;
        if i >= 10 {
            // The first ten warm the connections and caches.
            direct.push(d);
            arena.push(first.duration_since(started).as_secs_f64() * 1e3);
        }
    }
    direct.sort_by(f64::total_cmp);
    arena.sort_by(f64::total_cmp);
    println!(
        "\n### Time to first token ({} samples each, ms)\n",
        args.samples
    );
    println!("| path | p50 | p99 |");
    println!("|---|---:|---:|");
    for (name, v) in [
        ("straight to the worker", &direct),
        ("through the arena", &arena),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} |",
            percentile(v, 50.0),
            percentile(v, 99.0)
        );
    }
    println!(
        "| **added by the arena** | **{:.2}** | **{:.2}** |",
        percentile(&arena, 50.0) - percentile(&direct, 50.0),
        percentile(&arena, 99.0) - percentile(&direct, 99.0)
    );
    Ok(())
}

async fn direct_ttft(http: &reqwest::Client, worker: &str) -> Result<f64, Error> {
    let started = Instant::now();
    let response = http
        .post(format!("{worker}/v1/chat/completions"))
        .json(
            &serde_json::json!({"model": "scripted", "stream": true, "max_tokens": 64,
            "messages": [{"role": "user", "content": "Tell me about foxes."}]}),
        )
        .send()
        .await?;
    let mut body = response.bytes_stream();
    let mut seen = Vec::new();
    while let Some(piece) = body.next().await {
        seen.extend_from_slice(&piece?);
        if String::from_utf8_lossy(&seen).contains("\"content\"") {
            let ms = started.elapsed().as_secs_f64() * 1e3;
            while body.next().await.is_some() {}
            return Ok(ms);
        }
    }
    Err("the worker sent no content".into())
}

#[derive(Debug, Clone, Args)]
pub struct StreamsArgs {
    #[arg(long)]
    pub url: String,
    /// Battles in all.
    #[arg(long, default_value_t = 1000)]
    pub battles: usize,
    /// Battles streaming at once.
    #[arg(long, default_value_t = 1000)]
    pub concurrency: usize,
    /// The server's process id, to sample its memory.
    #[arg(long)]
    pub pid: u32,
    /// Seconds to wait after the load before the last memory sample.
    #[arg(long, default_value_t = 10)]
    pub settle_secs: u64,
}

/// Many battles streaming at once, each from its own voter; the server's RSS before, at its
/// peak, and after the load.
pub async fn streams(args: StreamsArgs) -> Result<(), Error> {
    let idle = rss_mib(args.pid).ok_or("no such server process")?;
    let http = http_client();
    let next = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let most_open = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let sampling = Arc::new(AtomicUsize::new(1));
    let sampler = {
        let (sampling, pid) = (Arc::clone(&sampling), args.pid);
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while sampling.load(Ordering::Relaxed) == 1 {
                peak = peak.max(rss_mib(pid).unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    };
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (http, url, total) = (http.clone(), args.url.clone(), args.battles);
            let (next, open, most_open, errors, first_error) = (
                Arc::clone(&next),
                Arc::clone(&open),
                Arc::clone(&most_open),
                Arc::clone(&errors),
                Arc::clone(&first_error),
            );
            tokio::spawn(async move {
                let mut voter = Voter::new(http);
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let outcome = async {
                        let battle = voter.create_battle(&url, "Tell me about foxes.").await?;
                        let now = open.fetch_add(1, Ordering::Relaxed) + 1;
                        most_open.fetch_max(now, Ordering::Relaxed);
                        let streamed = voter.stream(&url, &battle).await;
                        open.fetch_sub(1, Ordering::Relaxed);
                        match streamed? {
                            s if s.ok => Ok(()),
                            _ => Err::<(), Error>("an answer failed".into()),
                        }
                    }
                    .await;
                    if let Err(e) = outcome {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().unwrap().get_or_insert(e.to_string());
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    let at_end = rss_mib(args.pid).unwrap_or(f64::NAN);
    sampling.store(0, Ordering::Relaxed);
    let peak = sampler.await?;
    // The load is over: its connections close, as browsers' would.
    drop(http);
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let settled = rss_mib(args.pid).unwrap_or(f64::NAN);
    println!(
        "\n### {} battles, {} streaming at once at most ({} wanted)\n",
        args.battles,
        most_open.load(Ordering::Relaxed),
        args.concurrency
    );
    println!(
        "| battles/s | errors | RSS idle | RSS peak | RSS at end | RSS {} s later |",
        args.settle_secs
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {:.0} | {} | {idle:.0} MiB | {peak:.0} MiB | {at_end:.0} MiB | {settled:.0} MiB |",
        args.battles as f64 / secs,
        errors.load(Ordering::Relaxed)
    );
    if let Some(e) = first_error.lock().unwrap().as_ref() {
        println!("\nfirst error: {e}");
    }
    Ok(())
}
