//! Console: the models, their endpoints and live health (`/admin`), one model's page
//! (`/admin/models/:key`): edit, retire or re-activate, endpoints, "Test this endpoint".
// A form's fields are its server function's arguments (the client side is generated).
#![allow(clippy::too_many_arguments)]

use super::{ConsoleNav, outcome, refused};
use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::admin::{AdminEndpoint, AdminModel, EndpointTest};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[server(prefix = "/api/pages", endpoint = "admin_models")]
pub async fn admin_models() -> Result<Vec<AdminModel>, PageError> {
    super::server::admin()?
        .models()
        .await
        .map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_model_detail")]
pub async fn admin_model_detail(key: String) -> Result<AdminModel, PageError> {
    super::server::admin()?
        .model(&key)
        .await
        .map_err(PageError::from)
}

/// Adds a model (`existing` empty; then opens its page) or edits one (`existing` = its key).
#[server(prefix = "/api/pages", endpoint = "admin_save_model")]
pub async fn admin_save_model(
    existing: String,
    key: String,
    display_name: String,
    organization: String,
    license: String,
    description: String,
    system_prompt: String,
    temperature: String,
    top_p: String,
    max_tokens: String,
    weight: String,
    version: String,
) -> Result<(), PageError> {
    use super::server::{number, opt, required};
    let admin = super::server::admin()?;
    let input = arena_domain::admin::ModelInput {
        key,
        display_name,
        organization,
        license,
        description,
        system_prompt: opt(&system_prompt),
        temperature: number("temperature", &temperature)?,
        top_p: number("top_p", &top_p)?,
        max_tokens: required("max_tokens", &max_tokens)?,
        weight: required("weight", &weight)?,
        version: number("version", &version)?,
    };
    if existing.is_empty() {
        let model = admin.create_model(input).await.map_err(PageError::from)?;
        leptos_axum::redirect(&format!("/admin/models/{}", model.key));
    } else {
        admin
            .update_model(&existing, input)
            .await
            .map_err(PageError::from)?;
    }
    Ok(())
}

/// Retires (`active` = "false") or re-activates a model; the battles still being answered
/// with it (they keep it).
#[server(prefix = "/api/pages", endpoint = "admin_set_active")]
pub async fn admin_set_active(key: String, active: String) -> Result<i64, PageError> {
    super::server::admin()?
        .set_model_active(&key, active == "true")
        .await
        .map_err(PageError::from)
}

/// Marks a model as a new version of `base` (empty: of none), for the regressions page.
#[server(prefix = "/api/pages", endpoint = "admin_set_version_of")]
pub async fn admin_set_version_of(key: String, base: String) -> Result<(), PageError> {
    let base = base.trim();
    super::server::admin()?
        .set_version_of(&key, (!base.is_empty()).then_some(base))
        .await
        .map_err(PageError::from)
}

/// Adds (`id` empty) or edits an endpoint. `api_key`: empty keeps the stored one unless
/// `remove_key` is checked.
#[server(prefix = "/api/pages", endpoint = "admin_save_endpoint")]
pub async fn admin_save_endpoint(
    key: String,
    id: String,
    base_url: String,
    upstream_model: String,
    api_key: String,
    remove_key: Option<String>,
    max_concurrency: String,
    enabled: Option<String>,
) -> Result<(), PageError> {
    use super::server::{opt, required};
    let admin = super::server::admin()?;
    let input = arena_domain::admin::EndpointInput {
        base_url,
        upstream_model,
        api_key: if remove_key.is_some() {
            Some(String::new())
        } else {
            opt(&api_key)
        },
        max_concurrency: required("max_concurrency", &max_concurrency)?,
        enabled: id.is_empty() || enabled.is_some(),
    };
    if id.is_empty() {
        admin.add_endpoint(&key, input).await
    } else {
        admin.update_endpoint(&id, input).await
    }
    .map_err(PageError::from)?;
    Ok(())
}

#[server(prefix = "/api/pages", endpoint = "admin_delete_endpoint")]
pub async fn admin_delete_endpoint(id: String) -> Result<(), PageError> {
    super::server::admin()?
        .delete_endpoint(&id)
        .await
        .map_err(PageError::from)?;
    Ok(())
}

#[server(prefix = "/api/pages", endpoint = "admin_test_endpoint")]
pub async fn admin_test_endpoint(id: String) -> Result<EndpointTest, PageError> {
    super::server::admin()?
        .test_endpoint(&id)
        .await
        .map_err(PageError::from)
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.0} ms"))
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.1} tok/s"))
}

