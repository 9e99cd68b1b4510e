//! The UI's languages (issue #11): chosen from Accept-Language, switched with `/lang/{code}`
//! and remembered in a cookie; the server renders the page in it, with `<html lang>`.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;

#[tokio::test]
async fn pages_come_out_in_the_chosen_language_before_hydration() {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    std::mem::forget(fake);
    let app = TestApp::spawn(vec![model("alpha", &url, 8), model("beta", &url, 8)]).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = |path: &'static str, accept: &'static str, cookie: Option<String>| {
        let client = plain.clone();
        let url = format!("{}{path}", app.url);
        async move {
            let mut r = client.get(url).header("accept-language", accept);
            if let Some(c) = cookie {
                r = r.header("cookie", c);
            }
            r.send().await.unwrap().text().await.unwrap()
        }
    };
    let english = page("/", "en-US,en;q=0.9", None).await;
    assert!(english.contains("<html lang=\"en\""), "{}", &english[..200]);
    assert!(english.contains("Which answer is better?"));
    let basque = page("/", "eu-ES,eu;q=0.9,es;q=0.8", None).await;
    assert!(basque.contains("<html lang=\"eu\""));
    assert!(basque.contains("Zein erantzun da hobea?"));
    assert!(basque.contains("Hasi lehia"));
    assert!(!basque.contains("Which answer is better?"));
    let board = page("/leaderboard", "eu", None).await;
    assert!(
        board.contains("<h1>Sailkapena</h1>"),
        "the leaderboard in Basque"
    );
    // The switch remembers the choice and goes back to the page it came from.
    let r = plain
        .get(format!("{}/lang/es", app.url))
        .header("referer", format!("{}/leaderboard?ci=sandwich", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/leaderboard?ci=sandwich");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("arena_lang=es;"), "{cookie}");
    let spanish = page("/", "eu", Some("arena_lang=es".into())).await;
    assert!(
        spanish.contains("<html lang=\"es\""),
        "the cookie wins over the header"
    );
    assert!(spanish.contains("¿Qué respuesta es mejor?"));
    let unknown = plain
        .get(format!("{}/lang/xx", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}
