//! The models on offer and their worker endpoints: seeded from the configuration at first
//! start, kept in Postgres, mirrored in memory and pushed to the inference gateway.

use crate::config::ModelSeed;
use crate::error::ArenaResult;
use crate::pairing::Policy;
use crate::secrets::Sealer;
use arena_inference::{EndpointConfig, Gateway};
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
    /// At least one endpoint is enabled (set by [`Catalog::reload`]): a model that cannot be
    /// served has no pair in any table, so the console never shows it a probability.
    #[sqlx(skip)]
    #[serde(skip)]
    pub servable: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub model_id: Uuid,
    pub base_url: String,
    pub upstream_model: String,
    /// Seeded from the configuration file.
    pub api_key: Option<String>,
    /// Entered in the console, sealed with `secrets.key`.
    pub api_key_sealed: Option<Vec<u8>>,
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

/// The pairing policy in force and the probability of each pair (see [`crate::pairing`]).
#[derive(Default)]
struct Pairing {
    policy: Policy,
    table: Vec<((Uuid, Uuid), f64)>,
}

/// In-memory mirror of the `model` table (all models, active or not) and the pairing table.
#[derive(Clone, Default)]
pub struct Catalog {
    models: Arc<RwLock<HashMap<Uuid, Model>>>,
    pairing: Arc<RwLock<Pairing>>,
    /// Reloads run one at a time, so they apply in the order they read: a reload that
    /// started before a change committed can never overwrite one that started after it.
    reloading: Arc<tokio::sync::Mutex<()>>,
    /// The same for the pairing table's recomputations.
    pub(crate) refreshing: Arc<tokio::sync::Mutex<()>>,
}

