//! A validating scan that proves a line is already canonical.
//!
//! Lines written by a conforming writer are the canonical JSON of their own
//! parse. For those, the hash input is the line itself minus its
//! `"chain_hash":"…",` member, so re-serialising is wasted work. This scan
//! accepts a line only when that shortcut is exact; anything unusual (an
//! escaped key, a non-ASCII byte, a float not in Python `repr` form, a
//! missing or extra key, whitespace) makes it decline, and the caller falls
//! back to the full parser.

use std::ops::Range;

use crate::audit::json::MAX_DEPTH;
use crate::value::py_float_repr;

/// The 20 v1 keys in canonical (sorted) order.
pub(crate) const KEYS: [&str; 20] = [
    "action_description",
    "action_name",
    "agent_id",
    "approver_ids",
    "chain_hash",
    "challenge_passed",
    "challenge_type",
    "decided_at",
    "entry_id",
    "environment",
    "executed_at",
    "intercepted_at",
    "metadata",
    "min_review_met",
    "previous_hash",
    "review_duration_seconds",
    "risk_level",
    "risk_score",
    "session_id",
    "verdict",
];

/// Where the chain fields sit in a canonical line.
#[derive(Debug)]
pub(super) struct CanonicalLine<'a> {
    /// The bytes of `"chain_hash":"…",` (with its trailing comma).
    pub(super) chain_member: Range<usize>,
    /// The stored chain hash (no escapes, printable ASCII).
    pub(super) chain_hash: &'a [u8],
    /// The `previous_hash` value (no escapes, printable ASCII).
    pub(super) previous: &'a [u8],
}

/// `Some` if `line` is canonical v1 JSON with exactly the 20 keys and plain
/// string values for `chain_hash` and `previous_hash`.
pub(super) fn scan_canonical(line: &[u8]) -> Option<CanonicalLine<'_>> {
    let mut s = Scanner { b: line, pos: 0 };
    s.expect(b'{')?;
    let mut chain = None;
    let mut previous = None;
    for (i, key) in KEYS.iter().enumerate() {
        let member_start = s.pos;
        if i > 0 {
            s.expect(b',')?;
        }
        s.expect(b'"')?;
        s.expect_bytes(key.as_bytes())?;
        s.expect_bytes(b"\":")?;
        let value_start = s.pos;
        s.value(0)?;
        match *key {
            "chain_hash" => chain = Some((member_start + 1, value_start, s.pos)),
            "previous_hash" => previous = Some(plain_string(line, value_start, s.pos)?),
            _ => {}
        }
    }
    s.expect(b'}')?;
    if s.pos != line.len() {
        return None;
    }
    let (member_start, value_start, value_end) = chain?;
    Some(CanonicalLine {
        // The member is never the last one, so its comma follows it.
        chain_member: member_start..value_end + 1,
        chain_hash: plain_string(line, value_start, value_end)?,
        previous: previous?,
    })
}

/// The content of the string token `line[start..end]` if it has no escapes.
fn plain_string(line: &[u8], start: usize, end: usize) -> Option<&[u8]> {
    let token = line.get(start..end)?;
    let inner = token.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    (!inner.contains(&b'\\')).then_some(inner)
}

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.pos += 1)
    }

    fn expect_bytes(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.pos + bytes.len();
        (self.b.get(self.pos..end) == Some(bytes)).then(|| self.pos = end)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.expect_bytes(b"true"),
            b'f' => self.expect_bytes(b"false"),
            b'n' => self.expect_bytes(b"null"),
            b'N' => self.expect_bytes(b"NaN"),
            b'I' => self.expect_bytes(b"Infinity"),
            b'-' if self.b.get(self.pos + 1) == Some(&b'I') => self.expect_bytes(b"-Infinity"),
            _ => self.number(),
        }
    }

    /// A canonical string: printable ASCII except `"` and `\`, the short
    /// escapes, and `\u` with lowercase hex for a unit that has no shorter
    /// canonical form.
    fn string(&mut self) -> Option<()> {
        self.pos += 1;
        loop {
            let rest = &self.b[self.pos..];
            let run = memchr::memchr2(b'"', b'\\', rest)?;
            // Not short-circuiting lets this loop vectorise.
            let printable = rest[..run]
                .iter()
                .fold(true, |ok, &b| ok & (0x20..0x7f).contains(&b));
            if !printable {
                return None;
            }
            self.pos += run;
            if self.b[self.pos] == b'"' {
                self.pos += 1;
                return Some(());
            }
            match *self.b.get(self.pos + 1)? {
                b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => self.pos += 2,
                b'u' => {
                    let hex = self.b.get(self.pos + 2..self.pos + 6)?;
                    let mut unit = 0u32;
                    for &h in hex {
                        let digit = match h {
                            b'0'..=b'9' => h - b'0',
                            b'a'..=b'f' => h - b'a' + 10,
                            _ => return None,
                        };
                        unit = unit << 4 | u32::from(digit);
                    }
                    if (0x20..0x7f).contains(&unit) || matches!(unit, 0x08..=0x0a | 0x0c | 0x0d) {
                        return None;
                    }
                    self.pos += 6;
                }
                _ => return None,
            }
        }
    }

    /// A key: plain printable ASCII, so byte order is code-point order.
    fn plain_key(&mut self) -> Option<Range<usize>> {
        self.pos += 1;
        let start = self.pos;
        let len = memchr::memchr2(b'"', b'\\', &self.b[start..])?;
        let key = &self.b[start..start + len];
        if self.b[start + len] != b'"' || !key.iter().all(|b| (0x20..0x7f).contains(b)) {
            return None;
        }
        self.pos = start + len + 1;
        Some(start..start + len)
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        let mut last: Option<Range<usize>> = None;
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.plain_key()?;
            // Strictly increasing: sorted, and no duplicate keys (which
            // would collapse when parsed).
            if let Some(prev) = last
                && self.b[prev] >= self.b[key.clone()]
            {
                return None;
            }
            last = Some(key);
            self.expect(b':')?;
            self.value(depth)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Integers are canonical unless `-0`; a float only if it is already in
    /// Python `repr` form.
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
            is_float = true;
        }
        let lexeme = std::str::from_utf8(&self.b[start..self.pos]).ok()?;
        if is_float {
            let x: f64 = lexeme.parse().ok()?;
            (x.is_finite() && py_float_repr(x) == lexeme).then_some(())
        } else {
            (lexeme != "-0").then_some(())
        }
    }
}
