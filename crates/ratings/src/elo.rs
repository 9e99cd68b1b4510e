//! Online Elo, the order-dependent secondary view: battles are applied in
//! chronological order with K = 4, ties (of both kinds) scoring ½, as Chatbot
//! Arena's `compute_online_elo` does.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Outcome, RatingError};

/// One battle, in chronological order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Battle {
    pub model_a: String,
    pub model_b: String,
    pub outcome: Outcome,
}

/// Options of [`online_elo`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EloOptions {
    pub k: f64,
    pub initial: f64,
    /// Elo points per factor 10 of odds.
    pub scale: f64,
}

impl Default for EloOptions {
    fn default() -> Self {
        Self {
            k: 4.0,
            initial: 1000.0,
            scale: 400.0,
        }
    }
}

/// A model's online Elo rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EloRating {
    pub model: String,
    pub rating: f64,
    pub battles: u64,
}

/// Online Elo over `battles` in the given order; sorted by rating.
pub fn online_elo(battles: &[Battle], options: &EloOptions) -> Result<Vec<EloRating>, RatingError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut table: Vec<EloRating> = Vec::new();
    let mut slot = |name: &'_ str, table: &mut Vec<EloRating>| -> usize {
        if let Some(&i) = index.get(name) {
            return i;
        }
        table.push(EloRating {
            model: name.to_owned(),
            rating: options.initial,
            battles: 0,
        });
        index.insert(name.to_owned(), table.len() - 1);
        table.len() - 1
    };
    for b in battles {
        if b.model_a == b.model_b {
            return Err(RatingError::SelfComparison {
                model: b.model_a.clone(),
            });
        }
        let a = slot(&b.model_a, &mut table);
        let c = slot(&b.model_b, &mut table);
        let (ra, rb) = (table[a].rating, table[c].rating);
        let expected_a = 1.0 / (1.0 + 10f64.powf((rb - ra) / options.scale));
        let score_a = b.outcome.score_a();
        let delta = options.k * (score_a - expected_a);
        table[a].rating += delta;
        table[c].rating -= delta;
        table[a].battles += 1;
        table[c].battles += 1;
    }
    table.sort_by(|x, y| {
        y.rating
            .total_cmp(&x.rating)
            .then_with(|| x.model.cmp(&y.model))
    });
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn battle(a: &str, b: &str, outcome: Outcome) -> Battle {
        Battle {
            model_a: a.into(),
            model_b: b.into(),
            outcome,
        }
    }

    #[test]
    fn hand_checked_sequence() {
        let battles = [
            battle("a", "b", Outcome::WinA),
            battle("b", "a", Outcome::Tie),
        ];
        let r = online_elo(&battles, &EloOptions::default()).unwrap();
        // 1: expected ½ → a = 1002, b = 998.
        // 2: b (998) vs a (1002), tie: E_b = 1/(1+10^(4/400)), b += 4(½ − E_b).
        let e_b = 1.0 / (1.0 + 10f64.powf(4.0 / 400.0));
        let b = 998.0 + 4.0 * (0.5 - e_b);
        let a = 2000.0 - b;
        assert_eq!(r[0].model, "a");
        assert!((r[0].rating - a).abs() < 1e-12);
        assert!((r[1].rating - b).abs() < 1e-12);
        assert_eq!(r[0].battles, 2);
    }

    #[test]
    fn both_bad_is_a_tie_and_self_pairs_fail() {
        let r = online_elo(
            &[battle("a", "b", Outcome::BothBad)],
            &EloOptions::default(),
        )
        .unwrap();
        assert!(r.iter().all(|e| e.rating == 1000.0));
        assert!(online_elo(&[battle("a", "a", Outcome::WinA)], &EloOptions::default()).is_err());
    }
}
