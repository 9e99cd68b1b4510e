//! Research exports: which public schema, which format, which votes. Parsed once here from the
//! query string (`GET /api/v1/exports/battles?schema=…&format=…&…`) or the command line
//! (`server export`), so every layer below works with checked values.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The schemas of the public arena datasets (field lists in ../shared/ARENA-NOTES.md), DPO
/// pairs, and the arena's own full schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Schema {
    /// lmsys/chatbot_arena_conversations (33k).
    ChatbotArenaConversations,
    /// lmarena-ai/arena-human-preference-100k.
    ArenaHumanPreference100k,
    /// lmarena-ai/arena-human-preference-140k.
    ArenaHumanPreference140k,
    /// The Kaggle "LMSYS – Chatbot Arena Human Preference" 55k train file (one-hot winners).
    Kaggle55k,
    /// HiTZ/ebaluatoia (the Basque arena).
    Ebaluatoia,
    /// `prompt, chosen, rejected` (ties and both-bad left out).
    Dpo,
    /// Every stored field that is not secret.
    Full,
}

impl Schema {
    pub const ALL: [Schema; 7] = [
        Schema::ChatbotArenaConversations,
        Schema::ArenaHumanPreference100k,
        Schema::ArenaHumanPreference140k,
        Schema::Kaggle55k,
        Schema::Ebaluatoia,
        Schema::Dpo,
        Schema::Full,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Schema::ChatbotArenaConversations => "chatbot_arena_conversations",
            Schema::ArenaHumanPreference100k => "arena_human_preference_100k",
            Schema::ArenaHumanPreference140k => "arena_human_preference_140k",
            Schema::Kaggle55k => "kaggle_55k",
            Schema::Ebaluatoia => "ebaluatoia",
            Schema::Dpo => "dpo",
            Schema::Full => "full",
        }
    }

    /// The version of the arena's rendering of this schema (in every manifest).
    pub fn version(self) -> u32 {
        1
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ExportInputError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> ExportInputError {
    ExportInputError {
        field,
        message: message.into(),
    }
}

impl FromStr for Schema {
    type Err = ExportInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The datasets' own spellings too.
        let normal = s.trim().to_ascii_lowercase().replace('-', "_");
        Schema::ALL
            .into_iter()
            .find(|x| x.as_str() == normal)
            .ok_or_else(|| {
                let names: Vec<&str> = Schema::ALL.iter().map(|x| x.as_str()).collect();
                bad(
                    "schema",
                    format!("unknown schema {s:?}; one of {}", names.join(", ")),
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Jsonl,
    Csv,
    /// Apache Parquet: typed columns, Snappy-compressed, written a row group at a time.
    Parquet,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Jsonl, Format::Csv, Format::Parquet];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jsonl => "application/jsonl; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// The file name extension (without the dot).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }
}

impl FromStr for Format {
    type Err = ExportInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jsonl" | "json" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            other => Err(bad(
                "format",
                format!("unknown format {other:?}; jsonl, csv or parquet"),
            )),
        }
    }
}

/// The query string of an export, as sent (every field optional but the schema).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    /// First and last day (UTC, `YYYY-MM-DD`, inclusive) of the votes.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// Model keys, comma-separated: battles with any of them on either side.
    #[serde(default)]
    pub models: Option<String>,
    /// `counted` (default: the votes the leaderboard counts) or `all`.
    #[serde(default)]
    pub votes: Option<String>,
    /// `exclude` (default) or `include` voided votes (marked in the rows).
    #[serde(default)]
    pub voided: Option<String>,
    /// `include` (default) or `exclude` votes in flagged battles.
    #[serde(default)]
    pub flagged: Option<String>,
    /// `all` (default: every voted turn) or `first` (first turns only).
    #[serde(default)]
    pub turns: Option<String>,
    /// A rating run's id: exactly the votes that run fitted (its own filter), so that
    /// `arena-ratings fit --battles` on the file gives the run's ratings. Excludes every other
    /// filter.
    #[serde(default)]
    pub run: Option<String>,
    /// A campaign's slug: only the votes of its battles.
    #[serde(default)]
    pub campaign: Option<String>,
}

/// A checked export request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportSpec {
    pub schema: Schema,
    pub format: Format,
    pub from: Option<String>,
    pub to: Option<String>,
    pub language: Option<String>,
    pub models: Vec<String>,
    pub counted_only: bool,
    pub include_voided: bool,
    pub include_flagged: bool,
    pub first_turn_only: bool,
    /// The rating run whose vote set this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
    /// The campaign whose votes these are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

fn date(field: &'static str, raw: Option<&str>) -> Result<Option<String>, ExportInputError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let ok = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
        && (1..=12).contains(&raw[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&raw[8..10].parse::<u32>().unwrap_or(0));
    if ok {
        Ok(Some(raw.to_owned()))
    } else {
        Err(bad(field, format!("{raw:?} is not a date (YYYY-MM-DD)")))
    }
}

fn choice(
    field: &'static str,
    raw: Option<&str>,
    default: bool,
    yes: &str,
    no: &str,
) -> Result<bool, ExportInputError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(v) if v == yes => Ok(true),
        Some(v) if v == no => Ok(false),
        Some(v) => Err(bad(field, format!("{v:?}: {yes} or {no}"))),
    }
}

