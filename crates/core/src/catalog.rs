//! The models on offer and their worker endpoints: seeded from the configuration at first
//! start, kept in Postgres, mirrored in memory and pushed to the inference gateway.

use crate::config::ModelSeed;
use crate::error::ArenaResult;
use arena_inference::{EndpointConfig, Gateway};
use rand::Rng;
use serde::Serialize;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Model {
    pub id: Uuid,
    pub key: String,
    pub display_name: String,
    pub organization: String,
    pub license: String,
    pub description: String,
    pub active: bool,
    pub weight: f64,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub max_tokens: i32,
    pub system_prompt: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub model_id: Uuid,
    pub base_url: String,
    pub upstream_model: String,
    pub api_key: Option<String>,
    pub max_concurrency: i32,
}

/// Inserts the configured models whose key is not in the database yet (never overwrites).
pub async fn seed(pool: &PgPool, seeds: &[ModelSeed]) -> ArenaResult<()> {
    for seed in seeds {
        let mut tx = pool.begin().await?;
        let model_id: Option<Uuid> = sqlx::query_scalar(
            "insert into model (id, key, display_name, organization, license, description, weight,
                                temperature, top_p, max_tokens, system_prompt)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             on conflict (key) do nothing
             returning id",
        )
        .bind(Uuid::now_v7())
        .bind(&seed.key)
        .bind(&seed.display_name)
        .bind(&seed.organization)
        .bind(&seed.license)
        .bind(&seed.description)
        .bind(seed.weight)
        .bind(seed.temperature)
        .bind(seed.top_p)
        .bind(seed.max_tokens)
        .bind(&seed.system_prompt)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(model_id) = model_id {
            for endpoint in &seed.endpoints {
                sqlx::query(
                    "insert into model_endpoint (id, model_id, base_url, upstream_model, api_key,
                                                 max_concurrency)
                     values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(Uuid::now_v7())
                .bind(model_id)
                .bind(&endpoint.base_url)
                .bind(&endpoint.upstream_model)
                .bind(endpoint.api_key.as_ref().map(|k| k.expose().to_owned()))
                .bind(endpoint.max_concurrency)
                .execute(&mut *tx)
                .await?;
            }
            tracing::info!(model.key = %seed.key, "seeded model");
        }
        tx.commit().await?;
    }
    Ok(())
}

/// In-memory mirror of the `model` table (all models, active or not).
#[derive(Clone, Default)]
pub struct Catalog {
    models: Arc<RwLock<HashMap<Uuid, Model>>>,
}

impl Catalog {
    /// Reloads models and endpoints from the database and hands the endpoints to the gateway.
    pub async fn reload(&self, pool: &PgPool, gateway: &Gateway) -> ArenaResult<()> {
        let models: Vec<Model> = sqlx::query_as(
            "select id, key, display_name, organization, license, description, active, weight,
                    temperature, top_p, max_tokens, system_prompt
             from model order by key",
        )
        .fetch_all(pool)
        .await?;
        let endpoints: Vec<Endpoint> = sqlx::query_as(
            "select id, model_id, base_url, upstream_model, api_key, max_concurrency
             from model_endpoint where enabled order by created_at",
        )
        .fetch_all(pool)
        .await?;
        let mut by_model: HashMap<Uuid, Vec<EndpointConfig>> = HashMap::new();
        for e in endpoints {
            by_model
                .entry(e.model_id)
                .or_default()
                .push(endpoint_config(&e));
        }
        for model in &models {
            let endpoints = by_model.remove(&model.id).unwrap_or_default();
            if model.active {
                gateway.set_model_endpoints(&model.key, endpoints);
            } else {
                gateway.remove_model(&model.key);
            }
        }
        let map = models.into_iter().map(|m| (m.id, m)).collect();
        *self.models.write().expect("catalog lock") = map;
        Ok(())
    }

    pub fn get(&self, id: Uuid) -> Option<Model> {
        self.models.read().expect("catalog lock").get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Model> {
        let mut all: Vec<Model> = self
            .models
            .read()
            .expect("catalog lock")
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// Every name a model is known by: answers that mention one are flagged.
    pub fn identity_names(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .flat_map(|m| [m.key, m.display_name])
            .collect()
    }
}

fn endpoint_config(e: &Endpoint) -> EndpointConfig {
    let mut config = EndpointConfig::new(e.base_url.clone(), e.upstream_model.clone());
    config.id = e.id.to_string();
    config.max_concurrency = e.max_concurrency.max(1) as usize;
    config.api_key = e.api_key.clone().map(Into::into);
    config
}

/// The pairing policy: two distinct models, each drawn with probability proportional to its
/// weight among the candidates, in random order (the first drawn is not favoured as side A
/// because the draw itself is symmetric in order).
pub fn choose_pair<'a, R: Rng + ?Sized>(
    candidates: &'a [Model],
    rng: &mut R,
) -> Option<(&'a Model, &'a Model)> {
    let pool: Vec<&Model> = candidates.iter().filter(|m| m.weight > 0.0).collect();
    if pool.len() < 2 {
        return None;
    }
    let first = weighted_pick(&pool, rng)?;
    let rest: Vec<&Model> = pool.iter().copied().filter(|m| m.id != first.id).collect();
    let second = weighted_pick(&rest, rng)?;
    if rng.random_bool(0.5) {
        Some((first, second))
    } else {
        Some((second, first))
    }
}

fn weighted_pick<'a, R: Rng + ?Sized>(pool: &[&'a Model], rng: &mut R) -> Option<&'a Model> {
    let total: f64 = pool.iter().map(|m| m.weight).sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rng.random_range(0.0..total);
    for m in pool {
        if x < m.weight {
            return Some(m);
        }
        x -= m.weight;
    }
    pool.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn model(key: &str, weight: f64) -> Model {
        Model {
            id: Uuid::new_v4(),
            key: key.into(),
            display_name: key.into(),
            organization: String::new(),
            license: String::new(),
            description: String::new(),
            active: true,
            weight,
            temperature: None,
            top_p: None,
            max_tokens: 16,
            system_prompt: None,
        }
    }

    #[test]
    fn pairs_are_distinct_and_sides_are_balanced() {
        let models = vec![model("x", 1.0), model("y", 1.0)];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut x_on_a = 0;
        for _ in 0..2000 {
            let (a, b) = choose_pair(&models, &mut rng).unwrap();
            assert_ne!(a.id, b.id);
            if a.key == "x" {
                x_on_a += 1;
            }
        }
        assert!((900..1100).contains(&x_on_a), "{x_on_a}");
    }

    #[test]
    fn weights_steer_sampling_and_zero_weight_is_never_drawn() {
        let models = vec![
            model("heavy", 8.0),
            model("light", 1.0),
            model("light2", 1.0),
            model("off", 0.0),
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut heavy = 0;
        for _ in 0..2000 {
            let (a, b) = choose_pair(&models, &mut rng).unwrap();
            assert!(a.key != "off" && b.key != "off");
            if a.key == "heavy" || b.key == "heavy" {
                heavy += 1;
            }
        }
        // heavy is in nearly every pair: P = 1 - P(both lights) = 1 - (0.1·1/9 + 0.1·1/9) ≈ 0.978
        assert!(heavy > 1900, "{heavy}");
    }

    #[test]
    fn fewer_than_two_candidates_gives_no_pair() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(choose_pair(&[model("a", 1.0)], &mut rng).is_none());
        assert!(choose_pair(&[model("a", 1.0), model("b", 0.0)], &mut rng).is_none());
    }
}
