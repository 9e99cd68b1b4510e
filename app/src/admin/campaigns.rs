//! Console: campaigns (`/admin/campaigns`): every campaign with its status and dates, and one
//! form to create a campaign or edit one (`?edit=slug`): name, address, description, dates,
//! languages, model pool, pairing, sign-in, registration questions, rubric axes and the rule
//! that derives the overall winner.
// A form's server function takes one argument per field.
#![allow(clippy::too_many_arguments)]

use super::{ConsoleNav, outcome, refused};
use crate::error::PageError;
use crate::i18n::{Key, t};
use arena_domain::campaign::{Campaign, CampaignPairing, WinnerRule, axes_text, questions_text};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[server(prefix = "/api/pages", endpoint = "admin_campaigns")]
pub async fn admin_campaigns() -> Result<Vec<Campaign>, PageError> {
    super::server::admin()?
        .campaigns()
        .await
        .map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_save_campaign")]
pub async fn admin_save_campaign(
    existing: String,
    slug: String,
    name: String,
    description: String,
    starts_at: String,
    ends_at: String,
    languages: String,
    models: String,
    pairing: String,
    sign_in_required: Option<String>,
    questions: String,
    axes: String,
    rule: String,
    version: String,
) -> Result<Campaign, PageError> {
    use super::server::{number, opt};
    let admin = super::server::admin()?;
    let invalid = |e: arena_domain::admin::FieldError| PageError::Invalid(e.to_string()).respond();
    let list = |raw: &str| -> Vec<String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let input = arena_domain::campaign::CampaignInput {
        slug: slug.trim().to_owned(),
        name,
        description: description.trim().to_owned(),
        starts_at: opt(&starts_at),
        ends_at: opt(&ends_at),
        languages: list(&languages),
        models: list(&models),
        pairing: CampaignPairing::parse(&pairing).unwrap_or_default(),
        sign_in_required: sign_in_required.is_some(),
        questions: arena_domain::campaign::parse_questions(&questions).map_err(invalid)?,
        rubric: arena_domain::campaign::parse_axes(&axes, rule == "majority").map_err(invalid)?,
        version: number("version", &version)?,
    };
    admin
        .save_campaign(opt(&existing).as_deref(), &input)
        .await
        .map_err(PageError::from)
}

#[component]
pub fn AdminCampaignsPage() -> impl IntoView {
    let save = ServerAction::<AdminSaveCampaign>::new();
    let list = Resource::new(move || save.version().get(), |_| admin_campaigns());
    let query = use_query_map();
    let editing = move || query.with(|q| q.get("edit").unwrap_or_default());
    view! {
        <section class="console">
            <h1>{t(Key::CampaignsTitle)}</h1>
            <ConsoleNav/>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || list.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(campaigns) => {
                        let current = campaigns.iter().find(|c| c.slug == editing()).cloned();
                        view! {
                            <table class="console-table campaigns">
                                <thead><tr>
                                    <th>{t(Key::ColCampaign)}</th>
                                    <th>{t(Key::ColStatus)}</th>
                                    <th>{t(Key::CampaignFieldStarts)}</th>
                                    <th>{t(Key::CampaignFieldEnds)}</th>
                                    <th>{t(Key::ColActions)}</th>
                                </tr></thead>
                                <tbody>
                                    {campaigns.iter().map(|c| view! {
                                        <tr data-campaign=c.slug.clone()>
                                            <td><a href=format!("/c/{}", c.slug)>{c.name.clone()}</a> <code>{format!("/c/{}", c.slug)}</code></td>
                                            <td class="campaign-status">{crate::campaign::status_text(c.status)}</td>
                                            <td>{crate::campaign::when(&c.starts_at)}</td>
                                            <td>{crate::campaign::when(&c.ends_at)}</td>
                                            <td><a href=format!("/admin/campaigns?edit={}", c.slug)>{t(Key::CampaignEdit).replace("{name}", &c.name)}</a></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <CampaignForm current save/>
                        }.into_any()
                    }
                })}
            </Suspense>
            {move || outcome(save.value().get(), t(Key::CampaignSaved))}
        </section>
    }
}

#[component]
fn CampaignForm(current: Option<Campaign>, save: ServerAction<AdminSaveCampaign>) -> impl IntoView {
    let get = |f: fn(&Campaign) -> String| current.as_ref().map(f).unwrap_or_default();
    let existing = get(|c| c.slug.clone());
    let version = get(|c| c.version.to_string());
    let name = get(|c| c.name.clone());
    let description = get(|c| c.description.clone());
    let starts = get(|c| c.starts_at.clone().unwrap_or_default());
    let ends = get(|c| c.ends_at.clone().unwrap_or_default());
    let languages = get(|c| c.languages.join(", "));
    let models = get(|c| c.models.join(", "));
    let questions = get(|c| questions_text(&c.questions));
    let axes = get(|c| axes_text(c.rubric.as_ref()));
    let title = match &current {
        Some(c) => t(Key::CampaignEdit).replace("{name}", &c.name),
        None => t(Key::CampaignNew).to_owned(),
    };
    let majority = current
        .as_ref()
        .and_then(|c| c.rubric.as_ref())
        .is_some_and(|r| r.rule == WinnerRule::Majority);
    let uniform = current
        .as_ref()
        .is_some_and(|c| c.pairing == CampaignPairing::Uniform);
    let sign_in = current.as_ref().is_some_and(|c| c.sign_in_required);
    view! {
        <h2>{title}</h2>
        <ActionForm action=save attr:class="console-form campaign-form">
            <input type="hidden" name="existing" value=existing.clone()/>
            <input type="hidden" name="version" value=version/>
            <label>{t(Key::CampaignFieldName)} <input name="name" required value=name/></label>
            <label>{t(Key::CampaignFieldSlug)} <input name="slug" required pattern="[a-z0-9][a-z0-9_\\-]*" value=existing/></label>
            <label>{t(Key::CampaignFieldDescription)} <textarea name="description" rows="2">{description}</textarea></label>
            <p class="hint">{t(Key::CampaignTimesHint)}</p>
            <label>{t(Key::CampaignFieldStarts)} <input name="starts_at" value=starts/></label>
            <label>{t(Key::CampaignFieldEnds)} <input name="ends_at" value=ends/></label>
            <label>{t(Key::CampaignFieldLanguages)} <input name="languages" value=languages/></label>
            <p class="hint">{t(Key::CampaignLanguagesHint)}</p>
            <label>{t(Key::CampaignFieldModels)} <input name="models" value=models/></label>
            <p class="hint">{t(Key::CampaignModelsHint)}</p>
            <label>{t(Key::CampaignFieldPairing)}
                <select name="pairing">
                    <option value="arena" selected=!uniform>{t(Key::CampaignPairingArena)}</option>
                    <option value="uniform" selected=uniform>{t(Key::CampaignPairingUniform)}</option>
                </select>
            </label>
            <label class="check"><input type="checkbox" name="sign_in_required" value="on" checked=sign_in/> {t(Key::CampaignFieldSignIn)}</label>
            <label>{t(Key::CampaignFieldQuestions)} <textarea name="questions" rows="3">{questions}</textarea></label>
            <p class="hint">{t(Key::CampaignQuestionsHint)}</p>
            <label>{t(Key::CampaignFieldAxes)} <textarea name="axes" rows="3">{axes}</textarea></label>
            <p class="hint">{t(Key::CampaignAxesHint)}</p>
            <label>{t(Key::CampaignFieldRule)}
                <select name="rule">
                    <option value="ordered" selected=!majority>{t(Key::CampaignRuleOrdered)}</option>
                    <option value="majority" selected=majority>{t(Key::CampaignRuleMajority)}</option>
                </select>
            </label>
            <button type="submit" class="primary">{t(Key::CampaignSave)}</button>
        </ActionForm>
    }
}
