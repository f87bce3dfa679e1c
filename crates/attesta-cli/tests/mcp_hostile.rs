//! `attesta mcp wrap` in front of a malicious MCP server
//! (crates/attesta-mcp/tests/fixtures/hostile_upstream.py): the upstream is
//! untrusted. It can never answer for the human, never get a call the
//! gateway did not gate, and never see or cause a message the gateway read
//! one way and the server another. The client side is a real pipe, the
//! proxy the real binary without a controlling terminal.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod common;

use std::path::Path;
use std::time::Duration;

use common::proxy::{Proxy, audit_records, fixture, upstream_lines};
use serde_json::{Value, json};

fn hostile(dir: &Path, extra: &[&str]) -> Proxy {
    Proxy::start_server(dir, extra, &fixture("hostile_upstream.py"))
}

fn line(value: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(value).unwrap();
    out.push(b'\n');
    out
}

/// `initialize` as a client that can show forms; answered.
fn initialize(proxy: &mut Proxy, capabilities: &Value) {
    proxy.send(&line(&json!({
        "jsonrpc": "2.0", "id": "init", "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": capabilities,
                   "clientInfo": {"name": "victim-client", "version": "1"}},
    })));
    assert_eq!(proxy.json()["id"], "init");
    proxy.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
}

fn list_tools(proxy: &mut Proxy) {
    proxy.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"list\",\"method\":\"tools/list\"}\n");
    let listed = proxy.json();
    assert_eq!(listed["result"]["tools"][0]["name"], "danger", "{listed}");
}

fn call(id: &Value, name: &str) -> Vec<u8> {
    line(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                 "params": {"name": name, "arguments": {"target": "everything"}}}))
}

/// The `tools/call` lines the upstream received.
fn calls_upstream(dir: &Path) -> Vec<String> {
    upstream_lines(dir)
        .into_iter()
        .filter(|l| l.contains("tools/call") || l.to_lowercase().contains("tools/call"))
        .collect()
}

fn ping(proxy: &mut Proxy, id: u64) {
    proxy.send(&line(
        &json!({"jsonrpc": "2.0", "id": id, "method": "ping"}),
    ));
    let pong = proxy.json();
    assert_eq!(pong["id"], id, "the session still works: {pong}");
    assert_eq!(pong["result"], json!({}), "{pong}");
}

fn error_code(answer: &Value) -> i64 {
    answer["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

/// Finding 1: the gateway lists the tools itself, the upstream learns the
/// id scheme from that request and answers the approval form the gateway
/// sends the client next. Nothing may come of it: the call waits for the
/// human, and the human's decline denies it.
#[test]
fn the_upstream_cannot_answer_the_humans_form_by_guessing_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &["--risk-override", "danger=medium"]);
    initialize(&mut proxy, &json!({"elicitation": {}}));
    // No tools/list from the client: the gateway lists them itself.
    proxy.send(&call(&json!(1), "danger"));
    let form = proxy.json();
    assert_eq!(form["method"], "elicitation/create", "{form}");
    // The upstream forges its answers half a second after the listing.
    let early = proxy.line_within(Duration::from_millis(1500));
    assert!(
        early.is_none(),
        "nothing may answer the call before the human does: {}",
        String::from_utf8_lossy(&early.unwrap_or_default())
    );
    assert!(calls_upstream(dir.path()).is_empty(), "the call never ran");
    proxy.send(&line(&json!({"jsonrpc": "2.0", "id": form["id"],
                              "result": {"action": "decline"}})));
    let denied = proxy.json();
    assert_eq!(denied["id"], 1, "{denied}");
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    let (_, _, stderr) = proxy.finish();
    assert!(calls_upstream(dir.path()).is_empty(), "the call never ran");
    let records = audit_records(dir.path());
    let record = records
        .iter()
        .find(|r| r["action_name"] == "danger")
        .unwrap();
    assert_ne!(record["verdict"], "approved", "{record}");
    assert!(
        stderr.contains("dropped an answer from the upstream"),
        "the forgery is logged: {stderr}"
    );
}

