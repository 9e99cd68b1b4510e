//! Research imports: one row of a public arena dataset, in any of the export schemas (JSON lines,
//! CSV or Parquet, read into a JSON object by the caller), checked and parsed into the vote it
//! records. Pure: the importer (`server import`) does the reading and the writing.
//!
//! - Both spellings of both-bad are read: `tie (bothbad)` and `both_bad`.
//! - CSV gives every field as text: numbers, booleans and one-hot columns are read from text too.
//! - A row that the arena wrote itself marks a voided vote (`voided: true`): it is stored but not
//!   counted, as at home.

use crate::export::Schema;
use crate::vote::Winner;
use serde_json::{Map, Value};

/// When a vote was cast, as the dataset spells it.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// Unix seconds (`tstamp`).
    Unix(f64),
    /// An ISO 8601 / RFC 3339 date-time (`timestamp`, `created_at`).
    Text(String),
}

/// The vote one row records.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedVote {
    /// The row's own id in the dataset, when it has one (with the turn, for multi-turn rows);
    /// otherwise the importer keys the row by a hash of its content.
    pub key: Option<String>,
    /// The model names as the dataset spells them.
    pub model_a: String,
    pub model_b: String,
    pub winner: Winner,
    pub language: Option<String>,
    pub when: Option<When>,
    pub turn: Option<i32>,
    /// False for a vote the arena had voided (its own exports mark them).
    pub counted: bool,
}

/// Why a row cannot be imported (the importer adds the line number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RowError {
    pub field: String,
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> RowError {
    RowError {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn present<'a>(row: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    row.get(field).filter(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    })
}

fn text(row: &Map<String, Value>, field: &str) -> Result<String, RowError> {
    match present(row, field) {
        None => Err(bad(field, "missing")),
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(bad(field, format!("expected text, found {other}"))),
    }
}

fn optional_text(row: &Map<String, Value>, field: &str) -> Option<String> {
    match present(row, field)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(row: &Map<String, Value>, field: &str) -> Result<Option<f64>, RowError> {
    match present(row, field) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| bad(field, "not a finite number")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| bad(field, format!("{s:?} is not a number"))),
        Some(other) => Err(bad(field, format!("expected a number, found {other}"))),
    }
}

fn flag(row: &Map<String, Value>, field: &str) -> Result<Option<bool>, RowError> {
    match present(row, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => Ok(Some(true)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "1.0" => Ok(Some(true)),
            "false" | "0" | "0.0" => Ok(Some(false)),
            other => Err(bad(field, format!("{other:?} is not true/false or 1/0"))),
        },
        Some(other) => Err(bad(
            field,
            format!("expected true/false or 1/0, found {other}"),
        )),
    }
}

fn winner(row: &Map<String, Value>) -> Result<Winner, RowError> {
    let w = text(row, "winner")?;
    w.to_ascii_lowercase()
        .parse::<Winner>()
        .map_err(|e| bad("winner", e.to_string()))
}

/// Kaggle's one-hot columns: exactly one of them is 1.
fn one_hot(row: &Map<String, Value>) -> Result<Winner, RowError> {
    let mut set = Vec::new();
    for (field, w) in [
        ("winner_model_a", Winner::ModelA),
        ("winner_model_b", Winner::ModelB),
        ("winner_tie", Winner::Tie),
    ] {
        match flag(row, field)? {
            Some(true) => set.push(w),
            Some(false) => {}
            None => return Err(bad(field, "missing")),
        }
    }
    match set.as_slice() {
        [w] => Ok(*w),
        _ => Err(bad(
            "winner_model_a",
            "exactly one of winner_model_a, winner_model_b and winner_tie must be 1",
        )),
    }
}

fn turn(row: &Map<String, Value>, field: &str) -> Result<Option<i32>, RowError> {
    match number(row, field)? {
        None => Ok(None),
        Some(t) if t.fract() == 0.0 && (0.0..=1e6).contains(&t) => Ok(Some(t as i32)),
        Some(t) => Err(bad(field, format!("{t} is not a turn number"))),
    }
}

fn unix(row: &Map<String, Value>, field: &str) -> Result<Option<When>, RowError> {
    Ok(number(row, field)?.map(When::Unix))
}

fn iso(row: &Map<String, Value>, field: &str) -> Option<When> {
    optional_text(row, field).map(When::Text)
}

