//! Battles: a prompt, two anonymous answers generated side by side, one vote per turn, the
//! reveal. Battle state lives here, on the server; nothing sent to the client before the vote
//! names a model.

use crate::Arena;
use crate::catalog::Model;
use crate::error::{ArenaError, ArenaResult};
use crate::live::{GenerationSlot, Requester, ViewerGuard};
use crate::voters::VoterId;
use arena_domain::api::{AnswerView, BattleCreated, BattleView, StreamEvent, TurnView};
use arena_domain::{Prompt, Side};
use tokio::sync::broadcast;
use uuid::Uuid;

mod generation;
mod report;
mod store;
mod vote;
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
    /// Creates a battle between two distinct available models of the campaign (`None`: the
    /// default arena) and starts both answers.
    #[tracing::instrument(skip(self, prompt), fields(voter.id = %requester.voter.0))]
    pub async fn create_battle(
        &self,
        requester: Requester,
        prompt: &str,
        language: Option<String>,
        campaign: Option<&str>,
    ) -> ArenaResult<BattleCreated> {
        let voter = requester.voter;
        let prompt = parse_prompt(prompt)?;
        let language = parse_language(language)?;
        crate::voters::refuse_banned(&crate::voters::standing(&self.pool, voter).await?)?;
        let rules = self.battle_rules(voter, campaign, language).await?;
        let language = rules.language.clone();
        let slot = self.reserve_generation(requester).await?;
        let (model_a, model_b) = self
            .catalog
            .choose_pair_in(rules.pool.as_ref(), rules.pairing, |m| {
                self.gateway.is_model_available(&m.key)
            })
            .ok_or_else(|| {
                ArenaError::Unavailable(
                    "no two models of this arena are available right now; try again in a minute"
                        .into(),
                )
            })?;
        let battle_id = Uuid::now_v7();
        let turn_id = Uuid::now_v7();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into battle (id, voter_id, model_a_id, model_b_id, language, campaign_id)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(battle_id)
        .bind(voter.0)
        .bind(model_a.id)
        .bind(model_b.id)
        .bind(&language)
        .bind(rules.id)
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
        crate::metrics::battle_created();

        self.detect_language(battle_id, turn_id, 0, prompt.as_str().to_owned());
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
        let slot = self.reserve_generation(requester).await?;
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
        self.detect_language(battle_id, turn_id, next, prompt.as_str().to_owned());
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
        let slot = self.reserve_generation(requester).await?;
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

    /// A place among the voter's and the address's generations running now (every process
    /// together), or a 429: a flood cannot fill the worker queues.
    async fn reserve_generation(&self, requester: Requester) -> ArenaResult<GenerationSlot> {
        let limits = self.limits.settings();
        let mut keys = vec![(
            format!("generating/v/{}", requester.voter.0),
            limits.max_generating_per_voter,
        )];
        if let Some(address) = requester.address {
            keys.push((
                format!("generating/a/{}", crate::limits::address_key(address)),
                limits.max_generating_per_address,
            ));
        }
        let message = match self.limits.hold(&keys).await? {
            Ok(held) => return Ok(GenerationSlot(held)),
            Err(0) => "your other battles are still being answered; wait for them to finish",
            Err(_) => {
                "too many battles are being answered for your network address; try again shortly"
            }
        };
        Err(ArenaError::rate_limited(
            "too_many_generating",
            message,
            std::time::Duration::from_secs(5),
        ))
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

impl Arena {
    /// Detects the prompt's language ([`arena_langid`]) off the request path (the answers are
    /// already streaming) and stores it beside the language the voter chose: on the turn, and
    /// for a first turn on the battle too. A prompt too short to tell stays without one.
    fn detect_language(&self, battle_id: Uuid, turn_id: Uuid, index: i32, prompt: String) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let Ok(Some(language)) =
                tokio::task::spawn_blocking(move || arena_langid::detect(&prompt)).await
            else {
                return;
            };
            let stored = sqlx::query(
                "with turn as (update battle_turn set detected_language = $2 where id = $1)
                 update battle set detected_language = $2 where id = $3 and $4 = 0",
            )
            .bind(turn_id)
            .bind(language)
            .bind(battle_id)
            .bind(index)
            .execute(&pool)
            .await;
            if let Err(e) = stored {
                tracing::warn!(error = %e, turn.id = %turn_id, "the detected language was not stored");
            }
        });
    }
}