/// Even an upstream that somehow knows the form's id cannot answer it: an
/// answer counts only from the side the request went to.
#[test]
fn the_upstream_cannot_answer_the_humans_form_even_knowing_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &["--risk-override", "danger=medium"]);
    initialize(&mut proxy, &json!({"elicitation": {}}));
    list_tools(&mut proxy);
    proxy.send(&call(&json!(1), "danger"));
    let form = proxy.json();
    assert_eq!(form["method"], "elicitation/create", "{form}");
    let form_id = form["id"].clone();
    // The client relays a request to the upstream that hands it the id.
    proxy.send(&line(
        &json!({"jsonrpc": "2.0", "id": "leak", "method": "hostile/forge",
                              "params": {"id": form_id}}),
    ));
    let leaked = proxy.json();
    assert_eq!(leaked["id"], "leak", "{leaked}");
    let early = proxy.line_within(Duration::from_millis(1000));
    assert!(
        early.is_none(),
        "the forged answer was taken: {}",
        String::from_utf8_lossy(&early.unwrap_or_default())
    );
    assert!(calls_upstream(dir.path()).is_empty());
    // The human's own answer still counts.
    proxy.send(&line(&json!({"jsonrpc": "2.0", "id": form_id,
                              "result": {"action": "accept", "content": {"approve": true}}})));
    let ran = proxy.json();
    assert_eq!(ran["id"], 1, "{ran}");
    assert_eq!(ran["result"]["isError"], false, "{ran}");
    let (_, _, stderr) = proxy.finish();
    assert_eq!(calls_upstream(dir.path()).len(), 1);
    assert!(
        stderr.contains("dropped an answer from the upstream"),
        "{stderr}"
    );
}

/// Finding 2: names the upstream never listed are near-misses a lenient
/// server runs as the gated tool. They are denied and never forwarded.
#[test]
fn names_the_upstream_did_not_list_are_denied_and_never_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &["--risk-override", "danger=critical"]);
    initialize(&mut proxy, &json!({}));
    list_tools(&mut proxy);
    let near_misses = [
        "danger ",
        "danger\u{a0}",
        "danger\u{0}",
        "DANGER",
        "d\u{430}nger",
        "dan\u{200b}ger",
        "\u{ff44}anger",
    ];
    for (n, name) in near_misses.iter().enumerate() {
        proxy.send(&call(&json!(n), name));
        let denied = proxy.json();
        assert_eq!(denied["id"], n, "{denied}");
        assert_eq!(denied["result"]["isError"], true, "{name:?}: {denied}");
        let text = denied["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("did not list"), "{name:?}: {text}");
    }
    // A listed read-only tool still runs.
    proxy.send(&call(&json!("ok"), "safe_read"));
    let ran = proxy.json();
    assert_eq!(ran["result"]["isError"], false, "{ran}");
    let (_, _, _) = proxy.finish();
    let calls = calls_upstream(dir.path());
    assert_eq!(
        calls.len(),
        1,
        "only safe_read reached the upstream: {calls:?}"
    );
    assert!(calls[0].contains("safe_read"));
    let records = audit_records(dir.path());
    let denied: Vec<&Value> = records
        .iter()
        .filter(|r| r["verdict"] == "denied")
        .collect();
    assert_eq!(
        denied.len(),
        near_misses.len(),
        "each denial is audited: {records:?}"
    );
}

