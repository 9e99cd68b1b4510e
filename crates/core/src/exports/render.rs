//! One exported vote in each public schema: pure functions from an [`ExportRecord`] to a row
//! (a JSON object whose keys are the schema's columns, in order), and the CSV rendering of
//! rows. The voter id is already a keyed hash here; nothing secret reaches this module.

use arena_domain::export::Schema;
use serde_json::{Value, json};

/// One turn of an exported conversation: the prompt and both answers with their style features.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct TurnRecord {
    pub prompt: String,
    pub a: String,
    pub b: String,
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

/// One vote with its conversation up to the voted turn, as read from one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    pub vote_id: i64,
    pub battle_id: String,
    /// 0-based index of the voted turn.
    pub turn_index: i32,
    pub model_a: String,
    pub model_b: String,
    /// `model_a`, `model_b`, `tie` or `both_bad`.
    pub winner: String,
    pub counted: bool,
    pub voided: bool,
    pub void_reason: Option<String>,
    pub flagged: bool,
    pub identity_leak: bool,
    pub anonymous: bool,
    pub language: Option<String>,
    /// Unix seconds.
    pub tstamp: f64,
    /// RFC 3339.
    pub created_at: String,
    /// Keyed hash of the voter id (per-release salt).
    pub voter: String,
    pub turns: Vec<TurnRecord>,
    /// The campaign's slug (`arena`: the default arena).
    pub campaign: String,
    /// A rubric vote's verdict per axis, as JSON text.
    pub axes: Option<String>,
    /// The voter's answers to the campaign's registration questions, as JSON text.
    pub registration: Option<String>,
}

fn conversation(turns: &[TurnRecord], side: char) -> Value {
    let mut out = Vec::with_capacity(turns.len() * 2);
    for t in turns {
        out.push(json!({"role": "user", "content": t.prompt}));
        let answer = if side == 'a' { &t.a } else { &t.b };
        out.push(json!({"role": "assistant", "content": answer}));
    }
    Value::Array(out)
}

fn sum(turns: &[TurnRecord], f: impl Fn(&TurnRecord) -> Option<i64>) -> i64 {
    turns.iter().filter_map(f).sum()
}

/// The style features in the arena-human-preference `conv_metadata` layout.
fn conv_metadata(r: &ExportRecord) -> Value {
    let t = &r.turns;
    json!({
        "sum_assistant_a_tokens": sum(t, |x| x.a_tokens),
        "sum_assistant_b_tokens": sum(t, |x| x.b_tokens),
        "header_count_a": {"h1": 0, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0, "total": sum(t, |x| x.a_headers)},
        "header_count_b": {"h1": 0, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0, "total": sum(t, |x| x.b_headers)},
        "list_count_a": {"ordered": 0, "unordered": 0, "total": sum(t, |x| x.a_lists)},
        "list_count_b": {"ordered": 0, "unordered": 0, "total": sum(t, |x| x.b_lists)},
        "bold_count_a": {"**": sum(t, |x| x.a_bold), "__": 0},
        "bold_count_b": {"**": sum(t, |x| x.b_bold), "__": 0},
        "context_a_tokens": t.last().and_then(|x| x.prompt_tokens_a).unwrap_or(0),
        "context_b_tokens": t.last().and_then(|x| x.prompt_tokens_b).unwrap_or(0),
    })
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

/// A row: the schema's columns in order (a JSON object keeps them in this order too).
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<(&'static str, Value)>);

impl std::ops::Index<&str> for Row {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(&Value::Null, |(_, v)| v)
    }
}

impl Row {
    pub fn keys(&self) -> Vec<&'static str> {
        self.0.iter().map(|(k, _)| *k).collect()
    }

    /// One JSON object on one line, columns in order, with the newline.
    pub fn json_line(&self) -> String {
        let mut out = Vec::new();
        self.write_json_line(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`Row::json_line`], written straight into `out` (no string per value).
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing JSON into a Vec cannot fail (keys are strings, values are JSON).
            let _ = serde_json::to_writer(&mut *out, k);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, v);
        }
        out.extend_from_slice(b"}\n");
    }

    /// The CSV header line: the column names.
    pub fn csv_header(&self) -> String {
        let keys: Vec<String> = self.0.iter().map(|(k, _)| csv_field(&json!(k))).collect();
        keys.join(",") + "\n"
    }

    pub fn csv_line(&self) -> String {
        let fields: Vec<String> = self.0.iter().map(|(_, v)| csv_field(v)).collect();
        fields.join(",") + "\n"
    }
}