impl ExportQuery {
    pub fn parse(&self) -> Result<ExportSpec, ExportInputError> {
        let schema: Schema = self
            .schema
            .as_deref()
            .ok_or_else(|| bad("schema", "required"))?
            .parse()?;
        let format = match self.format.as_deref() {
            None => Format::Jsonl,
            Some(f) => f.parse()?,
        };
        let run = match self.run.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(r) => {
                let id = r
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| bad("run", format!("{r:?} is not a rating run id")))?;
                let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
                if [
                    &self.from,
                    &self.to,
                    &self.language,
                    &self.models,
                    &self.votes,
                    &self.voided,
                    &self.flagged,
                    &self.turns,
                    &self.campaign,
                ]
                .into_iter()
                .any(given)
                {
                    return Err(bad(
                        "run",
                        "a run selects its own votes (its filter and snapshot): leave out the \
                         other filters",
                    ));
                }
                Some(id)
            }
        };
        let from = date("from", self.from.as_deref())?;
        let to = date("to", self.to.as_deref())?;
        if let (Some(f), Some(t)) = (&from, &to)
            && f > t
        {
            return Err(bad("to", "the last day is before the first"));
        }
        let language = match self
            .language
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(l)
                if l.len() <= 16
                    && l.starts_with(|c: char| c.is_ascii_alphabetic())
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                Some(l.to_ascii_lowercase())
            }
            Some(l) => {
                return Err(bad(
                    "language",
                    format!("{l:?} is not a language tag such as eu or en"),
                ));
            }
        };
        let models: Vec<String> = self
            .models
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect();
        for m in &models {
            crate::admin::check_model_key(m).map_err(|e| bad("models", e.message))?;
        }
        Ok(ExportSpec {
            schema,
            format,
            from,
            to,
            language,
            models,
            counted_only: !choice("votes", self.votes.as_deref(), false, "all", "counted")?,
            include_voided: choice(
                "voided",
                self.voided.as_deref(),
                false,
                "include",
                "exclude",
            )?,
            include_flagged: choice(
                "flagged",
                self.flagged.as_deref(),
                true,
                "include",
                "exclude",
            )?,
            first_turn_only: choice("turns", self.turns.as_deref(), false, "first", "all")?,
            run,
            campaign: match self
                .campaign
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                None => None,
                Some(c) => {
                    crate::campaign::check_slug("campaign", c)
                        .map_err(|e| bad("campaign", e.message))?;
                    Some(c.to_owned())
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(schema: &str) -> ExportQuery {
        ExportQuery {
            schema: Some(schema.into()),
            ..ExportQuery::default()
        }
    }

    #[test]
    fn queries_parse_with_defaults_and_clear_errors() {
        let s = q("chatbot-arena-conversations").parse().unwrap();
        assert_eq!(s.schema, Schema::ChatbotArenaConversations);
        assert_eq!(s.format, Format::Jsonl);
        assert!(s.counted_only && !s.include_voided && s.include_flagged && !s.first_turn_only);
        for (query, field) in [
            (ExportQuery::default(), "schema"),
            (q("nope"), "schema"),
            (
                ExportQuery {
                    format: Some("xml".into()),
                    ..q("dpo")
                },
                "format",
            ),
            (
                ExportQuery {
                    from: Some("2026-13-01".into()),
                    ..q("dpo")
                },
                "from",
            ),
            (
                ExportQuery {
                    from: Some("2026-02-01".into()),
                    to: Some("2026-01-01".into()),
                    ..q("dpo")
                },
                "to",
            ),
            (
                ExportQuery {
                    votes: Some("some".into()),
                    ..q("dpo")
                },
                "votes",
            ),
            (
                ExportQuery {
                    models: Some("Bad Key".into()),
                    ..q("dpo")
                },
                "models",
            ),
        ] {
            assert_eq!(query.parse().unwrap_err().field, field, "{query:?}");
        }
        let s = ExportQuery {
            votes: Some("all".into()),
            voided: Some("include".into()),
            flagged: Some("exclude".into()),
            turns: Some("first".into()),
            models: Some("a, b".into()),
            ..q("full")
        }
        .parse()
        .unwrap();
        assert!(!s.counted_only && s.include_voided && !s.include_flagged && s.first_turn_only);
        assert_eq!(s.models, ["a", "b"]);
        for format in Format::ALL {
            let s = ExportQuery {
                format: Some(format.as_str().to_ascii_uppercase()),
                ..q("dpo")
            }
            .parse()
            .unwrap();
            assert_eq!(s.format, format);
        }
        assert_eq!(
            Format::Parquet.content_type(),
            "application/vnd.apache.parquet"
        );
    }
}