/// The dataset's id, with the turn when the schema has several rows per conversation.
fn id_key(row: &Map<String, Value>, field: &str, turn: Option<i32>) -> Option<String> {
    let id = optional_text(row, field)?;
    Some(match turn {
        Some(t) => format!("{id}#{t}"),
        None => id,
    })
}

/// Parses one row of `schema` into the vote it records.
/// Every field [`parse_row`] reads, in any schema: an importer may parse only these (and skip
/// the conversations) and get the same vote. Keep in step with `parse_row` and its helpers.
pub const READ_FIELDS: [&str; 20] = [
    "voided",
    "counted",
    "language",
    "user_language",
    "turn",
    "evaluation_order",
    "question_id",
    "id",
    "vote_id",
    "model_a",
    "model_b",
    "chosen_model",
    "rejected_model",
    "winner",
    "winner_model_a",
    "winner_model_b",
    "winner_tie",
    "tstamp",
    "timestamp",
    "created_at",
];

pub fn parse_row(schema: Schema, row: &Map<String, Value>) -> Result<ImportedVote, RowError> {
    let voided = flag(row, "voided")?.unwrap_or(false);
    let language = optional_text(row, "language");
    let vote = match schema {
        Schema::ChatbotArenaConversations | Schema::ArenaHumanPreference100k => {
            let t = turn(row, "turn")?;
            ImportedVote {
                key: id_key(row, "question_id", None),
                model_a: text(row, "model_a")?,
                model_b: text(row, "model_b")?,
                winner: winner(row)?,
                language,
                when: unix(row, "tstamp")?,
                turn: t,
                counted: !voided,
            }
        }
        Schema::ArenaHumanPreference140k => {
            let t = turn(row, "evaluation_order")?;
            ImportedVote {
                key: id_key(row, "id", None),
                model_a: text(row, "model_a")?,
                model_b: text(row, "model_b")?,
                winner: winner(row)?,
                language,
                when: iso(row, "timestamp"),
                turn: t,
                counted: !voided,
            }
        }
        Schema::Kaggle55k => ImportedVote {
            key: id_key(row, "id", None),
            model_a: text(row, "model_a")?,
            model_b: text(row, "model_b")?,
            winner: one_hot(row)?,
            language,
            when: None,
            turn: None,
            counted: !voided,
        },
        Schema::Ebaluatoia => ImportedVote {
            key: id_key(row, "id", None),
            model_a: text(row, "model_a")?,
            model_b: text(row, "model_b")?,
            winner: winner(row)?,
            language: optional_text(row, "user_language"),
            when: iso(row, "timestamp"),
            turn: None,
            counted: !voided,
        },
        // DPO pairs name a winner only through the two model columns the arena writes beside
        // the triple; a bare `prompt, chosen, rejected` file has no models to rate.
        Schema::Dpo => ImportedVote {
            key: None,
            model_a: text(row, "chosen_model").map_err(|_| {
                bad(
                    "chosen_model",
                    "missing: a DPO file needs chosen_model and rejected_model to be rated",
                )
            })?,
            model_b: text(row, "rejected_model")?,
            winner: Winner::ModelA,
            language,
            when: None,
            turn: None,
            counted: !voided,
        },
        Schema::Full => {
            let t = turn(row, "turn")?;
            ImportedVote {
                key: id_key(row, "vote_id", None),
                model_a: text(row, "model_a")?,
                model_b: text(row, "model_b")?,
                winner: winner(row)?,
                language,
                when: iso(row, "created_at"),
                turn: t,
                counted: flag(row, "counted")?.unwrap_or(true) && !voided,
            }
        }
    };
    if vote.model_a == vote.model_b {
        return Err(bad("model_b", "a model cannot battle itself"));
    }
    Ok(vote)
}

/// The arena's model key for a dataset's model name: lowercase, anything but letters, digits,
/// `.`, `_` and `-` becomes `-` (`RWKV-4-Raven-14B` → `rwkv-4-raven-14b`,
/// `meta/llama 3` → `meta-llama-3`).
pub fn model_key(name: &str) -> Result<String, RowError> {
    let mut key: String = name
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let start = key
        .find(|c: char| c.is_ascii_alphanumeric())
        .unwrap_or(key.len());
    key.drain(..start);
    key.truncate(100);
    if key.is_empty() {
        return Err(bad("model", format!("{name:?} is not a model name")));
    }
    Ok(key)
}

