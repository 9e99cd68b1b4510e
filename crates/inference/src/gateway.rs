//! Endpoints, their health, and dispatch to the least-loaded healthy replica.

use crate::stream::{ChatStream, open_stream};
use crate::types::{ChatRequest, EndpointConfig, GatewayConfig, GatewayError, ModelKey};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the gateway knows about one endpoint. Shared across [`Gateway::set_model_endpoints`]
/// calls that keep the endpoint (same id and base URL), so a reload neither forgets its health
/// nor its in-flight requests.
#[derive(Default)]
struct EndpointState {
    in_flight: AtomicUsize,
    /// False until the first successful health check.
    healthy: AtomicBool,
    consecutive_failures: AtomicU32,
    last_error: Mutex<Option<String>>,
    /// When `healthy` last changed (None: not since this process started).
    changed_at: Mutex<Option<std::time::SystemTime>>,
}

impl EndpointState {
    fn mark_changed(&self) {
        *self.changed_at.lock().expect("endpoint lock") = Some(std::time::SystemTime::now());
    }
}

pub(crate) struct Endpoint {
    pub(crate) config: EndpointConfig,
    state: Arc<EndpointState>,
}

impl Endpoint {
    fn load(&self) -> f64 {
        self.state.in_flight.load(Ordering::SeqCst) as f64 / self.config.limit() as f64
    }

    fn is_healthy(&self) -> bool {
        self.state.healthy.load(Ordering::SeqCst)
    }
}

/// A snapshot of one endpoint, for readiness and admin pages. Has no API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointStatus {
    pub model: ModelKey,
    pub endpoint_id: String,
    pub base_url: String,
    pub healthy: bool,
    pub in_flight: usize,
    pub max_concurrency: usize,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// When it last went up or down, as seen by this process.
    pub since: Option<std::time::SystemTime>,
    /// Requests for the model waiting for a slot on any of its endpoints.
    pub queued: usize,
}

struct ModelEntry {
    endpoints: Vec<Arc<Endpoint>>,
    /// Requests waiting for a slot; kept across endpoint replacements.
    waiting: Arc<AtomicUsize>,
}

struct Inner {
    config: GatewayConfig,
    client: reqwest::Client,
    models: RwLock<HashMap<ModelKey, ModelEntry>>,
    /// Woken whenever capacity may have appeared: a slot freed, an endpoint healthy again,
    /// endpoints replaced or removed.
    capacity_changed: Notify,
    shutdown: CancellationToken,
}

impl Inner {
    fn record_failure(&self, endpoint: &Endpoint, message: String) {
        let state = &endpoint.state;
        let failures = state.consecutive_failures.fetch_add(1, Ordering::SeqCst) + 1;
        *state.last_error.lock().expect("endpoint lock") = Some(message.clone());
        if failures >= self.config.failure_threshold.max(1)
            && state.healthy.swap(false, Ordering::SeqCst)
        {
            state.mark_changed();
            tracing::warn!(
                endpoint.id = %endpoint.config.id,
                endpoint.url = %endpoint.config.base_url,
                failures,
                error = %message,
                "endpoint left the pool"
            );
        }
    }

    fn record_health(&self, endpoint: &Endpoint) {
        let state = &endpoint.state;
        state.consecutive_failures.store(0, Ordering::SeqCst);
        if !state.healthy.swap(true, Ordering::SeqCst) {
            state.mark_changed();
            tracing::info!(
                endpoint.id = %endpoint.config.id,
                endpoint.url = %endpoint.config.base_url,
                "endpoint healthy"
            );
            self.capacity_changed.notify_waiters();
        }
    }
}

/// The client the arena uses to call its inference workers. Cheap to clone; all clones share
/// the same endpoints, counters and HTTP connection pool.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

/// A request's hold on one endpoint: freed on drop.
pub(crate) struct Slot {
    endpoint: Arc<Endpoint>,
    gateway: Arc<Inner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.endpoint.state.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.gateway.capacity_changed.notify_waiters();
    }
}

impl Slot {
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// A completed answer: the failure streak ends. (Only a health check brings an endpoint
    /// back into the pool.)
    pub(crate) fn succeeded(&self) {
        self.endpoint
            .state
            .consecutive_failures
            .store(0, Ordering::SeqCst);
    }

