//! The Arrow schema of each export schema: every column named with its type, in the order of
//! the rows that `arena_core::exports::render` builds (the writer refuses a row whose columns
//! differ, so the two cannot drift apart unnoticed).
//!
//! Text is `string` (UTF-8), counts and ids `int64`, Unix seconds `double`, flags `bool`.
//! Timestamps stay RFC 3339 strings, as in the JSONL and CSV exports (the same bytes in every
//! format). Conversations are `list<struct<role: string, content: string>>`; `conv_metadata` and
//! the other nested objects are structs, never JSON text. Columns the arena never fills
//! (`toxic_chat_tag`, `category_tag`, `user_education`) are nullable strings, always null.

use arena_domain::export::Schema;
use arrow_schema::{DataType, Field, Fields, SchemaRef};
use std::sync::Arc;

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn nullable_text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

fn flag(name: &str) -> Field {
    Field::new(name, DataType::Boolean, false)
}

fn structure(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), false)
}

/// `struct<role: string, content: string>`: one message of a conversation.
fn message(name: &str) -> Field {
    structure(name, vec![text("role"), text("content")])
}

/// `list<struct<role: string, content: string>>`: user and assistant messages, alternating.
fn conversation(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(message("item").with_nullable(false))),
        false,
    )
}

fn counts(name: &str, keys: &[&str]) -> Field {
    structure(name, keys.iter().map(|k| int(k)).collect())
}

/// The style features in the arena-human-preference layout (see `render::conv_metadata`).
fn conv_metadata() -> Field {
    let headers = ["h1", "h2", "h3", "h4", "h5", "h6", "total"];
    let lists = ["ordered", "unordered", "total"];
    let bold = ["**", "__"];
    structure(
        "conv_metadata",
        vec![
            int("sum_assistant_a_tokens"),
            int("sum_assistant_b_tokens"),
            counts("header_count_a", &headers),
            counts("header_count_b", &headers),
            counts("list_count_a", &lists),
            counts("list_count_b", &lists),
            counts("bold_count_a", &bold),
            counts("bold_count_b", &bold),
            int("context_a_tokens"),
            int("context_b_tokens"),
        ],
    )
}

/// The Arrow schema of `schema`'s rows.
pub fn arrow_schema(schema: Schema) -> SchemaRef {
    let fields = match schema {
        Schema::ChatbotArenaConversations => vec![
            text("question_id"),
            text("model_a"),
            text("model_b"),
            text("winner"),
            text("judge"),
            conversation("conversation_a"),
            conversation("conversation_b"),
            int("turn"),
            flag("anony"),
            text("language"),
            Field::new("tstamp", DataType::Float64, false),
            structure("openai_moderation", vec![flag("flagged")]),
            nullable_text("toxic_chat_tag"),
            flag("voided"),
        ],
        Schema::ArenaHumanPreference100k => vec![
            text("question_id"),
            text("model_a"),
            text("model_b"),
            text("winner"),
            text("judge"),
            conversation("conversation_a"),
            conversation("conversation_b"),
            int("turn"),
            flag("anony"),
            text("language"),
            Field::new("tstamp", DataType::Float64, false),
            conv_metadata(),
            flag("is_code"),
            flag("is_refusal"),
            structure("dedup_tag", vec![flag("high_freq"), flag("sampled")]),
            nullable_text("category_tag"),
            text("judge_hash"),
            flag("voided"),
        ],
        Schema::ArenaHumanPreference140k => vec![
            text("id"),
            text("model_a"),
            text("model_b"),
            text("winner"),
            text("evaluation_session_id"),
            int("evaluation_order"),
            conversation("conversation_a"),
            conversation("conversation_b"),
            Field::new(
                "full_conversation",
                DataType::List(Arc::new(structure(
                    "item",
                    vec![
                        message("user"),
                        message("model_side_a"),
                        message("model_side_b"),
                    ],
                ))),
                false,
            ),
            conv_metadata(),
            nullable_text("category_tag"),
            text("language"),
            flag("is_code"),
            text("timestamp"),
            flag("voided"),
        ],
        Schema::Kaggle55k => vec![
            int("id"),
            text("model_a"),
            text("model_b"),
            // JSON arrays of strings, as in the Kaggle file.
            text("prompt"),
            text("response_a"),
            text("response_b"),
            int("winner_model_a"),
            int("winner_model_b"),
            int("winner_tie"),
        ],
        Schema::Ebaluatoia => vec![
            text("id"),
            text("username"),
            text("user_language"),
            nullable_text("user_education"),
            text("timestamp"),
            text("model_a"),
            text("model_b"),
            conversation("conv_a"),
            conversation("conv_b"),
            text("winner"),
            nullable_text("winner_content"),
            text("winner_language"),
        ],
        Schema::Dpo => vec![
            text("prompt"),
            text("chosen"),
            text("rejected"),
            text("chosen_model"),
            text("rejected_model"),
        ],
        Schema::Full => vec![
            int("vote_id"),
            text("battle_id"),
            int("turn"),
            text("model_a"),
            text("model_b"),
            text("winner"),
            flag("counted"),
            flag("voided"),
            nullable_text("void_reason"),
            flag("flagged"),
            flag("identity_leak"),
            flag("anonymous"),
            nullable_text("language"),
            text("created_at"),
            text("voter"),
            conversation("conversation_a"),
            conversation("conversation_b"),
            conv_metadata(),
            text("campaign"),
            nullable_text("axes"),
            nullable_text("registration"),
        ],
    };
    Arc::new(arrow_schema::Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_names_its_columns_once() {
        for schema in Schema::ALL {
            let arrow = arrow_schema(schema);
            let mut names: Vec<&str> = arrow.fields().iter().map(|f| f.name().as_str()).collect();
            let n = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), n, "{schema}: a column twice");
        }
        let full = arrow_schema(Schema::Full);
        assert_eq!(
            full.field_with_name("conversation_a").unwrap().data_type(),
            &DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(Fields::from(vec![text("role"), text("content")])),
                false
            )))
        );
    }
}
