//! The pairing policy: which two models the next battle shows. Every pair of active models gets
//! a probability; a battle draws one among the pairs whose models are both available now.
//!
//! - `weighted`: pair {i, j} ∝ wᵢ·wⱼ (per-model weights).
//! - `active`: pair ∝ (1 − floor)·score/Σscore + floor/#pairs, where a pair's score is how much
//!   one more vote on it is expected to shrink the leaderboard's widest intervals
//!   ([`arena_ratings::active`]), then × wᵢ·wⱼ (a weight of 0 still takes a model out).
//!
//! Both then multiply a boosted pair by its factor, a model still warming up (fewer counted
//! votes than `warmup_votes`) by `warmup_boost`, and give excluded pairs 0. The table is
//! recomputed when the catalog reloads (any process's change) and every few seconds, from the
//! counts and the latest default leaderboard.

use crate::Arena;
use crate::catalog::Model;
use crate::error::ArenaResult;
use arena_domain::admin::PairingMode;
use arena_ratings::ELO_PER_NATURAL_UNIT;
use arena_ratings::active::{ActiveOptions, PairVotes, pair_probabilities};
use rand::Rng;
use std::collections::HashMap;
use uuid::Uuid;

/// The policy row and its pair rules, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub mode: PairingMode,
    pub uniform_floor: f64,
    pub warmup_votes: i64,
    pub warmup_boost: f64,
    pub version: i32,
    /// (lower id, higher id) → (boost, excluded)
    pub rules: HashMap<(Uuid, Uuid), (f64, bool)>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            mode: PairingMode::Weighted,
            uniform_floor: 0.2,
            warmup_votes: 0,
            warmup_boost: 1.0,
            version: 0,
            rules: HashMap::new(),
        }
    }
}

pub fn ordered(a: Uuid, b: Uuid) -> (Uuid, Uuid) {
    if a < b { (a, b) } else { (b, a) }
}

/// The state the probabilities are computed from.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    /// Counted votes per model (warm-up).
    pub votes_per_model: HashMap<Uuid, i64>,
    /// Counted votes per unordered pair (active sampling).
    pub votes_per_pair: HashMap<(Uuid, Uuid), i64>,
    /// Current ratings in Elo, by model id (active sampling; missing: the mean).
    pub elo: HashMap<Uuid, f64>,
}

/// Probability of each unordered pair (lower id first) of the active models with a positive
/// weight. Sums to 1 unless no pair may be drawn (then empty).
pub fn pair_table(models: &[Model], policy: &Policy, inputs: &Inputs) -> Vec<((Uuid, Uuid), f64)> {
    let pool: Vec<&Model> = models
        .iter()
        .filter(|m| m.active && m.servable && m.weight > 0.0)
        .collect();
    let n = pool.len();
    if n < 2 {
        return Vec::new();
    }
    let base: Vec<f64> = match policy.mode {
        PairingMode::Weighted => vec![1.0; arena_ratings::active::pair_count(n)],
        PairingMode::Active => {
            let mean = if inputs.elo.is_empty() {
                0.0
            } else {
                inputs.elo.values().sum::<f64>() / inputs.elo.len() as f64
            };
            let theta: Vec<f64> = pool
                .iter()
                .map(|m| {
                    (inputs.elo.get(&m.id).copied().unwrap_or(mean) - mean) / ELO_PER_NATURAL_UNIT
                })
                .collect();
            let index: HashMap<Uuid, usize> =
                pool.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
            let votes: Vec<PairVotes> = inputs
                .votes_per_pair
                .iter()
                .filter_map(|((a, b), &n)| {
                    Some(PairVotes {
                        a: *index.get(a)?,
                        b: *index.get(b)?,
                        votes: n.max(0) as u64,
                    })
                })
                .collect();
            let options = ActiveOptions {
                floor: policy.uniform_floor.clamp(0.0, 1.0),
                ..ActiveOptions::default()
            };
            match pair_probabilities(&theta, &votes, &options) {
                Ok(p) => p.into_iter().map(|p| p.probability).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "active sampling failed; sampling uniformly");
                    vec![1.0; arena_ratings::active::pair_count(n)]
                }
            }
        }
    };
    let warm = |m: &Model| {
        if inputs.votes_per_model.get(&m.id).copied().unwrap_or(0) < policy.warmup_votes {
            policy.warmup_boost
        } else {
            1.0
        }
    };
    let mut out = Vec::with_capacity(base.len());
    let mut k = 0;
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (pool[i], pool[j]);
            let key = ordered(a.id, b.id);
            let (boost, excluded) = policy.rules.get(&key).copied().unwrap_or((1.0, false));
            let p = if excluded {
                0.0
            } else {
                base[k] * a.weight * b.weight * warm(a) * warm(b) * boost
            };
            out.push((key, p));
            k += 1;
        }
    }
    let total: f64 = out.iter().map(|(_, p)| p).sum();
    if !(total > 0.0 && total.is_finite()) {
        return Vec::new();
    }
    out.retain(|(_, p)| *p > 0.0);
    for (_, p) in &mut out {
        *p /= total;
    }
    out
}

