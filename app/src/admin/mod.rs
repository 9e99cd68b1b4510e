//! The admins' console, `/admin`: server-rendered pages whose forms post to server functions.
//! Every server function asks the arena for the console first ([`arena_core::Arena::admin`]),
//! which checks the role on the server before anything else: a stranger gets 401 (the pages
//! send them to the sign-in page), any other role 403.

mod campaigns;
mod imports;
mod models;
mod moderation;
mod pairing;

pub use campaigns::AdminCampaignsPage;
pub use imports::AdminImportsPage;
pub use models::{AdminModelPage, AdminModelsPage};
pub use moderation::AdminModerationPage;
pub use pairing::AdminPairingPage;

use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::admin::{AuditEntry, UserRow};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub(crate) mod server {
    use crate::error::PageError;
    use arena_core::admin::Admin;

    /// The console for this request's account, or the refusal (401/403).
    pub fn admin() -> Result<Admin, PageError> {
        let arena = crate::account::server_arena()?;
        let account = crate::account::server_account();
        arena.admin(account.as_ref()).map_err(PageError::from)
    }

    pub fn opt(raw: &str) -> Option<String> {
        let t = raw.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }

    /// A number from a form field: empty is `None`, anything else must parse.
    pub fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, PageError> {
        match opt(raw) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| PageError::Invalid(format!("{field}: not a number: {v}")).respond()),
        }
    }

    pub fn required<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, PageError> {
        number(field, raw)?
            .ok_or_else(|| PageError::Invalid(format!("{field}: required")).respond())
    }
}

#[server(prefix = "/api/pages", endpoint = "admin_users")]
pub async fn admin_users() -> Result<Vec<UserRow>, PageError> {
    server::admin()?.users().await.map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_set_role")]
pub async fn admin_set_role(username: String, role: String) -> Result<(), PageError> {
    server::admin()?
        .set_role(&username, &role)
        .await
        .map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_clear_throttle")]
pub async fn admin_clear_throttle(username: String) -> Result<u64, PageError> {
    server::admin()?
        .clear_signin_throttle(&username)
        .await
        .map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_audit")]
pub async fn admin_audit(before: Option<i64>) -> Result<Vec<AuditEntry>, PageError> {
    server::admin()?
        .audit_log(before, 200)
        .await
        .map_err(PageError::from)
}

/// The console's tabs.
#[component]
pub fn ConsoleNav() -> impl IntoView {
    use leptos_router::components::A;
    view! {
        <nav class="console-nav" aria-label={crate::i18n::t(Key::ConsoleNav)}>
            <A href="/admin" exact=true>{crate::i18n::t(Key::NavModels)}</A>
            <A href="/admin/pairing">{crate::i18n::t(Key::NavPairing)}</A>
            <A href="/admin/campaigns">{crate::i18n::t(Key::NavCampaigns)}</A>
            <A href="/admin/moderation">{crate::i18n::t(Key::NavModeration)}</A>
            <A href="/admin/imports">{crate::i18n::t(Key::NavImports)}</A>
            <A href="/admin/users">{crate::i18n::t(Key::NavUsers)}</A>
            <A href="/admin/audit">{crate::i18n::t(Key::NavAudit)}</A>
        </nav>
    }
}

/// A server function's outcome under a form: the error, or `done` on success.
pub(crate) fn outcome<T>(
    result: Option<Result<T, PageError>>,
    done: &'static str,
) -> Option<AnyView> {
    result.map(|r| match r {
        Ok(_) => view! { <p class="notice" role="status">{done}</p> }.into_any(),
        Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
    })
}

/// What a refused or failed load shows.
pub(crate) fn refused(e: PageError) -> AnyView {
    let sign_in = matches!(e, PageError::Unauthorized(_));
    view! {
        <p class="notice failure" role="alert">{e.to_string()}</p>
        {sign_in.then(|| view! { <p><a href="/signin?next=/admin">{crate::i18n::t(Key::ConsoleSignIn)}</a></p> })}
    }
    .into_any()
}

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let set_role = ServerAction::<AdminSetRole>::new();
    let clear = ServerAction::<AdminClearThrottle>::new();
    let users = Resource::new(move || set_role.version().get(), |_| admin_users());
    view! {
        <section class="console">
            <h1>{crate::i18n::t(Key::NavUsers)}</h1>
            <ConsoleNav/>
            <p class="hint">
                {crate::i18n::t(Key::UsersHint)}
            </p>
            <ActionForm action=clear attr:class="console-form clear-throttle">
                <p class="hint">{crate::i18n::t(Key::ClearThrottleHint)}</p>
                <input name="username" required aria-label={crate::i18n::t(Key::ColUsername)}/>
                <button type="submit">{crate::i18n::t(Key::ClearThrottle)}</button>
                {move || outcome(clear.value().get(), crate::i18n::t(Key::ThrottleCleared))}
            </ActionForm>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || users.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(users) => view! {
                        <table class="console-table">
                            <thead><tr><th>{crate::i18n::t(Key::ColUsername)}</th><th>{crate::i18n::t(Key::ColRole)}</th><th>{crate::i18n::t(Key::ColUserVotes)}</th><th>{crate::i18n::t(Key::ColSince)}</th><th>{crate::i18n::t(Key::ColChangeRole)}</th></tr></thead>
                            <tbody>
                                {users.into_iter().map(|u| {
                                    let name = u.username.clone();
                                    let form_name = name.clone();
                                    let options = ["volunteer", "researcher", "admin"].into_iter().map(|r| {
                                        let selected = u.role == r;
                                        view! { <option value=r selected=selected>{r}</option> }
                                    }).collect_view();
                                    view! {
                                        <tr data-user=name.clone()>
                                            <td>{name.clone()}</td>
                                            <td class="role">{u.role.clone()}</td>
                                            <td>{u.votes}</td>
                                            <td>{u.created_at.chars().take(10).collect::<String>()}</td>
                                            <td>
                                                <ActionForm action=set_role attr:class="inline">
                                                    <input type="hidden" name="username" value=form_name.clone()/>
                                                    <select name="role" aria-label={crate::i18n::t(Key::ColRole)}>{options}</select>
                                                    <button type="submit">{crate::i18n::t(Key::Set)}</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            {move || outcome(set_role.value().get(), crate::i18n::t(Key::RoleChanged))}
        </section>
    }
}

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let entries = Resource::new(|| (), |_| admin_audit(None));
    let show = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <section class="console">
            <h1>{crate::i18n::t(Key::NavAudit)}</h1>
            <ConsoleNav/>
            <p class="hint">{crate::i18n::t(Key::AuditHint)}</p>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || entries.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(entries) => view! {
                        <table class="console-table audit">
                            <thead><tr><th>{crate::i18n::t(Key::ColWhen)}</th><th>{crate::i18n::t(Key::ColWho)}</th><th>{crate::i18n::t(Key::ColWhat)}</th><th>{crate::i18n::t(Key::ColTarget)}</th><th>{crate::i18n::t(Key::ColBefore)}</th><th>{crate::i18n::t(Key::ColAfter)}</th></tr></thead>
                            <tbody>
                                {entries.into_iter().map(|e| view! {
                                    <tr data-action=e.action.clone()>
                                        <td>{e.at.chars().take(19).collect::<String>().replace('T', " ")}</td>
                                        <td>{e.actor.clone()}</td>
                                        <td class="action">{e.action.clone()}</td>
                                        <td>{e.target.clone()}</td>
                                        <td><code>{show(&e.before)}</code></td>
                                        <td><code>{show(&e.after)}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
