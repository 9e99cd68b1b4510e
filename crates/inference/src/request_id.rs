//! The request id of the HTTP request a piece of work serves (`x-request-id`), carried in a
//! task-local so that the gateway can pass it to the workers without every signature in
//! between naming it. The server's middleware opens the scope; work spawned off the request
//! (an answer being generated) re-opens it with [`current`] taken before the spawn.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `work` with `id` as its request id.
pub async fn scope<F: Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// Runs `work` with `id` as its request id, if there is one.
pub async fn scope_opt<F: Future>(id: Option<String>, work: F) -> F::Output {
    match id {
        Some(id) => REQUEST_ID.scope(id, work).await,
        None => work.await,
    }
}

/// The request id of the work being run, if it runs for a request.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Whether `id` may be taken from a client or proxy as is: 1–64 characters of
/// `[A-Za-z0-9._:-]` (a UUID, a ULID, HAProxy's `%ID` formats), so it is safe in a header and a log.
pub fn is_valid(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert_eq!(current(), None);
        let seen = scope("abc-1".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("abc-1"));
        assert_eq!(scope_opt(None, async { current() }).await, None);
        assert!(is_valid("0190f3c2-7d1e-7c55-9a0e-2f7e1b9d4c11"));
        assert!(!is_valid(""));
        assert!(!is_valid("a b"));
        assert!(!is_valid("x\r\nset-cookie: y"));
        assert!(!is_valid(&"a".repeat(65)));
    }
}
