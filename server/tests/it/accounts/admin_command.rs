//! The first admin comes from the command line, which never silently takes over an account.

use super::*;

#[tokio::test]
async fn the_first_admin_comes_from_the_command_line() {
    let (app, _fake) = app_with(|_| {}).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["admin", "create", "--username", "Boss"])
        .env("DATABASE_URL", &app.database)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin boss is ready"));
    let stored: String =
        sqlx::query_scalar("select password_hash from app_user where username = 'boss'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let r = sign_in(&app, "boss", "correct horse battery").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["role"],
        "admin"
    );
    // A password that is too short is refused, and nothing changes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["admin", "create", "--username", "other"])
        .env("DATABASE_URL", &app.database)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(app.count("select count(*) from app_user").await, 1);
}

#[tokio::test]
async fn the_admin_command_refuses_an_existing_username_unless_promote_and_audits_both() {
    let (app, _fake) = app_with(|_| {}).await;
    sign_up(&app, "ane", "correct horse battery").await;
    let run = |username: &str, extra: &[&str]| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["admin", "create", "--username", username])
            .args(extra)
            .env("DATABASE_URL", &app.database)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a new admin password\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let role = || async {
        sqlx::query_scalar::<_, String>("select role from app_user where username = 'ane'")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let refused = run("ane", &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--promote"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(role().await, "volunteer", "nothing changed");
    assert_eq!(app.count("select count(*) from audit_log").await, 0);
    let promoted = run("ane", &["--promote"]);
    assert!(promoted.status.success(), "{promoted:?}");
    assert_eq!(role().await, "admin");
    let created = run("root", &[]);
    assert!(created.status.success(), "{created:?}");
    let rows: Vec<(
        String,
        String,
        String,
        Option<serde_json::Value>,
        serde_json::Value,
    )> = sqlx::query_as("select actor, action, target, before, after from audit_log order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("command line", "user.promote", "user:ane")
    );
    assert_eq!(
        rows[0].3.as_ref().unwrap()["role"],
        "volunteer",
        "read, not made up"
    );
    assert_eq!(rows[0].4["role"], "admin");
    assert_eq!(
        (rows[1].1.as_str(), rows[1].2.as_str()),
        ("user.create_admin", "user:root")
    );
    assert!(rows[1].3.is_none());
}
