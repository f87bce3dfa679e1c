//! Asking the human through the MCP client: elicitation requests (protocol
//! ≤ 2025-11-25), `input_required` results (2026-07-28), cancellation,
//! progress keep-alive, the one-user limit on approvers, and batches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::needless_pass_by_value, clippy::similar_names)]

mod common;

use std::sync::Arc;

use attesta::audit::MemoryAuditSink;
use attesta::{Attesta, RiskLevel};
use attesta_mcp::{McpChannel, ToolGate};
use common::{Session, fixture};
use serde_json::{Value, json};

/// A proxy whose engine asks only through the client (no terminal), with
/// `delete_note` pinned to `level`, auditing into memory.
fn session(level: RiskLevel) -> (Session, Arc<MemoryAuditSink>) {
    let sink = Arc::new(MemoryAuditSink::new());
    let engine = Attesta::builder()
        .audit(sink.clone())
        .environment("staging")
        .channel(Arc::new(McpChannel::new(None)))
        .build()
        .unwrap();
    let gate = ToolGate::new(engine).with_risk_override("delete_note", level);
    let s = Session::start_gated(vec!["python3".into(), fixture()], 0, Some(Arc::new(gate)));
    (s, sink)
}

fn line(value: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(value).unwrap();
    out.push(b'\n');
    out
}

/// `initialize` with the given capabilities and protocol version, answered.
async fn initialize(s: &mut Session, capabilities: Value, version: &str) {
    s.send(&line(&json!({
        "jsonrpc": "2.0", "id": "init", "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": capabilities,
                   "clientInfo": {"name": "test-client", "version": "1"}},
    })))
    .await;
    assert_eq!(s.json().await["id"], "init");
    s.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await;
}

fn delete_call(id: Value, path: &str, meta: Option<Value>) -> Vec<u8> {
    let mut params = json!({"name": "delete_note", "arguments": {"path": path}});
    if let Some(meta) = meta {
        params["_meta"] = meta;
    }
    line(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}))
}

fn upstream_calls(s: &Session) -> Vec<Value> {
    String::from_utf8(s.upstream_received())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["method"] == "tools/call")
        .collect()
}

