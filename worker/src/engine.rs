//! The engine: one thread owns the model and advances up to `max_running` sequences token by
//! token in turn, so concurrent requests stream side by side; more wait in a bounded queue.
//! A request whose client left is dropped at its next token.

use crate::detok::{Detokenizer, TokenBytes};
use crate::metrics::Metrics;
use crate::model::LoadedModel;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;
use tokio::sync::mpsc as tmpsc;

const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_LAST_N: usize = 64;
/// Prompt tokens fed per step: a long prompt is processed in chunks, interleaved with the other
/// sequences' tokens (and attention scores stay small: 9 heads × 256 × context floats).
const PREFILL_CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub struct SamplingParams {
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub seed: u64,
}

/// One generation request, already validated and tokenized.
pub struct Job {
    pub prompt_tokens: Vec<u32>,
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    pub events: tmpsc::UnboundedSender<Event>,
    pub queued_at: Instant,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Text(String),
    Finished {
        reason: &'static str,
        prompt_tokens: usize,
        completion_tokens: usize,
    },
    Failed(String),
}

struct Sequence {
    job: Job,
    model: ModelWeights,
    logits: LogitsProcessor,
    /// Prompt then generated tokens.
    tokens: Vec<u32>,
    /// How many of `tokens` are in the KV cache.
    fed: usize,
    generated: usize,
    detok: Detokenizer,
    /// The answer's text so far (complete characters only), and how much of it was sent.
    text: String,
    sent: usize,
    first_token_at: Option<Instant>,
}

pub struct Engine {
    model: LoadedModel,
    token_bytes: TokenBytes,
    max_running: usize,
    metrics: Arc<Metrics>,
}

