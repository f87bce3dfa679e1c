//! `attesta mcp wrap` as an MCP client runs it: a real process without a
//! controlling terminal (`setsid --wait`), stdin/stdout pipes, in front of
//! the fake MCP server in crates/attesta-mcp/tests/fixtures.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::proxy::{Proxy, audit_records, fake_server};
use serde_json::Value;

const INIT: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"it-client\",\"version\":\"1\"}}}\n";
const INITIALIZED: &[u8] = b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
const LIST: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n";
const READ: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"read_note\",\"arguments\":{\"title\":\"todo\"}}}\n";
const DELETE: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\",\"arguments\":{\"title\":\"todo\"}}}\n";
const PING: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}\n";

/// What the fake server itself answers to `input`, for byte comparisons.
fn direct_answers(input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg(fake_server())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn a_session_without_a_terminal_relays_allows_low_risk_and_denies_destructive_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = Proxy::start(dir.path(), &[]);

    proxy.send(INIT);
    let init_reply = proxy.line();
    proxy.send(INITIALIZED);
    proxy.send(LIST);
    let list_reply = proxy.line();
    let mut both = INIT.to_vec();
    both.extend_from_slice(LIST);
    let direct = direct_answers(&both);
    assert_eq!(
        String::from_utf8_lossy(&[init_reply, list_reply].concat()),
        String::from_utf8_lossy(&direct),
        "initialize and tools/list come back byte for byte"
    );

    proxy.send(READ);
    let read = proxy.json();
    assert_eq!(read["id"], 2);
    assert_eq!(read["result"]["isError"], false, "{read}");
    assert!(
        read["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("read_note called with")
    );

    proxy.send(DELETE);
    let denied = proxy.json();
    assert_eq!(denied["id"], 3);
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    let text = denied["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("`delete_note`"), "{text}");
    assert!(text.contains("risk: high"), "{text}");
    assert!(text.contains("terminal"), "{text}");
    assert!(text.contains("elicitation"), "{text}");

    // Malformed JSON gets a parse error; a notification gets no reply (the
    // next line is the ping's answer).
    proxy.send(b"{\"jsonrpc\": oops\n");
    let parse_error = proxy.json();
    assert_eq!(parse_error["error"]["code"], -32700);
    assert_eq!(parse_error["id"], Value::Null);
    proxy.send(INITIALIZED);
    proxy.send(PING);
    assert_eq!(proxy.json()["id"], 4);

    let (code, rest, stderr) = proxy.finish();
    assert_eq!(code, 4, "the upstream's exit status; stderr: {stderr}");
    assert!(rest.is_empty(), "nothing else on stdout: {rest:?}");

    let received = std::fs::read(dir.path().join("upstream.log")).unwrap();
    let expected = [INIT, INITIALIZED, LIST, READ, INITIALIZED, PING].concat();
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&expected),
        "the upstream got the original bytes, and never delete_note"
    );

    let records = audit_records(dir.path());
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["action_name"], "read_note");
    assert_eq!(records[0]["verdict"], "approved");
    assert_eq!(records[1]["action_name"], "delete_note");
    assert_ne!(records[1]["verdict"], "approved");
    assert!(
        text.contains(records[1]["entry_id"].as_str().unwrap()),
        "{text}"
    );
    for record in &records {
        assert_eq!(record["metadata"]["source"], "mcp");
        assert_eq!(record["agent_id"], "it-client");
    }
}

#[test]
fn flags_set_agent_and_pins_and_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = Proxy::start(
        dir.path(),
        &[
            "--agent-id",
            "ops-bot",
            "--environment",
            "ci",
            "--risk-override",
            "read_note=critical",
        ],
    );
    proxy.send(READ);
    let denied = proxy.json();
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    assert!(
        denied["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("risk: critical")
    );
    let (code, _, _) = proxy.finish();
    assert_eq!(code, 4);
    let records = audit_records(dir.path());
    assert_eq!(records[0]["agent_id"], "ops-bot");
    assert_eq!(records[0]["environment"], "ci");

    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_attesta"))
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let bad_level = run(&["mcp", "wrap", "--risk-override", "x=extreme", "--", "true"]);
    assert_eq!(bad_level.status.code(), Some(2));
    let no_command = run(&["mcp", "wrap"]);
    assert_eq!(no_command.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_command.stderr).contains("attesta mcp wrap -- <command>"));
    let missing = run(&["mcp", "wrap", "--", "/nonexistent/mcp-server"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/mcp-server"));
    let missing_config = run(&["mcp", "wrap", "--config", "nope.yaml", "--", "true"]);
    assert_eq!(missing_config.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing_config.stderr).contains("nope.yaml"));
}

#[test]
fn sigterm_closes_the_upstream_and_exits_with_its_status() {
    use rustix::process::{Pid, Signal, kill_process};
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = Proxy::start(dir.path(), &[]);
    proxy.send(PING);
    assert_eq!(proxy.json()["id"], 4, "the relay is up");
    let pid = Pid::from_raw(i32::try_from(proxy.child.id()).unwrap()).unwrap();
    kill_process(pid, Signal::TERM).unwrap();
    // The client's stdin stays open: the signal alone ends the session.
    let started = std::time::Instant::now();
    let status = proxy.child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status.code(), Some(4), "the upstream saw EOF and exited 4");
}

/// The "done when" through the real binary: with `domain: devops`
/// a `terraform_destroy` tool call is blocked, never reaches the server, and
/// the audit log on disk names the rule that blocked it.
#[test]
fn a_domain_rule_blocks_a_tool_call_and_the_audit_log_names_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("attesta.yaml"),
        "domain: devops\naudit:\n  path: .attesta/audit.jsonl\n",
    )
    .unwrap();
    let mut proxy = Proxy::start(dir.path(), &["--config", "attesta.yaml"]);
    proxy.send(b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"clientInfo\":{\"name\":\"ops-agent\"},\"capabilities\":{\"elicitation\":{}}}}\n");
    proxy.json();
    proxy.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"terraform_destroy\",\"arguments\":{\"workspace\":\"prod-eu\"}}}\n");
    // Blocked outright: no approval form is even offered.
    let denied = proxy.json();
    assert_eq!(denied["id"], 1, "{denied}");
    assert_eq!(denied["result"]["isError"], true);
    let text = denied["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("devops/terraform_destroy"), "{text}");
    let (_, _, stderr) = proxy.finish();
    let upstream = std::fs::read_to_string(dir.path().join("upstream.log")).unwrap_or_default();
    assert!(!upstream.contains("terraform_destroy"), "{upstream}");
    let records = audit_records(dir.path());
    let record = records
        .iter()
        .find(|r| r["action_name"] == "terraform_destroy")
        .unwrap_or_else(|| panic!("{records:?}\n{stderr}"));
    assert_eq!(record["verdict"], "denied");
    assert_eq!(record["risk_level"], "critical");
    let blocked = record["metadata"]["attesta_decision"]["gate"]["blocked_by"]
        .as_str()
        .unwrap();
    assert!(blocked.starts_with("devops/terraform_destroy"), "{blocked}");
    assert_eq!(record["metadata"]["source"], "mcp");
}
