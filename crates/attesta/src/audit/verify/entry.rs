//! One line of a log: from raw bytes to what the chain check needs.

use sha2::{Digest, Sha256};

use super::BreakReason;
use super::scan::{KEYS, scan_canonical};
use crate::audit::json::{JsonString, JsonValue, parse, write_canonical};

/// What one non-blank line contributes to the chain.
#[derive(Debug)]
pub(super) enum LineCheck {
    /// The line cannot take part in the chain (the running hash stays put).
    Unusable(BreakReason),
    /// A JSON object: an entry.
    Entry(EntryCheck),
}

/// The facts about an entry that the sequential link check needs.
#[derive(Debug)]
pub(super) struct EntryCheck {
    /// The stored `chain_hash` (UTF-8, or WTF-8 for lone surrogates);
    /// `None` when the key is absent (the reference then uses `""`).
    pub(super) stored: Option<Vec<u8>>,
    /// The `previous_hash` field, when it is a string.
    pub(super) previous: Option<Vec<u8>>,
    /// Whether `sha256(previous ‖ C(E))` equals `stored`: the entry is
    /// consistent with the hash it claims to chain from.
    pub(super) self_consistent: bool,
    /// No `entry_id` key: the reference substitutes a random id, so the
    /// entry can never verify.
    pub(super) missing_entry_id: bool,
}

/// Python's `str.isspace()` for the characters `str.strip()` removes: the
/// Unicode `White_Space` set plus the separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no arguments.
pub(super) fn strip_py(text: &str) -> &str {
    text.trim_matches(is_py_space)
}

/// Checks one physical line (terminator removed). `None` for a blank line.
pub(super) fn check_line(raw: &[u8]) -> Option<LineCheck> {
    // Fast path: a line that starts and ends with braces has nothing to
    // strip; if it is already canonical, hash it in place.
    if raw.first() == Some(&b'{')
        && raw.last() == Some(&b'}')
        && let Some(check) = check_canonical(raw)
    {
        return Some(LineCheck::Entry(check));
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        let offset = std::str::from_utf8(raw)
            .err()
            .map_or(0, |e| e.valid_up_to());
        return Some(LineCheck::Unusable(BreakReason::InvalidUtf8 { offset }));
    };
    let text = strip_py(text);
    if text.is_empty() {
        return None;
    }
    if let Some(check) = check_canonical(text.as_bytes()) {
        return Some(LineCheck::Entry(check));
    }
    Some(match parse_entry(text) {
        Ok(parsed) => {
            let self_consistent = match (&parsed.stored, &parsed.previous) {
                (Some(stored), Some(previous)) => {
                    hash_hex(&[previous, parsed.canonical.as_bytes()]) == stored.as_slice()
                }
                _ => false,
            };
            LineCheck::Entry(EntryCheck {
                stored: parsed.stored,
                previous: parsed.previous,
                self_consistent,
                missing_entry_id: !parsed.has_entry_id,
            })
        }
        Err(reason) => LineCheck::Unusable(reason),
    })
}

/// The fast path: `Some` only if the line is byte-for-byte the canonical
/// form of its own parse with exactly the 20 v1 keys, so hashing the line
/// without its `chain_hash` member equals hashing the re-serialised entry.
fn check_canonical(line: &[u8]) -> Option<EntryCheck> {
    let found = scan_canonical(line)?;
    let (before, after) = (
        &line[..found.chain_member.start],
        &line[found.chain_member.end..],
    );
    let digest = hash_hex(&[found.previous, before, after]);
    Some(EntryCheck {
        self_consistent: digest.as_slice() == found.chain_hash,
        stored: Some(found.chain_hash.to_vec()),
        previous: Some(found.previous.to_vec()),
        missing_entry_id: false,
    })
}

/// SHA-256 of the concatenated parts, as 64 lowercase hex digits.
pub(super) fn hash_hex(parts: &[&[u8]]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut out = [0u8; 64];
    for (i, byte) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    out
}

