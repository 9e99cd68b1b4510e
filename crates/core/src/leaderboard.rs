//! The live leaderboard: Bradley–Terry (ties as half wins) with sandwich 95% intervals, fitted
//! on the aggregated `pair_count` table (never on the votes themselves), recorded as a rating
//! run so it can be reproduced exactly.

use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
pub use arena_domain::api::{LeaderboardEntry, LeaderboardFilter, LeaderboardView};
use arena_ratings::{CiMethod, Comparisons, FitOptions, PairCounts, fit};
use chrono::NaiveDate;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct CountRow {
    model_a_id: Uuid,
    model_b_id: Uuid,
    wins_a: i64,
    wins_b: i64,
    ties: i64,
    both_bad: i64,
}

impl Arena {
    /// Fits the leaderboard for `filter` and records the run.
    pub async fn leaderboard(&self, filter: LeaderboardFilter) -> ArenaResult<LeaderboardView> {
        let date = |d: &Option<String>, what: &str| -> ArenaResult<Option<NaiveDate>> {
            match d.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                None => Ok(None),
                Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| {
                        ArenaError::invalid(
                            "invalid_date",
                            format!("{what} must be a date like 2026-11-24"),
                        )
                    }),
            }
        };
        let from = date(&filter.from, "from")?;
        let to = date(&filter.to, "to")?;
        let language = filter.language.clone().filter(|l| !l.trim().is_empty());
        let mut tx = self.pool.begin().await?;
        // A consistent snapshot of counts and the vote high-water mark.
        sqlx::query("set transaction isolation level repeatable read")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<CountRow> = sqlx::query_as(
            "select model_a_id, model_b_id, sum(wins_a)::bigint as wins_a,
                    sum(wins_b)::bigint as wins_b, sum(ties)::bigint as ties,
                    sum(both_bad)::bigint as both_bad
             from pair_count
             where ($1::text is null or language = $1)
               and ($2::date is null or day >= $2) and ($3::date is null or day <= $3)
             group by model_a_id, model_b_id",
        )
        .bind(&language)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        let (max_vote_id, vote_count): (i64, i64) =
            sqlx::query_as("select coalesce(max(id), 0), count(*) from vote where counted")
                .fetch_one(&mut *tx)
                .await?;

        let models = self.catalog.all();
        let by_id: HashMap<Uuid, &crate::catalog::Model> =
            models.iter().map(|m| (m.id, m)).collect();
        let mut comparisons = Comparisons::new();
        for m in models.iter().filter(|m| m.active) {
            comparisons.register(&m.key);
        }
        for r in &rows {
            let (Some(a), Some(b)) = (by_id.get(&r.model_a_id), by_id.get(&r.model_b_id)) else {
                continue;
            };
            let counts = PairCounts {
                wins_a: r.wins_a.max(0) as u64,
                wins_b: r.wins_b.max(0) as u64,
                ties: r.ties.max(0) as u64,
                both_bad: r.both_bad.max(0) as u64,
            };
            comparisons
                .add(&a.key, &b.key, counts)
                .map_err(|e| ArenaError::Internal(e.to_string()))?;
        }
        let options = FitOptions {
            ci: CiMethod::Sandwich,
            ..FitOptions::default()
        };
        let (fitted, warnings, ridge) = tokio::task::spawn_blocking(move || {
            match fit(&comparisons, &options) {
                Ok(board) => (Some(board), Vec::new(), 0.0),
                Err(e) => {
                    // Too few votes for a finite MLE: a small ridge keeps the view honest and
                    // says so.
                    let ridged = FitOptions {
                        ridge: 0.01,
                        ..options.clone()
                    };
                    match fit(&comparisons, &ridged) {
                        Ok(board) => (
                            Some(board),
                            vec![format!("{e}; shown with a small ridge penalty (0.01)")],
                            0.01,
                        ),
                        Err(e2) => (None, vec![e2.to_string()], 0.0),
                    }
                }
            }
        })
        .await
        .map_err(|e| ArenaError::Internal(e.to_string()))?;

        let mut entries: Vec<LeaderboardEntry> = models
            .iter()
            .filter(|m| m.active)
            .map(|m| {
                let row = fitted
                    .as_ref()
                    .and_then(|b| b.rows.iter().find(|r| r.model == m.key));
                LeaderboardEntry {
                    rank: row.and_then(|r| r.rank),
                    model: m.key.clone(),
                    display_name: m.display_name.clone(),
                    organization: m.organization.clone(),
                    license: m.license.clone(),
                    rating: row.and_then(|r| r.rating),
                    ci_lower: row.and_then(|r| r.ci_lower),
                    ci_upper: row.and_then(|r| r.ci_upper),
                    votes: row.map_or(0, |r| r.votes),
                }
            })
            .collect();
        entries.sort_by(|a, b| {
            b.rating
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.rating.unwrap_or(f64::NEG_INFINITY))
                .then_with(|| a.model.cmp(&b.model))
        });
        let index: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.model.as_str(), i))
            .collect();
        let n = entries.len();
        let mut battles = vec![vec![0u64; n]; n];
        let mut score = vec![vec![0f64; n]; n];
        for r in &rows {
            let (Some(a), Some(b)) = (by_id.get(&r.model_a_id), by_id.get(&r.model_b_id)) else {
                continue;
            };
            let (Some(&i), Some(&j)) = (index.get(a.key.as_str()), index.get(b.key.as_str()))
            else {
                continue;
            };
            let total = (r.wins_a + r.wins_b + r.ties + r.both_bad).max(0) as u64;
            let half = (r.ties + r.both_bad) as f64 / 2.0;
            battles[i][j] += total;
            battles[j][i] += total;
            score[i][j] += r.wins_a as f64 + half;
            score[j][i] += r.wins_b as f64 + half;
        }
        let win_rate = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (battles[i][j] > 0).then(|| score[i][j] / battles[i][j] as f64))
                    .collect()
            })
            .collect();

        let method = "bradley-terry (ties as half wins), sandwich 95% CI".to_owned();
        let result = serde_json::json!({"entries": entries, "warnings": warnings});
        let (run_id, created): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
            "insert into rating_run (method, params, seed, max_vote_id, vote_count, language,
                                     date_from, date_to, result)
             values ($1, $2, null, $3, $4, $5, $6, $7, $8) returning id, created_at",
        )
        .bind(&method)
        .bind(serde_json::json!({"ties": "half", "ci": "sandwich", "ridge": ridge, "tolerance": 1e-10}))
        .bind(max_vote_id)
        .bind(vote_count)
        .bind(&language)
        .bind(from)
        .bind(to)
        .bind(&result)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(LeaderboardView {
            run_id,
            method,
            max_vote_id,
            vote_count,
            computed_at: created.to_rfc3339(),
            filter,
            entries,
            warnings,
            battles,
            win_rate,
        })
    }
}
