//! `tools/call` interception through the relay: approved calls reach the
//! upstream byte-exact, denied ones are answered by the proxy and never
//! forwarded, and bad input gets JSON-RPC errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use attesta::audit::MemoryAuditSink;
use attesta::{Attesta, RiskLevel};
use attesta_mcp::ToolGate;
use common::{Session, fixture};
use serde_json::Value;

/// A proxy whose engine has no approval channel (so anything above LOW is
/// denied) and audits into memory.
fn gated(gate: impl FnOnce(ToolGate) -> ToolGate) -> (Session, Arc<MemoryAuditSink>) {
    let sink = Arc::new(MemoryAuditSink::new());
    let engine = Attesta::builder()
        .audit(sink.clone())
        .environment("development")
        .build()
        .unwrap();
    let gate = gate(ToolGate::new(engine));
    let session = Session::start_gated(vec!["python3".into(), fixture()], 0, Some(Arc::new(gate)));
    (session, sink)
}

const INIT: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"clientInfo\":{\"name\":\"test-client\",\"version\":\"1\"}}}\n";
const LIST: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n";
const READ: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"read_note\",\"arguments\":{\"title\":\"todo\"}}}\n";
const DELETE: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\",\"arguments\":{\"title\":\"todo\"}}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_risk_calls_pass_and_destructive_ones_are_denied_without_reaching_upstream() {
    let (mut s, sink) = gated(|g| g);
    s.send(INIT).await;
    assert_eq!(s.json().await["id"], 0);
    s.send(LIST).await;
    assert_eq!(s.json().await["result"]["tools"][1]["name"], "delete_note");

    s.send(READ).await;
    let read = s.json().await;
    assert_eq!(read["id"], 2);
    assert_eq!(read["result"]["isError"], false, "{read}");

    s.send(DELETE).await;
    let denied = s.json().await;
    assert_eq!(denied["id"], "d");
    assert_eq!(denied["result"]["isError"], true);
    let text = denied["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("`delete_note`"), "{text}");
    assert!(text.contains("risk: high"), "{text}");
    let records = sink.records();
    assert_eq!(records.len(), 2, "both decisions are audited");
    let denied_record = &records[1];
    assert!(text.contains(&denied_record.entry_id), "{text}");
    assert_eq!(records[0].agent_id, "test-client");

    let (result, rest, received) = s.finish().await;
    assert_eq!(result.unwrap().code(), Some(0));
    assert!(rest.is_empty());
    let mut expected = INIT.to_vec();
    expected.extend_from_slice(LIST);
    expected.extend_from_slice(READ);
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&expected),
        "delete_note never reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_params_get_invalid_params_and_notifications_are_never_answered() {
    let (mut s, sink) = gated(|g| g);
    s.send(
        b"{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"delete_note\"}}\n",
    )
    .await;
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":null}\n")
        .await;
    let reply = s.json().await;
    assert_eq!(reply["id"], 1, "the notification got no reply: {reply}");
    assert_eq!(reply["error"]["code"], -32602);
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"x\",\"arguments\":null}}\n")
        .await;
    let reply = s.json().await;
    assert_eq!(reply["id"], 2);
    assert_eq!(reply["error"]["code"], -32602);
    let (_, rest, received) = s.finish().await;
    assert!(rest.is_empty());
    assert!(received.is_empty(), "nothing was forwarded");
    assert!(sink.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pin_decides_the_level() {
    let (mut s, _sink) = gated(|g| g.with_risk_override("read_note", RiskLevel::Critical));
    s.send(READ).await;
    let reply: Value = s.json().await;
    assert_eq!(reply["result"]["isError"], true);
    let meta = &reply["result"]["_meta"]["attesta/decision"];
    assert_eq!(meta["risk_level"], "critical");
    let (_, _, received) = tokio::time::timeout(Duration::from_secs(10), s.finish())
        .await
        .unwrap();
    // The client never listed the tools, so the proxy did (with its own id,
    // answered to nobody else); the call itself never went upstream.
    let received = String::from_utf8(received).unwrap();
    let lines: Vec<Value> = received
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{received}");
    assert_eq!(lines[0]["method"], "tools/list");
    assert!(lines[0]["id"].as_str().unwrap().starts_with("attesta-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_traffic_flows_while_a_call_waits_for_a_human() {
    use attesta::channel::{ScriptedAnswer, ScriptedChannel};
    let channel = Arc::new(ScriptedChannel::new([
        ScriptedAnswer::answers(["y"]).after(Duration::from_millis(1500))
    ]));
    let engine = Attesta::builder().channel(channel).build().unwrap();
    let gate = ToolGate::new(engine).with_risk_override("read_note", RiskLevel::Medium);
    let mut s = Session::start_gated(vec!["python3".into(), fixture()], 0, Some(Arc::new(gate)));
    s.send(READ).await;
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}\n")
        .await;
    assert_eq!(s.json().await["id"], "p", "the ping is answered first");
    assert_eq!(s.json().await["id"], 2, "then the call, once decided");
    let _ = s.finish().await;
}

/// A tool the server adds later (`notifications/tools/list_changed`) is
/// callable without the client listing again: the proxy lists the tools
/// itself before the next call. Until a listing names it, it is denied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_added_later_is_listed_again_before_the_next_call() {
    let (mut s, sink) = gated(|g| g);
    s.send(INIT).await;
    s.json().await;
    s.send(LIST).await;
    s.json().await;
    let extra = |id: u64| {
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"read_extra\",\"arguments\":{{}}}}}}\n"
        )
        .into_bytes()
    };
    s.send(&extra(5)).await;
    let denied = s.json().await;
    assert_eq!(
        denied["result"]["isError"], true,
        "not listed yet: {denied}"
    );
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"test/add_tool\"}\n")
        .await;
    let notice = s.json().await;
    assert_eq!(
        notice["method"], "notifications/tools/list_changed",
        "relayed"
    );
    assert_eq!(s.json().await["id"], 6);
    s.send(&extra(7)).await;
    let ran = s.json().await;
    assert_eq!(ran["id"], 7, "{ran}");
    assert_eq!(ran["result"]["isError"], false, "{ran}");
    assert_eq!(sink.records().last().unwrap().verdict, "approved");
    let upstream = String::from_utf8(s.upstream_received()).unwrap();
    let listings = upstream.matches("\"method\":\"tools/list\"").count();
    assert_eq!(listings, 2, "the client's and the proxy's own: {upstream}");
    let _ = s.finish().await;
}

/// The server may not use the gateway's id namespace for requests to the
/// client: the proxy refuses them (an error to the server) and the client
/// never sees them, so no answer of the client's can be confused with an
/// answer to the gateway's own requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_requests_with_the_gateways_ids_are_refused() {
    let (mut s, _sink) = gated(|g| g);
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/own_id_request\"}\n")
        .await;
    let answer = s.json().await;
    assert_eq!(
        answer["id"], 1,
        "the roots/list request is not relayed: {answer}"
    );
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n")
        .await;
    assert_eq!(s.json().await["id"], 2);
    let upstream = String::from_utf8(s.upstream_received()).unwrap();
    let refusal = upstream
        .lines()
        .find(|l| l.contains("attesta-0000"))
        .unwrap_or_else(|| panic!("no refusal sent upstream: {upstream}"));
    let refusal: Value = serde_json::from_str(refusal).unwrap();
    assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
    // The client's own requests may not use it either.
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"attesta-1\",\"method\":\"ping\"}\n")
        .await;
    let refused = s.json().await;
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    let _ = s.finish().await;
}
