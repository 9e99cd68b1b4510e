//! The leaderboard page, rendered on the server: rank, model, rating with its 95% interval,
//! votes, organization, license; an interval plot and win-rate / battle-count heatmaps drawn as
//! SVG by the app itself; filters by language and date range; the rating run it shows.

use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::api::{LeaderboardFilter, LeaderboardView, StyleView};
use arena_domain::benchmark::BenchmarkReport;
use arena_domain::category::{Category, CategoryCount};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

mod plots;
mod views;
pub use plots::{ci_plot, heatmap};
use views::{BenchmarksBoard, StyleBoard};

/// Heatmaps show this many of the best-ranked models unless asked for more (`?heatmaps=`): at
/// arena scale (129 models) two full matrices were 5.5 MB of SVG; the JSON API has them whole.
#[cfg(feature = "ssr")]
const HEATMAP_TOP: usize = 20;

/// `?heatmaps=all` or a number of models (20 when absent or unreadable).
#[cfg(feature = "ssr")]
fn heatmap_size(raw: Option<&str>) -> usize {
    match raw {
        Some("all") => usize::MAX,
        Some(n) => n.parse().ok().filter(|n| *n > 0).unwrap_or(HEATMAP_TOP),
        None => HEATMAP_TOP,
    }
}

/// A stable path (`/api/pages/leaderboard`): tests and caches can name it.
#[server(prefix = "/api/pages", endpoint = "leaderboard")]
pub async fn get_leaderboard(
    filter: LeaderboardFilter,
    heatmaps: Option<String>,
) -> Result<LeaderboardView, PageError> {
    use arena_core::limits::{Action, ClientAddr};
    let arena = use_context::<arena_core::Arena>().ok_or(PageError::Internal)?;
    let address = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientAddr>().copied());
    let limits = arena.limits.clone();
    let admit = move || async move {
        match address {
            Some(ClientAddr(address)) => limits.check_address(Action::Leaderboard, address).await,
            None => Ok(()),
        }
    };
    let view = arena.leaderboard(filter, admit).await?;
    Ok(view.with_matrices_of_top(heatmap_size(heatmaps.as_deref())))
}

/// Each category's number of counted votes (`/api/pages/leaderboard_categories`).
#[server(prefix = "/api/pages", endpoint = "leaderboard_categories")]
pub async fn get_category_counts() -> Result<Vec<CategoryCount>, PageError> {
    let arena = use_context::<arena_core::Arena>().ok_or(PageError::Internal)?;
    Ok(arena.category_counts().await?)
}

/// Static benchmark scores beside this view's ratings (`/api/pages/leaderboard_benchmarks`).
#[server(prefix = "/api/pages", endpoint = "leaderboard_benchmarks")]
pub async fn get_benchmarks(filter: LeaderboardFilter) -> Result<BenchmarkReport, PageError> {
    use arena_core::limits::{Action, ClientAddr};
    let arena = use_context::<arena_core::Arena>().ok_or(PageError::Internal)?;
    let address = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientAddr>().copied());
    let limits = arena.limits.clone();
    let admit = move || async move {
        match address {
            Some(ClientAddr(address)) => limits.check_address(Action::Leaderboard, address).await,
            None => Ok(()),
        }
    };
    Ok(arena.benchmarks(filter, admit).await?)
}

/// The page's name of a category.
fn category_key(c: Category) -> Key {
    match c {
        Category::Coding => Key::CatCoding,
        Category::Math => Key::CatMath,
        Category::Long => Key::CatLong,
        Category::MultiTurn => Key::CatMultiTurn,
        Category::NoTies => Key::CatNoTies,
    }
}

/// The style-controlled ranking (`/api/pages/leaderboard_style`), asked for with `?style=control`.
#[server(prefix = "/api/pages", endpoint = "leaderboard_style")]
pub async fn get_style_ranking(filter: LeaderboardFilter) -> Result<StyleView, PageError> {
    use arena_core::limits::{Action, ClientAddr};
    let arena = use_context::<arena_core::Arena>().ok_or(PageError::Internal)?;
    let address = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientAddr>().copied());
    let limits = arena.limits.clone();
    let admit = move || async move {
        match address {
            Some(ClientAddr(address)) => limits.check_address(Action::Leaderboard, address).await,
            None => Ok(()),
        }
    };
    Ok(arena.style_leaderboard(filter, admit).await?)
}

/// `/leaderboard`: the arena's leaderboard.
#[component]
pub fn LeaderboardPage() -> impl IntoView {
    view! { <Leaderboard campaign=None/> }
}

