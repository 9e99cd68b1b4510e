//! Moderation: search votes and battles, void and unvoid votes (one, or all of a voter's),
//! ban and unban voters, and the queue of flagged battles. A voided vote stays in the database,
//! marked with its reason; it leaves the leaderboard in the same transaction.

use super::{Admin, audit, field};
use crate::error::{ArenaError, ArenaResult};
use crate::leaderboard::counts;
use arena_domain::admin::{FlaggedBattle, ModerationInput, ModerationOutcome, VoteQuery, VoteRow};
use chrono::NaiveDate;
use serde_json::json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    battle_id: Uuid,
    voter_id: Uuid,
    model_a: String,
    model_b: String,
    winner: String,
    counted: bool,
    voided: bool,
    void_reason: Option<String>,
    flagged: bool,
    banned: bool,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// A battle is flagged while it has an answer naming a model or a voter's report, until an
/// admin reviews it.
const FLAGGED: &str = "(b.reviewed_at is null and (
        exists (select 1 from battle_report r where r.battle_id = b.id)
        or exists (select 1 from battle_turn t join answer a on a.turn_id = t.id
                   where t.battle_id = b.id and a.identity_leak and not a.discarded)))";

fn date(field_name: &str, raw: &Option<String>) -> ArenaResult<Option<NaiveDate>> {
    raw.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                ArenaError::invalid("invalid_field", format!("{field_name}: use YYYY-MM-DD"))
            })
        })
        .transpose()
}

fn uuid(what: &'static str, raw: &str) -> ArenaResult<Uuid> {
    raw.trim()
        .parse()
        .map_err(|_| ArenaError::NotFound { what })
}

