//! The one error type of the rating engine.

use thiserror::Error;

/// Everything that can go wrong when building comparisons or fitting ratings.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RatingError {
    /// A comparison of a model with itself.
    #[error("model {model:?} is paired with itself")]
    SelfComparison { model: String },

    /// Counts overflowed `u64`.
    #[error("vote counts overflow")]
    CountOverflow,

    /// No model has any vote: there is nothing to fit.
    #[error("no votes to fit")]
    NoVotes,

    /// The comparison graph has several connected components: ratings in
    /// different components are not comparable. A ridge penalty makes the fit
    /// finite (each component is then centred by the penalty).
    #[error(
        "the comparison graph is not connected ({} components: {}); use a ridge penalty to fit anyway",
        components.len(),
        describe_groups(components)
    )]
    Disconnected { components: Vec<Vec<String>> },

    /// The maximum-likelihood estimate is infinite: some group of models never
    /// lost to (or never beat) the rest. A ridge penalty makes the fit finite.
    #[error(
        "the maximum-likelihood ratings are infinite: never lost to the others: [{}]; never beat the others: [{}]; use a ridge penalty to fit anyway",
        never_lost.join(", "),
        never_won.join(", ")
    )]
    NoFiniteMle {
        never_lost: Vec<String>,
        never_won: Vec<String>,
    },

    /// The Davidson model needs decisive votes: with only ties ν is infinite.
    #[error("the Davidson tie model needs at least one decisive vote")]
    OnlyTies,

    /// The anchor model is unknown or has no votes.
    #[error("anchor model {model:?} has no rating (unknown or without votes)")]
    UnknownAnchor { model: String },

    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// Newton's method stopped before reaching the gradient tolerance.
    #[error(
        "the fit did not converge: gradient norm {gradient_norm:e} after {iterations} iterations"
    )]
    NotConverged {
        iterations: usize,
        gradient_norm: f64,
    },

    /// A stored posterior is inconsistent (wrong matrix size, non-finite values).
    #[error("invalid posterior: {0}")]
    InvalidPosterior(String),
}

fn describe_groups(groups: &[Vec<String>]) -> String {
    groups
        .iter()
        .map(|g| format!("[{}]", g.join(", ")))
        .collect::<Vec<_>>()
        .join(" ")
}
