//! [`AuditRecord`]: the v1 audit entry, built truthfully from a decision.

use chrono::{DateTime, Datelike, Local, Timelike};
use serde::{Deserialize, Serialize};

use crate::context::ActionContext;
use crate::decision::Decision;
use crate::value::{Value, ValueMap};

/// One audit entry with the fields of the reference's v1 format (the chain
/// fields `chain_hash` and `previous_hash` are added by the log that stores
/// it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Random 32-hex-digit id.
    pub entry_id: String,
    /// The function or tool name.
    pub action_name: String,
    /// The call in Python repr form (`deploy('prod', version='2.0')`).
    pub action_description: String,
    /// Requesting agent, or empty.
    pub agent_id: String,
    /// Final risk score.
    pub risk_score: f64,
    /// Final risk level.
    pub risk_level: String,
    /// The challenge that was presented, or empty if none was.
    pub challenge_type: String,
    /// Whether it was passed; `None` if no challenge was presented.
    pub challenge_passed: Option<bool>,
    /// Principal ids of the approving humans.
    pub approver_ids: Vec<String>,
    /// The verdict.
    pub verdict: String,
    /// Seconds the human(s) spent reviewing.
    pub review_duration_seconds: f64,
    /// Whether the minimum review time was respected.
    pub min_review_met: bool,
    /// When the action was intercepted (local time, Python isoformat).
    pub intercepted_at: String,
    /// When the verdict was reached.
    pub decided_at: String,
    /// Always empty here: the record is written before the action runs, so
    /// it cannot truthfully claim an execution time.
    pub executed_at: String,
    /// Session id, or empty.
    pub session_id: String,
    /// The environment the action was evaluated for.
    pub environment: String,
    /// The context's metadata, plus, under [`DECISION_KEY`], what the gate
    /// decided beyond the v1 fields when a human was asked or something
    /// unusual happened (reason, approvers' sub-results, fail-open, mode).
    pub metadata: ValueMap,
}

/// The metadata key under which the gate records its decision details.
/// The gate always overwrites it, so an agent cannot plant it.
pub const DECISION_KEY: &str = "attesta_decision";

impl AuditRecord {
    /// The record for `decision` about `ctx`, with a fresh entry id.
    pub fn from_decision(ctx: &ActionContext, decision: &Decision, entry_id: String) -> Self {
        let presented = decision.challenge_result.as_ref();
        Self {
            entry_id,
            action_name: ctx.function_name.clone(),
            action_description: ctx.description(),
            agent_id: ctx.agent_id.clone().unwrap_or_default(),
            risk_score: decision.risk.score,
            risk_level: decision.risk.level.as_str().to_owned(),
            challenge_type: presented
                .map(|r| r.challenge_type.as_str().to_owned())
                .unwrap_or_default(),
            challenge_passed: presented.map(|r| r.passed),
            approver_ids: decision.approvers.clone(),
            verdict: decision.verdict.as_str().to_owned(),
            review_duration_seconds: decision.review_time_seconds,
            min_review_met: decision.min_review_met,
            intercepted_at: python_isoformat(&decision.intercepted_at),
            decided_at: python_isoformat(&decision.decided_at),
            executed_at: String::new(),
            session_id: ctx.session_id.clone().unwrap_or_default(),
            environment: decision.environment.clone(),
            metadata: metadata_for(ctx, decision),
        }
    }
}

