//! Prometheus metrics on a listener of their own (`server.metrics_listen`, off by default): the
//! arena's series (`arena_core::metrics`), HTTP requests by route, and the state gauges set at
//! each scrape. The scrape is not on the public listener: operators reach it on a private
//! address, volunteers never see it.

use arena_core::Arena;
use arena_core::metrics as m;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Latency buckets (seconds): a first token in tens of milliseconds to a slow page in seconds.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Tokens per second: a CPU model's few to a GPU server's hundreds.
const TOKENS_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];

static HANDLE: OnceLock<(PrometheusHandle, f64)> = OnceLock::new();

/// The process's recorder, installed on first use (one per process, however many arenas the
/// process runs, as the integration tests do), and the process's start time.
fn handle() -> &'static (PrometheusHandle, f64) {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(m::TOKENS_PER_SECOND.into()), TOKENS_BUCKETS)
            })
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed (a test harness): scrapes then show only the
        // state gauges this handle renders.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        m::describe();
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        (handle, started)
    })
}

/// Installs the recorder (before the first request, so no event is missed).
pub fn install() {
    handle();
}

/// Counts and times every request by its route (the pattern, never the path: ids would make a
/// series per battle).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!(m::HTTP_REQUESTS, "route" => route.clone(), "method" => method.clone(),
             "status" => status)
    .increment(1);
    histogram!(m::HTTP_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A refusal by a limit (429, or 503 busy), by its error code.
pub fn refused(code: &str) {
    counter!(m::REFUSALS, "code" => code.to_owned()).increment(1);
}

/// Open for as long as a battle stream is (the gauge goes down when the stream is dropped).
pub struct OpenStream(());

impl OpenStream {
    pub fn open() -> Self {
        gauge!(m::SSE_STREAMS_OPEN).increment(1.0);
        Self(())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        gauge!(m::SSE_STREAMS_OPEN).decrement(1.0);
    }
}

/// Open for as long as a research download is being sent.
pub struct RunningExport(());

impl RunningExport {
    pub fn start() -> Self {
        gauge!(m::EXPORTS_RUNNING).increment(1.0);
        Self(())
    }

    pub fn sent(&self, bytes: usize) {
        counter!(m::EXPORT_BYTES).increment(bytes as u64);
    }
}

impl Drop for RunningExport {
    fn drop(&mut self) {
        gauge!(m::EXPORTS_RUNNING).decrement(1.0);
    }
}

/// `GET /metrics` on the metrics listener: the state gauges, then the text format.
async fn scrape(State(arena): State<Arena>) -> Response {
    let (handle, started) = handle();
    arena.record_state().await;
    gauge!(m::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"),
           "profile" => if cfg!(debug_assertions) { "debug" } else { "release" })
    .set(1.0);
    gauge!(m::START_TIME).set(*started);
    handle.run_upkeep();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// The metrics listener's router.
pub fn router(arena: Arena) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(arena)
}
