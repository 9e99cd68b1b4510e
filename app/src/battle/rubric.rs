//! A rubric campaign's vote: each axis (e.g. content, language) voted A / B / tie, then one
//! "vote" button whose winner follows from the axes by the campaign's rule (the same
//! [`Rubric::derive`] the server applies); "both are bad" stays a single click.

use crate::i18n::Key;
use arena_domain::Winner;
use arena_domain::campaign::Rubric;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[component]
pub fn RubricVote(
    rubric: Rubric,
    axes: RwSignal<BTreeMap<String, String>>,
    can_vote: Signal<bool>,
    on_vote: Callback<Winner>,
    both_bad: AnyView,
) -> impl IntoView {
    let lang = crate::i18n::lang();
    let derived = {
        let rubric = rubric.clone();
        move || axes.with(|a| rubric.derive(a).ok())
    };
    let rows = rubric
        .axes
        .iter()
        .map(|axis| {
            let key = axis.key.clone();
            let choice = move |verdict: &'static str, label: String| {
                let key = key.clone();
                let chosen = {
                    let key = key.clone();
                    move || axes.with(|a| a.get(&key).map(String::as_str) == Some(verdict))
                };
                view! {
                    <button
                        type="button"
                        class="axis-choice"
                        class:chosen=chosen.clone()
                        aria-pressed=move || chosen().to_string()
                        data-verdict=verdict
                        disabled=move || !can_vote.get()
                        on:click=move |_| axes.update(|a| {
                            a.insert(key.clone(), verdict.to_owned());
                        })
                    >
                        {label}
                    </button>
                }
            };
            view! {
                <div class="axis" role="group" aria-label=axis.label.clone() data-axis=axis.key.clone()>
                    <span class="axis-label">{axis.label.clone()}</span>
                    {choice("model_a", lang.text(Key::ModelA).to_owned())}
                    {choice("model_b", lang.text(Key::ModelB).to_owned())}
                    {choice("tie", lang.text(Key::RubricTie).to_owned())}
                </div>
            }
        })
        .collect_view();
    let ready = {
        let derived = derived.clone();
        move || can_vote.get() && derived().is_some()
    };
    view! {
        <div class="votes rubric" role="group" aria-label=lang.text(Key::RubricGroup)>
            <p class="hint">{lang.text(Key::RubricHint)}</p>
            {rows}
            <div class="rubric-actions">
                <button
                    type="button"
                    class="vote primary rubric-vote"
                    disabled=move || !ready()
                    on:click=move |_| {
                        if let Some(w) = derived() {
                            on_vote.run(w);
                        }
                    }
                >
                    {lang.text(Key::RubricSubmit)}
                </button>
                {both_bad}
            </div>
        </div>
    }
}
