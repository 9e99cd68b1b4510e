//! `/leaderboard/regressions`: every model marked as a new version of another (in the console),
//! compared with its base in all votes, each category and each language; a view where the new
//! version is significantly worse is flagged (catastrophic forgetting made visible).

use crate::error::PageError;
use arena_domain::api::{RegressionReport, VersionComparison};
use leptos::prelude::*;

/// A stable path (`/api/pages/regressions`).
#[server(prefix = "/api/pages", endpoint = "regressions")]
pub async fn get_regressions() -> Result<RegressionReport, PageError> {
    use arena_core::limits::{Action, ClientAddr};
    let arena = use_context::<arena_core::Arena>().ok_or(PageError::Internal)?;
    let address = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientAddr>().copied());
    let admit = || match address {
        Some(ClientAddr(address)) => arena.limits.check_address(Action::Leaderboard, address),
        None => Ok(()),
    };
    Ok(arena.regressions(admit).await?)
}

fn signed(x: f64) -> String {
    format!("{x:+.0}").replace('-', "−")
}

#[component]
fn Pair(pair: VersionComparison, alpha: f64) -> impl IntoView {
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
                (Some(d), Some(lo), Some(hi)) => {
                    (signed(d), format!("{} to {}", signed(lo), signed(hi)))
                }
                _ => ("—".into(), v.unavailable.clone().unwrap_or_default()),
            };
            let verdict = if v.flagged {
                "worse"
            } else if v.elo.is_some() {
                "no significant drop"
            } else {
                "not enough votes"
            };
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
            <h2>{format!("{} against {}", pair.new_name, pair.base_name)}</h2>
            <p class=notice_class role="status">
                {if flagged > 0 {
                    format!("Significantly worse than its base in {flagged} view{} (family-wise error rate {alpha}).", if flagged == 1 { "" } else { "s" })
                } else {
                    format!("No view where it is significantly worse than its base (family-wise error rate {alpha}).")
                }}
            </p>
            <div class="table-scroll">
                <table class="board regressions">
                    <thead>
                        <tr><th>"View"</th><th>"Votes (new)"</th><th>"Votes (base)"</th><th>"New − base (Elo)"</th><th>"Interval"</th><th>""</th></tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
pub fn RegressionsPage() -> impl IntoView {
    let report = Resource::new(|| (), |_| get_regressions());
    view! {
        <section class="leaderboard regressions-page">
            <h1>"Version regressions"</h1>
            <p class="hint">
                "Each model that an admin marked as a new version of another (a fine-tune of a base model, say) is compared with it in every view of the votes. The intervals are Bonferroni-corrected over the views, so a new version that is no worse anywhere is flagged somewhere at most at the stated rate."
            </p>
            <Transition fallback=|| view! { <p>"Comparing…"</p> }>
                {move || report.get().map(|r| match r {
                    Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(r) if r.pairs.is_empty() => view! {
                        <p class="hint" role="status">"No model is marked as a new version of another yet (an admin marks one on its console page)."</p>
                    }.into_any(),
                    Ok(r) => {
                        let alpha = r.alpha;
                        r.pairs.into_iter().map(|pair| view! { <Pair pair alpha/> }).collect_view().into_any()
                    }
                })}
            </Transition>
            <p><a href="/leaderboard">"Back to the leaderboard"</a></p>
        </section>
    }
}
