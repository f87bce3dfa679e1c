//! The store's file format: converting profiles to and from `trust.json`.
//!
//! The first six keys of each profile are the reference's, in its order, so
//! the reference (and tools written for it) can still read our files; the
//! two new keys (`revoked_at`, `history`) follow. Missing keys take the
//! reference's defaults, so a file written by the reference loads.
//!
//! Unknown keys are rejected rather than ignored: the store holds security
//! state, and a misspelled key such as `revoked_At` that loaded silently
//! would lift a revocation. An unknown key is also what a store written by a
//! newer Attesta looks like, and refusing it keeps an older binary from
//! rewriting the file without the newer data.

use chrono::{DateTime, Local, NaiveDateTime, Timelike};
use indexmap::IndexMap;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::super::profile::{TrustOutcome, TrustProfile, TrustRecord};
use super::super::time::truncate_to_micros;
use super::pyjson::to_python_json;

/// What decoding needs besides the bytes.
#[derive(Debug, Clone, Copy)]
pub(in crate::trust) struct DecodeContext {
    /// `created_at` of profiles that lack one (the reference's default).
    pub(in crate::trust) now: NaiveDateTime,
    /// `overall_score` of profiles that lack one.
    pub(in crate::trust) initial_score: f64,
    /// Histories longer than this are cut to their newest records.
    pub(in crate::trust) history_limit: usize,
}

/// Parses a store. The error text says what is wrong and where; the caller
/// adds the file name.
pub(super) fn decode(
    bytes: &[u8],
    ctx: DecodeContext,
) -> Result<IndexMap<String, TrustProfile>, String> {
    let stored: IndexMap<String, StoredProfileIn> =
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    stored
        .into_iter()
        .map(|(agent_id, stored)| {
            let profile = stored
                .into_profile(&agent_id, ctx)
                .map_err(|e| format!("agent {agent_id:?}: {e}"))?;
            Ok((agent_id, profile))
        })
        .collect()
}

/// Serialises profiles in the store's format (Python `json.dumps(indent=2)`
/// text).
pub(super) fn encode(profiles: &IndexMap<String, TrustProfile>) -> serde_json::Result<Vec<u8>> {
    let stored: IndexMap<&str, StoredProfileOut<'_>> = profiles
        .iter()
        .map(|(id, p)| (id.as_str(), StoredProfileOut::from(p)))
        .collect();
    to_python_json(&stored)
}

/// Python's `datetime.isoformat()` of a naive time: `.ffffff` only when
/// there are microseconds.
pub(super) fn iso(ts: NaiveDateTime) -> String {
    // Leap-second nanos (≥ 1e9) have no Python equivalent; fold them back.
    let micros = ts.nanosecond() % 1_000_000_000 / 1_000;
    let whole = ts.format("%Y-%m-%dT%H:%M:%S");
    if micros == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{micros:06}")
    }
}

/// Parses the timestamps the reference implementations write: Python's
/// naive local `isoformat()`, and the TypeScript SDK's UTC `...Z` form
/// (converted to local time).
fn parse_iso(text: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| {
            DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Local).naive_local())
        })
        .map(truncate_to_micros)
        .map_err(|_| format!("{text:?} is not a timestamp (expected YYYY-MM-DDTHH:MM:SS[.ffffff])"))
}

/// A profile as read: every reference key optional, as the reference's
/// loader treats them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredProfileIn {
    #[serde(default, deserialize_with = "nullable_score")]
    overall_score: Option<f64>,
    domain_scores: Option<IndexMap<String, Option<f64>>>,
    incidents: Option<u32>,
    created_at: Option<String>,
    last_action_at: Option<String>,
    /// Derived from `history`; accepted and ignored, as the reference does.
    #[serde(rename = "history_count")]
    _history_count: Option<IgnoredAny>,
    revoked_at: Option<String>,
    history: Option<Vec<StoredRecordIn>>,
}