/// The leaderboard of every vote (`campaign`: `None`) or of one campaign's votes (shown on
/// `/c/{slug}/leaderboard`; its style-controlled ranking fits the campaign's votes too).
#[component]
pub fn Leaderboard(campaign: Option<String>) -> impl IntoView {
    let in_campaign = campaign.is_some();
    let campaign = StoredValue::new(campaign);
    let query = use_query_map();
    let filter = move || {
        query.with(|q| {
            let get = |k: &str| q.get(k).filter(|s| !s.trim().is_empty());
            LeaderboardFilter {
                language: get("language"),
                from: get("from"),
                to: get("to"),
                ci: get("ci"),
                ties: get("ties"),
                rounds: get("rounds"),
                seed: get("seed"),
                source: get("source"),
                category: get("category"),
                language_by: get("language_by"),
                campaign: campaign.get_value(),
            }
        })
    };
    let heatmaps = move || query.with(|q| q.get("heatmaps").filter(|s| !s.trim().is_empty()));
    let board = Resource::new(
        move || (filter(), heatmaps()),
        |(filter, heatmaps)| get_leaderboard(filter, heatmaps),
    );
    let current = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    let category_counts = Resource::new(|| (), |_| get_category_counts());
    // The category control: each category with its vote count once known.
    let category_options = move |counts: Option<Vec<CategoryCount>>| {
        let chosen = current("category");
        let all = view! { <option value="" selected=chosen.is_empty()>{crate::i18n::t(Key::FilterAllVotes)}</option> };
        let each = Category::ALL
            .iter()
            .map(|c| {
                let votes = counts
                    .as_ref()
                    .and_then(|v| v.iter().find(|x| x.category == *c))
                    .map(|x| crate::i18n::tf(Key::CategoryVotes, "votes", x.votes))
                    .unwrap_or_default();
                let label = format!("{}{votes}", crate::i18n::t(category_key(*c)));
                view! { <option value=c.as_str() selected=chosen == c.as_str()>{label}</option> }
            })
            .collect_view();
        view! { <select name="category">{all}{each}</select> }
    };
    let benchmarks = Resource::new(filter, get_benchmarks);
    let style = Resource::new(
        move || (filter(), current("style") == "control"),
        |(filter, on)| async move {
            if on {
                get_style_ranking(filter).await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    // Options of a GET form that keep the submitted choice selected.
    let options = move |name: &'static str, choices: &[(&'static str, &'static str)]| {
        choices
            .iter()
            .map(|&(value, label)| {
                view! { <option value=value selected=move || current(name) == value>{label}</option> }
            })
            .collect_view()
    };
    let lang = crate::i18n::lang();
    view! {
        <section class="leaderboard">
            {if in_campaign {
                view! { <h2>{lang.text(Key::CampaignRatings)}</h2> }.into_any()
            } else {
                view! { <h1>{lang.text(Key::LeaderboardTitle)}</h1> }.into_any()
            }}
            {move || {
                let source = current("source");
                (!source.is_empty()).then(|| view! {
                    <p class="source-banner" role="status">
                        {lang.text(Key::SourceBanner).replace("{source}", &source)}
                        <a href="/leaderboard">{lang.text(Key::ArenaLeaderboard)}</a>
                    </p>
                })
            }}
            <form method="get" class="filters">
                {move || {
                    let source = current("source");
                    (!source.is_empty()).then(|| view! { <input type="hidden" name="source" value=source/> })
                }}
                <label>{lang.text(Key::FilterLanguage)}
                    <select name="language">
                        {options("language", &[("", lang.text(Key::FilterAll)), ("en", "English"), ("eu", "Euskara"), ("es", "Español"), ("fr", "Français"), ("other", lang.text(Key::LanguageOther))])}
                    </select>
                </label>
                <label>{lang.text(Key::FilterLanguageOf)}
                    <select name="language_by">
                        {options("language_by", &[("", lang.text(Key::FilterLanguageChosen)), ("detected", lang.text(Key::FilterLanguageDetected))])}
                    </select>
                </label>
                <label>{lang.text(Key::FilterFrom)} <input type="date" name="from" value=move || current("from")/></label>
                <label>{lang.text(Key::FilterTo)} <input type="date" name="to" value=move || current("to")/></label>
                <label>{lang.text(Key::FilterIntervals)}
                    <select name="ci">
                        {options("ci", &[("sandwich", lang.text(Key::CiSandwich)), ("bootstrap", lang.text(Key::CiBootstrap))])}
                    </select>
                </label>
                <label>{lang.text(Key::FilterTies)}
                    <select name="ties">
                        {options("ties", &[("half", lang.text(Key::TiesHalf)), ("davidson", lang.text(Key::TiesDavidson))])}
                    </select>
                </label>
                <label>{lang.text(Key::FilterCategory)}
                    <Suspense fallback=move || category_options(None)>
                        {move || category_counts.get().map(|r| category_options(r.ok()))}
                    </Suspense>
                </label>
                <label>{lang.text(Key::FilterStyle)}
                    <select name="style">
                        {options("style", &[("", lang.text(Key::FilterOff)), ("control", lang.text(Key::FilterStyleOn))])}
                    </select>
                </label>
                <label>{lang.text(Key::FilterHeatmaps)}
                    <select name="heatmaps">
                        {options("heatmaps", &[("", lang.text(Key::HeatmapsTop20)), ("50", lang.text(Key::HeatmapsTop50)), ("all", lang.text(Key::HeatmapsAll))])}
                    </select>
                </label>
                <button type="submit">{lang.text(Key::Apply)}</button>
            </form>
            <Transition fallback=move || view! { <p>{lang.text(Key::Computing)}</p> }>
                <ErrorBoundary fallback=|errors| {
                    view! {
                        <p class="notice failure" role="alert">
                            {move || {
                                errors
                                    .get()
                                    .into_iter()
                                    .next()
                                    .map(|(_, e)| e.to_string())
                                    .unwrap_or_default()
                            }}
                        </p>
                    }
                }>
                    {move || board.get().map(|result| result.map(|view| view! { <Board view/> }))}
                </ErrorBoundary>
            </Transition>
            <Transition fallback=|| ()>
                {move || benchmarks.get().and_then(Result::ok).filter(|r| !r.benchmarks.is_empty()).map(|report| view! { <BenchmarksBoard report/> })}
            </Transition>
            <Transition fallback=move || view! { <p>{lang.text(Key::StyleFitting)}</p> }>
                {move || style.get().map(|result| match result {
                    Ok(Some(view)) => view! { <StyleBoard view/> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(e) => view! {
                        <section class="style-board">
                            <h2>{lang.text(Key::StyleTitle)}</h2>
                            <p class="hint" role="status">{e.to_string()}</p>
                        </section>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn fmt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{v:.0}"))
}

/// The page's one notice, in plain words: why some models have no rank yet, or that the fit
/// needed a correction; the fit's own (technical) warnings folded under it. `None`: nothing to say.
fn notice(view: &LeaderboardView) -> Option<(String, Vec<String>)> {
    let with_votes = |e: &&arena_domain::api::LeaderboardEntry| e.votes > 0;
    let provisional = view
        .entries
        .iter()
        .filter(with_votes)
        .filter(|e| e.provisional)
        .count();
    let ranked = view.entries.iter().filter(|e| e.rank.is_some()).count();
    let votes = view.vote_count;
    let lang = crate::i18n::lang();
    // No counted vote (a new arena, an empty category or language): that, and nothing else.
    if votes == 0 {
        return Some((lang.text(Key::NoVotesYet).to_owned(), Vec::new()));
    }
    let text = if provisional > 0 && ranked == 0 {
        lang.text(Key::NoticeNoneRanked)
            .replace("{votes}", &votes.to_string())
    } else if provisional > 0 {
        lang.text(Key::NoticeSomeProvisional)
            .replace("{count}", &provisional.to_string())
    } else if !view.warnings.is_empty() {
        lang.text(Key::NoticeCorrected).to_owned()
    } else {
        return None;
    };
    Some((text, view.warnings.clone()))
}

#[component]
fn Board(view: LeaderboardView) -> impl IntoView {
    let lang = crate::i18n::lang();
    let rows = view
        .entries
        .iter()
        .map(|e| {
            let (rank, rating, ci, votes) = if e.provisional && e.votes > 0 {
                let ci = match (e.posterior_rating, e.credible_lower, e.credible_upper) {
                    (Some(r), Some(lo), Some(hi)) => format!("+{:.0} / −{:.0}", hi - r, r - lo),
                    _ => "—".into(),
                };
                let needs = e
                    .votes_to_rank
                    .map(|k| {
                        lang.text(Key::MoreToRank)
                            .replace("{votes}", &k.to_string())
                    })
                    .unwrap_or_default();
                (
                    lang.text(Key::Provisional).to_owned(),
                    fmt(e.posterior_rating),
                    ci,
                    format!("{}{needs}", e.votes),
                )
            } else {
                let ci = match (e.rating, e.ci_lower, e.ci_upper) {
                    (Some(r), Some(lo), Some(hi)) => format!("+{:.0} / −{:.0}", hi - r, r - lo),
                    _ => "—".into(),
                };
                (
                    e.rank.map_or_else(|| "—".to_owned(), |r| r.to_string()),
                    fmt(e.rating),
                    ci,
                    e.votes.to_string(),
                )
            };
            let class = if e.provisional { "provisional" } else { "" };
            view! {
                <tr class=class>
                    <td>{rank}</td>
                    <td class="model">{e.display_name.clone()}</td>
                    <td class="num">{rating}</td>
                    <td class="num">{ci}</td>
                    <td class="num">{votes}</td>
                    <td>{e.organization.clone()}</td>
                    <td>{e.license.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let notice = notice(&view).map(|(text, details)| {
        let details = (!details.is_empty()).then(|| {
            let items = details
                .into_iter()
                .map(|w| view! { <li>{w}</li> })
                .collect_view();
            view! {
                <details>
                    <summary>{lang.text(Key::TechnicalDetails)}</summary>
                    <ul>{items}</ul>
                </details>
            }
        });
        view! { <div class="notice board-notice" role="note"><p>{text}</p>{details}</div> }
    });
    let empty = view.vote_count == 0;
    view! {
        {notice}
        <div class="table-scroll" hidden=empty>
            <table class="board">
                <thead>
                    <tr>
                    <th>{lang.text(Key::ColRank)}</th><th>{lang.text(Key::ColModel)}</th><th>{lang.text(Key::ColRating)}</th>
                    <th>{lang.text(Key::ColCi)}</th><th>{lang.text(Key::ColVotes)}</th><th>{lang.text(Key::ColOrganization)}</th>
                    <th>{lang.text(Key::ColLicense)}</th>
                </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="run">
            {lang
                .text(if view.vote_count == 1 { Key::RunLineOne } else { Key::RunLine })
                .replace("{run}", &view.run_id.to_string())
                .replace("{method}", &view.method)
                .replace("{votes}", &view.vote_count.to_string())
                .replace("{max}", &view.max_vote_id.to_string())
                .replace("{at}", &view.computed_at)}
            {view.tie_parameter.map(|nu| format!(" · Davidson tie parameter ν = {nu:.3}"))}
            " · "
            <a href=format!("/api/v1/leaderboard/runs/{}", view.run_id)>{lang.text(Key::RunAsJson)}</a>
            " · "
            <a href=format!("/api/v1/leaderboard/runs/{}/reproduce", view.run_id)>{lang.text(Key::RefitFromVotes)}</a>
            " · "
            <a href="/leaderboard/regressions">{lang.text(Key::VersionRegressions)}</a>
        </p>
        <div class="plots" hidden=empty>
        <h2>{lang.text(Key::IntervalsTitle)}</h2>
        <div class="plot-scroll" inner_html=ci_plot(&view)></div>
        <h2>{lang.text(Key::WinRateTitle)}</h2>
        {(view.battles.len() < view.entries.len()).then(|| view! {
            <p class="hint">
                {lang
                    .text(Key::HeatmapTop)
                    .replace("{shown}", &view.battles.len().to_string())
                    .replace("{total}", &view.entries.len().to_string())}
            </p>
        })}
        <div class="plot-scroll" inner_html=heatmap(&view, true)></div>
        <h2>{lang.text(Key::BattlesTitle)}</h2>
        <div class="plot-scroll" inner_html=heatmap(&view, false)></div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty category: the fit's warnings (a correction on no data) are not news; the page
    /// says there are no votes yet, and nothing else.
    #[test]
    fn an_empty_view_says_no_votes_yet_and_nothing_else() {
        let view = LeaderboardView {
            run_id: 1,
            method: String::new(),
            max_vote_id: 0,
            vote_count: 0,
            computed_at: String::new(),
            filter: LeaderboardFilter::default(),
            entries: Vec::new(),
            warnings: vec!["no finite maximum-likelihood estimate".into()],
            battles: Vec::new(),
            win_rate: Vec::new(),
            params: serde_json::Value::Null,
            tie_parameter: None,
        };
        let (text, details) = notice(&view).unwrap();
        assert_eq!(text, "No counted votes yet.");
        assert!(details.is_empty());
        assert_eq!(plots::ci_plot(&view), "");
    }
}
