//! The input of every fit: aggregated outcome counts per model pair, keyed by
//! model name. The fit depends only on these counts, never on individual votes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::RatingError;

/// The outcome of one battle, seen from `model_a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `model_a` won.
    WinA,
    /// `model_b` won.
    WinB,
    /// A tie where both answers were good.
    Tie,
    /// A tie where both answers were bad (counts as a tie in every model).
    BothBad,
}

impl Outcome {
    /// The score of `model_a`: 1, 0 or ½ for both kinds of tie.
    pub fn score_a(self) -> f64 {
        match self {
            Outcome::WinA => 1.0,
            Outcome::WinB => 0.0,
            Outcome::Tie | Outcome::BothBad => 0.5,
        }
    }

    /// The same outcome seen from `model_b`.
    pub fn swapped(self) -> Self {
        match self {
            Outcome::WinA => Outcome::WinB,
            Outcome::WinB => Outcome::WinA,
            other => other,
        }
    }
}

/// Outcome counts of one ordered pair `(model_a, model_b)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PairCounts {
    pub wins_a: u64,
    pub wins_b: u64,
    pub ties: u64,
    pub both_bad: u64,
}

impl PairCounts {
    pub fn new(wins_a: u64, wins_b: u64, ties: u64, both_bad: u64) -> Self {
        Self {
            wins_a,
            wins_b,
            ties,
            both_bad,
        }
    }

    /// One vote with the given outcome.
    pub fn of(outcome: Outcome) -> Self {
        let mut c = Self::default();
        match outcome {
            Outcome::WinA => c.wins_a = 1,
            Outcome::WinB => c.wins_b = 1,
            Outcome::Tie => c.ties = 1,
            Outcome::BothBad => c.both_bad = 1,
        }
        c
    }

    /// Number of votes.
    pub fn total(&self) -> u64 {
        self.wins_a + self.wins_b + self.ties + self.both_bad
    }

    /// Ties of both kinds.
    pub fn all_ties(&self) -> u64 {
        self.ties + self.both_bad
    }

    /// The same counts seen from `model_b`.
    pub fn swapped(&self) -> Self {
        Self {
            wins_a: self.wins_b,
            wins_b: self.wins_a,
            ties: self.ties,
            both_bad: self.both_bad,
        }
    }

    /// Adds `other`, failing on overflow.
    pub fn checked_add(&self, other: &Self) -> Option<Self> {
        Some(Self {
            wins_a: self.wins_a.checked_add(other.wins_a)?,
            wins_b: self.wins_b.checked_add(other.wins_b)?,
            ties: self.ties.checked_add(other.ties)?,
            both_bad: self.both_bad.checked_add(other.both_bad)?,
        })
    }
}

/// Counts of one pair, as listed by [`Comparisons::pairs`] and as stored when
/// serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRecord {
    pub model_a: String,
    pub model_b: String,
    #[serde(flatten)]
    pub counts: PairCounts,
}

/// Aggregated comparisons keyed by model name.
///
/// A pair may be added in either order and any number of times: the counts add
/// up. Models can be registered without votes; they are listed in every
/// leaderboard without a rating.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "ComparisonsRecord", try_from = "ComparisonsRecord")]
pub struct Comparisons {
    models: Vec<String>,
    index: HashMap<String, usize>,
    /// Keyed by `(i, j)` with `i < j` (registration indices), counts seen from `i`.
    pairs: BTreeMap<(usize, usize), PairCounts>,
}

/// The serialised form of [`Comparisons`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ComparisonsRecord {
    models: Vec<String>,
    pairs: Vec<PairRecord>,
}

impl From<Comparisons> for ComparisonsRecord {
    fn from(c: Comparisons) -> Self {
        let pairs = c.pairs().collect();
        Self {
            models: c.models,
            pairs,
        }
    }
}

impl TryFrom<ComparisonsRecord> for Comparisons {
    type Error = RatingError;
    fn try_from(r: ComparisonsRecord) -> Result<Self, RatingError> {
        let mut c = Comparisons::new();
        for m in &r.models {
            c.register(m);
        }
        for p in &r.pairs {
            c.add(&p.model_a, &p.model_b, p.counts)?;
        }
        Ok(c)
    }
}

