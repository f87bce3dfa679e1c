//! [`AuditRecord`]: the v1 audit entry, built truthfully from a decision.

use chrono::{DateTime, Datelike, Local, Timelike};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::keys::hex_encode;
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
    /// The call in Python repr form (`deploy('prod', version='2.0')`), cut
    /// to [`MAX_DESCRIPTION_CHARS`] characters plus [`TRUNCATION_MARKER`]
    /// when longer; the full call's length and SHA-256 are then under
    /// `metadata.attesta_decision.action_description`.
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
    /// unusual happened (reason, approvers' sub-results, fail-open, mode, a
    /// cut description).
    pub metadata: ValueMap,
}

/// The metadata key under which the gate records its decision details.
/// The gate always overwrites it, so an agent cannot plant it.
pub const DECISION_KEY: &str = "attesta_decision";

/// The longest `action_description` stored whole, in characters (Unicode
/// scalar values). Longer calls are cut so that one huge tool argument
/// cannot make the audit line (and every reader's memory) as large as itself.
pub const MAX_DESCRIPTION_CHARS: usize = 4096;

/// Appended to a description cut at [`MAX_DESCRIPTION_CHARS`], so a reader
/// of the log sees at once that it is not the whole call.
pub const TRUNCATION_MARKER: &str = "\u{2026} [truncated]";

/// What a cut description left out, for matching the full call later.
#[derive(Debug)]
struct Truncation {
    /// The full description's length in characters.
    length: usize,
    /// Lowercase hex SHA-256 of the full description's UTF-8 bytes.
    sha256: String,
}

impl AuditRecord {
    /// The record for `decision` about `ctx`, with a fresh entry id.
    pub fn from_decision(ctx: &ActionContext, decision: &Decision, entry_id: String) -> Self {
        let presented = decision.challenge_result.as_ref();
        let (action_description, truncation) = bound_description(ctx.description());
        Self {
            entry_id,
            action_name: ctx.function_name.clone(),
            action_description,
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
            metadata: metadata_for(ctx, decision, truncation),
        }
    }
}

/// `full` as stored in the log: unchanged up to [`MAX_DESCRIPTION_CHARS`]
/// characters, otherwise its first that many characters plus
/// [`TRUNCATION_MARKER`], with what was cut.
fn bound_description(full: String) -> (String, Option<Truncation>) {
    // A character is at least one byte, so a short string in bytes is short
    // in characters: the common case never walks the string.
    if full.len() <= MAX_DESCRIPTION_CHARS {
        return (full, None);
    }
    let Some((cut_at, _)) = full.char_indices().nth(MAX_DESCRIPTION_CHARS) else {
        return (full, None);
    };
    let truncation = Truncation {
        length: MAX_DESCRIPTION_CHARS + full[cut_at..].chars().count(),
        sha256: hex_encode(&Sha256::digest(full.as_bytes())),
    };
    // A fresh string rather than `truncate`: the cut one would keep the full
    // allocation alive for as long as the record lives (a memory sink keeps
    // every record).
    let mut kept = String::with_capacity(cut_at + TRUNCATION_MARKER.len());
    kept.push_str(&full[..cut_at]);
    kept.push_str(TRUNCATION_MARKER);
    (kept, Some(truncation))
}

/// `n` as a metadata integer. Lengths of strings in memory always fit.
fn int_value(n: usize) -> Value {
    Value::Int(i128::try_from(n).unwrap_or(i128::MAX))
}

