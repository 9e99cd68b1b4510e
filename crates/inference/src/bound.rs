//! The bound on one answer, enforced whatever the worker sends (see [`AnswerBound`]).

/// What one answer may bring, whatever its worker sends: `max_bytes` of text and, when the
/// request set `max_tokens`, that many content chunks (every chunk carries at least one token,
/// so an honest worker never meets this bound before its own).
pub(crate) struct AnswerBound {
    max_bytes: usize,
    max_deltas: Option<u32>,
    bytes: usize,
    pub(crate) deltas: u32,
}

pub(crate) enum Admitted {
    /// Within the bound.
    Whole(String),
    /// Over it: the part that fits (cut at a character boundary), if any, and why.
    Cut { text: Option<String>, why: String },
}

impl AnswerBound {
    pub(crate) fn new(max_bytes: usize, max_tokens: Option<u32>) -> Self {
        Self {
            max_bytes: max_bytes.max(1),
            max_deltas: max_tokens,
            bytes: 0,
            deltas: 0,
        }
    }

    pub(crate) fn admit(&mut self, mut text: String) -> Admitted {
        if self.max_deltas.is_some_and(|max| self.deltas >= max) {
            return Admitted::Cut {
                text: None,
                why: format!(
                    "sent more than max_tokens = {} content chunks",
                    self.max_deltas.unwrap_or_default()
                ),
            };
        }
        let room = self.max_bytes - self.bytes;
        if text.len() <= room {
            self.bytes += text.len();
            self.deltas += 1;
            return Admitted::Whole(text);
        }
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        self.bytes += end;
        let why = format!("sent an answer longer than {} bytes", self.max_bytes);
        if text.is_empty() {
            return Admitted::Cut { text: None, why };
        }
        self.deltas += 1;
        Admitted::Cut {
            text: Some(text),
            why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit_all(bound: &mut AnswerBound, chunks: &[&str]) -> (String, Option<String>) {
        let mut text = String::new();
        for chunk in chunks {
            match bound.admit((*chunk).to_owned()) {
                Admitted::Whole(t) => text.push_str(&t),
                Admitted::Cut { text: t, why } => {
                    text.push_str(&t.unwrap_or_default());
                    return (text, Some(why));
                }
            }
        }
        (text, None)
    }

    #[test]
    fn an_answer_is_cut_at_its_byte_bound_on_a_character_boundary() {
        let mut bound = AnswerBound::new(10, None);
        let (text, why) = admit_all(&mut bound, &["abcd", "efgh", "ijé", "never"]);
        // "ijé" would end at byte 12; "é" (2 bytes) does not fit in the 2 bytes left whole
        // after "ij", so the cut is at 10.
        assert_eq!(text, "abcdefghij");
        assert!(why.unwrap().contains("longer than 10 bytes"));
        let mut bound = AnswerBound::new(9, None);
        let (text, _) = admit_all(&mut bound, &["abcdefgh", "é"]);
        assert_eq!(text, "abcdefgh", "half a character is never kept");
        let mut bound = AnswerBound::new(10, None);
        assert_eq!(
            admit_all(&mut bound, &["0123456789"]),
            ("0123456789".into(), None)
        );
    }

    #[test]
    fn an_answer_is_cut_after_max_tokens_chunks() {
        let mut bound = AnswerBound::new(1 << 20, Some(3));
        let (text, why) = admit_all(&mut bound, &["a", "b", "c", "d", "e"]);
        assert_eq!(text, "abc");
        assert!(why.unwrap().contains("max_tokens = 3"));
        assert_eq!(bound.deltas, 3);
    }
}
