//! What the admins' console reads and writes: models, endpoints and their health, the pairing
//! policy, moderation and the audit log. Inputs are checked here, once, into errors that name
//! the field; the server maps them to 422.

use serde::{Deserialize, Serialize};

mod moderation;
mod pairing;
pub use moderation::*;
pub use pairing::*;

/// A bad field in a console form: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

pub(crate) fn bad(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// A model as an admin enters it (add or edit). `version` is the version the form was loaded
/// at: an edit made meanwhile by someone else is refused, never overwritten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelInput {
    pub key: String,
    pub display_name: String,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    pub max_tokens: i32,
    pub weight: f64,
    #[serde(default)]
    pub version: Option<i32>,
}

/// A model key: a stable slug used in URLs, exports and the gateway.
pub fn check_model_key(key: &str) -> Result<(), FieldError> {
    let ok = !key.is_empty()
        && key.len() <= 100
        && (key.as_bytes()[0].is_ascii_lowercase() || key.as_bytes()[0].is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(bad(
            "key",
            "1 to 100 characters: lowercase letters, digits, '.', '_' or '-', starting with a \
             letter or digit",
        ))
    }
}

/// A sampling weight or boost: finite and not negative.
pub fn check_weight(field: &'static str, weight: f64) -> Result<(), FieldError> {
    if weight.is_finite() && (0.0..=1000.0).contains(&weight) {
        Ok(())
    } else {
        Err(bad(field, "must be a number from 0 to 1000"))
    }
}

impl ModelInput {
    /// Trims the text fields and checks every field; the first bad one is reported.
    pub fn normalized(mut self) -> Result<Self, FieldError> {
        self.key = self.key.trim().to_owned();
        self.display_name = self.display_name.trim().to_owned();
        self.organization = self.organization.trim().to_owned();
        self.license = self.license.trim().to_owned();
        self.description = self.description.trim().to_owned();
        self.system_prompt = self
            .system_prompt
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        check_model_key(&self.key)?;
        let chars = |s: &str| s.chars().count();
        if !(1..=200).contains(&chars(&self.display_name)) {
            return Err(bad("display_name", "1 to 200 characters"));
        }
        if chars(&self.organization) > 200 {
            return Err(bad("organization", "at most 200 characters"));
        }
        if chars(&self.license) > 200 {
            return Err(bad("license", "at most 200 characters"));
        }
        if chars(&self.description) > 4000 {
            return Err(bad("description", "at most 4000 characters"));
        }
        if self.system_prompt.as_deref().map_or(0, chars) > 20_000 {
            return Err(bad("system_prompt", "at most 20000 characters"));
        }
        if let Some(t) = self.temperature
            && !(t.is_finite() && (0.0..=2.0).contains(&t))
        {
            return Err(bad("temperature", "must be from 0 to 2"));
        }
        if let Some(p) = self.top_p
            && !(p.is_finite() && p > 0.0 && p <= 1.0)
        {
            return Err(bad("top_p", "must be above 0 and at most 1"));
        }
        if !(1..=32768).contains(&self.max_tokens) {
            return Err(bad("max_tokens", "must be from 1 to 32768"));
        }
        check_weight("weight", self.weight)?;
        Ok(self)
    }
}

/// A worker endpoint as an admin enters it. `api_key`: `None` keeps the stored key, an empty
/// string removes it, anything else replaces it (it is never shown again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointInput {
    pub base_url: String,
    pub upstream_model: String,
    #[serde(default)]
    pub api_key: Option<String>,
    pub max_concurrency: i32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl EndpointInput {
    /// Checks everything but the URL's syntax (the server parses it).
    pub fn normalized(mut self) -> Result<Self, FieldError> {
        self.base_url = self.base_url.trim().trim_end_matches('/').to_owned();
        self.upstream_model = self.upstream_model.trim().to_owned();
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://"))
            || self.base_url.len() > 2000
        {
            return Err(bad(
                "base_url",
                "must be an http:// or https:// URL, e.g. http://10.0.0.5:8000/v1",
            ));
        }
        if !(1..=200).contains(&self.upstream_model.chars().count()) {
            return Err(bad("upstream_model", "1 to 200 characters"));
        }
        if let Some(key) = &self.api_key
            && (key.len() > 4000 || key.chars().any(char::is_control))
        {
            return Err(bad(
                "api_key",
                "at most 4000 characters, no control characters",
            ));
        }
        if !(1..=10_000).contains(&self.max_concurrency) {
            return Err(bad("max_concurrency", "must be from 1 to 10000"));
        }
        Ok(self)
    }
}

