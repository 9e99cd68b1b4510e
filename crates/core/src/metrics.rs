//! The arena's Prometheus series: their names, labels and help, and the events that move them,
//! recorded through the `metrics` facade. Nothing is recorded until the server installs a
//! recorder (`server.metrics_listen`); then each call is a hash lookup and an atomic add.
//!
//! Counters are recorded where the event is final (after its transaction commits); the gauges
//! that describe a state (pools, queues, endpoint health, the leaderboard's age) are set when
//! the server is scraped. `deploy/prometheus/alerts.yml` and `deploy/grafana/arena.json` name
//! these series; a test checks that every name they use is in a scrape.

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, histogram};
use std::time::Duration;

pub const HTTP_REQUESTS: &str = "arena_http_requests_total";
pub const HTTP_DURATION: &str = "arena_http_request_duration_seconds";
pub const BATTLES_CREATED: &str = "arena_battles_created_total";
pub const TURNS_FINISHED: &str = "arena_turns_finished_total";
pub const ANSWERS: &str = "arena_answers_total";
pub const TTFT: &str = "arena_time_to_first_token_seconds";
pub const TOKENS_PER_SECOND: &str = "arena_tokens_per_second";
pub const VOTES: &str = "arena_votes_total";
pub const VOTES_CAPPED: &str = "arena_votes_capped_total";
pub const VOTES_VOIDED: &str = "arena_votes_voided_total";
pub const VOTES_RESTORED: &str = "arena_votes_restored_total";
pub const VOTERS_QUARANTINED: &str = "arena_voters_quarantined_total";
pub const REFUSALS: &str = "arena_refusals_total";
pub const SSE_STREAMS_OPEN: &str = "arena_sse_streams_open";
pub const EXPORTS_RUNNING: &str = "arena_exports_running";
pub const EXPORT_BYTES: &str = "arena_export_bytes_total";
pub const GATEWAY_QUEUE_DEPTH: &str = "arena_gateway_queue_depth";
pub const ENDPOINT_HEALTHY: &str = "arena_endpoint_healthy";
pub const ENDPOINT_IN_FLIGHT: &str = "arena_endpoint_in_flight";
pub const DB_POOL_CONNECTIONS: &str = "arena_db_pool_connections";
pub const DB_POOL_MAX: &str = "arena_db_pool_max_connections";
pub const DB_POOL_ACQUIRE: &str = "arena_db_pool_acquire_seconds";
pub const LEADERBOARD_AGE: &str = "arena_leaderboard_run_age_seconds";
pub const HEARTBEAT: &str = "arena_instance_heartbeat_timestamp_seconds";
pub const BUILD_INFO: &str = "arena_build_info";
pub const START_TIME: &str = "process_start_time_seconds";

