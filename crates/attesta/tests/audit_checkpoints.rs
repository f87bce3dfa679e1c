//! Signed checkpoints catch what the bare hash chain cannot: a deleted tail
//! and a history rewritten with recomputed hashes.

// A failing test should stop loudly.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use attesta::ValueMap;
use attesta::audit::{
    AuditPublicKey, AuditRecord, AuditSigningKey, Checkpoint, CheckpointPolicy, CheckpointProblem,
    Checkpointer, GENESIS_HASH, KeyError, LogHead, checkpoint_log, checkpoints_path, read_log_head,
    record_line, verify_checkpoints,
};
use attesta::clock::SystemClock;
use attesta::policy::Policy;
use chrono::{DateTime, FixedOffset};

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        entry_id: format!("{i:032x}"),
        action_name: format!("action_{i}"),
        action_description: format!("action_{i}()"),
        agent_id: "agent-001".into(),
        risk_score: 0.5,
        risk_level: "medium".into(),
        challenge_type: "confirm".into(),
        challenge_passed: Some(true),
        approver_ids: vec!["alice".into()],
        verdict: "approved".into(),
        review_duration_seconds: 4.0,
        min_review_met: true,
        intercepted_at: "2025-01-15T10:00:00".into(),
        decided_at: "2025-01-15T10:00:04".into(),
        executed_at: String::new(),
        session_id: "s".into(),
        environment: "production".into(),
        metadata: ValueMap::new(),
    }
}

/// Chains `records` from genesis and returns the log text and the head.
fn chain(records: &[AuditRecord]) -> (String, String) {
    let mut previous = GENESIS_HASH.to_owned();
    let mut text = String::new();
    for r in records {
        let line = record_line(r, &previous);
        text.push_str(&line.line);
        previous = line.chain_hash;
    }
    (text, previous)
}

fn write_log(dir: &Path, n: usize) -> (PathBuf, Vec<AuditRecord>) {
    let records: Vec<AuditRecord> = (1..=n).map(record).collect();
    let path = dir.join("audit.jsonl");
    fs::write(&path, chain(&records).0).unwrap();
    (path, records)
}

/// A bare hash-chain check: every line re-renders to itself from the
/// previous hash.
fn bare_chain_verifies(log: &Path) -> bool {
    let mut previous = GENESIS_HASH.to_owned();
    for line in fs::read_to_string(log).unwrap().lines() {
        let r: AuditRecord = serde_json::from_str(line).unwrap();
        let expected = record_line(&r, &previous);
        if expected.line.trim_end() != line {
            return false;
        }
        previous = expected.chain_hash;
    }
    true
}

fn time() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-01-15T10:00:00+01:00").unwrap()
}

fn key(seed: u8) -> AuditSigningKey {
    AuditSigningKey::from_seed(&[seed; 32])
}

fn problems(log: &Path, key: &AuditPublicKey) -> Vec<(usize, CheckpointProblem)> {
    verify_checkpoints(log, key)
        .unwrap()
        .issues
        .into_iter()
        .map(|i| (i.index, i.problem))
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn key_files_are_private_and_never_overwritten_silently() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join(".attesta/audit.key");
    let public = dir.path().join(".attesta/audit.pub");
    let first = AuditSigningKey::generate().unwrap();
    first.save(&private, &public, false).unwrap();
    #[cfg(unix)]
    {
        assert_eq!(mode(&private), 0o600);
        assert_eq!(mode(&public), 0o644);
        assert_eq!(mode(&dir.path().join(".attesta")), 0o700);
    }
    let text = fs::read_to_string(&private).unwrap();
    assert!(text.starts_with("attesta-audit-signing-key v1\n"), "{text}");
    assert!(
        fs::read_to_string(&public)
            .unwrap()
            .starts_with("attesta-audit-public-key v1\n")
    );

    let second = AuditSigningKey::generate().unwrap();
    let err = second.save(&private, &public, false).unwrap_err();
    assert!(matches!(&err, KeyError::Exists { path } if *path == private));
    assert!(err.to_string().contains("audit.key"), "{err}");
    assert_eq!(fs::read_to_string(&private).unwrap(), text, "unchanged");

    // Only the public file present still refuses (no half-written pair).
    fs::remove_file(&private).unwrap();
    let err = second.save(&private, &public, false).unwrap_err();
    assert!(matches!(&err, KeyError::Exists { path } if *path == public));
    assert!(!private.exists());

    second.save(&private, &public, true).unwrap();
    let loaded = AuditSigningKey::load(&private).unwrap();
    assert_eq!(loaded.public_key(), second.public_key());
    assert_eq!(AuditPublicKey::load(&public).unwrap(), second.public_key());
    assert_ne!(loaded.public_key(), first.public_key());
    #[cfg(unix)]
    assert_eq!(mode(&private), 0o600);
}