impl StoredProfileIn {
    fn into_profile(self, agent_id: &str, ctx: DecodeContext) -> Result<TrustProfile, String> {
        let timestamp =
            |key: &str, value: Option<String>| -> Result<Option<NaiveDateTime>, String> {
                // The reference treats an empty string like null (Python truthiness).
                match value.as_deref() {
                    None | Some("") => Ok(None),
                    Some(text) => parse_iso(text).map(Some).map_err(|e| format!("{key}: {e}")),
                }
            };
        let history = self
            .history
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.into_record().map_err(|e| format!("history[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut profile = TrustProfile {
            agent_id: agent_id.to_owned(),
            overall_score: self.overall_score.unwrap_or(ctx.initial_score),
            domain_scores: self
                .domain_scores
                .unwrap_or_default()
                .into_iter()
                .map(|(domain, score)| (domain, score.unwrap_or(f64::NAN)))
                .collect(),
            history,
            incidents: self.incidents.unwrap_or(0),
            created_at: timestamp("created_at", self.created_at)?.unwrap_or(ctx.now),
            last_action_at: timestamp("last_action_at", self.last_action_at)?,
            revoked_at: timestamp("revoked_at", self.revoked_at)?,
        };
        profile.trim_history(ctx.history_limit);
        Ok(profile)
    }
}

/// A present score, where `null` stands for NaN: `serde_json` writes a NaN
/// score as `null`, which only extreme settings or clock jumps produce, and
/// such a file must still load.
fn nullable_score<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Some(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN)))
}

/// A history record as read; every key is required (only we write them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRecordIn {
    timestamp: String,
    action_name: String,
    domain: String,
    outcome: TrustOutcome,
    risk_score: f64,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

impl StoredRecordIn {
    fn into_record(self) -> Result<TrustRecord, String> {
        Ok(TrustRecord {
            timestamp: parse_iso(&self.timestamp).map_err(|e| format!("timestamp: {e}"))?,
            action_name: self.action_name,
            domain: self.domain,
            outcome: self.outcome,
            risk_score: self.risk_score,
            severity: self.severity,
            description: self.description,
        })
    }
}

/// A profile as written; field order is the file's key order.
#[derive(Serialize)]
struct StoredProfileOut<'a> {
    overall_score: f64,
    domain_scores: &'a IndexMap<String, f64>,
    incidents: u32,
    created_at: String,
    last_action_at: Option<String>,
    history_count: usize,
    revoked_at: Option<String>,
    history: Vec<StoredRecordOut<'a>>,
}

impl<'a> From<&'a TrustProfile> for StoredProfileOut<'a> {
    fn from(p: &'a TrustProfile) -> Self {
        Self {
            overall_score: p.overall_score,
            domain_scores: &p.domain_scores,
            incidents: p.incidents,
            created_at: iso(p.created_at),
            last_action_at: p.last_action_at.map(iso),
            history_count: p.history.len(),
            revoked_at: p.revoked_at.map(iso),
            history: p.history.iter().map(StoredRecordOut::from).collect(),
        }
    }
}

/// A history record as written; incident details only on incidents.
#[derive(Serialize)]
struct StoredRecordOut<'a> {
    timestamp: String,
    action_name: &'a str,
    domain: &'a str,
    outcome: TrustOutcome,
    risk_score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