fn obj(pairs: Vec<(&'static str, Value)>) -> Row {
    Row(pairs)
}

/// The row of `r` in `schema`, or `None` when the schema has no row for it (DPO: ties and
/// both-bad).
pub fn row(schema: Schema, r: &ExportRecord) -> Option<Row> {
    let turn = r.turns.len();
    let language = json!(r.language.clone().unwrap_or_default());
    let id = format!("{}-{}", r.battle_id, r.turn_index);
    Some(match schema {
        Schema::ChatbotArenaConversations => obj(vec![
            ("question_id", json!(id)),
            ("model_a", json!(r.model_a)),
            ("model_b", json!(r.model_b)),
            ("winner", json!(winner_33k(&r.winner))),
            ("judge", json!(r.voter)),
            ("conversation_a", conversation(&r.turns, 'a')),
            ("conversation_b", conversation(&r.turns, 'b')),
            ("turn", json!(turn)),
            ("anony", json!(r.anonymous)),
            ("language", language),
            ("tstamp", json!(r.tstamp)),
            ("openai_moderation", json!({"flagged": r.flagged})),
            ("toxic_chat_tag", Value::Null),
            ("voided", json!(r.voided)),
        ]),
        Schema::ArenaHumanPreference100k => obj(vec![
            ("question_id", json!(id)),
            ("model_a", json!(r.model_a)),
            ("model_b", json!(r.model_b)),
            ("winner", json!(winner_33k(&r.winner))),
            ("judge", json!(r.voter)),
            ("conversation_a", conversation(&r.turns, 'a')),
            ("conversation_b", conversation(&r.turns, 'b')),
            ("turn", json!(turn)),
            ("anony", json!(r.anonymous)),
            ("language", language),
            ("tstamp", json!(r.tstamp)),
            ("conv_metadata", conv_metadata(r)),
            ("is_code", json!(is_code(r))),
            ("is_refusal", json!(false)),
            ("dedup_tag", json!({"high_freq": false, "sampled": true})),
            ("category_tag", Value::Null),
            ("judge_hash", json!(r.voter)),
            ("voided", json!(r.voided)),
        ]),
        Schema::ArenaHumanPreference140k => {
            let mut full = conversation(&r.turns, 'a')
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m["role"] == "user")
                .collect::<Vec<_>>();
            // `full_conversation`: each user turn with both answers.
            for (m, t) in full.iter_mut().zip(&r.turns) {
                *m = json!({"user": {"role": "user", "content": t.prompt},
                            "model_side_a": {"role": "assistant", "content": t.a},
                            "model_side_b": {"role": "assistant", "content": t.b}});
            }
            obj(vec![
                ("id", json!(id)),
                ("model_a", json!(r.model_a)),
                ("model_b", json!(r.model_b)),
                ("winner", json!(r.winner)),
                ("evaluation_session_id", json!(r.battle_id)),
                ("evaluation_order", json!(r.turn_index + 1)),
                ("conversation_a", conversation(&r.turns, 'a')),
                ("conversation_b", conversation(&r.turns, 'b')),
                ("full_conversation", Value::Array(full)),
                ("conv_metadata", conv_metadata(r)),
                ("category_tag", Value::Null),
                ("language", language),
                ("is_code", json!(is_code(r))),
                ("timestamp", json!(r.created_at)),
                ("voided", json!(r.voided)),
            ])
        }
        Schema::Kaggle55k => {
            let list = |f: &dyn Fn(&TurnRecord) -> &str| {
                Value::String(
                    serde_json::to_string(&r.turns.iter().map(f).collect::<Vec<_>>())
                        .unwrap_or_default(),
                )
            };
            obj(vec![
                ("id", json!(r.vote_id)),
                ("model_a", json!(r.model_a)),
                ("model_b", json!(r.model_b)),
                ("prompt", list(&|t| t.prompt.as_str())),
                ("response_a", list(&|t| t.a.as_str())),
                ("response_b", list(&|t| t.b.as_str())),
                ("winner_model_a", json!(u8::from(r.winner == "model_a"))),
                ("winner_model_b", json!(u8::from(r.winner == "model_b"))),
                (
                    "winner_tie",
                    json!(u8::from(r.winner == "tie" || r.winner == "both_bad")),
                ),
            ])
        }
        Schema::Ebaluatoia => {
            let winner_content = match r.winner.as_str() {
                "model_a" => r.turns.last().map(|t| t.a.clone()),
                "model_b" => r.turns.last().map(|t| t.b.clone()),
                _ => None,
            };
            obj(vec![
                ("id", json!(id)),
                ("username", json!(r.voter)),
                ("user_language", language.clone()),
                (
                    "user_education",
                    json!(r.registration.as_deref().and_then(|j| {
                        let v: Value = serde_json::from_str(j).ok()?;
                        Some(match &v["education"] {
                            Value::String(s) => s.clone(),
                            Value::Null => return None,
                            other => other.to_string(),
                        })
                    })),
                ),
                ("timestamp", json!(r.created_at)),
                ("model_a", json!(r.model_a)),
                ("model_b", json!(r.model_b)),
                ("conv_a", conversation(&r.turns, 'a')),
                ("conv_b", conversation(&r.turns, 'b')),
                ("winner", json!(r.winner)),
                ("winner_content", json!(winner_content)),
                ("winner_language", language),
            ])
        }
        Schema::Dpo => {
            let last = r.turns.last()?;
            let (chosen, rejected) = match r.winner.as_str() {
                "model_a" => (&last.a, &last.b),
                "model_b" => (&last.b, &last.a),
                _ => return None,
            };
            // Earlier turns are the context of the last prompt (the chosen side's history).
            let mut prompt = String::new();
            let side = if r.winner == "model_a" { 'a' } else { 'b' };
            for t in &r.turns[..r.turns.len() - 1] {
                let answer = if side == 'a' { &t.a } else { &t.b };
                prompt.push_str(&format!("User: {}\n\nAssistant: {}\n\n", t.prompt, answer));
            }
            if prompt.is_empty() {
                prompt = last.prompt.clone();
            } else {
                prompt.push_str(&format!("User: {}", last.prompt));
            }
            let (chosen_model, rejected_model) = if side == 'a' {
                (&r.model_a, &r.model_b)
            } else {
                (&r.model_b, &r.model_a)
            };
            // The triple, then the two models (so the pairs can be rated, and imported back).
            obj(vec![
                ("prompt", json!(prompt)),
                ("chosen", json!(chosen)),
                ("rejected", json!(rejected)),
                ("chosen_model", json!(chosen_model)),
                ("rejected_model", json!(rejected_model)),
            ])
        }
        Schema::Full => obj(vec![
            ("vote_id", json!(r.vote_id)),
            ("battle_id", json!(r.battle_id)),
            ("turn", json!(r.turn_index)),
            ("model_a", json!(r.model_a)),
            ("model_b", json!(r.model_b)),
            ("winner", json!(r.winner)),
            ("counted", json!(r.counted)),
            ("voided", json!(r.voided)),
            ("void_reason", json!(r.void_reason)),
            ("flagged", json!(r.flagged)),
            ("identity_leak", json!(r.identity_leak)),
            ("anonymous", json!(r.anonymous)),
            ("language", json!(r.language)),
            ("created_at", json!(r.created_at)),
            ("voter", json!(r.voter)),
            ("conversation_a", conversation(&r.turns, 'a')),
            ("conversation_b", conversation(&r.turns, 'b')),
            ("conv_metadata", conv_metadata(r)),
            ("campaign", json!(r.campaign)),
            ("axes", json!(r.axes)),
            ("registration", json!(r.registration)),
        ]),
    })
}

