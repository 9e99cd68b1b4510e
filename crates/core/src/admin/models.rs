//! Models and their worker endpoints: add, edit (with a version check), retire, re-activate;
//! endpoints with write-only API keys; live health; "Test this endpoint". Every change is
//! announced to all server processes by the catalog trigger, which reloads their catalog and
//! gateway: no restart. A battle in progress keeps its models (retired models stay in the
//! gateway until their endpoints are removed; they are only never paired again).

use super::{Admin, audit, field};
use crate::error::{ArenaError, ArenaResult};
use arena_domain::admin::{
    AdminEndpoint, AdminModel, EndpointHealth, EndpointInput, EndpointTest, ModelInput,
};
use arena_inference::{ChatEvent, ChatMessage, ChatRequest, EndpointConfig, Role};
use futures::StreamExt;
use serde_json::json;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ModelRow {
    id: Uuid,
    key: String,
    display_name: String,
    organization: String,
    license: String,
    description: String,
    system_prompt: Option<String>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    max_tokens: i32,
    weight: f64,
    active: bool,
    version: i32,
}

const MODEL_COLUMNS: &str = "id, key, display_name, organization, license, description, \
     system_prompt, temperature, top_p, max_tokens, weight, active, version";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    model_id: Uuid,
    base_url: String,
    upstream_model: String,
    has_key: bool,
    max_concurrency: i32,
    enabled: bool,
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

fn endpoint_json(e: &EndpointRow) -> serde_json::Value {
    // Never the key itself: only whether one is set.
    json!({
        "base_url": e.base_url, "upstream_model": e.upstream_model, "api_key_set": e.has_key,
        "max_concurrency": e.max_concurrency, "enabled": e.enabled,
    })
}

fn parse_url(raw: &str) -> ArenaResult<()> {
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
    Ok(())
}

