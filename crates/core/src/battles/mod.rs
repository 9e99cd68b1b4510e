//! Battles: a prompt, two anonymous answers generated side by side, one vote per turn, the
//! reveal. Battle state lives here, on the server; nothing sent to the client before the vote
//! names a model.

use crate::Arena;
use crate::catalog::Model;
use crate::error::{ArenaError, ArenaResult};
use crate::live::{GenerationSlot, Requester, ViewerGuard};
use crate::voters::VoterId;
use arena_domain::api::{AnswerView, BattleCreated, BattleView, Reveal, StreamEvent, TurnView};
use arena_domain::{Prompt, Side, Winner};
use sqlx::Row;
use tokio::sync::broadcast;
use uuid::Uuid;

mod generation;
mod report;
mod store;
pub use store::recover_orphans;
use store::{
    history, insert_answers, insert_turn, latest_turn, lock_battle, owned_battle, touch_battle,
};

/// What `GET /battles/{id}/stream` sends: the events so far, then (if the turn is still being
/// generated) the live ones.
pub struct TurnStream {
    pub replay: Vec<StreamEvent>,
    pub live: Option<(broadcast::Receiver<StreamEvent>, ViewerGuard)>,
}

#[derive(sqlx::FromRow)]
struct BattleRow {
    id: Uuid,
    model_a_id: Uuid,
    model_b_id: Uuid,
    language: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TurnRow {
    id: Uuid,
    turn_index: i32,
    prompt: String,
    status: String,
}

#[derive(sqlx::FromRow)]
struct AnswerRow {
    turn_id: Uuid,
    side: String,
    discarded: bool,
    status: String,
    content: String,
    error: Option<String>,
    finish_reason: Option<String>,
    completion_tokens: Option<i32>,
}

/// Languages are short BCP 47-like tags (`eu`, `en`, `es-ES`).
fn parse_language(language: Option<String>) -> ArenaResult<Option<String>> {
    match language
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
    {
        None => Ok(None),
        Some(l)
            if l.len() <= 16
                && l.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            Ok(Some(l.to_ascii_lowercase()))
        }
        Some(_) => Err(ArenaError::invalid(
            "invalid_language",
            "language must be a short tag such as \"eu\" or \"en\"",
        )),
    }
}

fn parse_prompt(raw: &str) -> ArenaResult<Prompt> {
    Prompt::parse(raw).map_err(|e| ArenaError::invalid("invalid_prompt", e.to_string()))
}

impl Arena {
    /// Creates a battle between two distinct available models and starts both answers.
    #[tracing::instrument(skip(self, prompt), fields(voter.id = %requester.voter.0))]
    pub async fn create_battle(
        &self,
        requester: Requester,
        prompt: &str,
        language: Option<String>,
    ) -> ArenaResult<BattleCreated> {
        let voter = requester.voter;
        let prompt = parse_prompt(prompt)?;
        let language = parse_language(language)?;
        crate::voters::refuse_banned(&crate::voters::standing(&self.pool, voter).await?)?;
        let slot = self.reserve_generation(requester)?;
        let (model_a, model_b) = self
            .catalog
            .choose_pair(|m| self.gateway.is_model_available(&m.key))
            .ok_or_else(|| {
                ArenaError::Unavailable(
                    "no two models are available right now; try again in a minute".into(),
                )
            })?;
        let battle_id = Uuid::now_v7();
        let turn_id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into battle (id, voter_id, model_a_id, model_b_id, language)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(battle_id)
        .bind(voter.0)
        .bind(model_a.id)
        .bind(model_b.id)
        .bind(&language)
        .execute(&mut *tx)
        .await?;
        insert_turn(
            &mut tx,
            turn_id,
            battle_id,
            0,
            prompt.as_str(),
            self.instance,
        )
        .await?;
        let answers = insert_answers(&mut tx, turn_id, 0, [&model_a, &model_b]).await?;
        tx.commit().await?;
        tracing::info!(battle.id = %battle_id, "battle created");

        let conversation = vec![(prompt.into_inner(), None, None)];
        self.start_generation(
            slot,
            battle_id,
            turn_id,
            [model_a, model_b],
            answers,
            &conversation,
        );
        Ok(BattleCreated {
            battle_id: battle_id.to_string(),
            turn: 0,
        })
    }