/// Live health of one endpoint, as this process sees it, with the recent figures from the
/// answers every process recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointHealth {
    pub healthy: bool,
    /// When it last went up or down (RFC 3339), if this process saw it change.
    pub since: Option<String>,
    pub in_flight: usize,
    /// Requests for the model waiting for a slot.
    pub queued: usize,
    pub ttft_p50_ms: Option<f64>,
    pub tokens_per_s_p50: Option<f64>,
    pub errors_last_hour: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminEndpoint {
    pub id: String,
    pub base_url: String,
    pub upstream_model: String,
    /// The key itself is never shown: only whether one is set.
    pub api_key_set: bool,
    pub max_concurrency: i32,
    pub enabled: bool,
    pub health: Option<EndpointHealth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminModel {
    pub id: String,
    pub key: String,
    pub display_name: String,
    pub organization: String,
    pub license: String,
    pub description: String,
    pub system_prompt: Option<String>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub max_tokens: i32,
    pub weight: f64,
    pub active: bool,
    pub version: i32,
    /// The key of the model this one is a new version of (the regressions page compares them).
    #[serde(default)]
    pub version_of: Option<String>,
    pub counted_votes: i64,
    pub endpoints: Vec<AdminEndpoint>,
}

/// The outcome of "Test this endpoint".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointTest {
    pub ok: bool,
    pub answer: String,
    pub ttft_ms: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ModelInput {
        ModelInput {
            key: " new-model ".into(),
            display_name: "New".into(),
            organization: String::new(),
            license: String::new(),
            description: String::new(),
            system_prompt: Some("  ".into()),
            temperature: Some(0.7),
            top_p: None,
            max_tokens: 64,
            weight: 1.0,
            version: None,
        }
    }

    #[test]
    fn model_input_is_trimmed_and_checked() {
        let m = model().normalized().unwrap();
        assert_eq!(m.key, "new-model");
        assert_eq!(m.system_prompt, None);
        let field = |m: ModelInput| m.normalized().unwrap_err().field;
        assert_eq!(
            field(ModelInput {
                key: "Bad Key".into(),
                ..model()
            }),
            "key"
        );
        assert_eq!(
            field(ModelInput {
                weight: -1.0,
                ..model()
            }),
            "weight"
        );
        assert_eq!(
            field(ModelInput {
                weight: f64::NAN,
                ..model()
            }),
            "weight"
        );
        assert_eq!(
            field(ModelInput {
                top_p: Some(0.0),
                ..model()
            }),
            "top_p"
        );
        assert_eq!(
            field(ModelInput {
                temperature: Some(3.0),
                ..model()
            }),
            "temperature"
        );
        assert_eq!(
            field(ModelInput {
                max_tokens: 0,
                ..model()
            }),
            "max_tokens"
        );
        assert_eq!(
            field(ModelInput {
                display_name: " ".into(),
                ..model()
            }),
            "display_name"
        );
    }

    #[test]
    fn endpoint_input_is_checked() {
        let e = EndpointInput {
            base_url: "http://10.0.0.5:8000/v1/".into(),
            upstream_model: "m".into(),
            api_key: None,
            max_concurrency: 4,
            enabled: true,
        };
        assert_eq!(
            e.clone().normalized().unwrap().base_url,
            "http://10.0.0.5:8000/v1"
        );
        let field = |e: EndpointInput| e.normalized().unwrap_err().field;
        assert_eq!(
            field(EndpointInput {
                base_url: "ftp://x".into(),
                ..e.clone()
            }),
            "base_url"
        );
        assert_eq!(
            field(EndpointInput {
                max_concurrency: 0,
                ..e.clone()
            }),
            "max_concurrency"
        );
        assert_eq!(
            field(EndpointInput {
                upstream_model: "".into(),
                ..e
            }),
            "upstream_model"
        );
    }

    #[test]
    fn pairing_inputs_are_checked() {
        let p = PairingPolicyInput {
            mode: PairingMode::Active,
            uniform_floor: 0.2,
            warmup_votes: 100,
            warmup_boost: 3.0,
            version: None,
        };
        assert!(p.check().is_ok());
        assert_eq!(
            PairingPolicyInput {
                uniform_floor: 1.5,
                ..p.clone()
            }
            .check()
            .unwrap_err()
            .field,
            "uniform_floor"
        );
        assert_eq!(
            PairingPolicyInput {
                warmup_votes: -1,
                ..p
            }
            .check()
            .unwrap_err()
            .field,
            "warmup_votes"
        );
        assert!("random".parse::<PairingMode>().is_err());
        let r = PairRuleInput {
            model_a: "a".into(),
            model_b: "a".into(),
            boost: 1.0,
            excluded: false,
        };
        assert!(r.check().is_err());
        assert!(
            PairRuleInput {
                model_b: "b".into(),
                boost: -2.0,
                ..r
            }
            .check()
            .is_err()
        );
    }
}
