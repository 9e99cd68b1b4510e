//! Console: the pairing policy (`/admin/pairing`): mode, uniform floor, warm-up, per-pair
//! boosts and exclusions, and each pair's probability now and realised share over the last day
//! (the same as `GET /api/v1/pairing`).

use super::{ConsoleNav, outcome, refused};
use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::admin::{PairingMode, PairingView};
use leptos::prelude::*;

#[server(prefix = "/api/pages", endpoint = "admin_pairing")]
pub async fn admin_pairing() -> Result<PairingView, PageError> {
    super::server::admin()?;
    crate::account::server_arena()?
        .pairing_view(None)
        .await
        .map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_set_policy")]
pub async fn admin_set_policy(
    mode: String,
    uniform_floor: String,
    warmup_votes: String,
    warmup_boost: String,
    version: String,
) -> Result<(), PageError> {
    use super::server::{number, required};
    let admin = super::server::admin()?;
    let mode: PairingMode = mode.parse().map_err(|e: arena_domain::admin::FieldError| {
        PageError::Invalid(e.to_string()).respond()
    })?;
    admin
        .set_pairing_policy(arena_domain::admin::PairingPolicyInput {
            mode,
            uniform_floor: required("uniform_floor", &uniform_floor)?,
            warmup_votes: required("warmup_votes", &warmup_votes)?,
            warmup_boost: required("warmup_boost", &warmup_boost)?,
            version: number("version", &version)?,
        })
        .await
        .map_err(PageError::from)?;
    Ok(())
}

#[server(prefix = "/api/pages", endpoint = "admin_set_rule")]
pub async fn admin_set_rule(
    model_a: String,
    model_b: String,
    boost: String,
    excluded: Option<String>,
) -> Result<(), PageError> {
    use super::server::required;
    let admin = super::server::admin()?;
    admin
        .set_pair_rule(arena_domain::admin::PairRuleInput {
            model_a,
            model_b,
            boost: required("boost", &boost)?,
            excluded: excluded.is_some(),
        })
        .await
        .map_err(PageError::from)?;
    Ok(())
}

#[component]
pub fn AdminPairingPage() -> impl IntoView {
    let policy = ServerAction::<AdminSetPolicy>::new();
    let rule = ServerAction::<AdminSetRule>::new();
    let view_ = Resource::new(
        move || (policy.version().get(), rule.version().get()),
        |_| admin_pairing(),
    );
    view! {
        <section class="console">
            <h1>{crate::i18n::t(Key::PairingTitle)}</h1>
            <ConsoleNav/>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || view_.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(p) => view! {
                        <ActionForm action=policy attr:class="console-form policy">
                            <input type="hidden" name="version" value=p.version.to_string()/>
                            <label>{crate::i18n::t(Key::PairingMode)}
                                <select name="mode">
                                    <option value="weighted" selected=p.mode == PairingMode::Weighted>{crate::i18n::t(Key::PairingWeighted)}</option>
                                    <option value="active" selected=p.mode == PairingMode::Active>{crate::i18n::t(Key::PairingActive)}</option>
                                </select>
                            </label>
                            <label>{crate::i18n::t(Key::PairingFloor)} <input name="uniform_floor" value=p.uniform_floor.to_string() inputmode="decimal"/></label>
                            <label>{crate::i18n::t(Key::PairingWarmup)} <input name="warmup_votes" value=p.warmup_votes.to_string() inputmode="numeric"/></label>
                            <label>{crate::i18n::t(Key::PairingBoostTimes)} <input name="warmup_boost" value=p.warmup_boost.to_string() inputmode="decimal"/></label>
                            <button type="submit" class="primary">{crate::i18n::t(Key::PairingSave)}</button>
                        </ActionForm>
                        <h2>{crate::i18n::t(Key::PairingRules)}</h2>
                        <p class="hint">{crate::i18n::t(Key::PairingRulesHint)}</p>
                        <ul class="rules">
                            {p.rules.iter().map(|r| view! {
                                <li>{format!("{} + {}: {}", r.model_a, r.model_b, if r.excluded { crate::i18n::t(Key::PairingExcludedRule).to_owned() } else { format!("boost ×{}", r.boost) })}</li>
                            }).collect_view()}
                        </ul>
                        <ActionForm action=rule attr:class="console-form rule">
                            <label>{crate::i18n::t(Key::PairingModel)} <input name="model_a" required/></label>
                            <label>{crate::i18n::t(Key::PairingAndModel)} <input name="model_b" required/></label>
                            <label>{crate::i18n::t(Key::PairingBoost)} <input name="boost" value="1" inputmode="decimal"/></label>
                            <label class="check"><input type="checkbox" name="excluded" value="on"/> {crate::i18n::t(Key::PairingExcluded)}</label>
                            <button type="submit">{crate::i18n::t(Key::PairingSetRule)}</button>
                        </ActionForm>
                        <h2>{crate::i18n::t(Key::PairingSampling)}</h2>
                        <p class="hint">{crate::i18n::t(Key::PairingLastDay).replace("{battles}", &p.battles_last_day.to_string())}</p>
                        <table class="console-table pairs">
                            <thead><tr><th>{crate::i18n::t(Key::ColPair)}</th><th>{crate::i18n::t(Key::ColProbability)}</th><th>{crate::i18n::t(Key::ColBattlesDay)}</th><th>{crate::i18n::t(Key::ColShare)}</th></tr></thead>
                            <tbody>
                                {p.pairs.iter().map(|x| view! {
                                    <tr>
                                        <td>{format!("{} + {}", x.model_a, x.model_b)}</td>
                                        <td>{format!("{:.1}%", 100.0 * x.probability)}</td>
                                        <td>{x.battles_last_day}</td>
                                        <td>{format!("{:.1}%", 100.0 * x.realised_share)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            {move || outcome(policy.value().get(), crate::i18n::t(Key::PolicySaved))}
            {move || outcome(rule.value().get(), crate::i18n::t(Key::RuleSaved))}
        </section>
    }
}
