//! Server-sent events as OpenAI-compatible servers send them: one `data: {json}` line per event.
//! Blank lines, `:` comments and `event:`/`id:`/`retry:` fields are skipped; lines may be split
//! across network chunks (even inside a UTF-8 character) and end in `\n` or `\r\n`.
//!
//! Each `data:` line is taken as one payload rather than joining multi-line `data:` fields as
//! the SSE spec allows: every OpenAI-compatible server puts one JSON document on one line, and
//! some omit the blank line between events.

/// Longest line accepted; a worker sending more without a newline is broken (or hostile).
pub const MAX_LINE_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an SSE line longer than {MAX_LINE_BYTES} bytes")]
pub struct LineTooLong;

#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Feeds bytes; returns the `data` payloads of every line completed by them.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<String>, LineTooLong> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            if let Some(data) = data_of(&self.buf[start..end]) {
                out.push(data);
            }
            start = end + 1;
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE_BYTES {
            self.buf.clear();
            return Err(LineTooLong);
        }
        Ok(out)
    }

    /// At the end of the body: the unfinished last line, if it is a data line (some servers
    /// omit the final newline).
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        data_of(&rest)
    }
}

fn data_of(line: &[u8]) -> Option<String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A byte-order mark may open the stream.
    let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
    let data = line.strip_prefix(b"data:")?;
    let data = data.strip_prefix(b" ").unwrap_or(data);
    Some(String::from_utf8_lossy(data).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(p: &mut SseParser, chunks: &[&[u8]]) -> Vec<String> {
        chunks.iter().flat_map(|c| p.feed(c).unwrap()).collect()
    }

    #[test]
    fn parses_lines_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: {\"a\"").unwrap().is_empty());
        assert_eq!(
            p.feed(b":1}\n\ndata: [DONE]\n").unwrap(),
            vec!["{\"a\":1}", "[DONE]"]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let stream: &[u8] =
            b": ping\r\n\r\nevent: message\r\ndata: {\"x\":\"\xc3\xa9\"}\r\n\r\ndata:[DONE]\r\n\r\n";
        for cut in 0..stream.len() {
            let mut p = SseParser::default();
            let out = feed_all(&mut p, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(out, vec!["{\"x\":\"é\"}", "[DONE]"], "cut at {cut}");
        }
        // And byte by byte.
        let mut p = SseParser::default();
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(feed_all(&mut p, &bytes), vec!["{\"x\":\"é\"}", "[DONE]"]);
    }

    #[test]
    fn skips_comments_events_and_handles_crlf() {
        let mut p = SseParser::default();
        let out = p
            .feed(b": keep-alive\r\nevent: message\r\nid: 3\r\nretry: 10\r\ndata:x\r\n\r\ndata: y\r\n")
            .unwrap();
        assert_eq!(out, vec!["x", "y"]);
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn several_events_in_one_chunk() {
        let mut p = SseParser::default();
        let out = p.feed(b"data: 1\n\ndata: 2\ndata: 3\n\n").unwrap();
        assert_eq!(out, vec!["1", "2", "3"]);
    }

    #[test]
    fn unfinished_last_line_is_recovered() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: [DONE]").unwrap().is_empty());
        assert_eq!(p.finish().as_deref(), Some("[DONE]"));
        let mut p = SseParser::default();
        assert!(p.feed(b": only a comment").unwrap().is_empty());
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut p = SseParser::default();
        let chunk = vec![b'a'; 64 * 1024];
        let mut result = Ok(vec![]);
        for _ in 0..=(MAX_LINE_BYTES / chunk.len()) {
            result = p.feed(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(LineTooLong));
    }
}