    /// The next turn of the conversation, to the same two models with the whole history.
    #[tracing::instrument(skip(self, prompt), fields(voter.id = %requester.voter.0, battle.id = %battle_id))]
    pub async fn continue_battle(
        &self,
        requester: Requester,
        battle_id: Uuid,
        prompt: &str,
    ) -> ArenaResult<BattleCreated> {
        let voter = requester.voter;
        let prompt = parse_prompt(prompt)?;
        let slot = self.reserve_generation(requester)?;
        let mut tx = self.pool.begin().await?;
        let battle = lock_battle(&mut tx, voter, battle_id).await?;
        let last = latest_turn(&mut tx, battle_id).await?;
        match last.status.as_str() {
            "ready" | "voted" => {}
            "generating" => {
                return Err(ArenaError::conflict(
                    "turn_in_progress",
                    "the answers to the previous prompt are still being written",
                ));
            }
            _ => {
                return Err(ArenaError::conflict(
                    "battle_failed",
                    "this battle failed; start a new battle",
                ));
            }
        }
        let next = last.turn_index + 1;
        if next as u32 >= self.settings.max_turns {
            return Err(ArenaError::conflict(
                "too_many_turns",
                format!("a battle has at most {} turns", self.settings.max_turns),
            ));
        }
        let models = self.battle_models(&battle)?;
        let mut conversation = history(&mut tx, battle_id).await?;
        conversation.push((prompt.as_str().to_owned(), None, None));
        let turn_id = Uuid::now_v7();
        insert_turn(
            &mut tx,
            turn_id,
            battle_id,
            next,
            prompt.as_str(),
            self.instance,
        )
        .await?;
        let answers = insert_answers(&mut tx, turn_id, 0, [&models[0], &models[1]]).await?;
        touch_battle(&mut tx, battle_id).await?;
        tx.commit().await?;
        self.start_generation(slot, battle_id, turn_id, models, answers, &conversation);
        Ok(BattleCreated {
            battle_id: battle_id.to_string(),
            turn: next,
        })
    }

    /// Both answers of the latest turn again, before any vote on it; the old ones are kept,
    /// marked discarded.
    #[tracing::instrument(skip(self), fields(voter.id = %requester.voter.0, battle.id = %battle_id))]
    pub async fn regenerate(
        &self,
        requester: Requester,
        battle_id: Uuid,
    ) -> ArenaResult<BattleCreated> {
        let voter = requester.voter;
        let slot = self.reserve_generation(requester)?;
        let mut tx = self.pool.begin().await?;
        let battle = lock_battle(&mut tx, voter, battle_id).await?;
        let last = latest_turn(&mut tx, battle_id).await?;
        if last.status != "ready" {
            return Err(ArenaError::conflict(
                "not_regenerable",
                "only finished, unvoted answers can be regenerated",
            ));
        }
        let attempt: i32 = sqlx::query_scalar(
            "update answer set discarded = true where turn_id = $1 and not discarded
             returning attempt",
        )
        .bind(last.id)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .max()
        .unwrap_or(0)
            + 1;
        sqlx::query(
            "update battle_turn set status = 'generating', owner = $2, updated_at = now()
             where id = $1",
        )
        .bind(last.id)
        .bind(self.instance)
        .execute(&mut *tx)
        .await?;
        let models = self.battle_models(&battle)?;
        let mut conversation = history(&mut tx, battle_id).await?;
        conversation.pop(); // the turn being regenerated
        conversation.push((last.prompt.clone(), None, None));
        let answers = insert_answers(&mut tx, last.id, attempt, [&models[0], &models[1]]).await?;
        touch_battle(&mut tx, battle_id).await?;
        tx.commit().await?;
        self.start_generation(slot, battle_id, last.id, models, answers, &conversation);
        Ok(BattleCreated {
            battle_id: battle_id.to_string(),
            turn: last.turn_index,
        })
    }