impl Engine {
    pub fn new(model: LoadedModel, max_running: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            token_bytes: TokenBytes::new(&model.tokenizer),
            model,
            max_running: max_running.max(1),
            metrics,
        }
    }

    pub fn context_length(&self) -> usize {
        self.model.context_length
    }

    /// Runs until every sender of `jobs` is gone.
    pub fn run(self, jobs: mpsc::Receiver<Job>) {
        let mut running: VecDeque<Sequence> = VecDeque::new();
        loop {
            // Admit waiting jobs while there is room; block only when idle.
            while running.len() < self.max_running {
                let job = if running.is_empty() {
                    match jobs.recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    }
                } else {
                    match jobs.try_recv() {
                        Ok(job) => job,
                        Err(_) => break,
                    }
                };
                self.metrics.waiting.fetch_sub(1, Ordering::SeqCst);
                if job.events.is_closed() {
                    continue;
                }
                self.metrics.running.fetch_add(1, Ordering::SeqCst);
                running.push_back(self.start(job));
            }
            // One token for the sequence at the front, then it goes to the back.
            if let Some(mut seq) = running.pop_front() {
                match self.step(&mut seq) {
                    Ok(true) => running.push_back(seq),
                    Ok(false) => {
                        self.metrics.running.fetch_sub(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "generation failed");
                        let _ = seq.job.events.send(Event::Failed(e.to_string()));
                        self.metrics.running.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
        }
    }

    fn start(&self, job: Job) -> Sequence {
        let s = &job.sampling;
        let sampling = if s.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match s.top_p {
                Some(p) if p < 1.0 => Sampling::TopP {
                    p,
                    temperature: s.temperature,
                },
                _ => Sampling::All {
                    temperature: s.temperature,
                },
            }
        };
        let mut model = self.model.weights.clone();
        model.clear_kv_cache();
        Sequence {
            logits: LogitsProcessor::from_sampling(s.seed, sampling),
            tokens: job.prompt_tokens.clone(),
            fed: 0,
            generated: 0,
            detok: Detokenizer::default(),
            text: String::new(),
            sent: 0,
            first_token_at: None,
            model,
            job,
        }
    }

    /// Feeds one prompt chunk or generates one token; returns false when the sequence is over
    /// (finished, or abandoned by its client).
    fn step(&self, seq: &mut Sequence) -> candle_core::Result<bool> {
        if seq.job.events.is_closed() {
            tracing::info!("client left: generation stopped");
            return Ok(false);
        }
        let end = (seq.fed + PREFILL_CHUNK).min(seq.tokens.len());
        let input = Tensor::new(&seq.tokens[seq.fed..end], &Device::Cpu)?.unsqueeze(0)?;
        let logits = seq.model.forward(&input, seq.fed)?;
        seq.fed = end;
        if seq.fed < seq.tokens.len() {
            return Ok(true);
        }
        let logits = logits.squeeze(0)?;
        let start = seq.tokens.len().saturating_sub(REPEAT_LAST_N);
        let logits = candle_transformers::utils::apply_repeat_penalty(
            &logits,
            REPEAT_PENALTY,
            &seq.tokens[start..],
        )?;
        let token = seq.logits.sample(&logits)?;
        if seq.first_token_at.is_none() {
            let now = Instant::now();
            seq.first_token_at = Some(now);
            self.metrics
                .observe_ttft(now.duration_since(seq.job.queued_at).as_secs_f64());
        }
        self.metrics.tokens.fetch_add(1, Ordering::SeqCst);
        if token == self.model.eos_token {
            return Ok(self.finish(seq, "stop", true));
        }
        seq.tokens.push(token);
        seq.generated += 1;
        let new_text = seq.detok.push(self.token_bytes.get(token));
        seq.text.push_str(&new_text);
        // A stop string ends the answer; neither it nor anything after it is sent. Text that
        // might be the start of a stop string is held back until it is known not to be.
        if let Some(cut) = stop_position(&seq.text, seq.sent, &seq.job.stop) {
            seq.text.truncate(cut);
            self.send_ready(seq, cut);
            return Ok(self.finish(seq, "stop", false));
        }
        let ready = seq.text.len() - held_back(&seq.text, &seq.job.stop);
        if !self.send_ready(seq, ready) {
            return Ok(false);
        }
        if seq.generated >= seq.job.max_tokens {
            return Ok(self.finish(seq, "length", true));
        }
        Ok(true)
    }

    /// Sends `text[sent..upto]`; false if the client is gone.
    fn send_ready(&self, seq: &mut Sequence, upto: usize) -> bool {
        if upto <= seq.sent {
            return true;
        }
        let delta = seq.text[seq.sent..upto].to_owned();
        seq.sent = upto;
        seq.job.events.send(Event::Text(delta)).is_ok()
    }

    /// Ends a sequence; `flush` sends any text held back (not after a stop string).
    fn finish(&self, seq: &mut Sequence, reason: &'static str, flush: bool) -> bool {
        if flush {
            let rest = seq.detok.finish();
            seq.text.push_str(&rest);
            let len = seq.text.len();
            self.send_ready(seq, len);
        }
        let _ = seq.job.events.send(Event::Finished {
            reason,
            prompt_tokens: seq.job.prompt_tokens.len(),
            completion_tokens: seq.generated,
        });
        self.metrics
            .requests_finished
            .fetch_add(1, Ordering::SeqCst);
        false
    }
}

/// The earliest start of a stop string at or after `from`.
fn stop_position(text: &str, from: usize, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter_map(|s| text[from..].find(s.as_str()).map(|i| from + i))
        .min()
}

/// How many bytes at the end of `text` could be the beginning of a stop string.
fn held_back(text: &str, stops: &[String]) -> usize {
    stops
        .iter()
        .filter_map(|stop| {
            (1..stop.len())
                .rev()
                .find(|&k| stop.is_char_boundary(k) && text.ends_with(&stop[..k]))
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_strings_are_found_and_their_prefixes_held_back() {
        let stops = vec!["END".to_owned(), "\n\n".to_owned()];
        assert_eq!(stop_position("abcENDx", 0, &stops), Some(3));
        assert_eq!(stop_position("abc", 0, &stops), None);
        assert_eq!(held_back("abcEN", &stops), 2);
        assert_eq!(held_back("abc\n", &stops), 1);
        assert_eq!(held_back("abc", &stops), 0);
        assert_eq!(held_back("ENDabc", &[]), 0);
    }
}
