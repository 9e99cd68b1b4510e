//! The live leaderboard: Bradley–Terry (ties as half wins, or Davidson) with sandwich or
//! bootstrap 95% intervals, fitted on the aggregated `pair_count` table (never on the votes
//! themselves) and recorded as a rating run.
//!
//! A run records the vote set it saw, the filter and every parameter, so
//! [`Arena::reproduce_run`] can refit it later from the votes alone and check that the result is
//! the same to the bit. Votes commit freely (no global lock): each counted vote updates the counts
//! in its own transaction and records that transaction's id; a run reads the counts in one
//! repeatable-read snapshot and records it (`pg_current_snapshot()`), so "the counted votes whose
//! transaction is visible in the run's snapshot" is exactly the set the counts it fitted stood
//! for (docs/scale.md). A request whose vote set and parameters match a recorded run returns that
//! run instead of fitting again.
//!
//! Requests only read runs ([`serve`]): the default view comes from the latest run of the
//! background refresh, other option sets are fitted once per vote set, behind the rate limiter
//! and a global bound.

mod benchmarks;
mod category;
mod compute;
pub(crate) mod counts;
mod regressions;
mod serve;
mod style;
pub use serve::spawn_refresh;

use crate::Arena;
use crate::catalog::Model;
use crate::error::{ArenaError, ArenaResult};
pub use arena_domain::api::{LeaderboardEntry, LeaderboardFilter, LeaderboardView, ReproducedRun};
use arena_domain::category::Category;
use arena_ratings::{CiMethod, FitOptions, PairCounts, TieModel};
use chrono::NaiveDate;
use std::collections::HashMap;
use uuid::Uuid;

const DEFAULT_BOOTSTRAP_ROUNDS: usize = 1000;
const MAX_BOOTSTRAP_ROUNDS: usize = 5_000;
const DEFAULT_SEED: u64 = 1;
const TOLERANCE: f64 = 1e-10;
const FALLBACK_RIDGE: f64 = 0.01;

/// A validated [`LeaderboardFilter`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    /// An imported data source's name; `None`: the arena's own votes.
    source: Option<String>,
    language: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    ties: TieModel,
    /// `None`: sandwich; `Some((rounds, seed))`: bootstrap.
    bootstrap: Option<(usize, u64)>,
    /// A category of votes ([`category`]): counted from the votes, not the counts table.
    category: Option<Category>,
    /// `language` is the prompt's detected language, not the chosen one (counted from the
    /// votes too).
    detected_language: bool,
    /// A campaign's slug: the votes of its battles only (counted from the votes).
    campaign: Option<String>,
}