    fn reserve_generation(&self, requester: Requester) -> ArenaResult<GenerationSlot> {
        let limits = self.limits.settings();
        if !limits.enabled {
            return self.live.reserve(requester, usize::MAX, usize::MAX);
        }
        self.live.reserve(
            requester,
            limits.max_generating_per_voter,
            limits.max_generating_per_address,
        )
    }

    fn battle_models(&self, battle: &BattleRow) -> ArenaResult<[Model; 2]> {
        let a = self.catalog.get(battle.model_a_id);
        let b = self.catalog.get(battle.model_b_id);
        match (a, b) {
            (Some(a), Some(b)) if a.active && b.active => Ok([a, b]),
            _ => Err(ArenaError::conflict(
                "model_retired",
                "one of the models of this battle is no longer offered; start a new battle",
            )),
        }
    }

    /// The latest turn's events: replayed from the database once finished, live otherwise.
    pub async fn stream(&self, voter: VoterId, battle_id: Uuid) -> ArenaResult<TurnStream> {
        let mut conn = self.pool.acquire().await?;
        owned_battle(&mut conn, voter, battle_id).await?;
        if let Some(live) = self.live.get(battle_id) {
            let (replay, rx, guard) = live.subscribe();
            return Ok(TurnStream {
                replay,
                live: Some((rx, guard)),
            });
        }
        let last = latest_turn(&mut conn, battle_id).await?;
        if last.status == "generating" {
            // Generated by another process: follow it from there.
            let owner: Option<Uuid> =
                sqlx::query_scalar("select owner from battle_turn where id = $1")
                    .bind(last.id)
                    .fetch_one(&mut *conn)
                    .await?;
            if owner.is_some_and(|o| o != self.instance) {
                drop(conn);
                let live = self
                    .remote
                    .attach(&self.pool, last.id, self.settings.abandon_grace());
                let (replay, rx, guard) = live.subscribe();
                return Ok(TurnStream {
                    replay,
                    live: Some((rx, guard)),
                });
            }
        }
        let answers: Vec<AnswerRow> = sqlx::query_as(
            "select turn_id, side, discarded, status, content, error, finish_reason,
                    completion_tokens
             from answer where turn_id = $1 and not discarded order by side",
        )
        .bind(last.id)
        .fetch_all(&mut *conn)
        .await?;
        let mut replay = Vec::new();
        for a in answers {
            let side = Side::parse(&a.side).unwrap_or(Side::A);
            if !a.content.is_empty() {
                replay.push(StreamEvent::Delta {
                    side,
                    text: a.content.clone(),
                });
            }
            match a.status.as_str() {
                "done" => replay.push(StreamEvent::Done {
                    side,
                    finish_reason: a.finish_reason.unwrap_or_else(|| "stop".into()),
                    tokens: a.completion_tokens.unwrap_or(0).max(0) as u32,
                }),
                "error" => replay.push(StreamEvent::Error {
                    side,
                    message: a.error.unwrap_or_else(|| "this answer failed".into()),
                }),
                // A generation interrupted without a record (cannot happen after start-up
                // recovery, but never leave a client waiting forever).
                _ => replay.push(StreamEvent::Error {
                    side,
                    message: "this answer was interrupted".into(),
                }),
            }
        }
        Ok(TurnStream { replay, live: None })
    }

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
        self.vote_from(voter, battle_id, winner, idempotency_key, None)
            .await
    }

    /// [`Arena::vote`] from a client address (the rigging defences' burst signal keeps only a
    /// salted hash of it).
    pub async fn vote_from(
        &self,
        voter: VoterId,
        battle_id: Uuid,
        winner: &str,
        idempotency_key: Option<&str>,
        client: Option<std::net::IpAddr>,
    ) -> ArenaResult<Reveal> {
        let client = client
            .filter(|ip| !(self.rigging.burst_exempt_loopback && ip.is_loopback()))
            .map(|ip| crate::limits::address_key(ip).to_string());
        let winner: Winner = winner.parse().map_err(|e: arena_domain::WinnerError| {
            ArenaError::invalid("invalid_winner", e.to_string())
        })?;
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
        let battle = lock_battle(&mut tx, voter, battle_id).await?;
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
        sqlx::query("update battle_turn set status = 'voted', updated_at = now() where id = $1")
            .bind(turn.id)
            .execute(&mut *tx)
            .await?;
        touch_battle(&mut tx, battle_id).await?;
        if counted {
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
            crate::rigging::after_counted_vote(
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
        tracing::info!(battle.id = %battle_id, winner = %winner, counted, capped, "vote recorded");
        self.reveal(&battle, winner.as_str(), turn.turn_index)
    }

    fn reveal(&self, battle: &BattleRow, winner: &str, turn: i32) -> ArenaResult<Reveal> {
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

    /// The battle as its voter may see it: model names only once a vote revealed them.
    pub async fn battle_view(&self, voter: VoterId, battle_id: Uuid) -> ArenaResult<BattleView> {
        let mut conn = self.pool.acquire().await?;
        let battle = owned_battle(&mut conn, voter, battle_id).await?;
        let turns: Vec<TurnRow> = sqlx::query_as(
            "select id, turn_index, prompt, status from battle_turn
             where battle_id = $1 order by turn_index",
        )
        .bind(battle_id)
        .fetch_all(&mut *conn)
        .await?;
        let votes: Vec<(Uuid, String)> =
            sqlx::query_as("select turn_id, winner from vote where battle_id = $1")
                .bind(battle_id)
                .fetch_all(&mut *conn)
                .await?;
        let answers: Vec<AnswerRow> = sqlx::query_as(
            "select a.turn_id, a.side, a.discarded, a.status, a.content, a.error,
                    a.finish_reason, a.completion_tokens
             from answer a join battle_turn t on t.id = a.turn_id
             where t.battle_id = $1 order by a.attempt, a.side",
        )
        .bind(battle_id)
        .fetch_all(&mut *conn)
        .await?;
        let revealed = !votes.is_empty();
        let live = self.live.get(battle_id);
        let views = turns
            .into_iter()
            .map(|t| {
                let mut view = TurnView {
                    turn: t.turn_index,
                    prompt: t.prompt,
                    status: t.status,
                    winner: votes.iter().find(|v| v.0 == t.id).map(|v| v.1.clone()),
                    answers: Vec::new(),
                    discarded: Vec::new(),
                };
                for a in answers.iter().filter(|a| a.turn_id == t.id) {
                    let mut answer = AnswerView {
                        side: Side::parse(&a.side).unwrap_or(Side::A),
                        status: a.status.clone(),
                        content: a.content.clone(),
                        error: a.error.clone(),
                        finish_reason: a.finish_reason.clone(),
                        tokens: a.completion_tokens,
                    };
                    if a.discarded {
                        view.discarded.push(answer);
                    } else {
                        if let Some(live) = live.as_ref().filter(|l| l.turn_id == t.id)
                            && answer.status == "streaming"
                        {
                            answer.content = live.text(answer.side);
                        }
                        view.answers.push(answer);
                    }
                }
                view
            })
            .collect();
        let (model_a, model_b) = if revealed {
            let reveal = self.reveal(&battle, "", 0)?;
            (Some(reveal.model_a), Some(reveal.model_b))
        } else {
            (None, None)
        };
        Ok(BattleView {
            battle_id: battle.id.to_string(),
            language: battle.language,
            model_a,
            model_b,
            turns: views,
        })
    }
}
