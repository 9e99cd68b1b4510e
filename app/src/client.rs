//! Browser side of the battle page: calls the JSON API and follows the SSE stream.

use crate::battle::{BattleState, TurnUi};
use arena_domain::Winner;
use arena_domain::api::{
    ApiErrorBody, BattleCreated, BattleView, CastVote, ContinueBattle, CreateBattle, Reveal,
    StreamEvent,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

type Listener = Closure<dyn FnMut(web_sys::Event)>;

thread_local! {
    /// The open stream and its listeners (dropped together when the next stream replaces them).
    static STREAM: RefCell<Option<(EventSource, Vec<Listener>)>> = const { RefCell::new(None) };
}

async fn post<B: Serialize, R: DeserializeOwned>(
    url: &str,
    body: &B,
    idempotency_key: Option<&str>,
) -> Result<R, String> {
    let mut request = gloo_net::http::Request::post(url);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request
        .json(body)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|_| "the arena cannot be reached; check your connection".to_owned())?;
    if response.ok() {
        response.json::<R>().await.map_err(|e| e.to_string())
    } else {
        Err(match response.json::<ApiErrorBody>().await {
            Ok(body) => body.error.message,
            Err(_) => format!("the arena answered {}", response.status()),
        })
    }
}

/// A PUT (with a JSON body) or DELETE whose answer has no body to read: the error's message.
pub(crate) async fn send(
    method: &str,
    url: &str,
    body: Option<&serde_json::Value>,
) -> Result<(), String> {
    let request = match method {
        "PUT" => gloo_net::http::Request::put(url),
        _ => gloo_net::http::Request::delete(url),
    };
    let sent = match body {
        Some(b) => request.json(b).map_err(|e| e.to_string())?.send().await,
        None => request.send().await,
    };
    let response =
        sent.map_err(|_| "the arena cannot be reached; check your connection".to_owned())?;
    if response.ok() {
        Ok(())
    } else {
        Err(match response.json::<ApiErrorBody>().await {
            Ok(body) => body.error.message,
            Err(_) => format!("the arena answered {}", response.status()),
        })
    }
}

