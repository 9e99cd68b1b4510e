//! Server-sent events as OpenAI-compatible servers send them: `data: {json}` lines. Blank lines,
//! `:` comments and `event:`/`id:`/`retry:` fields are skipped; lines may be split across network
//! chunks and end in `\n` or `\r\n`.

#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Feeds bytes; returns the `data` payloads of every complete line.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let mut line = &self.buf[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if let Some(data) = line.strip_prefix(b"data:") {
                let data = data.strip_prefix(b" ").unwrap_or(data);
                out.push(String::from_utf8_lossy(data).into_owned());
            }
            start = end + 1;
        }
        self.buf.drain(..start);
        out
    }

    /// True if bytes of an unfinished line are pending.
    pub fn has_pending(&self) -> bool {
        !self.buf.iter().all(|b| b.is_ascii_whitespace())
    }

    /// The unfinished last line, if it is a data line (some servers omit the final newline).
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let line = String::from_utf8_lossy(&rest).trim().to_owned();
        line.strip_prefix("data:")
            .map(|d| d.trim_start().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: {\"a\"").is_empty());
        assert_eq!(
            p.feed(b":1}\n\ndata: [DONE]\n"),
            vec!["{\"a\":1}", "[DONE]"]
        );
    }

    #[test]
    fn skips_comments_events_and_handles_crlf() {
        let mut p = SseParser::default();
        let out = p.feed(b": keep-alive\r\nevent: message\r\nid: 3\r\ndata:x\r\n\r\ndata: y\r\n");
        assert_eq!(out, vec!["x", "y"]);
        assert!(!p.has_pending());
    }

    #[test]
    fn keeps_multibyte_characters_split_between_chunks() {
        let mut p = SseParser::default();
        let text = "data: é\n".as_bytes();
        assert!(p.feed(&text[..7]).is_empty());
        assert_eq!(p.feed(&text[7..]), vec!["é"]);
    }

    #[test]
    fn unfinished_last_line_is_recovered() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: [DONE]").is_empty());
        assert!(p.has_pending());
        assert_eq!(p.finish().as_deref(), Some("[DONE]"));
    }
}
