//! Canonical JSON of the audit log v1, byte-compatible with the reference:
//! Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"))`.
//!
//! - object keys sorted by code point, at every depth; no whitespace;
//! - strings escape `"` `\` and `\b \f \n \r \t`; every other character
//!   outside printable ASCII (C0 controls, DEL and all non-ASCII) is `\uXXXX`
//!   with lowercase hex, astral characters as surrogate pairs;
//! - integers exact; floats in Python `repr` layout (`1.0`, `1e-05`), and the
//!   tokens `NaN`, `Infinity`, `-Infinity`.
//!
//! The chain hash of an entry is `sha256_hex(previous_hash + canonical(entry
//! without chain_hash))`.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::AuditRecord;
use crate::value::{Value, py_float_repr};

/// The 64-zero hash the first entry of a log chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends `s` as a canonical JSON string (with quotes).
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut units = [0u16; 2];
    for c in s.chars() {
        for &unit in c.encode_utf16(&mut units).iter() {
            push_unit(out, unit);
        }
    }
    out.push('"');
}

/// Appends a string given as UTF-16 code units (lone surrogates allowed) as
/// a canonical JSON string (with quotes): Python escapes every code unit
/// outside printable ASCII, so a lone surrogate is written like any other.
pub fn write_utf16_str(out: &mut String, units: &[u16]) {
    out.push('"');
    for &unit in units {
        push_unit(out, unit);
    }
    out.push('"');
}

/// One UTF-16 code unit of a string body, escaped as Python's
/// `ensure_ascii` does.
fn push_unit(out: &mut String, unit: u16) {
    match unit {
        0x22 => out.push_str("\\\""),
        0x5c => out.push_str("\\\\"),
        0x0a => out.push_str("\\n"),
        0x0d => out.push_str("\\r"),
        0x09 => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        // Printable ASCII: the range check makes the narrowing exact.
        0x20..=0x7e => out.push(char::from(u8::try_from(unit).unwrap_or(b'?'))),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u");
            for shift in [12u16, 8, 4, 0] {
                out.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
            }
        }
    }
}

/// Appends a float the way Python's `json.dumps` writes it.
pub fn write_f64(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        out.push_str(&py_float_repr(x));
    }
}

