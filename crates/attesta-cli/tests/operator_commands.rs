//! `attesta init`, `attesta audit checkpoint` and `attesta trust …` as an
//! operator runs them: real processes in fresh temp dirs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use attesta::audit::{
    AuditPublicKey, AuditRecord, GENESIS_HASH, checkpoints_path, record_line, verify_checkpoints,
};
use attesta::clock::SystemClock;
use attesta::{Policy, TrustEngine, TrustSettings, ValueMap};
use serde_json::Value;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("attesta runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_a_loadable_policy_and_a_key_pair_and_refuses_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["init"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let yaml = dir.path().join("attesta.yaml");
    let private = dir.path().join(".attesta/audit.key");
    let public = dir.path().join(".attesta/audit.pub");
    let text = stdout(&out);
    for path in [&yaml, &private, &public] {
        assert!(path.is_file(), "{}", path.display());
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
    assert!(text.contains("Next steps"), "{text}");
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.path().join(".attesta")), 0o700);
        assert_eq!(mode(&private), 0o600);
    }
    let yaml_text = fs::read_to_string(&yaml).unwrap();
    assert!(yaml_text.contains("approvers") && yaml_text.contains("totp"));
    assert!(yaml_text.contains("domains"));
    let policy = Policy::from_file(&yaml).expect("the written file loads");
    assert_eq!(policy.audit.key_path, private);
    assert_eq!(policy.audit.public_key_path, public);
    let key_text = fs::read_to_string(&private).unwrap();
    let key_id = AuditPublicKey::load(&public).unwrap().key_id();

    // A second run refuses, names the file, and changes nothing.
    fs::write(&yaml, "# mine\n").unwrap();
    let out = run(dir.path(), &["init"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("attesta.yaml"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&yaml).unwrap(), "# mine\n");
    assert_eq!(fs::read_to_string(&private).unwrap(), key_text);

    // Only the key left: still refused, naming the key.
    fs::remove_file(&yaml).unwrap();
    let out = run(dir.path(), &["init"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("audit.key"), "{}", stderr(&out));
    assert!(!yaml.exists(), "nothing written on refusal");

    let out = run(dir.path(), &["init", "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    Policy::from_file(&yaml).unwrap();
    let new_id = AuditPublicKey::load(&public).unwrap().key_id();
    assert_ne!(new_id, key_id);
    assert!(stdout(&out).contains(&key_id), "mentions the replaced key");
    #[cfg(unix)]
    assert_eq!(mode(&private), 0o600);
}

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        entry_id: format!("{i:032x}"),
        action_name: "deploy".into(),
        action_description: "deploy()".into(),
        agent_id: "bot".into(),
        risk_score: 0.5,
        risk_level: "medium".into(),
        challenge_type: "confirm".into(),
        challenge_passed: Some(true),
        approver_ids: vec![],
        verdict: "approved".into(),
        review_duration_seconds: 4.0,
        min_review_met: true,
        intercepted_at: "2025-01-15T10:00:00".into(),
        decided_at: "2025-01-15T10:00:04".into(),
        executed_at: String::new(),
        session_id: String::new(),
        environment: "ci".into(),
        metadata: ValueMap::new(),
    }
}

fn write_log(path: &Path, n: usize) -> String {
    let mut previous = GENESIS_HASH.to_owned();
    let mut text = String::new();
    for i in 1..=n {
        let line = record_line(&record(i), &previous);
        text.push_str(&line.line);
        previous = line.chain_hash;
    }
    fs::write(path, text).unwrap();
    previous
}

#[test]
fn audit_checkpoint_signs_the_log_head() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&run(dir.path(), &["init"])), 0);
    let log = dir.path().join(".attesta/audit.jsonl");
    let head = write_log(&log, 5);

    let out = run(dir.path(), &["audit", "checkpoint", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let c: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(c["entries"], 5);
    assert_eq!(c["head_hash"], head.as_str());

    // --log before and after the subcommand; human output.
    let other = dir.path().join("other.jsonl");
    write_log(&other, 3);
    let out = run(dir.path(), &["audit", "--log", "other.jsonl", "checkpoint"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("entries : 3"), "{}", stdout(&out));
    let out = run(dir.path(), &["audit", "checkpoint", "--log", "other.jsonl"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let key = AuditPublicKey::load(&dir.path().join(".attesta/audit.pub")).unwrap();
    let report = verify_checkpoints(&log, &key).unwrap();
    assert!(report.is_ok() && report.verified == 1, "{report:?}");
    let report = verify_checkpoints(&other, &key).unwrap();
    assert!(report.is_ok() && report.verified == 2, "{report:?}");
    assert!(checkpoints_path(&other).is_file());

    // A missing log or key is a usage error naming it.
    let out = run(
        dir.path(),
        &["audit", "checkpoint", "--log", "missing.jsonl"],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("missing.jsonl"), "{}", stderr(&out));
    let out = run(dir.path(), &["audit", "checkpoint", "--key", "nokey"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nokey"), "{}", stderr(&out));
}

/// A store with `good` (one success) and `bad` (one denial).
fn store(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("trust.json");
    let engine = TrustEngine::open(
        TrustSettings {
            store_path: Some(path.clone()),
            ..TrustSettings::default()
        },
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    engine.record_success("good", "deploy", "ci", 0.5).unwrap();
    engine.record_denial("bad", "drop_db", "ci", 0.9).unwrap();
    path
}

#[test]
fn trust_show_and_list_read_the_store_with_the_flag_before_or_after() {
    let dir = tempfile::tempdir().unwrap();
    store(dir.path());

    let out = run(
        dir.path(),
        &["trust", "--store", "trust.json", "list", "--json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bad", "good"]);

    let out = run(
        dir.path(),
        &["trust", "show", "good", "--store", "trust.json", "--json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let good: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(good["trust"], 0.9);
    assert_eq!(good["revoked"], false);
    assert_eq!(good["history_count"], 1);

    let out = run(dir.path(), &["trust", "list", "--store", "trust.json"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("good") && stdout(&out).contains("0.900"));
    let out = run(
        dir.path(),
        &["trust", "--store", "trust.json", "show", "good"],
    );
    assert!(
        stdout(&out).contains("Trust now      : 0.900"),
        "{}",
        stdout(&out)
    );

    let out = run(
        dir.path(),
        &["trust", "show", "nobody", "--store", "trust.json"],
    );
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("nobody"), "{}", stderr(&out));
    let out = run(dir.path(), &["trust", "list"]);
    assert_eq!(
        code(&out),
        2,
        "default store .attesta/trust.json is missing"
    );
    assert!(
        stderr(&out).contains(".attesta/trust.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn trust_store_defaults_to_the_policy_setting() {
    let dir = tempfile::tempdir().unwrap();
    store(dir.path());
    fs::write(
        dir.path().join("attesta.yaml"),
        "trust:\n  store: trust.json\n",
    )
    .unwrap();
    let out = run(dir.path(), &["trust", "list", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&out))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn revoke_and_reset_need_confirmation_and_refuse_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    store(dir.path());
    let show = |agent: &str| -> Value {
        let out = run(
            dir.path(),
            &["trust", "show", agent, "--json", "--store", "trust.json"],
        );
        serde_json::from_str(&stdout(&out)).unwrap()
    };

    // No terminal, no --yes: refused, nothing changed.
    let out = run(
        dir.path(),
        &["trust", "--store", "trust.json", "revoke", "good"],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(show("good")["revoked"], false);
    assert_eq!(show("good")["trust"], 0.9);

    let out = run(
        dir.path(),
        &["trust", "revoke", "good", "--yes", "--store", "trust.json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(show("good")["revoked"], true);
    assert_eq!(show("good")["trust"], 0.0);

    let out = run(
        dir.path(),
        &["trust", "--store", "trust.json", "reset", "good"],
    );
    assert_eq!(code(&out), 2);
    assert_eq!(
        show("good")["revoked"],
        true,
        "refused reset changes nothing"
    );

    let out = run(
        dir.path(),
        &["trust", "--store", "trust.json", "reset", "good", "-y"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let good = show("good");
    assert_eq!(good["revoked"], false);
    assert_eq!(good["history_count"], 0);
    assert_eq!(good["trust"], 0.3);
    assert_eq!(good["incidents"], 3, "incidents are kept");

    let out = run(
        dir.path(),
        &["trust", "--store", "trust.json", "reset", "nobody", "-y"],
    );
    assert_eq!(code(&out), 1);
}

/// Runs `attesta` with a pseudo-terminal as standard input, typing `answer`.
#[cfg(unix)]
fn run_with_terminal(dir: &Path, args: &[&str], answer: &str) -> Output {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::Write as _;

    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY,
        Mode::empty(),
    )
    .unwrap();
    let mut master = fs::File::from(master);
    master.write_all(answer.as_bytes()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::from(fs::File::from(slave)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    drop(master);
    out
}

#[cfg(unix)]
#[test]
fn revoke_asks_on_the_terminal_and_only_yes_proceeds() {
    let dir = tempfile::tempdir().unwrap();
    store(dir.path());
    let revoked = || -> bool {
        let out = run(
            dir.path(),
            &["trust", "show", "good", "--json", "--store", "trust.json"],
        );
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()["revoked"] == true
    };
    let args = ["trust", "--store", "trust.json", "revoke", "good"];
    let out = run_with_terminal(dir.path(), &args, "n\n");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("[y/N]"), "{}", stderr(&out));
    assert!(!revoked());
    let out = run_with_terminal(dir.path(), &args, "yes\n");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(revoked());
}
