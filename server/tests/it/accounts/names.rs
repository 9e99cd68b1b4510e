//! Names: look-alike usernames are refused, passwords are normalised and need visible
//! characters.

use super::*;

#[tokio::test]
async fn look_alike_usernames_and_invisible_passwords_are_refused() {
    let (app, _fake) = app_with(|_| {}).await;
    sign_up(&app, "ptadmin", "correct horse battery").await;
    sign_up(&app, "ptvol", "correct horse battery").await;
    for (name, code) in [
        ("рtаdmin", "username_look_alike"),    // Cyrillic р and а
        ("ptvοl", "username_look_alike"),      // Greek ο
        ("ptadmiṅ", "username_look_alike"),    // a dot above the n
        ("ptadrnin", "username_look_alike"),   // r n for m
        ("ptаdmіn", "username_look_alike"),    // Cyrillic а and і
        ("ptadmin\u{3164}", "username_taken"), // an invisible Hangul filler: the same name
        ("pt\u{200b}admin", "username_taken"), // a zero-width space: the same name
    ] {
        let r = post(
            &bare(),
            format!("{}/api/v1/account/signup", app.url),
            "",
            json!({"username": name, "password": "another password"}),
        )
        .await;
        assert_eq!(r.status(), 409, "{name:?}");
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{name:?}");
        if code == "username_look_alike" {
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains("looks like an existing one"), "{message}");
        }
    }
    for password in [
        " ".repeat(8),
        "\u{200b}".repeat(8),
        " a b c d e f g ".to_owned(),
    ] {
        let r = post(
            &bare(),
            format!("{}/api/v1/account/signup", app.url),
            "",
            json!({"username": "newcomer", "password": password}),
        )
        .await;
        assert_eq!(r.status(), 422, "{password:?}");
    }
    assert_eq!(app.count("select count(*) from app_user").await, 2);
    // One password typed in NFC or in NFD is one password.
    sign_up(&app, "ane", "pasahitzá zaharra").await;
    let r = sign_in(&app, "ane", "pasahitza\u{0301} zaharra").await;
    assert_eq!(r.status(), 200);
    // An account made before skeletons were stored gets one at start; an old collision keeps
    // its name and its sign-in.
    sqlx::query(
        "insert into app_user (id, username, password_hash, role)
         values (gen_random_uuid(), 'olduser', 'x', 'volunteer'),
                (gen_random_uuid(), 'оlduser', 'x', 'volunteer')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.arena
        .accounts
        .backfill_username_skeletons()
        .await
        .unwrap();
    assert_eq!(
        app.count("select count(*) from app_user where username_skeleton is null")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from app_user where username_skeleton = 'olduser'")
            .await,
        1
    );
}