fn answer(id: &Value, result: Value) -> Vec<u8> {
    line(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// Correct answers to the quiz about `/srv/notes/todo.txt` in staging.
fn correct_quiz(form: &Value) -> Value {
    let mut content = serde_json::Map::new();
    for (id, field) in form["requestedSchema"]["properties"].as_object().unwrap() {
        let value = match id.as_str() {
            "directory" => "/srv/notes",
            "name" => "todo.txt",
            "environment" => "staging",
            other => panic!("unexpected question {other}: {field}"),
        };
        content.insert(id.clone(), json!(value));
    }
    Value::Object(content)
}

fn wrong_quiz(form: &Value) -> Value {
    let mut content = serde_json::Map::new();
    for (id, field) in form["requestedSchema"]["properties"].as_object().unwrap() {
        let value = match field["enum"].as_array() {
            // The first option that is not the right one.
            Some(options) => options
                .iter()
                .find(|o| *o != "/srv/notes" && *o != "staging")
                .unwrap()
                .clone(),
            None => json!("nothing.txt"),
        };
        content.insert(id.clone(), value);
    }
    Value::Object(content)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_through_elicitation_lets_the_call_through() {
    let (mut s, sink) = session(RiskLevel::Medium);
    initialize(&mut s, json!({"elicitation": {}}), "2025-06-18").await;
    s.send(&delete_call(json!(7), "/srv/notes/todo.txt", None))
        .await;
    let ask = s.json().await;
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    let ask_id = ask["id"].clone();
    assert!(ask_id.as_str().unwrap().starts_with("attesta-"));
    assert!(
        ask["params"].get("mode").is_none(),
        "2025-06-18 has no mode"
    );
    let schema = &ask["params"]["requestedSchema"];
    assert_eq!(schema["properties"]["approve"]["type"], "boolean");
    assert!(
        ask["params"]["message"]
            .as_str()
            .unwrap()
            .contains("delete_note")
    );
    assert!(
        upstream_calls(&s).is_empty(),
        "nothing runs before the answer"
    );

    s.send(&answer(
        &ask_id,
        json!({"action": "accept", "content": {"approve": true}}),
    ))
    .await;
    let result = s.json().await;
    assert_eq!(result["id"], 7);
    assert_eq!(result["result"]["isError"], false, "{result}");
    assert_eq!(upstream_calls(&s).len(), 1);
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].verdict, "approved");
    assert_eq!(records[0].challenge_type, "confirm");
    assert_eq!(records[0].approver_ids, ["mcp-user@test-client"]);
    // The client's answer to the form never reached the upstream.
    let upstream = String::from_utf8(s.upstream_received()).unwrap();
    assert!(!upstream.contains(ask_id.as_str().unwrap()), "{upstream}");
    let _ = s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiz_answers_are_judged_and_decline_denies() {
    let (mut s, sink) = session(RiskLevel::High);
    initialize(&mut s, json!({"elicitation": {"form": {}}}), "2025-11-25").await;

    // Correct answers pass.
    s.send(&delete_call(json!(1), "/srv/notes/todo.txt", None))
        .await;
    let ask = s.json().await;
    assert_eq!(ask["params"]["mode"], "form");
    let form = &ask["params"];
    let text = serde_json::to_string(form).unwrap();
    assert!(
        !text.contains("todo.txt\""),
        "the answer is not offered: {text}"
    );
    s.send(&answer(
        &ask["id"],
        json!({"action": "accept", "content": correct_quiz(form)}),
    ))
    .await;
    let passed = s.json().await;
    assert_eq!(passed["result"]["isError"], false, "{passed}");

    // Wrong answers are denied, and the call never runs.
    s.send(&delete_call(json!(2), "/srv/notes/todo.txt", None))
        .await;
    let ask = s.json().await;
    let content = wrong_quiz(&ask["params"]);
    s.send(&answer(
        &ask["id"],
        json!({"action": "accept", "content": content}),
    ))
    .await;
    let denied = s.json().await;
    assert_eq!(denied["id"], 2);
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    let text = denied["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("risk: high"), "{text}");

    // Declining is a denial too.
    s.send(&delete_call(json!(3), "/srv/notes/todo.txt", None))
        .await;
    let ask = s.json().await;
    s.send(&answer(&ask["id"], json!({"action": "decline"})))
        .await;
    let declined = s.json().await;
    assert_eq!(declined["id"], 3);
    assert_eq!(declined["result"]["isError"], true);
    let text = declined["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("declined"), "{text}");

    assert_eq!(upstream_calls(&s).len(), 1, "only the passed call ran");
    let verdicts: Vec<String> = sink.records().iter().map(|r| r.verdict.clone()).collect();
    assert_eq!(verdicts, ["approved", "denied", "denied"]);
    let _ = s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_elicitation_or_terminal_the_call_is_denied_saying_what_is_missing() {
    let (mut s, sink) = session(RiskLevel::Medium);
    initialize(&mut s, json!({}), "2025-06-18").await;
    s.send(&delete_call(json!(1), "/srv/notes/todo.txt", None))
        .await;
    let denied = s.json().await;
    assert_eq!(denied["result"]["isError"], true);
    let text = denied["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("did not declare form elicitation"), "{text}");
    assert!(text.contains(&sink.records()[0].entry_id), "{text}");
    assert!(upstream_calls(&s).is_empty());
    let _ = s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_needing_several_approvers_is_denied_for_a_single_client_user() {
    let (mut s, sink) = session(RiskLevel::Critical);
    initialize(&mut s, json!({"elicitation": {}}), "2025-06-18").await;
    s.send(&delete_call(json!(1), "/srv/notes/todo.txt", None))
        .await;
    let denied = s.json().await;
    assert_eq!(denied["id"], 1, "no form was sent: {denied}");
    assert_eq!(denied["result"]["isError"], true);
    let text = denied["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("distinct approvers"), "{text}");
    assert!(text.contains("risk: critical"), "{text}");
    assert_eq!(sink.records()[0].verdict, "denied");
    assert!(upstream_calls(&s).is_empty());
    let _ = s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_call_withdraws_its_form_and_records_it() {
    let (mut s, sink) = session(RiskLevel::Medium);
    initialize(&mut s, json!({"elicitation": {}}), "2025-06-18").await;
    s.send(&delete_call(
        json!("c"),
        "/srv/notes/todo.txt",
        Some(json!({"progressToken": "tok"})),
    ))
    .await;
    let ask = s.json().await;
    assert_eq!(ask["method"], "elicitation/create");
    // While the human reads, the client's timeout is kept alive.
    let progress = s.json().await;
    assert_eq!(progress["method"], "notifications/progress", "{progress}");
    assert_eq!(progress["params"]["progressToken"], "tok");
    assert_eq!(progress["params"]["progress"], 1);
    let progress = s.json().await;
    assert_eq!(progress["params"]["progress"], 2, "progress increases");

    s.send(&line(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                         "params": {"requestId": "c", "reason": "user stopped"}}),
    ))
    .await;
    // The client is told to close the form; the call itself gets no answer.
    loop {
        let message = s.json().await;
        if message["method"] == "notifications/progress" {
            continue;
        }
        assert_eq!(message["method"], "notifications/cancelled", "{message}");
        assert_eq!(message["params"]["requestId"], ask["id"]);
        break;
    }
    s.send(b"{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}\n")
        .await;
    assert_eq!(s.json().await["id"], "p", "no answer to the cancelled call");
    // A late answer to the withdrawn form is dropped, not relayed.
    s.send(&answer(
        &ask["id"],
        json!({"action": "accept", "content": {"approve": true}}),
    ))
    .await;
    let (_, rest, received) = s.finish().await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let received = String::from_utf8(received).unwrap();
    assert!(!received.contains("tools/call"), "{received}");
    assert!(!received.contains("notifications/cancelled"), "{received}");
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].verdict, "denied");
    assert_eq!(records[0].challenge_passed, Some(false));
}

/// `_meta` of a 2026-07-28 request.
fn modern_meta(elicitation: bool) -> Value {
    let capabilities = if elicitation {
        json!({"elicitation": {"form": {}}})
    } else {
        json!({})
    };
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "modern-client", "version": "2"},
    })
}

/// A 2026-07-28 `delete_note` call of the usual path.
fn modern_delete(id: u32, elicitation: bool) -> Vec<u8> {
    delete_call(
        json!(id),
        "/srv/notes/todo.txt",
        Some(modern_meta(elicitation)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_clients_get_input_required_and_retry_with_the_answer() {
    let (mut s, sink) = session(RiskLevel::Medium);
    s.send(&modern_delete(1, true)).await;
    let first = s.json().await;
    assert_eq!(first["id"], 1);
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let form = &result["inputRequests"]["attesta_approval"];
    assert_eq!(form["method"], "elicitation/create");
    assert_eq!(
        form["params"]["requestedSchema"]["properties"]["approve"]["type"],
        "boolean"
    );
    let state = result["requestState"].as_str().unwrap().to_owned();

    // A retry for other arguments is refused: the human approved this one.
    let mut params = json!({"name": "delete_note", "arguments": {"path": "/srv/notes/other.txt"},
        "_meta": modern_meta(true), "requestState": state,
        "inputResponses": {"attesta_approval": {"action": "accept", "content": {"approve": true}}}});
    s.send(&line(
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}),
    ))
    .await;
    let swapped = s.json().await;
    assert_eq!(swapped["id"], 2);
    assert_eq!(swapped["result"]["isError"], true, "{swapped}");
    // That state is used up.
    params["arguments"] = json!({"path": "/srv/notes/todo.txt"});
    s.send(&line(
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}),
    ))
    .await;
    let stale = s.json().await;
    assert_eq!(stale["error"]["code"], -32602, "{stale}");

    // A fresh round, answered properly, runs the call once.
    s.send(&modern_delete(4, true)).await;
    let first = s.json().await;
    params["requestState"] = first["result"]["requestState"].clone();
    s.send(&line(
        &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params}),
    ))
    .await;
    let done = s.json().await;
    assert_eq!(done["id"], 5);
    assert_eq!(done["result"]["isError"], false, "{done}");
    let calls = upstream_calls(&s);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["id"], 5);
    assert!(calls[0]["params"].get("inputResponses").is_none());
    assert!(calls[0]["params"].get("requestState").is_none());
    let records = sink.records();
    let verdicts: Vec<&str> = records.iter().map(|r| r.verdict.as_str()).collect();
    assert_eq!(verdicts, ["denied", "approved"]);
    assert_eq!(records[1].approver_ids, ["mcp-user@modern-client"]);
    assert_eq!(records[1].agent_id, "modern-client");
    let _ = s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_clients_without_elicitation_are_denied() {
    let (mut s, _sink) = session(RiskLevel::Medium);
    s.send(&modern_delete(1, false)).await;
    let denied = s.json().await;
    assert_eq!(denied["result"]["isError"], true, "{denied}");
    assert_eq!(denied["result"]["resultType"], "complete", "{denied}");
    assert!(upstream_calls(&s).is_empty());
    let _ = s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_split_gated_and_answered_together_only_in_2025_03_26() {
    let (mut s, _sink) = session(RiskLevel::Medium);
    initialize(&mut s, json!({}), "2025-06-18").await;
    s.send(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n")
        .await;
    let refused = s.json().await;
    assert_eq!(refused["error"]["code"], -32600);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2025-03-26")
    );
    let _ = s.finish().await;

    let (mut s, _sink) = session(RiskLevel::Medium);
    initialize(&mut s, json!({}), "2025-03-26").await;
    let batch = format!(
        "[{{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"}}, 5, {}, \
         {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}}]\n",
        String::from_utf8(delete_call(json!("d"), "/srv/notes/todo.txt", None))
            .unwrap()
            .trim_end()
    );
    s.send(batch.as_bytes()).await;
    let answers = s.json().await;
    let answers = answers.as_array().expect("one array answers the batch");
    assert_eq!(answers.len(), 3, "{answers:?}");
    let by_id = |id: Value| answers.iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(by_id(json!("a"))["result"], json!({}));
    assert_eq!(
        by_id(json!("d"))["result"]["isError"],
        true,
        "gated and denied"
    );
    assert_eq!(by_id(Value::Null)["error"]["code"], -32600);
    assert!(upstream_calls(&s).is_empty());
    let _ = s.finish().await;
}