/// The context's metadata with the gate's decision details added (or a
/// planted entry removed) under [`DECISION_KEY`].
fn metadata_for(ctx: &ActionContext, decision: &Decision) -> ValueMap {
    let mut metadata = ctx.metadata.clone();
    metadata.shift_remove(DECISION_KEY);
    let unusual = decision.fail_open
        || decision.mode != crate::policy::GateMode::Enforce
        || !decision.metadata.is_empty()
        || !decision.warnings.is_empty();
    if decision.challenge_result.is_none() && !unusual {
        // The common auto-approved case: the v1 fields say everything.
        return metadata;
    }
    let mut details = ValueMap::new();
    details.insert("reason".into(), decision.reason.clone().into());
    details.insert("mode".into(), decision.mode.as_str().into());
    details.insert("fail_open".into(), decision.fail_open.into());
    details.insert(
        "min_review_seconds".into(),
        decision.min_review_seconds.into(),
    );
    if let Some(result) = &decision.challenge_result {
        details.insert("responder".into(), result.responder.clone().into());
        details.insert(
            "questions_asked".into(),
            i64::from(result.questions_asked).into(),
        );
        details.insert(
            "questions_correct".into(),
            i64::from(result.questions_correct).into(),
        );
        if let Some(why) = result.unanswered {
            details.insert("unanswered".into(), why.as_str().into());
        }
        // Multi-party: every approver's identity proof, timing and sub-result.
        for key in [
            "approver_records",
            "required_approvers",
            "identity_warning",
            "verified_by",
        ] {
            if let Some(value) = result.details.get(key) {
                details.insert(key.into(), value.clone());
            }
        }
    }
    if !decision.metadata.is_empty() {
        details.insert("gate".into(), Value::Map(decision.metadata.clone()));
    }
    if !decision.warnings.is_empty() {
        let warnings = decision.warnings.iter().cloned().map(Value::Str).collect();
        details.insert("warnings".into(), Value::List(warnings));
    }
    metadata.insert(DECISION_KEY.into(), Value::Map(details));
    metadata
}

/// Python's naive `datetime.isoformat()`: `YYYY-MM-DDTHH:MM:SS`, plus
/// `.ffffff` only when the microseconds are not zero; no offset.
pub fn python_isoformat(t: &DateTime<Local>) -> String {
    // Written by hand: chrono's strftime machinery (and even `write!` with
    // padding) costs more than the rest of an auto-approved evaluation.
    let local = t.naive_local();
    let mut out = String::with_capacity(26);
    let year = u32::try_from(local.year()).unwrap_or(0);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, local.month(), 2);
    out.push('-');
    push_digits(&mut out, local.day(), 2);
    out.push('T');
    push_digits(&mut out, local.hour(), 2);
    out.push(':');
    push_digits(&mut out, local.minute(), 2);
    out.push(':');
    push_digits(&mut out, local.second(), 2);
    // A leap second shows as nanosecond >= 1e9; Python has no leap seconds.
    let micros = local.nanosecond() / 1_000 % 1_000_000;
    if micros != 0 {
        out.push('.');
        push_digits(&mut out, micros, 6);
    }
    out
}

/// Appends `value` zero-padded to `width` digits (more if it needs them).
fn push_digits(out: &mut String, value: u32, width: usize) {
    // At most 10 digits for a u32; fill from the right, then append the
    // used tail in one go.
    let mut buf = [b'0'; 10];
    let mut n = value;
    let mut start = buf.len();
    while n > 0 {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = start.min(buf.len().saturating_sub(width));
    // Only ASCII digits were written, so this never fails.
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn local(h: u32, m: u32, s: u32, micro: u32) -> DateTime<Local> {
        NaiveDate::from_ymd_opt(2025, 1, 15)
            .and_then(|d| d.and_hms_micro_opt(h, m, s, micro))
            .and_then(|n| n.and_local_timezone(Local).earliest())
            .expect("valid local time")
    }

    #[test]
    fn isoformat_omits_zero_microseconds() {
        assert_eq!(
            python_isoformat(&local(14, 31, 0, 0)),
            "2025-01-15T14:31:00"
        );
        assert_eq!(
            python_isoformat(&local(14, 30, 0, 123_456)),
            "2025-01-15T14:30:00.123456"
        );
        assert_eq!(
            python_isoformat(&local(0, 0, 0, 5)),
            "2025-01-15T00:00:00.000005"
        );
    }
}
