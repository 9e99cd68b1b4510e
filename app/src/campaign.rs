//! A campaign's pages. `/c/{slug}`: its battle page, which says when it opens or that it
//! closed outside its dates, asks for sign-in or the registration questions first when the
//! campaign wants them, then runs the battle in the campaign's languages, pool and rubric.
//! `/c/{slug}/leaderboard`: its ratings, progress and contributor board ([`board`]).

mod board;
pub use board::CampaignLeaderboardPage;

use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::campaign::{Campaign, CampaignPage, CampaignStatus, Question, QuestionKind};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The campaign and this volunteer's standing in it (`/api/pages/campaign`).
#[server(prefix = "/api/pages", endpoint = "campaign")]
pub async fn get_campaign(slug: String) -> Result<CampaignPage, PageError> {
    let arena = crate::account::server_arena()?;
    Ok(arena
        .campaign_page(crate::account::server_voter(), &slug)
        .await?)
}

/// A time as the pages show it: `2026-12-01 09:00` (UTC).
pub(crate) fn when(t: &Option<String>) -> String {
    t.as_deref()
        .map(|t| t.get(..16).unwrap_or(t).replace('T', " "))
        .unwrap_or_default()
}

pub(crate) fn status_text(status: CampaignStatus) -> &'static str {
    crate::i18n::t(match status {
        CampaignStatus::Upcoming => Key::StatusUpcoming,
        CampaignStatus::Open => Key::StatusOpen,
        CampaignStatus::Closed => Key::StatusClosed,
    })
}

/// The campaign's name, description, dates and languages.
#[component]
pub(crate) fn CampaignHeader(campaign: Campaign) -> impl IntoView {
    let lang = crate::i18n::lang();
    let from = campaign.starts_at.as_ref().map_or_else(
        || lang.text(Key::CampaignAlways).to_owned(),
        |_| when(&campaign.starts_at),
    );
    let to = campaign.ends_at.as_ref().map_or_else(
        || lang.text(Key::CampaignNever).to_owned(),
        |_| when(&campaign.ends_at),
    );
    // Basque case endings after the dates are chosen by rule (`crate::i18n::fill`).
    let dates = crate::i18n::fill(
        &crate::i18n::fill(lang.text(Key::CampaignDates), "from", &from),
        "to",
        &to,
    );
    let languages = (!campaign.languages.is_empty()).then(|| {
        lang.text(Key::CampaignLanguages)
            .replace("{languages}", &campaign.languages.join(", "))
    });
    view! {
        <header class="campaign-header" data-status=format!("{:?}", campaign.status).to_lowercase()>
            <h1>{campaign.name.clone()}</h1>
            {(!campaign.description.is_empty()).then(|| view! { <p>{campaign.description.clone()}</p> })}
            <p class="hint">
                <span class="campaign-status">{status_text(campaign.status)}</span>
                " · " {dates} {languages.map(|l| format!(" · {l}"))}
            </p>
        </header>
    }
}

/// `/c/{slug}`.
#[component]
pub fn CampaignBattlePage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.with(|p| p.get("slug").unwrap_or_default());
    let page = Resource::new(slug, get_campaign);
    view! {
        <Suspense fallback=|| view! { <p>"…"</p> }>
            {move || page.get().map(|r| match r {
                Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(page) => view! { <CampaignBattle page/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn CampaignBattle(page: CampaignPage) -> impl IntoView {
    let lang = crate::i18n::lang();
    let c = page.campaign.clone();
    let board = format!("/c/{}/leaderboard", c.slug);
    let body = match c.status {
        CampaignStatus::Upcoming => view! {
            <p class="notice campaign-gate" role="status">
                {lang.text(Key::CampaignOpens).replace("{time}", &when(&c.starts_at))}
            </p>
        }
        .into_any(),
        CampaignStatus::Closed => view! {
            <p class="notice campaign-gate" role="status">
                {lang.text(Key::CampaignClosed).replace("{time}", &when(&c.ends_at))}
            </p>
        }
        .into_any(),
        CampaignStatus::Open if c.sign_in_required && !page.signed_in => {
            let next = format!("/signin?next=/c/{}", c.slug);
            view! {
                <p class="notice campaign-gate" role="status">
                    {lang.text(Key::CampaignSignIn)} " "
                    <a href=next>{lang.text(Key::CampaignSignInLink)}</a>
                </p>
            }
            .into_any()
        }
        CampaignStatus::Open if !page.registered => view! {
            <Registration slug=c.slug.clone() questions=c.questions.clone()/>
        }
        .into_any(),
        CampaignStatus::Open => {
            view! { <crate::battle::Battle campaign=Some(page.clone())/> }.into_any()
        }
    };
    view! {
        <section class="campaign">
            <CampaignHeader campaign=c.clone()/>
            {body}
            <p><a class="campaign-board-link" href=board>{lang.text(Key::CampaignLeaderboardLink)}</a></p>
        </section>
    }
}

/// The registration questions, answered once per campaign before the first battle.
#[component]
fn Registration(slug: String, questions: Vec<Question>) -> impl IntoView {
    let lang = crate::i18n::lang();
    let answers = RwSignal::new(std::collections::BTreeMap::<String, serde_json::Value>::new());
    let error = RwSignal::new(None::<String>);
    let complete = {
        let n = questions.len();
        move || answers.with(|a| a.len() == n)
    };
    let fields = questions
        .into_iter()
        .map(|q| {
            let key = q.key.clone();
            let (options, numeric): (Vec<String>, bool) = match &q.kind {
                QuestionKind::Scale { min, max } => ((*min..=*max).map(|v| v.to_string()).collect(), true),
                QuestionKind::Choice { options } => (options.clone(), false),
            };
            view! {
                <label class="question" data-question=q.key.clone()>
                    {q.label.clone()}
                    <select
                        name=q.key.clone()
                        required=true
                        on:change=move |ev| {
                            let raw = event_target_value(&ev);
                            let value = if raw.is_empty() {
                                None
                            } else if numeric {
                                raw.parse::<i64>().ok().map(serde_json::Value::from)
                            } else {
                                Some(serde_json::Value::from(raw))
                            };
                            answers.update(|a| match value {
                                Some(v) => {
                                    a.insert(key.clone(), v);
                                }
                                None => {
                                    a.remove(&key);
                                }
                            });
                        }
                    >
                        <option value="">{lang.text(Key::CampaignChoose)}</option>
                        {options.into_iter().map(|o| view! { <option value=o.clone()>{o.clone()}</option> }).collect_view()}
                    </select>
                </label>
            }
        })
        .collect_view();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let slug = slug.clone();
            let body = serde_json::to_value(answers.get_untracked()).unwrap_or_default();
            leptos::task::spawn_local(async move {
                let url = format!("/api/v1/campaigns/{slug}/registration");
                match crate::client::send("PUT", &url, Some(&body)).await {
                    Ok(()) => {
                        let _ = window().location().reload();
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&slug, answers, error);
    };
    view! {
        <form class="registration console-form" on:submit=submit>
            <h2>{lang.text(Key::CampaignRegisterTitle)}</h2>
            <p class="hint">{lang.text(Key::CampaignRegisterHint)}</p>
            {fields}
            <button type="submit" class="primary" disabled=move || !complete()>
                {lang.text(Key::CampaignRegisterSubmit)}
            </button>
            {move || error.get().map(|e| view! { <p class="notice failure" role="alert">{e}</p> })}
        </form>
    }
}
