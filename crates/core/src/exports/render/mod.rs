//! One exported vote in each public schema: pure functions from an [`ExportRecord`] to a
//! [`Row`] (the schema's columns, in order), and the JSON and CSV renderings of rows.
//!
//! A row borrows from its record: the prompts and answers are written straight from the
//! database row they were read from (no `serde_json::Value` is built on the JSONL and CSV paths;
//! [`Cell::to_value`] builds one where a caller needs it: Parquet, tests). The voter id is
//! already a keyed hash here; nothing secret reaches this module.

use arena_domain::export::Schema;
use serde_json::{Value, json};
use std::borrow::Cow;

mod cell;

use cell::metadata;
pub use cell::{Cell, Metadata, Row, Side, csv_unescape};

/// One turn of an exported conversation: the prompt and both answers with their style features.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct TurnRecord<'a> {
    #[serde(borrow)]
    pub prompt: Cow<'a, str>,
    #[serde(borrow)]
    pub a: Cow<'a, str>,
    #[serde(borrow)]
    pub b: Cow<'a, str>,
    #[serde(default)]
    pub a_tokens: Option<i64>,
    #[serde(default)]
    pub b_tokens: Option<i64>,
    #[serde(default)]
    pub a_headers: Option<i64>,
    #[serde(default)]
    pub b_headers: Option<i64>,
    #[serde(default)]
    pub a_lists: Option<i64>,
    #[serde(default)]
    pub b_lists: Option<i64>,
    #[serde(default)]
    pub a_bold: Option<i64>,
    #[serde(default)]
    pub b_bold: Option<i64>,
    #[serde(default)]
    pub prompt_tokens_a: Option<i64>,
    #[serde(default)]
    pub prompt_tokens_b: Option<i64>,
}

impl TurnRecord<'_> {
    fn answer(&self, side: Side) -> &str {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

/// One vote with its conversation up to the voted turn, as read from one snapshot (borrowed
/// from the database row).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord<'a> {
    pub vote_id: i64,
    pub battle_id: uuid::Uuid,
    /// 0-based index of the voted turn.
    pub turn_index: i32,
    pub model_a: &'a str,
    pub model_b: &'a str,
    /// `model_a`, `model_b`, `tie` or `both_bad`.
    pub winner: &'a str,
    pub counted: bool,
    pub voided: bool,
    pub void_reason: Option<&'a str>,
    pub flagged: bool,
    pub identity_leak: bool,
    pub anonymous: bool,
    pub language: Option<&'a str>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Keyed hash of the voter id (per-release salt).
    pub voter: &'a str,
    pub turns: Vec<TurnRecord<'a>>,
    /// The campaign's slug (`arena`: the default arena).
    pub campaign: &'a str,
    /// A rubric vote's verdict per axis, as JSON text.
    pub axes: Option<&'a str>,
    /// The voter's answers to the campaign's registration questions, as JSON text.
    pub registration: Option<&'a str>,
}

impl ExportRecord<'_> {
    /// Unix seconds, to the millisecond.
    fn tstamp(&self) -> f64 {
        self.created_at.timestamp_millis() as f64 / 1000.0
    }

    /// RFC 3339.
    fn timestamp(&self) -> String {
        self.created_at.to_rfc3339()
    }

    fn battle(&self) -> String {
        self.battle_id.hyphenated().to_string()
    }

    /// `{battle}-{turn}`: the schemas' row id.
    fn question_id(&self) -> String {
        format!("{}-{}", self.battle_id.hyphenated(), self.turn_index)
    }
}

/// Whether the prompts look like code (the datasets' `is_code`, approximated by fences and
/// common keywords).
fn is_code(r: &ExportRecord) -> bool {
    r.turns.iter().any(|t| {
        t.prompt.contains("```")
            || ["def ", "fn ", "#include", "function ", "SELECT ", "class "]
                .iter()
                .any(|k| t.prompt.contains(k))
    })
}

fn winner_33k(w: &str) -> &str {
    if w == "both_bad" { "tie (bothbad)" } else { w }
}

