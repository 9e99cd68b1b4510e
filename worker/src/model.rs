//! Loading SmolLM2 (any llama-architecture GGUF) with candle: the weights (requantized to Q8_0,
//! faster on CPU than Q4_1), the tokenizer rebuilt from the GGUF's own metadata, and the ChatML
//! template.

use candle_core::Device;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_transformers::models::quantized_llama::ModelWeights;
use std::io::Cursor;
use std::path::Path;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the model file {path}: {source} (run scripts/fetch-model.sh)")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid model: {0}")]
    Model(#[from] candle_core::Error),
    #[error("invalid tokenizer metadata: {0}")]
    Tokenizer(String),
}

/// Everything the engine needs, shared read-only; each sequence clones `weights` (the tensors
/// are reference-counted, so a clone costs only its own KV cache).
pub struct LoadedModel {
    pub weights: ModelWeights,
    pub tokenizer: Tokenizer,
    pub eos_token: u32,
    pub context_length: usize,
}

/// Loads the GGUF; `requantize` turns every quantized matrix into Q8_0.
pub fn load(path: &Path, requantize: bool) -> Result<LoadedModel, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader)?;
    let tokenizer = tokenizer_from_gguf(&content)?;
    let eos_token = content
        .metadata
        .get("tokenizer.ggml.eos_token_id")
        .and_then(|v| v.to_u32().ok())
        .unwrap_or(2);
    let context_length = content
        .metadata
        .get("llama.context_length")
        .and_then(|v| v.to_u32().ok())
        .unwrap_or(2048) as usize;
    let device = Device::Cpu;
    let weights = if requantize {
        let mut names: Vec<&String> = content.tensor_infos.keys().collect();
        names.sort();
        let mut tensors = Vec::with_capacity(names.len());
        for name in names {
            let tensor = content.tensor(&mut reader, name, &device)?;
            let quantized = !matches!(
                tensor.dtype(),
                GgmlDType::F32 | GgmlDType::F16 | GgmlDType::Q8_0
            );
            let tensor = if quantized {
                QTensor::quantize(&tensor.dequantize(&device)?, GgmlDType::Q8_0)?
            } else {
                tensor
            };
            tensors.push((name.as_str(), tensor));
        }
        let metadata: Vec<(&str, &gguf_file::Value)> = content
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
        let mut out = Cursor::new(Vec::new());
        gguf_file::write(&mut out, &metadata, &tensor_refs)?;
        out.set_position(0);
        let requantized = gguf_file::Content::read(&mut out)?;
        ModelWeights::from_gguf(requantized, &mut out, &device)?
    } else {
        ModelWeights::from_gguf(content, &mut reader, &device)?
    };
    Ok(LoadedModel {
        weights,
        tokenizer,
        eos_token,
        context_length,
    })
}

/// The gpt2-style byte-level BPE described by `tokenizer.ggml.*`, with the control tokens
/// (`<|im_start|>`, `<|im_end|>`, …) as special tokens that encode to their single ids.
pub fn tokenizer_from_gguf(content: &gguf_file::Content) -> Result<Tokenizer, LoadError> {
    let get = |key: &str| {
        content
            .metadata
            .get(key)
            .ok_or_else(|| LoadError::Tokenizer(format!("{key} is missing")))
    };
    let tokens: Vec<String> = get("tokenizer.ggml.tokens")?
        .to_vec()?
        .iter()
        .map(|v| v.to_string().cloned())
        .collect::<Result<_, _>>()?;
    let merges: Vec<(String, String)> = get("tokenizer.ggml.merges")?
        .to_vec()?
        .iter()
        .map(|v| {
            let s = v.to_string()?;
            let (a, b) = s
                .split_once(' ')
                .ok_or_else(|| candle_core::Error::Msg(format!("bad merge {s:?}")))?;
            Ok((a.to_owned(), b.to_owned()))
        })
        .collect::<Result<_, candle_core::Error>>()?;
    let token_types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()?
            .iter()
            .map(|t| t.to_i32())
            .collect::<Result<_, _>>()?,
        None => vec![1; tokens.len()],
    };
    let vocab: ahash::AHashMap<String, u32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| LoadError::Tokenizer(e.to_string()))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer
        .with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])))
        .with_decoder(Some(ByteLevelDecoder::default()));
    // Token type 3 is "control" in GGUF: the chat template's markers and the end token.
    let specials: Vec<AddedToken> = tokens
        .iter()
        .zip(token_types.iter().chain(std::iter::repeat(&1)))
        .filter(|(_, t)| **t == 3)
        .map(|(s, _)| AddedToken::from(s.clone(), true))
        .collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

/// SmolLM2's own default system prompt, used when a request brings none.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// The ChatML prompt for a conversation, ready for the assistant's answer.
pub fn chat_prompt(messages: &[(String, String)]) -> String {
    let mut prompt = String::new();
    if messages.first().is_none_or(|(role, _)| role != "system") {
        prompt.push_str(&format!(
            "<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n"
        ));
    }
    for (role, content) in messages {
        prompt.push_str(&format!("<|im_start|>{role}\n{content}<|im_end|>\n"));
    }
    prompt.push_str("<|im_start|>assistant\n");
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_adds_the_default_system_prompt_only_when_missing() {
        let p = chat_prompt(&[("user".into(), "Hi".into())]);
        assert_eq!(
            p,
            format!(
                "<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
            )
        );
        let p = chat_prompt(&[
            ("system".into(), "Be brief.".into()),
            ("user".into(), "Hi".into()),
        ]);
        assert!(p.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n"));
        assert!(!p.contains("SmolLM"));
    }
}

#[cfg(test)]
mod tokenizer_tests {
    use super::*;

    fn tokenizer() -> Tokenizer {
        let path = std::env::var_os("ARENA_WORKER_MODEL_PATH")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../.local/models/SmolLM2-135M-Instruct.Q4_1.gguf")
            });
        let mut file = std::fs::File::open(&path).unwrap_or_else(|_| {
            panic!("{} is missing: run scripts/fetch-model.sh", path.display())
        });
        let content = gguf_file::Content::read(&mut file).unwrap();
        tokenizer_from_gguf(&content).unwrap()
    }

    #[test]
    fn round_trips_text_with_accents_emoji_and_digits() {
        let t = tokenizer();
        for text in [
            "Kaixo, zer moduz? Ondo nago 🙂",
            "Ça coûte 1234,56 €.",
            "  two  spaces\nnew line",
        ] {
            let ids = t.encode(text, false).unwrap().get_ids().to_vec();
            assert_eq!(t.decode(&ids, false).unwrap(), text);
        }
        // Digits are split one by one, as SmolLM2's own tokenizer does.
        let ids = t.encode("1234", false).unwrap().get_ids().to_vec();
        assert_eq!(ids.len(), 4);
    }

    #[test]
    fn chat_markers_are_single_special_tokens() {
        let t = tokenizer();
        let ids = t
            .encode("<|im_start|>user\nHi<|im_end|>", false)
            .unwrap()
            .get_ids()
            .to_vec();
        assert_eq!(ids.first(), Some(&1));
        assert_eq!(ids.last(), Some(&2));
        assert_eq!(t.decode(&[2], true).unwrap(), "");
    }
}