/// Every series with its help (the exporter writes `# HELP` and `# TYPE` from these).
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to the response's head, by route and method (a stream's body is not included)."
    );
    describe_counter!(BATTLES_CREATED, "Battles started.");
    describe_counter!(
        TURNS_FINISHED,
        "Battle turns whose two answers ended, by status (done, failed)."
    );
    describe_counter!(
        ANSWERS,
        "Answers ended, by model, endpoint and status (done, error)."
    );
    describe_histogram!(
        TTFT,
        Unit::Seconds,
        "Time from the request to the first token, by model and endpoint."
    );
    describe_histogram!(
        TOKENS_PER_SECOND,
        "Tokens per second of a finished answer after its first token, by model and endpoint."
    );
    describe_counter!(
        VOTES,
        "Votes stored, by outcome and whether they count (capped, quarantined and later-turn votes do not)."
    );
    describe_counter!(
        VOTES_CAPPED,
        "Votes past the influence cap (stored, not counted)."
    );
    describe_counter!(
        VOTES_VOIDED,
        "Votes voided, by kind (quarantine: the rigging defences; moderation: an admin)."
    );
    describe_counter!(VOTES_RESTORED, "Voided votes restored, by kind.");
    describe_counter!(VOTERS_QUARANTINED, "Voters quarantined, by signal.");
    describe_counter!(
        REFUSALS,
        "Requests refused by a limit (429 or busy 503), by code."
    );
    describe_gauge!(SSE_STREAMS_OPEN, "Battle streams open on this process.");
    describe_gauge!(
        EXPORTS_RUNNING,
        "Research downloads being sent by this process."
    );
    describe_counter!(
        EXPORT_BYTES,
        Unit::Bytes,
        "Bytes of research downloads sent."
    );
    describe_gauge!(
        GATEWAY_QUEUE_DEPTH,
        "Requests waiting for a slot on any endpoint of the model."
    );
    describe_gauge!(
        ENDPOINT_HEALTHY,
        "1 if the endpoint passed its last health check, else 0."
    );
    describe_gauge!(ENDPOINT_IN_FLIGHT, "Requests the endpoint is serving.");
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database connections of a work class's pool, by state (idle, in_use)."
    );
    describe_gauge!(DB_POOL_MAX, "The largest size of a work class's pool.");
    describe_gauge!(
        DB_POOL_ACQUIRE,
        Unit::Seconds,
        "How long the scrape waited for a connection of the class (a saturated pool waits)."
    );
    describe_gauge!(
        LEADERBOARD_AGE,
        Unit::Seconds,
        "Age of the latest stored default leaderboard run."
    );
    describe_gauge!(
        HEARTBEAT,
        Unit::Seconds,
        "When this process last renewed its lease in the database (Unix time)."
    );
    describe_gauge!(
        BUILD_INFO,
        "1, labelled with the arena's version and build profile."
    );
    describe_gauge!(
        START_TIME,
        Unit::Seconds,
        "When the process started (Unix time)."
    );
    // The series whose labels are known from the start exist from the first scrape, at 0, so
    // that rates and alerts see them before the first event.
    counter!(BATTLES_CREATED).absolute(0);
    counter!(VOTES_CAPPED).absolute(0);
    counter!(EXPORT_BYTES).absolute(0);
    for kind in [VOID_QUARANTINE, VOID_MODERATION, VOID_ERASURE] {
        counter!(VOTES_VOIDED, "kind" => kind).absolute(0);
        counter!(VOTES_RESTORED, "kind" => kind).absolute(0);
    }
    for signal in crate::rigging::SIGNALS {
        counter!(VOTERS_QUARANTINED, "signal" => *signal).absolute(0);
    }
    metrics::gauge!(SSE_STREAMS_OPEN).set(0.0);
    metrics::gauge!(EXPORTS_RUNNING).set(0.0);
}

/// The kinds of voids the metrics tell apart (never an admin's free-text reason: a label
/// value per reason would make a series per sentence).
pub const VOID_QUARANTINE: &str = "quarantine";
pub const VOID_MODERATION: &str = "moderation";
pub const VOID_ERASURE: &str = "erasure";

pub(crate) fn battle_created() {
    counter!(BATTLES_CREATED).increment(1);
}

pub(crate) fn turn_finished(status: &str) {
    counter!(TURNS_FINISHED, "status" => status.to_owned()).increment(1);
}

/// One answer ended: its status, and for a finished one its first-token time and speed.
pub(crate) fn answer(
    model: &str,
    endpoint: Option<&str>,
    ok: bool,
    ttft: Option<Duration>,
    tokens: Option<u32>,
    total: Duration,
) {
    let endpoint = endpoint.unwrap_or("none").to_owned();
    let status = if ok { "done" } else { "error" };
    counter!(ANSWERS, "model" => model.to_owned(), "endpoint" => endpoint.clone(),
             "status" => status)
    .increment(1);
    if let Some(ttft) = ttft {
        histogram!(TTFT, "model" => model.to_owned(), "endpoint" => endpoint.clone())
            .record(ttft.as_secs_f64());
        let generating = total.saturating_sub(ttft).as_secs_f64();
        if let (true, Some(tokens)) = (ok, tokens)
            && generating > 0.0
            && tokens > 1
        {
            histogram!(TOKENS_PER_SECOND, "model" => model.to_owned(), "endpoint" => endpoint)
                .record(f64::from(tokens - 1) / generating);
        }
    }
}

