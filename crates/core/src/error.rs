//! The one error type of the arena's services. Each variant maps to one HTTP status at the API
//! boundary; internal causes are logged once there and never shown to the client.

#[derive(Debug, thiserror::Error)]
pub enum ArenaError {
    /// Bad input: the request can never succeed as sent (422 or 400).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Unknown, or belongs to someone else (404: the two are indistinguishable on purpose).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request conflicts with the current state (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// No healthy worker can serve (503).
    #[error("{0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl ArenaError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ArenaError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ArenaError::Conflict {
            code,
            message: message.into(),
        }
    }
}

pub type ArenaResult<T> = Result<T, ArenaError>;
