//! `/c/{slug}/leaderboard`: the campaign's ratings (the leaderboard with `campaign=`), its
//! progress (votes per day as an SVG chart, votes per model pair) and its contributor board
//! (opt-in, by pseudonym). It stays after the campaign closes.

use super::{CampaignHeader, get_campaign};
use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::campaign::{CampaignPage, ContributorBoard, DayVotes, Progress};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The progress and the contributor board (`/api/pages/campaign_boards`).
#[server(prefix = "/api/pages", endpoint = "campaign_boards")]
pub async fn get_boards(slug: String) -> Result<(Progress, ContributorBoard), PageError> {
    let arena = crate::account::server_arena()?;
    let mut progress = arena.campaign_progress(&slug).await?;
    // The page lists the most voted pairs (all of them are in the JSON API): at arena scale
    // there are thousands, and the page would carry them all to the browser.
    progress.pairs.truncate(PAIRS_SHOWN);
    Ok((progress, arena.campaign_contributors(&slug).await?))
}

/// How many model pairs the progress table lists (trimmed on the server).
#[cfg(feature = "ssr")]
const PAIRS_SHOWN: usize = 30;

/// Votes per day as bars: readable from one day to a few months, at phone width (the SVG
/// scales down, never up past its natural size).
fn chart(days: &[DayVotes]) -> impl IntoView {
    let max = days.iter().map(|d| d.votes).max().unwrap_or(0).max(1) as f64;
    let n = days.len().max(1);
    let bar = (600.0 / n as f64).clamp(2.0, 24.0);
    let width = (bar * n as f64).max(120.0) + 40.0;
    let height = 140.0;
    let plot = 100.0;
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = plot * d.votes as f64 / max;
            view! {
                <rect
                    x=format!("{:.1}", 30.0 + i as f64 * bar)
                    y=format!("{:.1}", 10.0 + plot - h)
                    width=format!("{:.1}", (bar - 1.0).max(1.0))
                    height=format!("{h:.1}")
                    class="bar"
                >
                    <title>{format!("{}: {}", d.day, d.votes)}</title>
                </rect>
            }
        })
        .collect_view();
    let first = days.first().map(|d| d.day.clone()).unwrap_or_default();
    let last = days.last().map(|d| d.day.clone()).unwrap_or_default();
    view! {
        <svg
            class="progress-chart"
            viewBox=format!("0 0 {width:.0} {height:.0}")
            width=format!("{width:.0}")
            role="img"
            aria-label=crate::i18n::t(Key::ProgressPerDay)
        >
            <text x="0" y="16" class="axis-label">{format!("{max:.0}")}</text>
            <text x="0" y="110" class="axis-label">"0"</text>
            <line x1="28" y1="110" x2=format!("{:.0}", width - 8.0) y2="110" class="axis"/>
            {bars}
            <text x="30" y="130" class="axis-label">{first}</text>
            {(days.len() > 1).then(|| view! {
                <text x=format!("{:.0}", width - 8.0) y="130" text-anchor="end" class="axis-label">{last}</text>
            })}
        </svg>
    }
}