/// Puts the battle in the address bar (`?battle=ID` on this page: `/` or a campaign's
/// `/c/{slug}`), or takes it out, without a navigation.
pub(crate) fn show_battle_in_address(battle_id: Option<&str>) {
    let path = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_else(|| "/".to_owned());
    let url = match battle_id {
        Some(id) => format!("{path}?battle={id}"),
        None => path,
    };
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Restores a battle after a reload: its turns as stored, the reveal if it was voted, and the
/// live stream if its latest turn is still being written.
pub(crate) fn restore(state: BattleState, battle_id: String) {
    state.busy.set(true);
    spawn_local(async move {
        let response = gloo_net::http::Request::get(&format!("/api/v1/battles/{battle_id}"))
            .send()
            .await;
        let view = match response {
            Ok(r) if r.ok() => r.json::<BattleView>().await.ok(),
            _ => None,
        };
        let Some(view) = view else {
            show_battle_in_address(None);
            state.error.set(Some(
                "that battle is not available in this browser; start a new one".into(),
            ));
            state.busy.set(false);
            return;
        };
        let turns: Vec<TurnUi> = view.turns.iter().map(TurnUi::from_view).collect();
        let generating = view.turns.last().is_some_and(|t| t.status == "generating");
        if let (Some(model_a), Some(model_b)) = (view.model_a, view.model_b) {
            let voted = view.turns.iter().rev().find(|t| t.winner.is_some());
            state.reveal.set(Some(Reveal {
                model_a,
                model_b,
                winner: voted.and_then(|t| t.winner.clone()).unwrap_or_default(),
                turn: voted.map_or(0, |t| t.turn),
            }));
        }
        state.turns.set(turns);
        state.battle_id.set(Some(battle_id.clone()));
        if generating {
            open_stream(state, &battle_id);
        } else {
            state.busy.set(false);
        }
    });
}

fn random_key() -> String {
    format!(
        "{:016x}{:016x}",
        (js_sys::Math::random() * 2f64.powi(53)) as u64,
        (js_sys::Math::random() * 2f64.powi(53)) as u64
    )
}

/// Starts a battle, or continues the current one, with this prompt.
pub(crate) fn send_prompt(state: BattleState, prompt: String, language: String) {
    state.busy.set(true);
    state.error.set(None);
    state.axes.set(Default::default());
    spawn_local(async move {
        let current = state.battle_id.get_untracked();
        let result: Result<BattleCreated, String> = match &current {
            None => {
                post(
                    "/api/v1/battles",
                    &CreateBattle {
                        prompt: prompt.clone(),
                        language: Some(language),
                        campaign: state.campaign.get_value(),
                    },
                    None,
                )
                .await
            }
            Some(id) => {
                post(
                    &format!("/api/v1/battles/{id}/turns"),
                    &ContinueBattle {
                        prompt: prompt.clone(),
                    },
                    None,
                )
                .await
            }
        };
        match result {
            Ok(created) => {
                show_battle_in_address(Some(&created.battle_id));
                state.battle_id.set(Some(created.battle_id.clone()));
                state.turns.update(|turns| turns.push(TurnUi::new(prompt)));
                open_stream(state, &created.battle_id);
            }
            Err(message) => {
                state.error.set(Some(message));
                state.busy.set(false);
            }
        }
    });
}

pub(crate) fn regenerate(state: BattleState) {
    let Some(id) = state.battle_id.get_untracked() else {
        return;
    };
    state.busy.set(true);
    state.error.set(None);
    spawn_local(async move {
        let result: Result<BattleCreated, String> =
            post(&format!("/api/v1/battles/{id}/regenerate"), &(), None).await;
        match result {
            Ok(_) => {
                state.turns.update(|turns| {
                    if let Some(last) = turns.last_mut() {
                        *last = TurnUi::new(last.prompt.clone());
                    }
                });
                open_stream(state, &id);
            }
            Err(message) => {
                state.error.set(Some(message));
                state.busy.set(false);
            }
        }
    });
}

pub(crate) fn vote(state: BattleState, winner: Winner) {
    let Some(id) = state.battle_id.get_untracked() else {
        return;
    };
    let mut key = String::new();
    state.turns.update(|turns| {
        if let Some(last) = turns.last_mut() {
            if last.vote_key.is_empty() {
                last.vote_key = random_key();
            }
            key = last.vote_key.clone();
        }
    });
    state.busy.set(true);
    spawn_local(async move {
        // The terms come before the first vote: asked once per page, accepted once per voter.
        if state.terms.get_untracked().is_none() {
            match terms_status().await {
                Ok(t) if t.accepted => state.terms.set(Some(t.version)),
                Ok(t) => {
                    state.consent.set(Some((winner, t.version)));
                    state.busy.set(false);
                    return;
                }
                Err(message) => {
                    state.error.set(Some(message));
                    state.busy.set(false);
                    return;
                }
            }
        }
        // A rubric vote sends its axes (the server derives the same winner); both-bad has none.
        let axes = state.axes.get_untracked();
        let body = CastVote {
            winner: winner.as_str().to_owned(),
            axes: (winner != Winner::BothBad && !axes.is_empty()).then_some(axes),
        };
        let result: Result<Reveal, String> =
            post(&format!("/api/v1/battles/{id}/vote"), &body, Some(&key)).await;
        match result {
            Ok(reveal) => {
                state.turns.update(|turns| {
                    if let Some(last) = turns.last_mut() {
                        last.winner = Some(winner);
                    }
                });
                state.reveal.set(Some(reveal));
            }
            Err(message) => state.error.set(Some(message)),
        }
        state.busy.set(false);
    });
}

#[derive(serde::Deserialize)]
struct TermsStatus {
    version: String,
    accepted: bool,
}

async fn terms_status() -> Result<TermsStatus, String> {
    let response = gloo_net::http::Request::get("/api/v1/terms")
        .send()
        .await
        .map_err(|_| "the arena cannot be reached; check your connection".to_owned())?;
    response.json().await.map_err(|e| e.to_string())
}

/// The volunteer agreed to the terms shown with their first vote: records it, then the vote.
pub(crate) fn accept_terms_and_vote(state: BattleState) {
    let Some((winner, version)) = state.consent.get_untracked() else {
        return;
    };
    state.busy.set(true);
    spawn_local(async move {
        let sent = gloo_net::http::Request::post("/api/v1/terms/accept")
            .json(&serde_json::json!({ "version": version }))
            .map_err(|e| e.to_string());
        let outcome = match sent {
            Ok(request) => match request.send().await {
                Ok(r) if r.ok() => Ok(()),
                Ok(r) => Err(match r.json::<ApiErrorBody>().await {
                    Ok(body) => body.error.message,
                    Err(_) => format!("the arena answered {}", r.status()),
                }),
                Err(_) => Err("the arena cannot be reached; check your connection".to_owned()),
            },
            Err(e) => Err(e),
        };
        state.busy.set(false);
        match outcome {
            Ok(()) => {
                state.terms.set(Some(version));
                state.consent.set(None);
                vote(state, winner);
            }
            Err(message) => state.error.set(Some(message)),
        }
    });
}

/// Closes the stream. Its listeners stay alive until the next stream replaces them: this is
/// called from inside one of them, which must not be freed while it runs.
pub(crate) fn close_stream() {
    STREAM.with(|s| {
        if let Some((source, _listeners)) = s.borrow().as_ref() {
            source.close();
        }
    });
}

/// Follows `GET /battles/{id}/stream` into the last turn until both sides ended.
fn open_stream(state: BattleState, battle_id: &str) {
    close_stream();
    let source = match EventSource::new(&format!("/api/v1/battles/{battle_id}/stream")) {
        Ok(source) => source,
        Err(_) => {
            state
                .error
                .set(Some("your browser cannot open the answer stream".into()));
            state.busy.set(false);
            return;
        }
    };
    let on_event = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        let Some(message) = event.dyn_ref::<MessageEvent>() else {
            // A connection error: the browser reconnects by itself and the server replays the
            // turn from its start, so nothing is lost (see `on_open`).
            return;
        };
        let Some(data) = message.data().as_string() else {
            return;
        };
        let Ok(parsed) = serde_json::from_str::<StreamEvent>(&data) else {
            return;
        };
        let mut ended = false;
        state.turns.update(|turns| {
            if let Some(last) = turns.last_mut() {
                ended = last.apply(parsed);
            }
        });
        if ended {
            close_stream();
            state.busy.set(false);
        }
    });
    // Every (re)connection replays the turn from its start: clear what was shown.
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        state.turns.update(|turns| {
            if let Some(last) = turns.last_mut() {
                *last = TurnUi {
                    vote_key: last.vote_key.clone(),
                    ..TurnUi::new(last.prompt.clone())
                };
            }
        });
    });
    for name in ["delta", "done", "error"] {
        let _ = source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
    }
    let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
    STREAM.with(|s| *s.borrow_mut() = Some((source, vec![on_event, on_open])));
}
