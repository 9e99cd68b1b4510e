//! The arena's user interface: server-rendered, then hydrated in the browser.
// The battle page's nested view types are deep: an unoptimised wasm build needs more room.
#![recursion_limit = "512"]

// The page's state machine is driven only by browser code.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod battle;
#[cfg(feature = "hydrate")]
mod client;
mod leaderboard;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::StaticSegment;
use leptos_router::components::{A, Route, Router, Routes};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/arena.css"/>
        <Title text="Arena — compare language models"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"Arena"</A>
                <nav>
                    <A href="/">"Battle"</A>
                    <A href="/leaderboard">"Leaderboard"</A>
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="notice">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=battle::BattlePage/>
                    <Route path=StaticSegment("leaderboard") view=leaderboard::LeaderboardPage/>
                </Routes>
            </main>
        </Router>
    }
}
