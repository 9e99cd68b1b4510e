//! Sign-up, sign-in and the account page. Forms post to server functions, so they work before
//! (or without) the wasm bundle; each answer sets the cookies and redirects.

use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::api::{AccountView, ApiTokenCreated, ApiTokenView};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Only a path on this site: `next=https://evil.example` or `//evil.example` becomes `/`.
#[cfg(feature = "ssr")]
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use arena_core::Arena;
    use arena_core::accounts::{Account, SignedIn, cookie};
    use arena_core::limits::ClientAddr;
    use arena_core::voters::VoterId;

    pub fn arena() -> Result<Arena, PageError> {
        use_context::<Arena>().ok_or(PageError::Internal)
    }

    fn parts() -> Option<http::request::Parts> {
        use_context::<http::request::Parts>()
    }

    pub fn address() -> std::net::IpAddr {
        parts()
            .and_then(|p| p.extensions.get::<ClientAddr>().copied())
            .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |ClientAddr(a)| a)
    }

    pub fn voter() -> Option<VoterId> {
        parts().and_then(|p| p.extensions.get::<VoterId>().copied())
    }

    pub fn account() -> Option<Account> {
        parts().and_then(|p| p.extensions.get::<Account>().cloned())
    }

    /// The signed-in account, or a 401 (with the JSON error shape) for a caller without one.
    pub fn signed_in_account() -> Result<Account, PageError> {
        account().ok_or_else(|| PageError::Unauthorized("sign in first".into()).respond())
    }

    fn set_cookie(value: String) {
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::HeaderValue::from_str(&value),
        ) {
            response.append_header(http::header::SET_COOKIE, value);
        }
    }

    pub fn signed_in(arena: &Arena, done: &SignedIn) {
        set_cookie(cookie::account(arena.secure_cookies, &done.session_token));
        set_cookie(cookie::voter(arena.secure_cookies, &done.voter_token));
    }

    pub fn signed_out(arena: &Arena) {
        set_cookie(cookie::clear_account(arena.secure_cookies));
        set_cookie(cookie::clear_voter(arena.secure_cookies));
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn server_arena() -> Result<arena_core::Arena, PageError> {
    server::arena()
}

#[cfg(feature = "ssr")]
pub(crate) fn server_account() -> Option<arena_core::accounts::Account> {
    server::account()
}

#[cfg(feature = "ssr")]
pub(crate) fn server_voter() -> Option<arena_core::voters::VoterId> {
    server::voter()
}

#[server(prefix = "/api/pages", endpoint = "account")]
pub async fn current_account() -> Result<Option<AccountView>, PageError> {
    let Some(account) = server::account() else {
        return Ok(None);
    };
    let votes = server::arena()?
        .accounts
        .vote_count(account.user_id)
        .await
        .map_err(PageError::from)?;
    Ok(Some(AccountView {
        username: account.username,
        role: account.role.as_str().to_owned(),
        votes,
    }))
}

#[server(prefix = "/api/pages", endpoint = "signup")]
pub async fn sign_up(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), PageError> {
    let arena = server::arena()?;
    let done = arena
        .accounts
        .sign_up(&username, &password, server::address(), server::voter())
        .await
        .map_err(PageError::from)?;
    server::signed_in(&arena, &done);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[server(prefix = "/api/pages", endpoint = "signin")]
pub async fn sign_in(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), PageError> {
    let arena = server::arena()?;
    let done = arena
        .accounts
        .sign_in(&username, &password, server::address(), server::voter())
        .await
        .map_err(PageError::from)?;
    server::signed_in(&arena, &done);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[server(prefix = "/api/pages", endpoint = "signout")]
pub async fn sign_out() -> Result<(), PageError> {
    let arena = server::arena()?;
    if let Some(account) = server::account() {
        arena
            .accounts
            .end(account.session_id)
            .await
            .map_err(PageError::from)?;
    }
    server::signed_out(&arena);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api/pages", endpoint = "password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), PageError> {
    let arena = server::arena()?;
    let account = server::signed_in_account()?;
    arena
        .accounts
        .change_password(
            &account,
            &current_password,
            &new_password,
            server::address(),
        )
        .await
        .map_err(PageError::from)?;
    Ok(())
}

/// Erases the signed-in person (docs/privacy.md): the password again, then the account and
/// its data; the browser is signed out and sent home.
#[server(prefix = "/api/pages", endpoint = "erase")]
pub async fn erase_account(password: String) -> Result<(), PageError> {
    let arena = server::arena()?;
    let account = server::signed_in_account()?;
    arena
        .accounts
        .confirm_password(&account, &password, server::address())
        .await
        .map_err(PageError::from)?;
    arena
        .erase_account(account.user_id)
        .await
        .map_err(PageError::from)?;
    server::signed_out(&arena);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api/pages", endpoint = "tokens")]
pub async fn list_tokens() -> Result<Vec<ApiTokenView>, PageError> {
    let arena = server::arena()?;
    let account = server::signed_in_account()?;
    let tokens = arena
        .accounts
        .tokens(&account)
        .await
        .map_err(PageError::from)?;
    Ok(tokens
        .into_iter()
        .map(|t| ApiTokenView {
            id: t.id.to_string(),
            name: t.name,
            created_at: t.created_at.to_rfc3339(),
            expires_at: t.expires_at.map(|e| e.to_rfc3339()),
            last_used_at: t.last_used_at.map(|e| e.to_rfc3339()),
            revoked: t.revoked,
        })
        .collect())
}

#[server(prefix = "/api/pages", endpoint = "create_token")]
pub async fn create_token(
    name: String,
    expires_days: String,
) -> Result<ApiTokenCreated, PageError> {
    let arena = server::arena()?;
    let account = server::signed_in_account()?;
    let days = match expires_days.trim() {
        "" => None,
        d => Some(d.parse::<u32>().map_err(|_| {
            PageError::Invalid("expires_days: a whole number of days, or empty".into()).respond()
        })?),
    };
    let t = arena
        .accounts
        .create_token(&account, &name, days)
        .await
        .map_err(PageError::from)?;
    Ok(ApiTokenCreated {
        id: t.id.to_string(),
        name: t.name,
        token: t.token,
        expires_at: t.expires_at,
    })
}

#[server(prefix = "/api/pages", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), PageError> {
    let arena = server::arena()?;
    let account = server::signed_in_account()?;
    arena
        .accounts
        .revoke_token(&account, &id)
        .await
        .map_err(PageError::from)
}

/// Researchers' and admins' API tokens on the account page.
#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    view! {
        <h2>{crate::i18n::t(Key::TokensTitle)}</h2>
        <p class="hint">{crate::i18n::t(Key::TokensHint)} <code>"Authorization: Bearer …"</code></p>
        <ActionForm action=create attr:class="account-form tokens">
            <label>{crate::i18n::t(Key::TokenName)} <input name="name" required maxlength="100"/></label>
            <label>{crate::i18n::t(Key::TokenExpires)} <input name="expires_days" inputmode="numeric"/></label>
            <button type="submit">{crate::i18n::t(Key::TokenCreate)}</button>
        </ActionForm>
        {move || create.value().get().map(|r| match r {
            Ok(t) => view! {
                <p class="notice new-token" role="status">{crate::i18n::t(Key::TokenNew)} <code>{t.token}</code></p>
            }.into_any(),
            Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
        })}
        <Suspense fallback=|| ()>
            {move || tokens.get().map(|r| r.map(|list| view! {
                <ul class="token-list">
                    {list.into_iter().map(|t| {
                        let id = t.id.clone();
                        let state = if t.revoked { crate::i18n::t(Key::TokenRevoked).to_owned() } else {
                            t.expires_at.as_deref().map_or(crate::i18n::t(Key::TokenNoExpiry).to_owned(), |e| crate::i18n::tf(Key::TokenExpiresOn, "date", &e[..10.min(e.len())]))
                        };
                        view! {
                            <li>
                                <strong>{t.name.clone()}</strong> " · " {state}
                                {(!t.revoked).then(|| view! {
                                    <ActionForm action=revoke attr:class="inline">
                                        <input type="hidden" name="id" value=id.clone()/>
                                        <button type="submit" class="danger">{crate::i18n::t(Key::TokenRevoke)}</button>
                                    </ActionForm>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }))}
        </Suspense>
    }
}

/// The form's fields: username, password, and where to go afterwards.
fn credential_fields(password_autocomplete: &'static str) -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    view! {
        <label>{crate::i18n::t(Key::Username)} <input name="username" autocomplete="username" required minlength="3" maxlength="32"/></label>
        <label>{crate::i18n::t(Key::Password)} <input type="password" name="password" autocomplete=password_autocomplete required minlength="8" maxlength="128"/></label>
        <input type="hidden" name="next" value=next/>
    }
}

fn failure(message: Option<String>) -> impl IntoView {
    message.map(|m| view! { <p class="notice failure" role="alert">{m}</p> })
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    view! {
        <section class="account">
            <h1>{crate::i18n::t(Key::SignupTitle)}</h1>
            <p class="hint">{crate::i18n::t(Key::SignupHint)}</p>
            <ActionForm action attr:class="account-form">
                {credential_fields("new-password")}
                <button type="submit" disabled=move || action.pending().get()>{crate::i18n::t(Key::Signup)}</button>
            </ActionForm>
            {move || failure(action.value().get().and_then(|r| r.err()).map(|e| e.to_string()))}
            <p>{crate::i18n::t(Key::HaveAccount)} <a href="/signin">{crate::i18n::t(Key::SignIn)}</a></p>
        </section>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    view! {
        <section class="account">
            <h1>{crate::i18n::t(Key::SignIn)}</h1>
            <ActionForm action attr:class="account-form">
                {credential_fields("current-password")}
                <button type="submit" disabled=move || action.pending().get()>{crate::i18n::t(Key::SignIn)}</button>
            </ActionForm>
            {move || failure(action.value().get().and_then(|r| r.err()).map(|e| e.to_string()))}
            <p>{crate::i18n::t(Key::NoAccount)} <a href="/signup">{crate::i18n::t(Key::CreateOne)}</a></p>
        </section>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_account());
    let change = ServerAction::<ChangePassword>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let erase = ServerAction::<EraseAccount>::new();
    view! {
        <section class="account">
            <h1>{crate::i18n::t(Key::AccountTitle)}</h1>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(Some(account)) => view! {
                        <p class="who">{crate::i18n::t(Key::SignedInAs).replace("{user}", &account.username).replace("{role}", &account.role)}</p>
                        <p class="votes">{crate::i18n::tf(Key::VotesCount, "votes", account.votes)}</p>
                        <h2>{crate::i18n::t(Key::ChangePasswordTitle)}</h2>
                        <ActionForm action=change attr:class="account-form">
                            <label>{crate::i18n::t(Key::CurrentPassword)} <input type="password" name="current_password" autocomplete="current-password" required/></label>
                            <label>{crate::i18n::t(Key::NewPassword)} <input type="password" name="new_password" autocomplete="new-password" required minlength="8" maxlength="128"/></label>
                            <button type="submit">{crate::i18n::t(Key::ChangePassword)}</button>
                        </ActionForm>
                        {move || change.value().get().map(|r| match r {
                            Ok(()) => view! { <p class="notice" role="status">{crate::i18n::t(Key::PasswordChanged)}</p> }.into_any(),
                            Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                        })}
                        {(account.role == "researcher" || account.role == "admin").then(|| view! { <Tokens/> })}
                        <ActionForm action=sign_out attr:class="signout">
                            <button type="submit">{crate::i18n::t(Key::SignOut)}</button>
                        </ActionForm>
                        <h2>{crate::i18n::t(Key::EraseTitle)}</h2>
                        <p class="erase-explain">{crate::i18n::t(Key::EraseExplain)}</p>
                        <ActionForm action=erase attr:class="account-form erase">
                            <label>{crate::i18n::t(Key::CurrentPassword)} <input type="password" name="password" autocomplete="current-password" required/></label>
                            <button type="submit" class="danger">{crate::i18n::t(Key::EraseButton)}</button>
                        </ActionForm>
                        {move || erase.value().get().and_then(|r| r.err()).map(|e| view! {
                            <p class="notice failure" role="alert">{e.to_string()}</p>
                        })}
                    }.into_any(),
                    Ok(None) => view! { <p>{crate::i18n::t(Key::NotSignedIn)} <a href="/signin?next=/account">{crate::i18n::t(Key::SignIn)}</a></p> }.into_any(),
                    Err(e) => view! { <p class="notice failure">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The top bar's account corner: the username (to the account page), or {crate::i18n::t(Key::SignIn)}.
#[component]
pub fn AccountCorner() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let me = Resource::new(move || location.pathname.get(), |_| current_account());
    view! {
        <Transition fallback=|| ()>
            {move || me.get().map(|r| match r {
                Ok(Some(account)) => view! {
                    {(account.role == "admin").then(|| view! { <a href="/admin" class="console-link">{crate::i18n::t(Key::Console)}</a> })}
                    <a href="/account" class="me">{account.username}</a>
                }.into_any(),
                _ => view! { <a href="/signin" class="me">{crate::i18n::t(Key::SignIn)}</a> }.into_any(),
            })}
        </Transition>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::safe_next;

    #[test]
    fn after_signing_in_only_paths_of_this_site_are_followed() {
        assert_eq!(
            safe_next(Some("/leaderboard?language=eu")),
            "/leaderboard?language=eu"
        );
        assert_eq!(safe_next(None), "/");
        for evil in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil}");
        }
    }
}