impl Admin {
    /// Votes matching the query, newest first.
    pub async fn votes(&self, q: &VoteQuery) -> ArenaResult<Vec<VoteRow>> {
        let from = date("from", &q.from)?;
        let to = date("to", &q.to)?;
        let voter =
            match q.voter.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(v) => Some(v.parse::<Uuid>().map_err(|_| {
                    ArenaError::invalid("invalid_field", "voter: a voter id (UUID)")
                })?),
                None => None,
            };
        let model = q.model.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let sql = format!(
            "select v.id, v.battle_id, v.voter_id, ma.key as model_a, mb.key as model_b, v.winner,
                    v.counted, v.voided, v.void_reason, {FLAGGED} as flagged,
                    r.banned_at is not null as banned, v.created_at
             from vote v join battle b on b.id = v.battle_id
             join model ma on ma.id = b.model_a_id join model mb on mb.id = b.model_b_id
             join voter r on r.id = v.voter_id
             where ($1::text is null or ma.key = $1 or mb.key = $1)
               and ($2::uuid is null or v.voter_id = $2)
               and ($3::date is null or v.created_at >= $3::date)
               and ($4::date is null or v.created_at < $4::date + 1)
               and ($5::bool is null or {FLAGGED} = $5)
               and ($6::bool is null or v.voided = $6)
               and ($7::bigint is null or v.id < $7)
             order by v.id desc limit $8"
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(model)
            .bind(voter)
            .bind(from)
            .bind(to)
            .bind(q.flagged)
            .bind(q.voided)
            .bind(q.before)
            .bind(q.limit.unwrap_or(50).clamp(1, 500))
            .fetch_all(&self.arena.admin_pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| VoteRow {
                id: r.id,
                battle_id: r.battle_id.to_string(),
                voter_id: r.voter_id.to_string(),
                model_a: r.model_a,
                model_b: r.model_b,
                winner: r.winner,
                counted: r.counted,
                voided: r.voided,
                void_reason: r.void_reason,
                flagged: r.flagged,
                voter_banned: r.banned,
                created_at: r.created_at.to_rfc3339(),
            })
            .collect())
    }

    async fn set_voided(
        &self,
        ids: Vec<i64>,
        voided: bool,
        input: &ModerationInput,
        action: &str,
        target: String,
        closes_battle: Option<Uuid>,
    ) -> ArenaResult<ModerationOutcome> {
        let reason = input.reason().map_err(field)?;
        let mut tx = self.arena.admin_pool.begin().await?;
        if let Some(battle) = closes_battle {
            // The battle's flags close in the same transaction, under the same audit row.
            close_flags(&mut tx, battle, reason).await?;
        }
        // The "before" is read, under the rows' locks, not inferred from the request.
        let (votes, already_voided, reasons): (i64, i64, Option<Vec<String>>) = sqlx::query_as(
            "select count(*), count(*) filter (where voided),
                    array_agg(distinct void_reason) filter (where void_reason is not null)
             from (select voided, void_reason from vote where id = any($1) for update) v",
        )
        .bind(&ids)
        .fetch_one(&mut *tx)
        .await?;
        let changed =
            counts::set_voided(&mut tx, &ids, voided, reason, Some(self.actor.user_id)).await?;
        audit(
            &mut tx,
            &self.actor,
            action,
            &target,
            Some(json!({ "votes": votes, "voided": already_voided,
                         "void_reasons": reasons.unwrap_or_default() })),
            Some(
                json!({ "voided": voided, "reason": reason, "votes_changed": changed,
                         "battle_reviewed": closes_battle.is_some() }),
            ),
        )
        .await?;
        tx.commit().await?;
        crate::metrics::voided(crate::metrics::VOID_MODERATION, voided, changed);
        Ok(ModerationOutcome {
            votes_changed: changed,
        })
    }

    /// Voids one vote (or restores it, `voided = false`).
    pub async fn void_vote(
        &self,
        vote_id: i64,
        voided: bool,
        input: &ModerationInput,
    ) -> ArenaResult<ModerationOutcome> {
        let exists: bool = sqlx::query_scalar("select exists (select 1 from vote where id = $1)")
            .bind(vote_id)
            .fetch_one(&self.arena.admin_pool)
            .await?;
        if !exists {
            return Err(ArenaError::NotFound { what: "vote" });
        }
        let action = if voided { "vote.void" } else { "vote.unvoid" };
        self.set_voided(
            vec![vote_id],
            voided,
            input,
            action,
            format!("vote:{vote_id}"),
            None,
        )
        .await
    }

    /// Voids (or restores) every vote of a voter.
    pub async fn void_voter(
        &self,
        voter: &str,
        voided: bool,
        input: &ModerationInput,
    ) -> ArenaResult<ModerationOutcome> {
        let voter = uuid("voter", voter)?;
        let ids: Option<Vec<i64>> = sqlx::query_scalar(
            "select coalesce(array_agg(v.id), '{}') from voter r
             left join vote v on v.voter_id = r.id where r.id = $1 group by r.id",
        )
        .bind(voter)
        .fetch_optional(&self.arena.admin_pool)
        .await?;
        let ids = ids.ok_or(ArenaError::NotFound { what: "voter" })?;
        let action = if voided {
            "voter.void_votes"
        } else {
            "voter.unvoid_votes"
        };
        self.set_voided(ids, voided, input, action, format!("voter:{voter}"), None)
            .await
    }

    /// Voids every vote of a battle (the flagged queue's one-click action) and closes its flags,
    /// in one transaction with one audit row.
    pub async fn void_battle(
        &self,
        battle: &str,
        input: &ModerationInput,
    ) -> ArenaResult<ModerationOutcome> {
        let battle = uuid("battle", battle)?;
        let ids: Vec<i64> = sqlx::query_scalar("select id from vote where battle_id = $1")
            .bind(battle)
            .fetch_all(&self.arena.admin_pool)
            .await?;
        self.set_voided(
            ids,
            true,
            input,
            "battle.void_votes",
            format!("battle:{battle}"),
            Some(battle),
        )
        .await
    }

    /// Closes a battle's flags (dismissed, or acted on) with a note.
    pub async fn review_battle(&self, battle: &str, input: &ModerationInput) -> ArenaResult<()> {
        let battle = uuid("battle", battle)?;
        let reason = input.reason().map_err(field)?;
        let mut tx = self.arena.admin_pool.begin().await?;
        close_flags(&mut tx, battle, reason).await?;
        audit(
            &mut tx,
            &self.actor,
            "battle.review",
            &format!("battle:{battle}"),
            None,
            Some(json!({ "review": reason })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Bans (`banned`) or unbans a voter: a banned voter's new battles and votes are refused.
    pub async fn ban_voter(
        &self,
        voter: &str,
        banned: bool,
        input: &ModerationInput,
    ) -> ArenaResult<()> {
        let voter = uuid("voter", voter)?;
        let reason = input.reason().map_err(field)?;
        let mut tx = self.arena.admin_pool.begin().await?;
        let before: Option<Option<String>> =
            sqlx::query_scalar("select ban_reason from voter where id = $1 for update")
                .bind(voter)
                .fetch_optional(&mut *tx)
                .await?;
        let before = before.ok_or(ArenaError::NotFound { what: "voter" })?;
        sqlx::query(
            "update voter set banned_at = case when $2 then now() end,
                              ban_reason = case when $2 then $3 end
             where id = $1",
        )
        .bind(voter)
        .bind(banned)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            &self.actor,
            if banned { "voter.ban" } else { "voter.unban" },
            &format!("voter:{voter}"),
            Some(json!({ "banned": before.is_some(), "reason": before })),
            Some(json!({ "banned": banned, "reason": reason })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The queue of flagged battles not yet reviewed, oldest first.
    pub async fn flagged(&self, limit: i64) -> ArenaResult<Vec<FlaggedBattle>> {
        #[derive(sqlx::FromRow)]
        struct Flagged {
            id: Uuid,
            voter_id: Uuid,
            model_a: String,
            model_b: String,
            leaks: Vec<String>,
            reports: Vec<String>,
            votes: i64,
            voided: i64,
            created_at: chrono::DateTime<chrono::Utc>,
        }
        let rows: Vec<Flagged> = sqlx::query_as(sqlx::AssertSqlSafe(
            "select b.id, b.voter_id, ma.key as model_a, mb.key as model_b,
                    coalesce((select array_agg(distinct m) from battle_turn t
                              join answer a on a.turn_id = t.id,
                              unnest(a.identity_matches) m
                              where t.battle_id = b.id and a.identity_leak and not a.discarded),
                             '{}') as leaks,
                    coalesce((select array_agg(r.reason order by r.id) from battle_report r
                              where r.battle_id = b.id), '{}') as reports,
                    (select count(*) from vote v where v.battle_id = b.id) as votes,
                    (select count(*) from vote v where v.battle_id = b.id and v.voided) as voided,
                    b.created_at
             from battle b join model ma on ma.id = b.model_a_id
             join model mb on mb.id = b.model_b_id
             where b.reviewed_at is null
               and b.id in (select battle_id from battle_report
                            union
                            select t.battle_id from answer a
                            join battle_turn t on t.id = a.turn_id
                            where a.identity_leak and not a.discarded)
             order by b.created_at limit $1",
        ))
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.arena.admin_pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut reasons = Vec::new();
                if !r.leaks.is_empty() {
                    reasons.push(format!("an answer names a model: {}", r.leaks.join(", ")));
                }
                reasons.extend(r.reports.into_iter().map(|x| format!("reported: {x}")));
                FlaggedBattle {
                    battle_id: r.id.to_string(),
                    voter_id: r.voter_id.to_string(),
                    model_a: r.model_a,
                    model_b: r.model_b,
                    reasons,
                    votes: r.votes,
                    voided_votes: r.voided,
                    created_at: r.created_at.to_rfc3339(),
                }
            })
            .collect())
    }
}

/// Closes a battle's flags with the moderator's note (404 for an unknown battle).
async fn close_flags(conn: &mut sqlx::PgConnection, battle: Uuid, reason: &str) -> ArenaResult<()> {
    let updated = sqlx::query("update battle set reviewed_at = now(), review = $2 where id = $1")
        .bind(battle)
        .bind(reason)
        .execute(conn)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(ArenaError::NotFound { what: "battle" });
    }
    Ok(())
}
