//! The battle page: a prompt, two anonymous answers streamed side by side, four vote buttons
//! (enabled only when both answers finished), the reveal, then continue or start anew. In a
//! campaign (`/c/{slug}`) the same page runs in the campaign's languages, and a campaign with a
//! rubric votes each axis instead ([`rubric`]).

mod rubric;

use crate::i18n::Key;
use arena_domain::api::{AnswerView, Reveal, StreamEvent, TurnView};
use arena_domain::campaign::CampaignPage;
use arena_domain::markdown::render_safe_html;
use arena_domain::{Side, Winner};
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SideStatus {
    Waiting,
    Streaming,
    Done { tokens: u32 },
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SideView {
    pub text: String,
    pub status: SideStatus,
}

impl SideView {
    fn waiting() -> Self {
        Self {
            text: String::new(),
            status: SideStatus::Waiting,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TurnUi {
    pub prompt: String,
    pub a: SideView,
    pub b: SideView,
    pub winner: Option<Winner>,
    /// One key per turn, reused if the vote request is retried.
    pub vote_key: String,
}

impl TurnUi {
    pub(crate) fn new(prompt: String) -> Self {
        Self {
            prompt,
            a: SideView::waiting(),
            b: SideView::waiting(),
            winner: None,
            vote_key: String::new(),
        }
    }

    /// A turn as the server stored it (a reloaded page): each side's text and state so far.
    pub(crate) fn from_view(turn: &TurnView) -> Self {
        let side = |side: Side| {
            turn.answers
                .iter()
                .find(|a| a.side == side)
                .map_or_else(SideView::waiting, side_from_view)
        };
        Self {
            prompt: turn.prompt.clone(),
            a: side(Side::A),
            b: side(Side::B),
            winner: turn.winner.as_deref().and_then(|w| w.parse().ok()),
            vote_key: String::new(),
        }
    }

    pub(crate) fn side_mut(&mut self, side: Side) -> &mut SideView {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn finished(&self) -> bool {
        !matches!(self.a.status, SideStatus::Waiting | SideStatus::Streaming)
            && !matches!(self.b.status, SideStatus::Waiting | SideStatus::Streaming)
    }

    fn votable(&self) -> bool {
        matches!(self.a.status, SideStatus::Done { .. })
            && matches!(self.b.status, SideStatus::Done { .. })
            && self.winner.is_none()
    }

    fn failed(&self) -> bool {
        matches!(self.a.status, SideStatus::Failed(_))
            || matches!(self.b.status, SideStatus::Failed(_))
    }

    /// Applies one stream event; returns true once both sides have ended.
    pub(crate) fn apply(&mut self, event: StreamEvent) -> bool {
        match event {
            StreamEvent::Delta { side, text } => {
                let s = self.side_mut(side);
                s.text.push_str(&text);
                s.status = SideStatus::Streaming;
            }
            StreamEvent::Done { side, tokens, .. } => {
                self.side_mut(side).status = SideStatus::Done { tokens }
            }
            StreamEvent::Error { side, message } => {
                self.side_mut(side).status = SideStatus::Failed(message)
            }
        }
        self.finished()
    }
}

fn side_from_view(answer: &AnswerView) -> SideView {
    let status = match answer.status.as_str() {
        "done" => SideStatus::Done {
            tokens: answer.tokens.unwrap_or(0).max(0) as u32,
        },
        "error" => SideStatus::Failed(
            answer
                .error
                .clone()
                .unwrap_or_else(|| "this answer failed".into()),
        ),
        _ => SideStatus::Streaming,
    };
    SideView {
        text: answer.content.clone(),
        status,
    }
}

/// The page's state, shared with the browser-side client code.
#[derive(Clone, Copy)]
pub(crate) struct BattleState {
    pub battle_id: RwSignal<Option<String>>,
    pub turns: RwSignal<Vec<TurnUi>>,
    pub reveal: RwSignal<Option<Reveal>>,
    pub error: RwSignal<Option<String>>,
    pub busy: RwSignal<bool>,
    /// The terms version this voter accepted (None: not known yet on this page).
    pub terms: RwSignal<Option<String>>,
    /// A vote waiting for the volunteer to accept the terms (and that version).
    pub consent: RwSignal<Option<(Winner, String)>>,
    /// The campaign's slug (`None`: the default arena).
    pub campaign: StoredValue<Option<String>>,
    /// A rubric campaign's verdict so far on each axis of the last turn.
    pub axes: RwSignal<BTreeMap<String, String>>,
}

const SUGGESTIONS: &[&str] = &[
    "Explain photosynthesis to a ten-year-old.",
    "Write a haiku about the sea.",
    "Idatzi olerki labur bat Euskal Herriko mendiei buruz.",
    "What are three tips for learning a new language?",
];

/// `/`: the default arena's battle page.
#[component]
pub fn BattlePage() -> impl IntoView {
    view! { <Battle campaign=None/> }
}

/// A language's own name, for the prompt's language control.
fn language_name(code: &str) -> String {
    match code {
        "en" => "English".into(),
        "eu" => "Euskara".into(),
        "es" => "Español".into(),
        "fr" => "Français".into(),
        "other" => crate::i18n::t(Key::LanguageOther).into(),
        other => other.into(),
    }
}

/// The battle itself, in the default arena (`campaign`: `None`) or a campaign.
#[component]
pub fn Battle(campaign: Option<CampaignPage>) -> impl IntoView {
    let rubric = campaign.as_ref().and_then(|c| c.campaign.rubric.clone());
    let languages: Vec<String> = match campaign.as_ref().map(|c| c.campaign.languages.clone()) {
        Some(l) if !l.is_empty() => l,
        _ => ["en", "eu", "es", "fr", "other"].map(String::from).to_vec(),
    };
    let state = BattleState {
        campaign: StoredValue::new(campaign.as_ref().map(|c| c.campaign.slug.clone())),
        axes: RwSignal::new(BTreeMap::new()),
        battle_id: RwSignal::new(None),
        turns: RwSignal::new(Vec::new()),
        reveal: RwSignal::new(None),
        error: RwSignal::new(None),
        busy: RwSignal::new(false),
        terms: RwSignal::new(None),
        consent: RwSignal::new(None),
    };
    let prompt = RwSignal::new(String::new());
    // The prompt's language starts as the page's, when the battle may be in it.
    let page_language = crate::i18n::lang().code();
    let initial = languages
        .iter()
        .find(|code| code.as_str() == page_language)
        .unwrap_or(&languages[0])
        .clone();
    let language = RwSignal::new(initial.clone());
    // A battle named in the address (`/?battle=ID`, set when it starts) is restored, so a reload
    // keeps it; any server process can serve it.
    let query = leptos_router::hooks::use_query_map();
    Effect::new(move |restored: Option<bool>| {
        if restored.is_some() {
            return true;
        }
        let id = query.with_untracked(|q| q.get("battle"));
        #[cfg(feature = "hydrate")]
        if let Some(id) = id {
            crate::client::restore(state, id);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
        true
    });

    let last_turn = move || state.turns.with(|t| t.last().cloned());
    // Once the names are revealed, votes no longer count: the page offers none.
    let revealed = move || state.reveal.with(Option::is_some);
    let can_vote =
        move || !state.busy.get() && !revealed() && last_turn().is_some_and(|t| t.votable());
    let can_send = move || {
        !state.busy.get()
            && !prompt.with(|p| p.trim().is_empty())
            && last_turn().is_none_or(|t| t.finished() && !t.failed())
    };
    let started = move || state.battle_id.with(Option::is_some);

    let submit = move || {
        if !can_send() {
            return;
        }
        let text = prompt.get_untracked();
        prompt.set(String::new());
        #[cfg(feature = "hydrate")]
        crate::client::send_prompt(state, text, language.get_untracked());
        #[cfg(not(feature = "hydrate"))]
        let _ = text;
    };
    let vote = move |winner: Winner| {
        if !can_vote() {
            return;
        }
        #[cfg(feature = "hydrate")]
        crate::client::vote(state, winner);
        #[cfg(not(feature = "hydrate"))]
        let _ = winner;
    };
    let regenerate = move || {
        #[cfg(feature = "hydrate")]
        crate::client::regenerate(state);
    };
    let new_battle = move || {
        #[cfg(feature = "hydrate")]
        {
            crate::client::close_stream();
            crate::client::show_battle_in_address(None);
        }
        state.battle_id.set(None);
        state.turns.set(Vec::new());
        state.reveal.set(None);
        state.error.set(None);
        state.busy.set(false);
        state.axes.set(BTreeMap::new());
    };

    let has_rubric = rubric.is_some();
    // Keyboard: 1 = A is better, 2 = B is better, 3 = tie, 4 = both are bad (outside text fields).
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        let typing = ev
            .target()
            .and_then(|t| {
                use leptos::wasm_bindgen::JsCast;
                t.dyn_into::<leptos::web_sys::Element>().ok()
            })
            .is_some_and(|el| matches!(el.tag_name().as_str(), "TEXTAREA" | "INPUT" | "SELECT"));
        if typing || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let winner = match ev.key().as_str() {
            // A rubric votes each axis (its buttons); only "both are bad" has a shortcut.
            "1" | "2" | "3" if has_rubric => return,
            "1" => Winner::ModelA,
            "2" => Winner::ModelB,
            "3" => Winner::Tie,
            "4" => Winner::BothBad,
            _ => return,
        };
        vote(winner);
    });
    on_cleanup(move || keys.remove());

    let lang = crate::i18n::lang();
    let vote_button = move |winner: Winner, label: Key, key: &'static str| {
        view! {
            <button
                class="vote"
                data-winner=winner.as_str()
                disabled=move || !can_vote()
                on:click=move |_| vote(winner)
                title=lang.text(Key::VoteShortcut).replace("{key}", key)
            >
                {lang.text(label)}
                <kbd>{key}</kbd>
            </button>
        }
    };

    view! {
        <section class="battle">
            <Show when=move || !started()>
                <div class="intro">
                    <h1>{lang.text(Key::BattleTitle)}</h1>
                    <p>{lang.text(Key::BattleIntro)}</p>
                    <div class="suggestions">
                        {SUGGESTIONS
                            .iter()
                            .map(|s| {
                                view! {
                                    <button class="suggestion" on:click=move |_| prompt.set((*s).to_owned())>
                                        {*s}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </div>
                </div>
            </Show>

            <div class="turns">
                {move || {
                    state
                        .turns
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, turn)| view! { <Turn index=i turn=turn/> })
                        .collect_view()
                }}
            </div>

            <Show when=move || state.reveal.get().is_some()>
                <div class="reveal" role="status">
                    {move || {
                        state
                            .reveal
                            .get()
                            .map(|r| {
                                view! {
                                    <span class="model-name" data-side="a">{lang.text(Key::ModelANamed)} <strong>{r.model_a}</strong></span>
                                    <span class="model-name" data-side="b">{lang.text(Key::ModelBNamed)} <strong>{r.model_b}</strong></span>
                                }
                            })
                    }}
                </div>
            </Show>

            <Show when=move || last_turn().is_some_and(|t| t.failed())>
                <div class="notice failure" role="alert">
                    {lang.text(Key::FailedTurn)}
                    <button class="link" on:click=move |_| new_battle()>{lang.text(Key::StartNewBattle)}</button>
                </div>
            </Show>

            // After the reveal the page says the truth: no more votes, a new battle to vote.
            <Show when=revealed>
                <div class="after-reveal">
                    <p>{lang.text(Key::AfterReveal)}</p>
                    <button class="primary" data-action="new-battle" on:click=move |_| new_battle()>
                        {lang.text(Key::NewBattle)}
                    </button>
                </div>
            </Show>

            // The vote buttons appear with the battle (nothing to vote on before it) and leave
            // with the reveal.
            <div class="vote-area" hidden=move || !started() || revealed()>
            {match rubric {
                None => view! {
                    <div class="votes" role="group" aria-label=lang.text(Key::VoteGroup)>
                        {vote_button(Winner::ModelA, Key::VoteA, "1")}
                        {vote_button(Winner::ModelB, Key::VoteB, "2")}
                        {vote_button(Winner::Tie, Key::VoteTie, "3")}
                        {vote_button(Winner::BothBad, Key::VoteBothBad, "4")}
                    </div>
                }.into_any(),
                Some(rubric) => view! {
                    <rubric::RubricVote
                        rubric=rubric
                        axes=state.axes
                        can_vote=Signal::derive(can_vote)
                        on_vote=Callback::new(vote)
                        both_bad=vote_button(Winner::BothBad, Key::VoteBothBad, "4").into_any()
                    />
                }.into_any(),
            }}
            </div>

            {move || state.consent.get().map(|(_, version)| {
                // A modal dialog: the agree button takes the focus, Tab stays inside, Esc
                // closes it (as "Not now" does).
                let first = NodeRef::<leptos::html::A>::new();
                let agree = NodeRef::<leptos::html::Button>::new();
                let last = NodeRef::<leptos::html::Button>::new();
                Effect::new(move |_| {
                    if let Some(button) = agree.get() {
                        let _ = button.focus();
                    }
                });
                let keys = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
                    "Escape" => {
                        ev.prevent_default();
                        state.consent.set(None);
                    }
                    "Tab" => {
                        let active = document().active_element();
                        let is = |el: Option<leptos::web_sys::HtmlElement>| {
                            el.is_some_and(|el| active.as_ref().is_some_and(|a| a == el.as_ref()))
                        };
                        let first_el = first.get().map(leptos::web_sys::HtmlElement::from);
                        let last_el = last.get().map(leptos::web_sys::HtmlElement::from);
                        if ev.shift_key() && is(first_el.clone()) {
                            ev.prevent_default();
                            if let Some(el) = last_el {
                                let _ = el.focus();
                            }
                        } else if !ev.shift_key() && is(last_el) {
                            ev.prevent_default();
                            if let Some(el) = first_el {
                                let _ = el.focus();
                            }
                        }
                    }
                    _ => {}
                };
                view! {
                <div class="notice consent" role="dialog" aria-modal="true" aria-label=lang.text(Key::ConsentDialog) on:keydown=keys>
                    <p>
                        {lang.text(Key::ConsentBefore)}
                        <a node_ref=first href="/terms" target="_blank">{lang.text(Key::ConsentLink)}</a>
                        {lang.text(Key::ConsentVersion).replace("{version}", &version)}
                    </p>
                    <button node_ref=agree class="primary agree" on:click=move |_| {
                        #[cfg(feature = "hydrate")]
                        crate::client::accept_terms_and_vote(state);
                    }>{lang.text(Key::ConsentAgree)}</button>
                    " "
                    <button node_ref=last class="link" on:click=move |_| state.consent.set(None)>{lang.text(Key::ConsentNotNow)}</button>
                </div>
                }
            })}

            {move || state.error.get().map(|e| view! { <p class="notice failure" role="alert">{e}</p> })}

            <form
                class="composer"
                on:submit=move |ev| {
                    ev.prevent_default();
                    submit();
                }
            >
                <textarea
                    name="prompt"
                    rows="3"
                    maxlength="8000"
                    placeholder=move || lang.text(if started() { Key::ContinuePlaceholder } else { Key::PromptPlaceholder })
                    prop:value=move || prompt.get()
                    on:input=move |ev| prompt.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" && !ev.shift_key() {
                            ev.prevent_default();
                            submit();
                        }
                    }
                ></textarea>
                <div class="composer-actions">
                    <select
                        name="language"
                        aria-label=lang.text(Key::PromptLanguage)
                        disabled=started
                        hidden=languages.len() == 1
                        on:change=move |ev| language.set(event_target_value(&ev))
                    >
                        {languages.iter().map(|code| view! {
                            <option value=code.clone() selected=*code == initial>{language_name(code)}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="primary" disabled=move || !can_send()>
                        {move || lang.text(if started() { Key::Send } else { Key::StartBattle })}
                    </button>
                    <button
                        type="button"
                        disabled=move || !can_vote()
                        on:click=move |_| regenerate()
                    >
                        {lang.text(Key::Regenerate)}
                    </button>
                    <button type="button" disabled=move || !started() on:click=move |_| new_battle()>
                        {lang.text(Key::NewBattle)}
                    </button>
                </div>
            </form>
        </section>
    }
}

#[component]
fn Turn(index: usize, turn: TurnUi) -> impl IntoView {
    let winner = turn.winner;
    let lang = crate::i18n::lang();
    view! {
        <article class="turn" data-turn=index>
            <p class="prompt">{turn.prompt.clone()}</p>
            <div class="answers">
                <Answer side=Side::A view=turn.a.clone() won=winner.map(|w| w == Winner::ModelA)/>
                <Answer side=Side::B view=turn.b.clone() won=winner.map(|w| w == Winner::ModelB)/>
            </div>
            {winner.map(|w| {
                let said = lang.text(match w {
                    Winner::ModelA => Key::VoteA,
                    Winner::ModelB => Key::VoteB,
                    Winner::Tie => Key::VoteTie,
                    Winner::BothBad => Key::VoteBothBad,
                });
                view! { <p class="voted" data-winner=w.as_str()>{lang.text(Key::YourVote)} {said}</p> }
            })}
        </article>
    }
}

#[component]
fn Answer(side: Side, view: SideView, won: Option<bool>) -> impl IntoView {
    let lang = crate::i18n::lang();
    let label = lang.text(match side {
        Side::A => Key::ModelA,
        Side::B => Key::ModelB,
    });
    let (status_class, status_text) = match &view.status {
        SideStatus::Waiting => ("waiting", lang.text(Key::StatusWaiting).to_owned()),
        SideStatus::Streaming => ("streaming", lang.text(Key::StatusWriting).to_owned()),
        SideStatus::Done { tokens } => (
            "done",
            lang.text(Key::StatusDone)
                .replace("{tokens}", &tokens.to_string()),
        ),
        SideStatus::Failed(_) => ("failed", lang.text(Key::StatusFailed).to_owned()),
    };
    let error = match &view.status {
        SideStatus::Failed(message) => Some(message.clone()),
        _ => None,
    };
    let html = render_safe_html(&view.text);
    view! {
        <div class=format!("answer {status_class}") class:winner=won == Some(true) data-side=side.as_str() data-status=status_class>
            <header>
                <span class="label">{label}</span>
                <span class="status">{status_text}</span>
            </header>
            <div class="content" inner_html=html></div>
            {error.map(|e| view! { <p class="error">{e}</p> })}
        </div>
    }
}
