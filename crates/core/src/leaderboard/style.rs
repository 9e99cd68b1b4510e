//! The style-controlled leaderboard: [`arena_ratings::style::fit_style`] on the counted votes
//! (not voided) with their two answers' style features (tokens, headers, list items, bold spans,
//! stored with each answer), under the same vote filters as the main view (language, chosen or
//! detected; dates; category; campaign).
//!
//! It reads the votes themselves, so it costs more than the main fit (which reads the counts):
//! it is fitted once per filter and counted-set mark and stored (`style_run`, shared by every
//! process, with the snapshot it read: a run that missed a vote in flight is not reused); a new
//! fit passes the caller's limiter and runs one at a time; no connection is held while fitting.

use super::Spec;
use super::compute::BOOTSTRAP_SLOT as COMPUTE_SLOT;
use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::api::{LeaderboardFilter, StyleCoefficientView, StyleEntry, StyleView};
use arena_ratings::Outcome;
use arena_ratings::style::{StyleOptions, StyledVote, fit_style};
use std::collections::HashMap;
use uuid::Uuid;

const METHOD: &str = "Bradley–Terry with style control (length, headers, lists, bold as \
                      covariates; ties as half wins), sandwich 95% CI";

#[derive(sqlx::FromRow)]
struct Row {
    model_a_id: Uuid,
    model_b_id: Uuid,
    winner: String,
    a: Vec<i32>,
    b: Vec<i32>,
}

