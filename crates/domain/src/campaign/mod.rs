//! Campaigns: a time-boxed arena in its own language(s) with its own model pool, pairing,
//! registration questions and rubric (issue #11). What an admin enters is checked here, once,
//! into errors that name the field; the rubric's rule that derives the overall winner from the
//! axes is data ([`WinnerRule`]) and is applied here, so the browser and the server agree.
//!
//! The console edits questions and rubric axes as lines of text; [`parse_questions`] and
//! [`parse_axes`] read them and [`questions_text`] / [`axes_text`] write them back.

use crate::Winner;
use crate::admin::{FieldError, bad};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod text;
pub use text::{axes_text, parse_axes, parse_questions, questions_text};

/// The default arena: a campaign that never ends, with every active model.
pub const DEFAULT_SLUG: &str = "arena";

/// How a campaign draws its pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CampaignPairing {
    /// The arena's pairing policy (weights, boosts, active sampling), restricted to the pool.
    #[default]
    Arena,
    /// Every pair of the pool equally often (the Basque arena's design).
    Uniform,
}

impl CampaignPairing {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignPairing::Arena => "arena",
            CampaignPairing::Uniform => "uniform",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "arena" => Some(CampaignPairing::Arena),
            "uniform" => Some(CampaignPairing::Uniform),
            _ => None,
        }
    }
}

/// A registration question's answer type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuestionKind {
    /// A whole number from `min` to `max` (e.g. language proficiency 1–5).
    Scale { min: i32, max: i32 },
    /// One of the options (e.g. an education level).
    Choice { options: Vec<String> },
}

/// A question a volunteer answers once per campaign before their first battle in it. The
/// answers are stored per voter per campaign and used only in exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    pub key: String,
    pub label: String,
    #[serde(flatten)]
    pub kind: QuestionKind,
}

/// One judged axis (e.g. `content`, `language`): each voted A / B / tie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Axis {
    pub key: String,
    pub label: String,
}

/// How the overall winner follows from the axes' verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WinnerRule {
    /// The first axis in `order` that is not a tie decides (e.g. content first, language breaks
    /// ties); all tied: a tie.
    Ordered { order: Vec<String> },
    /// The side more axes prefer; as many each way: a tie.
    Majority,
}

/// The rubric: the axes and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rubric {
    pub axes: Vec<Axis>,
    pub rule: WinnerRule,
}

/// A campaign as an admin enters it (create or edit). Times are RFC 3339 (UTC); absent: open
/// from the start / never ends. `models` are model keys; empty: every active model. `version`
/// is the version the form was loaded at (an edit made meanwhile is refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub pairing: CampaignPairing,
    #[serde(default)]
    pub sign_in_required: bool,
    #[serde(default)]
    pub questions: Vec<Question>,
    #[serde(default)]
    pub rubric: Option<Rubric>,
    #[serde(default)]
    pub version: Option<i32>,
}

/// Where a campaign stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Before its start: the battle page says when it opens.
    Upcoming,
    Open,
    /// After its end: the battle page says it closed; the leaderboard stays.
    Closed,
}

/// A campaign as volunteers and admins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Campaign {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub languages: Vec<String>,
    /// Model keys of the pool (empty: every active model). Display names only: the pool is
    /// public, which model answered a battle is not.
    pub models: Vec<String>,
    pub pairing: CampaignPairing,
    pub sign_in_required: bool,
    pub questions: Vec<Question>,
    pub rubric: Option<Rubric>,
    pub is_default: bool,
    pub status: CampaignStatus,
    pub version: i32,
}

/// What the campaign's battle page needs to know about this volunteer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignPage {
    pub campaign: Campaign,
    pub signed_in: bool,
    /// The registration questions are answered (always true without questions).
    pub registered: bool,
    /// This volunteer's name on the contributor leaderboard, if they opted in.
    pub alias: Option<String>,
}

/// A volunteer's answers to the registration questions, by question key.
pub type Registration = BTreeMap<String, serde_json::Value>;