/// Finding 3: messages a first-key (or case-insensitive) parser reads
/// differently from the gateway are rejected with -32600 and never reach
/// the upstream; the session goes on.
#[test]
fn ambiguous_messages_are_rejected_and_never_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &["--risk-override", "danger=critical"]);
    initialize(&mut proxy, &json!({}));
    list_tools(&mut proxy);
    let args = r#""arguments":{"target":"everything"}"#;
    let lines = [
        format!(
            r#"{{"jsonrpc":"2.0","id":10,"method":"tools/call","method":"ping","params":{{"name":"danger",{args}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{{"name":"danger","name":"safe_read",{args}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":12,"method":"Tools/call","params":{{"name":"danger",{args}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":13,"method":"tools/call ","params":{{"name":"danger",{args}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":14,"method":["tools/call"],"params":{{"name":"danger",{args}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":15,"Method":"tools/call","params":{{"name":"danger",{args}}}}}"#
        ),
        r#"{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"safe_read","arguments":{"key":"a"},"Arguments":{"key":"b"}}}"#.to_owned(),
        format!(
            r#"{{"jsonrpc":"2.0","id":17,"method":"tools/\u0063all ","params":{{"name":"danger",{args}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":18,"method":"tools/list","method":"tools/call","params":{{"name":"danger",{args}}}}}"#
        ),
    ];
    for (n, text) in lines.iter().enumerate() {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(b'\n');
        proxy.send(&bytes);
        let answer = proxy.json();
        assert_eq!(answer["id"], 10 + n, "{text}\n{answer}");
        assert_eq!(error_code(&answer), -32600, "{text}\n{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().len() > 30,
            "the error says what is wrong: {answer}"
        );
    }
    ping(&mut proxy, 99);
    let (_, _, _) = proxy.finish();
    let received = upstream_lines(dir.path());
    for text in &lines {
        assert!(!received.contains(text), "forwarded: {text}");
    }
    assert!(calls_upstream(dir.path()).is_empty(), "{received:?}");
}

/// A tools/list answer that repeats a key reads differently to the client
/// and to the gateway: the gateway does not take it as the listing (so the
/// tool stays unlisted and is denied) and the client gets an error, not
/// the ambiguous bytes.
#[test]
fn an_ambiguous_tools_list_answer_is_not_relayed_or_believed() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &[]);
    initialize(&mut proxy, &json!({}));
    proxy.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"set\",\"method\":\"hostile/set\",\"params\":{\"dup_list\":true}}\n");
    assert_eq!(proxy.json()["id"], "set");
    proxy.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"list\",\"method\":\"tools/list\"}\n");
    let listed = proxy.json();
    assert_eq!(listed["id"], "list", "{listed}");
    assert_eq!(error_code(&listed), -32603, "{listed}");
    proxy.send(&call(&json!(1), "danger"));
    let denied = proxy.json();
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    proxy.finish();
    assert!(calls_upstream(dir.path()).is_empty());
}

/// The anonymous resident memory (heap, stacks; not the mapped binary) and
/// the peak resident memory of process `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    (field("RssAnon:"), field("VmHWM:"))
}

/// The pid of the `attesta` process (`setsid` execs it in place when it
/// need not fork; otherwise it is setsid's child).
fn attesta_pid(proxy: &Proxy) -> u32 {
    let pid = proxy.child.id();
    let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm(pid).trim() == "attesta" {
        return pid;
    }
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .find(|c| comm(*c).trim() == "attesta")
        .unwrap_or_else(|| panic!("no attesta process under {pid}"))
}

/// Finding 4: a line over the limit gets an error naming the limit (with
/// the request's id), is never held whole or forwarded, and the session
/// goes on.
#[test]
fn an_oversized_line_gets_an_error_and_is_never_held_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &["--risk-override", "danger=critical"]);
    initialize(&mut proxy, &json!({}));
    list_tools(&mut proxy);
    let pid = attesta_pid(&proxy);
    let huge = "x".repeat(50 << 20);
    let mut request = format!(
        r#"{{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{{"name":"danger","arguments":{{"target":"{huge}"}}}}}}"#
    )
    .into_bytes();
    drop(huge);
    request.push(b'\n');
    proxy.send(&request);
    drop(request);
    let answer = proxy.json();
    assert_eq!(
        answer["id"], "big",
        "the error goes to the request's id: {answer}"
    );
    assert_eq!(error_code(&answer), -32600, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("8388608") && message.contains("--max-line-bytes"),
        "{message}"
    );
    ping(&mut proxy, 2);
    let (_, peak) = memory_kib(pid);
    assert!(
        peak < 40 * 1024,
        "the proxy peaked at {peak} KiB for a 50 MiB line"
    );
    proxy.finish();
    assert!(calls_upstream(dir.path()).is_empty());
    assert!(
        audit_records(dir.path())
            .iter()
            .all(|r| r["action_name"] != "danger")
    );
}