/// A server that itself answers an approved call with `input_required`:
/// the client's retry with the server's state and the same call continues
/// the approved action (nobody is asked again); other arguments are a new
/// call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_own_input_round_continues_an_approved_call() {
    let sink = Arc::new(MemoryAuditSink::new());
    let engine = Attesta::builder()
        .audit(sink.clone())
        .environment("staging")
        .channel(Arc::new(McpChannel::new(None)))
        .build()
        .unwrap();
    let gate = ToolGate::new(engine).with_risk_override("ask_user", RiskLevel::Medium);
    let mut s = Session::start_gated(vec!["python3".into(), fixture()], 0, Some(Arc::new(gate)));
    let call = |id: u32, topic: &str, extra: Value| {
        let mut params = json!({"name": "ask_user", "arguments": {"topic": topic},
                                "_meta": modern_meta(true)});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        line(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}))
    };
    s.send(&call(1, "paint", json!({}))).await;
    let ours = s.json().await;
    let state = ours["result"]["requestState"].clone();
    assert!(state.as_str().unwrap().starts_with("attesta:"), "{ours}");
    s.send(&call(
        2,
        "paint",
        json!({"requestState": state, "inputResponses": {
        "attesta_approval": {"action": "accept", "content": {"approve": true}}}}),
    ))
    .await;
    // Approved and forwarded; the server asks for its own input.
    let theirs = s.json().await;
    assert_eq!(theirs["id"], 2);
    assert_eq!(theirs["result"]["requestState"], "srv-1", "{theirs}");

    // The client's answer to the server's own question, with its state.
    let server_round = json!({"requestState": "srv-1",
        "inputResponses": {"q": {"action": "accept", "content": {"c": "red"}}}});

    // Other arguments with the server's state: a new call, asked again.
    s.send(&call(3, "delete", server_round.clone())).await;
    let asked_again = s.json().await;
    assert_eq!(asked_again["id"], 3);
    assert!(
        asked_again["result"]["requestState"]
            .as_str()
            .unwrap()
            .starts_with("attesta:"),
        "{asked_again}"
    );

    // The same call with the server's state continues without a prompt.
    s.send(&call(4, "paint", server_round.clone())).await;
    let done = s.json().await;
    assert_eq!(done["id"], 4);
    assert_eq!(done["result"]["isError"], false, "{done}");
    let calls = upstream_calls(&s);
    assert_eq!(calls.len(), 2, "the approved call and its continuation");
    assert_eq!(
        calls[1]["params"]["requestState"], "srv-1",
        "relayed as sent"
    );
    assert_eq!(sink.records().len(), 1, "one decision, one record");
    // The client leaves while call 3 waits for its retry: it is withdrawn
    // and recorded, not left hanging until the approval timeout.
    let (_, rest, _) = s.finish().await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let records = sink.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].verdict, "approved");
    assert_eq!(records[1].verdict, "denied");
    assert_eq!(records[1].challenge_passed, Some(false));
}

/// At most 64 calls wait for a human at once: the next one is denied with a
/// message that says so (nothing queues without bound), while the waiting
/// ones still get their forms answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_waiting_for_a_human_are_bounded() {
    let (mut s, _sink) = session(RiskLevel::Medium);
    initialize(&mut s, json!({"elicitation": {}}), "2025-06-18").await;
    for n in 0..65 {
        s.send(&delete_call(json!(n), "/srv/notes/todo.txt", None))
            .await;
    }
    let (mut forms, mut denied) = (Vec::new(), Vec::new());
    while forms.len() + denied.len() < 65 {
        let message = s.json().await;
        if message["method"] == "elicitation/create" {
            forms.push(message["id"].clone());
        } else {
            denied.push(message);
        }
    }
    assert_eq!(forms.len(), 64, "{denied:?}");
    let text = denied[0]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("64 tool calls are already waiting"), "{text}");
    // A waiting call still completes when its human answers.
    s.send(&answer(
        &forms[0],
        json!({"action": "accept", "content": {"approve": true}}),
    ))
    .await;
    let ran = s.json().await;
    assert_eq!(ran["result"]["isError"], false, "{ran}");
    let _ = s.finish().await;
}
