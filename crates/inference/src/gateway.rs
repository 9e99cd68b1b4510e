//! Endpoints, their health, and dispatch to the least-loaded healthy replica.

use crate::stream::{ChatStream, open_stream};
use crate::types::{ChatRequest, EndpointConfig, GatewayConfig, GatewayError};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub(crate) struct Endpoint {
    pub(crate) config: EndpointConfig,
    in_flight: AtomicUsize,
    healthy: AtomicBool,
    consecutive_failures: AtomicU32,
    last_error: Mutex<Option<String>>,
}

impl Endpoint {
    fn new(config: EndpointConfig) -> Self {
        Self {
            config,
            in_flight: AtomicUsize::new(0),
            // Unknown until the first health check (or a successful request).
            healthy: AtomicBool::new(false),
            consecutive_failures: AtomicU32::new(0),
            last_error: Mutex::new(None),
        }
    }

    fn load(&self) -> f64 {
        self.in_flight.load(Ordering::SeqCst) as f64 / self.config.max_concurrency.max(1) as f64
    }
}

/// A snapshot of one endpoint, for readiness and admin pages.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    pub model: String,
    pub endpoint_id: String,
    pub base_url: String,
    pub healthy: bool,
    pub in_flight: usize,
    pub max_concurrency: usize,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

struct ModelEntry {
    endpoints: Vec<Arc<Endpoint>>,
    waiting: Arc<AtomicUsize>,
}

pub(crate) struct Inner {
    pub(crate) config: GatewayConfig,
    pub(crate) client: reqwest::Client,
    models: RwLock<HashMap<String, ModelEntry>>,
    slot_freed: Notify,
    shutdown: CancellationToken,
}

/// Cheap to clone; all clones share the same endpoints.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

/// A request's hold on one endpoint: freed on drop.
pub(crate) struct Slot {
    pub(crate) endpoint: Arc<Endpoint>,
    gateway: Arc<Inner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.gateway.slot_freed.notify_waiters();
    }
}

impl Slot {
    pub(crate) fn succeeded(&self) {
        self.endpoint
            .consecutive_failures
            .store(0, Ordering::SeqCst);
        self.endpoint.healthy.store(true, Ordering::SeqCst);
    }

    pub(crate) fn failed(&self, error: &GatewayError) {
        if error.is_endpoint_failure() {
            record_failure(&self.endpoint, &self.gateway.config, error.to_string());
        }
    }
}

