//! The error of the pages' server functions: typed, so a bad input is a 422 with a plain
//! message (as in the JSON API), a flood a 429, and an internal cause a generic 500 whose detail
//! only the log sees. Never a raw "error running server function: …" on a page.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum PageError {
    /// The request can never succeed as sent: the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// Overloaded for a moment (password hashing): 503 with Retry-After.
    #[error("{message}")]
    Busy { message: String, retry_after: u64 },
    /// Not signed in, or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("something went wrong on our side; it has been logged")]
    Internal,
}

impl PageError {
    #[cfg(feature = "ssr")]
    fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            PageError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PageError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Sets the response's status (and Retry-After) to match; returns the error. During
    /// server-side rendering the response is the page's: a page whose query is bad is a 422
    /// too, with its plain message in the page.
    #[cfg(feature = "ssr")]
    pub fn respond(self) -> Self {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(self.status());
            if let PageError::RateLimited { retry_after, .. }
            | PageError::Busy { retry_after, .. } = &self
            {
                response.insert_header(http::header::RETRY_AFTER, (*retry_after).into());
            }
        }
        self
    }
}

#[cfg(feature = "ssr")]
impl From<arena_core::ArenaError> for PageError {
    fn from(e: arena_core::ArenaError) -> Self {
        use arena_core::ArenaError;
        let error = match e {
            ArenaError::Invalid { message, .. } => PageError::Invalid(message),
            ArenaError::NotFound { what } => PageError::NotFound(format!("{what} not found")),
            ArenaError::Conflict { message, .. } => PageError::Invalid(message),
            ArenaError::RateLimited {
                message,
                retry_after,
                ..
            } => PageError::RateLimited {
                message,
                retry_after: retry_after.as_secs().max(1),
            },
            ArenaError::Unavailable(message) => PageError::Unavailable(message),
            ArenaError::Busy {
                message,
                retry_after,
            } => PageError::Busy {
                message,
                retry_after: retry_after.as_secs().max(1),
            },
            ArenaError::Unauthorized { message, .. } => PageError::Unauthorized(message),
            ArenaError::Forbidden { message, .. } => PageError::Forbidden(message),
            other => {
                tracing::error!(error = %other, "server function failed");
                PageError::Internal
            }
        };
        error.respond()
    }
}

impl FromServerFnError for PageError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let error = match value {
            // The arguments did not parse: the caller's fault, said plainly.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                if message.contains("length limit") || message.contains("too large") {
                    PageError::TooLarge("the request body is larger than 64 KiB".into())
                } else {
                    PageError::Invalid(format!("the request has the wrong shape: {message}"))
                }
            }
            // On the server, the body could not be read (too large, not text).
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(message) => {
                if message.contains("length limit") || message.contains("too large") {
                    PageError::TooLarge("the request body is larger than 64 KiB".into())
                } else {
                    PageError::Invalid(format!("the request body could not be read: {message}"))
                }
            }
            ServerFnErrorErr::UnsupportedRequestMethod(_) => {
                PageError::Invalid("this server function does not take this method".into())
            }
            // On the client: the server could not be reached.
            ServerFnErrorErr::Request(_) => {
                PageError::Unavailable("the arena cannot be reached; check your connection".into())
            }
            _other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %_other, "server function failed");
                PageError::Internal
            }
        };
        #[cfg(feature = "ssr")]
        let error = error.respond();
        error
    }
}
