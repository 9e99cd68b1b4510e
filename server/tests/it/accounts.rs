//! Accounts on the real app and a real Postgres: sign-up keeps the anonymous votes, sessions
//! live on the server (sign-out, expiry, rotation), credentials are checked alike for unknown
//! users and wrong passwords, failed sign-ins and password hashing are bounded, and the role
//! boundaries hold. The first admin comes from the command line.

use crate::common;

use arena_inference::fake::{Mode, spawn_fake};
use common::*;
use serde_json::json;

mod admin_command;
mod names;

async fn app_with(
    tweak: impl FnOnce(&mut arena_core::config::Settings),
) -> (TestApp, std::sync::Arc<arena_inference::fake::Fake>) {
    let (fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            // These tests sign up many accounts from one address; its budget has its own test
            // (bounds.rs).
            s.accounts.signup_burst = 1000;
            tweak(s);
        },
    )
    .await;
    (app, fake)
}

/// A client without a cookie store: each request carries exactly the cookies given.
fn bare() -> reqwest::Client {
    reqwest::Client::new()
}

/// `name=value` of every Set-Cookie of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .collect()
}

fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

async fn post(
    client: &reqwest::Client,
    url: String,
    cookies: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    client
        .post(url)
        .header("cookie", cookies)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn me(app: &TestApp, cookies: &str) -> (u16, serde_json::Value) {
    let r = bare()
        .get(format!("{}/api/v1/account", app.url))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

/// `POST /account/signin` with these credentials.
async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    post(
        &bare(),
        format!("{}/api/v1/account/signin", app.url),
        "",
        json!({"username": username, "password": password}),
    )
    .await
}

/// Signs up; the `arena_account=…; arena_session=…` cookie header of the new session.
async fn sign_up(app: &TestApp, username: &str, password: &str) -> String {
    let r = post(
        &bare(),
        format!("{}/api/v1/account/signup", app.url),
        "",
        json!({"username": username, "password": password}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let cookies = set_cookies(&r);
    format!(
        "arena_account={}; arena_session={}",
        cookie_value(&cookies, "arena_account").unwrap(),
        cookie_value(&cookies, "arena_session").unwrap()
    )
}

#[tokio::test]
async fn signing_up_keeps_the_votes_cast_anonymously_and_rotates_the_voter_cookie() {
    let (app, _fake) = app_with(|_| {}).await;
    // An anonymous volunteer: battle, answers, vote.
    let r = post(
        &bare(),
        format!("{}/api/v1/battles", app.url),
        "",
        json!({"prompt": "Hi"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let old = cookie_value(&set_cookies(&r), "arena_session").unwrap();
    let old = format!("arena_session={old}");
    let battle = r.json::<serde_json::Value>().await.unwrap()["battle_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stream = bare()
        .get(format!("{}/api/v1/battles/{battle}/stream", app.url))
        .header("cookie", &old)
        .send()
        .await
        .unwrap();
    assert!(stream.text().await.unwrap().contains("event: done"));
    // The terms come before the first vote.
    let voter_browser = bare();
    let vote_url = format!("{}/api/v1/battles/{battle}/vote", app.url);
    let vote = || {
        post(
            &voter_browser,
            vote_url.clone(),
            &old,
            json!({"winner": "model_a"}),
        )
    };
    let r = vote().await;
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "terms_not_accepted");
    let r = post(
        &bare(),
        format!("{}/api/v1/terms/accept", app.url),
        &old,
        json!({"version": "1999-01-01"}),
    )
    .await;
    assert_eq!(r.status(), 422, "only the current version can be accepted");
    let r = post(
        &bare(),
        format!("{}/api/v1/terms/accept", app.url),
        &old,
        json!({"version": arena_domain::terms::TERMS_VERSION}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = vote().await;
    assert_eq!(r.status(), 200);
    let accepted: Option<String> = sqlx::query_scalar("select terms_version from voter")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        accepted.as_deref(),
        Some(arena_domain::terms::TERMS_VERSION)
    );
    let old_voter: String = sqlx::query_scalar("select id::text from voter")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // Sign-up in the same browser.
    let r = post(
        &bare(),
        format!("{}/api/v1/account/signup", app.url),
        &old,
        json!({"username": "Ane", "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let cookies = set_cookies(&r);
    let new = format!(
        "arena_session={}",
        cookie_value(&cookies, "arena_session").unwrap()
    );
    let account = format!(
        "arena_account={}",
        cookie_value(&cookies, "arena_account").unwrap()
    );
    assert_ne!(new, old, "the voter's token is rotated");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"username": "ane", "role": "volunteer", "votes": 1})
    );
    // The same voter row, now the account's, with its vote.
    let (voter, votes): (String, i64) = sqlx::query_as(
        "select v.id::text, (select count(*) from vote where voter_id = v.id)
         from voter v join app_user u on u.id = v.user_id where u.username = 'ane'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((voter, votes), (old_voter, 1));
    assert_eq!(app.count("select count(*) from voter").await, 1);
    let get = |cookies: String| {
        let url = format!("{}/api/v1/battles/{battle}", app.url);
        async move {
            bare()
                .get(url)
                .header("cookie", cookies)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        get(new.clone()).await,
        200,
        "the battle is still this browser's"
    );
    assert_eq!(
        get(old.clone()).await,
        404,
        "the token from before the sign-up names no one"
    );
    assert_eq!(
        me(&app, &account).await,
        (
            200,
            json!({"username": "ane", "role": "volunteer", "votes": 1})
        )
    );
    assert_eq!(
        me(&app, &new).await.0,
        401,
        "the voter cookie alone is not signed in"
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let (app, _fake) = app_with(|_| {}).await;
    let cookies = sign_up(&app, "jon", "correct horse battery").await;
    assert_eq!(
        me(&app, &cookies).await,
        (
            200,
            json!({"username": "jon", "role": "volunteer", "votes": 0})
        )
    );
    let r = post(
        &bare(),
        format!("{}/api/v1/account/signout", app.url),
        &cookies,
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let cleared = set_cookies(&r);
    assert!(cleared.contains(&"arena_account=".to_owned()));
    assert!(cleared.contains(&"arena_session=".to_owned()));
    // The old cookie, replayed: the server ended the session.
    assert_eq!(me(&app, &cookies).await.0, 401);
    assert_eq!(
        app.count("select count(*) from account_session where ended_at is not null")
            .await,
        1
    );
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer_and_failures_are_throttled() {
    let (app, _fake) = app_with(|s| {
        s.accounts.failed_signins_per_account = 3;
        s.accounts.failed_signins_per_address = 5;
    })
    .await;
    sign_up(&app, "jon", "correct horse battery").await;
    let sign_in = |username: &'static str, password: &'static str| {
        let url = format!("{}/api/v1/account/signin", app.url);
        async move {
            let r = post(
                &bare(),
                url,
                "",
                json!({"username": username, "password": password}),
            )
            .await;
            let retry = r.headers().get("retry-after").is_some();
            (
                r.status().as_u16(),
                retry,
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let unknown = sign_in("nobody", "correct horse battery").await;
    let wrong = sign_in("jon", "wrong horse battery").await;
    assert_eq!(unknown, wrong, "the same status and body");
    assert_eq!(unknown.0, 401);
    // jon: 1 failure so far; two more reach the account's limit.
    sign_in("jon", "wrong again").await;
    sign_in("JON", "and again").await;
    let (status, retry, body) = sign_in("jon", "correct horse battery").await;
    assert_eq!((status, retry), (429, true), "{body}");
    assert_eq!(body["error"]["code"], "too_many_failed_signins");
    // The address has 4 failures (nobody, jon ×3); one more of anyone's reaches its limit.
    sign_in("ane", "whatever it is").await;
    assert_eq!(sign_in("nobody", "x").await.0, 429);
}

#[tokio::test]
async fn bad_account_input_is_refused_plainly_and_changes_nothing() {
    let (app, _fake) = app_with(|_| {}).await;
    sign_up(&app, "Iñaki", "correct horse battery").await;
    for (body, status, code) in [
        (
            json!({"username": "in\u{0303}aki", "password": "another password"}),
            409,
            "username_taken",
        ),
        (
            json!({"username": "ＩÑＡＫＩ", "password": "another password"}),
            409,
            "username_taken",
        ),
        (
            json!({"username": "ab", "password": "correct horse battery"}),
            422,
            "invalid_account_input",
        ),
        (
            json!({"username": "jon doe", "password": "correct horse battery"}),
            422,
            "invalid_account_input",
        ),
        (
            json!({"username": "jon", "password": "short"}),
            422,
            "invalid_account_input",
        ),
        (
            json!({"username": "jon", "password": "x".repeat(129)}),
            422,
            "invalid_account_input",
        ),
        (
            json!({"username": "jon", "password": "correct horse", "role": "admin"}),
            422,
            "invalid_request",
        ),
    ] {
        let r = post(
            &bare(),
            format!("{}/api/v1/account/signup", app.url),
            "",
            body.clone(),
        )
        .await;
        assert_eq!(r.status().as_u16(), status, "{body}");
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
    assert_eq!(app.count("select count(*) from app_user").await, 1);
    assert_eq!(app.count("select count(*) from account_session").await, 1);
}

#[tokio::test]
async fn sessions_expire_when_idle_and_sooner_for_admins() {
    let (app, _fake) = app_with(|_| {}).await;
    let volunteer = sign_up(&app, "jon", "correct horse battery").await;
    app.arena
        .accounts
        .create_admin("root-admin", "correct horse battery")
        .await
        .unwrap();
    let r = sign_in(&app, "root-admin", "correct horse battery").await;
    assert_eq!(r.status(), 200);
    let admin = format!(
        "arena_account={}",
        cookie_value(&set_cookies(&r), "arena_account").unwrap()
    );
    // An hour of silence: the admin's session (30 min idle) ends, the volunteer's (7 days) not.
    sqlx::query("update account_session set last_seen_at = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(me(&app, &admin).await.0, 401);
    assert_eq!(me(&app, &volunteer).await.0, 200);
    // Past the absolute limit (30 days), used or not.
    sqlx::query("update account_session set created_at = now() - interval '31 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(me(&app, &volunteer).await.0, 401);
}

#[tokio::test]
async fn only_admins_grant_roles_and_a_new_role_rotates_the_session() {
    let (app, _fake) = app_with(|_| {}).await;
    let volunteer = sign_up(&app, "jon", "correct horse battery").await;
    let url = format!("{}/api/v1/admin/users/jon/role", app.url);
    let put = |cookies: String, body: serde_json::Value| {
        let url = url.clone();
        async move {
            bare()
                .put(url)
                .header("cookie", cookies)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        put(String::new(), json!({"role": "admin"})).await,
        401,
        "a stranger"
    );
    assert_eq!(
        put(volunteer.clone(), json!({"role": "admin"})).await,
        403,
        "a volunteer"
    );
    app.arena
        .accounts
        .create_admin("boss", "correct horse battery")
        .await
        .unwrap();
    let r = sign_in(&app, "boss", "correct horse battery").await;
    let admin = format!(
        "arena_account={}",
        cookie_value(&set_cookies(&r), "arena_account").unwrap()
    );
    assert_eq!(
        put(admin.clone(), json!({"role": "root"})).await,
        422,
        "an unknown role"
    );
    assert_eq!(put(admin.clone(), json!({"role": "researcher"})).await, 204);
    // jon's next request gets a new session id; the old one is over.
    let r = bare()
        .get(format!("{}/api/v1/account", app.url))
        .header("cookie", &volunteer)
        .send()
        .await
        .unwrap();
    let rotated = cookie_value(&set_cookies(&r), "arena_account").expect("rotated");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["role"],
        "researcher"
    );
    assert_eq!(me(&app, &volunteer).await.0, 401, "the old id ended");
    assert_eq!(me(&app, &format!("arena_account={rotated}")).await.0, 200);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let (app, _fake) = app_with(|_| {}).await;
    let first = sign_up(&app, "jon", "correct horse battery").await;
    let r = sign_in(&app, "jon", "correct horse battery").await;
    let second = format!(
        "arena_account={}",
        cookie_value(&set_cookies(&r), "arena_account").unwrap()
    );
    let change = |current: &'static str| {
        let (url, cookies) = (
            format!("{}/api/v1/account/password", app.url),
            first.clone(),
        );
        async move {
            post(
                &bare(),
                url,
                &cookies,
                json!({"current_password": current, "new_password": "a new secret phrase"}),
            )
            .await
            .status()
            .as_u16()
        }
    };
    assert_eq!(change("wrong horse").await, 401);
    assert_eq!(change("correct horse battery").await, 204);
    assert_eq!(me(&app, &first).await.0, 200, "this session stays");
    assert_eq!(me(&app, &second).await.0, 401, "the other ended");
    let r = sign_in(&app, "jon", "a new secret phrase").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_burst_of_sign_ups_beyond_the_hashing_queue_gets_503_with_retry_after() {
    let (app, _fake) = app_with(|s| {
        s.accounts.hash_concurrency = 1;
        s.accounts.hash_queue_ms = 1;
    })
    .await;
    let burst: Vec<_> = (0..8)
        .map(|i| {
            let url = format!("{}/api/v1/account/signup", app.url);
            tokio::spawn(async move {
                let r = post(
                    &bare(),
                    url,
                    "",
                    json!({"username": format!("user{i}"), "password": "correct horse battery"}),
                )
                .await;
                (
                    r.status().as_u16(),
                    r.headers().get("retry-after").is_some(),
                )
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in burst {
        answers.push(task.await.unwrap());
    }
    assert!(answers.contains(&(201, false)), "{answers:?}");
    assert!(answers.contains(&(503, true)), "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, (201, false) | (503, true))),
        "{answers:?}"
    );
    let created = answers.iter().filter(|a| a.0 == 201).count() as i64;
    assert_eq!(app.count("select count(*) from app_user").await, created);
}
