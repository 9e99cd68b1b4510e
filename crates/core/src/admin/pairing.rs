//! The pairing policy in the console: mode, uniform floor, warm-up, per-pair boosts and
//! exclusions (per-model weights are edited with the model). The public view
//! (`GET /api/v1/pairing`) shows the policy and the realised sampling of every pair over the
//! last day, so researchers can correct for it.

use super::{Admin, audit, field};
use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use crate::pairing::ordered;
use arena_domain::admin::{PairRate, PairRuleInput, PairRuleView, PairingPolicyInput, PairingView};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

impl Arena {
    /// The pairing policy, every pair's current probability and its realised share of the
    /// battles started in the last 24 hours, in one campaign (`None`: the default arena):
    /// its battles only, and the probabilities its pool and pairing give.
    pub async fn pairing_view(&self, campaign: Option<&str>) -> ArenaResult<PairingView> {
        let policy = self.load_policy().await?;
        let campaign = match campaign {
            Some(slug) => {
                crate::campaigns::by_slug(&self.pool, &crate::campaigns::parse_slug(slug)?).await?
            }
            None => crate::campaigns::default_campaign(&self.pool).await?,
        };
        let rules = campaign.battle_rules_for_pairing();
        let table = self.catalog.pair_table_in(rules.0.as_ref(), rules.1);
        let realised: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
            "select least(model_a_id, model_b_id), greatest(model_a_id, model_b_id), count(*)
             from battle where created_at > now() - interval '1 day' and campaign_id = $1
             group by 1, 2",
        )
        .bind(campaign.id)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = realised.iter().map(|(.., n)| n).sum();
        let mut realised: HashMap<(Uuid, Uuid), i64> =
            realised.into_iter().map(|(a, b, n)| ((a, b), n)).collect();
        let key = |id: Uuid| {
            self.catalog
                .get(id)
                .map_or_else(|| id.to_string(), |m| m.key)
        };
        let mut pairs: Vec<PairRate> = Vec::new();
        for ((a, b), p) in table {
            let n = realised.remove(&(a, b)).unwrap_or(0);
            pairs.push(PairRate {
                model_a: key(a),
                model_b: key(b),
                probability: p,
                battles_last_day: n,
                realised_share: if total > 0 {
                    n as f64 / total as f64
                } else {
                    0.0
                },
            });
        }
        // Pairs drawn in the last day that the policy no longer draws.
        for ((a, b), n) in realised {
            pairs.push(PairRate {
                model_a: key(a),
                model_b: key(b),
                probability: 0.0,
                battles_last_day: n,
                realised_share: n as f64 / total as f64,
            });
        }
        pairs.sort_by(|x, y| (&x.model_a, &x.model_b).cmp(&(&y.model_a, &y.model_b)));
        let mut rules: Vec<PairRuleView> = policy
            .rules
            .iter()
            .map(|((a, b), (boost, excluded))| PairRuleView {
                model_a: key(*a),
                model_b: key(*b),
                boost: *boost,
                excluded: *excluded,
            })
            .collect();
        rules.sort_by(|x, y| (&x.model_a, &x.model_b).cmp(&(&y.model_a, &y.model_b)));
        Ok(PairingView {
            mode: policy.mode,
            uniform_floor: policy.uniform_floor,
            warmup_votes: policy.warmup_votes as i32,
            warmup_boost: policy.warmup_boost,
            version: policy.version,
            rules,
            battles_last_day: total,
            pairs,
        })
    }
}

fn policy_json(p: &crate::pairing::Policy) -> serde_json::Value {
    json!({
        "mode": p.mode.as_str(), "uniform_floor": p.uniform_floor,
        "warmup_votes": p.warmup_votes, "warmup_boost": p.warmup_boost, "version": p.version,
    })
}

impl Admin {
    /// Changes the policy; `version` must be the current one (409 otherwise).
    pub async fn set_pairing_policy(&self, input: PairingPolicyInput) -> ArenaResult<PairingView> {
        input.check().map_err(field)?;
        let version = input.version.ok_or_else(|| {
            ArenaError::invalid(
                "invalid_field",
                "version: send the version the form was loaded at",
            )
        })?;
        let before = self.arena.load_policy().await?;
        let mut tx = self.arena.pool.begin().await?;
        let updated = sqlx::query(
            "update pairing_policy set mode = $1, uniform_floor = $2, warmup_votes = $3,
                    warmup_boost = $4, version = version + 1, updated_at = now()
             where id = 1 and version = $5",
        )
        .bind(input.mode.as_str())
        .bind(input.uniform_floor)
        .bind(input.warmup_votes)
        .bind(input.warmup_boost)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(ArenaError::conflict(
                "edited_concurrently",
                "someone else changed the pairing policy meanwhile; reload and try again",
            ));
        }
        audit(
            &mut tx,
            &self.actor,
            "pairing.policy",
            "pairing",
            Some(policy_json(&before)),
            Some(json!({
                "mode": input.mode.as_str(), "uniform_floor": input.uniform_floor,
                "warmup_votes": input.warmup_votes, "warmup_boost": input.warmup_boost,
                "version": version + 1,
            })),
        )
        .await?;
        tx.commit().await?;
        self.arena.refresh_pairing().await?;
        self.arena.pairing_view(None).await
    }

    async fn model_id(&self, key: &str, field_name: &str) -> ArenaResult<Uuid> {
        let id: Option<Uuid> = sqlx::query_scalar("select id from model where key = $1")
            .bind(key.trim())
            .fetch_optional(&self.arena.pool)
            .await?;
        id.ok_or_else(|| {
            ArenaError::invalid(
                "invalid_field",
                format!("{field_name}: no model has this key"),
            )
        })
    }

    /// Sets the rule of one pair: a boost factor, or excluded. A boost of 1 that is not
    /// excluded removes the rule.
    pub async fn set_pair_rule(&self, input: PairRuleInput) -> ArenaResult<PairingView> {
        input.check().map_err(field)?;
        let a = self.model_id(&input.model_a, "model_a").await?;
        let b = self.model_id(&input.model_b, "model_b").await?;
        let (lo, hi) = ordered(a, b);
        let mut tx = self.arena.pool.begin().await?;
        let before: Option<(f64, bool)> = sqlx::query_as(
            "select boost, excluded from pair_rule where model_lo = $1 and model_hi = $2 for update",
        )
        .bind(lo)
        .bind(hi)
        .fetch_optional(&mut *tx)
        .await?;
        let neutral = input.boost == 1.0 && !input.excluded;
        if neutral {
            sqlx::query("delete from pair_rule where model_lo = $1 and model_hi = $2")
                .bind(lo)
                .bind(hi)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "insert into pair_rule (model_lo, model_hi, boost, excluded) values ($1, $2, $3, $4)
                 on conflict (model_lo, model_hi) do update
                     set boost = excluded.boost, excluded = excluded.excluded",
            )
            .bind(lo)
            .bind(hi)
            .bind(input.boost)
            .bind(input.excluded)
            .execute(&mut *tx)
            .await?;
        }
        let rule = |r: Option<(f64, bool)>| {
            r.map(|(boost, excluded)| json!({ "boost": boost, "excluded": excluded }))
        };
        audit(
            &mut tx,
            &self.actor,
            "pairing.rule",
            &format!("pair:{}+{}", input.model_a.trim(), input.model_b.trim()),
            rule(before),
            rule((!neutral).then_some((input.boost, input.excluded))),
        )
        .await?;
        tx.commit().await?;
        self.arena.refresh_pairing().await?;
        self.arena.pairing_view(None).await
    }
}
