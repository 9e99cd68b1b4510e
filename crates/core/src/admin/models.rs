//! Models: add, edit (with a version check), retire, re-activate, and the list with every
//! endpoint's live health (the endpoints themselves: [`super::endpoints`]). Every change is
//! announced to all server processes by the catalog trigger, which reloads their catalog and
//! gateway: no restart. A battle in progress keeps its models (retired models stay in the
//! gateway until their endpoints are removed; they are only never paired again).

use super::{Admin, audit, field};
use crate::error::{ArenaError, ArenaResult};
use arena_domain::admin::{AdminEndpoint, AdminModel, EndpointHealth, ModelInput};
use serde_json::json;
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(super) struct ModelRow {
    pub(super) id: Uuid,
    pub(super) key: String,
    pub(super) display_name: String,
    pub(super) organization: String,
    pub(super) license: String,
    pub(super) description: String,
    pub(super) system_prompt: Option<String>,
    pub(super) temperature: Option<f32>,
    pub(super) top_p: Option<f32>,
    pub(super) max_tokens: i32,
    pub(super) weight: f64,
    pub(super) active: bool,
    pub(super) version: i32,
    /// The key of the model this one is a new version of.
    pub(super) version_of: Option<String>,
}

const MODEL_COLUMNS: &str = "id, key, display_name, organization, license, description, \
     system_prompt, temperature, top_p, max_tokens, weight, active, version, \
     (select b.key from model b where b.id = model.version_of) as version_of";

#[derive(sqlx::FromRow)]
pub(super) struct EndpointRow {
    pub(super) id: Uuid,
    pub(super) model_id: Uuid,
    pub(super) base_url: String,
    pub(super) upstream_model: String,
    pub(super) has_key: bool,
    pub(super) max_concurrency: i32,
    pub(super) enabled: bool,
}

#[derive(sqlx::FromRow)]
struct Recent {
    endpoint_id: Uuid,
    ttft: Option<f64>,
    tps: Option<f64>,
    errors: i64,
}

fn model_json(m: &ModelRow) -> serde_json::Value {
    json!({
        "key": m.key, "display_name": m.display_name, "organization": m.organization,
        "license": m.license, "description": m.description, "system_prompt": m.system_prompt,
        "temperature": m.temperature, "top_p": m.top_p, "max_tokens": m.max_tokens,
        "weight": m.weight, "active": m.active, "version": m.version,
    })
}

pub(super) fn endpoint_json(e: &EndpointRow) -> serde_json::Value {
    // Never the key itself: only whether one is set.
    json!({
        "base_url": e.base_url, "upstream_model": e.upstream_model, "api_key_set": e.has_key,
        "max_concurrency": e.max_concurrency, "enabled": e.enabled,
    })
}