fn health(e: &AdminEndpoint) -> AnyView {
    match &e.health {
        None if !e.enabled => {
            view! { <span class="health off">{crate::i18n::t(Key::HealthDisabled)}</span> }
                .into_any()
        }
        None => view! { <span class="health off">{crate::i18n::t(Key::HealthNotLoaded)}</span> }
            .into_any(),
        Some(h) => {
            let state = if h.healthy { "up" } else { "down" };
            let shown = if h.healthy {
                crate::i18n::t(Key::HealthUp)
            } else {
                crate::i18n::t(Key::HealthDown)
            };
            let since = h
                .since
                .as_deref()
                .map(|s| {
                    crate::i18n::fill(
                        crate::i18n::t(Key::HealthSince),
                        "time",
                        &s.chars().take(19).collect::<String>().replace('T', " "),
                    )
                })
                .unwrap_or_default();
            view! {
                <span class=format!("health {state}") data-health=state>{format!("{shown}{since}")}</span>
                <span class="figures">
                    {crate::i18n::t(Key::HealthFigures)
                        .replace("{in_flight}", &h.in_flight.to_string())
                        .replace("{queued}", &h.queued.to_string())
                        .replace("{ttft}", &ms(h.ttft_p50_ms))
                        .replace("{rate}", &rate(h.tokens_per_s_p50))
                        .replace("{errors}", &h.errors_last_hour.to_string())}
                </span>
                {h.last_error.clone().map(|m| view! { <span class="last-error">{crate::i18n::t(Key::HealthLastError)} {m}</span> })}
            }
            .into_any()
        }
    }
}

/// The fields of a model form, filled from `m` (or empty for a new model).
fn model_fields(m: Option<&AdminModel>) -> impl IntoView + use<> {
    let text = |f: fn(&AdminModel) -> String| m.map(f).unwrap_or_default();
    let key = text(|m| m.key.clone());
    let new = m.is_none();
    view! {
        <input type="hidden" name="existing" value=if new { String::new() } else { key.clone() }/>
        <input type="hidden" name="version" value=text(|m| m.version.to_string())/>
        <label>{crate::i18n::t(Key::FKey)} <input name="key" value=key required readonly=!new pattern="[a-z0-9][a-z0-9._\\-]{0,99}" title="lowercase letters, digits, . _ -"/></label>
        <label>{crate::i18n::t(Key::FDisplayName)} <input name="display_name" value=text(|m| m.display_name.clone()) required maxlength="200"/></label>
        <label>{crate::i18n::t(Key::FOrganization)} <input name="organization" value=text(|m| m.organization.clone())/></label>
        <label>{crate::i18n::t(Key::FLicense)} <input name="license" value=text(|m| m.license.clone())/></label>
        <label>{crate::i18n::t(Key::FDescription)} <textarea name="description" rows="2">{text(|m| m.description.clone())}</textarea></label>
        <label>{crate::i18n::t(Key::FSystemPrompt)} <textarea name="system_prompt" rows="3">{text(|m| m.system_prompt.clone().unwrap_or_default())}</textarea></label>
        <div class="row">
            <label>{crate::i18n::t(Key::FTemperature)} <input name="temperature" inputmode="decimal" value=text(|m| m.temperature.map(|t| t.to_string()).unwrap_or_default()) placeholder=crate::i18n::t(Key::FWorkerDefault)/></label>
            <label>"top_p" <input name="top_p" inputmode="decimal" value=text(|m| m.top_p.map(|t| t.to_string()).unwrap_or_default()) placeholder=crate::i18n::t(Key::FWorkerDefault)/></label>
            <label>{crate::i18n::t(Key::FMaxTokens)} <input name="max_tokens" inputmode="numeric" value=m.map_or_else(|| "512".to_owned(), |m| m.max_tokens.to_string()) required/></label>
            <label>{crate::i18n::t(Key::FWeight)} <input name="weight" inputmode="decimal" value=m.map_or_else(|| "1".to_owned(), |m| m.weight.to_string()) required/></label>
        </div>
    }
}

