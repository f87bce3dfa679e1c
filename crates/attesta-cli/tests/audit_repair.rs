//! `attesta audit repair` on a real log with a torn last line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::io::Write as _;
use std::process::Command;

use attesta::audit::{AuditRecord, JsonlAuditLog};

fn record(n: usize) -> AuditRecord {
    serde_json::from_value(serde_json::json!({
        "entry_id": format!("e{n}"), "action_name": "deploy", "action_description": "deploy()",
        "agent_id": "", "risk_score": 0.1, "risk_level": "low", "challenge_type": "",
        "challenge_passed": null, "approver_ids": [], "verdict": "approved",
        "review_duration_seconds": 0.0, "min_review_met": true, "intercepted_at": "",
        "decided_at": "", "executed_at": "", "session_id": "", "environment": "ci", "metadata": {}
    }))
    .unwrap()
}

#[test]
fn repair_quarantines_a_torn_line_and_appends_work_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = JsonlAuditLog::new(&path);
    log.append_blocking(&record(0)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"action_des")
        .unwrap();
    assert!(
        log.append_blocking(&record(1)).is_err(),
        "a torn log refuses appends"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(["audit", "repair", "--log"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Moved a torn last line (12 bytes)"), "{text}");
    assert!(std::fs::read_to_string(&path).unwrap().ends_with('\n'));
    log.append_blocking(&record(1)).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(["audit", "--log"])
        .arg(&path)
        .args(["repair", "--json"])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["repaired"], false);
}

#[test]
fn repairing_a_missing_log_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .current_dir(dir.path())
        .args(["audit", "repair"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit.jsonl"));
}

#[test]
fn verify_reports_checkpoints_the_policy_expected_but_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("attesta.yaml"),
        "audit:\n  checkpoint_every: 2\n",
    )
    .unwrap();
    // Written without the checkpointer, as if the sidecar had been deleted.
    let log = JsonlAuditLog::new(dir.path().join(".attesta/audit.jsonl"));
    for n in 0..3 {
        log.append_blocking(&record(n)).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .current_dir(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("intact: 3 entries") && text.contains("CHECKPOINTS MISSING"),
        "{text}"
    );
}