pub(super) fn parse_url(raw: &str) -> ArenaResult<()> {
    let url = url::Url::parse(raw).map_err(|e| {
        ArenaError::invalid("invalid_field", format!("base_url: not a valid URL ({e})"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(ArenaError::invalid(
            "invalid_field",
            "base_url: must be an http:// or https:// URL with a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ArenaError::invalid(
            "invalid_field",
            "base_url: put credentials in the API key field, not in the URL",
        ));
    }
    check_host(raw, &url)
}

/// The host as written must be the host as parsed: URL parsers read `http://0`,
/// `http://2130706433`, `http://127.1` and `http://0x7f.1` as IPv4 addresses, which hides
/// where a request really goes; an address is written as four decimal numbers, and never
/// 0.0.0.0.
fn check_host(raw: &str, url: &url::Url) -> ArenaResult<()> {
    let after_scheme = raw.trim().split_once("://").map_or("", |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let written = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let refuse = |why: &str| {
        Err(ArenaError::invalid(
            "invalid_field",
            format!("base_url: {why}"),
        ))
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            if written != ip.to_string() {
                return refuse(&format!(
                    "write the address as four decimal numbers ({ip}), not {written:?}"
                ));
            }
            if ip.is_unspecified() {
                return refuse("0.0.0.0 is not an address to send requests to");
            }
        }
        Some(url::Host::Ipv6(ip)) if ip.is_unspecified() => {
            return refuse("[::] is not an address to send requests to");
        }
        Some(url::Host::Domain(domain)) if !written.eq_ignore_ascii_case(domain) => {
            return refuse(&format!("the host {written:?} is not a plain host name"));
        }
        _ => {}
    }
    Ok(())
}

pub(super) async fn model_by_key(
    conn: &mut PgConnection,
    key: &str,
    lock: bool,
) -> ArenaResult<ModelRow> {
    let sql = format!(
        "select {MODEL_COLUMNS} from model where key = $1{}",
        if lock { " for update" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?
        .ok_or(ArenaError::NotFound { what: "model" })
}

pub(super) async fn endpoint_by_id(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> ArenaResult<EndpointRow> {
    let sql = format!(
        "select id, model_id, base_url, upstream_model,
                (api_key is not null or api_key_sealed is not null) as has_key,
                max_concurrency, enabled
         from model_endpoint where id = $1{}",
        if lock { " for update" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(ArenaError::NotFound { what: "endpoint" })
}

pub(super) fn endpoint_id(raw: &str) -> ArenaResult<Uuid> {
    raw.parse()
        .map_err(|_| ArenaError::NotFound { what: "endpoint" })
}

impl Admin {
    /// Every model (active first, then by key) with its endpoints and their live health.
    pub async fn models(&self) -> ArenaResult<Vec<AdminModel>> {
        let pool = &self.arena.pool;
        let models: Vec<ModelRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {MODEL_COLUMNS} from model order by active desc, key"
        )))
        .fetch_all(pool)
        .await?;
        let endpoints: Vec<EndpointRow> = sqlx::query_as(
            "select id, model_id, base_url, upstream_model,
                    (api_key is not null or api_key_sealed is not null) as has_key,
                    max_concurrency, enabled
             from model_endpoint order by created_at",
        )
        .fetch_all(pool)
        .await?;
        let recent: Vec<Recent> = sqlx::query_as(
            "select endpoint_id,
                    percentile_cont(0.5) within group (order by ttft_ms)
                        filter (where status = 'done' and ttft_ms is not null) as ttft,
                    percentile_cont(0.5) within group (
                        order by completion_tokens * 1000.0 / nullif(duration_ms - ttft_ms, 0))
                        filter (where status = 'done' and completion_tokens > 1) as tps,
                    count(*) filter (where status = 'error') as errors
             from answer
             where endpoint_id is not null and created_at > now() - interval '1 hour'
             group by endpoint_id",
        )
        .fetch_all(pool)
        .await?;
        let recent: HashMap<Uuid, Recent> =
            recent.into_iter().map(|r| (r.endpoint_id, r)).collect();
        let votes = self.arena.counted_votes_per_model().await?;
        let live: HashMap<String, arena_inference::EndpointStatus> = self
            .arena
            .gateway
            .status()
            .into_iter()
            .map(|s| (s.endpoint_id.clone(), s))
            .collect();
        let mut by_model: HashMap<Uuid, Vec<AdminEndpoint>> = HashMap::new();
        for e in endpoints {
            let status = live.get(&e.id.to_string());
            let recent = recent.get(&e.id);
            let health = status.map(|s| EndpointHealth {
                healthy: s.healthy,
                since: s
                    .since
                    .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
                in_flight: s.in_flight,
                queued: s.queued,
                ttft_p50_ms: recent.and_then(|r| r.ttft),
                tokens_per_s_p50: recent.and_then(|r| r.tps),
                errors_last_hour: recent.map_or(0, |r| r.errors),
                last_error: s.last_error.clone(),
            });
            by_model.entry(e.model_id).or_default().push(AdminEndpoint {
                id: e.id.to_string(),
                base_url: e.base_url,
                upstream_model: e.upstream_model,
                api_key_set: e.has_key,
                max_concurrency: e.max_concurrency,
                enabled: e.enabled,
                health,
            });
        }
        Ok(models
            .into_iter()
            .map(|m| AdminModel {
                id: m.id.to_string(),
                counted_votes: votes.get(&m.id).copied().unwrap_or(0),
                endpoints: by_model.remove(&m.id).unwrap_or_default(),
                key: m.key,
                display_name: m.display_name,
                organization: m.organization,
                license: m.license,
                description: m.description,
                system_prompt: m.system_prompt,
                temperature: m.temperature,
                top_p: m.top_p,
                max_tokens: m.max_tokens,
                weight: m.weight,
                active: m.active,
                version: m.version,
                version_of: m.version_of,
            })
            .collect())
    }

    pub async fn model(&self, key: &str) -> ArenaResult<AdminModel> {
        self.models()
            .await?
            .into_iter()
            .find(|m| m.key == key)
            .ok_or(ArenaError::NotFound { what: "model" })
    }

    /// Adds a model (active, no endpoints yet unless added next).
    pub async fn create_model(&self, input: ModelInput) -> ArenaResult<AdminModel> {
        let m = input.normalized().map_err(field)?;
        let mut tx = self.arena.pool.begin().await?;
        let row: ModelRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "insert into model (id, key, display_name, organization, license, description,
                                system_prompt, temperature, top_p, max_tokens, weight)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             returning {MODEL_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(&m.key)
        .bind(&m.display_name)
        .bind(&m.organization)
        .bind(&m.license)
        .bind(&m.description)
        .bind(&m.system_prompt)
        .bind(m.temperature)
        .bind(m.top_p)
        .bind(m.max_tokens)
        .bind(m.weight)
        .fetch_one(&mut *tx)
        .await?;
        audit(
            &mut tx,
            &self.actor,
            "model.create",
            &format!("model:{}", row.key),
            None,
            Some(model_json(&row)),
        )
        .await?;
        tx.commit().await?;
        self.apply_catalog_change().await;
        self.model(&m.key).await
    }

    /// Edits a model. The form's `version` must be the current one: an edit made meanwhile by
    /// someone else is refused (409), never overwritten. The key never changes.
    pub async fn update_model(&self, key: &str, input: ModelInput) -> ArenaResult<AdminModel> {
        let version = input.version.ok_or_else(|| {
            ArenaError::invalid(
                "invalid_field",
                "version: send the version the form was loaded at",
            )
        })?;
        let m = input.normalized().map_err(field)?;
        if m.key != key {
            return Err(ArenaError::invalid(
                "invalid_field",
                "key: a model's key never changes (exports and URLs use it); add a new model instead",
            ));
        }
        let mut tx = self.arena.pool.begin().await?;
        let before = model_by_key(&mut tx, key, true).await?;
        if before.version != version {
            return Err(ArenaError::conflict(
                "edited_concurrently",
                format!(
                    "someone else changed this model meanwhile (version {} is current, the form \
                     had {version}); reload the page and make your change again",
                    before.version
                ),
            ));
        }
        let after: ModelRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "update model set display_name = $2, organization = $3, license = $4,
                    description = $5, system_prompt = $6, temperature = $7, top_p = $8,
                    max_tokens = $9, weight = $10, version = version + 1, updated_at = now()
             where id = $1 returning {MODEL_COLUMNS}"
        )))
        .bind(before.id)
        .bind(&m.display_name)
        .bind(&m.organization)
        .bind(&m.license)
        .bind(&m.description)
        .bind(&m.system_prompt)
        .bind(m.temperature)
        .bind(m.top_p)
        .bind(m.max_tokens)
        .bind(m.weight)
        .fetch_one(&mut *tx)
        .await?;
        audit(
            &mut tx,
            &self.actor,
            "model.update",
            &format!("model:{key}"),
            Some(model_json(&before)),
            Some(model_json(&after)),
        )
        .await?;
        tx.commit().await?;
        self.apply_catalog_change().await;
        self.model(key).await
    }

    /// Retires (never paired again; battles in progress keep it) or re-activates a model.
    /// Returns how many battles with the model are still being answered.
    pub async fn set_model_active(&self, key: &str, active: bool) -> ArenaResult<i64> {
        let mut tx = self.arena.pool.begin().await?;
        let before = model_by_key(&mut tx, key, true).await?;
        if before.active != active {
            sqlx::query(
                "update model set active = $2, version = version + 1, updated_at = now()
                 where id = $1",
            )
            .bind(before.id)
            .bind(active)
            .execute(&mut *tx)
            .await?;
            audit(
                &mut tx,
                &self.actor,
                if active {
                    "model.reactivate"
                } else {
                    "model.retire"
                },
                &format!("model:{key}"),
                Some(json!({ "active": before.active })),
                Some(json!({ "active": active })),
            )
            .await?;
        }
        let live: i64 = sqlx::query_scalar(
            "select count(distinct b.id) from battle b join battle_turn t on t.battle_id = b.id
             where t.status = 'generating' and (b.model_a_id = $1 or b.model_b_id = $1)",
        )
        .bind(before.id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.apply_catalog_change().await;
        Ok(live)
    }
}

impl Admin {
    /// Marks `key` as a new version of `base` (`None`: of no model), for the regressions page.
    /// A model cannot be a version of itself or of one of its own later versions.
    pub async fn set_version_of(&self, key: &str, base: Option<&str>) -> ArenaResult<()> {
        let mut tx = self.arena.pool.begin().await?;
        let model = model_by_key(&mut tx, key, true).await?;
        let before: Option<String> = sqlx::query_scalar(
            "select b.key from model m join model b on b.id = m.version_of where m.id = $1",
        )
        .bind(model.id)
        .fetch_optional(&mut *tx)
        .await?;
        let base_id = match base {
            None => None,
            Some(b) => {
                let base = model_by_key(&mut tx, b, false).await.map_err(|_| {
                    ArenaError::invalid(
                        "invalid_field",
                        format!("base: no model has the key {b:?}"),
                    )
                })?;
                // Walk the base's own chain of versions: `key` must not be in it.
                let cycle: bool = sqlx::query_scalar(
                    "with recursive chain(id) as (
                         select $1::uuid
                         union select m.version_of from model m join chain c on m.id = c.id
                         where m.version_of is not null)
                     select exists (select 1 from chain where id = $2)",
                )
                .bind(base.id)
                .bind(model.id)
                .fetch_one(&mut *tx)
                .await?;
                if cycle {
                    return Err(ArenaError::invalid(
                        "invalid_field",
                        format!("base: {b} is {key} itself or one of its later versions"),
                    ));
                }
                Some(base.id)
            }
        };
        sqlx::query("update model set version_of = $2, updated_at = now() where id = $1")
            .bind(model.id)
            .bind(base_id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            &self.actor,
            "model.version_of",
            &format!("model:{key}"),
            Some(json!({ "version_of": before })),
            Some(json!({ "version_of": base })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn numeric_and_shortened_addresses_are_refused() {
        for ok in [
            "http://127.0.0.1:8081",
            "http://localhost:8000/v1",
            "https://api.example.org",
            "http://[::1]:8000",
            "http://Worker-1.internal:80",
            "http://10.0.0.7",
        ] {
            assert!(parse_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://0",
            "http://0:8000",
            "http://2130706433",
            "http://127.1",
            "http://0x7f.1",
            "http://0177.0.0.1",
            "http://0.0.0.0:8081",
            "http://[::]:8081",
            "http://127.000.000.001",
            "http://user:pw@127.0.0.1",
            "ftp://127.0.0.1",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