/// Draws a pair among those whose models are both `available`, in random order (side A is
/// not favoured).
pub fn draw<R: Rng + ?Sized>(
    table: &[((Uuid, Uuid), f64)],
    available: impl Fn(Uuid) -> bool,
    rng: &mut R,
) -> Option<(Uuid, Uuid)> {
    let open: Vec<&((Uuid, Uuid), f64)> = table
        .iter()
        .filter(|((a, b), _)| available(*a) && available(*b))
        .collect();
    let total: f64 = open.iter().map(|(_, p)| p).sum();
    if open.is_empty() || total <= 0.0 {
        return None;
    }
    let mut x = rng.random_range(0.0..total);
    let mut chosen = open[open.len() - 1].0;
    for (pair, p) in open {
        if x < *p {
            chosen = *pair;
            break;
        }
        x -= p;
    }
    Some(if rng.random_bool(0.5) {
        chosen
    } else {
        (chosen.1, chosen.0)
    })
}

impl Arena {
    pub(crate) async fn load_policy(&self) -> ArenaResult<Policy> {
        let (mode, uniform_floor, warmup_votes, warmup_boost, version): (
            String,
            f64,
            i32,
            f64,
            i32,
        ) = sqlx::query_as(
            "select mode, uniform_floor, warmup_votes, warmup_boost, version
                 from pairing_policy where id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        let rules: Vec<(Uuid, Uuid, f64, bool)> =
            sqlx::query_as("select model_lo, model_hi, boost, excluded from pair_rule")
                .fetch_all(&self.pool)
                .await?;
        Ok(Policy {
            mode: mode.parse().unwrap_or(PairingMode::Weighted),
            uniform_floor,
            warmup_votes: i64::from(warmup_votes),
            warmup_boost,
            version,
            rules: rules
                .into_iter()
                .map(|(a, b, boost, excluded)| ((a, b), (boost, excluded)))
                .collect(),
        })
    }

    /// Current ratings (Elo) by model id, from the latest default leaderboard run.
    async fn current_elo(&self) -> ArenaResult<HashMap<Uuid, f64>> {
        let result: Option<serde_json::Value> = sqlx::query_scalar(
            "select result from rating_run where refresh order by id desc limit 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let by_key: HashMap<String, Uuid> = self
            .catalog
            .all()
            .into_iter()
            .map(|m| (m.key, m.id))
            .collect();
        let mut out = HashMap::new();
        if let Some(entries) = result.as_ref().and_then(|r| r["entries"].as_array()) {
            for e in entries {
                if let (Some(key), Some(rating)) = (e["model"].as_str(), e["rating"].as_f64())
                    && let Some(id) = by_key.get(key)
                {
                    out.insert(*id, rating);
                }
            }
        }
        Ok(out)
    }

    /// Recomputes the pair table from the policy, the counts and the ratings (one
    /// recomputation at a time, so the last one to start is the one in force).
    pub async fn refresh_pairing(&self) -> ArenaResult<()> {
        let _one_at_a_time = self.catalog.refreshing.lock().await;
        let policy = self.load_policy().await?;
        let inputs = Inputs {
            votes_per_model: self.counted_votes_per_model().await?,
            votes_per_pair: if policy.mode == PairingMode::Active {
                self.counted_votes_per_pair().await?
            } else {
                HashMap::new()
            },
            elo: if policy.mode == PairingMode::Active {
                self.current_elo().await?
            } else {
                HashMap::new()
            },
        };
        let table = pair_table(&self.catalog.all(), &policy, &inputs);
        self.catalog.set_pairing(policy, table);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn model(key: &str, weight: f64) -> Model {
        Model {
            id: Uuid::now_v7(),
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
            servable: true,
        }
    }

    fn share(table: &[((Uuid, Uuid), f64)], a: &Model, b: &Model) -> f64 {
        let key = ordered(a.id, b.id);
        table
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0.0, |(_, p)| *p)
    }

    #[test]
    fn weights_boosts_exclusions_and_warm_up() {
        let (x, y, z) = (model("x", 2.0), model("y", 1.0), model("z", 1.0));
        let off = model("off", 0.0);
        let models = vec![x.clone(), y.clone(), z.clone(), off.clone()];
        let mut policy = Policy::default();
        let t = pair_table(&models, &policy, &Inputs::default());
        assert_eq!(t.len(), 3, "the weight-0 model is never paired");
        // x·y = 2, x·z = 2, y·z = 1
        assert!((share(&t, &x, &y) - 0.4).abs() < 1e-12);
        assert!((share(&t, &y, &z) - 0.2).abs() < 1e-12);
        policy.rules.insert(ordered(y.id, z.id), (3.0, false));
        policy.rules.insert(ordered(x.id, z.id), (1.0, true));
        let t = pair_table(&models, &policy, &Inputs::default());
        assert_eq!(share(&t, &x, &z), 0.0);
        assert!((share(&t, &y, &z) - 0.6).abs() < 1e-12, "{t:?}");
        // z is new (no votes): its pairs are boosted until it has 10.
        let mut policy = Policy {
            warmup_votes: 10,
            warmup_boost: 4.0,
            ..Policy::default()
        };
        let mut inputs = Inputs::default();
        inputs.votes_per_model.insert(x.id, 50);
        inputs.votes_per_model.insert(y.id, 50);
        let t = pair_table(&models, &policy, &inputs);
        // x·y = 2, x·z = 8, y·z = 4
        assert!((share(&t, &x, &z) - 8.0 / 14.0).abs() < 1e-12);
        policy.warmup_votes = 0;
        assert!((share(&pair_table(&models, &policy, &inputs), &x, &z) - 0.4).abs() < 1e-12);
    }

    #[test]
    fn a_model_with_no_enabled_endpoint_gets_no_probability() {
        let (x, y) = (model("x", 1.0), model("y", 1.0));
        let mut unserved = model("unserved", 1.0);
        unserved.servable = false;
        let models = vec![x.clone(), y.clone(), unserved.clone()];
        let t = pair_table(&models, &Policy::default(), &Inputs::default());
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(share(&t, &x, &unserved), 0.0);
        assert!((share(&t, &x, &y) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn active_sampling_prefers_unmeasured_pairs_and_keeps_a_floor() {
        let (x, y, z) = (model("x", 1.0), model("y", 1.0), model("z", 1.0));
        let models = vec![x.clone(), y.clone(), z.clone()];
        let policy = Policy {
            mode: PairingMode::Active,
            uniform_floor: 0.3,
            ..Policy::default()
        };
        let mut inputs = Inputs::default();
        inputs.votes_per_pair.insert(ordered(x.id, y.id), 5000);
        inputs.votes_per_pair.insert(ordered(x.id, z.id), 10);
        inputs.votes_per_pair.insert(ordered(y.id, z.id), 10);
        let t = pair_table(&models, &policy, &inputs);
        let total: f64 = t.iter().map(|(_, p)| p).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(share(&t, &x, &y) < share(&t, &x, &z));
        assert!(share(&t, &x, &y) >= 0.3 / 3.0 - 1e-12, "the floor: {t:?}");
    }

    #[test]
    fn draws_only_available_pairs_in_either_order() {
        let (x, y, z) = (model("x", 1.0), model("y", 1.0), model("z", 1.0));
        let t = pair_table(
            &[x.clone(), y.clone(), z.clone()],
            &Policy::default(),
            &Inputs::default(),
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut x_first = 0;
        for _ in 0..2000 {
            let (a, b) = draw(&t, |id| id != z.id, &mut rng).unwrap();
            assert!(a != z.id && b != z.id && a != b);
            if a == x.id {
                x_first += 1;
            }
        }
        assert!((900..1100).contains(&x_first), "{x_first}");
        assert!(draw(&t, |id| id == x.id, &mut rng).is_none());
    }
}