#[cfg(unix)]
#[test]
fn a_private_key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("k");
    key(3).save(&private, &dir.path().join("p"), false).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o644)).unwrap();
    let err = AuditSigningKey::load(&private).unwrap_err();
    assert!(
        matches!(err, KeyError::Exposed { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn edited_key_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = (dir.path().join("k"), dir.path().join("p"));
    key(3).save(&private, &public, false).unwrap();
    let text = fs::read_to_string(&public).unwrap();
    let other = key(4).public_key().to_file_text();
    // Key id of one key, public key bytes of another.
    let mixed = format!(
        "{}{}",
        text.lines().take(2).collect::<Vec<_>>().join("\n") + "\n",
        other.lines().nth(2).unwrap()
    );
    fs::write(&public, mixed).unwrap();
    let err = AuditPublicKey::load(&public).unwrap_err();
    assert!(err.to_string().contains("key-id"), "{err}");
    fs::write(&public, "attesta-audit-signing-key v1\nsecret: 00\n").unwrap();
    assert!(matches!(
        AuditPublicKey::load(&public),
        Err(KeyError::Malformed { .. })
    ));
}

#[test]
fn checkpoint_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (log, records) = write_log(dir.path(), 10);
    let k = key(1);
    let c = checkpoint_log(&log, &k, Some("prod".into()), time()).unwrap();
    assert_eq!(c.entries, 10);
    assert_eq!(c.head_hash, chain(&records).1);
    assert_eq!(c.time, "2025-01-15T10:00:00+01:00");
    assert_eq!(c.key_id, k.public_key().key_id());

    let sidecar = checkpoints_path(&log);
    assert_eq!(sidecar, dir.path().join("audit.jsonl.checkpoints"));
    let line = fs::read_to_string(&sidecar).unwrap();
    assert_eq!(line.lines().count(), 1);
    assert_eq!(Checkpoint::parse_line(line.trim()).unwrap(), c);
    assert!(c.signature_valid(&k.public_key()));

    // Growing the log keeps earlier checkpoints valid.
    let more: Vec<AuditRecord> = (1..=12).map(record).collect();
    fs::write(&log, chain(&more).0).unwrap();
    checkpoint_log(&log, &k, None, time()).unwrap();
    let report = verify_checkpoints(&log, &k.public_key()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(
        (report.checkpoints, report.verified, report.covered_entries),
        (2, 2, 12)
    );
    assert_eq!(report.log_entries, 12);
}

#[test]
fn empty_log_checkpoints_at_genesis_and_missing_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    assert!(read_log_head(&log).is_err());
    fs::write(&log, "\n\n").unwrap();
    let head = read_log_head(&log).unwrap();
    assert_eq!(
        head,
        LogHead {
            entries: 0,
            head_hash: GENESIS_HASH.into()
        }
    );
    checkpoint_log(&log, &key(1), None, time()).unwrap();
    assert!(
        verify_checkpoints(&log, &key(1).public_key())
            .unwrap()
            .is_ok()
    );
}

#[test]
fn deleted_tail_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = write_log(dir.path(), 10);
    let k = key(1);
    checkpoint_log(&log, &k, None, time()).unwrap();
    let text = fs::read_to_string(&log).unwrap();
    let kept = text.lines().take(7).collect::<Vec<_>>().join("\n") + "\n";
    fs::write(&log, kept).unwrap();
    assert!(bare_chain_verifies(&log), "the chain alone cannot tell");

    let report = verify_checkpoints(&log, &k.public_key()).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.verified, 0);
    assert_eq!(
        report.issues[0].problem,
        CheckpointProblem::DeletedTail {
            log_entries: 7,
            checkpoint_entries: 10
        }
    );
    assert_eq!(report.issues[0].index, 1);
    assert_eq!(
        report.issues[0].problem.to_string(),
        "deleted tail (log has 7 entries, checkpoint at 10)"
    );
}

#[test]
fn edit_and_recompute_forgery_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (log, mut records) = write_log(dir.path(), 10);
    let k = key(1);
    checkpoint_log(&log, &k, None, time()).unwrap();

    records[2].verdict = "denied".into();
    fs::write(&log, chain(&records).0).unwrap();
    assert!(
        bare_chain_verifies(&log),
        "the forgery passes the bare chain"
    );
    assert!(fs::read_to_string(&log).unwrap().contains("\"denied\""));

    let got = problems(&log, &k.public_key());
    assert_eq!(
        got,
        [(1, CheckpointProblem::HistoryRewritten { entry: 10 })]
    );
    assert_eq!(
        got[0].1.to_string(),
        "history rewritten before entry 10 (checkpoint head differs)"
    );
}

#[test]
fn forged_checkpoint_lines_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (log, records) = write_log(dir.path(), 10);
    let k = key(1);
    let genuine = Checkpoint::sign(
        &k,
        &LogHead {
            entries: 5,
            head_hash: chain(&records[..5]).1,
        },
        None,
        time(),
    )
    .unwrap();
    // Edited count with the old signature; then a made-up signature.
    let mut edited = genuine.clone();
    edited.entries = 10;
    edited.head_hash = chain(&records).1;
    let mut made_up = genuine.clone();
    made_up.signature = "ab".repeat(64);
    let lines = [genuine.to_line(), edited.to_line(), made_up.to_line()];
    fs::write(checkpoints_path(&log), lines.join("\n") + "\nnot json\n").unwrap();

    let got = problems(&log, &k.public_key());
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], (2, CheckpointProblem::BadSignature));
    assert_eq!(got[1], (3, CheckpointProblem::BadSignature));
    assert!(matches!(got[2], (4, CheckpointProblem::Malformed { .. })));
    let report = verify_checkpoints(&log, &k.public_key()).unwrap();
    assert_eq!((report.checkpoints, report.verified), (4, 1));
}