/// Appends `value` as canonical JSON.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_f64(out, *f),
        Value::Str(s) => write_str(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            // Rust `str` order is byte order, which for UTF-8 is code-point
            // order: the same as Python's sort of `str` keys.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// SHA-256 of `previous_hash ‖ canonical`, as lowercase hex.
pub fn chain_hash(previous_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(canonical.as_bytes());
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A record chained to `previous_hash`: its chain hash and the complete
/// line to append (canonical JSON of all 20 fields, newline included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedLine {
    /// The entry's `chain_hash`.
    pub chain_hash: String,
    /// The line, ending in `\n`.
    pub line: String,
}

/// Chains `record` to `previous_hash` and renders its log line.
pub fn record_line(record: &AuditRecord, previous_hash: &str) -> ChainedLine {
    let without_hash = render(record, previous_hash, None);
    let chain_hash = chain_hash(previous_hash, &without_hash);
    let mut line = render(record, previous_hash, Some(&chain_hash));
    line.push('\n');
    ChainedLine { chain_hash, line }
}

/// The canonical object of a record: the 20 v1 fields in sorted key order,
/// `chain_hash` included only when given.
fn render(r: &AuditRecord, previous_hash: &str, chain_hash: Option<&str>) -> String {
    let mut out = String::with_capacity(640 + r.action_description.len());
    let field = |out: &mut String, key: &str, first: bool| {
        if !first {
            out.push(',');
        }
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
    };
    out.push('{');
    field(&mut out, "action_description", true);
    write_str(&mut out, &r.action_description);
    field(&mut out, "action_name", false);
    write_str(&mut out, &r.action_name);
    field(&mut out, "agent_id", false);
    write_str(&mut out, &r.agent_id);
    field(&mut out, "approver_ids", false);
    out.push('[');
    for (i, id) in r.approver_ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, id);
    }
    out.push(']');
    if let Some(hash) = chain_hash {
        field(&mut out, "chain_hash", false);
        write_str(&mut out, hash);
    }
    field(&mut out, "challenge_passed", false);
    out.push_str(match r.challenge_passed {
        None => "null",
        Some(true) => "true",
        Some(false) => "false",
    });
    field(&mut out, "challenge_type", false);
    write_str(&mut out, &r.challenge_type);
    field(&mut out, "decided_at", false);
    write_str(&mut out, &r.decided_at);
    field(&mut out, "entry_id", false);
    write_str(&mut out, &r.entry_id);
    field(&mut out, "environment", false);
    write_str(&mut out, &r.environment);
    field(&mut out, "executed_at", false);
    write_str(&mut out, &r.executed_at);
    field(&mut out, "intercepted_at", false);
    write_str(&mut out, &r.intercepted_at);
    field(&mut out, "metadata", false);
    write_value(&mut out, &Value::Map(r.metadata.clone()));
    field(&mut out, "min_review_met", false);
    out.push_str(if r.min_review_met { "true" } else { "false" });
    field(&mut out, "previous_hash", false);
    write_str(&mut out, previous_hash);
    field(&mut out, "review_duration_seconds", false);
    write_f64(&mut out, r.review_duration_seconds);
    field(&mut out, "risk_level", false);
    write_str(&mut out, &r.risk_level);
    field(&mut out, "risk_score", false);
    write_f64(&mut out, r.risk_score);
    field(&mut out, "session_id", false);
    write_str(&mut out, &r.session_id);
    field(&mut out, "verdict", false);
    write_str(&mut out, &r.verdict);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::ValueMap;

    #[allow(clippy::too_many_arguments)] // mirrors the vector's fields one to one
    fn fixture_entry(
        entry_id: &str,
        action: &str,
        risk: f64,
        level: &str,
        challenge: &str,
        passed: Option<bool>,
        approvers: &[&str],
        review: f64,
        times: [&str; 3],
        env: &str,
    ) -> AuditRecord {
        AuditRecord {
            entry_id: entry_id.into(),
            action_name: action.into(),
            action_description: format!("{action}()"),
            agent_id: "agent-001".into(),
            risk_score: risk,
            risk_level: level.into(),
            challenge_type: challenge.into(),
            challenge_passed: passed,
            approver_ids: approvers.iter().map(|s| (*s).to_owned()).collect(),
            verdict: "approved".into(),
            review_duration_seconds: review,
            min_review_met: true,
            intercepted_at: times[0].into(),
            decided_at: times[1].into(),
            executed_at: times[2].into(),
            session_id: "session-001".into(),
            environment: env.into(),
            metadata: ValueMap::new(),
        }
    }

    /// The reference's cross-SDK vector (`fixtures/test-vectors.json`,
    /// `audit_hash_chain`, Python form).
    #[test]
    fn reproduces_the_reference_chain_vector() {
        let first = fixture_entry(
            "abc123",
            "test_action",
            0.15,
            "low",
            "",
            None,
            &[],
            1.5,
            ["2025-01-15T10:00:00", "2025-01-15T10:00:01", ""],
            "testing",
        );
        let line = record_line(&first, GENESIS_HASH);
        assert_eq!(
            line.chain_hash,
            "9635e545a233fc896074a61ff5cc90bca6fa7fcf939a0257e1314562e5fbd75b"
        );
        assert_eq!(
            render(&first, GENESIS_HASH, None),
            r#"{"action_description":"test_action()","action_name":"test_action","agent_id":"agent-001","approver_ids":[],"challenge_passed":null,"challenge_type":"","decided_at":"2025-01-15T10:00:01","entry_id":"abc123","environment":"testing","executed_at":"","intercepted_at":"2025-01-15T10:00:00","metadata":{},"min_review_met":true,"previous_hash":"0000000000000000000000000000000000000000000000000000000000000000","review_duration_seconds":1.5,"risk_level":"low","risk_score":0.15,"session_id":"session-001","verdict":"approved"}"#
        );
        let second = fixture_entry(
            "def456",
            "delete_database",
            0.95,
            "critical",
            "multi_party",
            Some(true),
            &["admin-1", "admin-2"],
            60.5,
            [
                "2025-01-15T10:04:00",
                "2025-01-15T10:05:00",
                "2025-01-15T10:05:01",
            ],
            "production",
        );
        let line2 = record_line(&second, &line.chain_hash);
        assert_eq!(
            line2.chain_hash,
            "202337cca301ff4093aeed17ad29cf76d0c858e9df0cf8434d952bdc38365973"
        );
        assert!(line2.line.ends_with("}\n"));
        assert!(
            line2
                .line
                .contains(&format!("\"chain_hash\":\"{}\"", line2.chain_hash))
        );
    }

    #[test]
    fn strings_escape_like_python_ensure_ascii() {
        let mut out = String::new();
        write_str(&mut out, "café ☃ 😀 \u{7f}\u{1}\"\\\n\t\u{8}\u{c}/");
        assert_eq!(
            out,
            r#""caf\u00e9 \u2603 \ud83d\ude00 \u007f\u0001\"\\\n\t\b\f/""#
        );
    }

    #[test]
    fn values_sort_keys_and_keep_int_float_apart() {
        let mut map = ValueMap::new();
        map.insert("b".into(), Value::Float(1.0));
        map.insert("a".into(), Value::Int(1));
        map.insert("é".into(), Value::Float(1e-5));
        map.insert("z".into(), Value::Float(f64::NAN));
        let mut out = String::new();
        write_value(&mut out, &Value::Map(map));
        assert_eq!(out, r#"{"a":1,"b":1.0,"z":NaN,"\u00e9":1e-05}"#);
    }
}
