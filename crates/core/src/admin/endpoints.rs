//! Worker endpoints of a model: add, edit (write-only API keys, sealed at rest), delete, and
//! "Test this endpoint". Changes reach every process's gateway through the catalog trigger.

use super::models::{endpoint_by_id, endpoint_id, endpoint_json, model_by_key, parse_url};
use super::{Admin, audit, field};
use crate::error::ArenaResult;
use arena_domain::admin::{AdminModel, EndpointInput, EndpointTest};
use arena_inference::{ChatEvent, ChatMessage, ChatRequest, EndpointConfig, Role};
use futures::StreamExt;
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

impl Admin {
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
        self.apply_catalog_change().await;
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
        self.apply_catalog_change().await;
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
        self.apply_catalog_change().await;
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
