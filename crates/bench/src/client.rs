//! The arena's battle API as a volunteer's browser uses it: one client per voter, its session
//! cookie captured from the first write.

use futures::StreamExt;
use std::time::{Duration, Instant};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub struct Voter {
    http: reqwest::Client,
    pub token: Option<String>,
    /// The terms were accepted for this voter (a vote needs them).
    terms: bool,
}

/// How a battle's stream ended.
#[derive(Debug, Clone, Copy)]
pub struct Streamed {
    /// When the first answer text arrived.
    pub first_delta: Option<Instant>,
    /// Both sides finished without an error.
    pub ok: bool,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

impl Voter {
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            token: None,
            terms: false,
        }
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.header("cookie", format!("arena_session={token}")),
            None => request,
        }
    }

    fn remember_cookie(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            if let Some(token) = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("arena_session="))
                .and_then(|v| v.split(';').next())
            {
                self.token = Some(token.to_owned());
            }
        }
    }

    /// Starts a battle; its id.
    pub async fn create_battle(&mut self, base: &str, prompt: &str) -> Result<String, Error> {
        let response = self
            .with_cookie(self.http.post(format!("{base}/api/v1/battles")))
            .json(&serde_json::json!({ "prompt": prompt }))
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        self.remember_cookie(&response);
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if status != reqwest::StatusCode::CREATED {
            return Err(format!("create battle: {status} {body}").into());
        }
        let battle = body["battle_id"]
            .as_str()
            .ok_or("create battle: no battle_id")?
            .to_owned();
        if !self.terms {
            self.accept_terms(base).await?;
        }
        Ok(battle)
    }

    /// Accepts the current terms, as a volunteer does before the first vote.
    async fn accept_terms(&mut self, base: &str) -> Result<(), Error> {
        let terms: serde_json::Value = self
            .with_cookie(self.http.get(format!("{base}/api/v1/terms")))
            .send()
            .await?
            .json()
            .await?;
        let response = self
            .with_cookie(self.http.post(format!("{base}/api/v1/terms/accept")))
            .json(&serde_json::json!({ "version": terms["version"] }))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("accept terms: {}", response.status()).into());
        }
        self.terms = true;
        Ok(())
    }

    /// Reads the battle's event stream to its end.
    pub async fn stream(&self, base: &str, battle: &str) -> Result<Streamed, Error> {
        let response = self
            .with_cookie(
                self.http
                    .get(format!("{base}/api/v1/battles/{battle}/stream")),
            )
            .timeout(Duration::from_secs(120))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("stream: {}", response.status()).into());
        }
        let mut body = response.bytes_stream();
        let mut buffer = Vec::new();
        let mut first_delta = None;
        let (mut done, mut failed) = (0, 0);
        while let Some(piece) = body.next().await {
            buffer.extend_from_slice(&piece?);
            while let Some(end) = find(&buffer, b"\n\n") {
                let event: Vec<u8> = buffer.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&event);
                match text.lines().find_map(|l| l.strip_prefix("event:")) {
                    Some(name) if name.trim() == "delta" => {
                        first_delta.get_or_insert_with(Instant::now);
                    }
                    Some(name) if name.trim() == "done" => done += 1,
                    Some(name) if name.trim() == "error" => failed += 1,
                    _ => {}
                }
            }
            if done + failed >= 2 {
                break;
            }
        }
        Ok(Streamed {
            first_delta,
            ok: done == 2,
        })
    }

    /// Casts a vote; the HTTP status (200 is an acknowledgement) and the body.
    pub async fn vote(
        &self,
        base: &str,
        battle: &str,
        winner: &str,
        idempotency_key: &str,
    ) -> Result<(u16, String), Error> {
        let response = self
            .with_cookie(
                self.http
                    .post(format!("{base}/api/v1/battles/{battle}/vote")),
            )
            .header("idempotency-key", idempotency_key)
            .json(&serde_json::json!({ "winner": winner }))
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// p-th percentile (0–100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Resident set size of a process, in MiB (Linux).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
