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

/// Questions as the console writes them, one per line: `key: Label (1-5)` for a scale,
/// `key: Label [option | option]` for a choice.
pub fn parse_questions(text: &str) -> Result<Vec<Question>, FieldError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| bad("questions", format!("{line:?}: write key: label (1-5)")))?;
        let rest = rest.trim();
        let (label, kind) = if let Some(body) = rest.strip_suffix(']') {
            let (label, options) = body
                .rsplit_once('[')
                .ok_or_else(|| bad("questions", format!("{line:?}: [a | b] lists the options")))?;
            let options = options
                .split('|')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            (label, QuestionKind::Choice { options })
        } else if let Some(body) = rest.strip_suffix(')') {
            let (label, range) = body
                .rsplit_once('(')
                .ok_or_else(|| bad("questions", format!("{line:?}: (1-5) gives the scale")))?;
            let (min, max) = range
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                .ok_or_else(|| bad("questions", format!("{line:?}: (1-5) gives the scale")))?;
            (label, QuestionKind::Scale { min, max })
        } else {
            return Err(bad(
                "questions",
                format!("{line:?}: end with (1-5) for a scale or [a | b] for a choice"),
            ));
        };
        out.push(Question {
            key: key.trim().to_owned(),
            label: label.trim().to_owned(),
            kind,
        });
    }
    Ok(out)
}

