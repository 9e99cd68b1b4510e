//! Static benchmark scores: an admin imports a CSV (`arena_domain::benchmark::parse_csv`); every
//! model it names must exist; the scores it gives replace those stored for the same model and
//! benchmark, in one transaction (a bad file changes nothing), audited.

use super::{Admin, audit};
use crate::error::{ArenaError, ArenaResult};
use arena_domain::benchmark::{BenchmarkImport, parse_csv};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

impl Admin {
    pub async fn import_benchmarks(&self, csv: &str) -> ArenaResult<BenchmarkImport> {
        let cells =
            parse_csv(csv).map_err(|e| ArenaError::invalid("invalid_csv", e.to_string()))?;
        let mut tx = self.arena.pool.begin().await?;
        let models: HashMap<String, Uuid> =
            sqlx::query_as::<_, (String, Uuid)>("select key, id from model")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        if let Some(c) = cells.iter().find(|c| !models.contains_key(&c.model)) {
            return Err(ArenaError::invalid(
                "invalid_csv",
                format!("line {}: no model has the key {:?}", c.line, c.model),
            ));
        }
        for c in &cells {
            sqlx::query(
                "insert into benchmark_score (model_id, benchmark, score) values ($1, $2, $3)
                 on conflict (model_id, benchmark)
                 do update set score = excluded.score, imported_at = now()",
            )
            .bind(models[&c.model])
            .bind(&c.benchmark)
            .bind(c.score)
            .execute(&mut *tx)
            .await?;
        }
        let benchmarks: Vec<String> = cells
            .iter()
            .map(|c| c.benchmark.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let result = BenchmarkImport {
            scores: cells.len(),
            models: cells
                .iter()
                .map(|c| &c.model)
                .collect::<BTreeSet<_>>()
                .len(),
            benchmarks,
        };
        audit(
            &mut tx,
            &self.actor,
            "benchmarks.import",
            "benchmarks",
            None,
            Some(json!(result)),
        )
        .await?;
        tx.commit().await?;
        Ok(result)
    }
}
