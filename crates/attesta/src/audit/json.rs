//! JSON as Python's `json.loads` reads it, and its canonical re-serialisation.
//!
//! Verifying a v1 audit log means re-computing each entry's canonical JSON
//! from what the file says, exactly as the reference does. That needs a
//! parser with Python's semantics rather than `serde_json`'s:
//!
//! - strict strings (a raw control character inside a string is an error);
//! - the tokens `NaN`, `Infinity` and `-Infinity`;
//! - integers of any size, kept exactly (as normalised decimal text);
//! - floats rounded to the nearest double, as CPython's `float()` does
//!   (`1E400` is infinity);
//! - strings as UTF-16 code units, so a lone surrogate (`"\ud800"`) survives
//!   a round trip while an escaped valid pair stays one astral character;
//! - duplicate keys: the last value wins, at the position of the first key.
//!
//! [`write_canonical`] then writes a parsed value the way Python's
//! `json.dumps(v, sort_keys=True, separators=(",", ":"))` does.

mod parse;

use std::cmp::Ordering;

use indexmap::IndexMap;

use super::canonical::{write_f64, write_utf16_str};

pub use parse::{JsonError, MAX_DEPTH, parse};

/// A JSON string as UTF-16 code units (lone surrogates allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct JsonString(pub Vec<u16>);

impl JsonString {
    /// The string as Rust text, or `None` if it holds a lone surrogate.
    pub fn to_string_lossless(&self) -> Option<String> {
        String::from_utf16(&self.0).ok()
    }

    /// The code points of the string, valid surrogate pairs combined and lone
    /// surrogates kept as their own value (Python's view of the string).
    pub fn code_points(&self) -> impl Iterator<Item = u32> + '_ {
        char::decode_utf16(self.0.iter().copied())
            .map(|r| r.map_or_else(|e| u32::from(e.unpaired_surrogate()), u32::from))
    }

    /// Compares two strings by code point, as Python compares `str` values.
    ///
    /// Plain UTF-16 unit order would put an astral character (a surrogate
    /// pair, units `0xD800..`) before `U+E000..U+FFFF`; Python puts it after.
    pub fn cmp_code_points(&self, other: &Self) -> Ordering {
        self.code_points().cmp(other.code_points())
    }

    /// Whether the string equals the ASCII text `s`.
    pub fn eq_ascii(&self, s: &str) -> bool {
        self.0.len() == s.len()
            && self
                .0
                .iter()
                .zip(s.bytes())
                .all(|(u, b)| *u == u16::from(b))
    }
}

impl From<&str> for JsonString {
    fn from(s: &str) -> Self {
        JsonString(s.encode_utf16().collect())
    }
}

/// A JSON object: keys in first-insertion order, last value wins.
pub type JsonObject = IndexMap<JsonString, JsonValue>;

/// A parsed JSON value with Python `json.loads` semantics.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer of any size, as normalised decimal text (`-0` is `0`).
    Int(String),
    /// A float (including `NaN` and the infinities).
    Float(f64),
    /// A string.
    Str(JsonString),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object.
    Object(JsonObject),
}

impl JsonValue {
    /// The value as canonical JSON text.
    ///
    /// ```
    /// use attesta::audit::json::parse;
    /// let v = parse(r#"{"b": 0.90, "a": [1, -0, 1E400], "é": "\ud800"}"#).unwrap();
    /// assert_eq!(v.to_canonical(), r#"{"a":[1,0,Infinity],"b":0.9,"\u00e9":"\ud800"}"#);
    /// ```
    pub fn to_canonical(&self) -> String {
        let mut out = String::new();
        write_canonical(&mut out, self);
        out
    }
}

/// Appends `value` as canonical JSON: keys sorted by code point at every
/// depth, no whitespace, ASCII-only escapes, Python float layout.
pub fn write_canonical(out: &mut String, value: &JsonValue) {
    match value {
        JsonValue::Null => out.push_str("null"),
        JsonValue::Bool(true) => out.push_str("true"),
        JsonValue::Bool(false) => out.push_str("false"),
        JsonValue::Int(digits) => out.push_str(digits),
        JsonValue::Float(f) => write_f64(out, *f),
        JsonValue::Str(s) => write_utf16_str(out, &s.0),
        JsonValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        JsonValue::Object(map) => {
            let mut entries: Vec<(&JsonString, &JsonValue)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp_code_points(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_utf16_str(out, &k.0);
                out.push(':');
                write_canonical(out, v);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests;
