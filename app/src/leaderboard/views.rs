//! The leaderboard page's sections beside the main ranking: the style-controlled ranking and
//! the static benchmarks with their correlations.

use crate::i18n::Key;
use arena_domain::api::StyleView;
use arena_domain::benchmark::BenchmarkReport;
use leptos::prelude::*;

/// The second ranking: ratings with style held equal, each with its interval, and what each
/// style feature is worth.
#[component]
pub(super) fn StyleBoard(view: StyleView) -> impl IntoView {
    let lang = crate::i18n::lang();
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
                    {lang
                        .text(Key::CoefficientLine)
                        .replace("{feature}", &c.feature)
                        .replace("{elo}", &format!("{:+.0}", c.elo))
                        .replace("{lo}", &format!("{:+.0}", c.ci_lower))
                        .replace("{hi}", &format!("{:+.0}", c.ci_upper))}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="style-board">
            <h2>{lang.text(Key::StyleTitle)}</h2>
            <p class="hint">
                {lang.text(Key::StyleIntro)}
            </p>
            <div class="table-scroll">
                <table class="board style">
                    <thead>
                        <tr>
                            <th>{lang.text(Key::ColRank)}</th><th>{lang.text(Key::ColModel)}</th><th>{lang.text(Key::ColRating)}</th>
                            <th>{lang.text(Key::ColCi)}</th><th>{lang.text(Key::ColVotes)}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <p class="hint">{lang.text(Key::StyleWorth)}</p>
            <ul class="coefficients">{coefficients}</ul>
            <p class="run">
                {lang
                    .text(Key::StyleRunLine)
                    .replace("{run}", &view.run_id.to_string())
                    .replace("{method}", &view.method)
                    .replace("{votes}", &view.vote_count.to_string())
                    .replace("{at}", &view.computed_at)}
                " · "
                <a href="/api/v1/leaderboard/style">{lang.text(Key::AsJson)}</a>
            </p>
        </section>
    }
}

fn interval(lang: crate::i18n::Lang, lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!(
            " ({})",
            lang.text(Key::RangeTo)
                .replace("{lo}", &format!("{lo:.2}"))
                .replace("{hi}", &format!("{hi:.2}"))
        ),
        _ => String::new(),
    }
}

/// Benchmark scores beside the arena rating, and each benchmark's rank agreement with the arena.
#[component]
pub(super) fn BenchmarksBoard(report: BenchmarkReport) -> impl IntoView {
    let lang = crate::i18n::lang();
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
                (Some(rho), Some(tau)) => lang
                    .text(Key::CorrelationLine)
                    .replace("{rho}", &format!("{rho:.2}"))
                    .replace("{rho_ci}", &interval(lang, c.spearman_lower, c.spearman_upper))
                    .replace("{tau}", &format!("{tau:.2}"))
                    .replace("{tau_ci}", &interval(lang, c.kendall_lower, c.kendall_upper))
                    .replace("{models}", &c.models.to_string()),
                _ => crate::i18n::tf(Key::TooFewModels, "models", c.models),
            };
            view! { <li data-benchmark=c.benchmark.clone()><strong>{c.benchmark.clone()}</strong>": "{text}</li> }
        })
        .collect_view();
    view! {
        <section class="benchmarks-board">
            <h2>{lang.text(Key::BenchmarksTitle)}</h2>
            <div class="table-scroll">
                <table class="board benchmarks">
                    <thead><tr><th>{lang.text(Key::ColModel)}</th><th>{lang.text(Key::ColArenaRating)}</th>{heads}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <p class="hint">{lang.text(Key::BenchmarksAgreement).replace("{rounds}", &report.rounds.to_string()).replace("{seed}", &report.seed.to_string())}</p>
            <ul class="correlations">{correlations}</ul>
        </section>
    }
}
