//! Generating a turn: both answers streamed from the gateway side by side, published to the
//! live turn's viewers, and recorded when each side ends.

use super::*;
use crate::live::{GenerationSlot, LiveTurn};
use arena_domain::identity::identity_matches;
use arena_domain::markdown::StyleFeatures;
use arena_inference::{ChatEvent, ChatMessage, ChatRequest, FinishReason, Role};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Arena {
    /// Spawns the generation of both answers of a turn.
    pub(super) fn start_generation(
        &self,
        slot: GenerationSlot,
        battle_id: Uuid,
        turn_id: Uuid,
        models: [Model; 2],
        answer_ids: [Uuid; 2],
        conversation: &[(String, Option<String>, Option<String>)],
    ) {
        let live = self
            .live
            .start(battle_id, turn_id, self.settings.abandon_grace());
        let outcomes = Arc::new(tokio::sync::Mutex::new(Vec::<bool>::new()));
        let arena = self.clone();
        let [model_a, model_b] = models;
        let messages_a = messages_for(&model_a, conversation, Side::A);
        let messages_b = messages_for(&model_b, conversation, Side::B);
        let [answer_a, answer_b] = answer_ids;
        // The answers are generated for the request that asked for them: its id goes to the
        // workers.
        let request_id = arena_inference::request_id::current();
        tokio::spawn(arena_inference::request_id::scope_opt(
            request_id,
            async move {
                let a =
                    arena.generate_side(&live, &outcomes, Side::A, answer_a, &model_a, messages_a);
                let b =
                    arena.generate_side(&live, &outcomes, Side::B, answer_b, &model_b, messages_b);
                futures::future::join(a, b).await;
                live.mark_finished();
                slot.release().await;
                arena.live.finish(battle_id, turn_id);
            },
        ));
    }

    #[tracing::instrument(skip_all, fields(turn.id = %live.turn_id, side = side.as_str(), model.key = %model.key))]
    async fn generate_side(
        &self,
        live: &Arc<LiveTurn>,
        outcomes: &tokio::sync::Mutex<Vec<bool>>,
        side: Side,
        answer_id: Uuid,
        model: &Model,
        messages: Vec<ChatMessage>,
    ) {
        let request = ChatRequest {
            messages,
            max_tokens: Some(model.max_tokens.max(1) as u32),
            temperature: model.temperature,
            top_p: model.top_p,
            seed: None,
            stop: Vec::new(),
        };
        let started = Instant::now();
        let mut record = AnswerRecord::default();
        let result = tokio::select! {
            _ = live.cancel.cancelled() => Err("cancelled: the voter left before the answer finished".to_owned()),
            r = self.run_stream(live, side, model, request, started, &mut record) => r,
        };
        record.duration_ms = Some(started.elapsed().as_millis() as i32);
        crate::metrics::answer(
            &model.key,
            record.endpoint_url.as_deref(),
            result.is_ok(),
            record.ttft,
            result.as_ref().ok().map(|r| r.1),
            started.elapsed(),
        );
        let final_event = match &result {
            Ok((finish_reason, tokens)) => StreamEvent::Done {
                side,
                finish_reason: finish_reason.clone(),
                tokens: *tokens,
            },
            Err(message) => {
                tracing::warn!(error = %message, "answer failed");
                StreamEvent::Error {
                    side,
                    message: message.clone(),
                }
            }
        };
        // Persist first, then tell the viewers: once a client has seen both final events, the
        // turn's state in the database already allows (or refuses) the vote.
        let mut outcomes = outcomes.lock().await;
        outcomes.push(result.is_ok());
        let both_finished = outcomes.len() == 2;
        let turn_status = if outcomes.iter().all(|ok| *ok) {
            "ready"
        } else {
            "failed"
        };
        let leaks = if result.is_ok() {
            identity_matches(&record.content, &self.catalog.identity_names())
        } else {
            Vec::new()
        };
        // The database may be restarting: retry for about 30 s before giving up, since a
        // viewer told "done" of an answer that is not recorded could never vote on it.
        let mut delay = Duration::from_millis(100);
        let mut recorded = false;
        for attempt in 1..=20 {
            match self
                .persist_answer(
                    answer_id,
                    live.turn_id,
                    &record,
                    &result,
                    &leaks,
                    both_finished.then_some(turn_status),
                )
                .await
            {
                Ok(()) => {
                    recorded = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "could not record the answer; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
        drop(outcomes);
        if recorded {
            if both_finished {
                crate::metrics::turn_finished(if turn_status == "ready" {
                    "done"
                } else {
                    "failed"
                });
            }
            live.publish(final_event);
        } else {
            tracing::error!("gave up recording the answer");
            live.publish(StreamEvent::Error {
                side,
                message: "the answer could not be recorded; start a new battle".to_owned(),
            });
        }
    }

    async fn run_stream(
        &self,
        live: &LiveTurn,
        side: Side,
        model: &Model,
        request: ChatRequest,
        started: Instant,
        record: &mut AnswerRecord,
    ) -> Result<(String, u32), String> {
        record.sampling = serde_json::json!({
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
        });
        record.system_prompt_hash = model
            .system_prompt
            .as_ref()
            .map(|s| hex::encode(Sha256::digest(s.as_bytes())));
        let mut stream = self
            .gateway
            .stream_chat(&model.key, request)
            .await
            .map_err(|e| format!("this answer failed: {}", e.public_message()))?;
        record.endpoint_id = stream.endpoint_id().parse().ok();
        record.endpoint_url = Some(stream.endpoint_url().to_owned());
        let mut deltas = 0u32;
        while let Some(event) = stream.next().await {
            match event {
                Ok(ChatEvent::Delta(text)) => {
                    if text.is_empty() {
                        continue;
                    }
                    if record.ttft.is_none() {
                        record.ttft = Some(started.elapsed());
                        record.ttft_ms = Some(started.elapsed().as_millis() as i32);
                    }
                    deltas += 1;
                    record.content.push_str(&text);
                    live.publish(StreamEvent::Delta { side, text });
                }
                Ok(ChatEvent::Finished {
                    finish_reason,
                    prompt_tokens,
                    completion_tokens,
                }) => {
                    let reason = match finish_reason {
                        FinishReason::Stop => "stop".to_owned(),
                        FinishReason::Length => "length".to_owned(),
                        FinishReason::Other(other) => other,
                    };
                    record.finish_reason = Some(reason.clone());
                    record.prompt_tokens = prompt_tokens.map(|t| t as i32);
                    let tokens = completion_tokens.unwrap_or(deltas);
                    record.completion_tokens = Some(tokens as i32);
                    return Ok((reason, tokens));
                }
                Err(e) => return Err(format!("this answer failed: {}", e.public_message())),
            }
        }
        Err("this answer failed: the worker's stream ended early".into())
    }

    async fn persist_answer(
        &self,
        answer_id: Uuid,
        turn_id: Uuid,
        record: &AnswerRecord,
        result: &Result<(String, u32), String>,
        identity_leaks: &[String],
        turn_status: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let style = StyleFeatures::measure(&record.content);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            // A battle erased while its answer was being written (docs/privacy.md) keeps no
            // text: the answer's state is recorded, its content stays empty.
            "update answer set status = $2, error = $4, finish_reason = $5,
                    content = case when exists (
                        select 1 from battle_turn t join battle b on b.id = t.battle_id
                        where t.id = answer.turn_id and b.redacted_at is not null)
                        then '' else $3 end,
                    sampling = $6, system_prompt_hash = $7, prompt_tokens = $8,
                    completion_tokens = $9, ttft_ms = $10, duration_ms = $11, token_count = $9,
                    header_count = $12, list_count = $13, bold_count = $14, identity_leak = $15,
                    endpoint_id = $16, endpoint_url = $17, identity_matches = $18,
                    finished_at = now()
             where id = $1 and status in ('pending', 'streaming')",
        )
        .bind(answer_id)
        .bind(if result.is_ok() { "done" } else { "error" })
        .bind(&record.content)
        .bind(result.as_ref().err())
        .bind(&record.finish_reason)
        .bind(&record.sampling)
        .bind(&record.system_prompt_hash)
        .bind(record.prompt_tokens)
        .bind(record.completion_tokens)
        .bind(record.ttft_ms)
        .bind(record.duration_ms)
        .bind(style.header_count as i32)
        .bind(style.list_count as i32)
        .bind(style.bold_count as i32)
        .bind(!identity_leaks.is_empty())
        .bind(record.endpoint_id)
        .bind(&record.endpoint_url)
        .bind(identity_leaks)
        .execute(&mut *tx)
        .await?;
        if let Some(status) = turn_status {
            // A turn a sibling already failed (this process was taken for dead) stays failed.
            sqlx::query(
                "update battle_turn set status = $2, updated_at = now()
                 where id = $1 and status = 'generating'",
            )
            .bind(turn_id)
            .bind(status)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

#[derive(Default)]
struct AnswerRecord {
    content: String,
    endpoint_id: Option<Uuid>,
    endpoint_url: Option<String>,
    finish_reason: Option<String>,
    sampling: serde_json::Value,
    system_prompt_hash: Option<String>,
    prompt_tokens: Option<i32>,
    completion_tokens: Option<i32>,
    ttft_ms: Option<i32>,
    ttft: Option<Duration>,
    duration_ms: Option<i32>,
}

/// The messages one side's model sees: its system prompt, then every turn with that side's
/// own earlier answers.
fn messages_for(
    model: &Model,
    conversation: &[(String, Option<String>, Option<String>)],
    side: Side,
) -> Vec<ChatMessage> {
    let mut messages = Vec::new();
    if let Some(system) = &model.system_prompt {
        messages.push(ChatMessage {
            role: Role::System,
            content: system.clone(),
        });
    }
    for (prompt, answer_a, answer_b) in conversation {
        messages.push(ChatMessage {
            role: Role::User,
            content: prompt.clone(),
        });
        let answer = match side {
            Side::A => answer_a,
            Side::B => answer_b,
        };
        if let Some(answer) = answer {
            messages.push(ChatMessage {
                role: Role::Assistant,
                content: answer.clone(),
            });
        }
    }
    messages
}