impl Comparisons {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a model (idempotent) and returns its index.
    pub fn register(&mut self, model: &str) -> usize {
        if let Some(&i) = self.index.get(model) {
            return i;
        }
        let i = self.models.len();
        self.models.push(model.to_owned());
        self.index.insert(model.to_owned(), i);
        i
    }

    /// Adds outcome counts of `model_a` against `model_b`.
    pub fn add(
        &mut self,
        model_a: &str,
        model_b: &str,
        counts: PairCounts,
    ) -> Result<(), RatingError> {
        if model_a == model_b {
            return Err(RatingError::SelfComparison {
                model: model_a.to_owned(),
            });
        }
        let a = self.register(model_a);
        let b = self.register(model_b);
        let (key, counts) = if a < b {
            ((a, b), counts)
        } else {
            ((b, a), counts.swapped())
        };
        let entry = self.pairs.entry(key).or_default();
        *entry = entry
            .checked_add(&counts)
            .ok_or(RatingError::CountOverflow)?;
        Ok(())
    }

    /// Adds one battle.
    pub fn add_outcome(
        &mut self,
        model_a: &str,
        model_b: &str,
        outcome: Outcome,
    ) -> Result<(), RatingError> {
        self.add(model_a, model_b, PairCounts::of(outcome))
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Comparisons) -> Result<(), RatingError> {
        for m in &other.models {
            self.register(m);
        }
        for p in other.pairs() {
            self.add(&p.model_a, &p.model_b, p.counts)?;
        }
        Ok(())
    }

    /// Model names in registration order.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// Every pair with its counts, each unordered pair once.
    pub fn pairs(&self) -> impl Iterator<Item = PairRecord> + '_ {
        self.pairs.iter().map(|(&(a, b), c)| PairRecord {
            model_a: self.models[a].clone(),
            model_b: self.models[b].clone(),
            counts: *c,
        })
    }

    /// Counts of `model_a` against `model_b` (zero if never compared).
    pub fn counts(&self, model_a: &str, model_b: &str) -> PairCounts {
        let (Some(&a), Some(&b)) = (self.index.get(model_a), self.index.get(model_b)) else {
            return PairCounts::default();
        };
        if a < b {
            self.pairs.get(&(a, b)).copied().unwrap_or_default()
        } else {
            self.pairs
                .get(&(b, a))
                .map(|c| c.swapped())
                .unwrap_or_default()
        }
    }

    /// Votes involving `model`.
    pub fn votes(&self, model: &str) -> u64 {
        let Some(&m) = self.index.get(model) else {
            return 0;
        };
        self.pairs
            .iter()
            .filter(|((a, b), _)| *a == m || *b == m)
            .map(|(_, c)| c.total())
            .sum()
    }

    /// All votes.
    pub fn total_votes(&self) -> u64 {
        self.pairs.values().map(|c| c.total()).sum()
    }

    /// Index-level view for the solvers: `(i, j, counts)` with `i < j`.
    pub(crate) fn indexed_pairs(&self) -> impl Iterator<Item = (usize, usize, PairCounts)> + '_ {
        self.pairs.iter().map(|(&(a, b), c)| (a, b, *c))
    }

    pub(crate) fn index_of(&self, model: &str) -> Option<usize> {
        self.index.get(model).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_orders_add_up() {
        let mut c = Comparisons::new();
        c.add("a", "b", PairCounts::new(3, 1, 2, 1)).unwrap();
        c.add("b", "a", PairCounts::new(5, 4, 0, 1)).unwrap();
        assert_eq!(c.counts("a", "b"), PairCounts::new(7, 6, 2, 2));
        assert_eq!(c.counts("b", "a"), PairCounts::new(6, 7, 2, 2));
        assert_eq!(c.votes("a"), 17);
        assert_eq!(c.total_votes(), 17);
        assert!(matches!(
            c.add("a", "a", PairCounts::of(Outcome::Tie)),
            Err(RatingError::SelfComparison { .. })
        ));
    }

    #[test]
    fn serde_round_trip() {
        let mut c = Comparisons::new();
        c.register("idle");
        c.add_outcome("x", "y", Outcome::BothBad).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: Comparisons = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}
