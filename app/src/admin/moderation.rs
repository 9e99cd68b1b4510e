//! Console: moderation (`/admin/moderation`): search votes (model, voter, dates, flagged,
//! voided), void or restore one vote or all of a voter's, ban or unban a voter, and the queue
//! of flagged battles with one-click actions; the voters the rigging detector quarantined,
//! to confirm or clear. Every action needs a reason and is audited.

use super::{ConsoleNav, refused};
use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::admin::{FlaggedBattle, ModerationOutcome, QuarantinedVoter, VoteQuery, VoteRow};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[server(prefix = "/api/pages", endpoint = "admin_votes")]
pub async fn admin_votes(query: VoteQuery) -> Result<Vec<VoteRow>, PageError> {
    super::server::admin()?
        .votes(&query)
        .await
        .map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_flags")]
pub async fn admin_flags() -> Result<Vec<FlaggedBattle>, PageError> {
    super::server::admin()?
        .flagged(100)
        .await
        .map_err(PageError::from)
}

#[server(prefix = "/api/pages", endpoint = "admin_quarantine")]
pub async fn admin_quarantine() -> Result<Vec<QuarantinedVoter>, PageError> {
    super::server::admin()?
        .quarantine_queue(100)
        .await
        .map_err(PageError::from)
}

/// One moderation action: `target` is `vote`, `voter` or `battle`; `action` is `void`,
/// `unvoid`, `ban`, `unban`, `confirm`, `clear` (a quarantined voter) or `dismiss`.
#[server(prefix = "/api/pages", endpoint = "admin_moderate")]
pub async fn admin_moderate(
    target: String,
    id: String,
    action: String,
    reason: String,
) -> Result<ModerationOutcome, PageError> {
    let admin = super::server::admin()?;
    let input = arena_domain::admin::ModerationInput { reason };
    let none = ModerationOutcome { votes_changed: 0 };
    match (target.as_str(), action.as_str()) {
        ("vote", "void" | "unvoid") => {
            let vote: i64 = id
                .parse()
                .map_err(|_| PageError::NotFound("vote not found".into()).respond())?;
            admin.void_vote(vote, action == "void", &input).await
        }
        ("voter", "void" | "unvoid") => admin.void_voter(&id, action == "void", &input).await,
        ("voter", "ban" | "unban") => admin
            .ban_voter(&id, action == "ban", &input)
            .await
            .map(|()| none),
        ("voter", "confirm" | "clear") => {
            admin
                .decide_quarantine(&id, action == "confirm", &input)
                .await
        }
        ("battle", "void") => admin.void_battle(&id, &input).await,
        ("battle", "dismiss") => admin.review_battle(&id, &input).await.map(|()| none),
        _ => {
            return Err(
                PageError::Invalid(format!("unknown action {action} on {target}")).respond(),
            );
        }
    }
    .map_err(PageError::from)
}

fn action_form(
    act: ServerAction<AdminModerate>,
    target: &'static str,
    id: String,
    action: &'static str,
    label: &'static str,
) -> impl IntoView {
    view! {
        <ActionForm action=act attr:class="inline moderate">
            <input type="hidden" name="target" value=target/>
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="action" value=action/>
            <input name="reason" placeholder=crate::i18n::t(Key::Reason) required maxlength="500" aria-label=crate::i18n::t(Key::ReasonLabel)/>
            <button type="submit" data-action=format!("{target}-{action}")>{label}</button>
        </ActionForm>
    }
}

#[component]
pub fn AdminModerationPage() -> impl IntoView {
    let query = use_query_map();
    let act = ServerAction::<AdminModerate>::new();
    let search = move || {
        query.with(|q| VoteQuery {
            model: q.get("model"),
            voter: q.get("voter"),
            from: q.get("from"),
            to: q.get("to"),
            flagged: q.get("flagged").map(|f| f == "yes"),
            voided: q.get("voided").and_then(|v| match v.as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            }),
            before: q.get("before").and_then(|b| b.parse().ok()),
            limit: Some(100),
        })
    };
    let votes = Resource::new(
        move || (search(), act.version().get()),
        |(q, _)| admin_votes(q),
    );
    let flags = Resource::new(move || act.version().get(), |_| admin_flags());
    let held = Resource::new(move || act.version().get(), |_| admin_quarantine());
    let field = move |name: &'static str| query.with(|q| q.get(name).unwrap_or_default());
    view! {
        <section class="console">
            <h1>{crate::i18n::t(Key::ModerationTitle)}</h1>
            <ConsoleNav/>
            {move || act.value().get().map(|r| match r {
                Ok(o) => view! { <p class="notice" role="status">{crate::i18n::t(Key::ModerationDone).replace("{count}", &o.votes_changed.to_string())}</p> }.into_any(),
                Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
            })}
            <h2>{crate::i18n::t(Key::FlaggedBattles)}</h2>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || flags.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(flags) if flags.is_empty() => view! { <p class="hint">{crate::i18n::t(Key::NothingFlagged)}</p> }.into_any(),
                    Ok(flags) => view! {
                        <table class="console-table flags">
                            <thead><tr><th>{crate::i18n::t(Key::ColBattle)}</th><th>{crate::i18n::t(Key::ColWhy)}</th><th>{crate::i18n::t(Key::ColModVotes)}</th><th>{crate::i18n::t(Key::ColActions)}</th></tr></thead>
                            <tbody>
                                {flags.into_iter().map(|f| view! {
                                    <tr data-battle=f.battle_id.clone()>
                                        <td><code>{f.battle_id.chars().take(8).collect::<String>()}</code><br/><small>{format!("{} vs {}", f.model_a, f.model_b)}</small></td>
                                        <td>{f.reasons.join("; ")}</td>
                                        <td>{crate::i18n::t(Key::VoidedCount).replace("{votes}", &f.votes.to_string()).replace("{voided}", &f.voided_votes.to_string())}</td>
                                        <td>
                                            {action_form(act, "battle", f.battle_id.clone(), "void", crate::i18n::t(Key::VoidItsVotes))}
                                            {action_form(act, "battle", f.battle_id.clone(), "dismiss", crate::i18n::t(Key::Dismiss))}
                                            {action_form(act, "voter", f.voter_id.clone(), "ban", crate::i18n::t(Key::BanTheVoter))}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            <h2>{crate::i18n::t(Key::QuarantinedVoters)}</h2>
            <p class="hint">
                {crate::i18n::t(Key::QuarantineHint)}
            </p>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || held.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(held) if held.is_empty() => view! { <p class="hint">{crate::i18n::t(Key::NobodyQuarantined)}</p> }.into_any(),
                    Ok(held) => view! {
                        <table class="console-table quarantine">
                            <thead><tr><th>{crate::i18n::t(Key::ColVoter)}</th><th>{crate::i18n::t(Key::ColWhy)}</th><th>{crate::i18n::t(Key::ColVotesHeld)}</th><th>{crate::i18n::t(Key::ColState)}</th><th>{crate::i18n::t(Key::ColActions)}</th></tr></thead>
                            <tbody>
                                {held.into_iter().map(|q| {
                                    let open = q.state == "quarantined" || q.state == "review";
                                    view! {
                                        <tr data-voter=q.voter_id.clone()>
                                            <td><code>{q.voter_id.chars().take(8).collect::<String>()}</code><br/><small>{q.flagged_at.chars().take(16).collect::<String>().replace('T', " ")}</small></td>
                                            <td>{q.detail.clone()}<br/><small>{format!("{}, evidence e^{:.1}", q.signal, q.log_e_value.unwrap_or(0.0))}</small></td>
                                            <td>{q.votes_held}</td>
                                            <td>{q.state.clone()}</td>
                                            <td>
                                                {open.then(|| view! {
                                                    {action_form(act, "voter", q.voter_id.clone(), "confirm", crate::i18n::t(Key::Confirm))}
                                                    {action_form(act, "voter", q.voter_id.clone(), "clear", crate::i18n::t(Key::Clear))}
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            <h2>{crate::i18n::t(Key::VotesTitle)}</h2>
            <form method="get" action="/admin/moderation" class="console-form search">
                <label>{crate::i18n::t(Key::ModelKey)} <input name="model" value=move || field("model")/></label>
                <label>{crate::i18n::t(Key::VoterId)} <input name="voter" value=move || field("voter")/></label>
                <label>{crate::i18n::t(Key::ModFrom)} <input type="date" name="from" value=move || field("from")/></label>
                <label>{crate::i18n::t(Key::ModTo)} <input type="date" name="to" value=move || field("to")/></label>
                <label>{crate::i18n::t(Key::ModFlagged)} <select name="flagged"><option value="">{crate::i18n::t(Key::ModAny)}</option><option value="yes" selected=move || field("flagged") == "yes">{crate::i18n::t(Key::ModFlaggedOption)}</option></select></label>
                <label>{crate::i18n::t(Key::ModVoided)} <select name="voided"><option value="">{crate::i18n::t(Key::ModAny)}</option><option value="yes" selected=move || field("voided") == "yes">{crate::i18n::t(Key::ModVoidedOption)}</option><option value="no" selected=move || field("voided") == "no">{crate::i18n::t(Key::ModNotVoided)}</option></select></label>
                <button type="submit">{crate::i18n::t(Key::Search)}</button>
            </form>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || votes.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(votes) => view! {
                        <table class="console-table vote-rows">
                            <thead><tr><th>{crate::i18n::t(Key::ColVote)}</th><th>{crate::i18n::t(Key::ColModWhen)}</th><th>{crate::i18n::t(Key::ColModPair)}</th><th>{crate::i18n::t(Key::ColWinner)}</th><th>{crate::i18n::t(Key::ColState)}</th><th>{crate::i18n::t(Key::ColVoter)}</th><th>{crate::i18n::t(Key::ColActions)}</th></tr></thead>
                            <tbody>
                                {votes.into_iter().map(|v| {
                                    let state = if v.voided {
                                        crate::i18n::t(Key::StateVoided).replace("{reason}", &v.void_reason.clone().unwrap_or_default())
                                    } else if v.counted {
                                        crate::i18n::t(Key::StateCounted).to_owned()
                                    } else {
                                        crate::i18n::t(Key::StateNotCounted).to_owned()
                                    };
                                    view! {
                                        <tr data-vote=v.id.to_string() data-voided=v.voided.to_string()>
                                            <td>{v.id}</td>
                                            <td>{v.created_at.chars().take(19).collect::<String>().replace('T', " ")}</td>
                                            <td>{format!("{} vs {}", v.model_a, v.model_b)}{v.flagged.then_some(" ⚑")}</td>
                                            <td>{v.winner.clone()}</td>
                                            <td class="state">{state}</td>
                                            <td><a href=format!("/admin/moderation?voter={}", v.voter_id)><code>{v.voter_id.chars().take(8).collect::<String>()}</code></a>{v.voter_banned.then_some(crate::i18n::t(Key::BannedSuffix))}</td>
                                            <td>
                                                {if v.voided {
                                                    action_form(act, "vote", v.id.to_string(), "unvoid", crate::i18n::t(Key::Restore)).into_any()
                                                } else {
                                                    action_form(act, "vote", v.id.to_string(), "void", crate::i18n::t(Key::Void)).into_any()
                                                }}
                                                {action_form(act, "voter", v.voter_id.clone(), "void", crate::i18n::t(Key::VoidAllVoter))}
                                                {if v.voter_banned {
                                                    action_form(act, "voter", v.voter_id.clone(), "unban", crate::i18n::t(Key::Unban)).into_any()
                                                } else {
                                                    action_form(act, "voter", v.voter_id.clone(), "ban", crate::i18n::t(Key::Ban)).into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
