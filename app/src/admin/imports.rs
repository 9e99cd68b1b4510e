//! Console: imports (`/admin/imports`): upload a public arena dataset (any export schema; JSONL,
//! CSV or Parquet) as a named, read-only data source, and the imports so far. The form posts to
//! `/admin/imports/upload` (multipart, streamed to disk by the server), which redirects back
//! here with the outcome; `GET /api/v1/leaderboard?source=NAME` then rates the source.

use super::{ConsoleNav, refused};
use crate::error::PageError;
use crate::i18n::Key;
use arena_domain::benchmark::BenchmarkImport;
use arena_domain::import::ImportRow;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[server(prefix = "/api/pages", endpoint = "admin_imports")]
pub async fn admin_imports() -> Result<Vec<ImportRow>, PageError> {
    super::server::admin()?;
    let arena = crate::account::server_arena()?;
    let rows = arena_core::imports::past_imports(&arena.pool, 100)
        .await
        .map_err(PageError::from)?;
    Ok(rows
        .into_iter()
        .map(|r| ImportRow {
            id: r.id,
            source: r.source,
            file_name: r.file_name,
            schema: r.schema,
            rows_read: r.rows_read,
            rows_added: r.rows_added,
            rows_skipped: r.rows_skipped,
            models_created: r.models_created,
            bad_lines: r
                .report
                .as_ref()
                .and_then(|v| v["bad_lines"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|b| {
                    (
                        b["line"].as_u64().unwrap_or(0),
                        b["message"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect(),
            created_at: r.created_at.to_rfc3339(),
        })
        .collect())
}

/// Imports static benchmark scores (CSV text: `model,<benchmark>,…`).
#[server(prefix = "/api/pages", endpoint = "admin_import_benchmarks")]
pub async fn admin_import_benchmarks(csv: String) -> Result<BenchmarkImport, PageError> {
    super::server::admin()?
        .import_benchmarks(&csv)
        .await
        .map_err(PageError::from)
}

const SCHEMAS: [(&str, &str); 7] = [
    (
        "chatbot_arena_conversations",
        "chatbot_arena_conversations (33k)",
    ),
    ("arena_human_preference_100k", "arena-human-preference-100k"),
    ("arena_human_preference_140k", "arena-human-preference-140k"),
    ("kaggle_55k", "Kaggle 55k (one-hot)"),
    ("ebaluatoia", "HiTZ ebaluatoia"),
    ("dpo", "DPO pairs (with chosen_model, rejected_model)"),
    ("full", "The arena's full schema"),
];

#[component]
pub fn AdminImportsPage() -> impl IntoView {
    let imports = Resource::new(|| (), |_| admin_imports());
    let benchmarks = ServerAction::<AdminImportBenchmarks>::new();
    let query = use_query_map();
    let notice = move || {
        query.with(|q| {
            if let Some(e) = q.get("error") {
                Some(view! { <p class="notice failure" role="alert">{e}</p> }.into_any())
            } else {
                q.get("imported").map(|source| {
                    let added = q.get("added").unwrap_or_default();
                    let skipped = q.get("skipped").unwrap_or_default();
                    view! {
                        <p class="notice" role="status">
                            {crate::i18n::t(Key::ImportedInto).replace("{source}", &source).replace("{added}", &added).replace("{skipped}", &skipped)}
                            <a href=format!("/leaderboard?source={source}")>{crate::i18n::t(Key::ItsLeaderboard)}</a>
                        </p>
                    }
                    .into_any()
                })
            }
        })
    };
    view! {
        <section class="console">
            <h1>{crate::i18n::t(Key::ImportsTitle)}</h1>
            <ConsoleNav/>
            <p class="hint">
                {crate::i18n::t(Key::ImportsHint)}
            </p>
            {notice}
            <form method="post" action="/admin/imports/upload" enctype="multipart/form-data" class="import-form">
                <label>{crate::i18n::t(Key::DataSource)} <input name="source" required pattern="[a-z0-9][a-z0-9._\\-]{0,63}" placeholder="lmsys-33k"/></label>
                <label>{crate::i18n::t(Key::ISchema)}
                    <select name="schema">
                        {SCHEMAS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                    </select>
                </label>
                <label>{crate::i18n::t(Key::IFormat)}
                    <select name="format">
                        <option value="auto">{crate::i18n::t(Key::FromFileName)}</option>
                        <option value="jsonl">{crate::i18n::t(Key::JsonLines)}</option>
                        <option value="csv">"CSV"</option>
                        <option value="parquet">"Parquet"</option>
                    </select>
                </label>
                <label><input type="checkbox" name="skip_bad" value="on"/>{crate::i18n::t(Key::SkipBad)}</label>
                <label>{crate::i18n::t(Key::File)} <input type="file" name="file" required/></label>
                <button type="submit">{crate::i18n::t(Key::Import)}</button>
            </form>
            <h2>{crate::i18n::t(Key::BenchmarkScores)}</h2>
            <p class="hint">
                {crate::i18n::t(Key::BenchmarkHint)}
            </p>
            <ActionForm action=benchmarks attr:class="console-form benchmarks-form">
                <label>"CSV " <textarea name="csv" rows="6" required placeholder="model,belebele_eus,xstorycloze_eu\nlatxa-70b,71.2,65.0"></textarea></label>
                <button type="submit">{crate::i18n::t(Key::ImportScores)}</button>
            </ActionForm>
            {move || benchmarks.value().get().map(|r| match r {
                Ok(done) => view! {
                    <p class="notice" role="status">
                        {crate::i18n::t(Key::ImportedScores).replace("{scores}", &done.scores.to_string()).replace("{models}", &done.models.to_string()).replace("{benchmarks}", &done.benchmarks.join(", "))}
                        <a href="/leaderboard">{crate::i18n::t(Key::TheLeaderboard)}</a>
                    </p>
                }.into_any(),
                Err(e) => view! { <p class="notice failure" role="alert">{e.to_string()}</p> }.into_any(),
            })}
            <h2>{crate::i18n::t(Key::ImportsSoFar)}</h2>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || imports.get().map(|r| match r {
                    Err(e) => refused(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="hint">{crate::i18n::t(Key::NoneYet)}</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="console-table imports">
                            <thead><tr><th>{crate::i18n::t(Key::ColIWhen)}</th><th>{crate::i18n::t(Key::ColSource)}</th><th>{crate::i18n::t(Key::ColFile)}</th><th>{crate::i18n::t(Key::ColSchema)}</th><th>{crate::i18n::t(Key::ColRead)}</th><th>{crate::i18n::t(Key::ColNew)}</th><th>{crate::i18n::t(Key::ColLeftOut)}</th><th>{crate::i18n::t(Key::ColNewModels)}</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| {
                                    let bad = r.bad_lines.iter().take(5)
                                        .map(|(line, why)| format!("line {line}: {why}"))
                                        .collect::<Vec<_>>().join("; ");
                                    view! {
                                        <tr data-source=r.source.clone()>
                                            <td>{r.created_at.chars().take(19).collect::<String>().replace('T', " ")}</td>
                                            <td><a href=format!("/leaderboard?source={}", r.source)>{r.source.clone()}</a></td>
                                            <td>{r.file_name.clone()}</td>
                                            <td>{r.schema.clone()}</td>
                                            <td>{r.rows_read}</td>
                                            <td class="added">{r.rows_added}</td>
                                            <td title=bad>{r.rows_skipped}</td>
                                            <td>{r.models_created}</td>
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
