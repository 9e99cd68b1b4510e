//! Browser side of `/data`: downloads an export with `fetch`, reading the body as it streams so
//! the page shows progress (rows of at most N for JSON Lines, where a line is a row; bytes and
//! speed for every format), then hands the finished file to the browser as a download. Without
//! JavaScript the form submits as it is and the browser downloads the file itself.

use crate::data::Progress;
use arena_domain::api::ApiErrorBody;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Starts the download of the export that `form`'s fields describe.
pub fn start(form: &web_sys::HtmlFormElement, progress: RwSignal<Progress>) {
    let Ok(data) = web_sys::FormData::new_with_form(form) else {
        return;
    };
    let Ok(params) = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data) else {
        return;
    };
    let query: String = params.to_string().into();
    let jsonl = data.get("format").as_string().as_deref() == Some("jsonl");
    progress.set(Progress {
        running: true,
        counts_rows: jsonl,
        ..Progress::default()
    });
    spawn_local(async move {
        if let Err(message) = download(&format!("/api/v1/exports/battles?{query}"), progress).await
        {
            progress.update(|p| {
                p.running = false;
                p.failed = Some(message);
            });
        }
    });
}

fn field(object: &wasm_bindgen::JsValue, name: &str) -> wasm_bindgen::JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap_or(wasm_bindgen::JsValue::UNDEFINED)
}

async fn download(url: &str, progress: RwSignal<Progress>) -> Result<(), String> {
    let started = js_sys::Date::now();
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|_| "the arena cannot be reached; check your connection".to_owned())?;
    if !response.ok() {
        let status = response.status();
        return Err(match response.json::<ApiErrorBody>().await {
            Ok(body) => body.error.message,
            Err(_) => format!("the export failed (HTTP {status})"),
        });
    }
    let headers = response.headers();
    let at_most = headers
        .get("x-arena-rows-at-most")
        .and_then(|v| v.parse::<u64>().ok());
    let filename = headers
        .get("content-disposition")
        .and_then(|v| {
            v.split("filename=\"")
                .nth(1)
                .map(|f| f.trim_end_matches('"').to_owned())
        })
        .unwrap_or_else(|| "arena-export".to_owned());
    let content_type = headers.get("content-type").unwrap_or_default();
    progress.update(|p| p.rows_at_most = at_most);
    let body = response.body().ok_or("the export came without a body")?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let chunks = js_sys::Array::new();
    loop {
        if progress.with_untracked(|p| p.cancelled) {
            let _ = reader.cancel();
            progress.update(|p| p.running = false);
            return Ok(());
        }
        let read = JsFuture::from(reader.read())
            .await
            .map_err(|_| "the download was interrupted; nothing was saved, try again".to_owned())?;
        if field(&read, "done").as_bool().unwrap_or(true) {
            break;
        }
        let chunk: js_sys::Uint8Array = field(&read, "value").unchecked_into();
        let bytes = u64::from(chunk.length());
        let counts_rows = progress.with_untracked(|p| p.counts_rows);
        let rows = if counts_rows {
            chunk.to_vec().iter().filter(|&&b| b == b'\n').count() as u64
        } else {
            0
        };
        chunks.push(&chunk);
        let seconds = (js_sys::Date::now() - started) / 1000.0;
        progress.update(|p| {
            p.bytes += bytes;
            p.rows += rows;
            p.seconds = seconds;
        });
    }
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&content_type);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&chunks, &options)
        .map_err(|_| "the browser could not hold the file".to_owned())?;
    let href = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|_| "the browser could not hold the file".to_owned())?;
    let document = document();
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| "the page could not offer the file".to_owned())?
        .unchecked_into();
    link.set_href(&href);
    link.set_download(&filename);
    if let Some(page) = document.body() {
        let _ = page.append_child(&link);
        link.click();
        let _ = page.remove_child(&link);
    }
    // The object URL is released once the browser has taken the file.
    let release = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&href);
    });
    let _ = window()
        .set_timeout_with_callback_and_timeout_and_arguments_0(release.unchecked_ref(), 60_000);
    let seconds = (js_sys::Date::now() - started) / 1000.0;
    progress.update(|p| {
        p.running = false;
        p.seconds = seconds;
        p.saved_as = Some(filename);
    });
    Ok(())
}