/// One row of the contributor leaderboard (opted-in volunteers only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contributor {
    pub rank: i64,
    pub alias: String,
    pub votes: i64,
}

/// The contributor leaderboard: opted-in volunteers by votes, and how many volunteers voted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContributorBoard {
    pub contributors: Vec<Contributor>,
    pub volunteers: i64,
    pub votes: i64,
}

/// Votes on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayVotes {
    pub day: String,
    pub votes: i64,
}

/// Votes on one pair of models (display names, in key order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairVotes {
    pub model_a: String,
    pub model_b: String,
    pub votes: i64,
}

/// A campaign's progress: votes per day and per model pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    pub days: Vec<DayVotes>,
    pub pairs: Vec<PairVotes>,
    pub votes: i64,
}

/// A slug, a key of a question or axis: lowercase letters, digits and `-`/`_`, starting with a
/// letter or digit, 1–64 characters.
pub fn check_slug(field: &'static str, s: &str) -> Result<(), FieldError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            "must be 1 to 64 lowercase letters, digits, - or _ (starting with a letter or digit)",
        ))
    }
}

fn check_label(field: &'static str, s: &str, max: usize) -> Result<(), FieldError> {
    if s.trim().is_empty() || s.chars().count() > max {
        return Err(bad(field, format!("must be 1 to {max} characters")));
    }
    Ok(())
}

/// A language tag (`eu`, `en`, `es-ES`).
pub fn check_language(l: &str) -> Result<(), FieldError> {
    let ok = (2..=16).contains(&l.len())
        && l.starts_with(|c: char| c.is_ascii_alphabetic())
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(bad(
            "languages",
            format!("{l:?} is not a language tag such as eu"),
        ))
    }
}

impl CampaignInput {
    /// Checks everything but the times (the server parses those) and the model keys' existence.
    pub fn check(&self) -> Result<(), FieldError> {
        check_slug("slug", &self.slug)?;
        check_label("name", &self.name, 200)?;
        if self.description.chars().count() > 4000 {
            return Err(bad("description", "must be at most 4000 characters"));
        }
        for l in &self.languages {
            check_language(l)?;
        }
        for m in &self.models {
            crate::admin::check_model_key(m).map_err(|e| bad("models", e.message))?;
        }
        if self.models.len() == 1 {
            return Err(bad(
                "models",
                "a pool needs at least two models (or none: all)",
            ));
        }
        let mut keys = std::collections::BTreeSet::new();
        for q in &self.questions {
            check_slug("questions", &q.key)?;
            check_label("questions", &q.label, 300)?;
            if !keys.insert(q.key.as_str()) {
                return Err(bad("questions", format!("{:?} is asked twice", q.key)));
            }
            match &q.kind {
                QuestionKind::Scale { min, max } if min < max && max - min <= 100 => {}
                QuestionKind::Scale { .. } => {
                    return Err(bad(
                        "questions",
                        "a scale goes from a lower to a higher number",
                    ));
                }
                QuestionKind::Choice { options }
                    if !options.is_empty()
                        && options.len() <= 50
                        && options
                            .iter()
                            .all(|o| !o.trim().is_empty() && o.len() <= 200) => {}
                QuestionKind::Choice { .. } => {
                    return Err(bad("questions", "a choice needs 1 to 50 non-empty options"));
                }
            }
        }
        if self.questions.len() > 20 {
            return Err(bad("questions", "at most 20 questions"));
        }
        if let Some(rubric) = &self.rubric {
            rubric.check()?;
        }
        Ok(())
    }
}