#[test]
fn a_checkpoint_signed_by_another_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = write_log(dir.path(), 10);
    let (ours, theirs) = (key(1), key(2));
    checkpoint_log(&log, &theirs, None, time()).unwrap();
    // And one that claims our key id but is signed by theirs.
    let mut claimed =
        Checkpoint::sign(&theirs, &read_log_head(&log).unwrap(), None, time()).unwrap();
    claimed.key_id = ours.public_key().key_id();
    let sidecar = checkpoints_path(&log);
    let mut text = fs::read_to_string(&sidecar).unwrap();
    text.push_str(&claimed.to_line());
    text.push('\n');
    fs::write(&sidecar, text).unwrap();

    let got = problems(&log, &ours.public_key());
    assert_eq!(
        got,
        [
            (
                1,
                CheckpointProblem::UnknownKey {
                    key_id: theirs.public_key().key_id()
                }
            ),
            (2, CheckpointProblem::BadSignature)
        ]
    );
}

#[test]
fn verification_needs_only_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = write_log(dir.path(), 10);
    let (private, public) = (dir.path().join("audit.key"), dir.path().join("audit.pub"));
    AuditSigningKey::generate()
        .unwrap()
        .save(&private, &public, false)
        .unwrap();
    let signer = AuditSigningKey::load(&private).unwrap();
    checkpoint_log(&log, &signer, None, time()).unwrap();
    drop(signer);
    fs::remove_file(&private).unwrap();

    let key = AuditPublicKey::load(&public).unwrap();
    let report = verify_checkpoints(&log, &key).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.verified, 1);
}

#[test]
fn checkpoints_out_of_order_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (log, records) = write_log(dir.path(), 10);
    let k = key(1);
    checkpoint_log(&log, &k, None, time()).unwrap();
    let earlier = Checkpoint::sign(
        &k,
        &LogHead {
            entries: 4,
            head_hash: chain(&records[..4]).1,
        },
        None,
        time(),
    )
    .unwrap();
    attesta::audit::checkpoint::append_checkpoint(&checkpoints_path(&log), &earlier).unwrap();
    assert_eq!(
        problems(&log, &k.public_key()),
        [(
            2,
            CheckpointProblem::OutOfOrder {
                previous_entries: 10,
                entries: 4
            }
        )]
    );
}

#[test]
fn the_writer_hook_checkpoints_every_n_entries() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let k = key(1);
    let hook = Checkpointer::new(
        &log,
        key(1),
        CheckpointPolicy { every: Some(4) },
        Arc::new(SystemClock::new()),
    )
    .with_log_id("main");
    let mut previous = GENESIS_HASH.to_owned();
    let mut text = String::new();
    let mut written = Vec::new();
    for i in 1..=10u64 {
        let line = record_line(&record(usize::try_from(i).unwrap()), &previous);
        text.push_str(&line.line);
        fs::write(&log, &text).unwrap();
        previous = line.chain_hash;
        if let Some(c) = hook.after_append(i, &previous).unwrap() {
            written.push(c.entries);
            assert_eq!(c.log_id.as_deref(), Some("main"));
        }
    }
    assert_eq!(written, [4, 8]);
    let report = verify_checkpoints(&log, &k.public_key()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.covered_entries, 8);
    assert!(!CheckpointPolicy::default().is_due(4));
}

#[test]
fn policy_reads_checkpoint_every_and_key_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("attesta.yaml");
    fs::write(
        &file,
        "audit:\n  checkpoint_every: 100\n  key: keys/a.key\n",
    )
    .unwrap();
    let p = Policy::from_file(&file).unwrap();
    assert_eq!(p.audit.checkpoint_every, Some(100));
    assert_eq!(p.audit.checkpoint_policy().every, Some(100));
    assert_eq!(p.audit.key_path, dir.path().join("keys/a.key"));
    assert_eq!(
        p.audit.public_key_path,
        dir.path().join(".attesta/audit.pub")
    );

    fs::write(&file, "policy:\n  fail_mode: deny\n").unwrap();
    let p = Policy::from_file(&file).unwrap();
    assert_eq!(p.audit.key_path, dir.path().join(".attesta/audit.key"));
    assert_eq!(p.audit.checkpoint_every, None);

    for (text, wanted) in [
        ("audit:\n  checkpoint_every: 0\n", "out of range"),
        ("audit:\n  checkpoint_every: '10'\n", "without quotes"),
        ("audit:\n  checkpoint_every: 2.5\n", "whole number"),
        ("audit:\n  public_key: ''\n", "empty"),
    ] {
        fs::write(&file, text).unwrap();
        let err = Policy::from_file(&file).unwrap_err().to_string();
        assert!(err.contains("audit."), "{err}");
        assert!(err.contains(wanted), "{text}: {err}");
    }
}
