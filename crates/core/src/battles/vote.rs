//! The vote: recorded on the latest turn in one transaction with its counts (and the rigging
//! defences' cap, score and evidence, see [`crate::rigging`]), then the reveal.

use super::BattleRow;
use super::store::{latest_turn, lock_battle_for_vote, touch_battle};
use crate::Arena;
use crate::error::{ArenaError, ArenaResult};
use crate::voters::VoterId;
use arena_domain::Winner;
use arena_domain::api::Reveal;
use sqlx::Row;
use std::collections::BTreeMap;
use uuid::Uuid;

impl Arena {
    /// Records the vote on the latest turn and reveals the models. Idempotent per key: the same
    /// key returns the same answer and writes nothing.
    #[tracing::instrument(skip(self, idempotency_key), fields(voter.id = %voter.0, battle.id = %battle_id))]
    pub async fn vote(
        &self,
        voter: VoterId,
        battle_id: Uuid,
        winner: &str,
        idempotency_key: Option<&str>,
    ) -> ArenaResult<Reveal> {
        self.vote_from(voter, battle_id, winner, None, idempotency_key, None)
            .await
    }

    /// [`Arena::vote`] from a client address (the rigging defences' burst signal keeps only a
    /// salted hash of it), with a rubric campaign's verdict per axis (`axes`): the overall
    /// winner is then derived by the campaign's rule (`winner`, if given, must agree; `both_bad`
    /// alone, without axes, stays possible).
    pub async fn vote_from(
        &self,
        voter: VoterId,
        battle_id: Uuid,
        winner: &str,
        axes: Option<&BTreeMap<String, String>>,
        idempotency_key: Option<&str>,
        client: Option<std::net::IpAddr>,
    ) -> ArenaResult<Reveal> {
        let client = client
            .filter(|ip| !(self.rigging.burst_exempt_loopback && ip.is_loopback()))
            .map(|ip| crate::limits::address_key(ip).to_string());
        if let Some(key) = idempotency_key
            && (key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ArenaError::invalid(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 200 visible ASCII characters",
            ));
        }
        // The latest run's ratings, read before the transaction (no connection is held while
        // they load); a failure only leaves this vote unscored.
        let predictor = self.predictor().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the latest ratings could not be read; vote not scored");
            None
        });
        let mut tx = self.pool.begin().await?;
        // Locking the battle serialises concurrent votes (and retries) on it.
        let (battle, rubric) = lock_battle_for_vote(&mut tx, voter, battle_id).await?;
        let winner = decide_winner(rubric.as_ref(), winner, axes)?;
        let standing = crate::voters::standing(&mut *tx, voter).await?;
        crate::voters::refuse_banned(&standing)?;
        if standing.terms_version.as_deref() != Some(arena_domain::terms::TERMS_VERSION) {
            return Err(ArenaError::Forbidden {
                code: "terms_not_accepted",
                message: format!(
                    "before your first vote, read and accept the terms of use and data-use \
                     notice (version {}): POST /api/v1/terms/accept",
                    arena_domain::terms::TERMS_VERSION
                ),
            });
        }
        if let Some(key) = idempotency_key {
            let previous = sqlx::query(
                "select v.battle_id, v.winner, t.turn_index from vote v
                 join battle_turn t on t.id = v.turn_id
                 where v.voter_id = $1 and v.idempotency_key = $2",
            )
            .bind(voter.0)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = previous {
                let previous_battle: Uuid = row.get("battle_id");
                if previous_battle != battle_id {
                    return Err(ArenaError::conflict(
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used for another battle",
                    ));
                }
                let previous_winner: String = row.get("winner");
                if previous_winner != winner.as_str() {
                    return Err(ArenaError::conflict(
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used with another choice",
                    ));
                }
                return self.reveal(&battle, &previous_winner, row.get("turn_index"));
            }
        }
        let turn = latest_turn(&mut tx, battle_id).await?;
        match turn.status.as_str() {
            "ready" => {}
            "generating" => {
                return Err(ArenaError::conflict(
                    "not_ready",
                    "both answers must finish before you vote",
                ));
            }
            "failed" => {
                return Err(ArenaError::conflict(
                    "battle_failed",
                    "an answer failed, so this battle cannot be voted; start a new battle",
                ));
            }
            _ => {
                let existing: String =
                    sqlx::query_scalar("select winner from vote where turn_id = $1")
                        .bind(turn.id)
                        .fetch_one(&mut *tx)
                        .await?;
                if existing == winner.as_str() {
                    return self.reveal(&battle, &existing, turn.turn_index);
                }
                return Err(ArenaError::conflict(
                    "already_voted",
                    "this turn already has a different vote; votes are final",
                ));
            }
        }
        // Counted on the leaderboard only while the battle is anonymous (no earlier vote
        // revealed the names) and no answer in it named a model or vendor.
        let counted: bool = sqlx::query_scalar(
            "select b.anonymous
                    and not exists (select 1 from vote v where v.battle_id = b.id)
                    and not exists (select 1 from answer a join battle_turn t on t.id = a.turn_id
                                    where t.battle_id = b.id and not a.discarded
                                      and (a.identity_leak or a.status <> 'done'))
             from battle b where b.id = $1",
        )
        .bind(battle_id)
        .fetch_one(&mut *tx)
        .await?;
        // The influence cap: past it, the vote is stored but not counted.
        let capped = counted
            && !crate::rigging::under_cap(
                &mut tx,
                voter.0,
                battle.model_a_id,
                battle.model_b_id,
                self.rigging.cap_per_pair_per_day,
            )
            .await?;
        let counted = counted && !capped;
        // The reading time: from the turn's last token (it became ready) to now.
        let (vote_id, client_hash): (i64, Option<String>) = sqlx::query_as(
            "insert into vote (turn_id, battle_id, voter_id, winner, counted, idempotency_key,
                               txid, capped, read_ms, client_hash)
             values ($1, $2, $3, $4, $5, $6, pg_current_xact_id(), $7,
                     (select least(extract(epoch from clock_timestamp() - t.updated_at) * 1000,
                                   2e9)::integer
                      from battle_turn t where t.id = $1),
                     case when $8::text is null then null
                          else encode(sha256(convert_to(
                                   (select salt from rigging_salt) || $8, 'UTF8')), 'hex')
                     end)
             returning id, client_hash",
        )
        .bind(turn.id)
        .bind(battle_id)
        .bind(voter.0)
        .bind(winner.as_str())
        .bind(counted)
        .bind(idempotency_key)
        .bind(capped)
        .bind(client)
        .fetch_one(&mut *tx)
        .await?;
        if let (Some(_), Some(axes)) = (&rubric, axes) {
            let keys: Vec<String> = axes.keys().cloned().collect();
            let verdicts: Vec<String> = axes.values().cloned().collect();
            sqlx::query(
                "insert into vote_axis (vote_id, axis, winner)
                 select $1, unnest($2::text[]), unnest($3::text[])",
            )
            .bind(vote_id)
            .bind(keys)
            .bind(verdicts)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("update battle_turn set status = 'voted', updated_at = now() where id = $1")
            .bind(turn.id)
            .execute(&mut *tx)
            .await?;
        touch_battle(&mut tx, battle_id).await?;
        // A quarantined voter's vote is stored like any other (the voter sees nothing
        // different) but never enters the counts: voided at once, so a clear brings it in.
        let held =
            counted && self.rigging.enabled && crate::rigging::is_held(&mut tx, voter.0).await?;
        let mut flag = None;
        if held {
            crate::leaderboard::counts::void_before_counting(
                &mut tx,
                vote_id,
                crate::rigging::QUARANTINE_REASON,
            )
            .await?;
        } else if counted {
            // No global lock: the counts commit with the vote, and a rating run names the
            // snapshot it read them in (see leaderboard/serve.rs). One of 16 shards per pair, so
            // a popular pair's votes do not queue on one row.
            let one = |w: Winner| i64::from(winner == w);
            let shard = i16::from(rand::random::<u8>() % 16);
            sqlx::query(
                "insert into pair_count (model_a_id, model_b_id, language, day,
                                         wins_a, wins_b, ties, both_bad, shard)
                 values ($1, $2, $3, (now() at time zone 'utc')::date, $4, $5, $6, $7, $8)
                 on conflict (model_a_id, model_b_id, language, day, shard) do update set
                     wins_a = pair_count.wins_a + excluded.wins_a,
                     wins_b = pair_count.wins_b + excluded.wins_b,
                     ties = pair_count.ties + excluded.ties,
                     both_bad = pair_count.both_bad + excluded.both_bad",
            )
            .bind(battle.model_a_id)
            .bind(battle.model_b_id)
            .bind(battle.language.clone().unwrap_or_default())
            .bind(one(Winner::ModelA))
            .bind(one(Winner::ModelB))
            .bind(one(Winner::Tie))
            .bind(one(Winner::BothBad))
            .bind(shard)
            .execute(&mut *tx)
            .await?;
            flag = crate::rigging::after_counted_vote(
                &mut tx,
                &self.rigging,
                crate::rigging::CountedVote {
                    vote_id,
                    battle_id,
                    client_hash,
                    voter: voter.0,
                    model_a: battle.model_a_id,
                    model_b: battle.model_b_id,
                    winner,
                    predictor: predictor.as_deref(),
                },
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(battle.id = %battle_id, winner = %winner, counted, capped, held, "vote recorded");
        crate::metrics::vote(winner.as_str(), counted && !held, capped);
        if held {
            crate::metrics::voided(crate::metrics::VOID_QUARANTINE, true, 1);
        }
        // The vote is acknowledged either way: a quarantine that fails here is tried again at
        // the voter's next vote (the evidence or the signal is still there).
        if let Some(flag) = flag
            && let Err(e) = crate::rigging::quarantine(&self.pool, voter.0, &flag).await
        {
            tracing::warn!(error = %e, voter.id = %voter.0, "quarantine failed; retried at the next vote");
        }
        self.reveal(&battle, winner.as_str(), turn.turn_index)
    }

    pub(super) fn reveal(
        &self,
        battle: &BattleRow,
        winner: &str,
        turn: i32,
    ) -> ArenaResult<Reveal> {
        let name = |id| {
            self.catalog
                .get(id)
                .map(|m| m.display_name)
                .ok_or_else(|| ArenaError::Internal(format!("model {id} missing from catalog")))
        };
        Ok(Reveal {
            model_a: name(battle.model_a_id)?,
            model_b: name(battle.model_b_id)?,
            winner: winner.to_owned(),
            turn,
        })
    }
}

