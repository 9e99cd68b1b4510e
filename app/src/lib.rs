//! The arena's user interface: server-rendered, then hydrated in the browser.
// The battle page's nested view types are deep: an unoptimised wasm build needs more room.
#![recursion_limit = "512"]

mod account;
mod admin;
mod data;
#[cfg(feature = "hydrate")]
mod download;
// The page's state machine is driven only by browser code.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod battle;
mod campaign;
#[cfg(feature = "hydrate")]
mod client;
pub mod error;
pub mod i18n;
mod leaderboard;
mod regressions;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{ParamSegment, StaticSegment};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(value) = http::HeaderValue::from_str(&security_policy(Some(&nonce.to_string())))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang=i18n::detect().code()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // The site's files carry a content hash in their names (output_name, see
                // scripts/build-site.sh): the stylesheet's is the script's.
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <link rel="icon" href="/favicon.ico" type="image/x-icon"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The Content-Security-Policy. HTML pages carry a fresh nonce per response: only the page's own
/// inline scripts (hydration bootstrap, streamed resources), which Leptos marks with it, run;
/// other responses allow no inline script at all.
pub fn security_policy(script_nonce: Option<&str>) -> String {
    let scripts = match script_nonce {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// The terms of use and data-use notice (the text in `terms/`, current version).
#[component]
fn TermsPage() -> impl IntoView {
    let html = arena_domain::markdown::render_safe_html(arena_domain::terms::TERMS_TEXT);
    view! {
        <Title text="Terms of use — Arena"/>
        <article class="terms content" inner_html=html></article>
    }
}

#[component]
pub fn App() -> impl IntoView {
    use i18n::{Key, Lang, t};
    provide_meta_context();
    let lang = i18n::detect();
    provide_context(lang);
    // The switch: a link per other language to `/lang/{code}` (which remembers it in a cookie
    // and comes back here); a full reload renders the page in it on the server. `external`:
    // the client router must not take the link (it has no `/lang` route: "page not found").
    let switch = Lang::ALL
        .into_iter()
        .filter(move |l| *l != lang)
        .map(|l| {
            view! {
                <a href=format!("/lang/{}", l.code()) hreflang=l.code() lang=l.code() rel="external nofollow">
                    {l.text(Key::LangName)}
                </a>
            }
        })
        .collect_view();
    view! {
        <Title text=t(Key::PageTitle)/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"Arena"</A>
                <nav>
                    <A href="/">{t(Key::NavBattle)}</A>
                    <A href="/leaderboard">{t(Key::NavLeaderboard)}</A>
                    <A href="/data">{t(Key::NavData)}</A>
                    <span class="languages" aria-label=t(Key::LangChoose)>{switch}</span>
                    <account::AccountCorner/>
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="notice">{t(Key::NotFound)}</p> }>
                    <Route path=StaticSegment("") view=battle::BattlePage/>
                    <Route path=StaticSegment("leaderboard") view=leaderboard::LeaderboardPage/>
                    <Route path=(StaticSegment("leaderboard"), StaticSegment("regressions")) view=regressions::RegressionsPage/>
                    <Route path=StaticSegment("signin") view=account::SignInPage/>
                    <Route path=StaticSegment("signup") view=account::SignUpPage/>
                    <Route path=StaticSegment("account") view=account::AccountPage/>
                    <Route path=StaticSegment("terms") view=TermsPage/>
                    <Route path=StaticSegment("data") view=data::DataPage/>
                    <Route path=(StaticSegment("c"), ParamSegment("slug")) view=campaign::CampaignBattlePage/>
                    <Route path=(StaticSegment("c"), ParamSegment("slug"), StaticSegment("leaderboard")) view=campaign::CampaignLeaderboardPage/>
                    <Route path=(StaticSegment("admin"), StaticSegment("campaigns")) view=admin::AdminCampaignsPage/>
                    <Route path=StaticSegment("admin") view=admin::AdminModelsPage/>
                    <Route path=(StaticSegment("admin"), StaticSegment("models"), ParamSegment("key")) view=admin::AdminModelPage/>
                    <Route path=(StaticSegment("admin"), StaticSegment("pairing")) view=admin::AdminPairingPage/>
                    <Route path=(StaticSegment("admin"), StaticSegment("moderation")) view=admin::AdminModerationPage/>
                    <Route path=(StaticSegment("admin"), StaticSegment("imports")) view=admin::AdminImportsPage/>
                    <Route path=(StaticSegment("admin"), StaticSegment("users")) view=admin::AdminUsersPage/>
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=admin::AdminAuditPage/>
                </Routes>
            </main>
        </Router>
    }
}
