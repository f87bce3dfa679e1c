//! `attesta audit verify` as a user runs it: a real process on real files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn attesta(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("attesta runs")
}

fn five() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../attesta/tests/data/audit/five.jsonl");
    std::fs::read_to_string(path).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn intact_log_at_the_default_path_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".attesta")).unwrap();
    std::fs::write(dir.path().join(".attesta/audit.jsonl"), five()).unwrap();
    let out = attesta(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("intact: 5 entries"), "{text}");
    assert!(text.contains("3db220c37f4787eba379d5bf6e96f256226604775a6b684b20379ec3b7711d6b"));
}

#[test]
fn tampered_log_exits_1_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let tampered = five().replacen("\"verdict\":\"denied\"", "\"verdict\":\"approved\"", 1);
    std::fs::write(dir.path().join("log.jsonl"), tampered).unwrap();
    for args in [
        ["audit", "verify", "--log", "log.jsonl"],
        ["audit", "--log", "log.jsonl", "verify"],
    ] {
        let out = attesta(dir.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let text = stdout(&out);
        assert!(
            text.contains("first break: line 2 (entry 2, id 5b0d577090804180a46f0cec16194c54)"),
            "{text}"
        );
    }
}

#[test]
fn json_report_lists_every_break() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<&str> = five().leak().lines().collect();
    let swapped = [lines[0], lines[2], lines[1], lines[3], lines[4]].join("\n") + "\n";
    std::fs::write(dir.path().join("log.jsonl"), swapped).unwrap();
    let out = attesta(
        dir.path(),
        &["audit", "--log", "log.jsonl", "verify", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert_eq!(report["entries"], 5);
    let indices: Vec<u64> = report["broken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line_index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [1, 2, 3]);
    assert_eq!(report["broken"][0]["reason"]["kind"], "broken_link");
}

#[test]
fn anchored_segment_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let tail = five().lines().skip(2).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(dir.path().join("rotated.jsonl"), tail).unwrap();
    let plain = attesta(dir.path(), &["audit", "verify", "--log", "rotated.jsonl"]);
    assert_eq!(plain.status.code(), Some(1));
    let anchored = attesta(
        dir.path(),
        &[
            "audit",
            "verify",
            "--anchored",
            "--log",
            "rotated.jsonl",
            "--json",
        ],
    );
    assert_eq!(anchored.status.code(), Some(0), "{anchored:?}");
    let report: serde_json::Value = serde_json::from_slice(&anchored.stdout).unwrap();
    assert_eq!(report["anchored"], true);
    assert_eq!(
        report["anchor"],
        "fcd2aa0347dfcca5028458891f9a0276a8dc1b7ac92c089ce33a67a8c1b00923"
    );
}

#[test]
fn missing_log_exits_2_and_says_how_logs_appear() {
    let dir = tempfile::tempdir().unwrap();
    let out = attesta(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".attesta/audit.jsonl"), "{err}");
    assert!(err.contains("created by the first gated action"), "{err}");
}

#[test]
fn empty_log_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.jsonl"), "").unwrap();
    let out = attesta(dir.path(), &["audit", "verify", "--log", "empty.jsonl"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("intact: 0 entries"));
}