#[component]
pub fn AdminModelsPage() -> impl IntoView {
    let save = ServerAction::<AdminSaveModel>::new();
    let models = Resource::new(move || save.version().get(), |_| admin_models());
    view! {
        <section class="console">
            <h1>{crate::i18n::t(Key::ConsoleTitle)}</h1>
            <ConsoleNav/>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || models.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(models) => view! {
                        <table class="console-table models">
                            <thead><tr><th>{crate::i18n::t(Key::ColCModel)}</th><th>{crate::i18n::t(Key::ColCState)}</th><th>{crate::i18n::t(Key::ColCWeight)}</th><th>{crate::i18n::t(Key::ColCountedVotes)}</th><th>{crate::i18n::t(Key::ColEndpointsHealth)}</th></tr></thead>
                            <tbody>
                                {models.into_iter().map(|m| view! {
                                    <tr data-model=m.key.clone()>
                                        <td><a href=format!("/admin/models/{}", m.key)>{m.key.clone()}</a><br/><small>{m.display_name.clone()}</small></td>
                                        <td>{if m.active { "active" } else { "retired" }}</td>
                                        <td class="weight">{m.weight}</td>
                                        <td>{m.counted_votes}</td>
                                        <td>
                                            {if m.endpoints.is_empty() { Some(view! { <span class="health off">{crate::i18n::t(Key::NoEndpoint)}</span> }) } else { None }}
                                            <ul class="endpoints">
                                                {m.endpoints.iter().map(|e| view! {
                                                    <li><code>{e.base_url.clone()}</code> " " {health(e)}</li>
                                                }).collect_view()}
                                            </ul>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <h2>{crate::i18n::t(Key::AddModelTitle)}</h2>
                        <ActionForm action=save attr:class="console-form add-model">
                            {model_fields(None)}
                            <button type="submit" class="primary">{crate::i18n::t(Key::AddModel)}</button>
                        </ActionForm>
                    }.into_any(),
                })}
            </Suspense>
            {move || outcome(save.value().get(), crate::i18n::t(Key::ModelAdded))}
        </section>
    }
}

