//! The leaderboard page, rendered on the server: rank, model, rating with its 95% interval,
//! votes, organization, license; an interval plot and win-rate / battle-count heatmaps drawn as
//! SVG by the app itself; filters by language and date range; the rating run it shows.

use crate::error::PageError;
use arena_domain::api::{LeaderboardFilter, LeaderboardView};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

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
    let admit = || match address {
        Some(ClientAddr(address)) => arena.limits.check_address(Action::Leaderboard, address),
        None => Ok(()),
    };
    let view = arena.leaderboard(filter, admit).await?;
    Ok(view.with_matrices_of_top(heatmap_size(heatmaps.as_deref())))
}

#[component]
pub fn LeaderboardPage() -> impl IntoView {
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
            }
        })
    };
    let heatmaps = move || query.with(|q| q.get("heatmaps").filter(|s| !s.trim().is_empty()));
    let board = Resource::new(
        move || (filter(), heatmaps()),
        |(filter, heatmaps)| get_leaderboard(filter, heatmaps),
    );
    let current = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    // Options of a GET form that keep the submitted choice selected.
    let options = move |name: &'static str, choices: &'static [(&'static str, &'static str)]| {
        choices
            .iter()
            .map(|(value, label)| {
                view! { <option value=*value selected=move || current(name) == *value>{*label}</option> }
            })
            .collect_view()
    };
    view! {
        <section class="leaderboard">
            <h1>"Leaderboard"</h1>
            {move || {
                let source = current("source");
                (!source.is_empty()).then(|| view! {
                    <p class="notice source-notice" role="status">
                        {format!("Imported data source “{source}”: its own votes, not the arena's. ")}
                        <a href="/leaderboard">"The arena's leaderboard"</a>
                    </p>
                })
            }}
            <form method="get" class="filters">
                {move || {
                    let source = current("source");
                    (!source.is_empty()).then(|| view! { <input type="hidden" name="source" value=source/> })
                }}
                <label>"Language "
                    <select name="language">
                        {options("language", &[("", "All"), ("en", "English"), ("eu", "Euskara"), ("es", "Español"), ("fr", "Français"), ("other", "Other")])}
                    </select>
                </label>
                <label>"From " <input type="date" name="from" value=move || current("from")/></label>
                <label>"To " <input type="date" name="to" value=move || current("to")/></label>
                <label>"Intervals "
                    <select name="ci">
                        {options("ci", &[("sandwich", "Sandwich (robust)"), ("bootstrap", "Bootstrap (1000 rounds)")])}
                    </select>
                </label>
                <label>"Ties "
                    <select name="ties">
                        {options("ties", &[("half", "Half a win each"), ("davidson", "Davidson model")])}
                    </select>
                </label>
                <label>"Heatmaps "
                    <select name="heatmaps">
                        {options("heatmaps", &[("", "Top 20"), ("50", "Top 50"), ("all", "All models")])}
                    </select>
                </label>
                <button type="submit">"Apply"</button>
            </form>
            <Transition fallback=|| view! { <p>"Computing…"</p> }>
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
        </section>
    }
}

fn fmt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{v:.0}"))
}

