//! The JSONL audit log with real files and real processes: concurrent
//! writers keep one chain, a torn line is refused until repaired, a killed
//! writer leaves a log that verifies up to its last whole line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use attesta::audit::{
    AuditRecord, AuditSink, GENESIS_HASH, JsonlAuditLog, RepairOutcome, Tail, record_line,
};
use attesta::{ActionContext, Attesta, Verdict};

fn record(n: usize, writer: &str) -> AuditRecord {
    let json = format!(
        r#"{{"entry_id":"{writer}-{n:05}","action_name":"deploy","action_description":"deploy('svc-{n}')",
        "agent_id":"agent-{writer}","risk_score":0.45,"risk_level":"medium","challenge_type":"confirm",
        "challenge_passed":true,"approver_ids":["alice"],"verdict":"approved","review_duration_seconds":4.5,
        "min_review_met":true,"intercepted_at":"2026-11-21T10:00:00","decided_at":"2026-11-21T10:00:04.500000",
        "executed_at":"","session_id":"s","environment":"ci","metadata":{{"writer":"{writer}","n":{n}}}}}"#
    );
    serde_json::from_str(&json).unwrap()
}

/// Checks the whole chain by re-deriving every line from its content: each
/// line must be exactly the canonical line of its record chained to the
/// previous line's hash. Returns the number of entries.
fn assert_chain_intact(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "log must end with a newline"
    );
    let mut previous = GENESIS_HASH.to_owned();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {i}: {e}"));
        assert_eq!(
            value["previous_hash"],
            previous.as_str(),
            "line {i} links to the wrong entry"
        );
        let record: AuditRecord = serde_json::from_value(value.clone()).unwrap();
        let expected = record_line(&record, &previous);
        assert_eq!(
            format!("{line}\n"),
            expected.line,
            "line {i} is not its canonical, chained form"
        );
        previous = expected.chain_hash;
        count += 1;
    }
    count
}

/// When re-executed as a child (see `spawn_writer`), appends records.
#[test]
fn child_writer() {
    let (Ok(path), Ok(id), Ok(count)) = (
        std::env::var("ATTESTA_TEST_LOG"),
        std::env::var("ATTESTA_TEST_WRITER"),
        std::env::var("ATTESTA_TEST_COUNT"),
    ) else {
        return; // run as an ordinary test: nothing to do
    };
    let log = JsonlAuditLog::new(path);
    for n in 0..count.parse::<usize>().unwrap() {
        log.append_blocking(&record(n, &id)).unwrap();
    }
}

fn spawn_writer(path: &Path, id: &str, count: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_writer", "--test-threads=1", "--quiet"])
        .env("ATTESTA_TEST_LOG", path)
        .env("ATTESTA_TEST_WRITER", id)
        .env("ATTESTA_TEST_COUNT", count.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn temp_log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".attesta").join("audit.jsonl");
    (dir, path)
}