impl Rubric {
    pub fn check(&self) -> Result<(), FieldError> {
        if self.axes.is_empty() || self.axes.len() > 8 {
            return Err(bad("rubric", "a rubric has 1 to 8 axes"));
        }
        let mut keys = std::collections::BTreeSet::new();
        for a in &self.axes {
            check_slug("rubric", &a.key)?;
            check_label("rubric", &a.label, 100)?;
            if !keys.insert(a.key.as_str()) {
                return Err(bad(
                    "rubric",
                    format!("the axis {:?} is there twice", a.key),
                ));
            }
        }
        if let WinnerRule::Ordered { order } = &self.rule {
            let mut seen: Vec<&str> = order.iter().map(String::as_str).collect();
            seen.sort_unstable();
            let mut all: Vec<&str> = keys.into_iter().collect();
            all.sort_unstable();
            if seen != all {
                return Err(bad(
                    "rubric",
                    "the rule's order must name every axis exactly once",
                ));
            }
        }
        Ok(())
    }

    /// Checks one verdict per axis (`model_a`, `model_b` or `tie`; both-bad is not an axis
    /// verdict) and derives the overall winner by the rule.
    pub fn derive(&self, verdicts: &BTreeMap<String, String>) -> Result<Winner, FieldError> {
        let mut parsed = BTreeMap::new();
        for axis in &self.axes {
            let raw = verdicts
                .get(&axis.key)
                .ok_or_else(|| bad("axes", format!("the axis {:?} has no verdict", axis.key)))?;
            let w: Winner = raw
                .parse()
                .map_err(|e: crate::WinnerError| bad("axes", e.to_string()))?;
            if w == Winner::BothBad {
                return Err(bad("axes", "an axis is voted model_a, model_b or tie"));
            }
            parsed.insert(axis.key.as_str(), w);
        }
        if let Some(extra) = verdicts.keys().find(|k| !parsed.contains_key(k.as_str())) {
            return Err(bad(
                "axes",
                format!("{extra:?} is not an axis of this campaign"),
            ));
        }
        Ok(match &self.rule {
            WinnerRule::Ordered { order } => order
                .iter()
                .filter_map(|k| parsed.get(k.as_str()).copied())
                .find(|w| *w != Winner::Tie)
                .unwrap_or(Winner::Tie),
            WinnerRule::Majority => {
                let a = parsed.values().filter(|w| **w == Winner::ModelA).count();
                let b = parsed.values().filter(|w| **w == Winner::ModelB).count();
                match a.cmp(&b) {
                    std::cmp::Ordering::Greater => Winner::ModelA,
                    std::cmp::Ordering::Less => Winner::ModelB,
                    std::cmp::Ordering::Equal => Winner::Tie,
                }
            }
        })
    }
}

/// Checks a volunteer's answers: every question answered, in range or among the options, and
/// nothing else.
pub fn check_registration(
    questions: &[Question],
    answers: &Registration,
) -> Result<(), FieldError> {
    for q in questions {
        let value = answers
            .get(&q.key)
            .ok_or_else(|| bad("answers", format!("{:?} is not answered", q.label)))?;
        let ok = match &q.kind {
            QuestionKind::Scale { min, max } => value
                .as_i64()
                .is_some_and(|v| (i64::from(*min)..=i64::from(*max)).contains(&v)),
            QuestionKind::Choice { options } => value
                .as_str()
                .is_some_and(|v| options.iter().any(|o| o == v)),
        };
        if !ok {
            return Err(bad(
                "answers",
                format!("{:?}: not one of the allowed answers", q.label),
            ));
        }
    }
    if let Some(extra) = answers
        .keys()
        .find(|k| !questions.iter().any(|q| &q.key == *k))
    {
        return Err(bad(
            "answers",
            format!("{extra:?} is not a question of this campaign"),
        ));
    }
    Ok(())
}

/// A contributor's pseudonym: 2–32 visible characters (letters, digits, spaces, `-`, `_`, `.`).
pub fn check_alias(alias: &str) -> Result<String, FieldError> {
    let alias = alias.trim();
    let n = alias.chars().count();
    if !(2..=32).contains(&n)
        || !alias
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
    {
        return Err(bad(
            "alias",
            "must be 2 to 32 letters, digits, spaces, - _ or .",
        ));
    }
    Ok(alias.to_owned())
}

#[cfg(test)]
mod tests;
