//! The battle tables' SQL: turns, answers, ownership checks, history, and the recovery of the
//! turns of stopped processes.

use super::{BattleRow, TurnRow};
use crate::catalog::Model;
use crate::error::{ArenaError, ArenaResult};
use crate::voters::VoterId;
use arena_domain::Side;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

pub(super) async fn insert_turn(
    conn: &mut PgConnection,
    turn_id: Uuid,
    battle_id: Uuid,
    index: i32,
    prompt: &str,
    owner: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into battle_turn (id, battle_id, turn_index, prompt, owner)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(turn_id)
    .bind(battle_id)
    .bind(index)
    .bind(prompt)
    .bind(owner)
    .execute(conn)
    .await
    .map(|_| ())
}

pub(super) async fn insert_answers(
    conn: &mut PgConnection,
    turn_id: Uuid,
    attempt: i32,
    models: [&Model; 2],
) -> Result<[Uuid; 2], sqlx::Error> {
    let ids = [Uuid::now_v7(), Uuid::now_v7()];
    for (i, side) in Side::BOTH.into_iter().enumerate() {
        sqlx::query(
            "insert into answer (id, turn_id, side, attempt, model_id, status)
             values ($1, $2, $3, $4, $5, 'streaming')",
        )
        .bind(ids[i])
        .bind(turn_id)
        .bind(side.as_str())
        .bind(attempt)
        .bind(models[i].id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(ids)
}

pub(super) async fn touch_battle(
    conn: &mut PgConnection,
    battle_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("update battle set updated_at = now() where id = $1")
        .bind(battle_id)
        .execute(conn)
        .await
        .map(|_| ())
}

pub(super) async fn owned_battle(
    conn: &mut PgConnection,
    voter: VoterId,
    battle_id: Uuid,
) -> ArenaResult<BattleRow> {
    sqlx::query_as(
        "select id, model_a_id, model_b_id, language from battle where id = $1 and voter_id = $2",
    )
    .bind(battle_id)
    .bind(voter.0)
    .fetch_optional(conn)
    .await?
    .ok_or(ArenaError::NotFound { what: "battle" })
}

pub(super) async fn lock_battle(
    conn: &mut PgConnection,
    voter: VoterId,
    battle_id: Uuid,
) -> ArenaResult<BattleRow> {
    sqlx::query_as(
        "select id, model_a_id, model_b_id, language from battle
         where id = $1 and voter_id = $2 for update",
    )
    .bind(battle_id)
    .bind(voter.0)
    .fetch_optional(conn)
    .await?
    .ok_or(ArenaError::NotFound { what: "battle" })
}

/// [`lock_battle`] for a vote: with the rubric of the battle's campaign, if it has one.
pub(super) async fn lock_battle_for_vote(
    conn: &mut PgConnection,
    voter: VoterId,
    battle_id: Uuid,
) -> ArenaResult<(BattleRow, Option<arena_domain::campaign::Rubric>)> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        #[sqlx(flatten)]
        battle: BattleRow,
        rubric: Option<serde_json::Value>,
    }
    let locked: Locked = sqlx::query_as(
        "select b.id, b.model_a_id, b.model_b_id, b.language, c.rubric
         from battle b join campaign c on c.id = b.campaign_id
         where b.id = $1 and b.voter_id = $2 for update of b",
    )
    .bind(battle_id)
    .bind(voter.0)
    .fetch_optional(conn)
    .await?
    .ok_or(ArenaError::NotFound { what: "battle" })?;
    let rubric = locked.rubric.and_then(|r| serde_json::from_value(r).ok());
    Ok((locked.battle, rubric))
}

pub(super) async fn latest_turn(conn: &mut PgConnection, battle_id: Uuid) -> ArenaResult<TurnRow> {
    sqlx::query_as(
        "select id, turn_index, prompt, status from battle_turn
         where battle_id = $1 order by turn_index desc limit 1",
    )
    .bind(battle_id)
    .fetch_optional(conn)
    .await?
    .ok_or(ArenaError::NotFound { what: "battle" })
}

/// Every turn so far: the prompt and each side's kept answer.
pub(super) async fn history(
    conn: &mut PgConnection,
    battle_id: Uuid,
) -> Result<Vec<(String, Option<String>, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query(
        "select t.prompt,
                max(a.content) filter (where a.side = 'a') as answer_a,
                max(a.content) filter (where a.side = 'b') as answer_b
         from battle_turn t left join answer a on a.turn_id = t.id and not a.discarded
         where t.battle_id = $1
         group by t.id, t.turn_index, t.prompt order by t.turn_index",
    )
    .bind(battle_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get("prompt"), r.get("answer_a"), r.get("answer_b")))
        .collect())
}

/// Fails the generations of processes whose heartbeat stopped (killed, or lost their database
/// for longer than the lease), and of turns that name no process (left by a version that did not
/// record one). A live sibling's turns are never touched. Any process may run this at any time.
pub async fn recover_orphans(
    pool: &sqlx::PgPool,
    lease: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let orphaned = "select t.id from battle_turn t
         where t.status = 'generating'
           and (t.owner is null
                or not exists (select 1 from server_instance i where i.id = t.owner
                               and i.heartbeat_at > now() - make_interval(secs => $1)))";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update answer set status = 'error',
                error = 'this answer was interrupted: its server stopped', finished_at = now()
         where status in ('pending', 'streaming') and not discarded
           and turn_id in ({orphaned})"
    )))
    .bind(lease.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    let turns = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update battle_turn set status = 'failed', updated_at = now() where id in ({orphaned})"
    )))
    .bind(lease.as_secs_f64())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(turns)
}