#[test]
fn appends_form_a_chain_from_genesis_with_private_permissions() {
    let (_dir, path) = temp_log();
    let log = JsonlAuditLog::new(&path);
    assert_eq!(log.tail().unwrap(), Tail::Empty);
    let first = log.append_blocking(&record(0, "a")).unwrap();
    let second = log.append_blocking(&record(1, "a")).unwrap();
    assert_ne!(first, second);
    assert_eq!(log.tail().unwrap(), Tail::Head(second));
    assert_eq!(assert_chain_intact(&path), 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
}

#[test]
fn four_processes_writing_500_records_each_keep_one_chain() {
    let (_dir, path) = temp_log();
    let children: Vec<_> = (0..4)
        .map(|k| spawn_writer(&path, &format!("p{k}"), 500))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(assert_chain_intact(&path), 2000);
    let text = std::fs::read_to_string(&path).unwrap();
    for k in 0..4 {
        assert_eq!(
            text.matches(&format!("\"entry_id\":\"p{k}-")).count(),
            500,
            "writer p{k}"
        );
    }
}

#[test]
fn threads_sharing_one_log_keep_one_chain() {
    let (_dir, path) = temp_log();
    let log = Arc::new(JsonlAuditLog::new(&path));
    std::thread::scope(|scope| {
        for k in 0..4 {
            let log = Arc::clone(&log);
            scope.spawn(move || {
                for n in 0..100 {
                    log.append_blocking(&record(n, &format!("t{k}"))).unwrap();
                }
            });
        }
    });
    assert_eq!(assert_chain_intact(&path), 400);
}

#[test]
fn a_torn_last_line_is_refused_until_repaired() {
    let (_dir, path) = temp_log();
    let log = JsonlAuditLog::new(&path);
    log.append_blocking(&record(0, "a")).unwrap();
    log.append_blocking(&record(1, "a")).unwrap();
    let whole = std::fs::read(&path).unwrap();
    // A writer that died after writing part of its line.
    let fragment = br#"{"action_description":"deploy('svc-2')","action_na"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(fragment)
        .unwrap();

    assert!(matches!(log.tail().unwrap(), Tail::Torn { len, .. } if len == fragment.len() as u64));
    let err = log
        .append_blocking(&record(2, "a"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("torn line") && err.contains("attesta audit repair"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap().len(),
        whole.len() + fragment.len(),
        "nothing appended"
    );

    let RepairOutcome::Quarantined { quarantine, bytes } = log.repair().unwrap() else {
        panic!("expected the fragment to be quarantined");
    };
    assert_eq!(bytes, fragment.len() as u64);
    assert_eq!(
        std::fs::read(&quarantine).unwrap(),
        fragment,
        "the fragment is kept, not dropped"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        whole,
        "whole lines untouched"
    );
    assert_eq!(log.repair().unwrap(), RepairOutcome::NothingToRepair);

    log.append_blocking(&record(2, "a")).unwrap();
    assert_eq!(assert_chain_intact(&path), 3);
}

#[test]
fn an_unreadable_last_line_is_not_chained_over() {
    let (_dir, path) = temp_log();
    let log = JsonlAuditLog::new(&path);
    log.append_blocking(&record(0, "a")).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"garbage\n")
        .unwrap();
    let err = log
        .append_blocking(&record(1, "a"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a readable audit entry"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_writer_killed_mid_run_leaves_a_log_that_verifies_after_repair() {
    let (_dir, path) = temp_log();
    for attempt in 0..3 {
        let mut child = spawn_writer(&path, &format!("k{attempt}"), 100_000);
        std::thread::sleep(Duration::from_millis(300));
        // SIGKILL: no chance to finish a line or clean up.
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let log = JsonlAuditLog::new(&path);
        // Either the kill fell between two lines, or it tore the last one.
        match log.tail().unwrap() {
            Tail::Head(_) | Tail::Empty => {}
            Tail::Torn { .. } => {
                assert!(matches!(
                    log.repair().unwrap(),
                    RepairOutcome::Quarantined { .. }
                ));
            }
            other @ Tail::Unreadable { .. } => panic!("unexpected tail after a kill: {other:?}"),
        }
        assert!(assert_chain_intact(&path) > 0);
    }
}

#[tokio::test]
async fn the_gate_writes_to_the_log_and_denies_when_it_cannot() {
    let (dir, path) = temp_log();
    let attesta = Attesta::builder()
        .audit(Arc::new(JsonlAuditLog::new(&path)))
        .environment("ci")
        .build()
        .unwrap();
    let decision = attesta.evaluate(&ActionContext::new("get_users")).await;
    assert!(decision.is_approved());
    assert_eq!(assert_chain_intact(&path), 1);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(decision.audit_entry_id.as_deref().unwrap()));

    // A log that cannot be written (its path is a directory): no action.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir_all(&blocked).unwrap();
    let attesta = Attesta::builder()
        .audit(Arc::new(JsonlAuditLog::new(&blocked)))
        .environment("ci")
        .build()
        .unwrap();
    let decision = attesta.evaluate(&ActionContext::new("get_users")).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(decision.reason.contains("audit log"), "{}", decision.reason);
}

#[tokio::test]
async fn the_sink_returns_the_entry_id() {
    let (_dir, path) = temp_log();
    let log = JsonlAuditLog::new(&path);
    let id = log.append(record(7, "s")).await.unwrap();
    assert_eq!(id, "s-00007");
}

#[tokio::test]
async fn from_config_writes_to_the_configured_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("attesta.yaml");
    std::fs::write(
        &config,
        "audit:\n  path: logs/decisions.jsonl\npolicy:\n  default_environment: ci\n",
    )
    .unwrap();
    let attesta = Attesta::from_config(&config).unwrap();
    let decision = attesta.evaluate(&ActionContext::new("get_users")).await;
    assert!(decision.is_approved(), "{}", decision.reason);
    // Relative to the policy file's directory.
    assert_eq!(
        assert_chain_intact(&dir.path().join("logs/decisions.jsonl")),
        1
    );
}

#[test]
fn the_writer_signs_a_checkpoint_every_n_entries() {
    use attesta::audit::{AuditSigningKey, CheckpointPolicy, Checkpointer, verify_checkpoints};
    let (_dir, path) = temp_log();
    let key = AuditSigningKey::generate().unwrap();
    let public = key.public_key();
    let clock: Arc<dyn attesta::clock::Clock> = Arc::new(attesta::clock::SystemClock::new());
    let log = JsonlAuditLog::new(&path).with_checkpointer(Checkpointer::new(
        &path,
        key,
        CheckpointPolicy { every: Some(3) },
        clock,
    ));
    for n in 0..7 {
        log.append_blocking(&record(n, "c")).unwrap();
    }
    let report = verify_checkpoints(&path, &public).unwrap();
    assert!(report.is_ok(), "{:?}", report.issues);
    assert_eq!(
        (report.checkpoints, report.verified, report.covered_entries),
        (2, 2, 6)
    );

    // Cutting the tail below the last checkpoint is now detectable.
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().take(4).collect();
    std::fs::write(&path, format!("{}\n", kept.join("\n"))).unwrap();
    assert_eq!(assert_chain_intact(&path), 4, "the bare chain cannot tell");
    assert!(!verify_checkpoints(&path, &public).unwrap().is_ok());
}

#[test]
fn from_config_refuses_checkpoints_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("attesta.yaml");
    std::fs::write(&config, "audit:\n  checkpoint_every: 10\n").unwrap();
    let err = Attesta::from_config(&config).unwrap_err().to_string();
    assert!(
        err.contains("signing key") && err.contains("attesta init"),
        "{err}"
    );
}