impl<'a> From<&'a TrustRecord> for StoredRecordOut<'a> {
    fn from(r: &'a TrustRecord) -> Self {
        Self {
            timestamp: iso(r.timestamp),
            action_name: &r.action_name,
            domain: &r.domain,
            outcome: r.outcome,
            risk_score: r.risk_score,
            severity: r.severity.as_deref(),
            description: r.description.as_deref(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop loudly
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    fn ctx() -> DecodeContext {
        DecodeContext {
            now: ts("2025-01-15T12:00:00"),
            initial_score: 0.3,
            history_limit: 1000,
        }
    }

    #[test]
    fn iso_matches_python_isoformat() {
        assert_eq!(iso(ts("2026-11-21T10:02:39")), "2026-11-21T10:02:39");
        assert_eq!(
            iso(ts("2026-11-21T10:02:39.495496")),
            "2026-11-21T10:02:39.495496"
        );
        assert_eq!(
            iso(ts("2026-11-21T10:02:39.000001")),
            "2026-11-21T10:02:39.000001"
        );
        assert_eq!(iso(ts("0999-01-02T03:04:05")), "0999-01-02T03:04:05");
    }

    #[test]
    fn parses_python_and_typescript_timestamps() {
        assert_eq!(
            parse_iso("2026-11-21T10:02:39").unwrap(),
            ts("2026-11-21T10:02:39")
        );
        assert_eq!(
            parse_iso("2026-11-21T10:02:39.495496").unwrap(),
            ts("2026-11-21T10:02:39.495496")
        );
        let utc = parse_iso("2026-11-21T10:02:39.495Z").unwrap();
        let expected = "2026-11-21T10:02:39.495Z"
            .parse::<DateTime<chrono::Utc>>()
            .unwrap()
            .with_timezone(&Local)
            .naive_local();
        assert_eq!(utc, expected);
        assert!(
            parse_iso("yesterday")
                .unwrap_err()
                .contains("\"yesterday\"")
        );
    }

    #[test]
    fn missing_reference_keys_take_reference_defaults() {
        let profiles = decode(br#"{"a": {}}"#, ctx()).unwrap();
        let a = &profiles["a"];
        assert_eq!(a.overall_score, 0.3);
        assert_eq!(a.incidents, 0);
        assert_eq!(a.created_at, ctx().now);
        assert_eq!(a.last_action_at, None);
        assert!(a.history.is_empty());
    }

    #[test]
    fn null_scores_load_as_nan_and_write_back_as_null() {
        let text = br#"{"a": {"overall_score": null, "domain_scores": {"ci": null}}}"#;
        let profiles = decode(text, ctx()).unwrap();
        assert!(profiles["a"].overall_score.is_nan());
        assert!(profiles["a"].domain_scores["ci"].is_nan());
        let written = String::from_utf8(encode(&profiles).unwrap()).unwrap();
        assert!(written.contains("\"overall_score\": null"), "{written}");
        assert!(written.contains("\"ci\": null"), "{written}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_agent_named() {
        let err = decode(br#"{"a": {"revoked_At": null}}"#, ctx()).unwrap_err();
        assert!(err.contains("revoked_At"), "{err}");
        let err = decode(
            br#"{"bot": {"created_at": "2025-01-01T00:00:00", "last_action_at": "soon"}}"#,
            ctx(),
        )
        .unwrap_err();
        assert!(
            err.contains("agent \"bot\"") && err.contains("last_action_at"),
            "{err}"
        );
    }

    #[test]
    fn loaded_history_is_cut_to_the_limit_keeping_the_newest() {
        let record = |t: &str| {
            format!(
                r#"{{"timestamp": "{t}", "action_name": "x", "domain": "d", "outcome": "success", "risk_score": 0.5}}"#
            )
        };
        let text = format!(
            r#"{{"a": {{"history": [{}, {}, {}]}}}}"#,
            record("2025-01-01T00:00:00"),
            record("2025-01-02T00:00:00"),
            record("2025-01-03T00:00:00")
        );
        let limited = DecodeContext {
            history_limit: 2,
            ..ctx()
        };
        let profiles = decode(text.as_bytes(), limited).unwrap();
        let stamps: Vec<_> = profiles["a"].history.iter().map(|r| r.timestamp).collect();
        assert_eq!(
            stamps,
            [ts("2025-01-02T00:00:00"), ts("2025-01-03T00:00:00")]
        );
    }
}
