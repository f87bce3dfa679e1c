//! Newline-delimited framing with a bound: a line longer than the limit is
//! never held whole. Its bytes are skipped as they arrive, and only the
//! top-level `id` is picked out on the way (so the sender can be answered
//! with an error for *its* request).

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The default limit: far above any real MCP message but a tool result
/// with a large file, low enough that a hostile peer cannot make the proxy
/// hold hundreds of megabytes.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 << 20;

/// One frame.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame {
    /// A line (ending in `\n`; one is added to a last line without it).
    Line(Vec<u8>),
    /// A line over the limit, skipped; `id` is its top-level `id` if it
    /// had exactly one that could be read (else `null`).
    TooLong {
        /// The id to answer.
        id: Value,
    },
}

/// Reads frames of at most `max` bytes (newline included).
#[derive(Debug)]
pub(crate) struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        Self {
            inner: BufReader::new(inner),
            max: max.max(1),
        }
    }

    /// The next frame; `None` at EOF or on a read error.
    pub(crate) async fn next(&mut self) -> Option<Frame> {
        let mut line = Vec::new();
        let mut skipping: Option<IdScanner> = None;
        loop {
            let chunk = match self.inner.fill_buf().await {
                Ok(chunk) => chunk,
                Err(err) => {
                    eprintln!("attesta mcp: reading failed, treating it as end of input: {err}");
                    return None;
                }
            };
            if chunk.is_empty() {
                // EOF: a last line without `\n` still counts.
                return match skipping {
                    Some(scanner) => Some(Frame::TooLong { id: scanner.id() }),
                    None if line.is_empty() => None,
                    None => {
                        line.push(b'\n');
                        Some(Frame::Line(line))
                    }
                };
            }
            let (taken, ends) = match memchr::memchr(b'\n', chunk) {
                Some(at) => (at + 1, true),
                None => (chunk.len(), false),
            };
            let piece = &chunk[..taken];
            match &mut skipping {
                Some(scanner) => scanner.feed(piece),
                None if line.len() + piece.len() > self.max => {
                    let mut scanner = IdScanner::default();
                    scanner.feed(&line);
                    scanner.feed(piece);
                    line = Vec::new();
                    skipping = Some(scanner);
                }
                None => line.extend_from_slice(piece),
            }
            self.inner.consume(taken);
            if ends {
                return Some(match skipping {
                    Some(scanner) => Frame::TooLong { id: scanner.id() },
                    None => Frame::Line(line),
                });
            }
        }
    }
}

/// The longest `id` value (as JSON text) the scanner keeps.
const MAX_ID_BYTES: usize = 256;