fn record_failure(endpoint: &Endpoint, config: &GatewayConfig, message: String) {
    let failures = endpoint.consecutive_failures.fetch_add(1, Ordering::SeqCst) + 1;
    if failures >= config.failure_threshold && endpoint.healthy.swap(false, Ordering::SeqCst) {
        tracing::warn!(endpoint = %endpoint.config.base_url, failures, error = %message,
            "endpoint left the pool");
    }
    *endpoint.last_error.lock().expect("endpoint lock") = Some(message);
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .build()
            .expect("a TLS backend is compiled in");
        Self {
            inner: Arc::new(Inner {
                config,
                client,
                models: RwLock::new(HashMap::new()),
                slot_freed: Notify::new(),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Replaces a model's endpoints; endpoints with an unchanged id keep their health and load.
    pub fn set_model_endpoints(&self, model: &str, endpoints: Vec<EndpointConfig>) {
        let mut models = self.inner.models.write().expect("gateway lock");
        let old = models.remove(model);
        let waiting = old
            .as_ref()
            .map(|e| Arc::clone(&e.waiting))
            .unwrap_or_default();
        let kept: Vec<Arc<Endpoint>> = endpoints
            .into_iter()
            .map(|config| {
                old.as_ref()
                    .and_then(|e| {
                        e.endpoints.iter().find(|x| {
                            x.config.id == config.id
                                && x.config.base_url == config.base_url
                                && x.config.upstream_model == config.upstream_model
                                && x.config.max_concurrency == config.max_concurrency
                                && x.config.api_key == config.api_key
                        })
                    })
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Endpoint::new(config)))
            })
            .collect();
        models.insert(
            model.to_owned(),
            ModelEntry {
                endpoints: kept,
                waiting,
            },
        );
    }

    pub fn remove_model(&self, model: &str) {
        self.inner
            .models
            .write()
            .expect("gateway lock")
            .remove(model);
    }

    /// True if at least one of the model's endpoints is healthy.
    pub fn is_model_available(&self, model: &str) -> bool {
        self.inner
            .models
            .read()
            .expect("gateway lock")
            .get(model)
            .is_some_and(|m| m.endpoints.iter().any(|e| e.healthy.load(Ordering::SeqCst)))
    }

    pub fn available_models(&self) -> Vec<String> {
        let models = self.inner.models.read().expect("gateway lock");
        let mut out: Vec<String> = models
            .iter()
            .filter(|(_, m)| m.endpoints.iter().any(|e| e.healthy.load(Ordering::SeqCst)))
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    pub fn any_healthy(&self) -> bool {
        !self.available_models().is_empty()
    }

    /// Requests waiting for a slot, per model.
    pub fn queue_depth(&self, model: &str) -> usize {
        self.inner
            .models
            .read()
            .expect("gateway lock")
            .get(model)
            .map_or(0, |m| m.waiting.load(Ordering::SeqCst))
    }

    pub fn status(&self) -> Vec<EndpointStatus> {
        let models = self.inner.models.read().expect("gateway lock");
        let mut out = Vec::new();
        for (model, entry) in models.iter() {
            for e in &entry.endpoints {
                out.push(EndpointStatus {
                    model: model.clone(),
                    endpoint_id: e.config.id.clone(),
                    base_url: e.config.base_url.clone(),
                    healthy: e.healthy.load(Ordering::SeqCst),
                    in_flight: e.in_flight.load(Ordering::SeqCst),
                    max_concurrency: e.config.max_concurrency,
                    consecutive_failures: e.consecutive_failures.load(Ordering::SeqCst),
                    last_error: e.last_error.lock().expect("endpoint lock").clone(),
                });
            }
        }
        out.sort_by(|a, b| (&a.model, &a.endpoint_id).cmp(&(&b.model, &b.endpoint_id)));
        out
    }

    /// Polls every endpoint once (distinct URLs once each).
    pub async fn check_now(&self) {
        let endpoints: Vec<Arc<Endpoint>> = {
            let models = self.inner.models.read().expect("gateway lock");
            models
                .values()
                .flat_map(|m| m.endpoints.iter().cloned())
                .collect()
        };
        let mut results: HashMap<String, Result<(), String>> = HashMap::new();
        for e in &endpoints {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                results.entry(e.config.base_url.clone())
            {
                let api_key = e.config.api_key.as_ref().map(|k| k.expose());
                slot.insert(self.probe(&e.config.base_url, api_key).await);
            }
        }
        for e in endpoints {
            match &results[&e.config.base_url] {
                Ok(()) => {
                    e.consecutive_failures.store(0, Ordering::SeqCst);
                    if !e.healthy.swap(true, Ordering::SeqCst) {
                        tracing::info!(endpoint = %e.config.base_url, "endpoint healthy");
                    }
                }
                Err(message) => record_failure(&e, &self.inner.config, message.clone()),
            }
        }
    }

    /// `GET /health` (200 ready, 503 loading); where there is none (404), `GET /v1/models`.
    async fn probe(&self, base_url: &str, api_key: Option<&str>) -> Result<(), String> {
        let get = |path: &str| {
            let mut request = self
                .inner
                .client
                .get(format!("{base_url}{path}"))
                .timeout(self.inner.config.health_timeout);
            if let Some(key) = api_key {
                request = request.bearer_auth(key);
            }
            request.send()
        };
        let response = get("/health").await.map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            let models = get("/v1/models").await.map_err(|e| e.to_string())?;
            if models.status().is_success() {
                return Ok(());
            }
            return Err(format!("/v1/models answered {}", models.status()));
        }
        Err(format!("/health answered {status}"))
    }

    /// Polls all endpoints every `interval` until [`Gateway::shutdown`].
    pub fn spawn_health_checks(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let gateway = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = gateway.inner.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(interval) => gateway.check_now().await,
                }
            }
        })
    }

    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Takes a slot on the least-loaded healthy endpoint not in `exclude`, waiting (up to the
    /// queue timeout) while all are busy.
    async fn acquire(&self, model: &str, exclude: &[String]) -> Result<Slot, GatewayError> {
        let deadline = tokio::time::Instant::now() + self.inner.config.queue_timeout;
        let mut waiting_counter: Option<Arc<AtomicUsize>> = None;
        let result = loop {
            let freed = self.inner.slot_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let (candidates, waiting) = {
                let models = self.inner.models.read().expect("gateway lock");
                let entry = models
                    .get(model)
                    .ok_or_else(|| GatewayError::UnknownModel(model.to_owned()))?;
                let candidates: Vec<Arc<Endpoint>> = entry
                    .endpoints
                    .iter()
                    .filter(|e| e.healthy.load(Ordering::SeqCst) && !exclude.contains(&e.config.id))
                    .cloned()
                    .collect();
                (candidates, Arc::clone(&entry.waiting))
            };
            if candidates.is_empty() {
                break Err(GatewayError::NoHealthyEndpoint(model.to_owned()));
            }
            if let Some(slot) = self.try_take(candidates) {
                break Ok(slot);
            }
            if waiting_counter.is_none() {
                waiting.fetch_add(1, Ordering::SeqCst);
                waiting_counter = Some(waiting);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                break Err(GatewayError::QueueTimeout(model.to_owned()));
            }
        };
        if let Some(w) = waiting_counter {
            w.fetch_sub(1, Ordering::SeqCst);
        }
        result
    }

    fn try_take(&self, mut candidates: Vec<Arc<Endpoint>>) -> Option<Slot> {
        use rand::seq::SliceRandom;
        // Random order first, so equal loads are spread evenly; then the least loaded.
        candidates.shuffle(&mut rand::rng());
        candidates.sort_by(|a, b| a.load().total_cmp(&b.load()));
        for endpoint in candidates {
            let limit = endpoint.config.max_concurrency.max(1);
            let taken = endpoint
                .in_flight
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < limit).then_some(n + 1)
                })
                .is_ok();
            if taken {
                return Some(Slot {
                    endpoint,
                    gateway: Arc::clone(&self.inner),
                });
            }
        }
        None
    }

    /// Streams a chat completion from the model's least-loaded healthy endpoint. Before the
    /// first token, retryable failures move on to another replica.
    pub async fn stream_chat(
        &self,
        model: &str,
        request: ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let mut tried: Vec<String> = Vec::new();
        let mut last_error = None;
        loop {
            let slot = match self.acquire(model, &tried).await {
                Ok(slot) => slot,
                Err(GatewayError::NoHealthyEndpoint(_)) if last_error.is_some() => {
                    return Err(last_error.expect("checked"));
                }
                Err(e) => return Err(e),
            };
            tried.push(slot.endpoint.config.id.clone());
            match open_stream(&self.inner, slot, &request).await {
                Ok(stream) => return Ok(stream),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(model, error = %e, "endpoint failed before the first token; trying another");
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
    }
}