    pub(crate) fn failed(&self, error: &GatewayError) {
        if error.is_endpoint_failure() {
            self.gateway
                .record_failure(&self.endpoint, error.to_string());
        }
    }

    /// The endpoint broke the protocol without failing the answer (it ignored the answer's
    /// bounds): one failure on its record.
    pub(crate) fn misbehaved(&self, message: String) {
        self.gateway.record_failure(&self.endpoint, message);
    }
}

/// Counts a request in its model's queue while it waits, and out however the wait ends
/// (including the caller giving up and dropping the future).
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn new(counter: Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            // A worker never redirects: a 3xx is an error, not a hop to wherever it points (a
            // 307 would re-POST the prompt elsewhere, a 302 fetch another local service).
            .redirect(reqwest::redirect::Policy::none())
            // A warm pool per worker, not the peak's: after a burst of 2,000 generations the
            // idle connections (and their buffers) are closed instead of kept for 90 s.
            .pool_max_idle_per_host(32)
            .pool_idle_timeout(std::time::Duration::from_secs(15))
            .build()
            .expect("a TLS backend is compiled in");
        Self {
            inner: Arc::new(Inner {
                config,
                client,
                models: RwLock::new(HashMap::new()),
                capacity_changed: Notify::new(),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// Replaces a model's endpoints (admins edit them at runtime). An endpoint with the same id
    /// and base URL as before keeps its health, failure count and in-flight requests; a new one
    /// is out of the pool until its first health check, which starts at once when called inside
    /// a Tokio runtime.
    pub fn set_model_endpoints(&self, model: &str, endpoints: Vec<EndpointConfig>) {
        let mut fresh = Vec::new();
        {
            let mut models = self.inner.models.write().expect("gateway lock");
            let old = models.remove(model);
            let waiting = old
                .as_ref()
                .map(|e| Arc::clone(&e.waiting))
                .unwrap_or_default();
            let endpoints = endpoints
                .into_iter()
                .map(|config| {
                    let kept = old.as_ref().and_then(|e| {
                        e.endpoints.iter().find(|x| {
                            x.config.id == config.id && x.config.base_url == config.base_url
                        })
                    });
                    let endpoint = Arc::new(Endpoint {
                        state: kept.map(|x| Arc::clone(&x.state)).unwrap_or_default(),
                        config,
                    });
                    if kept.is_none() {
                        fresh.push(Arc::clone(&endpoint));
                    }
                    endpoint
                })
                .collect();
            models.insert(model.to_owned(), ModelEntry { endpoints, waiting });
        }
        self.inner.capacity_changed.notify_waiters();
        if !fresh.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let gateway = self.clone();
            runtime.spawn(async move { gateway.check_endpoints(fresh).await });
        }
    }

    /// Forgets a model: new requests get [`GatewayError::UnknownModel`]; streams already
    /// running finish normally.
    pub fn remove_model(&self, model: &str) {
        self.inner
            .models
            .write()
            .expect("gateway lock")
            .remove(model);
        self.inner.capacity_changed.notify_waiters();
    }

    /// True if at least one of the model's endpoints is healthy.
    pub fn is_model_available(&self, model: &str) -> bool {
        self.inner
            .models
            .read()
            .expect("gateway lock")
            .get(model)
            .is_some_and(|m| m.endpoints.iter().any(|e| e.is_healthy()))
    }

    /// The models with at least one healthy endpoint, sorted.
    pub fn available_models(&self) -> Vec<ModelKey> {
        let models = self.inner.models.read().expect("gateway lock");
        let mut out: Vec<ModelKey> = models
            .iter()
            .filter(|(_, m)| m.endpoints.iter().any(|e| e.is_healthy()))
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    /// True if any endpoint of any model is healthy (for `/readyz`).
    pub fn any_healthy(&self) -> bool {
        let models = self.inner.models.read().expect("gateway lock");
        models
            .values()
            .any(|m| m.endpoints.iter().any(|e| e.is_healthy()))
    }

    /// Requests waiting for a slot on this model.
    pub fn queue_depth(&self, model: &str) -> usize {
        self.inner
            .models
            .read()
            .expect("gateway lock")
            .get(model)
            .map_or(0, |m| m.waiting.load(Ordering::SeqCst))
    }

    /// Requests waiting for a slot, per model, sorted by model.
    pub fn queue_depths(&self) -> Vec<(ModelKey, usize)> {
        let models = self.inner.models.read().expect("gateway lock");
        let mut out: Vec<(ModelKey, usize)> = models
            .iter()
            .map(|(k, m)| (k.clone(), m.waiting.load(Ordering::SeqCst)))
            .collect();
        out.sort();
        out
    }

    /// Every endpoint's state, sorted by model then endpoint id.
    pub fn status(&self) -> Vec<EndpointStatus> {
        let models = self.inner.models.read().expect("gateway lock");
        let mut out = Vec::new();
        for (model, entry) in models.iter() {
            for e in &entry.endpoints {
                let state = &e.state;
                out.push(EndpointStatus {
                    model: model.clone(),
                    endpoint_id: e.config.id.clone(),
                    base_url: e.config.base_url.clone(),
                    healthy: state.healthy.load(Ordering::SeqCst),
                    in_flight: state.in_flight.load(Ordering::SeqCst),
                    max_concurrency: e.config.limit(),
                    consecutive_failures: state.consecutive_failures.load(Ordering::SeqCst),
                    last_error: state.last_error.lock().expect("endpoint lock").clone(),
                    since: *state.changed_at.lock().expect("endpoint lock"),
                    queued: entry.waiting.load(Ordering::SeqCst),
                });
            }
        }
        out.sort_by(|a, b| (&a.model, &a.endpoint_id).cmp(&(&b.model, &b.endpoint_id)));
        out
    }

    /// Polls every endpoint once, concurrently; a worker serving several models (same URL and
    /// key) is asked once.
    pub async fn check_now(&self) {
        let endpoints: Vec<Arc<Endpoint>> = {
            let models = self.inner.models.read().expect("gateway lock");
            models
                .values()
                .flat_map(|m| m.endpoints.iter().cloned())
                .collect()
        };
        self.check_endpoints(endpoints).await;
    }

    async fn check_endpoints(&self, endpoints: Vec<Arc<Endpoint>>) {
        let mut groups: HashMap<(String, Option<String>), Vec<Arc<Endpoint>>> = HashMap::new();
        for e in endpoints {
            let key = (
                e.config.base_url.clone(),
                e.config.api_key.as_ref().map(|k| k.expose().to_owned()),
            );
            groups.entry(key).or_default().push(e);
        }
        let probes = groups
            .into_iter()
            .map(|((base_url, api_key), endpoints)| async move {
                let result = self.probe(&base_url, api_key.as_deref()).await;
                for e in endpoints {
                    match &result {
                        Ok(()) => self.inner.record_health(&e),
                        Err(message) => self.inner.record_failure(&e, message.clone()),
                    }
                }
            });
        futures::future::join_all(probes).await;
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
        let failed = |path: &str, e: reqwest::Error| {
            if e.is_timeout() {
                format!("GET {path}: timed out")
            } else if e.is_connect() {
                format!("GET {path}: cannot connect")
            } else {
                format!("GET {path}: {e}")
            }
        };
        let response = get("/health").await.map_err(|e| failed("/health", e))?;
        match response.status() {
            s if s.is_success() => Ok(()),
            reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                Err("GET /health answered 503 (loading)".into())
            }
            reqwest::StatusCode::NOT_FOUND => {
                let models = get("/v1/models")
                    .await
                    .map_err(|e| failed("/v1/models", e))?;
                if models.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("GET /v1/models answered {}", models.status()))
                }
            }
            s => Err(format!("GET /health answered {s}")),
        }
    }

    /// Polls all endpoints every `interval` until [`Gateway::shutdown`].
    pub fn spawn_health_checks(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        self.spawn_health_checks_until(interval, CancellationToken::new())
    }

    /// Polls all endpoints every `interval` until `cancel` is cancelled (or
    /// [`Gateway::shutdown`]).
    pub fn spawn_health_checks_until(
        &self,
        interval: Duration,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let gateway = self.clone();
        tokio::spawn(async move {
            let stopped = async {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = gateway.inner.shutdown.cancelled() => {}
                }
            };
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = gateway.check_now() => {}
                }
            }
        })
    }

    /// Stops the health checks started by [`Gateway::spawn_health_checks`].
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Takes a slot on the least-loaded healthy endpoint not in `tried`, waiting (up to the
    /// queue timeout) while all are busy.
    async fn acquire(&self, model: &str, tried: &[Arc<Endpoint>]) -> Result<Slot, GatewayError> {
        let deadline = tokio::time::Instant::now() + self.inner.config.queue_timeout;
        let mut waiting: Option<Waiting> = None;
        loop {
            // Registered before looking, so a slot freed in between is not missed.
            let changed = self.inner.capacity_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (candidates, counter) = {
                let models = self.inner.models.read().expect("gateway lock");
                let entry = models
                    .get(model)
                    .ok_or_else(|| GatewayError::UnknownModel(model.to_owned()))?;
                let candidates: Vec<Arc<Endpoint>> = entry
                    .endpoints
                    .iter()
                    .filter(|e| {
                        e.is_healthy() && !tried.iter().any(|t| Arc::ptr_eq(&t.state, &e.state))
                    })
                    .cloned()
                    .collect();
                (candidates, Arc::clone(&entry.waiting))
            };
            if candidates.is_empty() {
                return Err(GatewayError::NoHealthyEndpoint(model.to_owned()));
            }
            if let Some(slot) = self.try_take(candidates) {
                return Ok(slot);
            }
            if waiting.is_none() {
                tracing::debug!(model, "every replica is busy; waiting for a slot");
                waiting = Some(Waiting::new(counter));
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(GatewayError::QueueTimeout(model.to_owned()));
            }
        }
    }

    fn try_take(&self, mut candidates: Vec<Arc<Endpoint>>) -> Option<Slot> {
        use rand::seq::SliceRandom;
        // Shuffled first, so a stable sort spreads equal loads at random.
        candidates.shuffle(&mut rand::rng());
        candidates.sort_by(|a, b| a.load().total_cmp(&b.load()));
        for endpoint in candidates {
            let limit = endpoint.config.limit();
            let taken = endpoint
                .state
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

    /// Sends one request straight to an endpoint outside the pool (the console's "Test this
    /// endpoint"): no queue, no retry, and the endpoint's health is not touched.
    pub async fn try_endpoint(
        &self,
        config: EndpointConfig,
        request: ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let endpoint = Arc::new(Endpoint {
            config,
            state: Arc::default(),
        });
        endpoint.state.in_flight.fetch_add(1, Ordering::SeqCst);
        let slot = Slot {
            endpoint,
            gateway: Arc::new(Inner {
                config: self.inner.config.clone(),
                client: self.inner.client.clone(),
                models: RwLock::default(),
                capacity_changed: Notify::new(),
                shutdown: CancellationToken::new(),
            }),
        };
        open_stream(&self.inner.client, &self.inner.config, slot, &request).await
    }

    /// Streams a chat completion from the model's least-loaded healthy endpoint, waiting for a
    /// slot if all are busy. Before the first token, a retryable failure moves on to another
    /// healthy replica (each is tried at most once); once text has flowed, errors end the stream.
    #[tracing::instrument(name = "stream_chat", skip(self, request), fields(model = %model))]
    pub async fn stream_chat(
        &self,
        model: &str,
        request: ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let mut tried: Vec<Arc<Endpoint>> = Vec::new();
        let mut last_error: Option<GatewayError> = None;
        loop {
            let slot = match self.acquire(model, &tried).await {
                Ok(slot) => slot,
                Err(e @ (GatewayError::NoHealthyEndpoint(_) | GatewayError::QueueTimeout(_))) => {
                    return Err(last_error.unwrap_or(e));
                }
                Err(e) => return Err(e),
            };
            let endpoint = Arc::clone(&slot.endpoint);
            tried.push(Arc::clone(&endpoint));
            match open_stream(&self.inner.client, &self.inner.config, slot, &request).await {
                Ok(stream) => {
                    tracing::debug!(endpoint.id = %endpoint.config.id, "stream started");
                    return Ok(stream);
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(
                        endpoint.id = %endpoint.config.id,
                        endpoint.url = %endpoint.config.base_url,
                        error = %e,
                        "endpoint failed before the first token; trying another replica"
                    );
                    last_error = Some(e);
                }
                Err(e) => {
                    tracing::warn!(
                        endpoint.id = %endpoint.config.id,
                        endpoint.url = %endpoint.config.base_url,
                        error = %e,
                        "request failed"
                    );
                    return Err(e);
                }
            }
        }
    }
}