impl Catalog {
    /// Reloads models and endpoints from the database and hands the endpoints to the gateway.
    /// Retired models keep their endpoints in the gateway (a battle in progress keeps its
    /// models); they are never paired again.
    pub async fn reload(
        &self,
        pool: &PgPool,
        gateway: &Gateway,
        sealer: &Sealer,
    ) -> ArenaResult<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let mut models: Vec<Model> = sqlx::query_as(
            "select id, key, display_name, organization, license, description, active, weight,
                    temperature, top_p, max_tokens, system_prompt
             from model order by key",
        )
        .fetch_all(pool)
        .await?;
        let endpoints: Vec<Endpoint> = sqlx::query_as(
            "select id, model_id, base_url, upstream_model, api_key, api_key_sealed,
                    max_concurrency
             from model_endpoint where enabled order by created_at",
        )
        .fetch_all(pool)
        .await?;
        let mut by_model: HashMap<Uuid, Vec<EndpointConfig>> = HashMap::new();
        for e in endpoints {
            by_model
                .entry(e.model_id)
                .or_default()
                .push(endpoint_config(&e, sealer));
        }
        for model in &mut models {
            let endpoints = by_model.remove(&model.id).unwrap_or_default();
            model.servable = !endpoints.is_empty();
            if endpoints.is_empty() {
                gateway.remove_model(&model.key);
            } else {
                gateway.set_model_endpoints(&model.key, endpoints);
            }
        }
        let map = models.into_iter().map(|m| (m.id, m)).collect();
        *self.models.write().expect("catalog lock") = map;
        Ok(())
    }

    pub(crate) fn set_pairing(&self, policy: Policy, table: Vec<((Uuid, Uuid), f64)>) {
        *self.pairing.write().expect("catalog lock") = Pairing { policy, table };
    }

    /// The pairing table in force: each pair (lower id first) and its probability.
    pub fn pair_table(&self) -> Vec<((Uuid, Uuid), f64)> {
        self.pairing.read().expect("catalog lock").table.clone()
    }

    pub fn policy(&self) -> Policy {
        self.pairing.read().expect("catalog lock").policy.clone()
    }

    /// Two models for a new battle, among those `available` (see [`crate::pairing::draw`]).
    pub fn choose_pair(&self, available: impl Fn(&Model) -> bool) -> Option<(Model, Model)> {
        let models = self.models.read().expect("catalog lock");
        let pairing = self.pairing.read().expect("catalog lock");
        let ok = |id: Uuid| models.get(&id).is_some_and(|m| m.active && available(m));
        let (a, b) = crate::pairing::draw(&pairing.table, ok, &mut rand::rng())?;
        Some((models.get(&a)?.clone(), models.get(&b)?.clone()))
    }

    /// The pair table of a campaign's `pool` (`None`: every active model): the arena's policy
    /// restricted to the pool, or every pair equally often (`uniform`); weights normalised to
    /// probabilities.
    pub fn pair_table_in(
        &self,
        pool: Option<&std::collections::HashSet<Uuid>>,
        pairing: arena_domain::campaign::CampaignPairing,
    ) -> Vec<((Uuid, Uuid), f64)> {
        let mut table = self.pool_table(pool, pairing);
        let total: f64 = table.iter().map(|(_, w)| w).sum();
        if total > 0.0 {
            for (_, w) in &mut table {
                *w /= total;
            }
        }
        table
    }

    /// The unnormalised table [`Catalog::choose_pair_in`] draws from.
    fn pool_table(
        &self,
        pool: Option<&std::collections::HashSet<Uuid>>,
        pairing: arena_domain::campaign::CampaignPairing,
    ) -> Vec<((Uuid, Uuid), f64)> {
        use arena_domain::campaign::CampaignPairing;
        let models = self.models.read().expect("catalog lock");
        let in_pool = |id: &Uuid| pool.is_none_or(|p| p.contains(id));
        match pairing {
            CampaignPairing::Arena => self
                .pairing
                .read()
                .expect("catalog lock")
                .table
                .iter()
                .filter(|((a, b), _)| in_pool(a) && in_pool(b))
                .copied()
                .collect(),
            CampaignPairing::Uniform => {
                let mut ids: Vec<Uuid> = models
                    .values()
                    .filter(|m| m.active && m.servable && in_pool(&m.id))
                    .map(|m| m.id)
                    .collect();
                ids.sort_unstable();
                let mut pairs = Vec::new();
                for (i, a) in ids.iter().enumerate() {
                    for b in &ids[i + 1..] {
                        pairs.push(((*a, *b), 1.0));
                    }
                }
                pairs
            }
        }
    }

    /// Two models of a campaign's `pool` (`None`: every active model): drawn by the arena's
    /// policy restricted to the pool, or every pair equally often (`uniform`).
    pub fn choose_pair_in(
        &self,
        pool: Option<&std::collections::HashSet<Uuid>>,
        pairing: arena_domain::campaign::CampaignPairing,
        available: impl Fn(&Model) -> bool,
    ) -> Option<(Model, Model)> {
        use arena_domain::campaign::CampaignPairing;
        if pool.is_none() && pairing == CampaignPairing::Arena {
            return self.choose_pair(available);
        }
        let table = self.pool_table(pool, pairing);
        let models = self.models.read().expect("catalog lock");
        let ok = |id: Uuid| models.get(&id).is_some_and(|m| m.active && available(m));
        let (a, b) = crate::pairing::draw(&table, ok, &mut rand::rng())?;
        Some((models.get(&a)?.clone(), models.get(&b)?.clone()))
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

fn endpoint_config(e: &Endpoint, sealer: &Sealer) -> EndpointConfig {
    let mut config = EndpointConfig::new(e.base_url.clone(), e.upstream_model.clone());
    config.id = e.id.to_string();
    config.max_concurrency = e.max_concurrency.max(1) as usize;
    let sealed = e.api_key_sealed.as_ref().and_then(|s| {
        let opened = sealer.open(s);
        if opened.is_none() {
            tracing::warn!(endpoint.id = %e.id, "this endpoint's API key cannot be opened with secrets.key; calling it without one");
        }
        opened
    });
    config.api_key = e.api_key.clone().or(sealed).map(Into::into);
    config
}