/// The limit is the operator's to set; a line under it passes.
#[test]
fn the_line_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &["--max-line-bytes", "1024"]);
    initialize(&mut proxy, &json!({}));
    list_tools(&mut proxy);
    let request = |id: u64, size: usize| {
        let key = "k".repeat(size);
        line(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                     "params": {"name": "safe_read", "arguments": {"key": key}}}))
    };
    proxy.send(&request(1, 700));
    assert_eq!(proxy.json()["result"]["isError"], false);
    proxy.send(&request(2, 2000));
    let answer = proxy.json();
    assert_eq!(answer["id"], 2, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024"),
        "{answer}"
    );
    ping(&mut proxy, 3);
    proxy.finish();
    assert_eq!(calls_upstream(dir.path()).len(), 1);
}

/// A huge argument under the line limit is decided on in full, but the
/// audit record keeps a bounded rendering and the SHA-256 of the whole.
#[test]
fn huge_arguments_are_audited_bounded_with_a_digest() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = hostile(dir.path(), &["--risk-override", "danger=critical"]);
    initialize(&mut proxy, &json!({}));
    list_tools(&mut proxy);
    let target = "y".repeat(4 << 20);
    proxy.send(&line(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": "danger", "arguments": {"target": target}}}),
    ));
    let denied = proxy.json();
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    proxy.finish();
    let log = std::fs::read_to_string(dir.path().join(".attesta/audit.jsonl")).unwrap();
    assert!(
        log.len() < 64 * 1024,
        "the audit log holds {} bytes",
        log.len()
    );
    let records = audit_records(dir.path());
    let record = records
        .iter()
        .find(|r| r["action_name"] == "danger")
        .unwrap();
    let description = record["action_description"].as_str().unwrap();
    assert!(
        description.starts_with("danger(target='yyyy"),
        "{description:.80}"
    );
    let full = format!("danger(target='{target}')");
    let bounded = &record["metadata"]["attesta_decision"]["action_description"];
    assert_eq!(bounded["length"], full.chars().count(), "{bounded}");
    assert_eq!(bounded["sha256"], sha256_hex(full.as_bytes()), "{bounded}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// Nothing is retained per call: 20,000 denied calls (half unlisted, half
/// listed but denied for want of a human), 50 at a time, leave the
/// anonymous resident memory flat. Measured: about 1 MiB of allocator
/// drift over the 16,000 calls after warm-up (heaptrack shows the live heap
/// never above 1.6 MB); a leak of 256 bytes a call would add 4 MiB.
#[test]
fn memory_stays_flat_over_twenty_thousand_denied_calls() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("attesta.yaml"),
        "audit:\n  path: .attesta/audit.jsonl\n  fsync: never\n",
    )
    .unwrap();
    let mut proxy = hostile(
        dir.path(),
        &[
            "--config",
            "attesta.yaml",
            "--risk-override",
            "danger=critical",
        ],
    );
    initialize(&mut proxy, &json!({}));
    list_tools(&mut proxy);
    let pid = attesta_pid(&proxy);
    let calls = |proxy: &mut Proxy, from: u64, count: u64| {
        for start in (from..from + count).step_by(50) {
            let mut batch = Vec::new();
            for id in start..start + 50 {
                let name = if id % 2 == 0 { "danger" } else { "nope" };
                batch.extend(call(&json!(id), name));
            }
            proxy.send(&batch);
            for _ in 0..50 {
                let answer = proxy.json();
                assert_eq!(answer["result"]["isError"], true, "{answer}");
            }
        }
    };
    calls(&mut proxy, 0, 4_000);
    let (warm, _) = memory_kib(pid);
    calls(&mut proxy, 4_000, 16_000);
    let (end, _) = memory_kib(pid);
    proxy.finish();
    assert!(
        end <= warm + 4 * 1024,
        "anonymous memory grew from {warm} KiB to {end} KiB over 16,000 denied calls"
    );
    assert_eq!(
        audit_records(dir.path()).len(),
        20_000,
        "every denial is audited"
    );
}
