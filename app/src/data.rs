//! `/data`: the research exports for researchers and admins: a form whose choices become the
//! query of `GET /api/v1/exports/battles` (the browser downloads the file as it streams), and
//! the manifest of the same choices. In the browser the download runs through `fetch` with a
//! progress indicator ([`crate::download`]); without JavaScript the form submits as it is.

use crate::account::current_account;
use crate::i18n::Key;
use leptos::prelude::*;

const SCHEMAS: [(&str, &str); 7] = [
    (
        "chatbot_arena_conversations",
        "Chatbot Arena conversations (33k layout)",
    ),
    ("arena_human_preference_100k", "arena-human-preference-100k"),
    ("arena_human_preference_140k", "arena-human-preference-140k"),
    ("kaggle_55k", "Kaggle 55k (one-hot winners)"),
    ("ebaluatoia", "HiTZ ebaluatoia"),
    ("dpo", "DPO pairs (prompt, chosen, rejected)"),
    ("full", "The arena's full schema"),
];

fn choices(name: &'static str, options: &[(&'static str, &'static str)]) -> impl IntoView + use<> {
    let options: Vec<_> = options
        .iter()
        .map(|(value, label)| view! { <option value=*value>{*label}</option> })
        .collect();
    view! { <select name=name>{options}</select> }
}

/// A download's progress, as the page shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub running: bool,
    /// JSON Lines: each line is a row, so rows are counted as they arrive.
    pub counts_rows: bool,
    pub bytes: u64,
    pub rows: u64,
    /// The server's upper bound of the rows (`x-arena-rows-at-most`).
    pub rows_at_most: Option<u64>,
    pub seconds: f64,
    pub cancelled: bool,
    pub saved_as: Option<String>,
    pub failed: Option<String>,
}

/// A size as people read it: kB below a megabyte, MB above.
fn megabytes(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

impl Progress {
    fn summary(&self) -> String {
        let speed = if self.seconds > 0.0 {
            format!(
                " · {}/s",
                megabytes((self.bytes as f64 / self.seconds) as u64)
            )
        } else {
            String::new()
        };
        let rows = match (self.counts_rows, self.rows_at_most) {
            (true, Some(n)) if self.running => format!("{} of at most {n} rows · ", self.rows),
            (true, _) => format!("{} rows · ", self.rows),
            _ => String::new(),
        };
        if let Some(file) = &self.saved_as {
            format!(
                "Done: {rows}{} in {:.1} s, saved as {file}",
                megabytes(self.bytes),
                self.seconds
            )
        } else if self.cancelled && !self.running {
            "Cancelled; nothing was saved.".to_owned()
        } else {
            format!("{rows}{}{speed}", megabytes(self.bytes))
        }
    }

    /// The bar's share done, when it is known (rows of JSON Lines against the upper bound).
    fn share(&self) -> Option<f64> {
        if self.saved_as.is_some() {
            return Some(1.0);
        }
        match (self.counts_rows, self.rows_at_most) {
            (true, Some(n)) if n > 0 => Some((self.rows as f64 / n as f64).min(1.0)),
            _ => None,
        }
    }
}

#[component]
fn ProgressView(progress: RwSignal<Progress>) -> impl IntoView {
    move || {
        let p = progress.get();
        if p == Progress::default() {
            return None;
        }
        let bar = match p.share() {
            Some(share) => {
                view! { <progress max="1" value=share.to_string()></progress> }.into_any()
            }
            None if p.running => view! { <progress></progress> }.into_any(),
            None => ().into_any(),
        };
        Some(view! {
            <div class="export-progress" role="status" aria-live="polite">
                {bar}
                <span class="export-progress-text">{p.summary()}</span>
                {p.running.then(|| view! {
                    <button type="button" class="link" on:click=move |_| progress.update(|p| p.cancelled = true)>{crate::i18n::t(Key::DataCancel)}</button>
                })}
                {p.failed.clone().map(|e| view! { <p class="notice failure" role="alert">{e}</p> })}
            </div>
        })
    }
}

#[component]
pub fn DataPage() -> impl IntoView {
    let lang = crate::i18n::lang();
    let tx = move |k: Key| lang.text(k);
    let me = Resource::new(|| (), |_| current_account());
    let progress = RwSignal::new(Progress::default());
    // The Download button downloads through fetch (with progress); the Manifest button and a
    // page without JavaScript submit the form as it is.
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let manifest = ev
                .submitter()
                .is_some_and(|b| b.has_attribute("formaction"));
            if manifest || progress.with_untracked(|p| p.running) {
                if !manifest {
                    ev.prevent_default();
                }
                return;
            }
            ev.prevent_default();
            if let Some(form) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
            {
                crate::download::start(&form, progress);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, progress);
    };
    view! {
        <section class="console">
            <h1>{tx(Key::DataTitle)}</h1>
            <p class="hint">{tx(Key::DataIntro)}</p>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(Some(a)) if a.role == "researcher" || a.role == "admin" => view! {
                        <form method="get" action="/api/v1/exports/battles" class="console-form export" on:submit=on_submit>
                            <label>{tx(Key::DataSchema)} {choices("schema", &SCHEMAS)}</label>
                            <label>{tx(Key::DataFormat)} {choices("format", &[("jsonl", "JSON Lines"), ("csv", "CSV"), ("parquet", "Parquet")])}</label>
                            <label>{tx(Key::DataFrom)} <input type="date" name="from"/></label>
                            <label>{tx(Key::DataTo)} <input type="date" name="to"/></label>
                            <label>{tx(Key::DataLanguage)} <input name="language" placeholder=tx(Key::DataLanguageHint)/></label>
                            <label>{tx(Key::DataModels)} <input name="models" placeholder=tx(Key::DataModelsHint)/></label>
                            <label>{tx(Key::DataVotes)} {choices("votes", &[("counted", tx(Key::DataCounted)), ("all", tx(Key::DataAll))])}</label>
                            <label>{tx(Key::DataVoided)} {choices("voided", &[("exclude", tx(Key::DataLeftOut)), ("include", tx(Key::DataIncludedMarked))])}</label>
                            <label>{tx(Key::DataFlagged)} {choices("flagged", &[("include", tx(Key::DataIncluded)), ("exclude", tx(Key::DataLeftOut))])}</label>
                            <label>{tx(Key::DataTurns)} {choices("turns", &[("all", tx(Key::DataEveryTurn)), ("first", tx(Key::DataFirstTurns))])}</label>
                            <button type="submit" class="primary">{tx(Key::DataDownload)}</button>
                            <button type="submit" formaction="/api/v1/exports/battles/manifest">{tx(Key::DataManifest)}</button>
                        </form>
                        <ProgressView progress=progress/>
                        <p class="hint">
                            {tx(Key::DataScript)} <code>"GET /api/v1/exports/battles?schema=dpo&format=jsonl"</code>
                            {tx(Key::DataOperators)} <code>"server export --schema full --out votes.jsonl"</code> "."
                        </p>
                    }.into_any(),
                    Ok(Some(_)) => view! { <p class="notice failure" role="alert">{tx(Key::DataNeedsRole)}</p> }.into_any(),
                    Ok(None) => view! { <p class="notice">{tx(Key::DataSignIn)} <a href="/signin?next=/data">{tx(Key::SignIn)}</a></p> }.into_any(),
                    Err(e) => view! { <p class="notice failure">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
