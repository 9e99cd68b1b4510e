//! `/data`: the research exports for researchers and admins: a form whose choices become the
//! query of `GET /api/v1/exports/battles` (the browser downloads the file as it streams), and
//! the manifest of the same choices.

use crate::account::current_account;
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

fn choices(name: &'static str, options: &[(&'static str, &'static str)]) -> impl IntoView {
    let options: Vec<_> = options
        .iter()
        .map(|(value, label)| view! { <option value=*value>{*label}</option> })
        .collect();
    view! { <select name=name>{options}</select> }
}

#[component]
pub fn DataPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_account());
    view! {
        <section class="console">
            <h1>"Research data"</h1>
            <p class="hint">
                "Every vote with its conversation, in the public arena formats. Voter ids are keyed "
                "hashes (a salt per release); voters who opted out are left out; nothing secret is "
                "ever included. One export reads one database snapshot."
            </p>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || me.get().map(|r| match r {
                    Ok(Some(a)) if a.role == "researcher" || a.role == "admin" => view! {
                        <form method="get" action="/api/v1/exports/battles" class="console-form export">
                            <label>"Schema" {choices("schema", &SCHEMAS)}</label>
                            <label>"Format" {choices("format", &[("jsonl", "JSON Lines"), ("csv", "CSV"), ("parquet", "Parquet")])}</label>
                            <label>"From" <input type="date" name="from"/></label>
                            <label>"To" <input type="date" name="to"/></label>
                            <label>"Language" <input name="language" placeholder="all, or e.g. eu"/></label>
                            <label>"Models" <input name="models" placeholder="keys, comma-separated"/></label>
                            <label>"Votes" {choices("votes", &[("counted", "counted on the leaderboard"), ("all", "all")])}</label>
                            <label>"Voided votes" {choices("voided", &[("exclude", "left out"), ("include", "included, marked")])}</label>
                            <label>"Flagged battles" {choices("flagged", &[("include", "included"), ("exclude", "left out")])}</label>
                            <label>"Turns" {choices("turns", &[("all", "every voted turn"), ("first", "first turns only")])}</label>
                            <button type="submit" class="primary">"Download"</button>
                            <button type="submit" formaction="/api/v1/exports/battles/manifest">"Manifest"</button>
                        </form>
                        <p class="hint">
                            "The same from a script: " <code>"GET /api/v1/exports/battles?schema=dpo&format=jsonl"</code>
                            "; operators: " <code>"server export --schema full --out votes.jsonl"</code> "."
                        </p>
                    }.into_any(),
                    Ok(Some(_)) => view! { <p class="notice failure" role="alert">"The research exports need the researcher role; an admin can grant it."</p> }.into_any(),
                    Ok(None) => view! { <p class="notice">"Sign in with a researcher account to download the data. " <a href="/signin?next=/data">"Sign in"</a></p> }.into_any(),
                    Err(e) => view! { <p class="notice failure">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
