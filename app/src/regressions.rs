//! `/leaderboard/regressions`: every model marked as a new version of another (in the console),
//! compared with its base in all votes, each category and each language; a view where the new
//! version is significantly worse is flagged (catastrophic forgetting made visible).

use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::api::{RegressionReport, VersionComparison};
use leptos::prelude::*;

/// A stable path (`/api/pages/regressions`).
#[server(prefix = "/api/pages", endpoint = "regressions")]
pub async fn get_regressions() -> Result<RegressionReport, PageError> {
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
    Ok(arena.regressions(admit).await?)
}

fn signed(x: f64) -> String {
    format!("{x:+.0}").replace('-', "−")
}

#[component]
fn Pair(pair: VersionComparison, alpha: f64) -> impl IntoView {
    let lang = crate::i18n::lang();
    let flagged = pair.views.iter().filter(|v| v.flagged).count();
    let notice_class = if flagged > 0 {
        "notice failure"
    } else {
        "hint"
    };
    let rows = pair
        .views
        .into_iter()
        .map(|v| {
            let (difference, interval) = match (v.elo, v.lower, v.upper) {
                (Some(d), Some(lo), Some(hi)) => (
                    signed(d),
                    lang.text(Key::RangeTo)
                        .replace("{lo}", &signed(lo))
                        .replace("{hi}", &signed(hi)),
                ),
                _ => ("—".into(), v.unavailable.clone().unwrap_or_default()),
            };
            let verdict = lang.text(if v.flagged {
                Key::VerdictWorse
            } else if v.elo.is_some() {
                Key::VerdictNoDrop
            } else {
                Key::VerdictTooFew
            });
            view! {
                <tr class=if v.flagged { "flagged" } else { "" } data-view=v.view.clone()>
                    <td>{v.label}</td>
                    <td class="num">{v.votes_new}</td>
                    <td class="num">{v.votes_base}</td>
                    <td class="num">{difference}</td>
                    <td>{interval}</td>
                    <td class="verdict">{verdict}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="version-pair" data-new=pair.new.clone()>
            <h2>{lang.text(Key::PairTitle).replace("{new}", &pair.new_name).replace("{base}", &pair.base_name)}</h2>
            <p class=notice_class role="status">
                {if flagged > 0 {
                    lang.text(Key::RegressionFlagged)
                        .replace("{views}", &flagged.to_string())
                        .replace("{alpha}", &alpha.to_string())
                } else {
                    lang.text(Key::RegressionNone).replace("{alpha}", &alpha.to_string())
                }}
            </p>
            <div class="table-scroll">
                <table class="board regressions">
                    <thead>
                        <tr>
                            <th>{lang.text(Key::ColView)}</th><th>{lang.text(Key::ColVotesNew)}</th><th>{lang.text(Key::ColVotesBase)}</th>
                            <th>{lang.text(Key::ColDifference)}</th><th>{lang.text(Key::ColInterval)}</th><th></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
pub fn RegressionsPage() -> impl IntoView {
    let lang = crate::i18n::lang();
    let report = Resource::new(|| (), |_| get_regressions());
    view! {
        <section class="leaderboard regressions-page">
            <h1>{lang.text(Key::RegressionsTitle)}</h1>
            <p class="hint">
                {lang.text(Key::RegressionsIntro)}
            </p>
            <Transition fallback=move || view! { <p>{lang.text(Key::Comparing)}</p> }>
                {move || report.get().map(|r| match r {
                    Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(r) if r.pairs.is_empty() => view! {
                        <p class="hint" role="status">{lang.text(Key::RegressionsEmpty)}</p>
                    }.into_any(),
                    Ok(r) => {
                        let alpha = r.alpha;
                        r.pairs.into_iter().map(|pair| view! { <Pair pair alpha/> }).collect_view().into_any()
                    }
                })}
            </Transition>
            <p><a href="/leaderboard">{lang.text(Key::BackToLeaderboard)}</a></p>
        </section>
    }
}
