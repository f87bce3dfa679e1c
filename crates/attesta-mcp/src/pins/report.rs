//! Telling the operator and the audit log that a tool changed.

use attesta::audit::{AuditRecord, python_isoformat};
use attesta::channel::sanitize_for_display;
use attesta::{ActionContext, RiskLevel, Value, ValueMap, Verdict};

use super::PinChange;

/// The audit record's `action_name` for a changed tool definition.
pub const PIN_CHANGE_ACTION: &str = "mcp.tool_definition_changed";

/// How many hex digits of a fingerprint people are shown; the audit log
/// and `--json` carry the whole hash.
const SHORT_HEX_DIGITS: usize = 12;

/// The audit record of a changed tool definition: action
/// [`PIN_CHANGE_ACTION`], risk `critical` (score 1.0), verdict `escalated`
/// (it waits for an operator), no challenge, timed at
/// [`PinChange::seen_at`], with metadata `source: "mcp"`, `server`, `tool`,
/// `accepted_fingerprint` and `seen_fingerprint`.
///
/// `agent_id` and `environment` are left empty: the change is the server's
/// doing, not an agent's; a caller that knows them may fill them in.
///
/// ```
/// use attesta_mcp::pins::{PinChange, pin_change_record};
/// let change = PinChange {
///     server: "fs".into(),
///     tool: "rm".into(),
///     accepted: "sha256:aa".into(),
///     seen: "sha256:bb".into(),
///     seen_at: chrono::Local::now(),
///     newly_pending: true,
/// };
/// let record = pin_change_record(&change, "mcp-1");
/// assert_eq!(record.action_name, "mcp.tool_definition_changed");
/// assert_eq!(
///     record.action_description,
///     "mcp.tool_definition_changed(server='fs', tool='rm', accepted='sha256:aa', seen='sha256:bb')"
/// );
/// assert_eq!((record.risk_level.as_str(), record.verdict.as_str()), ("critical", "escalated"));
/// ```
pub fn pin_change_record(change: &PinChange, session_id: &str) -> AuditRecord {
    // Built as a call so the description has the log's usual shape and
    // Python-repr quoting, whatever characters the names contain.
    let description = ActionContext::new(PIN_CHANGE_ACTION)
        .with_kwarg("server", change.server.as_str())
        .with_kwarg("tool", change.tool.as_str())
        .with_kwarg("accepted", change.accepted.as_str())
        .with_kwarg("seen", change.seen.as_str())
        .description();
    let mut metadata = ValueMap::new();
    for (key, value) in [
        ("source", "mcp"),
        ("server", &change.server),
        ("tool", &change.tool),
        ("accepted_fingerprint", &change.accepted),
        ("seen_fingerprint", &change.seen),
    ] {
        metadata.insert(key.to_owned(), Value::from(value));
    }
    let at = python_isoformat(&change.seen_at);
    AuditRecord {
        entry_id: uuid::Uuid::new_v4().simple().to_string(),
        action_name: PIN_CHANGE_ACTION.to_owned(),
        action_description: description,
        agent_id: String::new(),
        risk_score: 1.0,
        risk_level: RiskLevel::Critical.as_str().to_owned(),
        // The v1 format's "no challenge was presented".
        challenge_type: String::new(),
        challenge_passed: None,
        approver_ids: Vec::new(),
        verdict: Verdict::Escalated.as_str().to_owned(),
        review_duration_seconds: 0.0,
        min_review_met: true,
        intercepted_at: at.clone(),
        decided_at: at,
        executed_at: String::new(),
        session_id: session_id.to_owned(),
        environment: String::new(),
        metadata,
    }
}