async fn model_by_key(conn: &mut PgConnection, key: &str, lock: bool) -> ArenaResult<ModelRow> {
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

async fn endpoint_by_id(conn: &mut PgConnection, id: Uuid, lock: bool) -> ArenaResult<EndpointRow> {
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

fn endpoint_id(raw: &str) -> ArenaResult<Uuid> {
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
        Ok(live)
    }

    fn sealed_key(&self, key: Option<&str>) -> ArenaResult<Option<Vec<u8>>> {
        match key {
            None | Some("") => Ok(None),
            Some(k) => self.arena.sealer.seal(k).map(Some),
        }
    }

    /// Adds a worker endpoint to a model.
    pub async fn add_endpoint(&self, key: &str, input: EndpointInput) -> ArenaResult<AdminModel> {
        let e = input.normalized().map_err(field)?;
        parse_url(&e.base_url)?;
        let sealed = self.sealed_key(e.api_key.as_deref())?;
        let mut tx = self.arena.pool.begin().await?;
        let model = model_by_key(&mut tx, key, true).await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into model_endpoint (id, model_id, base_url, upstream_model, api_key_sealed,
                                         max_concurrency, enabled)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(model.id)
        .bind(&e.base_url)
        .bind(&e.upstream_model)
        .bind(&sealed)
        .bind(e.max_concurrency)
        .bind(e.enabled)
        .execute(&mut *tx)
        .await?;
        let row = endpoint_by_id(&mut tx, id, false).await?;
        audit(
            &mut tx,
            &self.actor,
            "endpoint.create",
            &format!("model:{key}/endpoint:{id}"),
            None,
            Some(endpoint_json(&row)),
        )
        .await?;
        tx.commit().await?;
        self.model(key).await
    }

    /// Edits an endpoint; `api_key`: absent keeps it, empty removes it, else replaces it.
    pub async fn update_endpoint(&self, id: &str, input: EndpointInput) -> ArenaResult<AdminModel> {
        let id = endpoint_id(id)?;
        let e = input.normalized().map_err(field)?;
        parse_url(&e.base_url)?;
        let sealed = self.sealed_key(e.api_key.as_deref())?;
        let mut tx = self.arena.pool.begin().await?;
        let before = endpoint_by_id(&mut tx, id, true).await?;
        let key_change = e.api_key.is_some();
        sqlx::query(
            "update model_endpoint set base_url = $2, upstream_model = $3,
                    max_concurrency = $4, enabled = $5, updated_at = now(),
                    api_key = case when $6 then null else api_key end,
                    api_key_sealed = case when $6 then $7 else api_key_sealed end
             where id = $1",
        )
        .bind(id)
        .bind(&e.base_url)
        .bind(&e.upstream_model)
        .bind(e.max_concurrency)
        .bind(e.enabled)
        .bind(key_change)
        .bind(&sealed)
        .execute(&mut *tx)
        .await?;
        let after = endpoint_by_id(&mut tx, id, false).await?;
        let model_key: String = sqlx::query_scalar("select key from model where id = $1")
            .bind(after.model_id)
            .fetch_one(&mut *tx)
            .await?;
        let mut after_json = endpoint_json(&after);
        if key_change {
            after_json["api_key"] = json!(if sealed.is_some() {
                "replaced"
            } else {
                "removed"
            });
        }
        audit(
            &mut tx,
            &self.actor,
            "endpoint.update",
            &format!("model:{model_key}/endpoint:{id}"),
            Some(endpoint_json(&before)),
            Some(after_json),
        )
        .await?;
        tx.commit().await?;
        self.model(&model_key).await
    }

    pub async fn delete_endpoint(&self, id: &str) -> ArenaResult<AdminModel> {
        let id = endpoint_id(id)?;
        let mut tx = self.arena.pool.begin().await?;
        let before = endpoint_by_id(&mut tx, id, true).await?;
        let model_key: String = sqlx::query_scalar("select key from model where id = $1")
            .bind(before.model_id)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("delete from model_endpoint where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            &self.actor,
            "endpoint.delete",
            &format!("model:{model_key}/endpoint:{id}"),
            Some(endpoint_json(&before)),
            None,
        )
        .await?;
        tx.commit().await?;
        self.model(&model_key).await
    }

    /// "Test this endpoint": one short chat request straight to it (outside the pool), with
    /// the answer, the time to first token and tokens/s, or the exact error.
    pub async fn test_endpoint(&self, id: &str) -> ArenaResult<EndpointTest> {
        let id = endpoint_id(id)?;
        let mut conn = self.arena.pool.acquire().await?;
        let row = endpoint_by_id(&mut conn, id, false).await?;
        let keys: (Option<String>, Option<Vec<u8>>) =
            sqlx::query_as("select api_key, api_key_sealed from model_endpoint where id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
        drop(conn);
        let mut config = EndpointConfig::new(row.base_url, row.upstream_model);
        config.id = format!("test-{id}");
        let key = keys
            .0
            .or_else(|| keys.1.and_then(|sealed| self.arena.sealer.open(&sealed)));
        config.api_key = key.map(Into::into);
        Ok(run_test(&self.arena.gateway, config).await)
    }
}

async fn run_test(gateway: &arena_inference::Gateway, config: EndpointConfig) -> EndpointTest {
    let request = ChatRequest {
        messages: vec![ChatMessage {
            role: Role::User,
            content: "Say hello in five words.".into(),
        }],
        max_tokens: Some(24),
        temperature: Some(0.0),
        ..ChatRequest::default()
    };
    let failed = |error: String| EndpointTest {
        ok: false,
        answer: String::new(),
        ttft_ms: None,
        tokens_per_s: None,
        error: Some(error),
    };
    let start = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        let mut stream = gateway.try_endpoint(config, request).await?;
        let mut answer = String::new();
        let mut first: Option<Instant> = None;
        let mut deltas = 0u32;
        let mut tokens = None;
        while let Some(event) = stream.next().await {
            match event? {
                ChatEvent::Delta(text) => {
                    first.get_or_insert_with(Instant::now);
                    deltas += 1;
                    answer.push_str(&text);
                }
                ChatEvent::Finished {
                    completion_tokens, ..
                } => tokens = completion_tokens,
            }
        }
        Ok::<_, arena_inference::GatewayError>((answer, first, tokens.unwrap_or(deltas)))
    })
    .await;
    match outcome {
        Err(_) => failed("no complete answer within 60 s".into()),
        Ok(Err(e)) => failed(e.to_string()),
        Ok(Ok((answer, first, tokens))) => {
            let end = Instant::now();
            let ttft = first.map(|f| (f - start).as_secs_f64() * 1000.0);
            let tps = first.and_then(|f| {
                let secs = (end - f).as_secs_f64();
                (tokens > 1 && secs > 0.0).then(|| f64::from(tokens - 1) / secs)
            });
            EndpointTest {
                ok: true,
                answer,
                ttft_ms: ttft,
                tokens_per_s: tps,
                error: None,
            }
        }
    }
}
