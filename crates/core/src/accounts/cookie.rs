//! The Set-Cookie values of a browser's two cookies, shared by the JSON API and the pages:
//! the account session (`arena_account`) and the anonymous voter (`arena_session`). Over https
//! (`server.secure_cookies`) both take the `__Host-` prefix and `Secure`. Both are HttpOnly and
//! SameSite=Lax.

fn value(name: &str, secure: bool, token: &str, max_age: Option<u64>) -> String {
    let age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax{age}{secure}")
}

pub fn account_name(secure: bool) -> &'static str {
    if secure {
        "__Host-arena_account"
    } else {
        "arena_account"
    }
}

pub fn voter_name(secure: bool) -> &'static str {
    if secure {
        "__Host-arena_session"
    } else {
        "arena_session"
    }
}

/// The session cookie: it lasts as long as the browser keeps it; the server ends the session
/// by its own timeouts.
pub fn account(secure: bool, token: &str) -> String {
    value(account_name(secure), secure, token, None)
}

/// The voter cookie: a year.
pub fn voter(secure: bool, token: &str) -> String {
    value(voter_name(secure), secure, token, Some(31_536_000))
}

pub fn clear_account(secure: bool) -> String {
    value(account_name(secure), secure, "", Some(0))
}

pub fn clear_voter(secure: bool) -> String {
    value(voter_name(secure), secure, "", Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_lax_and_host_prefixed_over_https() {
        assert_eq!(
            account(false, "ab"),
            "arena_account=ab; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            voter(true, "cd"),
            "__Host-arena_session=cd; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000; Secure"
        );
        assert_eq!(
            clear_account(false),
            "arena_account=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