/// One line for standard error that says which tool changed and what the
/// operator should do. Names come from the server, so they are sanitised
/// for the terminal (and quoted for the shell in the suggested command).
///
/// ```
/// use attesta_mcp::pins::{PinChange, pin_change_message};
/// let change = PinChange {
///     server: "fs".into(),
///     tool: "rm".into(),
///     accepted: format!("sha256:{}", "a".repeat(64)),
///     seen: format!("sha256:{}", "b".repeat(64)),
///     seen_at: chrono::Local::now(),
///     newly_pending: true,
/// };
/// let line = pin_change_message(&change);
/// assert!(line.contains("sha256:aaaaaaaaaaaa"));
/// assert!(line.ends_with("attesta mcp pins accept rm --server fs"));
/// ```
pub fn pin_change_message(change: &PinChange) -> String {
    let tool = sanitize_for_display(&change.tool);
    let server = sanitize_for_display(&change.server);
    format!(
        "attesta mcp: tool '{tool}' of server '{server}' changed its definition since it was \
         pinned (accepted {}, now {}); its calls are CRITICAL until you review the new definition \
         and run: attesta mcp pins accept {} --server {}",
        short_fingerprint(&change.accepted),
        short_fingerprint(&change.seen),
        shell_word(&tool),
        shell_word(&server),
    )
}

/// A fingerprint shortened for people: `sha256:` and its first 12 hex
/// digits (anything else is returned whole).
///
/// ```
/// use attesta_mcp::pins::short_fingerprint;
/// let full = format!("sha256:{}", "0123456789abcdef".repeat(4));
/// assert_eq!(short_fingerprint(&full), "sha256:0123456789ab");
/// assert_eq!(short_fingerprint("odd"), "odd");
/// ```
pub fn short_fingerprint(fingerprint: &str) -> &str {
    let end = "sha256:".len() + SHORT_HEX_DIGITS;
    match fingerprint.get(..end) {
        Some(short) if fingerprint.starts_with("sha256:") => short,
        _ => fingerprint,
    }
}

/// `word` as one POSIX shell word: as it is when it holds only characters
/// no shell treats specially, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,:/@%+=".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Local, TimeZone as _};

    use super::*;

    fn change(server: &str, tool: &str) -> PinChange {
        PinChange {
            server: server.to_owned(),
            tool: tool.to_owned(),
            accepted: format!("sha256:{}", "1".repeat(64)),
            seen: format!("sha256:{}", "2".repeat(64)),
            seen_at: Local
                .with_ymd_and_hms(2026, 5, 2, 9, 30, 0)
                .earliest()
                .unwrap(),
            newly_pending: true,
        }
    }

    #[test]
    fn the_record_is_a_critical_escalation_with_both_fingerprints() {
        let c = change("fs", "write_file");
        let record = pin_change_record(&c, "mcp-42");
        assert_eq!(record.entry_id.len(), 32);
        assert_eq!(record.action_name, PIN_CHANGE_ACTION);
        assert!(record.action_description.contains(&c.accepted));
        assert!(record.action_description.contains(&c.seen));
        assert!(record.action_description.contains("tool='write_file'"));
        assert_eq!(record.risk_level, "critical");
        assert_eq!(record.risk_score, 1.0);
        assert_eq!(record.verdict, "escalated");
        assert_eq!(record.challenge_type, "");
        assert_eq!(record.challenge_passed, None);
        assert_eq!(record.session_id, "mcp-42");
        assert_eq!(record.intercepted_at, "2026-05-02T09:30:00");
        assert_eq!(record.decided_at, record.intercepted_at);
        assert_eq!(record.executed_at, "");
        let meta = |k: &str| record.metadata.get(k).and_then(Value::as_str).unwrap();
        assert_eq!(meta("source"), "mcp");
        assert_eq!(meta("server"), "fs");
        assert_eq!(meta("tool"), "write_file");
        assert_eq!(meta("accepted_fingerprint"), c.accepted);
        assert_eq!(meta("seen_fingerprint"), c.seen);
        // Fresh ids: two records of one change are two entries.
        assert_ne!(pin_change_record(&c, "mcp-42").entry_id, record.entry_id);
    }

    #[test]
    fn the_message_is_one_safe_line_with_a_command_that_works() {
        let line = pin_change_message(&change("my server", "rm\u{1b}[2K\nx'y"));
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        assert!(line.contains("CRITICAL"), "{line}");
        assert!(line.contains("sha256:111111111111,"), "{line}");
        assert!(line.contains("now sha256:222222222222)"), "{line}");
        assert!(
            line.ends_with(r"attesta mcp pins accept 'rm⏎x'\''y' --server 'my server'"),
            "{line}"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("read_file"), "read_file");
        assert_eq!(shell_word("a/b:c@d"), "a/b:c@d");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
