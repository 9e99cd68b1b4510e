//! Typed configuration: `config/default.toml`, then the file named by `ARENA_CONFIG`, then
//! `config/local.toml`, then `ARENA__SECTION__KEY` environment variables, then `DATABASE_URL`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A string that never prints: database URLs with passwords, API keys.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub gateway: GatewaySettings,
    pub arena: ArenaSettings,
    pub limits: crate::limits::LimitSettings,
    pub leaderboard: LeaderboardSettings,
    pub accounts: crate::accounts::AccountSettings,
    #[serde(default)]
    pub secrets: SecretSettings,
    #[serde(default)]
    pub exports: ExportSettings,
    #[serde(default)]
    pub imports: ImportSettings,
    #[serde(default)]
    pub rigging: crate::rigging::RiggingSettings,
    #[serde(default)]
    pub models: Vec<ModelSeed>,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub privacy: crate::privacy::PrivacySettings,
}

/// `[log]`: how the server writes its logs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// `text` (for people) or `json` (one object per line, for a log pipeline); anything else is
/// a configuration error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Keys the server holds: `key` seals the API keys entered in the console (64 hex digits).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecretSettings {
    #[serde(default)]
    pub key: Option<Secret>,
}

/// Research exports: `voter_salt` keys the voter hashes of one data release (never exported;
/// change it for each release so releases cannot be joined on voters).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    #[serde(default)]
    pub voter_salt: Secret,
    /// Exports running at once, over every process, and per account (cookie or token alike);
    /// beyond, 429 with Retry-After.
    pub max_running: usize,
    pub max_running_per_account: usize,
    /// A download read slower than this (averaged over 30 s of waiting for the reader) is cut,
    /// so a stalled client cannot hold a snapshot and a connection.
    pub min_bytes_per_sec: u64,
    /// The time of waiting for the reader that rate is averaged over.
    pub min_rate_window_secs: u64,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            voter_salt: Secret::default(),
            max_running: 4,
            max_running_per_account: 2,
            min_bytes_per_sec: 64 * 1024,
            min_rate_window_secs: 30,
        }
    }
}

/// `[imports]`: what one imported file may make the arena decode.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct ImportSettings {
    /// The most bytes one row may decode to (a JSON line's length; a Parquet row's JSON).
    pub max_row_bytes: u64,
    /// The most rows one Parquet file may hold.
    pub max_file_rows: u64,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            max_row_bytes: 1 << 20,
            max_file_rows: 20_000_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LeaderboardSettings {
    /// How often the default view is refitted when votes arrived (one process at a time).
    pub refresh_interval_ms: u64,
    /// New computations for other option sets (seeds, dates, languages), all processes
    /// together, in any minute.
    pub max_computations_per_minute: u32,
    /// The regressions page flags a new version of a model with this family-wise error rate
    /// (Bonferroni over the views compared).
    #[serde(default = "default_regression_alpha")]
    pub regression_alpha: f64,
}

fn default_regression_alpha() -> f64 {
    0.05
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub site_root: PathBuf,
    #[serde(default)]
    pub secure_cookies: bool,
    /// Origins (scheme://host[:port]) whose pages may make state-changing requests; empty:
    /// the listen address (as http://127.0.0.1:PORT and http://localhost:PORT when loopback).
    #[serde(default)]
    pub public_origins: Vec<String>,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed; otherwise the
    /// client address is the TCP peer.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// A request's headers must arrive within this time (slow clients are cut off).
    pub header_read_timeout_secs: u64,
    /// A connection with no bytes either way for this long is closed.
    pub idle_timeout_secs: u64,
    /// Request line plus headers, in bytes; beyond it 431.
    pub max_header_bytes: usize,
    /// On SIGTERM, how long running answers may finish before they are cancelled.
    pub shutdown_grace_secs: u64,
    /// On SIGTERM, first this long with `/readyz` answering 503 while everything is still
    /// served (a load balancer's health checks move the traffic away); 0: stop at once.
    #[serde(default)]
    pub drain_secs: u64,
    /// Where Prometheus scrapes `/metrics` (a private address; none: no metrics).
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: Secret,
    /// The public class (battles, votes, pages, leaderboards): its pool's size and the longest
    /// one of its statements may run (0: no limit).
    pub max_connections: u32,
    pub statement_timeout_ms: u64,
    /// The research class (exports, imports): a pool of its own, so slow downloads cannot
    /// take the public's connections.
    pub research_connections: u32,
    pub research_statement_timeout_ms: u64,
    /// The admin class (the console's searches and edits).
    pub admin_connections: u32,
    pub admin_statement_timeout_ms: u64,
    /// The rating class (the counts a leaderboard fit reads: the background refresh and the
    /// other views' computations).
    pub rating_connections: u32,
    pub rating_statement_timeout_ms: u64,
}

