//! Research downloads: the caps on running exports, the public's latency beside them, and the reader floor.

use crate::common;
use arena_inference::fake::{Mode, spawn_fake};
use common::*;

/// `n` more counted votes, copies of an existing one, with prompts long enough that a full
/// export is many megabytes (more than the sockets' buffers hold).
async fn bulk_votes(app: &TestApp, n: i64) {
    sqlx::query(
        "with src as (select b.* from battle b join vote v on v.battle_id = b.id and v.counted
                      limit 1),
              n as (select gen_random_uuid() as id, gen_random_uuid() as turn, k
                    from generate_series(1, $1) k),
              b as (insert into battle (id, voter_id, model_a_id, model_b_id, language)
                    select n.id, src.voter_id, src.model_a_id, src.model_b_id, src.language
                    from n, src returning id),
              t as (insert into battle_turn (id, battle_id, turn_index, prompt, status)
                    select n.turn, n.id, 0, repeat('a long prompt ', 40) || n.k, 'voted'
                    from n returning id),
              a as (insert into answer (id, turn_id, side, model_id, status, content)
                    select gen_random_uuid(), n.turn, s.side, src.model_a_id, 'done',
                           repeat('an answer ', 30) || n.k
                    from n, src, (values ('a'), ('b')) s(side) returning id)
         insert into vote (turn_id, battle_id, voter_id, winner, counted)
         select n.turn, n.id, src.voter_id, 'model_a', true from n, src",
    )
    .bind(n)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// The cookies of a new researcher's session, as a `Cookie` header's value.
async fn researcher_cookies(app: &TestApp, username: &str) -> String {
    app.arena
        .accounts
        .create_admin(username, PASSWORD)
        .await
        .unwrap();
    sqlx::query("update app_user set role = 'researcher' where username = $1")
        .bind(username)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/account/signin", app.url))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A download that reads its status line and then nothing more (a 4 KiB receive buffer):
/// the slowest reader there is. Returns the status and the open socket.
async fn slow_export(app: &TestApp, cookies: &str) -> (u16, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: std::net::SocketAddr = app.url.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /api/v1/exports/battles?schema=full HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookies}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    let status = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
    (status, stream)
}

fn p99(mut times: Vec<std::time::Duration>) -> std::time::Duration {
    times.sort();
    times[(times.len() * 99 / 100).min(times.len() - 1)]
}

#[tokio::test]
async fn slow_exports_are_capped_and_public_requests_stay_fast() {
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.exports.voter_salt = arena_core::config::Secret::new("bounds");
            s.exports.max_running = 4;
            s.exports.max_running_per_account = 2;
            s.limits.enabled = true;
        },
    )
    .await;
    let voter = app.client();
    let battle = app.create_battle(&voter, "seed").await;
    app.read_stream(&voter, &battle).await;
    assert_eq!(app.vote(&voter, &battle, "model_a", None).await.0, 200);
    bulk_votes(&app, 12_000).await;
    // The public requests, idle: the time of each, 20 times.
    let public = || async {
        let mut times = Vec::new();
        for path in ["/readyz", "/api/v1/leaderboard"] {
            let started = std::time::Instant::now();
            let r = reqwest::get(format!("{}{path}", app.url)).await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            times.push(started.elapsed());
        }
        let client = app.client();
        let started = std::time::Instant::now();
        let battle = app.create_battle(&client, "Is it fast?").await;
        times.push(started.elapsed());
        app.read_stream(&client, &battle).await;
        let started = std::time::Instant::now();
        assert_eq!(app.vote(&client, &battle, "tie", None).await.0, 200);
        times.push(started.elapsed());
        times
    };
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.extend(public().await);
    }
    let idle_p99 = p99(idle);
    // Two researchers open ten slow downloads each.
    let mut open = Vec::new();
    let mut statuses = Vec::new();
    for who in ["ane", "jon"] {
        let cookies = researcher_cookies(&app, who).await;
        for _ in 0..10 {
            let (status, socket) = slow_export(&app, &cookies).await;
            statuses.push(status);
            open.push(socket);
        }
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [[200; 4].as_slice(), &[429; 16]].concat(),
        "2 per account, 4 in all"
    );
    assert_eq!(app.arena.limits.held("export/all").await.unwrap(), 4);
    // Meanwhile the public's requests answer as fast as idle (within 2× the idle p99, with a
    // little slack for a shared machine).
    let mut busy = Vec::new();
    for _ in 0..5 {
        busy.extend(public().await);
    }
    let busy_p99 = p99(busy);
    // Before, they waited for the pool's 5 s acquire timeout and got 500. The ratio to idle
    // is printed, not asserted: a shared 2-core CI machine varies by more than 2×.
    println!("public p99: {busy_p99:?} with 20 slow exports, {idle_p99:?} idle");
    assert!(
        busy_p99 < std::time::Duration::from_millis(2500),
        "p99 {busy_p99:?} with 20 slow exports, {idle_p99:?} idle"
    );
    drop(open);
    // The readers went away: their places are given back.
    for _ in 0..100 {
        if app.arena.limits.held("export/all").await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.arena.limits.held("export/all").await.unwrap(), 0);
}

#[tokio::test]
async fn a_reader_slower_than_the_floor_is_cut() {
    use tokio::io::AsyncReadExt;
    let (_fake, url) = spawn_fake(Mode::Normal).await;
    let app = TestApp::spawn_with(
        vec![model("alpha", &url, 16), model("beta", &url, 16)],
        |s| {
            s.exports.voter_salt = arena_core::config::Secret::new("bounds");
            s.exports.min_bytes_per_sec = 1 << 20;
            s.exports.min_rate_window_secs = 2;
        },
    )
    .await;
    let voter = app.client();
    let battle = app.create_battle(&voter, "seed").await;
    app.read_stream(&voter, &battle).await;
    assert_eq!(app.vote(&voter, &battle, "model_a", None).await.0, 200);
    bulk_votes(&app, 12_000).await;
    let cookies = researcher_cookies(&app, "ane").await;
    // A reader at full speed is never cut.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/exports/battles?schema=full", app.url))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.expect("a fast reader gets the whole body");
    assert_eq!(body.iter().filter(|b| **b == b'\n').count(), 12_001);
    // A reader that takes nothing is cut after the window: its place is given back and the
    // body ends without the chunked terminator (truncated, never complete-looking).
    let (status, mut socket) = slow_export(&app, &cookies).await;
    assert_eq!(status, 200);
    assert_eq!(app.arena.limits.held("export/all").await.unwrap(), 1);
    let started = std::time::Instant::now();
    let mut freed = false;
    while started.elapsed() < std::time::Duration::from_secs(20) {
        if app.arena.limits.held("export/all").await.unwrap() == 0 {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "the slow reader still holds an export after 20 s");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        socket.read_to_end(&mut rest),
    )
    .await;
    assert!(read.is_ok(), "the connection was closed");
    assert!(!rest.ends_with(b"0\r\n\r\n"), "the body looks complete");
}
