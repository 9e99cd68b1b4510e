//! Static benchmarks beside the arena: each model's scores next to the rating a leaderboard view
//! shows, and each benchmark's rank correlation with the arena (Spearman's ρ, Kendall's τ-b,
//! bootstrap intervals over the models: [`arena_ratings::correlation`]).

use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::api::LeaderboardFilter;
use arena_domain::benchmark::{BenchmarkCorrelation, BenchmarkReport, BenchmarkRow};
use arena_ratings::correlation::rank_agreement;
use std::collections::HashMap;

const ROUNDS: usize = 1000;
const SEED: u64 = 1;

impl Arena {
    /// The benchmark scores beside the ratings of the leaderboard view `filter` (a stored run
    /// whenever one fits; `admit` as for [`Arena::leaderboard`]).
    pub async fn benchmarks<Admit: std::future::Future<Output = ArenaResult<()>>>(
        &self,
        filter: LeaderboardFilter,
        admit: impl FnOnce() -> Admit,
    ) -> ArenaResult<BenchmarkReport> {
        let scores: Vec<(String, String, f64)> = sqlx::query_as(
            "select m.key, s.benchmark, s.score from benchmark_score s
             join model m on m.id = s.model_id order by s.benchmark, m.key",
        )
        .fetch_all(&self.pool)
        .await?;
        let view = self.leaderboard(filter, admit).await?;
        let mut benchmarks: Vec<String> = scores.iter().map(|s| s.1.clone()).collect();
        benchmarks.dedup();
        let by_cell: HashMap<(&str, &str), f64> = scores
            .iter()
            .map(|(m, b, s)| ((m.as_str(), b.as_str()), *s))
            .collect();
        let rows: Vec<BenchmarkRow> = view
            .entries
            .iter()
            .filter(|e| {
                benchmarks
                    .iter()
                    .any(|b| by_cell.contains_key(&(e.model.as_str(), b.as_str())))
            })
            .map(|e| BenchmarkRow {
                model: e.model.clone(),
                display_name: e.display_name.clone(),
                rating: if e.provisional {
                    e.posterior_rating.filter(|_| e.votes > 0)
                } else {
                    e.rating
                },
                scores: benchmarks
                    .iter()
                    .map(|b| by_cell.get(&(e.model.as_str(), b.as_str())).copied())
                    .collect(),
            })
            .collect();
        let columns = benchmarks.clone();
        let table = rows.clone();
        let correlations = tokio::task::spawn_blocking(move || {
            columns
                .iter()
                .enumerate()
                .map(|(k, benchmark)| {
                    let (x, y): (Vec<f64>, Vec<f64>) = table
                        .iter()
                        .filter_map(|r| Some((r.rating?, r.scores[k]?)))
                        .unzip();
                    let agreement = rank_agreement(&x, &y, ROUNDS, SEED);
                    BenchmarkCorrelation {
                        benchmark: benchmark.clone(),
                        models: x.len(),
                        spearman: agreement.as_ref().map(|a| a.spearman.estimate),
                        spearman_lower: agreement.as_ref().and_then(|a| a.spearman.lower),
                        spearman_upper: agreement.as_ref().and_then(|a| a.spearman.upper),
                        kendall: agreement.as_ref().map(|a| a.kendall.estimate),
                        kendall_lower: agreement.as_ref().and_then(|a| a.kendall.lower),
                        kendall_upper: agreement.as_ref().and_then(|a| a.kendall.upper),
                    }
                })
                .collect()
        })
        .await
        .map_err(|e| ArenaError::Internal(e.to_string()))?;
        Ok(BenchmarkReport {
            run_id: view.run_id,
            benchmarks,
            rows,
            correlations,
            rounds: ROUNDS,
            seed: SEED,
        })
    }
}