/// A CSV field (RFC 4180): nested values as their JSON text, quoted when needed.
fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(winner: &str, turns: usize) -> ExportRecord {
        ExportRecord {
            vote_id: 7,
            battle_id: "b1".into(),
            turn_index: turns as i32 - 1,
            model_a: "x".into(),
            model_b: "y".into(),
            winner: winner.into(),
            counted: true,
            voided: false,
            void_reason: None,
            flagged: false,
            identity_leak: false,
            anonymous: true,
            language: Some("eu".into()),
            tstamp: 1_700_000_000.5,
            created_at: "2026-12-01T10:00:00+00:00".into(),
            voter: "h4sh".into(),
            campaign: "arena".into(),
            axes: None,
            registration: None,
            turns: (0..turns)
                .map(|i| TurnRecord {
                    prompt: format!("q{i}, \"quoted\""),
                    a: format!("a{i}"),
                    b: format!("b{i}"),
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
        assert_eq!(
            keys(Schema::ChatbotArenaConversations)[..4],
            ["question_id", "model_a", "model_b", "winner"]
        );
        assert_eq!(
            row(Schema::ChatbotArenaConversations, &r).unwrap()["winner"],
            "tie (bothbad)"
        );
        assert_eq!(
            row(Schema::ArenaHumanPreference140k, &r).unwrap()["winner"],
            "both_bad"
        );
        assert_eq!(
            row(Schema::ChatbotArenaConversations, &r).unwrap()["turn"],
            2
        );
        let conv = &row(Schema::ChatbotArenaConversations, &r).unwrap()["conversation_b"];
        assert_eq!(conv.as_array().unwrap().len(), 4);
        assert_eq!(conv[3]["content"], "b1");
        let meta = &row(Schema::ArenaHumanPreference100k, &r).unwrap()["conv_metadata"];
        assert_eq!(meta["sum_assistant_a_tokens"], 6);
        assert_eq!(meta["header_count_a"]["total"], 2);
        assert_eq!(meta["context_b_tokens"], 11);
        let k = row(Schema::Kaggle55k, &r).unwrap();
        assert_eq!(
            (k["winner_model_a"].clone(), k["winner_tie"].clone()),
            (json!(0), json!(1))
        );
        assert_eq!(
            k["prompt"],
            "[\"q0, \\\"quoted\\\"\",\"q1, \\\"quoted\\\"\"]"
        );
        assert!(row(Schema::Dpo, &r).is_none(), "both-bad has no DPO pair");
        let d = row(Schema::Dpo, &record("model_b", 2)).unwrap();
        assert_eq!(d["chosen"], "b1");
        assert_eq!(d["rejected"], "a1");
        assert!(d["prompt"].as_str().unwrap().contains("Assistant: b0"));
        let e = row(Schema::Ebaluatoia, &record("model_a", 1)).unwrap();
        assert_eq!(e["winner_content"], "a0");
        assert_eq!(e["username"], "h4sh");
        assert_eq!(keys(Schema::Full)[0], "vote_id");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let r = row(Schema::Kaggle55k, &record("model_a", 1)).unwrap();
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
    }
}
