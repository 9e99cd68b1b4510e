//! The JSON shapes of the public battle API (`/api/v1/...`), shared by server and browser.

use crate::vote::Side;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateBattle {
    pub prompt: String,
    #[serde(default)]
    pub language: Option<String>,
    /// The campaign's slug (`/c/{slug}`); absent: the default arena.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BattleCreated {
    pub battle_id: String,
    pub turn: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContinueBattle {
    pub prompt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CastVote {
    /// `model_a`, `model_b`, `tie` or `both_bad`. In a campaign with a rubric it may be left
    /// out: the rubric's rule derives it from `axes` (given, it must agree).
    #[serde(default)]
    pub winner: String,
    /// A rubric campaign's verdict per axis (`model_a`, `model_b` or `tie`), by axis key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub axes: Option<std::collections::BTreeMap<String, String>>,
}

/// The reveal: returned by a successful vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reveal {
    pub model_a: String,
    pub model_b: String,
    pub winner: String,
    pub turn: i32,
}

/// One event of `GET /api/v1/battles/{id}/stream`. The SSE event name is [`StreamEvent::name`];
/// the data is this value as JSON. Never carries a model's name or id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum StreamEvent {
    Delta {
        side: Side,
        text: String,
    },
    Done {
        side: Side,
        finish_reason: String,
        tokens: u32,
    },
    Error {
        side: Side,
        message: String,
    },
}

impl StreamEvent {
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Delta { .. } => "delta",
            StreamEvent::Done { .. } => "done",
            StreamEvent::Error { .. } => "error",
        }
    }

    pub fn side(&self) -> Side {
        match self {
            StreamEvent::Delta { side, .. }
            | StreamEvent::Done { side, .. }
            | StreamEvent::Error { side, .. } => *side,
        }
    }
}

/// An answer as shown in the battle state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerView {
    pub side: Side,
    /// `pending`, `streaming`, `done` or `error`.
    pub status: String,
    pub content: String,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    pub tokens: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TurnView {
    pub turn: i32,
    pub prompt: String,
    /// `generating`, `ready` (votable), `failed` or `voted`.
    pub status: String,
    pub winner: Option<String>,
    pub answers: Vec<AnswerView>,
    /// Earlier answers replaced by "regenerate", kept for the record.
    pub discarded: Vec<AnswerView>,
}

/// `GET /api/v1/battles/{id}`: model names are `None` until a vote revealed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BattleView {
    pub battle_id: String,
    pub language: Option<String>,
    pub model_a: Option<String>,
    pub model_b: Option<String>,
    pub turns: Vec<TurnView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorDetail {
    pub code: String,
    pub message: String,
}

/// `GET /api/v1/leaderboard`: which votes, and how to fit them. Every field is optional and
/// kept as text (as it arrives from a query string or a form) so that a bad value gets a clear
/// error naming it rather than a generic parse failure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardFilter {
    /// The battle's language tag (e.g. `eu`); absent: all languages.
    #[serde(default)]
    pub language: Option<String>,
    /// First and last day (UTC, `YYYY-MM-DD`, inclusive) of the votes.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    /// `sandwich` (default) or `bootstrap`.
    #[serde(default)]
    pub ci: Option<String>,
    /// `half` (default: a tie is half a win each, the Chatbot Arena convention) or `davidson`.
    #[serde(default)]
    pub ties: Option<String>,
    /// Bootstrap rounds (default 1000, at most 5000).
    #[serde(default)]
    pub rounds: Option<String>,
    /// Bootstrap seed (default 1).
    #[serde(default)]
    pub seed: Option<String>,
    /// An imported data source's name (`server import`): its votes instead of the arena's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A category of votes: `coding`, `math`, `long`, `multi_turn` or `no_ties`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// What `language` filters on: `chosen` (default: the language the voter chose) or
    /// `detected` (the voted prompt's language as detected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_by: Option<String>,
    /// A campaign's slug (`/c/{slug}`): only the votes of its battles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaderboardEntry {
    pub rank: Option<usize>,
    pub model: String,
    pub display_name: String,
    pub organization: String,
    pub license: String,
    pub rating: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub votes: u64,
    /// Too few votes to be ranked: `rank` is empty and pages show the posterior below instead of
    /// the maximum-likelihood `rating` (which stays, exactly as fitted, for reproduction).
    #[serde(default)]
    pub provisional: bool,
    /// For a provisional model, about how many more of its votes make it ranked.
    #[serde(default)]
    pub votes_to_rank: Option<u64>,
    /// The Bayesian posterior mean (prior updated by the votes) and its 95% credible interval.
    #[serde(default)]
    pub posterior_rating: Option<f64>,
    #[serde(default)]
    pub credible_lower: Option<f64>,
    #[serde(default)]
    pub credible_upper: Option<f64>,
}

/// One model of the style-controlled ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StyleEntry {
    pub rank: usize,
    pub model: String,
    pub display_name: String,
    /// Rating with style held equal, and its sandwich 95% interval.
    pub rating: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    pub votes: u64,
}

/// What a style feature is worth: Elo points for one standard deviation of the (normalised)
/// difference between the two answers, with its 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StyleCoefficientView {
    /// `length` (tokens), `headers`, `lists` or `bold`.
    pub feature: String,
    pub elo: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
}

