//! A voter reports one of their battles (an answer that is harmful, names a model, or is
//! otherwise wrong for the arena): the battle enters the moderators' flagged queue.

use super::store::owned_battle;
use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use crate::voters::VoterId;
use uuid::Uuid;

impl Arena {
    pub async fn report_battle(
        &self,
        voter: VoterId,
        battle_id: Uuid,
        reason: &str,
    ) -> ArenaResult<()> {
        let reason = reason.trim();
        if !(1..=1000).contains(&reason.chars().count()) {
            return Err(ArenaError::invalid(
                "invalid_reason",
                "say what is wrong, in 1 to 1000 characters",
            ));
        }
        let mut conn = self.pool.acquire().await?;
        owned_battle(&mut conn, voter, battle_id).await?;
        sqlx::query("insert into battle_report (battle_id, voter_id, reason) values ($1, $2, $3)")
            .bind(battle_id)
            .bind(voter.0)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
        // A new report reopens a reviewed battle.
        sqlx::query("update battle set reviewed_at = null where id = $1")
            .bind(battle_id)
            .execute(&mut *conn)
            .await?;
        tracing::info!(battle.id = %battle_id, "battle reported");
        Ok(())
    }
}
