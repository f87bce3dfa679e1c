//! Tool pinning through the relay: a tool whose definition changes after it
//! was first seen is CRITICAL (so denied here) until the change is accepted,
//! and the change is audited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use attesta::audit::MemoryAuditSink;
use attesta::{Attesta, RiskLevel};
use attesta_mcp::pins::{AcceptOutcome, PIN_CHANGE_ACTION, PinStore};
use attesta_mcp::{McpChannel, Pinning, RelayOptions, ToolGate};
use common::{Session, fixture};
use serde_json::{Value, json};

const LIST: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":\"l\",\"method\":\"tools/list\"}\n";

fn call(id: u32) -> Vec<u8> {
    let mut line = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "delete_note", "arguments": {"title": "todo"}}}))
    .unwrap();
    line.push(b'\n');
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_tool_is_critical_until_accepted_and_the_change_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(PinStore::beside_audit_log(&dir.path().join("audit.jsonl")));
    let sink = Arc::new(MemoryAuditSink::new());
    let engine = Attesta::builder()
        .audit(sink.clone())
        .channel(Arc::new(McpChannel::new(None)))
        .build()
        .unwrap();
    // The operator trusts delete_note (LOW): it runs without asking.
    let gate = ToolGate::new(engine).with_risk_override("delete_note", RiskLevel::Low);
    let options = RelayOptions {
        gate: Some(Arc::new(gate)),
        pinning: Some(Pinning {
            store: Arc::clone(&store),
            fallback_server: "fake".into(),
        }),
        ..RelayOptions::default()
    };
    let mut s = Session::start_with(vec!["python3".into(), fixture()], 0, options);
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{}}\n")
        .await;
    s.json().await;
    s.send(LIST).await;
    s.json().await;
    s.send(&call(1)).await;
    assert_eq!(
        s.json().await["result"]["isError"],
        false,
        "pinned and trusted"
    );

    // The server changes the tool behind everyone's back.
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"test/change_tools\"}\n")
        .await;
    s.json().await;
    s.send(LIST).await;
    let listed: Value = s.json().await;
    assert_eq!(listed["id"], "l", "the list itself is relayed unchanged");
    s.send(&call(2)).await;
    let denied = s.json().await;
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    assert_eq!(
        denied["result"]["_meta"]["attesta/decision"]["risk_level"],
        "critical"
    );
    let records = sink.records();
    let change = records
        .iter()
        .find(|r| r.action_name == PIN_CHANGE_ACTION)
        .expect("the change is audited");
    assert_eq!(change.metadata.get("tool"), Some(&"delete_note".into()));
    assert_eq!(change.metadata.get("server"), Some(&"fake-upstream".into()));

    // The operator reviews and accepts; the next call is back to LOW.
    let accepted = store.accept("delete_note", None).unwrap();
    assert!(matches!(accepted, AcceptOutcome::Accepted { .. }));
    s.send(&call(3)).await;
    assert_eq!(s.json().await["result"]["isError"], false);

    let (_, _, received) = s.finish().await;
    let received = String::from_utf8(received).unwrap();
    let calls = received
        .lines()
        .filter(|l| l.contains("tools/call"))
        .count();
    assert_eq!(
        calls, 2,
        "the call made while changed never ran: {received}"
    );
}
