//! Incremental detokenization for gpt2-style byte-level BPE: every token maps to raw bytes; the
//! bytes are buffered and only complete UTF-8 characters are released, so a multi-byte character
//! split over several tokens (emoji, accents) never straddles two deltas. Costs O(1) per token,
//! unlike decoding the whole answer again at every step.

use std::collections::HashMap;
use tokenizers::Tokenizer;

/// The raw bytes of every token id (empty for special tokens, which are not shown).
pub struct TokenBytes {
    bytes: Vec<Vec<u8>>,
}

/// GPT-2's reversible byte ↔ printable-character table (`bytes_to_unicode`), inverted.
fn unicode_to_byte() -> HashMap<char, u8> {
    let mut bs: Vec<u32> = (u32::from(b'!')..=u32::from(b'~'))
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..=255u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    bs.into_iter()
        .zip(cs)
        .filter_map(|(b, c)| Some((char::from_u32(c)?, u8::try_from(b).ok()?)))
        .collect()
}

impl TokenBytes {
    pub fn new(tokenizer: &Tokenizer) -> Self {
        let table = unicode_to_byte();
        let specials = tokenizer.get_added_tokens_decoder();
        let size = tokenizer.get_vocab_size(true);
        let bytes = (0..size as u32)
            .map(|id| {
                if specials.get(&id).is_some_and(|t| t.special) {
                    return Vec::new();
                }
                let Some(token) = tokenizer.id_to_token(id) else {
                    return Vec::new();
                };
                let mut out = Vec::with_capacity(token.len());
                for c in token.chars() {
                    match table.get(&c) {
                        Some(b) => out.push(*b),
                        None => {
                            let mut buf = [0; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                }
                out
            })
            .collect();
        Self { bytes }
    }

    pub fn get(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }
}

/// Bytes not yet released because they end in an incomplete UTF-8 character.
#[derive(Default)]
pub struct Detokenizer {
    pending: Vec<u8>,
}

impl Detokenizer {
    /// Adds a token's bytes; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // Incomplete character at the end: wait for the next token.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Bytes that can never be valid: show a replacement character.
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + n);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left at the end (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_every_byte_once() {
        let table = unicode_to_byte();
        assert_eq!(table.len(), 256);
        let mut bytes: Vec<u8> = table.values().copied().collect();
        bytes.sort();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
        assert_eq!(table[&'Ġ'], b' ');
        assert_eq!(table[&'Ċ'], b'\n');
    }

    #[test]
    fn multi_byte_characters_are_never_split() {
        let text = "é🙂ñ€";
        let mut d = Detokenizer::default();
        let mut deltas = Vec::new();
        for b in text.as_bytes() {
            let s = d.push(&[*b]);
            if !s.is_empty() {
                deltas.push(s);
            }
        }
        assert_eq!(deltas, ["é", "🙂", "ñ", "€"]);
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut d = Detokenizer::default();
        assert_eq!(d.push(&[b'a', 0xFF, b'b']), "a\u{FFFD}b");
        assert_eq!(d.push(&[0xF0, 0x9F]), "");
        assert_eq!(d.finish(), "\u{FFFD}");
    }
}