/// `/c/{slug}/leaderboard`.
#[component]
pub fn CampaignLeaderboardPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.with(|p| p.get("slug").unwrap_or_default());
    let page = Resource::new(slug, get_campaign);
    let boards = Resource::new(slug, get_boards);
    let lang = crate::i18n::lang();
    view! {
        <section class="campaign">
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || page.get().map(|r| match r {
                    Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(page) => {
                        let back = format!("/c/{}", page.campaign.slug);
                        view! {
                            <CampaignHeader campaign=page.campaign.clone()/>
                            <p><a href=back>{lang.text(Key::CampaignBattleLink)}</a></p>
                            <crate::leaderboard::Leaderboard campaign=Some(page.campaign.slug.clone())/>
                            <Suspense fallback=|| ()>
                                {
                                    let page = page.clone();
                                    move || boards.get().map(|r| match r {
                                        Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                                        Ok((progress, contributors)) => view! {
                                            <ProgressBoard progress/>
                                            <Contributors board=contributors page=page.clone()/>
                                        }.into_any(),
                                    })
                                }
                            </Suspense>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ProgressBoard(progress: Progress) -> impl IntoView {
    let lang = crate::i18n::lang();
    if progress.votes == 0 {
        return view! {
            <section class="progress">
                <h2>{lang.text(Key::ProgressTitle)}</h2>
                <p class="hint">{lang.text(Key::ProgressNone)}</p>
            </section>
        }
        .into_any();
    }
    let rows = progress
        .pairs
        .iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{format!("{} + {}", p.model_a, p.model_b)}</td>
                    <td class="num">{p.votes}</td>
                </tr>
            }
        })
        .collect_view();
    let total = if progress.votes == 1 {
        lang.text(Key::ProgressTotalOne).to_owned()
    } else {
        lang.text(Key::ProgressTotal)
            .replace("{votes}", &progress.votes.to_string())
    };
    view! {
        <section class="progress">
            <h2>{lang.text(Key::ProgressTitle)}</h2>
            <p class="hint">{total}</p>
            <h3>{lang.text(Key::ProgressPerDay)}</h3>
            <div class="chart-box">{chart(&progress.days)}</div>
            <h3>{lang.text(Key::ProgressPairs)}</h3>
            <table class="console-table pair-votes">
                <thead><tr><th>{lang.text(Key::ColPair)}</th><th>{lang.text(Key::ColVotes)}</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn Contributors(board: ContributorBoard, page: CampaignPage) -> impl IntoView {
    let lang = crate::i18n::lang();
    let slug = page.campaign.slug.clone();
    let alias = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let rows = board
        .contributors
        .iter()
        .map(|c| {
            view! {
                <tr>
                    <td class="num">{c.rank}</td>
                    <td class="alias">{c.alias.clone()}</td>
                    <td class="num">{c.votes}</td>
                </tr>
            }
        })
        .collect_view();
    let send = move |method: &'static str| {
        #[cfg(feature = "hydrate")]
        {
            let url = format!("/api/v1/campaigns/{slug}/contributor");
            let body = serde_json::json!({ "alias": alias.get_untracked() });
            leptos::task::spawn_local(async move {
                let body = (method == "PUT").then_some(body);
                match crate::client::send(method, &url, body.as_ref()).await {
                    Ok(()) => {
                        let _ = window().location().reload();
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (method, &slug, error);
    };
    let send = StoredValue::new(send);
    let mine = page.alias.clone();
    let hint = if board.volunteers == 1 {
        lang.text(Key::ContributorsHintOne).to_owned()
    } else {
        lang.text(Key::ContributorsHint)
            .replace("{volunteers}", &board.volunteers.to_string())
    };
    view! {
        <section class="contributors">
            <h2>{lang.text(Key::ContributorsTitle)}</h2>
            <p class="hint">{hint}</p>
            {if board.contributors.is_empty() {
                view! { <p class="hint">{lang.text(Key::ContributorsNone)}</p> }.into_any()
            } else {
                view! {
                    <table class="console-table contributor-board">
                        <thead><tr><th>{lang.text(Key::ColRank)}</th><th>{lang.text(Key::ColContributor)}</th><th>{lang.text(Key::ColVotes)}</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
            }}
            {match mine {
                Some(name) => view! {
                    <p class="hint">
                        {lang.text(Key::ContributorsYou).replace("{alias}", &name)} " "
                        <button type="button" class="link leave" on:click=move |_| send.with_value(|f| f("DELETE"))>
                            {lang.text(Key::ContributorsLeave)}
                        </button>
                    </p>
                }.into_any(),
                None => view! {
                    <form class="console-form join" on:submit=move |ev| {
                        ev.prevent_default();
                        send.with_value(|f| f("PUT"));
                    }>
                        <label>{lang.text(Key::ContributorsJoin)}
                            <input name="alias" maxlength="32" required=true
                                prop:value=move || alias.get()
                                on:input=move |ev| alias.set(event_target_value(&ev))/>
                        </label>
                        <button type="submit">{lang.text(Key::ContributorsJoinButton)}</button>
                    </form>
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="notice failure" role="alert">{e}</p> })}
        </section>
    }
}