/// The style-controlled leaderboard (`GET /api/v1/leaderboard/style`): the Bradley–Terry fit
/// with the answers' style features as covariates (the Chatbot Arena method).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StyleView {
    pub run_id: i64,
    pub method: String,
    /// The counted-set mark of the votes fitted.
    pub max_vote_id: i64,
    pub vote_count: i64,
    pub computed_at: String,
    pub filter: LeaderboardFilter,
    pub entries: Vec<StyleEntry>,
    pub coefficients: Vec<StyleCoefficientView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaderboardView {
    pub run_id: i64,
    pub method: String,
    pub max_vote_id: i64,
    pub vote_count: i64,
    pub computed_at: String,
    pub filter: LeaderboardFilter,
    pub entries: Vec<LeaderboardEntry>,
    pub warnings: Vec<String>,
    /// Models in the order of `entries`, and per ordered pair (row i vs column j): battles and
    /// the row model's win rate (ties count half).
    pub battles: Vec<Vec<u64>>,
    pub win_rate: Vec<Vec<Option<f64>>>,
    /// Everything the fit depended on besides the votes (tie model, interval method, rounds,
    /// seed, ridge, tolerance, the models listed), as recorded in the rating run.
    #[serde(default)]
    pub params: serde_json::Value,
    /// Davidson's tie parameter ν, when that tie model was asked for.
    #[serde(default)]
    pub tie_parameter: Option<f64>,
}

impl LeaderboardView {
    /// The pairwise matrices cut to the first `n` entries (the best ranked): the page draws
    /// those; the JSON API keeps them whole.
    pub fn with_matrices_of_top(mut self, n: usize) -> Self {
        self.battles.truncate(n);
        self.battles.iter_mut().for_each(|row| row.truncate(n));
        self.win_rate.truncate(n);
        self.win_rate.iter_mut().for_each(|row| row.truncate(n));
        self
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;

    #[test]
    fn matrices_are_cut_to_the_top_entries() {
        let n = 4;
        let view = LeaderboardView {
            run_id: 1,
            method: String::new(),
            max_vote_id: 0,
            vote_count: 0,
            computed_at: String::new(),
            filter: LeaderboardFilter::default(),
            entries: Vec::new(),
            warnings: Vec::new(),
            battles: (0..n)
                .map(|i| (0..n).map(|j| (10 * i + j) as u64).collect())
                .collect(),
            win_rate: (0..n)
                .map(|i| (0..n).map(|j| Some((i * j) as f64)).collect())
                .collect(),
            params: serde_json::Value::Null,
            tie_parameter: None,
        };
        let cut = view.clone().with_matrices_of_top(2);
        assert_eq!(cut.battles, vec![vec![0, 1], vec![10, 11]]);
        assert_eq!(
            cut.win_rate,
            vec![vec![Some(0.0), Some(0.0)], vec![Some(0.0), Some(1.0)]]
        );
        assert_eq!(view.clone().with_matrices_of_top(10).battles, view.battles);
    }
}

/// `GET /api/v1/leaderboard/runs/{id}/reproduce`: a recorded run refitted from the votes
/// themselves (those it saw: counted, id up to its `max_vote_id`, same filter and parameters).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReproducedRun {
    pub run_id: i64,
    /// The recomputation matched the recorded run exactly (same vote count, same rows to the bit).
    pub identical: bool,
    pub recorded_vote_count: i64,
    pub recomputed_vote_count: i64,
    pub recorded: Vec<LeaderboardEntry>,
    pub recomputed: Vec<LeaderboardEntry>,
}

/// `POST /api/v1/account/signup` and `/signin`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// `POST /api/v1/account/password`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// `DELETE /api/v1/account`: the password again, before the account and its data go.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EraseAccount {
    pub password: String,
}

/// `GET /api/v1/account`: who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountView {
    pub username: String,
    /// `volunteer`, `researcher` or `admin`.
    pub role: String,
    /// Votes cast by the account (and in its browsers before it signed up or in).
    pub votes: i64,
}

/// `PUT /api/v1/admin/users/{username}/role` (admins only).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    pub role: String,
}

/// An API token as its owner sees it (never the token itself, after creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

/// A new API token: the only time the token is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiTokenCreated {
    pub id: String,
    pub name: String,
    pub token: String,
    pub expires_at: Option<String>,
}

/// One view (all votes, a category, a language) of a new version against its base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegressionView {
    /// `all`, a category (`coding`, …) or `language:eu`.
    pub view: String,
    pub label: String,
    pub votes_new: u64,
    pub votes_base: u64,
    /// new − base in Elo with its interval (Bonferroni level); absent when not fitted.
    pub elo: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Significantly worse here: the interval lies wholly below zero.
    pub flagged: bool,
    pub unavailable: Option<String>,
}

/// A model marked as a new version of another, compared view by view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionComparison {
    pub new: String,
    pub new_name: String,
    pub base: String,
    pub base_name: String,
    pub views: Vec<RegressionView>,
}

/// `GET /api/v1/leaderboard/regressions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegressionReport {
    /// The family-wise error rate per version pair (`leaderboard.regression_alpha`).
    pub alpha: f64,
    pub max_vote_id: i64,
    pub computed_at: String,
    pub pairs: Vec<VersionComparison>,
}