/// One past import, as the console lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportRow {
    pub id: i64,
    pub source: String,
    pub file_name: String,
    pub schema: String,
    pub rows_read: i64,
    pub rows_added: i64,
    pub rows_skipped: i64,
    pub models_created: i32,
    /// The malformed lines left out (`--skip-bad`): line number and why.
    pub bad_lines: Vec<(u64, String)>,
    /// RFC 3339.
    pub created_at: String,
}

/// A data source's name: 1 to 64 characters, lowercase letters, digits, `.`, `_` or `-`.
pub fn check_source_name(name: &str) -> Result<(), RowError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(bad(
            "source",
            "1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a \
             letter or digit",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn both_spellings_of_both_bad_and_csv_text() {
        for w in ["tie (bothbad)", "both_bad"] {
            let r = row(json!({"question_id": "q1", "model_a": "a", "model_b": "b",
                               "winner": w, "turn": 1, "tstamp": 1.5e9, "language": "English"}));
            let v = parse_row(Schema::ChatbotArenaConversations, &r).unwrap();
            assert_eq!(v.winner, Winner::BothBad);
            assert_eq!(v.key.as_deref(), Some("q1"));
            assert_eq!(v.when, Some(When::Unix(1.5e9)));
            assert_eq!(v.turn, Some(1));
        }
        // CSV: everything is text.
        let r = row(json!({"question_id": "q1", "model_a": "a", "model_b": "b",
                           "winner": "model_b", "turn": "2", "tstamp": "1700000000.25",
                           "voided": "true"}));
        let v = parse_row(Schema::ArenaHumanPreference100k, &r).unwrap();
        assert_eq!(
            (v.winner, v.turn, v.counted),
            (Winner::ModelB, Some(2), false)
        );
        assert_eq!(v.when, Some(When::Unix(1_700_000_000.25)));
    }

    #[test]
    fn kaggle_one_hot_and_dpo_models() {
        let k = |a: Value, b: Value, t: Value| {
            parse_row(
                Schema::Kaggle55k,
                &row(json!({"id": 7, "model_a": "a", "model_b": "b",
                             "winner_model_a": a, "winner_model_b": b, "winner_tie": t})),
            )
        };
        assert_eq!(
            k(json!(0), json!("1"), json!(0)).unwrap().winner,
            Winner::ModelB
        );
        assert_eq!(k(json!(0), json!(0), json!(1)).unwrap().winner, Winner::Tie);
        assert!(k(json!(1), json!(1), json!(0)).is_err());
        assert!(k(json!(0), json!(0), json!(0)).is_err());
        let d = parse_row(
            Schema::Dpo,
            &row(json!({"prompt": "p", "chosen": "x", "rejected": "y",
                         "chosen_model": "b", "rejected_model": "a"})),
        )
        .unwrap();
        assert_eq!((d.model_a.as_str(), d.winner), ("b", Winner::ModelA));
        let e = parse_row(
            Schema::Dpo,
            &row(json!({"prompt": "p", "chosen": "x", "rejected": "y"})),
        )
        .unwrap_err();
        assert_eq!(e.field, "chosen_model");
    }

    #[test]
    fn bad_rows_name_their_field() {
        let cases = [
            (json!({"model_a": "a", "model_b": "b"}), "winner"),
            (json!({"model_a": "a", "winner": "tie"}), "model_b"),
            (
                json!({"model_a": "a", "model_b": "b", "winner": "draw"}),
                "winner",
            ),
            (
                json!({"model_a": "a", "model_b": "a", "winner": "tie"}),
                "model_b",
            ),
            (
                json!({"model_a": "a", "model_b": "b", "winner": "tie", "tstamp": "soon"}),
                "tstamp",
            ),
            (
                json!({"model_a": "a", "model_b": "b", "winner": "tie", "turn": 1.5}),
                "turn",
            ),
        ];
        for (r, field) in cases {
            let e = parse_row(Schema::ChatbotArenaConversations, &row(r.clone())).unwrap_err();
            assert_eq!(e.field, field, "{r}");
        }
    }

    #[test]
    fn model_names_become_keys() {
        assert_eq!(model_key("RWKV-4-Raven-14B").unwrap(), "rwkv-4-raven-14b");
        assert_eq!(model_key(" meta/llama 3 ").unwrap(), "meta-llama-3");
        assert_eq!(model_key("_x").unwrap(), "x");
        assert!(model_key("  ").is_err());
        assert!(model_key("///").is_err());
        assert!(check_source_name("lmsys-33k").is_ok());
        assert!(check_source_name("LMSYS").is_err());
        assert!(check_source_name("").is_err());
    }
}