#[component]
fn Board(view: LeaderboardView) -> impl IntoView {
    let rows = view
        .entries
        .iter()
        .map(|e| {
            let ci = match (e.rating, e.ci_lower, e.ci_upper) {
                (Some(r), Some(lo), Some(hi)) => format!("+{:.0} / −{:.0}", hi - r, r - lo),
                _ => "—".into(),
            };
            view! {
                <tr>
                    <td>{e.rank.map_or_else(|| "—".to_owned(), |r| r.to_string())}</td>
                    <td class="model">{e.display_name.clone()}</td>
                    <td class="num">{fmt(e.rating)}</td>
                    <td class="num">{ci}</td>
                    <td class="num">{e.votes}</td>
                    <td>{e.organization.clone()}</td>
                    <td>{e.license.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let warnings = view
        .warnings
        .iter()
        .map(|w| view! { <p class="notice">{w.clone()}</p> })
        .collect_view();
    view! {
        {warnings}
        <table class="board">
            <thead>
                <tr><th>"Rank"</th><th>"Model"</th><th>"Rating"</th><th>"95% CI"</th><th>"Votes"</th><th>"Organization"</th><th>"License"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <p class="run">
            {format!(
                "Rating run #{} · {} · {} counted vote{} (up to vote #{}) · {}",
                view.run_id,
                view.method,
                view.vote_count,
                if view.vote_count == 1 { "" } else { "s" },
                view.max_vote_id,
                view.computed_at
            )}
            {view.tie_parameter.map(|nu| format!(" · Davidson tie parameter ν = {nu:.3}"))}
            " · "
            <a href=format!("/api/v1/leaderboard/runs/{}", view.run_id)>"the run as JSON"</a>
            " · "
            <a href=format!("/api/v1/leaderboard/runs/{}/reproduce", view.run_id)>"refit it from the votes"</a>
        </p>
        <h2>"95% confidence intervals"</h2>
        <div inner_html=ci_plot(&view)></div>
        <h2>"Win rate (row against column)"</h2>
        {(view.battles.len() < view.entries.len()).then(|| view! {
            <p class="hint">
                {format!("The {} best-ranked of {} models; choose more under Heatmaps.", view.battles.len(), view.entries.len())}
            </p>
        })}
        <div inner_html=heatmap(&view, true)></div>
        <h2>"Battles"</h2>
        <div inner_html=heatmap(&view, false)></div>
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal interval plot: one line per rated model, its rating as a dot.
pub fn ci_plot(view: &LeaderboardView) -> String {
    let rated: Vec<_> = view.entries.iter().filter(|e| e.rating.is_some()).collect();
    if rated.is_empty() {
        return "<p class=\"notice\">No counted votes yet.</p>".into();
    }
    let lo = rated
        .iter()
        .filter_map(|e| e.ci_lower.or(e.rating))
        .fold(f64::INFINITY, f64::min);
    let hi = rated
        .iter()
        .filter_map(|e| e.ci_upper.or(e.rating))
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if hi - lo < 1.0 {
        (lo - 10.0, hi + 10.0)
    } else {
        (lo, hi)
    };
    let (left, width, row) = (260.0, 440.0, 26.0);
    let x = |v: f64| left + (v - lo) / (hi - lo) * width;
    let height = row * rated.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg class=\"ci-plot\" viewBox=\"0 0 {} {height}\" role=\"img\" aria-label=\"Ratings with 95% intervals\">",
        left + width + 20.0
    );
    for (i, e) in rated.iter().enumerate() {
        let y = row * i as f64 + 18.0;
        let r = e.rating.unwrap_or_default();
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
            left - 8.0,
            y + 4.0,
            escape(&e.display_name)
        );
        if let (Some(a), Some(b)) = (e.ci_lower, e.ci_upper) {
            svg += &format!(
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#2f5bd3\" stroke-width=\"2\"/>",
                x(a),
                x(b)
            );
        }
        svg += &format!(
            "<circle cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill=\"#1d1d1f\"><title>{r:.0}</title></circle>",
            x(r)
        );
    }
    svg += &format!(
        "<text x=\"{left}\" y=\"{}\" font-size=\"11\">{lo:.0}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{hi:.0}</text></svg>",
        height - 4.0,
        left + width,
        height - 4.0
    );
    svg
}

/// A heatmap of win rates (`rates`) or battle counts between every pair of the models the
/// matrices cover (the first entries).
pub fn heatmap(view: &LeaderboardView, rates: bool) -> String {
    let n = view.battles.len().min(view.entries.len());
    if n == 0 {
        return String::new();
    }
    let (left, top, cell) = (200.0, 120.0, 44.0);
    let max_battles = view
        .battles
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let size = |k: usize| k as f64 * cell;
    let mut svg = format!(
        "<svg class=\"heatmap\" viewBox=\"0 0 {} {}\" role=\"img\">",
        left + size(n) + 10.0,
        top + size(n) + 10.0
    );
    for (i, e) in view.entries.iter().take(n).enumerate() {
        let name = escape(&e.display_name);
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{name}</text>",
            left - 6.0,
            top + size(i) + cell / 2.0 + 4.0
        );
        svg += &format!(
            "<text transform=\"translate({},{}) rotate(-45)\" font-size=\"11\">{name}</text>",
            left + size(i) + cell / 2.0,
            top - 6.0
        );
    }
    for i in 0..n {
        for j in 0..n {
            let (fill, label) = if rates {
                match view.win_rate[i][j] {
                    Some(p) => {
                        let blue = (255.0 * (1.0 - p)) as u8;
                        let red = (255.0 * p) as u8;
                        (format!("rgb({red},{},{blue})", 200), format!("{p:.2}"))
                    }
                    None => ("#eeeeee".into(), String::new()),
                }
            } else {
                let b = view.battles[i][j];
                let shade = 255 - (200.0 * b as f64 / max_battles) as u8;
                (
                    format!("rgb({shade},{shade},255)"),
                    if i == j { String::new() } else { b.to_string() },
                )
            };
            svg += &format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#fff\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{label}</text>",
                left + size(j),
                top + size(i),
                left + size(j) + cell / 2.0,
                top + size(i) + cell / 2.0 + 4.0
            );
        }
    }
    svg + "</svg>"
}