#[component]
pub fn AdminModelPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.with(|p| p.get("key").unwrap_or_default());
    let save = ServerAction::<AdminSaveModel>::new();
    let active = ServerAction::<AdminSetActive>::new();
    let endpoint = ServerAction::<AdminSaveEndpoint>::new();
    let delete = ServerAction::<AdminDeleteEndpoint>::new();
    let test = ServerAction::<AdminTestEndpoint>::new();
    let version_of = ServerAction::<AdminSetVersionOf>::new();
    let all_models = Resource::new(|| (), |_| admin_models());
    let model = Resource::new(
        move || {
            (
                key(),
                version_of.version().get(),
                save.version().get(),
                active.version().get(),
                endpoint.version().get(),
                delete.version().get(),
            )
        },
        |(key, ..)| admin_model_detail(key),
    );
    view! {
        <section class="console">
            <ConsoleNav/>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || model.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(m) => {
                        let key = m.key.clone();
                        let retire = m.active;
                        let endpoints = m.endpoints.clone().into_iter().map(|e| {
                                let key = key.clone();
                                let id = e.id.clone();
                                let test_id = e.id.clone();
                                let fe = e.clone();
                                view! {
                                    <div class="endpoint" data-endpoint=e.base_url.clone()>
                                        <p>{health(&e)}</p>
                                        <ActionForm action=endpoint attr:class="console-form">
                                            <input type="hidden" name="key" value=key.clone()/>
                                            <input type="hidden" name="id" value=fe.id.clone()/>
                                            <label>{crate::i18n::t(Key::FBaseUrl)} <input name="base_url" value=fe.base_url.clone() required/></label>
                                            <label>{crate::i18n::t(Key::FUpstreamModel)} <input name="upstream_model" value=fe.upstream_model.clone() required/></label>
                                            <label>{crate::i18n::t(Key::FApiKey)} <input type="password" name="api_key" autocomplete="off" placeholder=if fe.api_key_set { crate::i18n::t(Key::FKeySet) } else { crate::i18n::t(Key::FKeyNone) }/></label>
                                            <label class="check"><input type="checkbox" name="remove_key" value="on"/> {crate::i18n::t(Key::FRemoveKey)}</label>
                                            <label>{crate::i18n::t(Key::FMaxConcurrency)} <input name="max_concurrency" inputmode="numeric" value=fe.max_concurrency.to_string() required/></label>
                                            <label class="check"><input type="checkbox" name="enabled" value="on" checked=fe.enabled/> {crate::i18n::t(Key::FEnabled)}</label>
                                            <button type="submit">{crate::i18n::t(Key::SaveEndpoint)}</button>
                                        </ActionForm>
                                        <ActionForm action=test attr:class="inline">
                                            <input type="hidden" name="id" value=test_id/>
                                            <button type="submit" class="test">{crate::i18n::t(Key::TestEndpoint)}</button>
                                        </ActionForm>
                                        <ActionForm action=delete attr:class="inline">
                                            <input type="hidden" name="id" value=id/>
                                            <button type="submit" class="danger">{crate::i18n::t(Key::Delete)}</button>
                                        </ActionForm>
                                    </div>
                                }
                            }).collect_view();
                        let settings = model_fields(Some(&m));
                        let (key_active, key_add) = (key.clone(), key.clone());
                        view! {
                            <h1>{m.display_name.clone()} " " <small><code>{m.key.clone()}</code></small></h1>
                            <p class="state">{if m.active { crate::i18n::t(Key::ModelActive) } else { crate::i18n::t(Key::ModelRetired) }}</p>
                            <ActionForm action=active attr:class="inline">
                                <input type="hidden" name="key" value=key_active.clone()/>
                                <input type="hidden" name="active" value=if retire { "false" } else { "true" }/>
                                <button type="submit" class=if retire { "danger" } else { "primary" }>{if retire { crate::i18n::t(Key::Retire) } else { crate::i18n::t(Key::Reactivate) }}</button>
                            </ActionForm>
                            {move || active.value().get().map(|r| match r {
                                Ok(live) if live > 0 => view! { <p class="notice" role="status">{crate::i18n::t(Key::DoneLive).replace("{live}", &live.to_string())}</p> }.into_any(),
                                Ok(_) => view! { <p class="notice" role="status">{crate::i18n::t(Key::Done)}</p> }.into_any(),
                                Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                            })}
                            <h2>{crate::i18n::t(Key::NewVersionOf)}</h2>
                            <p class="hint">{crate::i18n::t(Key::NewVersionHint)} <a href="/leaderboard/regressions">{crate::i18n::t(Key::VersionRegressions)}</a></p>
                            <ActionForm action=version_of attr:class="console-form version-of">
                                <input type="hidden" name="key" value=key.clone()/>
                                <label>{crate::i18n::t(Key::BaseModel)}
                                    <select name="base">
                                        <option value="" selected=m.version_of.is_none()>{crate::i18n::t(Key::None)}</option>
                                        {
                                            let current = m.version_of.clone();
                                            let own = key.clone();
                                            move || all_models.get().and_then(Result::ok).unwrap_or_default().into_iter()
                                                .filter(|o| o.key != own)
                                                .map(|o| {
                                                    let selected = current.as_deref() == Some(o.key.as_str());
                                                    view! { <option value=o.key.clone() selected=selected>{o.display_name.clone()}</option> }
                                                })
                                                .collect_view()
                                        }
                                    </select>
                                </label>
                                <button type="submit">{crate::i18n::t(Key::Save)}</button>
                            </ActionForm>
                            {move || outcome(version_of.value().get(), crate::i18n::t(Key::Saved))}
                            <h2>{crate::i18n::t(Key::Settings)}</h2>
                            <ActionForm action=save attr:class="console-form edit-model">
                                {settings}
                                <button type="submit" class="primary">{crate::i18n::t(Key::Save)}</button>
                            </ActionForm>
                            {move || outcome(save.value().get(), crate::i18n::t(Key::SavedEverywhere))}
                            <h2>{crate::i18n::t(Key::Endpoints)}</h2>
                            <p class="hint">{crate::i18n::t(Key::EndpointsHint)}</p>
                            {endpoints}
                            {move || test.value().get().map(|r| match r {
                                Ok(t) if t.ok => view! {
                                    <div class="notice test-result" role="status">
                                        <p>{crate::i18n::t(Key::Answered).replace("{ttft}", &ms(t.ttft_ms)).replace("{rate}", &rate(t.tokens_per_s))}</p>
                                        <blockquote>{t.answer}</blockquote>
                                    </div>
                                }.into_any(),
                                Ok(t) => view! { <p class="notice failure test-result" role="alert">{crate::i18n::t(Key::FailedWith).replace("{error}", &t.error.unwrap_or_default())}</p> }.into_any(),
                                Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                            })}
                            {move || outcome(endpoint.value().get(), crate::i18n::t(Key::EndpointSaved))}
                            {move || outcome(delete.value().get(), crate::i18n::t(Key::EndpointDeleted))}
                            <h3>{crate::i18n::t(Key::AddEndpointTitle)}</h3>
                            <ActionForm action=endpoint attr:class="console-form add-endpoint">
                                <input type="hidden" name="key" value=key_add.clone()/>
                                <input type="hidden" name="id" value=""/>
                                <label>{crate::i18n::t(Key::FBaseUrl)} <input name="base_url" placeholder="http://10.0.0.5:8000/v1" required/></label>
                                <label>{crate::i18n::t(Key::FUpstreamModel)} <input name="upstream_model" required/></label>
                                <label>{crate::i18n::t(Key::FApiKey)} <input type="password" name="api_key" autocomplete="off" placeholder=crate::i18n::t(Key::Optional)/></label>
                                <label>{crate::i18n::t(Key::FMaxConcurrency)} <input name="max_concurrency" inputmode="numeric" value="4" required/></label>
                                <button type="submit" class="primary">{crate::i18n::t(Key::AddEndpoint)}</button>
                            </ActionForm>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}