/// Finds the top-level `"id"` member of a JSON object streamed through it,
/// holding only a few hundred bytes whatever the object's size. Anything
/// unusual (not an object, two ids, an id too long, an escaped key) gives
/// `null`: the answer then goes to nobody in particular, which is safe.
#[derive(Debug, Default)]
struct IdScanner {
    /// Before the first value, inside it, or given up on.
    phase: Phase,
    /// Nesting depth: 1 inside the top-level object.
    depth: usize,
    /// Where the scan is relative to string literals.
    string: InString,
    /// At depth 1: the next string is a key (not a value).
    expect_key: bool,
    /// The key being read at depth 1 (`None` once it cannot be `id`).
    key: Option<Vec<u8>>,
    /// The last key read at depth 1, waiting for its value.
    last_key: Vec<u8>,
    /// The `id` value's text while it is being read.
    capture: Option<Vec<u8>>,
    /// The `id` values found.
    ids: Vec<Vec<u8>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing but whitespace yet.
    #[default]
    Start,
    /// Inside the top-level object.
    Object,
    /// Not an object, or an id nobody can answer: the result is `null`.
    Spoiled,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum InString {
    #[default]
    Outside,
    Inside,
    /// Inside, right after a backslash.
    Escape,
}

impl IdScanner {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.step(b);
            if self.phase == Phase::Spoiled {
                return;
            }
        }
    }

    fn in_string(&self) -> bool {
        self.string != InString::Outside
    }

    fn step(&mut self, b: u8) {
        if self.phase == Phase::Spoiled {
            return;
        }
        if self.capture.is_some() && self.capture_step(b) {
            return;
        }
        if self.in_string() {
            self.key_byte(b);
            self.string_byte(b);
            if !self.in_string() && self.depth == 1 && self.expect_key {
                self.last_key = self.key.take().unwrap_or_default();
                self.expect_key = false;
            }
            return;
        }
        match b {
            b' ' | b'\n' | b'\r' | b'\t' | b':' => {}
            b'{' | b'[' => {
                if self.phase == Phase::Start {
                    if b == b'[' {
                        self.phase = Phase::Spoiled;
                        return;
                    }
                    self.phase = Phase::Object;
                    self.expect_key = true;
                }
                self.depth += 1;
            }
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            b',' if self.depth == 1 => self.expect_key = true,
            b'"' => {
                self.string = InString::Inside;
                if self.depth == 1 && self.expect_key {
                    self.key = Some(Vec::new());
                } else {
                    self.begin_value(b);
                }
            }
            _ if self.phase == Phase::Start => self.phase = Phase::Spoiled,
            _ => self.begin_value(b),
        }
    }

    /// One byte of the id's value; returns whether it was consumed (a byte
    /// that ends a number or literal is not: it is structure).
    fn capture_step(&mut self, b: u8) -> bool {
        let in_string = self.in_string();
        let ends_scalar = !in_string && matches!(b, b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t');
        if ends_scalar {
            self.finish_capture();
            return false;
        }
        let Some(capture) = &mut self.capture else {
            return false;
        };
        if capture.len() >= MAX_ID_BYTES || (!in_string && matches!(b, b'{' | b'[')) {
            // Too long to keep, or an object or array id nobody can answer.
            self.phase = Phase::Spoiled;
            return true;
        }
        capture.push(b);
        if in_string {
            self.string_byte(b);
            if !self.in_string() {
                self.finish_capture();
            }
        } else if b == b'"' {
            self.string = InString::Inside;
        }
        true
    }

    /// A byte of a key being read at depth 1.
    fn key_byte(&mut self, b: u8) {
        let Some(key) = &mut self.key else { return };
        if self.string == InString::Inside && b == b'"' {
            return; // the closing quote
        }
        if b == b'\\' || key.len() >= 8 {
            // An escaped key might spell `id`: do not guess. Long keys are
            // not `id` either.
            self.key = None;
        } else {
            key.push(b);
        }
    }

    /// A value starts at depth 1 with `first`: captured if it is the id's.
    fn begin_value(&mut self, first: u8) {
        if self.depth == 1 && self.last_key == b"id" {
            self.last_key.clear();
            self.capture = Some(vec![first]);
        }
    }

    fn string_byte(&mut self, b: u8) {
        self.string = match (self.string, b) {
            (InString::Escape, _) => InString::Inside,
            (InString::Inside, b'\\') => InString::Escape,
            (InString::Inside, b'"') => InString::Outside,
            (state, _) => state,
        };
    }

    fn finish_capture(&mut self) {
        if let Some(capture) = self.capture.take() {
            self.ids.push(capture);
        }
        self.string = InString::Outside;
    }

    fn id(mut self) -> Value {
        if self.capture.is_some() && !self.in_string() {
            self.finish_capture();
        }
        if self.phase == Phase::Spoiled || self.ids.len() != 1 {
            return Value::Null;
        }
        match serde_json::from_slice::<Value>(&self.ids[0]) {
            Ok(id @ (Value::String(_) | Value::Number(_))) => id,
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn scan(text: &str) -> Value {
        let mut scanner = IdScanner::default();
        // Byte by byte and in one go must agree.
        for b in text.bytes() {
            scanner.step(b);
        }
        scanner.id()
    }

    #[test]
    fn the_top_level_id_is_found_wherever_it_is() {
        assert_eq!(scan(r#"{"jsonrpc":"2.0","id":7,"method":"x"}"#), json!(7));
        assert_eq!(
            scan(r#"{"params":{"id":1,"x":"}\"id\":2"},"id":"a\"b"}"#),
            json!("a\"b")
        );
        assert_eq!(scan(r#" { "id" : -3.5 , "z":[{"id":9}] }"#), json!(-3.5));
        assert_eq!(scan(r#"{"x":{"id":1}}"#), Value::Null, "not top level");
        assert_eq!(scan(r#"{"id":1,"id":2}"#), Value::Null, "two ids");
        assert_eq!(scan(r#"{"i\u0064":1}"#), Value::Null, "escaped key");
        assert_eq!(scan(r#"{"id":{"a":1}}"#), Value::Null);
        assert_eq!(scan(r#"[{"id":1}]"#), Value::Null);
        assert_eq!(scan(r#"{"idx":1,"xid":2}"#), Value::Null);
        let long = format!(r#"{{"id":"{}"}}"#, "x".repeat(300));
        assert_eq!(scan(&long), Value::Null, "too long to keep");
        assert_eq!(scan(r#"{"id":"x""#), json!("x"), "cut off after the id");
    }

    #[tokio::test]
    async fn lines_over_the_limit_are_skipped_with_their_id() {
        let big = format!(
            "{{\"id\":\"big\",\"params\":\"{}\"}}\n",
            "y".repeat(100_000)
        );
        let input = format!("{{\"id\":1}}\n{big}{{\"id\":2}}\nlast");
        let mut reader = LineReader::new(input.as_bytes(), 1000);
        assert_eq!(
            reader.next().await,
            Some(Frame::Line(b"{\"id\":1}\n".to_vec()))
        );
        assert_eq!(
            reader.next().await,
            Some(Frame::TooLong { id: json!("big") })
        );
        assert_eq!(
            reader.next().await,
            Some(Frame::Line(b"{\"id\":2}\n".to_vec()))
        );
        assert_eq!(reader.next().await, Some(Frame::Line(b"last\n".to_vec())));
        assert_eq!(reader.next().await, None);
        // Exactly at the limit still passes; one byte more does not.
        let mut reader = LineReader::new(&b"12345\n123456\n"[..], 6);
        assert_eq!(reader.next().await, Some(Frame::Line(b"12345\n".to_vec())));
        assert_eq!(
            reader.next().await,
            Some(Frame::TooLong { id: Value::Null })
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            "[\"\\\\{}\\[\\],:id ]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("(id|x|\\PC{0,6})", inner), 0..6)
                    .prop_map(|entries| { Value::Object(entries.into_iter().collect()) }),
            ]
        })
    }

    proptest! {
        /// Whatever surrounds it, the scanner finds the same top-level id
        /// serde_json reads (or `null` when there is none to answer).
        #[test]
        fn the_scanner_agrees_with_serde_json(
            id in prop_oneof![
                any::<i64>().prop_map(Value::from),
                "\\PC{0,40}".prop_map(Value::from),
            ],
            before in proptest::collection::vec(("[a-z]{1,6}", json_value()), 0..4),
            after in proptest::collection::vec(("[a-z]{1,6}", json_value()), 0..4),
        ) {
            let mut members: Vec<String> = Vec::new();
            for (key, value) in before.iter().filter(|(k, _)| k != "id") {
                members.push(format!("{}:{value}", Value::from(key.clone())));
            }
            members.push(format!("\"id\":{id}"));
            for (key, value) in after.iter().filter(|(k, _)| k != "id") {
                members.push(format!("{}:{value}", Value::from(key.clone())));
            }
            let text = format!("{{{}}}", members.join(","));
            prop_assert_eq!(scan(&text), id);
        }
    }
}