/// The context's metadata with the gate's decision details added (or a
/// planted entry removed) under [`DECISION_KEY`].
fn metadata_for(
    ctx: &ActionContext,
    decision: &Decision,
    truncation: Option<Truncation>,
) -> ValueMap {
    let mut metadata = ctx.metadata.clone();
    metadata.shift_remove(DECISION_KEY);
    // A cut description is unusual too: without its length and digest the
    // record would not say what was actually called.
    let unusual = decision.fail_open
        || decision.mode != crate::policy::GateMode::Enforce
        || !decision.metadata.is_empty()
        || !decision.warnings.is_empty()
        || truncation.is_some();
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
        // An approval server's id and signed decision, so the record can
        // be matched with the server's own trail and checked with its key.
        // Which route decided, and the routes that could not take it.
        for key in [
            "approver_records",
            "required_approvers",
            "identity_warning",
            "verified_by",
            "server_approval_id",
            "server_decision",
            "approval_route",
            "routes_passed_over",
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
    if let Some(cut) = truncation {
        let mut bounded = ValueMap::new();
        bounded.insert("length".into(), int_value(cut.length));
        bounded.insert("kept".into(), int_value(MAX_DESCRIPTION_CHARS));
        bounded.insert("sha256".into(), cut.sha256.into());
        details.insert("action_description".into(), Value::Map(bounded));
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
    use std::fmt::Write as _;
    use std::sync::Arc;

    use super::*;
    use crate::audit::{GENESIS_HASH, MemoryAuditSink, record_line};
    use crate::challenge::ChallengeType;
    use crate::decision::Verdict;
    use crate::policy::{FailMode, GateMode};
    use crate::risk::RiskAssessment;
    use chrono::NaiveDate;

    /// What the gate decides for a low-risk call nobody is asked about.
    fn auto_approved() -> Decision {
        let now = Local::now();
        Decision {
            verdict: Verdict::Approved,
            reason: "low risk".into(),
            risk: RiskAssessment::from_score(0.1, Vec::new(), "test").expect("in range"),
            challenge: ChallengeType::AutoApprove,
            challenge_result: None,
            approvers: Vec::new(),
            review_time_seconds: 0.0,
            min_review_seconds: 0.0,
            min_review_met: true,
            mode: GateMode::Enforce,
            fail_mode: FailMode::Deny,
            fail_open: false,
            audit_entry_id: None,
            intercepted_at: now,
            decided_at: now,
            environment: "test".into(),
            metadata: ValueMap::new(),
            warnings: Vec::new(),
        }
    }

    fn record(ctx: &ActionContext, decision: &Decision) -> AuditRecord {
        AuditRecord::from_decision(ctx, decision, "0".repeat(32))
    }

    /// The `attesta_decision` details of `record`, if it has any.
    fn details(record: &AuditRecord) -> Option<&ValueMap> {
        match record.metadata.get(DECISION_KEY) {
            Some(Value::Map(details)) => Some(details),
            _ => None,
        }
    }

    /// SHA-256 hex computed here, not through the code under test.
    fn sha256_hex(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .fold(String::new(), |mut out, b| {
                let _ = write!(out, "{b:02x}");
                out
            })
    }

    fn expected_bounds(full: &str) -> Value {
        let mut bounds = ValueMap::new();
        bounds.insert("length".into(), Value::Int(full.chars().count() as i128));
        bounds.insert("kept".into(), Value::Int(4096));
        bounds.insert("sha256".into(), sha256_hex(full).into());
        Value::Map(bounds)
    }

    #[test]
    fn descriptions_up_to_the_limit_are_stored_unchanged() {
        // Exactly 4096 characters: `f('` + 4091 + `')`.
        let ascii = ActionContext::new("f").with_arg("x".repeat(4091));
        // 4096 characters but 8187 bytes: the limit counts characters.
        let wide = ActionContext::new("f").with_arg("\u{e9}".repeat(4091));
        let mut unusual = auto_approved();
        unusual.warnings.push("trust could not be saved".into());
        for ctx in [&ascii, &wide] {
            let full = ctx.description();
            assert_eq!(full.chars().count(), 4096);
            let plain = record(ctx, &auto_approved());
            assert_eq!(plain.action_description, full);
            assert!(plain.metadata.is_empty(), "{:?}", plain.metadata);
            let flagged = record(ctx, &unusual);
            assert_eq!(flagged.action_description, full);
            let details = details(&flagged).expect("warnings make details");
            assert!(!details.contains_key("action_description"), "{details:?}");
        }
    }

    #[test]
    fn a_long_description_keeps_4096_chars_and_the_full_digest() {
        let ctx = ActionContext::new("danger").with_kwarg("target", "y".repeat(10_000));
        let full = ctx.description();
        let mut decision = auto_approved();
        decision.warnings.push("w".into());
        let record = record(&ctx, &decision);
        let expected: String = full.chars().take(4096).collect();
        assert_eq!(
            record.action_description,
            format!("{expected}\u{2026} [truncated]")
        );
        assert!(record.action_description.starts_with("danger(target='yyyy"));
        let details = details(&record).expect("truncation makes details");
        assert_eq!(
            details.get("action_description"),
            Some(&expected_bounds(&full))
        );
        // The existing details keep their order; the new entry comes last.
        let keys: Vec<&str> = details.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "reason",
                "mode",
                "fail_open",
                "min_review_seconds",
                "warnings",
                "action_description"
            ]
        );
        let Some(Value::Map(bounds)) = details.get("action_description") else {
            panic!("a map: {details:?}");
        };
        let keys: Vec<&str> = bounds.keys().map(String::as_str).collect();
        assert_eq!(keys, ["length", "kept", "sha256"]);
    }

    #[test]
    fn a_multibyte_description_is_cut_on_a_char_boundary() {
        // `é` is 2 bytes and the crab 4, so no byte count lines up with 4096
        // characters; slicing at byte 4096 would panic or split a character.
        let ctx = ActionContext::new("f").with_arg("\u{e9}\u{1f980}".repeat(3000));
        let full = ctx.description();
        assert_eq!(full.chars().count(), 6005);
        let record = record(&ctx, &auto_approved());
        let kept = record
            .action_description
            .strip_suffix("\u{2026} [truncated]")
            .expect("marked as cut");
        assert_eq!(kept.chars().count(), 4096);
        assert!(kept.len() > 4096, "counted in bytes: {}", kept.len());
        assert_eq!(kept, full.chars().take(4096).collect::<String>());
        let details = details(&record).expect("truncation makes details");
        assert_eq!(
            details.get("action_description"),
            Some(&expected_bounds(&full))
        );
    }

    #[tokio::test]
    async fn an_auto_approved_huge_argument_is_recorded_bounded_with_its_digest() {
        let sink = Arc::new(MemoryAuditSink::new());
        let attesta = crate::Attesta::builder()
            .audit(sink.clone())
            .build()
            .expect("valid");
        let ctx = ActionContext::new("get_users").with_kwarg("filter", "y".repeat(4 << 20));
        let decision = attesta.evaluate(&ctx).await;
        assert!(decision.is_approved(), "{}", decision.reason);
        assert!(decision.challenge_result.is_none(), "nobody was asked");
        let records = sink.records();
        let record = &records[0];
        let details = details(record).expect("truncation is unusual");
        assert_eq!(
            details.get("action_description"),
            Some(&expected_bounds(&ctx.description()))
        );
        let line = record_line(record, GENESIS_HASH).line;
        assert!(
            line.len() < 16 * 1024,
            "the line holds {} bytes",
            line.len()
        );
    }

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