/// The row of `r` in `schema`, or `None` when the schema has no row for it (DPO: ties and
/// both-bad).
pub fn row<'a>(schema: Schema, r: &'a ExportRecord<'a>) -> Option<Row<'a>> {
    let turns = r.turns.as_slice();
    let language = Cell::Str(r.language.unwrap_or_default());
    let conversation = |side| Cell::Conversation(turns, side);
    Some(Row(match schema {
        Schema::ChatbotArenaConversations => vec![
            ("question_id", r.question_id().into()),
            ("model_a", r.model_a.into()),
            ("model_b", r.model_b.into()),
            ("winner", winner_33k(r.winner).into()),
            ("judge", r.voter.into()),
            ("conversation_a", conversation(Side::A)),
            ("conversation_b", conversation(Side::B)),
            ("turn", Cell::Int(turns.len() as i64)),
            ("anony", r.anonymous.into()),
            ("language", language),
            ("tstamp", Cell::Float(r.tstamp())),
            (
                "openai_moderation",
                Cell::Json(json!({"flagged": r.flagged})),
            ),
            ("toxic_chat_tag", Cell::Null),
            ("voided", r.voided.into()),
        ],
        Schema::ArenaHumanPreference100k => vec![
            ("question_id", r.question_id().into()),
            ("model_a", r.model_a.into()),
            ("model_b", r.model_b.into()),
            ("winner", winner_33k(r.winner).into()),
            ("judge", r.voter.into()),
            ("conversation_a", conversation(Side::A)),
            ("conversation_b", conversation(Side::B)),
            ("turn", Cell::Int(turns.len() as i64)),
            ("anony", r.anonymous.into()),
            ("language", language),
            ("tstamp", Cell::Float(r.tstamp())),
            ("conv_metadata", metadata(turns)),
            ("is_code", is_code(r).into()),
            ("is_refusal", false.into()),
            (
                "dedup_tag",
                Cell::Json(json!({"high_freq": false, "sampled": true})),
            ),
            ("category_tag", Cell::Null),
            ("judge_hash", r.voter.into()),
            ("voided", r.voided.into()),
        ],
        Schema::ArenaHumanPreference140k => vec![
            ("id", r.question_id().into()),
            ("model_a", r.model_a.into()),
            ("model_b", r.model_b.into()),
            ("winner", r.winner.into()),
            ("evaluation_session_id", r.battle().into()),
            ("evaluation_order", Cell::Int(i64::from(r.turn_index) + 1)),
            ("conversation_a", conversation(Side::A)),
            ("conversation_b", conversation(Side::B)),
            ("full_conversation", Cell::FullConversation(turns)),
            ("conv_metadata", metadata(turns)),
            ("category_tag", Cell::Null),
            ("language", language),
            ("is_code", is_code(r).into()),
            ("timestamp", r.timestamp().into()),
            ("voided", r.voided.into()),
        ],
        Schema::Kaggle55k => {
            let list = |f: &dyn for<'t> Fn(&'t TurnRecord<'a>) -> &'t str| {
                Cell::String(
                    serde_json::to_string(&turns.iter().map(f).collect::<Vec<_>>())
                        .unwrap_or_default(),
                )
            };
            vec![
                ("id", r.vote_id.into()),
                ("model_a", r.model_a.into()),
                ("model_b", r.model_b.into()),
                ("prompt", list(&|t| &t.prompt)),
                ("response_a", list(&|t| &t.a)),
                ("response_b", list(&|t| &t.b)),
                (
                    "winner_model_a",
                    Cell::Int(i64::from(r.winner == "model_a")),
                ),
                (
                    "winner_model_b",
                    Cell::Int(i64::from(r.winner == "model_b")),
                ),
                (
                    "winner_tie",
                    Cell::Int(i64::from(r.winner == "tie" || r.winner == "both_bad")),
                ),
            ]
        }
        Schema::Ebaluatoia => {
            let winner_content = match r.winner {
                "model_a" => turns.last().map(|t| &*t.a),
                "model_b" => turns.last().map(|t| &*t.b),
                _ => None,
            };
            let education = r.registration.and_then(|j| {
                let v: Value = serde_json::from_str(j).ok()?;
                Some(match &v["education"] {
                    Value::String(s) => s.clone(),
                    Value::Null => return None,
                    other => other.to_string(),
                })
            });
            vec![
                ("id", r.question_id().into()),
                ("username", r.voter.into()),
                ("user_language", language.clone()),
                ("user_education", education.map_or(Cell::Null, Cell::String)),
                ("timestamp", r.timestamp().into()),
                ("model_a", r.model_a.into()),
                ("model_b", r.model_b.into()),
                ("conv_a", conversation(Side::A)),
                ("conv_b", conversation(Side::B)),
                ("winner", r.winner.into()),
                ("winner_content", winner_content.into()),
                ("winner_language", language),
            ]
        }
        Schema::Dpo => {
            let last = turns.last()?;
            let side = match r.winner {
                "model_a" => Side::A,
                "model_b" => Side::B,
                _ => return None,
            };
            let other = if side == Side::A { Side::B } else { Side::A };
            // Earlier turns are the context of the last prompt (the chosen side's history).
            let prompt = if turns.len() == 1 {
                Cell::Str(&last.prompt)
            } else {
                let mut prompt = String::new();
                for t in &turns[..turns.len() - 1] {
                    prompt.push_str("User: ");
                    prompt.push_str(&t.prompt);
                    prompt.push_str("\n\nAssistant: ");
                    prompt.push_str(t.answer(side));
                    prompt.push_str("\n\n");
                }
                prompt.push_str("User: ");
                prompt.push_str(&last.prompt);
                Cell::String(prompt)
            };
            let (chosen_model, rejected_model) = match side {
                Side::A => (r.model_a, r.model_b),
                Side::B => (r.model_b, r.model_a),
            };
            // The triple, then the two models (so the pairs can be rated, and imported back).
            vec![
                ("prompt", prompt),
                ("chosen", last.answer(side).into()),
                ("rejected", last.answer(other).into()),
                ("chosen_model", chosen_model.into()),
                ("rejected_model", rejected_model.into()),
            ]
        }
        Schema::Full => vec![
            ("vote_id", r.vote_id.into()),
            ("battle_id", r.battle().into()),
            ("turn", Cell::Int(i64::from(r.turn_index))),
            ("model_a", r.model_a.into()),
            ("model_b", r.model_b.into()),
            ("winner", r.winner.into()),
            ("counted", r.counted.into()),
            ("voided", r.voided.into()),
            ("void_reason", r.void_reason.into()),
            ("flagged", r.flagged.into()),
            ("identity_leak", r.identity_leak.into()),
            ("anonymous", r.anonymous.into()),
            ("language", r.language.into()),
            ("created_at", r.timestamp().into()),
            ("voter", r.voter.into()),
            ("conversation_a", conversation(Side::A)),
            ("conversation_b", conversation(Side::B)),
            ("conv_metadata", metadata(turns)),
            ("campaign", r.campaign.into()),
            ("axes", r.axes.into()),
            ("registration", r.registration.into()),
        ],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(winner: &str, turns: usize) -> ExportRecord<'_> {
        ExportRecord {
            vote_id: 7,
            battle_id: uuid::Uuid::from_u128(1),
            turn_index: turns as i32 - 1,
            model_a: "x",
            model_b: "y",
            winner,
            counted: true,
            voided: false,
            void_reason: None,
            flagged: false,
            identity_leak: false,
            anonymous: true,
            language: Some("eu"),
            created_at: "2026-12-01T10:00:00.5Z".parse().unwrap(),
            voter: "h4sh",
            campaign: "arena",
            axes: None,
            registration: None,
            turns: (0..turns)
                .map(|i| TurnRecord {
                    prompt: format!("q{i}, \"quoted\"").into(),
                    a: format!("a{i}").into(),
                    b: format!("b{i}").into(),
                    a_tokens: Some(3),
                    b_tokens: Some(4),
                    a_headers: Some(1),
                    b_headers: Some(0),
                    a_lists: None,
                    b_lists: None,
                    a_bold: None,
                    b_bold: None,
                    prompt_tokens_a: Some(10),
                    prompt_tokens_b: Some(11),
                })
                .collect(),
        }
    }

    #[test]
    fn each_schema_has_its_columns() {
        let r = record("both_bad", 2);
        let keys = |s| row(s, &r).unwrap().keys();
        let get = |s, k| row(s, &r).unwrap().get(k);
        assert_eq!(
            keys(Schema::ChatbotArenaConversations)[..4],
            ["question_id", "model_a", "model_b", "winner"]
        );
        assert_eq!(
            get(Schema::ChatbotArenaConversations, "question_id"),
            "00000000-0000-0000-0000-000000000001-1"
        );
        assert_eq!(
            get(Schema::ChatbotArenaConversations, "winner"),
            "tie (bothbad)"
        );
        assert_eq!(get(Schema::ArenaHumanPreference140k, "winner"), "both_bad");
        assert_eq!(get(Schema::ChatbotArenaConversations, "turn"), 2);
        assert_eq!(
            get(Schema::ChatbotArenaConversations, "tstamp"),
            json!(1_796_119_200.5)
        );
        let conv = get(Schema::ChatbotArenaConversations, "conversation_b");
        assert_eq!(conv.as_array().unwrap().len(), 4);
        assert_eq!(conv[3], json!({"role": "assistant", "content": "b1"}));
        let meta = get(Schema::ArenaHumanPreference100k, "conv_metadata");
        assert_eq!(meta["sum_assistant_a_tokens"], 6);
        assert_eq!(meta["header_count_a"]["total"], 2);
        assert_eq!(meta["header_count_a"]["h6"], 0);
        assert_eq!(meta["bold_count_b"], json!({"**": 0, "__": 0}));
        assert_eq!(meta["context_b_tokens"], 11);
        let full = get(Schema::ArenaHumanPreference140k, "full_conversation");
        assert_eq!(full[1]["model_side_a"]["content"], "a1");
        assert_eq!(full[0]["user"]["role"], "user");
        let k = row(Schema::Kaggle55k, &r).unwrap();
        assert_eq!(
            (k.get("winner_model_a"), k.get("winner_tie")),
            (json!(0), json!(1))
        );
        assert_eq!(
            k.get("prompt"),
            "[\"q0, \\\"quoted\\\"\",\"q1, \\\"quoted\\\"\"]"
        );
        assert!(row(Schema::Dpo, &r).is_none(), "both-bad has no DPO pair");
        let b = record("model_b", 2);
        let d = row(Schema::Dpo, &b).unwrap();
        assert_eq!(d.get("chosen"), "b1");
        assert_eq!(d.get("rejected"), "a1");
        assert_eq!(
            d.get("prompt"),
            "User: q0, \"quoted\"\n\nAssistant: b0\n\nUser: q1, \"quoted\""
        );
        let one = record("model_a", 1);
        assert_eq!(
            row(Schema::Dpo, &one).unwrap().get("prompt"),
            "q0, \"quoted\""
        );
        let e = row(Schema::Ebaluatoia, &one).unwrap();
        assert_eq!(e.get("winner_content"), "a0");
        assert_eq!(e.get("username"), "h4sh");
        assert_eq!(e.get("timestamp"), "2026-12-01T10:00:00.500+00:00");
        assert_eq!(keys(Schema::Full)[0], "vote_id");
    }

    /// What a row writes as JSON is what its cells are as values, for every schema.
    #[test]
    fn json_lines_are_the_rows_values() {
        let mut r = record("model_a", 2);
        r.turns[1].b = "tab\t, newline\n, quote \" and ✓".into();
        r.axes = Some(r#"{"content":"model_a"}"#);
        r.registration = Some(r#"{"education":"university"}"#);
        r.language = None;
        for schema in Schema::ALL {
            let row = row(schema, &r).unwrap();
            let line = row.json_line();
            assert!(line.ends_with("}\n") && !line[..line.len() - 1].contains('\n'));
            let parsed: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
            let values: serde_json::Map<String, Value> = row
                .clone()
                .into_values()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            assert_eq!(parsed, values, "{schema}");
            // The columns in the schema's order (no nested key shares a column's name).
            let at: Vec<usize> = row
                .keys()
                .iter()
                .map(|k| line.find(&format!("\"{k}\":")).unwrap())
                .collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{schema}: {line}");
        }
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let one = record("model_a", 1);
        let r = row(Schema::Kaggle55k, &one).unwrap();
        assert_eq!(
            r.csv_header(),
            "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
        );
        let line = r.csv_line();
        assert!(r.json_line().starts_with("{\"id\":7,\"model_a\":\"x\""));
        assert!(
            line.starts_with("7,x,y,\"[\"\"q0, \\\"\"quoted\\\"\"\"\"]\",\"[\"\"a0\"\"]\""),
            "{line}"
        );
        assert!(line.ends_with(",1,0,0\n"));
        let full = row(Schema::Full, &one).unwrap().csv_line();
        assert!(full.contains(",,"), "a null is an empty field: {full}");
        assert!(
            full.contains(",\"[{\"\"role\"\":\"\"user\"\",\"\"content\"\":"),
            "{full}"
        );
    }
}
