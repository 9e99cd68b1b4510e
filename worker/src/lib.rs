//! The built-in CPU inference worker: SmolLM2-135M-Instruct (or any llama-architecture GGUF)
//! with candle, behind the OpenAI-compatible API that vLLM, TGI and llama.cpp serve, so the
//! arena talks to it exactly as to a GPU worker.
//!
//! `POST /v1/chat/completions` (streaming and not), `GET /v1/models`, `GET /health` (503 while
//! loading), `GET /metrics` (Prometheus text).

mod api;
pub mod detok;
pub mod engine;
pub mod metrics;
pub mod model;

use metrics::Metrics;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "arena-worker",
    about = "The arena's built-in CPU inference worker"
)]
pub struct WorkerConfig {
    /// The GGUF model file.
    #[arg(
        long,
        env = "ARENA_WORKER_MODEL_PATH",
        default_value = ".local/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    )]
    pub model_path: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "ARENA_WORKER_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// The model name served in `/v1/models` and accepted in requests.
    #[arg(
        long,
        env = "ARENA_WORKER_MODEL_NAME",
        default_value = "smollm2-135m-instruct"
    )]
    pub model_name: String,
    /// Sequences generated at once, interleaved token by token.
    #[arg(long, env = "ARENA_WORKER_MAX_RUNNING", default_value_t = 4)]
    pub max_running: usize,
    /// Requests that may wait for a slot; beyond, 503.
    #[arg(long, env = "ARENA_WORKER_MAX_WAITING", default_value_t = 64)]
    pub max_waiting: usize,
    /// Compute threads (one is fastest on a busy 2-core machine).
    #[arg(long, env = "ARENA_WORKER_THREADS", default_value_t = 1)]
    pub threads: usize,
    /// Keep the GGUF's own quantization instead of requantizing to Q8_0.
    #[arg(long, default_value_t = false)]
    pub no_requantize: bool,
}

impl WorkerConfig {
    /// Defaults for a worker on `listen` serving the model at `model_path`.
    pub fn new(model_path: PathBuf, listen: SocketAddr) -> Self {
        Self {
            model_path,
            listen,
            model_name: "smollm2-135m-instruct".into(),
            max_running: 4,
            max_waiting: 64,
            threads: 1,
            no_requantize: false,
        }
    }
}

/// Shared by the HTTP handlers.
pub(crate) struct Shared {
    pub config: WorkerConfig,
    pub metrics: Arc<Metrics>,
    /// Set once the model is loaded.
    pub ready: OnceLock<Ready>,
    pub load_error: OnceLock<String>,
}

pub(crate) struct Ready {
    pub jobs: std::sync::mpsc::SyncSender<engine::Job>,
    pub template: model::ChatTemplate,
    pub context_length: usize,
}

pub struct Worker {
    listener: TcpListener,
    shared: Arc<Shared>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Binds the port at once and loads the model in the background (`/health` is 503 until then).
pub async fn build(config: WorkerConfig) -> Result<Worker, WorkerError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| WorkerError::Bind(config.listen, e))?;
    let shared = Arc::new(Shared {
        config,
        metrics: Arc::new(Metrics::default()),
        ready: OnceLock::new(),
        load_error: OnceLock::new(),
    });
    let loader = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("arena-engine".into())
        .spawn(move || load_and_run(loader))?;
    Ok(Worker { listener, shared })
}

fn load_and_run(shared: Arc<Shared>) {
    // candle's CPU kernels run on rayon: give them a pool of their own, sized by `--threads`
    // (one is fastest on a busy 2-core machine), without touching the process's global pool.
    match rayon::ThreadPoolBuilder::new()
        .num_threads(shared.config.threads.max(1))
        .thread_name(|i| format!("arena-compute-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| load_and_serve(&shared)),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the compute threads");
            let _ = shared.load_error.set(e.to_string());
        }
    }
}

fn load_and_serve(shared: &Arc<Shared>) {
    let config = &shared.config;
    if candle_threads() != config.threads.max(1) {
        tracing::warn!(
            candle = candle_threads(),
            wanted = config.threads,
            "candle's kernels will not use --threads: set CANDLE_NUM_THREADS and RAYON_NUM_THREADS"
        );
    }
    let started = std::time::Instant::now();
    let loaded = match model::load(&config.model_path, !config.no_requantize) {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!(error = %e, "cannot load the model");
            let _ = shared.load_error.set(e.to_string());
            return;
        }
    };
    tracing::info!(seconds = started.elapsed().as_secs_f64(), model = %config.model_name, "model loaded");
    // The channel is the queue; its bound is enforced by the `waiting` counter at admission.
    let (tx, rx) = std::sync::mpsc::sync_channel(config.max_waiting.max(1));
    let _ = shared.ready.set(Ready {
        jobs: tx,
        template: loaded.template.clone(),
        context_length: loaded.context_length,
    });
    engine::Engine::new(loaded, config.max_running, Arc::clone(&shared.metrics)).run(rx);
}

impl Worker {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// True once the model is loaded.
    pub fn is_ready(&self) -> bool {
        self.shared.ready.get().is_some()
    }

    pub async fn run(self) -> std::io::Result<()> {
        axum::serve(no_delay(self.listener), api::router(self.shared)).await
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(no_delay(self.listener), api::router(self.shared))
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Tokens are small writes: without TCP_NODELAY, Nagle's algorithm holds one back until the
/// previous is acknowledged, and a delayed ACK makes that up to 40 ms.
fn no_delay(listener: TcpListener) -> impl axum::serve::Listener<Addr = SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

/// candle sizes its CPU thread pools from `CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS` (read once,
/// at the first operation), not from any pool the caller installs; with more threads than free
/// cores its spinning barrier is several times slower on a busy machine. Setting the variables
/// in-process needs `unsafe`, so a binary calls this first: unless one of them is set already,
/// the process re-executes itself with both set to `threads`. Returns only if nothing was done
/// (`None`) or the exec failed.
#[cfg(unix)]
pub fn reexec_with_compute_threads(threads: usize) -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("CANDLE_NUM_THREADS").is_some()
        || std::env::var_os("RAYON_NUM_THREADS").is_some()
    {
        return None;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Some(e),
    };
    let threads = threads.max(1).to_string();
    Some(
        std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("CANDLE_NUM_THREADS", &threads)
            .env("RAYON_NUM_THREADS", &threads)
            .exec(),
    )
}

/// The number of threads candle's CPU kernels will use (see [`reexec_with_compute_threads`]).
pub fn candle_threads() -> usize {
    candle_core::utils::get_num_threads()
}