/// The inverse of [`parse_questions`].
pub fn questions_text(questions: &[Question]) -> String {
    questions
        .iter()
        .map(|q| match &q.kind {
            QuestionKind::Scale { min, max } => format!("{}: {} ({min}-{max})", q.key, q.label),
            QuestionKind::Choice { options } => {
                format!("{}: {} [{}]", q.key, q.label, options.join(" | "))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rubric axes as the console writes them, one per line, `key: Label`, in the order that
/// decides (with the `ordered` rule). Empty: no rubric.
pub fn parse_axes(text: &str, majority: bool) -> Result<Option<Rubric>, FieldError> {
    let mut axes = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, label) = line
            .split_once(':')
            .ok_or_else(|| bad("rubric", format!("{line:?}: write key: label")))?;
        axes.push(Axis {
            key: key.trim().to_owned(),
            label: label.trim().to_owned(),
        });
    }
    if axes.is_empty() {
        return Ok(None);
    }
    let rule = if majority {
        WinnerRule::Majority
    } else {
        WinnerRule::Ordered {
            order: axes.iter().map(|a| a.key.clone()).collect(),
        }
    };
    let rubric = Rubric { axes, rule };
    rubric.check()?;
    Ok(Some(rubric))
}

/// The inverse of [`parse_axes`] (in the rule's order when it has one).
pub fn axes_text(rubric: Option<&Rubric>) -> String {
    let Some(r) = rubric else {
        return String::new();
    };
    let label = |k: &str| r.axes.iter().find(|a| a.key == k).map(|a| a.label.clone());
    let keys: Vec<String> = match &r.rule {
        WinnerRule::Ordered { order } => order.clone(),
        WinnerRule::Majority => r.axes.iter().map(|a| a.key.clone()).collect(),
    };
    keys.iter()
        .filter_map(|k| Some(format!("{k}: {}", label(k)?)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rubric(rule: WinnerRule) -> Rubric {
        Rubric {
            axes: vec![
                Axis {
                    key: "content".into(),
                    label: "Content".into(),
                },
                Axis {
                    key: "language".into(),
                    label: "Language".into(),
                },
                Axis {
                    key: "style".into(),
                    label: "Style".into(),
                },
            ],
            rule,
        }
    }

    fn verdicts(c: &str, l: &str, s: &str) -> BTreeMap<String, String> {
        [("content", c), ("language", l), ("style", s)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn the_ordered_rule_lets_the_first_untied_axis_decide() {
        let r = rubric(WinnerRule::Ordered {
            order: vec!["content".into(), "language".into(), "style".into()],
        });
        r.check().unwrap();
        assert_eq!(
            r.derive(&verdicts("model_a", "model_b", "model_b"))
                .unwrap(),
            Winner::ModelA
        );
        assert_eq!(
            r.derive(&verdicts("tie", "model_b", "model_a")).unwrap(),
            Winner::ModelB
        );
        assert_eq!(
            r.derive(&verdicts("tie", "tie", "model_a")).unwrap(),
            Winner::ModelA
        );
        assert_eq!(
            r.derive(&verdicts("tie", "tie", "tie")).unwrap(),
            Winner::Tie
        );
        // Language first instead: the same verdicts, another winner.
        let r = rubric(WinnerRule::Ordered {
            order: vec!["language".into(), "content".into(), "style".into()],
        });
        assert_eq!(
            r.derive(&verdicts("model_a", "model_b", "model_b"))
                .unwrap(),
            Winner::ModelB
        );
    }

    #[test]
    fn the_majority_rule_counts_axes() {
        let r = rubric(WinnerRule::Majority);
        assert_eq!(
            r.derive(&verdicts("model_a", "model_b", "model_b"))
                .unwrap(),
            Winner::ModelB
        );
        assert_eq!(
            r.derive(&verdicts("model_a", "tie", "model_b")).unwrap(),
            Winner::Tie
        );
        assert_eq!(
            r.derive(&verdicts("model_a", "tie", "tie")).unwrap(),
            Winner::ModelA
        );
    }

    #[test]
    fn bad_verdicts_are_refused_with_the_axis_named() {
        let r = rubric(WinnerRule::Majority);
        let mut v = verdicts("model_a", "model_b", "tie");
        v.remove("style");
        assert!(r.derive(&v).unwrap_err().message.contains("style"));
        let v = verdicts("model_a", "both_bad", "tie");
        assert_eq!(r.derive(&v).unwrap_err().field, "axes");
        let mut v = verdicts("model_a", "model_b", "tie");
        v.insert("speed".into(), "tie".into());
        assert!(r.derive(&v).unwrap_err().message.contains("speed"));
        let v = verdicts("left", "model_b", "tie");
        assert!(r.derive(&v).is_err());
    }

    #[test]
    fn a_rule_must_order_every_axis_once() {
        let r = rubric(WinnerRule::Ordered {
            order: vec!["content".into(), "language".into()],
        });
        assert!(r.check().is_err());
        let r = rubric(WinnerRule::Ordered {
            order: vec!["content".into(), "content".into(), "style".into()],
        });
        assert!(r.check().is_err());
    }

    #[test]
    fn registration_answers_are_checked_against_the_questions() {
        let qs = parse_questions(
            "proficiency: How well do you speak Basque? (1-5)\n\
             education: Education [primary | secondary | university]",
        )
        .unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].kind, QuestionKind::Scale { min: 1, max: 5 });
        assert_eq!(
            questions_text(&qs),
            "proficiency: How well do you speak Basque? (1-5)\neducation: Education [primary | secondary | university]"
        );
        let ok: Registration =
            serde_json::from_str(r#"{"proficiency": 4, "education": "university"}"#).unwrap();
        check_registration(&qs, &ok).unwrap();
        for bad in [
            r#"{"proficiency": 6, "education": "university"}"#,
            r#"{"proficiency": "4", "education": "university"}"#,
            r#"{"proficiency": 4, "education": "none"}"#,
            r#"{"proficiency": 4}"#,
            r#"{"proficiency": 4, "education": "primary", "age": 30}"#,
        ] {
            let answers: Registration = serde_json::from_str(bad).unwrap();
            assert!(check_registration(&qs, &answers).is_err(), "{bad}");
        }
        assert!(parse_questions("age: Age").is_err());
        assert!(parse_questions("no colon (1-5)").is_err());
    }

    #[test]
    fn axes_text_round_trips_and_inputs_are_checked() {
        let r = parse_axes("content: Content\nlanguage: Language quality", false)
            .unwrap()
            .unwrap();
        assert_eq!(
            r.rule,
            WinnerRule::Ordered {
                order: vec!["content".into(), "language".into()]
            }
        );
        assert_eq!(
            axes_text(Some(&r)),
            "content: Content\nlanguage: Language quality"
        );
        assert_eq!(parse_axes("  \n", false).unwrap(), None);
        assert!(parse_axes("content: A\ncontent: B", false).is_err());
        let input = CampaignInput {
            slug: "euskara-2026".into(),
            name: "Basque arena".into(),
            description: String::new(),
            starts_at: None,
            ends_at: None,
            languages: vec!["eu".into()],
            models: vec![],
            pairing: CampaignPairing::Uniform,
            sign_in_required: true,
            questions: vec![],
            rubric: Some(r),
            version: None,
        };
        input.check().unwrap();
        for (field, bad) in [
            (
                "slug",
                CampaignInput {
                    slug: "Bad Slug".into(),
                    ..input.clone()
                },
            ),
            (
                "name",
                CampaignInput {
                    name: " ".into(),
                    ..input.clone()
                },
            ),
            (
                "languages",
                CampaignInput {
                    languages: vec!["e u".into()],
                    ..input.clone()
                },
            ),
            (
                "models",
                CampaignInput {
                    models: vec!["only-one".into()],
                    ..input.clone()
                },
            ),
        ] {
            assert_eq!(bad.check().unwrap_err().field, field);
        }
        assert_eq!(check_alias("  Mikel_88 ").unwrap(), "Mikel_88");
        assert!(check_alias("<script>").is_err());
        assert!(check_alias("x").is_err());
    }
}
