//! The regressions report: every model marked as a new version of another, compared with it in
//! every view of the votes (all of them, each category, each language), flagged where it is
//! significantly worse ([`arena_ratings::regression`]). It scans the votes once per category, so
//! it is stored per counted-set mark and level, and a new one passes the caller's limiter.

use super::{CountRow, category, keyed};
use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use arena_domain::api::{RegressionReport, RegressionView, VersionComparison};
use arena_domain::category::Category;
use arena_ratings::Comparisons;
use arena_ratings::regression::compare_versions;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct LanguageRow {
    language: String,
    model_a_id: Uuid,
    model_b_id: Uuid,
    wins_a: i64,
    wins_b: i64,
    ties: i64,
    both_bad: i64,
}

impl Arena {
    /// The report for the current votes (see the module docs).
    pub async fn regressions<Admit: std::future::Future<Output = ArenaResult<()>>>(
        &self,
        admit: impl FnOnce() -> Admit,
    ) -> ArenaResult<RegressionReport> {
        let alpha = self.leaderboard_settings.regression_alpha;
        let mark: i64 = sqlx::query_scalar(super::counts::COUNTED_MARK)
            .fetch_one(&self.pool)
            .await?;
        let pairs: Vec<(String, String, String, String)> = sqlx::query_as(
            "select m.key, m.display_name, b.key, b.display_name
             from model m join model b on b.id = m.version_of order by m.key",
        )
        .fetch_all(&self.pool)
        .await?;
        let stored: Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "select result, created_at from regression_report where mark = $1 and alpha = $2",
        )
        .bind(mark)
        .bind(alpha)
        .fetch_optional(&self.pool)
        .await?;
        // A stored report stands for these votes and these version pairs (an admin may have
        // marked a new pair since, without a vote).
        if let Some((result, created)) = stored
            && let Ok(mut report) = serde_json::from_value::<RegressionReport>(result)
            && report
                .pairs
                .iter()
                .map(|p| (p.new.as_str(), p.base.as_str()))
                .eq(pairs.iter().map(|p| (p.0.as_str(), p.2.as_str())))
        {
            report.computed_at = created.to_rfc3339();
            return Ok(report);
        }
        if pairs.is_empty() {
            return Ok(RegressionReport {
                alpha,
                max_vote_id: mark,
                computed_at: chrono::Utc::now().to_rfc3339(),
                pairs: Vec::new(),
            });
        }
        admit().await?;
        // Every view's counts, in one snapshot; no connection held while fitting.
        let mut tx = self.rating_pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let mark: i64 = sqlx::query_scalar(super::counts::COUNTED_MARK)
            .fetch_one(&mut *tx)
            .await?;
        let by_language: Vec<LanguageRow> = sqlx::query_as(
            "select language, model_a_id, model_b_id, sum(wins_a)::bigint as wins_a,
                    sum(wins_b)::bigint as wins_b, sum(ties)::bigint as ties,
                    sum(both_bad)::bigint as both_bad
             from pair_count group by language, model_a_id, model_b_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut by_category = Vec::new();
        for c in Category::ALL {
            by_category.push((
                c,
                category::counts(&mut *tx, Some(c), false, &None, None, None, None).await?,
            ));
        }
        tx.commit().await?;
        let catalog = self.catalog_with_imports().await?;
        let comparisons = |rows: &[CountRow]| -> ArenaResult<Comparisons> {
            let mut c = Comparisons::new();
            for (a, b, counts) in keyed(&catalog, rows)? {
                c.add(&a, &b, counts)
                    .map_err(|e| ArenaError::Internal(e.to_string()))?;
            }
            Ok(c)
        };
        let as_count = |r: &LanguageRow| CountRow {
            model_a_id: r.model_a_id,
            model_b_id: r.model_b_id,
            wins_a: r.wins_a,
            wins_b: r.wins_b,
            ties: r.ties,
            both_bad: r.both_bad,
        };
        let mut views: Vec<(String, String, Comparisons)> = Vec::new();
        let all: Vec<CountRow> = by_language.iter().map(as_count).collect();
        views.push(("all".into(), "All votes".into(), comparisons(&all)?));
        for (c, rows) in &by_category {
            views.push((c.as_str().into(), c.label().into(), comparisons(rows)?));
        }
        let mut languages: Vec<&str> = by_language
            .iter()
            .map(|r| r.language.as_str())
            .filter(|l| !l.is_empty())
            .collect();
        languages.sort();
        languages.dedup();
        for language in languages {
            let rows: Vec<CountRow> = by_language
                .iter()
                .filter(|r| r.language == language)
                .map(as_count)
                .collect();
            views.push((
                format!("language:{language}"),
                format!("Language: {language}"),
                comparisons(&rows)?,
            ));
        }
        let report = tokio::task::spawn_blocking(move || -> ArenaResult<RegressionReport> {
            let labelled: Vec<(String, Comparisons)> = views
                .iter()
                .map(|(v, _, c)| (v.clone(), c.clone()))
                .collect();
            let mut out = Vec::new();
            for (new, new_name, base, base_name) in pairs {
                let compared = compare_versions(&labelled, &new, &base, alpha)
                    .map_err(|e| ArenaError::Internal(e.to_string()))?;
                out.push(VersionComparison {
                    views: compared
                        .into_iter()
                        .zip(&views)
                        .map(|(c, (_, label, _))| RegressionView {
                            view: c.view,
                            label: label.clone(),
                            votes_new: c.votes_new,
                            votes_base: c.votes_base,
                            elo: c.difference.as_ref().map(|d| d.elo),
                            lower: c.difference.as_ref().map(|d| d.lower),
                            upper: c.difference.as_ref().map(|d| d.upper),
                            flagged: c.flagged,
                            unavailable: c.unavailable,
                        })
                        .collect(),
                    new,
                    new_name,
                    base,
                    base_name,
                });
            }
            Ok(RegressionReport {
                alpha,
                max_vote_id: mark,
                computed_at: String::new(),
                pairs: out,
            })
        })
        .await
        .map_err(|e| ArenaError::Internal(e.to_string()))??;
        let created: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
            "insert into regression_report (mark, alpha, result) values ($1, $2, $3)
             on conflict (mark, alpha) do update set result = excluded.result
             returning created_at",
        )
        .bind(mark)
        .bind(alpha)
        .bind(serde_json::to_value(&report).map_err(|e| ArenaError::Internal(e.to_string()))?)
        .fetch_one(&self.pool)
        .await?;
        Ok(RegressionReport {
            computed_at: created.to_rfc3339(),
            ..report
        })
    }
}