/// The vote's overall winner: as given, or derived from a rubric campaign's verdict per axis
/// (`winner`, if given too, must agree; `both_bad` alone, without axes, stays possible).
fn decide_winner(
    rubric: Option<&arena_domain::campaign::Rubric>,
    winner: &str,
    axes: Option<&BTreeMap<String, String>>,
) -> ArenaResult<Winner> {
    let parse = |w: &str| {
        w.parse::<Winner>().map_err(|e: arena_domain::WinnerError| {
            ArenaError::invalid("invalid_winner", e.to_string())
        })
    };
    Ok(match (rubric, axes) {
        (Some(rubric), Some(axes)) => {
            let derived = rubric
                .derive(axes)
                .map_err(|e| ArenaError::invalid("invalid_axes", e.to_string()))?;
            if !winner.is_empty() && parse(winner)? != derived {
                return Err(ArenaError::invalid(
                    "winner_mismatch",
                    format!(
                        "the rubric's rule makes {derived} the winner of these verdicts, \
                         not {winner}"
                    ),
                ));
            }
            derived
        }
        (Some(_), None) if winner != "both_bad" => {
            return Err(ArenaError::invalid(
                "axes_required",
                "this campaign votes each axis of its rubric: send axes (or both_bad)",
            ));
        }
        (None, Some(_)) => {
            return Err(ArenaError::invalid(
                "invalid_axes",
                "this battle's campaign has no rubric: send a winner only",
            ));
        }
        _ => parse(winner)?,
    })
}
