//! Exports read each vote's pre-joined row (`export_turn`), written by a trigger in the vote's
//! own transaction; what can still change after the vote (flags, reviews, opt-outs, campaign
//! slugs) is read live, so a change made after the vote shows in the next export.

use super::{arena_with_votes, get};
use crate::common::*;
use serde_json::Value;

fn rows(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn each_votes_row_is_written_with_it_and_later_changes_still_show() {
    let (app, battles) = arena_with_votes().await;
    // One row per vote, equal in every column to what the live tables give.
    assert_eq!(app.count("select count(*) from export_turn").await, 3);
    let differ: i64 = app
        .count(
            "select count(*) from export_turn e full join export_turn_source s
                 on s.vote_id = e.vote_id
             where row(e.*) is distinct from row(s.*)",
        )
        .await;
    assert_eq!(differ, 0);
    let researcher = signed_in_as(&app, "res", "researcher").await;
    let (s, body) = get(&researcher, &app, "schema=full&votes=all").await;
    assert_eq!(s, 200, "{body}");
    let before = rows(&body);
    assert_eq!(before.len(), 3);
    assert!(before.iter().all(|r| r["flagged"] == false));
    assert!(before.iter().all(|r| r["campaign"] == "arena"));
    // The second turn's vote carries the whole conversation, the first turn included.
    let second = before.iter().find(|r| r["turn"] == 1).unwrap();
    let conversation = second["conversation_a"].as_array().unwrap();
    assert_eq!(conversation.len(), 4, "{conversation:?}");
    assert_eq!(conversation[0]["content"], "Hi");
    assert_eq!(conversation[2]["content"], "And then?");

    // After the votes: the first battle is reported, the arena's campaign renamed.
    sqlx::query(
        "insert into battle_report (battle_id, voter_id, reason)
         select id, voter_id, 'names itself' from battle where id = $1::uuid",
    )
    .bind(&battles[0])
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("update campaign set slug = 'arena-2026' where slug = 'arena'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, body) = get(&researcher, &app, "schema=full&votes=all").await;
    let after = rows(&body);
    assert_eq!(after.len(), 3);
    for r in &after {
        assert_eq!(r["flagged"], r["battle_id"] == battles[0].as_str(), "{r}");
        assert_eq!(r["campaign"], "arena-2026");
    }
    let (_, body) = get(&researcher, &app, "schema=full&votes=all&flagged=exclude").await;
    let unflagged = rows(&body);
    assert_eq!(unflagged.len(), 1);
    assert_eq!(unflagged[0]["battle_id"], battles[1].as_str());
    let (_, body) = get(
        &researcher,
        &app,
        "schema=full&votes=all&campaign=arena-2026",
    )
    .await;
    assert_eq!(rows(&body).len(), 3);
    // Reviewed: no longer flagged.
    sqlx::query("update battle set reviewed_at = now() where id = $1::uuid")
        .bind(&battles[0])
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, body) = get(&researcher, &app, "schema=full&votes=all&flagged=exclude").await;
    assert_eq!(rows(&body).len(), 3);
}
