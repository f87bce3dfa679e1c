//! The parser: a recursive-descent reader of one JSON document.

use std::fmt;

use super::{JsonObject, JsonString, JsonValue};

/// How deeply arrays and objects may nest. Python gives up near 1000 levels
/// with a `RecursionError`; no audit entry comes anywhere close, and a bound
/// keeps a hostile line from exhausting a verifier thread's stack.
pub const MAX_DEPTH: usize = 500;

/// Why a text is not a JSON document (as Python's `json.loads` would reject it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct JsonError {
    /// What was wrong.
    pub message: String,
    /// 1-based column (in characters) where it went wrong.
    pub column: usize,
}

/// Parses `text` as exactly one JSON document with Python `json.loads`
/// semantics (see the [module docs](super)).
///
/// ```
/// use attesta::audit::json::{JsonValue, parse};
/// assert_eq!(parse("-0").unwrap(), JsonValue::Int("0".into()));
/// assert!(parse("{\"a\": \"tab\there\"}").is_err()); // raw control character
/// ```
pub fn parse(text: &str) -> Result<JsonValue, JsonError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("extra data after the JSON value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl fmt::Debug for Parser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parser").field("pos", &self.pos).finish()
    }
}

impl Parser<'_> {
    fn error(&self, message: &str) -> JsonError {
        let column = self
            .text
            .get(..self.pos)
            .map_or(self.pos, |s| s.chars().count())
            + 1;
        JsonError {
            message: message.to_owned(),
            column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, literal: &str) -> bool {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        match self.peek() {
            Some(b'"') => Ok(JsonValue::Str(self.string()?)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'n') if self.eat_literal("null") => Ok(JsonValue::Null),
            Some(b't') if self.eat_literal("true") => Ok(JsonValue::Bool(true)),
            Some(b'f') if self.eat_literal("false") => Ok(JsonValue::Bool(false)),
            Some(b'N') if self.eat_literal("NaN") => Ok(JsonValue::Float(f64::NAN)),
            Some(b'I') if self.eat_literal("Infinity") => Ok(JsonValue::Float(f64::INFINITY)),
            Some(b'-') if self.eat_literal("-Infinity") => Ok(JsonValue::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, like Python's
    /// scanner: an incomplete fraction or exponent is not part of the number
    /// (and the leftover then fails as unexpected text).
    fn number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a JSON value")),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = mark;
            } else {
                is_float = true;
            }
        }
        let lexeme = &self.text[start..self.pos];
        if is_float {
            // Rust's float parsing is correctly rounded, like CPython's
            // `float()`; out-of-range magnitudes become infinity or zero.
            lexeme
                .parse::<f64>()
                .map(JsonValue::Float)
                .map_err(|_| self.error("unreadable number"))
        } else if lexeme == "-0" {
            Ok(JsonValue::Int("0".to_owned()))
        } else {
            Ok(JsonValue::Int(lexeme.to_owned()))
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let hex = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("incomplete \\u escape"))?;
        let mut unit: u16 = 0;
        for &b in hex {
            let digit = char::from(b)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            // `to_digit(16)` is below 16, so this cannot truncate.
            unit = unit << 4 | u16::try_from(digit).unwrap_or(0);
        }
        self.pos += 4;
        Ok(unit)
    }

    fn string(&mut self) -> Result<JsonString, JsonError> {
        self.pos += 1; // opening quote
        let mut units = Vec::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) {
                    break;
                }
                self.pos += 1;
            }
            units.extend(
                self.bytes[run_start..self.pos]
                    .iter()
                    .map(|&b| u16::from(b)),
            );
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(JsonString(units));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.pos += 1;
                    let unit = match escaped {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        // A lone surrogate stays a lone unit; two escapes
                        // forming a valid pair are the astral character in
                        // UTF-16, exactly what Python's combining produces.
                        b'u' => self.hex4()?,
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    };
                    units.push(unit);
                }
                Some(b) if b < 0x20 => {
                    return Err(self.error("invalid control character in string"));
                }
                Some(_) => {
                    let c = self.text[self.pos..]
                        .chars()
                        .next()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    let mut buf = [0u16; 2];
                    units.extend_from_slice(c.encode_utf16(&mut buf));
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(JsonValue::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(JsonValue::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.pos += 1;
        let mut map = JsonObject::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(JsonValue::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a property name in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            // IndexMap keeps the first key's position and takes the new value,
            // like a Python dict built from duplicate keys.
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(JsonValue::Object(map));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }
}
