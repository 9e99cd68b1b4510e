//! The console's text formats of registration questions and rubric axes (one per line), and
//! their inverses to fill the edit form.

use super::{Axis, Question, QuestionKind, Rubric, WinnerRule};
use crate::admin::{FieldError, bad};

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