pub(crate) fn vote(outcome: &str, counted: bool, capped: bool) {
    counter!(VOTES, "outcome" => outcome.to_owned(), "counted" => counted.to_string()).increment(1);
    if capped {
        counter!(VOTES_CAPPED).increment(1);
    }
}

/// `changed` votes voided (or restored, `voided = false`), of `kind` ([`VOID_QUARANTINE`],
/// [`VOID_MODERATION`]).
pub(crate) fn voided(kind: &'static str, voided: bool, changed: i64) {
    let name = if voided { VOTES_VOIDED } else { VOTES_RESTORED };
    counter!(name, "kind" => kind).increment(changed.max(0) as u64);
}

pub(crate) fn quarantined(signal: &'static str) {
    counter!(VOTERS_QUARANTINED, "signal" => signal).increment(1);
}

impl crate::Arena {
    /// Sets the gauges that describe the process's state, for a scrape: each work class's
    /// pool (and how long a connection of it takes to get), each model's queue and endpoint,
    /// the default leaderboard's age and this process's heartbeat. A database that does not
    /// answer leaves the database gauges as they were.
    pub async fn record_state(&self) {
        use metrics::gauge;
        let pools = [
            ("public", &self.pool),
            ("research", &self.research_pool),
            ("admin", &self.admin_pool),
            ("rating", &self.rating_pool),
        ];
        for (class, pool) in pools {
            let idle = pool.num_idle() as f64;
            let size = f64::from(pool.size());
            gauge!(DB_POOL_CONNECTIONS, "class" => class, "state" => "idle").set(idle);
            gauge!(DB_POOL_CONNECTIONS, "class" => class, "state" => "in_use")
                .set((size - idle).max(0.0));
            gauge!(DB_POOL_MAX, "class" => class)
                .set(f64::from(pool.options().get_max_connections()));
            let started = std::time::Instant::now();
            let waited = tokio::time::timeout(Duration::from_secs(2), pool.acquire()).await;
            let seconds = started.elapsed().as_secs_f64();
            drop(waited);
            gauge!(DB_POOL_ACQUIRE, "class" => class).set(seconds);
        }
        for (model, depth) in self.gateway.queue_depths() {
            gauge!(GATEWAY_QUEUE_DEPTH, "model" => model.to_string()).set(depth as f64);
        }
        for status in self.gateway.status() {
            let labels = [
                ("model", status.model.to_string()),
                ("endpoint", status.base_url.clone()),
            ];
            gauge!(ENDPOINT_HEALTHY, &labels).set(if status.healthy { 1.0 } else { 0.0 });
            gauge!(ENDPOINT_IN_FLIGHT, &labels).set(status.in_flight as f64);
        }
        let age: Result<Option<f64>, _> = sqlx::query_scalar(
            "select extract(epoch from now() - created_at)::float8 from rating_run
             where refresh and source_id is null order by id desc limit 1",
        )
        .fetch_optional(&self.pool)
        .await;
        if let Ok(Some(age)) = age {
            gauge!(LEADERBOARD_AGE).set(age);
        }
        let beat: Result<Option<f64>, _> = sqlx::query_scalar(
            "select extract(epoch from heartbeat_at)::float8 from server_instance where id = $1",
        )
        .bind(self.instance)
        .fetch_optional(&self.pool)
        .await;
        if let Ok(Some(beat)) = beat {
            gauge!(HEARTBEAT).set(beat);
        }
    }
}
