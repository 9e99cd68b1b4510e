//! The engine: one thread owns the model and advances up to `max_running` sequences token by
//! token in turn, so concurrent requests stream side by side; more wait in a bounded queue.
//! A request whose client left is dropped at its next token.

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
    tokens: Vec<u32>,
    generated: Vec<u32>,
    /// Text already sent, and the text decoded from `generated` so far.
    sent: usize,
    first_token_at: Option<Instant>,
}

pub struct Engine {
    model: LoadedModel,
    max_running: usize,
    metrics: Arc<Metrics>,
}

impl Engine {
    pub fn new(model: LoadedModel, max_running: usize, metrics: Arc<Metrics>) -> Self {
        Self {
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
            generated: Vec::new(),
            sent: 0,
            first_token_at: None,
            model,
            job,
        }
    }

    /// Generates one token; returns false when the sequence is over (finished or abandoned).
    fn step(&self, seq: &mut Sequence) -> candle_core::Result<bool> {
        if seq.job.events.is_closed() {
            tracing::info!("client left: generation stopped");
            return Ok(false);
        }
        let (input, pos) = if seq.generated.is_empty() {
            (seq.tokens.as_slice(), 0)
        } else {
            (&seq.tokens[seq.tokens.len() - 1..], seq.tokens.len() - 1)
        };
        let input = Tensor::new(input, &Device::Cpu)?.unsqueeze(0)?;
        let logits = seq.model.forward(&input, pos)?.squeeze(0)?;
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
        seq.generated.push(token);
        let text = self
            .model
            .tokenizer
            .decode(&seq.generated, true)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        // A stop string ends the answer; it is not sent.
        if let Some(cut) = seq
            .job
            .stop
            .iter()
            .filter_map(|s| {
                text[seq.sent.min(text.len())..]
                    .find(s.as_str())
                    .map(|i| i + seq.sent)
            })
            .min()
        {
            if cut > seq.sent {
                let _ = seq
                    .job
                    .events
                    .send(Event::Text(text[seq.sent..cut].to_owned()));
            }
            seq.sent = cut;
            return Ok(self.finish(seq, "stop", false));
        }
        // Hold back an incomplete UTF-8 character (decoded as U+FFFD) and a possible stop prefix.
        let mut ready = text.len();
        if text.ends_with('\u{FFFD}') {
            ready = text.trim_end_matches('\u{FFFD}').len();
        }
        for stop in &seq.job.stop {
            for k in (1..stop.len()).rev() {
                if stop.is_char_boundary(k) && text[..ready].ends_with(&stop[..k]) {
                    ready -= k;
                    break;
                }
            }
        }
        if ready > seq.sent && text.is_char_boundary(ready) && text.is_char_boundary(seq.sent) {
            if seq
                .job
                .events
                .send(Event::Text(text[seq.sent..ready].to_owned()))
                .is_err()
            {
                return Ok(false);
            }
            seq.sent = ready;
        }
        if seq.generated.len() >= seq.job.max_tokens {
            return Ok(self.finish(seq, "length", true));
        }
        Ok(true)
    }

    /// Ends a sequence; `flush` sends any text held back (not after a stop string).
    fn finish(&self, seq: &mut Sequence, reason: &'static str, flush: bool) -> bool {
        if flush
            && let Ok(text) = self.model.tokenizer.decode(&seq.generated, true)
            && text.len() > seq.sent
            && text.is_char_boundary(seq.sent)
        {
            let _ = seq
                .job
                .events
                .send(Event::Text(text[seq.sent..].to_owned()));
        }
        let _ = seq.job.events.send(Event::Finished {
            reason,
            prompt_tokens: seq.job.prompt_tokens.len(),
            completion_tokens: seq.generated.len(),
        });
        self.metrics
            .requests_finished
            .fetch_add(1, Ordering::SeqCst);
        false
    }
}