/// The work classes, each with its own pool and statement timeout (`[database]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkClass {
    Public,
    Research,
    Admin,
    Rating,
}

impl DatabaseSettings {
    /// The pool size and statement timeout of a class.
    pub fn class(&self, class: WorkClass) -> (u32, u64) {
        match class {
            WorkClass::Public => (self.max_connections, self.statement_timeout_ms),
            WorkClass::Research => (
                self.research_connections,
                self.research_statement_timeout_ms,
            ),
            WorkClass::Admin => (self.admin_connections, self.admin_statement_timeout_ms),
            WorkClass::Rating => (self.rating_connections, self.rating_statement_timeout_ms),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GatewaySettings {
    pub connect_timeout_secs: u64,
    pub first_token_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub total_timeout_secs: u64,
    pub health_interval_secs: u64,
    pub failure_threshold: u32,
    pub queue_timeout_secs: u64,
    /// Most bytes of one answer, whatever the worker sends (then cut, `finish_reason = length`).
    pub max_answer_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ArenaSettings {
    pub abandon_grace_secs: u64,
    pub max_turns: u32,
    /// How often a process renews its heartbeat (and sweeps stopped processes' turns).
    pub instance_heartbeat_ms: u64,
    /// A process whose heartbeat is older than this is taken for dead: its turns fail.
    pub instance_lease_ms: u64,
}

impl ArenaSettings {
    pub fn instance_heartbeat(&self) -> Duration {
        Duration::from_millis(self.instance_heartbeat_ms.max(10))
    }

    pub fn instance_lease(&self) -> Duration {
        Duration::from_millis(self.instance_lease_ms.max(100))
    }

    pub fn abandon_grace(&self) -> Duration {
        Duration::from_secs(self.abandon_grace_secs)
    }
}

/// A model offered at first start (inserted only if its key is not in the database yet).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ModelSeed {
    pub key: String,
    pub display_name: String,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_weight")]
    pub weight: f64,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: i32,
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<EndpointSeed>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EndpointSeed {
    pub base_url: String,
    pub upstream_model: String,
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default = "default_concurrency")]
    pub max_concurrency: i32,
}

fn default_weight() -> f64 {
    1.0
}
fn default_max_tokens() -> i32 {
    512
}
fn default_concurrency() -> i32 {
    4
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] config::ConfigError);

impl Settings {
    /// Loads the layered configuration from the directory holding `default.toml`.
    pub fn load(config_dir: &Path) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from(config_dir.join("default.toml")));
        if let Ok(extra) = std::env::var("ARENA_CONFIG") {
            builder = builder.add_source(config::File::from(PathBuf::from(extra)));
        }
        builder = builder
            .add_source(config::File::from(config_dir.join("local.toml")).required(false))
            .add_source(
                config::Environment::with_prefix("ARENA")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            );
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        Ok(builder.build()?.try_deserialize()?)
    }

    /// The configuration directory: `ARENA_CONFIG_DIR`, else `config/` in the working directory,
    /// else the one in the source tree.
    pub fn default_dir() -> PathBuf {
        if let Ok(dir) = std::env::var("ARENA_CONFIG_DIR") {
            return dir.into();
        }
        let local = PathBuf::from("config");
        if local.join("default.toml").exists() {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_and_secrets_do_not_print() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let settings = Settings::load(&dir).unwrap();
        assert!(settings.models.len() >= 2);
        let printed = format!("{settings:?}");
        assert!(!printed.contains(settings.database.url.expose()));
        assert!(printed.contains("Secret(***)"));
    }
}
