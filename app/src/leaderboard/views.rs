//! The leaderboard page's sections beside the main ranking: the style-controlled ranking and
//! the static benchmarks with their correlations.

use arena_domain::api::StyleView;
use arena_domain::benchmark::BenchmarkReport;
use leptos::prelude::*;

/// The second ranking: ratings with style held equal, each with its interval, and what each
/// style feature is worth.
#[component]
pub(super) fn StyleBoard(view: StyleView) -> impl IntoView {
    let rows = view
        .entries
        .iter()
        .map(|e| {
            view! {
                <tr>
                    <td>{e.rank}</td>
                    <td class="model">{e.display_name.clone()}</td>
                    <td class="num">{format!("{:.0}", e.rating)}</td>
                    <td class="num">{format!("+{:.0} / −{:.0}", e.ci_upper - e.rating, e.rating - e.ci_lower)}</td>
                    <td class="num">{e.votes}</td>
                </tr>
            }
        })
        .collect_view();
    let coefficients = view
        .coefficients
        .iter()
        .map(|c| {
            view! {
                <li>
                    {format!(
                        "{}: {:+.0} Elo per standard deviation of difference (95% CI {:+.0} to {:+.0})",
                        c.feature, c.elo, c.ci_lower, c.ci_upper
                    )}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="style-board">
            <h2>"Style-controlled ranking"</h2>
            <p class="hint">
                "Ratings with the answers' style held equal: length, headers, lists and bold enter the fit as covariates, so a model is not ranked up for longer or more decorated answers."
            </p>
            <div class="table-scroll">
                <table class="board style">
                    <thead>
                        <tr><th>"Rank"</th><th>"Model"</th><th>"Rating"</th><th>"95% CI"</th><th>"Votes"</th></tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <p class="hint">"What style alone is worth in a vote:"</p>
            <ul class="coefficients">{coefficients}</ul>
            <p class="run">
                {format!("Style run #{} · {} · {} votes · {}", view.run_id, view.method, view.vote_count, view.computed_at)}
                " · "
                <a href="/api/v1/leaderboard/style">"as JSON"</a>
            </p>
        </section>
    }
}

fn interval(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!(" ({lo:.2} to {hi:.2})"),
        _ => String::new(),
    }
}

/// Benchmark scores beside the arena rating, and each benchmark's rank agreement with the arena.
#[component]
pub(super) fn BenchmarksBoard(report: BenchmarkReport) -> impl IntoView {
    let heads = report
        .benchmarks
        .iter()
        .map(|b| view! { <th>{b.clone()}</th> })
        .collect_view();
    let rows = report
        .rows
        .iter()
        .map(|r| {
            let cells = r
                .scores
                .iter()
                .map(|s| view! { <td class="num">{s.map_or_else(|| "—".to_owned(), |s| format!("{s}"))}</td> })
                .collect_view();
            view! {
                <tr>
                    <td class="model">{r.display_name.clone()}</td>
                    <td class="num">{r.rating.map_or_else(|| "—".to_owned(), |x| format!("{x:.0}"))}</td>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    let correlations = report
        .correlations
        .iter()
        .map(|c| {
            let text = match (c.spearman, c.kendall) {
                (Some(rho), Some(tau)) => format!(
                    "Spearman ρ = {rho:.2}{}, Kendall τ = {tau:.2}{} over {} models",
                    interval(c.spearman_lower, c.spearman_upper),
                    interval(c.kendall_lower, c.kendall_upper),
                    c.models
                ),
                _ => format!("too few models with both a score and a rating ({})", c.models),
            };
            view! { <li data-benchmark=c.benchmark.clone()><strong>{c.benchmark.clone()}</strong>": "{text}</li> }
        })
        .collect_view();
    view! {
        <section class="benchmarks-board">
            <h2>"Static benchmarks"</h2>
            <div class="table-scroll">
                <table class="board benchmarks">
                    <thead><tr><th>"Model"</th><th>"Arena rating"</th>{heads}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <p class="hint">{format!("Rank agreement with the arena (95% bootstrap intervals over the models, {} rounds, seed {}):", report.rounds, report.seed)}</p>
            <ul class="correlations">{correlations}</ul>
        </section>
    }
}
