//! Prometheus text metrics: requests running and waiting, tokens generated, time to first token.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const TTFT_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
pub struct Metrics {
    pub running: AtomicUsize,
    pub waiting: AtomicUsize,
    pub tokens: AtomicU64,
    pub requests: AtomicU64,
    pub requests_finished: AtomicU64,
    ttft: Mutex<Histogram>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; TTFT_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn observe_ttft(&self, seconds: f64) {
        let mut h = self.ttft.lock().expect("metrics lock");
        for (i, bound) in TTFT_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn render(&self, model: &str) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{model=\"{model}\"}} {value}\n"
            ));
        };
        gauge(
            "arena_worker_requests_running",
            "Sequences being generated.",
            "gauge",
            self.running.load(Ordering::SeqCst).to_string(),
        );
        gauge(
            "arena_worker_requests_waiting",
            "Requests queued for a generation slot.",
            "gauge",
            self.waiting.load(Ordering::SeqCst).to_string(),
        );
        gauge(
            "arena_worker_generated_tokens_total",
            "Tokens generated.",
            "counter",
            self.tokens.load(Ordering::SeqCst).to_string(),
        );
        gauge(
            "arena_worker_requests_total",
            "Chat completion requests accepted.",
            "counter",
            self.requests.load(Ordering::SeqCst).to_string(),
        );
        gauge(
            "arena_worker_requests_finished_total",
            "Requests that finished (stop or length).",
            "counter",
            self.requests_finished.load(Ordering::SeqCst).to_string(),
        );
        let h = self.ttft.lock().expect("metrics lock");
        let name = "arena_worker_time_to_first_token_seconds";
        out.push_str(&format!(
            "# HELP {name} Time from request to first generated token.\n# TYPE {name} histogram\n"
        ));
        for (i, bound) in TTFT_BUCKETS.iter().enumerate() {
            out.push_str(&format!(
                "{name}_bucket{{model=\"{model}\",le=\"{bound}\"}} {}\n",
                h.counts[i]
            ));
        }
        out.push_str(&format!(
            "{name}_bucket{{model=\"{model}\",le=\"+Inf\"}} {}\n",
            h.count
        ));
        out.push_str(&format!("{name}_sum{{model=\"{model}\"}} {}\n", h.sum));
        out.push_str(&format!("{name}_count{{model=\"{model}\"}} {}\n", h.count));
        out
    }
}