/// An entry read the slow way: parsed, filtered to the v1 keys, and
/// re-serialised.
#[derive(Debug)]
pub(super) struct ParsedEntry {
    /// `C(E)`: the canonical JSON of the 19 hashed fields.
    pub(super) canonical: String,
    /// The stored `chain_hash`, if present as a string (see [`EntryCheck`]).
    pub(super) stored: Option<Vec<u8>>,
    /// The `previous_hash` field, if it is a string.
    pub(super) previous: Option<Vec<u8>>,
    /// The `entry_id`, if it is a string without lone surrogates.
    pub(super) entry_id: Option<String>,
    /// Whether an `entry_id` key is present at all.
    pub(super) has_entry_id: bool,
}

/// The reference's value for a key that is absent from the line.
fn default_text(key: &str) -> &'static str {
    match key {
        "risk_score" | "review_duration_seconds" => "0.0",
        "challenge_passed" => "null",
        "approver_ids" => "[]",
        "min_review_met" => "true",
        "metadata" => "{}",
        _ => "\"\"",
    }
}

/// Strings as bytes for hashing and comparison: UTF-8, with a lone
/// surrogate written as its three-byte generalised UTF-8 form (WTF-8) so it
/// still compares equal only to itself.
fn wtf8(s: &JsonString) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.0.len());
    for r in char::decode_utf16(s.0.iter().copied()) {
        match r {
            Ok(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Err(e) => {
                let u = e.unpaired_surrogate();
                out.extend_from_slice(&[
                    0xe0 | u8::try_from(u >> 12).unwrap_or(0),
                    0x80 | u8::try_from((u >> 6) & 0x3f).unwrap_or(0),
                    0x80 | u8::try_from(u & 0x3f).unwrap_or(0),
                ]);
            }
        }
    }
    out
}

/// Parses a (stripped) line the way the reference reads an entry.
pub(super) fn parse_entry(text: &str) -> Result<ParsedEntry, BreakReason> {
    let value = parse(text).map_err(|e| BreakReason::BadJson {
        message: e.to_string(),
    })?;
    let JsonValue::Object(map) = value else {
        return Err(BreakReason::NotAnObject {
            found: kind_name(&value),
        });
    };
    let stored_value = map.get(&JsonString::from("chain_hash"));
    let stored = match stored_value {
        None => None,
        Some(JsonValue::Str(s)) => Some(wtf8(s)),
        Some(_) => return Err(BreakReason::ChainHashNotString),
    };
    let mut canonical = String::with_capacity(text.len());
    canonical.push('{');
    let mut first = true;
    for key in KEYS.iter().filter(|k| **k != "chain_hash") {
        if !first {
            canonical.push(',');
        }
        first = false;
        canonical.push('"');
        canonical.push_str(key);
        canonical.push_str("\":");
        match map.get(&JsonString::from(*key)) {
            Some(v) => write_canonical(&mut canonical, v),
            None => canonical.push_str(default_text(key)),
        }
    }
    canonical.push('}');
    let entry_id_value = map.get(&JsonString::from("entry_id"));
    Ok(ParsedEntry {
        canonical,
        stored,
        previous: match map.get(&JsonString::from("previous_hash")) {
            Some(JsonValue::Str(s)) => Some(wtf8(s)),
            _ => None,
        },
        entry_id: match entry_id_value {
            Some(JsonValue::Str(s)) => s.to_string_lossless(),
            _ => None,
        },
        has_entry_id: entry_id_value.is_some(),
    })
}

fn kind_name(value: &JsonValue) -> &'static str {
    match value {
        JsonValue::Null => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Int(_) | JsonValue::Float(_) => "a number",
        JsonValue::Str(_) => "a string",
        JsonValue::Array(_) => "an array",
        JsonValue::Object(_) => "an object",
    }
}