impl Spec {
    pub(crate) fn parse(filter: &LeaderboardFilter) -> ArenaResult<Spec> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let date = |d: &Option<String>, what: &str| -> ArenaResult<Option<NaiveDate>> {
            given(d)
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                        ArenaError::invalid(
                            "invalid_date",
                            format!("{what} must be a date like 2026-11-24"),
                        )
                    })
                })
                .transpose()
        };
        let from = date(&filter.from, "from")?;
        let to = date(&filter.to, "to")?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ArenaError::invalid(
                "invalid_date",
                "from must not be after to",
            ));
        }
        let language = given(&filter.language).map(str::to_owned);
        if let Some(l) = &language
            && (l.len() > 35 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(ArenaError::invalid(
                "invalid_language",
                "language must be a language tag such as eu or en-US",
            ));
        }
        let ties = match given(&filter.ties) {
            None | Some("half") => TieModel::Half,
            Some("davidson") => TieModel::Davidson,
            Some(_) => {
                return Err(ArenaError::invalid(
                    "invalid_ties",
                    "ties must be half or davidson",
                ));
            }
        };
        let bootstrap = match given(&filter.ci) {
            None | Some("sandwich") => {
                if given(&filter.rounds).is_some() || given(&filter.seed).is_some() {
                    return Err(ArenaError::invalid(
                        "invalid_ci",
                        "rounds and seed apply only with ci=bootstrap",
                    ));
                }
                None
            }
            Some("bootstrap") => {
                let rounds = match given(&filter.rounds) {
                    None => DEFAULT_BOOTSTRAP_ROUNDS,
                    Some(r) => r
                        .parse::<usize>()
                        .ok()
                        .filter(|r| (1..=MAX_BOOTSTRAP_ROUNDS).contains(r))
                        .ok_or_else(|| {
                            ArenaError::invalid(
                                "invalid_rounds",
                                format!(
                                    "rounds must be a whole number from 1 to {MAX_BOOTSTRAP_ROUNDS}"
                                ),
                            )
                        })?,
                };
                let seed = match given(&filter.seed) {
                    None => DEFAULT_SEED,
                    Some(s) => s.parse::<u64>().map_err(|_| {
                        ArenaError::invalid(
                            "invalid_seed",
                            "seed must be a whole number from 0 to 18446744073709551615",
                        )
                    })?,
                };
                Some((rounds, seed))
            }
            Some(_) => {
                return Err(ArenaError::invalid(
                    "invalid_ci",
                    "ci must be sandwich or bootstrap",
                ));
            }
        };
        let source = given(&filter.source).map(str::to_owned);
        if let Some(s) = &source {
            arena_domain::import::check_source_name(s)
                .map_err(|e| ArenaError::invalid("invalid_source", e.message))?;
        }
        let category = match given(&filter.category) {
            None => None,
            Some(raw) => Some(Category::parse(raw).ok_or_else(|| {
                ArenaError::invalid(
                    "invalid_category",
                    "category must be coding, math, long, multi_turn or no_ties",
                )
            })?),
        };
        let detected_language = match given(&filter.language_by) {
            None | Some("chosen") => false,
            Some("detected") => language.is_some(),
            Some(_) => {
                return Err(ArenaError::invalid(
                    "invalid_language_by",
                    "language_by must be chosen or detected",
                ));
            }
        };
        if detected_language && source.is_some() {
            return Err(ArenaError::invalid(
                "invalid_language_by",
                "an imported source has only the languages it was published with",
            ));
        }
        let campaign = match given(&filter.campaign) {
            None => None,
            Some(raw) => Some(crate::campaigns::parse_slug(raw)?),
        };
        if campaign.is_some() && source.is_some() {
            return Err(ArenaError::invalid(
                "invalid_campaign",
                "campaigns are the arena's own votes, not an imported source's",
            ));
        }
        if category.is_some() && source.is_some() {
            return Err(ArenaError::invalid(
                "invalid_category",
                "categories apply to the arena's own votes, not to an imported source",
            ));
        }
        Ok(Spec {
            source,
            language,
            from,
            to,
            ties,
            bootstrap,
            category,
            detected_language,
            campaign,
        })
    }

    fn ties_name(&self) -> &'static str {
        match self.ties {
            TieModel::Half => "half",
            TieModel::Davidson => "davidson",
        }
    }

    /// The view the page opens with: every vote, sandwich intervals, ties as half wins.
    pub(crate) fn is_default(&self) -> bool {
        self.campaign.is_none() && self.default_options()
    }

    /// A campaign's own default view: its page opens with it, so it is never refused (at most
    /// one computation per vote set of the campaign, like the arena's default).
    pub(crate) fn is_campaign_default(&self) -> bool {
        self.campaign.is_some() && self.default_options()
    }

    /// Every option but the campaign at its default.
    fn default_options(&self) -> bool {
        self.source.is_none()
            && self.language.is_none()
            && self.from.is_none()
            && self.to.is_none()
            && self.ties == TieModel::Half
            && self.bootstrap.is_none()
            && self.category.is_none()
    }

    /// Counted from the votes (a category, or the detected language), not the counts table.
    pub(crate) fn counted_from_votes(&self) -> bool {
        self.category.is_some() || self.detected_language || self.campaign.is_some()
    }

    pub(crate) fn method(&self) -> String {
        let ties = match self.ties {
            TieModel::Half => "Bradley–Terry (ties as half wins)",
            TieModel::Davidson => "Bradley–Terry with Davidson ties",
        };
        let method = match self.bootstrap {
            None => format!("{ties}, sandwich 95% CI"),
            Some((rounds, seed)) => {
                format!("{ties}, bootstrap 95% percentile CI ({rounds} rounds, seed {seed})")
            }
        };
        let method = match self.category {
            None => method,
            Some(c) => format!("{method}, category: {}", c.label()),
        };
        let method = match &self.campaign {
            None => method,
            Some(c) => format!("{method}, campaign: {c}"),
        };
        if self.detected_language {
            format!("{method}, language as detected in the prompt")
        } else {
            method
        }
    }

    /// What the run records besides the filter: enough to refit it exactly.
    pub(crate) fn params(&self, models: &[String]) -> serde_json::Value {
        let ties = self.ties_name();
        match self.bootstrap {
            None => serde_json::json!({
                "ties": ties, "ci": "sandwich", "tolerance": TOLERANCE, "models": models,
                "provisional": PROVISIONAL,
            }),
            Some((rounds, seed)) => serde_json::json!({
                "ties": ties, "ci": "bootstrap", "rounds": rounds, "seed": seed,
                "tolerance": TOLERANCE, "models": models, "provisional": PROVISIONAL,
            }),
        }
    }

    fn options(&self) -> FitOptions {
        FitOptions {
            ties: self.ties,
            ci: match self.bootstrap {
                None => CiMethod::Sandwich,
                Some((rounds, seed)) => CiMethod::Bootstrap { rounds, seed },
            },
            tolerance: TOLERANCE,
            ..FitOptions::default()
        }
    }

    /// The filter as shown back to the client: normalised.
    pub(crate) fn filter(&self) -> LeaderboardFilter {
        LeaderboardFilter {
            language: self.language.clone(),
            from: self.from.map(|d| d.to_string()),
            to: self.to.map(|d| d.to_string()),
            ci: Some(
                if self.bootstrap.is_some() {
                    "bootstrap"
                } else {
                    "sandwich"
                }
                .into(),
            ),
            ties: Some(self.ties_name().into()),
            rounds: self.bootstrap.map(|(r, _)| r.to_string()),
            seed: self.bootstrap.map(|(_, s)| s.to_string()),
            source: self.source.clone(),
            category: self.category.map(|c| c.as_str().to_owned()),
            language_by: self.detected_language.then(|| "detected".to_owned()),
            campaign: self.campaign.clone(),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CountRow {
    model_a_id: Uuid,
    model_b_id: Uuid,
    wins_a: i64,
    wins_b: i64,
    ties: i64,
    both_bad: i64,
}

/// Counts by model key, sorted, so that the same counts always make the same input.
pub(crate) type KeyedCounts = Vec<(String, String, PairCounts)>;

/// Model metadata for the rows.
pub(crate) struct Listed {
    key: String,
    display_name: String,
    organization: String,
    license: String,
}

/// What a fit produced, before it is recorded.
pub(crate) struct Computed {
    entries: Vec<LeaderboardEntry>,
    warnings: Vec<String>,
    battles: Vec<Vec<u64>>,
    win_rate: Vec<Vec<Option<f64>>>,
    tie_parameter: Option<f64>,
    ridge: f64,
}

impl Arena {
    /// A recorded rating run, as it was shown.
    pub async fn rating_run(&self, run_id: i64) -> ArenaResult<LeaderboardView> {
        let (created, result): (chrono::DateTime<chrono::Utc>, serde_json::Value) =
            sqlx::query_as("select created_at, result from rating_run where id = $1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(ArenaError::NotFound { what: "rating run" })?;
        stored_view(run_id, created, result)
    }

    /// Refits a recorded run from the votes themselves (not from the counts table): the counted
    /// votes with id up to the run's `max_vote_id`, the run's filter and parameters and model
    /// list. `identical` says whether every row matches the recorded one exactly.
    pub async fn reproduce_run(&self, run_id: i64) -> ArenaResult<ReproducedRun> {
        let recorded = self.rating_run(run_id).await?;
        let filter = recorded.filter.clone();
        let spec = Spec::parse(&filter)?;
        let keys: Vec<String> = recorded.params["models"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .ok_or_else(|| ArenaError::Internal(format!("rating run {run_id} lists no models")))?;
        // Runs recorded before snapshots were (under the old global vote lock) are reproduced by
        // their highest vote id.
        let snapshot: Option<String> =
            sqlx::query_scalar("select snapshot from rating_run where id = $1")
                .bind(run_id)
                .fetch_one(&self.pool)
                .await?;
        if let Some(name) = &spec.source {
            let source = self.source_id(name).await?;
            let rows: Vec<CountRow> = sqlx::query_as(
                "select model_a_id, model_b_id,
                        count(*) filter (where winner = 'model_a') as wins_a,
                        count(*) filter (where winner = 'model_b') as wins_b,
                        count(*) filter (where winner = 'tie') as ties,
                        count(*) filter (where winner = 'both_bad') as both_bad
                 from source_vote
                 where source_id = $5 and counted and seq <= $1
                   and ($2::text is null or language = $2)
                   and ($3::date is null or (voted_at at time zone 'utc')::date >= $3)
                   and ($4::date is null or (voted_at at time zone 'utc')::date <= $4)
                 group by model_a_id, model_b_id",
            )
            .bind(recorded.max_vote_id)
            .bind(&spec.language)
            .bind(spec.from)
            .bind(spec.to)
            .bind(source)
            .fetch_all(&self.pool)
            .await?;
            return self.compare_refit(recorded, &keys, &rows, spec).await;
        }
        let sql = format!(
            "select b.model_a_id, b.model_b_id,
                    count(*) filter (where v.winner = 'model_a') as wins_a,
                    count(*) filter (where v.winner = 'model_b') as wins_b,
                    count(*) filter (where v.winner = 'tie') as ties,
                    count(*) filter (where v.winner = 'both_bad') as both_bad
             from vote v join battle b on b.id = v.battle_id
             {joins}
             where v.counted
               and (case when $5::text is null then v.id <= $1
                         else v.txid is null or pg_visible_in_snapshot(v.txid, $5::pg_snapshot)
                    end)
               and {not_voided}
               and ($2::text is null or {language} = $2)
               and ($3::date is null or (v.created_at at time zone 'utc')::date >= $3)
               and ($4::date is null or (v.created_at at time zone 'utc')::date <= $4)
               and {in_category}
               and {in_campaign}
             group by b.model_a_id, b.model_b_id",
            not_voided = counts::not_voided_in("$5"),
            joins = if spec.category.is_some() || spec.detected_language {
                category::joins()
            } else {
                ""
            },
            language = category::language_column(spec.detected_language),
            in_category = category::condition(spec.category),
            in_campaign = category::in_campaign("$6"),
        );
        let rows: Vec<CountRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(recorded.max_vote_id)
            .bind(&spec.language)
            .bind(spec.from)
            .bind(spec.to)
            .bind(&snapshot)
            .bind(&spec.campaign)
            .fetch_all(&self.pool)
            .await?;
        self.compare_refit(recorded, &keys, &rows, spec).await
    }

    /// Refits `rows` as `recorded` was fitted, and compares.
    async fn compare_refit(
        &self,
        recorded: LeaderboardView,
        keys: &[String],
        rows: &[CountRow],
        spec: Spec,
    ) -> ArenaResult<ReproducedRun> {
        let run_id = recorded.run_id;
        let catalog = self.catalog_with_imports().await?;
        let counts = keyed(&catalog, rows)?;
        let recomputed_vote_count = total(&counts);
        let computed = compute(listed(&catalog, keys), counts, spec).await?;
        Ok(ReproducedRun {
            run_id,
            // By model key and rating (with its interval) only: a renamed model or a new
            // license does not make a run "not identical".
            identical: recomputed_vote_count == recorded.vote_count
                && same_ratings(&computed.entries, &recorded.entries),
            recorded_vote_count: recorded.vote_count,
            recomputed_vote_count,
            recorded: recorded.entries,
            recomputed: computed.entries,
        })
    }
}

impl Arena {
    /// The catalog, reloaded first when the database has models it lacks (an import by another
    /// process whose notification has not arrived yet).
    pub(crate) async fn catalog_with_imports(&self) -> ArenaResult<Vec<Model>> {
        let all = self.catalog.all();
        let in_db: i64 = sqlx::query_scalar("select count(*) from model")
            .fetch_one(&self.pool)
            .await?;
        if in_db as usize == all.len() {
            return Ok(all);
        }
        self.catalog
            .reload(&self.pool, &self.gateway, &self.sealer)
            .await?;
        Ok(self.catalog.all())
    }
}

fn same_ratings(a: &[LeaderboardEntry], b: &[LeaderboardEntry]) -> bool {
    let key = |e: &LeaderboardEntry| (e.model.clone(), e.rating, e.ci_lower, e.ci_upper);
    a.len() == b.len() && a.iter().map(key).eq(b.iter().map(key))
}

/// Count rows by model key, sorted by key pair.
pub(crate) fn keyed(catalog: &[Model], rows: &[CountRow]) -> ArenaResult<KeyedCounts> {
    let by_id: HashMap<Uuid, &str> = catalog.iter().map(|m| (m.id, m.key.as_str())).collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (Some(a), Some(b)) = (by_id.get(&r.model_a_id), by_id.get(&r.model_b_id)) else {
            return Err(ArenaError::Internal(format!(
                "votes for a model missing from the catalog ({} vs {})",
                r.model_a_id, r.model_b_id
            )));
        };
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        out.push((
            (*a).to_owned(),
            (*b).to_owned(),
            PairCounts::new(
                count(r.wins_a),
                count(r.wins_b),
                count(r.ties),
                count(r.both_bad),
            ),
        ));
    }
    out.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    Ok(out)
}

/// The listed models' metadata from the catalog (a key no longer there is shown as itself).
pub(crate) fn listed(catalog: &[Model], keys: &[String]) -> Vec<Listed> {
    keys.iter()
        .map(|key| match catalog.iter().find(|m| &m.key == key) {
            Some(m) => Listed {
                key: key.clone(),
                display_name: m.display_name.clone(),
                organization: m.organization.clone(),
                license: m.license.clone(),
            },
            None => Listed {
                key: key.clone(),
                display_name: key.clone(),
                organization: String::new(),
                license: String::new(),
            },
        })
        .collect()
}

pub(crate) fn total(counts: &KeyedCounts) -> i64 {
    counts.iter().map(|(_, _, c)| c.total() as i64).sum()
}

pub(crate) fn stored_view(
    run_id: i64,
    created: chrono::DateTime<chrono::Utc>,
    result: serde_json::Value,
) -> ArenaResult<LeaderboardView> {
    let mut view: LeaderboardView = serde_json::from_value(result).map_err(|e| {
        ArenaError::Internal(format!("rating run {run_id} has an unreadable result: {e}"))
    })?;
    view.run_id = run_id;
    view.computed_at = created.to_rfc3339();
    Ok(view)
}

pub(crate) use compute::{PROVISIONAL, compute};

#[cfg(test)]
mod tests;
