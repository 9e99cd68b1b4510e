//! Domain types shared by the arena's server and its browser code.
//!
//! Everything here is pure (no I/O, no async) and compiles for wasm too: the browser and the
//! server parse and print the same types, so the JSON API and the UI cannot drift apart.

pub mod account;
pub mod admin;
pub mod api;
pub mod benchmark;
pub mod campaign;
pub mod category;
pub mod export;
pub mod identity;
pub mod import;
pub mod markdown;
pub mod prompt;
pub mod terms;
pub mod vote;

pub use prompt::{MAX_PROMPT_CHARS, Prompt, PromptError};
pub use vote::{Side, Winner, WinnerError};
