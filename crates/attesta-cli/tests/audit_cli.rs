//! `attesta audit stats|export|rubber-stamps|tail` as a user runs them: real
//! processes on a copy of the reference's five-entry log in a temp dir.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn five() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../attesta/tests/data/audit/five.jsonl")
}

/// A temp dir with the five-entry log at the default path.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".attesta")).unwrap();
    fs::copy(five(), dir.path().join(".attesta/audit.jsonl")).unwrap();
    dir
}

fn log_of(dir: &Path) -> PathBuf {
    dir.join(".attesta/audit.jsonl")
}

fn attesta(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_attesta"));
    // Output must not depend on the machine's zone or terminal.
    cmd.current_dir(dir)
        .env("TZ", "UTC")
        .env("COLUMNS", "80")
        .stdin(Stdio::null());
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    attesta(dir).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn snapshot(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    fs::read_to_string(path).unwrap()
}

#[test]
fn log_flag_is_accepted_before_and_after_the_subcommand() {
    let dir = workspace();
    let elsewhere = dir.path().join("other.jsonl");
    fs::rename(log_of(dir.path()), &elsewhere).unwrap();
    let path = elsewhere.to_str().unwrap();
    let before = json(&run(
        dir.path(),
        &["audit", "--log", path, "stats", "--json"],
    ));
    let after = json(&run(
        dir.path(),
        &["audit", "stats", "--log", path, "--json"],
    ));
    assert_eq!(before, after);
    assert_eq!(before["total"], 5);
    assert_eq!(before["log"], path);
    for sub in ["tail", "rubber-stamps"] {
        let out = run(dir.path(), &["audit", sub, "--log", path]);
        assert_eq!(out.status.code(), Some(0), "{sub}: {}", stderr(&out));
        let out = run(dir.path(), &["audit", "--log", path, sub]);
        assert_eq!(out.status.code(), Some(0), "{sub}: {}", stderr(&out));
    }
}

#[test]
fn stats_json_has_the_numbers() {
    let dir = workspace();
    let v = json(&run(dir.path(), &["audit", "stats", "--json"]));
    assert_eq!(v["total"], 5);
    assert_eq!(v["by_verdict"]["approved"], 3);
    assert_eq!(v["by_level"]["critical"], 2);
    assert_eq!(v["by_challenge"]["quiz"], 2);
    assert_eq!(v["approval_rate"], 0.6);
    assert_eq!(v["review"]["median_seconds"], 20.25);
    assert_eq!(v["review"]["p90_seconds"], 600.002);
    assert_eq!(
        v["risk_histogram"],
        serde_json::json!([0, 0, 0, 0, 1, 0, 0, 2, 1, 1])
    );
    assert_eq!(v["rubber_stamps"], 1);
    assert_eq!(v["top_agents"].as_array().unwrap().len(), 5);
    assert_eq!(v["unreadable_lines"]["count"], 0);
    // Filters apply.
    let v = json(&run(
        dir.path(),
        &[
            "audit",
            "stats",
            "--json",
            "--level",
            "high",
            "--verdict",
            "approved",
        ],
    ));
    assert_eq!(v["total"], 2);
    let v = json(&run(
        dir.path(),
        &["audit", "stats", "--json", "--action", "d*"],
    ));
    assert_eq!(v["total"], 3);
    let v = json(&run(
        dir.path(),
        &["audit", "stats", "--json", "--agent", "nobody"],
    ));
    assert_eq!(v["total"], 0);
}

#[test]
fn stats_human_output_matches_snapshot() {
    let dir = workspace();
    let out = run(dir.path(), &["audit", "stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), snapshot("audit_stats_five.txt"));
}

#[test]
fn tail_human_output_matches_snapshot() {
    let dir = workspace();
    let out = run(dir.path(), &["audit", "tail"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), snapshot("audit_tail_five.txt"));
    // The same output in another zone: stored times are shown as written.
    let out = attesta(dir.path())
        .env("TZ", "JST-9")
        .args(["audit", "tail"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), snapshot("audit_tail_five.txt"));
}

#[test]
fn tail_last_n_and_json_lines() {
    let dir = workspace();
    let out = run(dir.path(), &["audit", "tail", "-n", "2", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let entries: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action_name"], "modify_firewall");
    assert_eq!(entries[1]["action_name"], "transfer_funds");
    let out = run(dir.path(), &["audit", "tail", "--verdict", "approved"]);
    assert_eq!(stdout(&out).lines().count(), 3);
}

#[test]
fn tail_follow_prints_appended_entries_and_stops_when_told() {
    let dir = workspace();
    let child = attesta(dir.path())
        .args([
            "audit",
            "tail",
            "-n",
            "1",
            "--follow",
            "--follow-for",
            "3",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(log_of(dir.path()))
        .unwrap();
    // Written in two pieces: a half line must wait for its newline.
    log.write_all(br#"{"action_name":"late_one","verdict":"#)
        .unwrap();
    log.flush().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    log.write_all(b"\"approved\"}\n").unwrap();
    drop(log);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let names: Vec<String> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["action_name"].to_string())
        .collect();
    assert_eq!(names, ["\"transfer_funds\"", "\"late_one\""]);
}

#[test]
fn rubber_stamps_exit_codes_and_json() {
    let dir = workspace();
    let out = run(dir.path(), &["audit", "rubber-stamps"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("modify_firewall"), "{}", stdout(&out));
    let out = run(dir.path(), &["audit", "rubber-stamps", "--fail-on-found"]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(
        dir.path(),
        &["audit", "rubber-stamps", "--json", "--fail-on-found"],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 1);
    assert_eq!(v["entries"][0]["line"], 4);
    assert_eq!(
        v["entries"][0]["entry_id"],
        "3d274cd4de874a53a29b7f508f4a831e"
    );
    // Nothing found is success, even with --fail-on-found.
    let out = run(
        dir.path(),
        &[
            "audit",
            "rubber-stamps",
            "--max-seconds",
            "1",
            "--fail-on-found",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("No rubber stamps found"));
    let v = json(&run(
        dir.path(),
        &[
            "audit",
            "rubber-stamps",
            "--json",
            "--min-risk",
            "MEDIUM",
            "--max-seconds",
            "15",
        ],
    ));
    assert_eq!(v["count"], 2);
}

#[test]
fn usage_and_config_errors_exit_2_and_name_the_problem() {
    let dir = workspace();
    let out = run(dir.path(), &["audit", "stats", "--log", "missing.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.jsonl"), "{}", stderr(&out));
    let out = run(
        dir.path(),
        &["audit", "rubber-stamps", "--min-risk", "severe"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(dir.path(), &["audit", "stats", "--since", "last tuesday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--since"), "{}", stderr(&out));
    let out = run(dir.path(), &["audit", "stats", "--level", "severe"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(dir.path(), &["audit", "export", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(dir.path(), &["audit", "tail", "--log", ".attesta"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a file"), "{}", stderr(&out));
}

#[test]
fn unreadable_lines_are_reported_not_hidden() {
    let dir = workspace();
    let mut text = fs::read_to_string(five()).unwrap();
    text.insert_str(0, "this is not json\n");
    fs::write(log_of(dir.path()), text).unwrap();
    let out = run(dir.path(), &["audit", "stats", "--json"]);
    let v = json(&out);
    assert_eq!(v["total"], 5);
    assert_eq!(v["unreadable_lines"]["count"], 1);
    assert_eq!(v["unreadable_lines"]["first"][0]["line"], 1);
    assert!(
        stderr(&out).contains("line 1: not valid JSON"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn time_filters_read_the_log_in_the_local_zone() {
    let dir = workspace();
    let count = |tz: &str, since: &str| {
        let out = attesta(dir.path())
            .env("TZ", tz)
            .args(["audit", "export", "-f", "jsonl", "--since", since])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out).lines().count()
    };
    // 14:32 local in Tokyo is 05:32Z: three entries from 14:32 on.
    assert_eq!(count("JST-9", "2025-01-15T05:32:00Z"), 3);
    // In UTC all five are later than 05:32Z.
    assert_eq!(count("UTC0", "2025-01-15T05:32:00Z"), 5);
    // A naive bound is local too, so it selects the same in any zone.
    assert_eq!(count("JST-9", "2025-01-15T14:32"), 3);
    assert_eq!(count("EST5", "2025-01-15T14:32"), 3);
}

#[test]
fn export_formats_on_stdout_and_into_files() {
    let dir = workspace();
    let out = run(dir.path(), &["audit", "export"]);
    assert_eq!(out.status.code(), Some(0));
    let csv = stdout(&out);
    assert_eq!(csv.matches("\r\n").count(), 6);
    assert!(csv.starts_with("entry_id,chain_hash,previous_hash,action_name,"));
    let out = run(
        dir.path(),
        &["audit", "export", "-f", "json", "--verdict", "denied"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["action_name"], "drop_table");
    let out = run(
        dir.path(),
        &[
            "audit",
            "export",
            "-f",
            "jsonl",
            "-o",
            "out.jsonl",
            "--json",
        ],
    );
    let summary = json(&out);
    assert_eq!(summary["entries"], 5);
    assert_eq!(summary["format"], "jsonl");
    let written = fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    for line in written.lines() {
        serde_json::from_str::<Value>(line).unwrap();
    }
    assert_eq!(written.lines().count(), 5);
}

#[test]
fn export_never_writes_onto_the_log_or_over_files_without_force() {
    let dir = workspace();
    let log = log_of(dir.path());
    let original = fs::read(&log).unwrap();
    let mut targets = vec![
        ".attesta/audit.jsonl".to_owned(),
        "./.attesta/../.attesta/audit.jsonl".to_owned(),
    ];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&log, dir.path().join("link.jsonl")).unwrap();
        fs::hard_link(&log, dir.path().join("hard.jsonl")).unwrap();
        targets.push("link.jsonl".to_owned());
        targets.push("hard.jsonl".to_owned());
    }
    for target in &targets {
        for force in [false, true] {
            let mut args = vec!["audit", "export", "-o", target.as_str()];
            if force {
                args.push("--force");
            }
            let out = run(dir.path(), &args);
            assert_eq!(out.status.code(), Some(2), "{target}");
            assert!(
                stderr(&out).contains("refusing"),
                "{target}: {}",
                stderr(&out)
            );
        }
    }
    // Appending stdout to the log is refused too.
    let out = attesta(dir.path())
        .args(["audit", "export"])
        .stdout(fs::OpenOptions::new().append(true).open(&log).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(fs::read(&log).unwrap(), original);

    fs::write(dir.path().join("report.csv"), "precious").unwrap();
    let out = run(dir.path(), &["audit", "export", "-o", "report.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"));
    assert_eq!(
        fs::read_to_string(dir.path().join("report.csv")).unwrap(),
        "precious"
    );
    let out = run(
        dir.path(),
        &["audit", "export", "-o", "report.csv", "--force"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        fs::read_to_string(dir.path().join("report.csv"))
            .unwrap()
            .starts_with("entry_id,")
    );
    assert_eq!(fs::read(&log).unwrap(), original);
    // No temporary files left anywhere.
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("attesta-export"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
