//! `attesta risk score` as a user runs it: a real process, real files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod common;

use std::path::PathBuf;

use common::{attesta, run_with_stdin};
use serde_json::Value;

fn fixture() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../attesta/tests/data/test-vectors.json");
    let text = std::fs::read_to_string(&path).expect("fixture vectors are in the repo");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn empty_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn json_output_reproduces_every_fixture_vector() {
    let dir = empty_dir();
    let fixture = fixture();
    let cases = fixture["risk_scoring"]["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let input = serde_json::to_string(&case["input"]).expect("serialises");
        let out = run_with_stdin(&["risk", "score", "--json", "-"], &input, dir.path());
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        let expected = &case["expected"];
        let score = report["score"].as_f64().expect("score");
        assert!(
            (score - expected["risk_score"].as_f64().expect("f64")).abs() < 1e-9,
            "{name}"
        );
        assert_eq!(report["level"], expected["risk_level"], "{name}");
        assert_eq!(report["scorer"], "default");
        for factor in report["factors"].as_array().expect("factors") {
            let fname = factor["name"].as_str().expect("factor name");
            let raw = expected["factor_scores"][fname]
                .as_f64()
                .expect("expected raw");
            let contribution = expected["weighted_contributions"][fname]
                .as_f64()
                .expect("contribution");
            assert!(
                (factor["score"].as_f64().expect("raw") - raw).abs() < 1e-9,
                "{name}/{fname}"
            );
            assert!(
                (factor["contribution"].as_f64().expect("c") - contribution).abs() < 1e-9,
                "{name}/{fname}"
            );
            assert!(factor["weight"].is_number() && factor["evidence"].is_string());
        }
        for key in ["score", "level", "challenge", "adjustments"] {
            assert!(
                !report["effective"][key].is_null(),
                "{name}: effective.{key}"
            );
        }
    }
}

#[test]
fn exact_float_digits_are_printed() {
    let dir = empty_dir();
    let input =
        r#"{"function_name":"update_config","kwargs":{"url":"https://api.example.com/config"}}"#;
    let out = run_with_stdin(&["risk", "score", "--json"], input, dir.path());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("\"score\": 0.4000000000000001"), "{text}");
}

#[test]
fn effective_result_follows_the_policy_file() {
    let dir = empty_dir();
    std::fs::write(
        dir.path().join("attesta.yaml"),
        "risk:\n  overrides:\n    get_users: critical\n",
    )
    .expect("write policy");
    let out = run_with_stdin(
        &["risk", "score", "--json"],
        r#"{"function_name":"get_users","environment":"development"}"#,
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        report["level"], "low",
        "the scorer's own result is unchanged"
    );
    assert_eq!(report["effective"]["level"], "critical");
    assert_eq!(report["effective"]["score"], 0.9);
    assert_eq!(report["effective"]["challenge"], "multi_party");
    assert_eq!(report["effective"]["approvers_required"], 2);
}

#[test]
fn human_output_explains_the_score() {
    let dir = empty_dir();
    let out = run_with_stdin(
        &["risk", "score"],
        r#"{"function_name":"run_command","args":["sudo rm -rf /tmp/x"]}"#,
        dir.path(),
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("run_command('sudo rm -rf /tmp/x')"), "{text}");
    assert!(
        text.contains("shell command 'rm -rf'; shell command 'sudo'"),
        "{text}"
    );
    assert!(text.contains("MEDIUM"), "{text}");
    assert!(text.contains("confirm"), "{text}");
}

#[test]
fn jsonl_replays_a_trace_line_by_line() {
    let dir = empty_dir();
    let trace = concat!(
        r#"{"function_name":"get_x"}"#,
        "\n",
        "\n",
        r#"{"function_name":"get_x"}"#,
        "\n",
        r#"{"function_name":"delete_database","args":["production"]}"#,
        "\n",
    );
    let out = run_with_stdin(&["risk", "score", "--jsonl"], trace, dir.path());
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3);
    // `score` is the first-call score every time; `effective` sees the repeat.
    assert_eq!(lines[0]["score"], lines[1]["score"]);
    assert_eq!(lines[0]["effective"]["score"], 0.14);
    assert_eq!(lines[1]["effective"]["score"], 0.132);
    assert_eq!(lines[2]["level"], "high");
}

#[test]
fn invalid_input_exits_2_and_names_the_line() {
    let dir = empty_dir();
    let out = run_with_stdin(
        &["risk", "score", "--jsonl"],
        "{\"function_name\":\"a\"}\n{oops\n",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");

    let out = run_with_stdin(
        &["risk", "score"],
        "{\n  \"function_name\": \"a\",\n  \"argz\": []\n}",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("<stdin>:3:") && err.contains("argz"), "{err}");

    let out = run_with_stdin(&["risk", "score"], "{}", dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("function_name"));
}

#[test]
fn missing_files_are_errors_that_name_them() {
    let dir = empty_dir();
    let out = run_with_stdin(&["risk", "score", "nope.json"], "", dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.json"));

    let out = run_with_stdin(
        &["risk", "score", "--config", "missing.yaml"],
        "{}",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}

#[test]
fn example_context_from_the_readme_scores() {
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/contexts/deploy.json");
    let out = attesta()
        .args(["risk", "score", "--json"])
        .arg(&example)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["score"], 0.8);
    assert_eq!(report["effective"]["level"], "critical");
}
