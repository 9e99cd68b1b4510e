//! Structured logs with tracing: human-readable by default, JSON with `ARENA_LOG_FORMAT=json`;
//! filter with `RUST_LOG`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_to(false)
}

/// The same, on standard error: for the commands (`server export`, `server import`), whose
/// standard output is their result.
pub fn init_stderr() {
    init_to(true)
}

fn init_to(stderr: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("ARENA_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match (json, stderr) {
        (true, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (true, false) => builder.json().try_init(),
        (false, true) => builder.with_writer(std::io::stderr).try_init(),
        (false, false) => builder.try_init(),
    };
}
