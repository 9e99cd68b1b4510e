//! `arena-worker`: the built-in CPU inference worker (see the library docs).

use clap::Parser;

fn main() {
    let config = arena_worker::WorkerConfig::parse();
    if let Some(e) = arena_worker::reexec_with_compute_threads(config.threads) {
        eprintln!("cannot re-execute with CANDLE_NUM_THREADS set: {e}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let worker = match arena_worker::build(config).await {
            Ok(worker) => worker,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                std::process::exit(1);
            }
        };
        tracing::info!(addr = %worker.local_addr(), "worker listening");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        if let Err(e) = worker.run_until(shutdown).await {
            tracing::error!(error = %e, "worker stopped");
            std::process::exit(1);
        }
    });
}
