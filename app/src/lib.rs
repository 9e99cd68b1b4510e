//! The arena's user interface.
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    view! { <p>"arena"</p> }
}