impl Arena {
    /// The style-controlled leaderboard for `filter` (the votes the main view would fit; its
    /// tie model and interval options do not apply, and imported sources have no style
    /// features). `admit` is asked before a new fit.
    pub async fn style_leaderboard<Admit: std::future::Future<Output = ArenaResult<()>>>(
        &self,
        filter: LeaderboardFilter,
        admit: impl FnOnce() -> Admit,
    ) -> ArenaResult<StyleView> {
        if filter
            .source
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
        {
            return Err(ArenaError::invalid(
                "invalid_source",
                "style control fits the arena's own votes (an imported source has no answers \
                 to measure)",
            ));
        }
        let spec = Spec::parse(&LeaderboardFilter {
            language: filter.language,
            from: filter.from,
            to: filter.to,
            category: filter.category,
            language_by: filter.language_by,
            campaign: filter.campaign,
            ..LeaderboardFilter::default()
        })?;
        if let Some(slug) = &spec.campaign {
            crate::campaigns::by_slug(&self.pool, slug).await?;
        }
        let view_filter = LeaderboardFilter {
            ci: None,
            ties: None,
            ..spec.filter()
        };
        let key = serde_json::to_string(&view_filter).unwrap_or_default();
        let mark: i64 = sqlx::query_scalar(super::counts::COUNTED_MARK)
            .fetch_one(&self.pool)
            .await?;
        if let Some(view) = self.stored_style(&key, mark).await? {
            return Ok(view);
        }
        admit().await?;
        let _slot = COMPUTE_SLOT
            .acquire()
            .await
            .map_err(|e| ArenaError::Internal(e.to_string()))?;
        // Another request may have fitted it meanwhile.
        if let Some(view) = self.stored_style(&key, mark).await? {
            return Ok(view);
        }
        let mut tx = self.rating_pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let mark: i64 = sqlx::query_scalar(super::counts::COUNTED_MARK)
            .fetch_one(&mut *tx)
            .await?;
        let snapshot: String = sqlx::query_scalar("select pg_current_snapshot()::text")
            .fetch_one(&mut *tx)
            .await?;
        let sql = format!(
            "select b.model_a_id, b.model_b_id, v.winner,
                    array[coalesce(aa.token_count, 0)::int, coalesce(aa.header_count, 0)::int,
                          coalesce(aa.list_count, 0)::int, coalesce(aa.bold_count, 0)::int] as a,
                    array[coalesce(ab.token_count, 0)::int, coalesce(ab.header_count, 0)::int,
                          coalesce(ab.list_count, 0)::int, coalesce(ab.bold_count, 0)::int] as b
             from vote v
             join battle b on b.id = v.battle_id
             join battle_turn t on t.id = v.turn_id
             join answer aa on aa.turn_id = v.turn_id and aa.side = 'a' and not aa.discarded
             join answer ab on ab.turn_id = v.turn_id and ab.side = 'b' and not ab.discarded
             where v.counted and not v.voided
               and ($1::text is null or {language} = $1)
               and ($2::date is null or (v.created_at at time zone 'utc')::date >= $2)
               and ($3::date is null or (v.created_at at time zone 'utc')::date <= $3)
               and {category}
               and {in_campaign}",
            language = super::category::language_column(spec.detected_language),
            category = super::category::condition(spec.category),
            in_campaign = super::category::in_campaign("$4"),
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&spec.language)
            .bind(spec.from)
            .bind(spec.to)
            .bind(&spec.campaign)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let catalog = self.catalog.all();
        let index: HashMap<Uuid, u32> = catalog
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id, i as u32))
            .collect();
        let keys: Vec<String> = catalog.iter().map(|m| m.key.clone()).collect();
        let names: HashMap<String, String> = catalog
            .iter()
            .map(|m| (m.key.clone(), m.display_name.clone()))
            .collect();
        let mut votes = Vec::with_capacity(rows.len());
        for r in rows {
            let (Some(&a), Some(&b)) = (index.get(&r.model_a_id), index.get(&r.model_b_id)) else {
                continue;
            };
            let outcome = match r.winner.as_str() {
                "model_a" => Outcome::WinA,
                "model_b" => Outcome::WinB,
                "tie" => Outcome::Tie,
                _ => Outcome::BothBad,
            };
            let features = |f: &[i32]| -> [f32; 4] {
                let mut out = [0.0; 4];
                for (o, v) in out.iter_mut().zip(f) {
                    *o = *v as f32;
                }
                out
            };
            votes.push(StyledVote {
                model_a: a,
                model_b: b,
                outcome,
                style_a: features(&r.a),
                style_b: features(&r.b),
            });
        }
        let vote_count = votes.len() as i64;
        let fit =
            tokio::task::spawn_blocking(move || fit_style(&keys, &votes, &StyleOptions::default()))
                .await
                .map_err(|e| ArenaError::Internal(e.to_string()))?
                .map_err(|e| {
                    ArenaError::invalid(
                        "too_few_votes",
                        format!(
                            "the style-controlled ranking cannot be fitted on these votes yet: {e}"
                        ),
                    )
                })?;
        let mut view = StyleView {
            run_id: 0,
            method: METHOD.into(),
            max_vote_id: mark,
            vote_count,
            computed_at: String::new(),
            filter: view_filter,
            entries: fit
                .rows
                .into_iter()
                .map(|r| StyleEntry {
                    rank: r.rank,
                    display_name: names.get(&r.model).cloned().unwrap_or(r.model.clone()),
                    model: r.model,
                    rating: r.rating,
                    ci_lower: r.ci_lower,
                    ci_upper: r.ci_upper,
                    votes: r.votes,
                })
                .collect(),
            coefficients: fit
                .coefficients
                .into_iter()
                .map(|c| StyleCoefficientView {
                    feature: c.feature,
                    elo: c.elo,
                    ci_lower: c.ci_lower,
                    ci_upper: c.ci_upper,
                })
                .collect(),
        };
        let result =
            serde_json::to_value(&view).map_err(|e| ArenaError::Internal(e.to_string()))?;
        let (id, created): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
            "insert into style_run (options_key, max_vote_id, vote_count, result, snapshot)
             values ($1, $2, $3, $4, $5) returning id, created_at",
        )
        .bind(&key)
        .bind(mark)
        .bind(vote_count)
        .bind(&result)
        .bind(&snapshot)
        .fetch_one(&self.pool)
        .await?;
        view.run_id = id;
        view.computed_at = created.to_rfc3339();
        Ok(view)
    }

    /// The newest stored run of `key` at counted mark `mark` that is still current: no
    /// transaction in progress at its snapshot has since committed a counted vote or a void
    /// event ([`super::counts::missed_in_flight`], as for the main view). A run without a
    /// snapshot predates them.
    async fn stored_style(&self, key: &str, mark: i64) -> ArenaResult<Option<StyleView>> {
        let sql = format!(
            "select r.id, r.created_at, r.result from style_run r
             where r.options_key = $1 and r.max_vote_id = $2 and not {missed}
             order by r.id desc limit 1",
            missed = super::counts::missed_in_flight("r.snapshot"),
        );
        let row: Option<(i64, chrono::DateTime<chrono::Utc>, serde_json::Value)> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .bind(mark)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(id, created, result)| {
            let mut view: StyleView = serde_json::from_value(result).ok()?;
            view.run_id = id;
            view.computed_at = created.to_rfc3339();
            Some(view)
        }))
    }
}
