//! `attesta serve` as a real process on a real SQLite file, spoken to over
//! HTTP/1.1 on a loopback socket; principals made with the real
//! `attesta server principals` command.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::too_many_lines, clippy::similar_names)] // each test walks one scenario end to end

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::server::{Server, add, add_in, principals, request};

use serde_json::{Value, json};

/// A requester and two approvers, in a fresh directory (and `database`).
struct Team {
    dir: tempfile::TempDir,
    agent: String,
    alice: String,
    bob: String,
}

impl Team {
    fn new(database: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let agent = add_in(dir.path(), database, "deploy-bot", "requester");
        let alice = add_in(dir.path(), database, "alice", "approver");
        let bob = add_in(dir.path(), database, "bob", "approver");
        Self {
            dir,
            agent,
            alice,
            bob,
        }
    }
}

fn submission(key: &str, approvers: u32) -> Value {
    json!({
        "idempotency_key": key,
        "action": {"function_name": "drop_table", "kwargs": {"table": "users"},
                   "agent_id": "ops-agent", "environment": "production"},
        "risk": {"score": 0.95, "level": "critical", "factors": [], "scorer_name": "default"},
        "required_approvers": approvers,
        "escalation": {"rule": "infrastructure/drop_database", "notify": ["dba"]},
    })
}

#[test]
fn principals_are_added_listed_and_revoked_and_tokens_never_shown_again() {
    let dir = tempfile::tempdir().unwrap();
    let token = add(dir.path(), "alice", "approver");
    assert!(token.starts_with("attesta_") && token.len() > 60);
    let list = principals(dir.path(), &["list", "--json"]);
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(!text.contains(&token), "tokens are never listed");
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed[0]["id"], "alice");
    assert_eq!(listed[0]["kind"], "approver");
    let db = std::fs::read(dir.path().join(".attesta/server.db")).unwrap();
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "the database holds only the token's hash"
    );
    let again = principals(dir.path(), &["add", "alice", "--kind", "admin"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let bad = principals(dir.path(), &["add", "bob", "--kind", "root"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("requester, approver or admin"));
    let lookalike = principals(dir.path(), &["add", "\u{430}lice", "--kind", "approver"]);
    assert_eq!(lookalike.status.code(), Some(2), "names are plain ASCII");
    let revoked = principals(dir.path(), &["revoke", "alice"]);
    assert!(revoked.status.success());
    let missing = principals(dir.path(), &["revoke", "nobody"]);
    assert_eq!(missing.status.code(), Some(2));
    let postgres = common::attesta()
        .args([
            "server",
            "--database",
            "postgres://x/y",
            "principals",
            "list",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(postgres.status.code(), Some(2), "not silently SQLite");
}

#[test]
fn requesters_submit_idempotently_and_approvers_open_their_own_slots() {
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let other = add(dir.path(), "other-bot", "requester");
    let alice = add(dir.path(), "alice", "approver");
    let bob = add(dir.path(), "bob", "approver");
    let carol = add(dir.path(), "carol", "approver");
    let server = Server::start(dir.path());

    let (status, _, health) = server.get("/v1/health", None);
    assert_eq!((status, &health["status"]), (200, &json!("ok")));
    assert_eq!(server.get("/v1/ready", None).0, 200);

    let (status, _, created) = server.post("/v1/approvals", &agent, &submission("k-1", 2));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], "pending");
    assert_eq!(created["requester"], "deploy-bot");
    assert_eq!(created["required_approvers"], 2);
    let challenges: Vec<&Value> = created["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["challenge"])
        .collect();
    assert_eq!(
        challenges,
        ["teach_back", "quiz"],
        "the rotation by slot number"
    );
    // Resubmitting with the same key re-attaches.
    let (status, _, again) = server.post("/v1/approvals", &agent, &submission("k-1", 2));
    assert_eq!((status, &again["id"]), (200, &json!(id)));
    // The same key for another action is a conflict.
    let mut changed = submission("k-1", 2);
    changed["action"]["kwargs"]["table"] = json!("orders");
    assert_eq!(server.post("/v1/approvals", &agent, &changed).0, 409);

    // Who may see it.
    assert_eq!(
        server.get(&format!("/v1/approvals/{id}"), Some(&agent)).0,
        200
    );
    assert_eq!(
        server.get(&format!("/v1/approvals/{id}"), Some(&other)).0,
        404
    );
    let (status, _, inbox) = server.get("/v1/inbox", Some(&alice));
    assert_eq!(status, 200);
    assert_eq!(inbox[0]["id"], id.as_str());
    assert_eq!(server.get("/v1/inbox", Some(&agent)).0, 403);

    // Approvers get distinct slots; a third finds none free; the requester none.
    let slot_path = format!("/v1/approvals/{id}/slot");
    let (status, _, a) = server.post(&slot_path, &alice, &json!({}));
    assert_eq!(status, 200, "{a}");
    assert_eq!((a["index"].as_u64(), a["of"].as_u64()), (Some(1), Some(2)));
    assert_eq!(a["challenge"], "teach_back");
    assert!(a["prompt"]["instructions"].as_str().is_some(), "{a}");
    assert!(
        a.get("key").is_none() && !a.to_string().contains("\"key\""),
        "no answer key: {a}"
    );
    let (_, _, a_again) = server.post(&slot_path, &alice, &json!({}));
    assert_eq!(
        a_again["opened_at_ms"], a["opened_at_ms"],
        "the review clock started once"
    );
    let (_, _, b) = server.post(&slot_path, &bob, &json!({}));
    assert_eq!(b["index"], 2);
    assert_eq!(b["challenge"], "quiz");
    let quiz = b["prompt"].to_string();
    assert!(!quiz.contains("\"answer\""), "{quiz}");
    assert_eq!(server.post(&slot_path, &carol, &json!({})).0, 409);
    assert_eq!(server.post(&slot_path, &agent, &json!({})).0, 403);
}

#[test]
fn bad_requests_get_clear_problems_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let alice = add(dir.path(), "alice", "approver");
    let server = Server::start(dir.path());
    let good = serde_json::to_vec(&submission("k", 1)).unwrap();

    let (status, kind, problem) = server.call(
        "POST",
        "/v1/approvals",
        None,
        Some("application/json"),
        &good,
    );
    assert_eq!(status, 401);
    assert_eq!(kind, "application/problem+json");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization"),
        "{problem}"
    );
    let forged = "attesta_00000000000000000000000000000000000000000000000000000000000000";
    assert_eq!(
        server
            .call(
                "POST",
                "/v1/approvals",
                Some(forged),
                Some("application/json"),
                &good
            )
            .0,
        401
    );
    let (status, _, problem) = server.call(
        "POST",
        "/v1/approvals",
        Some(&agent),
        Some("text/plain"),
        &good,
    );
    assert_eq!(status, 415, "{problem}");
    let (status, _, problem) = server.call(
        "POST",
        "/v1/approvals",
        Some(&agent),
        Some("application/json"),
        b"{nope",
    );
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not a valid request")
    );
    let mut unknown = submission("k", 1);
    unknown["approve_myself"] = json!(true);
    let (status, _, problem) = server.post("/v1/approvals", &agent, &unknown);
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("approve_myself"),
        "{problem}"
    );
    let mut huge = submission("k", 1);
    huge["action"]["kwargs"]["sql"] = json!("x".repeat(400_000));
    assert_eq!(server.post("/v1/approvals", &agent, &huge).0, 413);
    let (status, _, problem) = server.post("/v1/approvals", &agent, &submission("has space", 1));
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("idempotency_key")
    );
    assert_eq!(
        server.post("/v1/approvals", &agent, &submission("k", 0)).0,
        400
    );
    assert_eq!(
        server.post("/v1/approvals", &alice, &submission("k", 1)).0,
        403,
        "approvers never submit"
    );
    assert_eq!(server.get("/v2/nothing", None).0, 404);
    // Nothing above was stored; a good request still works.
    let (status, _, inbox) = server.get("/v1/inbox", Some(&alice));
    assert_eq!((status, inbox), (200, json!([])));
    assert_eq!(
        server.post("/v1/approvals", &agent, &submission("k", 1)).0,
        201
    );

    // Revocation takes effect on the next request.
    let revoked = principals(dir.path(), &["revoke", "alice"]);
    assert!(revoked.status.success());
    let (status, _, problem) = server.get("/v1/inbox", Some(&alice));
    assert_eq!(status, 401);
    assert!(
        problem["detail"].as_str().unwrap().contains("revoked"),
        "{problem}"
    );
}

/// Answers for a slot's prompt about `drop_table(table='users')` in
/// production: a real explanation for a teach-back, the facts for a quiz,
/// `yes` for a confirmation.
fn good_answers(prompt: &Value) -> Vec<String> {
    prompt["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let options: Vec<&str> = q["options"]
                .as_array()
                .map(|o| o.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(fact) = ["users", "production", "drop table", "yes"]
                .iter()
                .find(|f| options.contains(f))
            {
                return (*fact).to_owned();
            }
            match q["kind"].as_str() {
                Some("explanation") => "This permanently drops the users table in the production \
                     database, deleting every user account record; restoring it would need a \
                     backup and downtime for all customers."
                    .to_owned(),
                _ => "users".to_owned(),
            }
        })
        .collect()
}

fn wrong_answers(prompt: &Value) -> Vec<String> {
    prompt["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| match q["options"].as_array() {
            Some(options) => options
                .iter()
                .filter_map(Value::as_str)
                .find(|o| !["users", "production", "drop table", "yes"].contains(o))
                .unwrap_or("no")
                .to_owned(),
            None => "ok".to_owned(),
        })
        .collect()
}

/// The server's public key, as a requester would configure it.
fn public_key(server: &Server, dir: &Path) -> attesta::audit::AuditPublicKey {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .write_all(b"GET /v1/public-key HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let text = response.split_once("\r\n\r\n").unwrap().1;
    let path = dir.join("fetched.pub");
    std::fs::write(&path, text).unwrap();
    let fetched = attesta::audit::AuditPublicKey::load(&path).unwrap();
    let on_disk =
        attesta::audit::AuditPublicKey::load(&dir.join(".attesta/server-signing.pub")).unwrap();
    assert_eq!(fetched.key_id(), on_disk.key_id());
    fetched
}

#[test]
fn two_approvers_answer_their_own_slots_and_the_signed_decision_names_both() {
    let Team {
        dir,
        agent,
        alice,
        bob,
    } = Team::new(None);
    let server = Server::start(dir.path());
    let key = public_key(&server, dir.path());

    let (_, _, created) = server.post("/v1/approvals", &agent, &submission("two", 2));
    let id = created["id"].as_str().unwrap().to_owned();
    let slot_path = format!("/v1/approvals/{id}/slot");
    let answer_path = format!("/v1/approvals/{id}/answer");
    // Nothing to answer before opening a slot.
    let (status, _, problem) = server.post(&answer_path, &alice, &json!({"answers": ["x"]}));
    assert_eq!(status, 409, "{problem}");
    let (_, _, a) = server.post(&slot_path, &alice, &json!({}));
    let (_, _, b) = server.post(&slot_path, &bob, &json!({}));
    // A wrong number of answers is well-formed but does not fit the slot
    // (409, as schemathesis' positive-data check holds it to), and it does
    // not fail the slot: the right answers pass below.
    let (status, _, problem) = server.post(&answer_path, &alice, &json!({"answers": []}));
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("got 0 answer(s); send exactly one answer per question"),
        "{problem}"
    );

    let (status, _, first) = server.post(
        &answer_path,
        &alice,
        &json!({"answers": good_answers(&a["prompt"])}),
    );
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["passed"], true, "{first}");
    assert_eq!(first["approval"]["state"], "pending", "one of two");
    // One person, one slot.
    assert_eq!(server.post(&slot_path, &alice, &json!({})).0, 409);

    // A requester waiting for the decision is answered when it is made.
    let waiter = {
        let addr = server.addr.clone();
        let agent = agent.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let path = format!("/v1/approvals/{id}/decision?wait=30");
            let got = request(&addr, "GET", &path, Some(&agent), None, b"");
            (got, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let (status, _, second) = server.post(
        &answer_path,
        &bob,
        &json!({"answers": good_answers(&b["prompt"])}),
    );
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["passed"], true,
        "{second}\n{}",
        b["prompt"]["questions"]
    );
    assert_eq!(second["approval"]["state"], "approved");
    let ((status, _, waited), took) = waiter.join().unwrap();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(10),
        "woken by the decision, not the timeout: {took:?}"
    );
    let signed = &waited["signed_decision"];
    assert!(attesta_server::decision::verify(&key, signed), "{signed}");
    let decision = &signed["decision"];
    assert_eq!(decision["verdict"], "approved");
    assert_eq!(decision["approval_id"], id.as_str());
    assert_eq!(decision["action_digest"], created["action_digest"]);
    let approvers: Vec<&Value> = decision["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["approver"])
        .collect();
    assert_eq!(approvers, ["alice", "bob"]);
    let mut forged = signed.clone();
    forged["decision"]["verdict"] = json!("denied");
    assert!(!attesta_server::decision::verify(&key, &forged));

    // The server's own trail: the submission and the decision, verifiable.
    let trail = dir.path().join(".attesta/server-audit.jsonl");
    let verify = common::attesta()
        .args(["audit", "verify", "--log"])
        .arg(&trail)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let records: Vec<Value> = std::fs::read_to_string(&trail)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["action_name"], "server.approval_submitted");
    assert_eq!(records[1]["action_name"], "drop_table");
    assert_eq!(records[1]["verdict"], "approved");
    assert_eq!(records[1]["approver_ids"], json!(["alice", "bob"]));
    assert_eq!(records[1]["metadata"]["approval_id"], id.as_str());
    assert_eq!(records[1]["metadata"]["signed_decision"], *signed);
}

#[test]
fn a_failed_slot_denies_at_once_and_cancel_and_expiry_decide_too() {
    let Team {
        dir,
        agent,
        alice,
        bob,
    } = Team::new(None);
    let server = Server::start(dir.path());
    let key = public_key(&server, dir.path());

    let (_, _, created) = server.post("/v1/approvals", &agent, &submission("fail", 3));
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, _, a) = server.post(&format!("/v1/approvals/{id}/slot"), &alice, &json!({}));
    let (_, _, b) = server.post(&format!("/v1/approvals/{id}/slot"), &bob, &json!({}));
    let (_, _, denied) = server.post(
        &format!("/v1/approvals/{id}/answer"),
        &alice,
        &json!({"answers": wrong_answers(&a["prompt"])}),
    );
    assert_eq!(denied["passed"], false, "{denied}");
    assert!(
        denied["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{denied}"
    );
    assert_eq!(
        denied["approval"]["state"], "denied",
        "one failure denies the whole approval"
    );
    // A correct answer afterwards changes nothing.
    let late = server.post(
        &format!("/v1/approvals/{id}/answer"),
        &bob,
        &json!({"answers": good_answers(&b["prompt"])}),
    );
    assert_eq!(late.0, 409, "{late:?}");
    let (_, _, waited) = server.get(&format!("/v1/approvals/{id}/decision"), Some(&agent));
    assert!(attesta_server::decision::verify(
        &key,
        &waited["signed_decision"]
    ));
    assert_eq!(waited["signed_decision"]["decision"]["verdict"], "denied");

    // The requester cancels its own; nobody else may.
    let (_, _, other) = server.post("/v1/approvals", &agent, &submission("cancel-me", 1));
    let other_id = other["id"].as_str().unwrap();
    assert_eq!(
        server
            .post(
                &format!("/v1/approvals/{other_id}/cancel"),
                &alice,
                &json!({})
            )
            .0,
        403
    );
    let (status, _, cancelled) = server.post(
        &format!("/v1/approvals/{other_id}/cancel"),
        &agent,
        &json!({}),
    );
    assert_eq!((status, &cancelled["state"]), (200, &json!("cancelled")));
    assert_eq!(
        server
            .post(
                &format!("/v1/approvals/{other_id}/cancel"),
                &agent,
                &json!({})
            )
            .0,
        409
    );

    // Expiry denies (fail closed), found by the sweeper without anyone asking.
    let mut short = submission("expire", 1);
    short["timeout_seconds"] = json!(1);
    let (_, _, expiring) = server.post("/v1/approvals", &agent, &short);
    let expiring_id = expiring["id"].as_str().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (_, _, inbox) = server.get("/v1/inbox", Some(&alice));
    assert!(!inbox.to_string().contains(expiring_id), "{inbox}");
    let (_, _, expired) = server.get(&format!("/v1/approvals/{expiring_id}"), Some(&agent));
    assert_eq!(expired["state"], "expired");
}

/// An approver process: waits for an approval in its inbox, opens its slot
/// and answers it (well or badly).
fn approver(addr: String, token: String, good: bool) -> std::thread::JoinHandle<Value> {
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let id = loop {
            let (_, _, inbox) = request(&addr, "GET", "/v1/inbox", Some(&token), None, b"");
            if let Some(id) = inbox[0]["id"].as_str() {
                break id.to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nothing arrived"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let post = |path: String, body: &Value| {
            let bytes = serde_json::to_vec(body).unwrap();
            request(
                &addr,
                "POST",
                &path,
                Some(&token),
                Some("application/json"),
                &bytes,
            )
        };
        let (_, _, slot) = post(format!("/v1/approvals/{id}/slot"), &json!({}));
        let answers = if good {
            good_answers(&slot["prompt"])
        } else {
            wrong_answers(&slot["prompt"])
        };
        post(
            format!("/v1/approvals/{id}/answer"),
            &json!({"answers": answers}),
        )
        .2
    })
}

fn remote_engine(
    addr: &str,
    token: &str,
    key: attesta::audit::AuditPublicKey,
    log: &Path,
) -> attesta::Attesta {
    remote_engine_retrying(addr, token, key, log, Duration::from_secs(1))
}

fn remote_engine_retrying(
    addr: &str,
    token: &str,
    key: attesta::audit::AuditPublicKey,
    log: &Path,
    retry_for: Duration,
) -> attesta::Attesta {
    attesta::Attesta::builder()
        .scorer(Arc::new(attesta::risk::FixedRiskScorer::new(0.95).unwrap()))
        .audit(Arc::new(attesta::audit::JsonlAuditLog::new(log)))
        .approval_service(Arc::new(remote_retrying(addr, token, key, retry_for)))
        .build()
        .unwrap()
}

/// The engine's client of the server at `addr`, retrying an unreachable
/// server for `retry_for`.
fn remote_retrying(
    addr: &str,
    token: &str,
    key: attesta::audit::AuditPublicKey,
    retry_for: Duration,
) -> attesta::remote::RemoteApprovals {
    attesta::remote::RemoteApprovals::new(attesta::remote::RemoteConfig {
        server: format!("http://{addr}"),
        token: token.to_owned(),
        public_key: key,
        retry_for,
    })
    .unwrap()
}

fn critical_call() -> attesta::ActionContext {
    attesta::ActionContext::new("drop_table")
        .with_kwarg("table", "users")
        .with_agent("ops-agent")
        .with_environment("production")
}

#[test]
fn the_engine_gates_a_critical_call_through_the_server_and_runs_it_after_both_approvers() {
    gate_through_the_server(None);
}

#[test]
fn the_same_with_postgresql() {
    if let Some(url) = fresh_postgres() {
        gate_through_the_server(Some(&url));
    }
}

fn gate_through_the_server(database: Option<&str>) {
    let Team {
        dir,
        agent,
        alice,
        bob,
    } = Team::new(database);
    let server = Server::start_in(dir.path(), "127.0.0.1:0", database);
    let key = public_key(&server, dir.path());
    let log = dir.path().join("agent-audit.jsonl");
    let engine = remote_engine(&server.addr, &agent, key.clone(), &log);
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let a = approver(server.addr.clone(), alice, true);
    let b = approver(server.addr.clone(), bob, true);
    let ran = std::sync::atomic::AtomicBool::new(false);
    // Bounded: if an answer failed, the decision would not come before
    // the approval expires.
    let outcome = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            engine.gate(&critical_call(), || {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
                "dropped"
            }),
        )
        .await
    });
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(a["passed"], true, "alice: {a}");
    assert_eq!(b["passed"], true, "bob: {b}");
    let outcome = outcome.expect("no decision within 60 s");
    assert_eq!(outcome.unwrap(), "dropped", "approved by both");
    assert!(ran.load(std::sync::atomic::Ordering::SeqCst));

    // The requester's own audit record names both and carries the server's
    // signed decision; both trails verify.
    let record: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["verdict"], "approved");
    let mut approvers: Vec<String> =
        serde_json::from_value(record["approver_ids"].clone()).unwrap();
    approvers.sort();
    assert_eq!(approvers, ["alice", "bob"]);
    let details = &record["metadata"]["attesta_decision"];
    assert!(
        details["server_approval_id"].as_str().is_some(),
        "{details}"
    );
    let signed = &details["server_decision"];
    assert!(attesta_server::decision::verify(&key, signed), "{signed}");
    let verify = common::attesta()
        .args(["audit", "verify", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let (intact, report) = verify_server_trail(dir.path(), database);
    assert!(intact, "{report}");
    assert_eq!(
        report["entries"], 2,
        "a submission and a decision: {report}"
    );
    let trail = server_trail(dir.path(), database);
    assert_eq!(trail[1]["verdict"], "approved");
    let mut named: Vec<String> = serde_json::from_value(trail[1]["approver_ids"].clone()).unwrap();
    named.sort();
    assert_eq!(named, ["alice", "bob"], "the server's trail names both");
}

#[test]
fn the_engine_denies_what_it_cannot_verify_or_reach_and_a_wrong_answer_denies() {
    let Team {
        dir,
        agent,
        alice,
        bob,
    } = Team::new(None);
    let server = Server::start(dir.path());
    let key = public_key(&server, dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // A wrong answer by the second approver denies the action.
    let engine = remote_engine(
        &server.addr,
        &agent,
        key.clone(),
        &dir.path().join("a.jsonl"),
    );
    let a = approver(server.addr.clone(), alice.clone(), true);
    let b = approver(server.addr.clone(), bob.clone(), false);
    let decision = runtime.block_on(engine.evaluate(&critical_call()));
    a.join().unwrap();
    b.join().unwrap();
    assert!(!decision.is_approved(), "{decision:?}");

    // Approved on the server, but signed by a key this requester does not
    // trust: denied.
    let stranger = attesta::audit::AuditSigningKey::from_seed(&[5u8; 32]).public_key();
    let engine = remote_engine(&server.addr, &agent, stranger, &dir.path().join("b.jsonl"));
    let a = approver(server.addr.clone(), alice.clone(), true);
    let b = approver(server.addr.clone(), bob.clone(), true);
    let decision = runtime.block_on(engine.evaluate(&critical_call()));
    a.join().unwrap();
    b.join().unwrap();
    assert!(
        !decision.is_approved(),
        "an unverifiable approval is no approval"
    );
    assert!(decision.reason.contains("signature"), "{}", decision.reason);

    // Nobody listening: denied, saying so.
    drop(server);
    let engine = remote_engine("127.0.0.1:9", &agent, key, &dir.path().join("c.jsonl"));
    let decision = runtime.block_on(engine.evaluate(&critical_call()));
    assert!(!decision.is_approved());
    assert!(
        decision.reason.contains("cannot be reached"),
        "{}",
        decision.reason
    );
}

/// `policy.approvals` in attesta.yaml: from_config puts approvals to the
/// server; a missing or exposed token is an error at start-up, never a
/// silent fallback to the terminal.
#[test]
fn an_attesta_yaml_naming_the_server_gates_through_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let alice = add(dir.path(), "alice", "approver");
    let server = Server::start(dir.path());
    public_key(&server, dir.path());
    let token = dir.path().join("agent.token");
    std::fs::write(&token, &agent).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let policy = |token_line: &str| {
        format!(
            "policy:\n  approvals:\n    server: http://{}\n    public_key: .attesta/server-signing.pub\n    {token_line}\naudit:\n  path: agent-audit.jsonl\n",
            server.addr
        )
    };
    let path = dir.path().join("attesta.yaml");
    std::fs::write(&path, policy("token_file: agent.token")).unwrap();
    let exposed = attesta::Attesta::from_config(&path)
        .unwrap_err()
        .to_string();
    assert!(exposed.contains("chmod 600"), "{exposed}");
    std::fs::write(&path, policy("token_env: ATTESTA_TEST_TOKEN_NOBODY_SETS")).unwrap();
    let missing = attesta::Attesta::from_config(&path)
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("ATTESTA_TEST_TOKEN_NOBODY_SETS"),
        "{missing}"
    );

    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, policy("token_file: agent.token")).unwrap();
    let engine = attesta::Attesta::from_config(&path).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let a = approver(server.addr.clone(), alice, true);
    // MEDIUM under the default policy: one approver, a confirmation.
    let ctx = attesta::ActionContext::new("restart_service")
        .with_kwarg("name", "billing")
        .with_trusted_risk_override(attesta::RiskLevel::Medium);
    let decision = runtime.block_on(engine.evaluate(&ctx));
    let answered = a.join().unwrap();
    assert!(decision.is_approved(), "{decision:?}\n{answered}");
    assert_eq!(decision.approvers, ["alice"]);
    let (_, _, inbox) = server.get("/v1/inbox", Some(&add(dir.path(), "carol", "approver")));
    assert_eq!(inbox, json!([]));
}

/// A token in an owner-only file, as an approver keeps it.
fn token_file(dir: &Path, name: &str, token: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, token).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn approvers_list_show_and_answer_at_their_own_terminal_and_requesters_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let alice = add(dir.path(), "alice", "approver");
    let server = Server::start(dir.path());
    let url = format!("http://{}", server.addr);
    let mut confirm = submission("confirm-me", 1);
    confirm["challenge"] = json!("confirm");
    let (_, _, created) = server.post("/v1/approvals", &agent, &confirm);
    let id = created["id"].as_str().unwrap().to_owned();
    let alice_file = token_file(dir.path(), "alice.token", &alice);
    let alice_file = alice_file.to_str().unwrap();
    let cli = |args: &[&str]| {
        common::attesta()
            .args(["approvals", "--server", &url])
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    let listed = cli(&["--token-file", alice_file, "list", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let inbox: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(inbox[0]["id"], id.as_str());
    let text = cli(&["--token-file", alice_file, "list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("drop_table(table='users')"));

    // Alice answers at her terminal: the confirmation, typed.
    let mut session = common::pty::Session::start(
        dir.path(),
        &[
            "approvals",
            "--server",
            &url,
            "--token-file",
            alice_file,
            "answer",
            &id,
        ],
    );
    session.expect("drop_table");
    session.expect("> ");
    session.send("yes");
    session.expect("passed");
    let screen = session.finish();
    assert!(screen.contains("the approval is approved"), "{screen}");
    let (_, _, status) = server.get(&format!("/v1/approvals/{id}"), Some(&agent));
    assert_eq!(status["state"], "approved");
    assert_eq!(status["slots"][0]["approver"], "alice");

    // Show opens a slot and prints its questions.
    let (_, _, two) = server.post("/v1/approvals", &agent, &submission("teach", 1));
    let two_id = two["id"].as_str().unwrap();
    let shown = cli(&["--token-file", alice_file, "show", two_id]);
    let shown_text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(
        shown_text.contains("slot 1 of 1") && shown_text.contains("teach_back"),
        "{shown_text}"
    );

    // The requester withdraws its own.
    let agent_file = token_file(dir.path(), "agent.token", &agent);
    let cancelled = cli(&[
        "--token-file",
        agent_file.to_str().unwrap(),
        "cancel",
        two_id,
        "--json",
    ]);
    assert!(
        cancelled.status.success(),
        "{}",
        String::from_utf8_lossy(&cancelled.stderr)
    );
    let cancelled: Value = serde_json::from_slice(&cancelled.stdout).unwrap();
    assert_eq!(cancelled["state"], "cancelled");

    // Bad set-ups say what to do, with exit 2.
    let nowhere = common::attesta()
        .args(["approvals", "--token-file", alice_file, "list"])
        .env_remove("ATTESTA_SERVER")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("--server"));
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.path().join("alice.token"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let exposed = cli(&["--token-file", alice_file, "list"]);
    assert_eq!(exposed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&exposed.stderr).contains("chmod 600"));
    let forged = token_file(dir.path(), "forged.token", "attesta_0000");
    let refused = cli(&["--token-file", forged.to_str().unwrap(), "list"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not one this server issued"));
}

/// Durability: `kill -9` the server while one of two slots is answered;
/// restart it; the second approver answers; the requester, which kept
/// retrying, gets the decision. Nothing was lost or decided twice.
#[test]
fn a_server_killed_mid_approval_loses_nothing() {
    killed_mid_approval(None);
}

#[test]
fn a_server_killed_mid_approval_loses_nothing_with_postgresql() {
    if let Some(url) = fresh_postgres() {
        killed_mid_approval(Some(&url));
    }
}

fn killed_mid_approval(database: Option<&str>) {
    let Team {
        dir,
        agent,
        alice,
        bob,
    } = Team::new(database);
    let mut server = Server::start_in(dir.path(), "127.0.0.1:0", database);
    let addr = server.addr.clone();
    let key = public_key(&server, dir.path());
    let log = dir.path().join("agent-audit.jsonl");
    let engine = remote_engine_retrying(&addr, &agent, key.clone(), &log, Duration::from_secs(30));
    let requester = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(engine.evaluate(&critical_call()))
    });
    assert_eq!(
        approver(addr.clone(), alice, true).join().unwrap()["passed"],
        true
    );

    server.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let restarted = Server::start_in(dir.path(), &addr, database);
    assert_eq!(
        approver(addr.clone(), bob, true).join().unwrap()["passed"],
        true
    );
    let decision = requester.join().unwrap();
    assert!(decision.is_approved(), "{decision:?}");
    let mut approvers = decision.approvers.clone();
    approvers.sort();
    assert_eq!(
        approvers,
        ["alice", "bob"],
        "alice's answer survived the crash"
    );
    let trail = server_trail(dir.path(), database);
    let decided = trail.iter().filter(|r| r["verdict"] == "approved").count();
    assert_eq!(decided, 1, "decided once: {trail:?}");
    let (intact, report) = verify_server_trail(dir.path(), database);
    assert!(intact, "the trail survived the kill: {report}");
    drop(restarted);
}

/// One slot hammered by many answers at once: exactly one is recorded.
#[test]
fn concurrent_answers_to_one_slot_record_one() {
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let alice = add(dir.path(), "alice", "approver");
    let server = Server::start(dir.path());
    let mut confirm = submission("race", 1);
    confirm["challenge"] = json!("confirm");
    let (_, _, created) = server.post("/v1/approvals", &agent, &confirm);
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, _, slot) = server.post(&format!("/v1/approvals/{id}/slot"), &alice, &json!({}));
    let answers = json!({"answers": good_answers(&slot["prompt"])});
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (addr, token, id, body, barrier) = (
                server.addr.clone(),
                alice.clone(),
                id.clone(),
                serde_json::to_vec(&answers).unwrap(),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                barrier.wait();
                request(
                    &addr,
                    "POST",
                    &format!("/v1/approvals/{id}/answer"),
                    Some(&token),
                    Some("application/json"),
                    &body,
                )
                .0
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    let trail = std::fs::read_to_string(dir.path().join(".attesta/server-audit.jsonl")).unwrap();
    assert_eq!(
        trail.lines().count(),
        2,
        "one submission, one decision:\n{trail}"
    );
}

/// A requester that dies while waiting and starts again with the same
/// idempotency key re-attaches to its approval instead of making another.
#[test]
fn a_restarted_requester_reattaches_with_its_idempotency_key() {
    let Team {
        dir,
        agent,
        alice,
        bob,
    } = Team::new(None);
    let server = Server::start(dir.path());
    let key = public_key(&server, dir.path());
    let ctx = critical_call().with_metadata("idempotency_key", "job-4711");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The first requester gives up (as if killed) while nobody answered.
    let first = remote_engine(
        &server.addr,
        &agent,
        key.clone(),
        &dir.path().join("a.jsonl"),
    );
    let gave_up = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(500), first.evaluate(&ctx)).await
    });
    assert!(gave_up.is_err(), "still waiting when it died");
    let (_, _, inbox) = server.get("/v1/inbox", Some(&alice));
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    let id = inbox[0]["id"].clone();
    // Started again with the same key: the same approval, answered now.
    let second = remote_engine(&server.addr, &agent, key, &dir.path().join("b.jsonl"));
    let a = approver(server.addr.clone(), alice.clone(), true);
    let b = approver(server.addr.clone(), bob, true);
    let decision = runtime.block_on(second.evaluate(&ctx));
    a.join().unwrap();
    b.join().unwrap();
    assert!(decision.is_approved(), "{decision:?}");
    let record: Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join("b.jsonl"))
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        record["metadata"]["attesta_decision"]["server_approval_id"],
        id
    );
    let (_, _, pending) = server.get("/v1/inbox", Some(&alice));
    assert_eq!(pending, json!([]), "no second approval was made");
}

/// A fresh database on the test PostgreSQL server (`ATTESTA_TEST_POSTGRES`,
/// started by `./scripts/test`), made with psql; `None` (skipped, saying
/// so) when there is none and none is required.
fn fresh_postgres() -> Option<String> {
    let Ok(base) = std::env::var("ATTESTA_TEST_POSTGRES") else {
        assert!(
            std::env::var("ATTESTA_REQUIRE_POSTGRES").is_err(),
            "ATTESTA_REQUIRE_POSTGRES is set but ATTESTA_TEST_POSTGRES is not"
        );
        eprintln!("skipped: no ATTESTA_TEST_POSTGRES (./scripts/test starts one)");
        return None;
    };
    let name = format!("attesta_cli_{}", std::process::id()) + &format!("_{:x}", rand_suffix());
    let made = std::process::Command::new("psql")
        .args([
            base.as_str(),
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// The server's own trail as records: the JSONL file beside an SQLite
/// database, or the `audit_log` table of a PostgreSQL one.
fn server_trail(dir: &Path, database: Option<&str>) -> Vec<Value> {
    let lines: Vec<String> = match database {
        None => std::fs::read_to_string(dir.join(".attesta/server-audit.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
        Some(url) => tokio::runtime::Runtime::new().unwrap().block_on(async {
            let tls = attesta_server::store::PostgresTls::default();
            let table = attesta_server::store::PostgresAuditLog::connect(url, &tls)
                .await
                .unwrap();
            table
                .lines_after(0, 100_000)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, line)| line)
                .collect()
        }),
    };
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `attesta audit verify` on the server's own trail (`--log FILE`, or
/// `--database URL` for PostgreSQL): its exit status and report.
fn verify_server_trail(dir: &Path, database: Option<&str>) -> (bool, Value) {
    let mut command = common::attesta();
    command.args(["audit", "verify", "--json"]);
    match database {
        None => command
            .arg("--log")
            .arg(dir.join(".attesta/server-audit.jsonl")),
        Some(url) => command.args(["--database", url]),
    };
    let out = command.current_dir(dir).output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no report: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

/// Two servers on one PostgreSQL database: approvers answer through either,
/// each gets a distinct slot, the approval is decided once, and a requester
/// waiting on one server hears of a decision made on the other.
#[test]
fn two_servers_on_one_postgresql_database_work_together() {
    let Some(url) = fresh_postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let agent = add_in(dir.path(), Some(&url), "deploy-bot", "requester");
    let alice = add_in(dir.path(), Some(&url), "alice", "approver");
    let bob = add_in(dir.path(), Some(&url), "bob", "approver");
    let a = Server::start_in(dir.path(), "127.0.0.1:0", Some(&url));
    let b = Server::start_in(dir.path(), "127.0.0.1:0", Some(&url));
    let key = public_key(&a, dir.path());
    let (_, _, created) = a.post("/v1/approvals", &agent, &submission("both", 2));
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, _, slot_a) = a.post(&format!("/v1/approvals/{id}/slot"), &alice, &json!({}));
    let (_, _, slot_b) = b.post(&format!("/v1/approvals/{id}/slot"), &bob, &json!({}));
    assert_ne!(
        slot_a["index"], slot_b["index"],
        "distinct slots across servers"
    );
    let waiter = {
        let (addr, agent, id) = (a.addr.clone(), agent.clone(), id.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let path = format!("/v1/approvals/{id}/decision?wait=30");
            (
                request(&addr, "GET", &path, Some(&agent), None, b""),
                started.elapsed(),
            )
        })
    };
    let answer = |server: &Server, token: &str, slot: &Value| {
        server.post(
            &format!("/v1/approvals/{id}/answer"),
            token,
            &json!({"answers": good_answers(&slot["prompt"])}),
        )
    };
    assert_eq!(answer(&a, &alice, &slot_a).2["passed"], true);
    std::thread::sleep(Duration::from_millis(200));
    let (_, _, last) = answer(&b, &bob, &slot_b);
    assert_eq!(last["approval"]["state"], "approved", "{last}");
    let ((status, _, waited), took) = waiter.join().unwrap();
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(attesta_server::decision::verify(
        &key,
        &waited["signed_decision"]
    ));
    assert_eq!(waited["signed_decision"]["decision"]["verdict"], "approved");

    // Both servers wrote into one chain: the submission (through a) and
    // the decision (through b), verified as one log.
    let (intact, report) = verify_server_trail(dir.path(), Some(&url));
    assert!(intact, "{report}");
    assert_eq!(report["entries"], 2, "{report}");
    let trail = server_trail(dir.path(), Some(&url));
    assert_eq!(trail[0]["action_name"], "server.approval_submitted");
    assert_eq!(trail[1]["previous_hash"], trail[0]["chain_hash"]);
    assert!(
        !dir.path().join(".attesta/server-audit.jsonl").exists(),
        "with PostgreSQL the trail is the table, not a file"
    );
}

/// `--scope drop_*=dba`: only members of `dba` see and answer a
/// `drop_table` approval; others are told why.
#[test]
fn scopes_reserve_actions_for_groups() {
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let dba = principals(
        dir.path(),
        &[
            "add", "dana", "--kind", "approver", "--group", "dba", "--json",
        ],
    );
    let dana: Value = serde_json::from_slice(&dba.stdout).unwrap();
    let dana = dana["token"].as_str().unwrap().to_owned();
    let bob = add(dir.path(), "bob", "approver");
    let server = Server::start_with(dir.path(), "127.0.0.1:0", None, &["--scope", "drop_*=dba"]);
    let (_, _, created) = server.post("/v1/approvals", &agent, &submission("scoped", 1));
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, _, bobs) = server.get("/v1/inbox", Some(&bob));
    assert_eq!(bobs, json!([]), "not in bob's inbox");
    let (status, _, problem) = server.post(&format!("/v1/approvals/{id}/slot"), &bob, &json!({}));
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("members of dba"),
        "{problem}"
    );
    let (_, _, danas) = server.get("/v1/inbox", Some(&dana));
    assert_eq!(danas[0]["id"], id.as_str());
    assert_eq!(
        server
            .post(&format!("/v1/approvals/{id}/slot"), &dana, &json!({}))
            .0,
        200
    );
    let bad = common::attesta()
        .args(["serve", "--scope", "drop_*"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ACTIONS=GROUP"));
}

/// An approver enrolled with `--totp` answers only with their current
/// one-time code, and each code once.
#[test]
fn a_totp_approver_needs_a_fresh_code_on_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let out = principals(
        dir.path(),
        &["add", "tina", "--kind", "approver", "--totp", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tina = added["token"].as_str().unwrap().to_owned();
    let secret =
        attesta::challenge::TotpSecret::from_base32(added["totp_secret"].as_str().unwrap())
            .unwrap();
    assert!(
        added["totp_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Attesta:tina?secret=")
    );
    let code = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        secret
            .totp(&attesta::policy::TotpSettings::default(), now)
            .unwrap()
    };
    let server = Server::start(dir.path());
    let confirm = |key: &str| {
        let mut body = submission(key, 1);
        body["challenge"] = json!("confirm");
        server.post("/v1/approvals", &agent, &body).2["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let id = confirm("one");
    let (_, _, slot) = server.post(&format!("/v1/approvals/{id}/slot"), &tina, &json!({}));
    assert_eq!(slot["totp_required"], true, "{slot}");
    let path = format!("/v1/approvals/{id}/answer");
    let (status, _, problem) = server.post(&path, &tina, &json!({"answers": ["yes"]}));
    assert_eq!(status, 403);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("one-time code"),
        "{problem}"
    );
    let (status, _, problem) =
        server.post(&path, &tina, &json!({"answers": ["yes"], "totp": "000000"}));
    assert_eq!(status, 403);
    assert!(
        problem["detail"].as_str().unwrap().contains("wrong"),
        "{problem}"
    );
    let now = code();
    let (status, _, passed) = server.post(&path, &tina, &json!({"answers": ["yes"], "totp": now}));
    assert_eq!((status, &passed["passed"]), (200, &json!(true)), "{passed}");
    // The same code again, on another approval: refused as a replay.
    let other = confirm("two");
    server.post(&format!("/v1/approvals/{other}/slot"), &tina, &json!({}));
    let (status, _, problem) = server.post(
        &format!("/v1/approvals/{other}/answer"),
        &tina,
        &json!({"answers": ["yes"], "totp": now}),
    );
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("used already"),
        "{problem}"
    );
}

/// Every route in `attesta_server::http::ROUTES` (which the OpenAPI
/// document is checked against) is served, and the document is too.
#[test]
fn every_documented_route_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    for route in attesta_server::http::ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path.replace("{id}", "nope");
        let (status, _, body) = server.call(method, &path, None, Some("application/json"), b"{}");
        let fallback = body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no such endpoint"));
        assert!(!fallback && status != 405, "{route}: {status} {body}");
    }
    let (status, kind, doc) = server.get("/v1/openapi.json", None);
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    assert_eq!(doc["openapi"], "3.1.0");
}

/// The end to end: an agent process (`attesta demo --server`) asks
/// for a CRITICAL action needing three approvers; three approvers answer
/// their own slots (teach-back, quiz, confirm); the agent runs the action
/// only then, and both audit trails name all three and verify.
#[test]
fn an_agent_process_waits_for_three_approvers() {
    let Team {
        dir,
        agent,
        alice,
        bob,
    } = Team::new(None);
    let carol = add(dir.path(), "carol", "approver");
    let server = Server::start(dir.path());
    public_key(&server, dir.path());
    let agent_file = token_file(dir.path(), "agent.token", &agent);
    let demo = common::attesta()
        .args([
            "demo",
            "--server",
            &format!("http://{}", server.addr),
            "--approvers",
            "3",
        ])
        .arg("--token-file")
        .arg(&agent_file)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let answers: Vec<Value> = [alice, bob, carol]
        .into_iter()
        .map(|token| approver(server.addr.clone(), token, true))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(answers.iter().all(|a| a["passed"] == true), "{answers:?}");
    let out = demo.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("approved by the server's signed decision"),
        "{stdout}"
    );
    let log = dir.path().join(".attesta/demo-agent-audit.jsonl");
    let record: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let mut approvers: Vec<String> =
        serde_json::from_value(record["approver_ids"].clone()).unwrap();
    approvers.sort();
    assert_eq!(approvers, ["alice", "bob", "carol"]);
    let decision = &record["metadata"]["attesta_decision"]["server_decision"]["decision"];
    let mut rotation: Vec<(u64, String)> = decision["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["slot"].as_u64().unwrap(),
                a["challenge"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rotation.sort();
    let rotation: Vec<&str> = rotation.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(
        rotation,
        ["teach_back", "quiz", "confirm"],
        "the rotation by slot"
    );
    for trail in [log, dir.path().join(".attesta/server-audit.jsonl")] {
        let verify = common::attesta()
            .args(["audit", "verify", "--log"])
            .arg(&trail)
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
}

/// What schemathesis found against the OpenAPI document, pinned: whole
/// numbers written as `2.0` are whole numbers, a risk score outside 0..1 and
/// a wait over 60 s are refused, a blank action name is refused, and a
/// deadline too large for 64 bits is cut to the limit like any long one.
#[test]
fn requests_are_read_as_the_openapi_document_describes_them() {
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let server = Server::start(dir.path());
    let mut float = submission("float", 1);
    float["required_approvers"] = json!(2.0);
    let (status, _, created) = server.post("/v1/approvals", &agent, &float);
    assert_eq!(
        (status, &created["required_approvers"]),
        (201, &json!(2)),
        "{created}"
    );
    let mut fractional = submission("frac", 1);
    fractional["required_approvers"] = json!(2.5);
    assert_eq!(server.post("/v1/approvals", &agent, &fractional).0, 400);
    let mut risky = submission("risky", 1);
    risky["risk"]["score"] = json!(1.5);
    let (status, _, problem) = server.post("/v1/approvals", &agent, &risky);
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("between 0 and 1"),
        "{problem}"
    );
    let mut blank = submission("blank", 1);
    blank["action"]["function_name"] = json!("  ");
    assert_eq!(server.post("/v1/approvals", &agent, &blank).0, 400);
    // A deadline beyond u64 is still an integer to the document: cut to
    // the server's 7 days like any other long one, not refused.
    let mut distant = submission("distant", 1);
    distant["timeout_seconds"] = json!(424_242);
    let body = serde_json::to_string(&distant)
        .unwrap()
        .replace("424242", "439724366939632426811392");
    let (status, _, far) = server.call(
        "POST",
        "/v1/approvals",
        Some(&agent),
        Some("application/json"),
        body.as_bytes(),
    );
    assert_eq!(status, 201, "{far}");
    let lifetime = far["deadline_ms"].as_i64().unwrap() - far["created_at_ms"].as_i64().unwrap();
    assert_eq!(lifetime, 7 * 24 * 3600 * 1000, "{far}");
    let id = created["id"].as_str().unwrap();
    let (status, _, problem) = server.get(
        &format!("/v1/approvals/{id}/decision?wait=61"),
        Some(&agent),
    );
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("at most 60"),
        "{problem}"
    );
}

/// A server whose notification hook is the manager: `tests/fixtures/
/// manager.py` confirms every new approval with the manager's token (in
/// `manager.token`) and logs what it was told in `notified.log`. Returns
/// the directory, the requester `agent`'s token and the server.
fn manager_on_call(agent: &str) -> (tempfile::TempDir, String, Server) {
    let dir = tempfile::tempdir().unwrap();
    let token = add(dir.path(), agent, "requester");
    let manager = add(dir.path(), "manager", "approver");
    token_file(dir.path(), "manager.token", &manager);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manager.py");
    let hook = format!("python3 {}", script.display());
    let server = Server::start_with(
        dir.path(),
        "127.0.0.1:0",
        None,
        &["--notify-command", &hook],
    );
    (dir, token, server)
}

/// The seeds' manager approval, for real: the agent (the engine's
/// `manager_approval_server` example, its own process) asks, the server's
/// notification hook (`--notify-command`) tells the manager, the manager
/// answers from another process, and the agent's refund runs.
#[test]
fn a_manager_notified_by_the_hook_approves_from_another_process() {
    let (dir, agent, server) = manager_on_call("deploy-bot");
    public_key(&server, dir.path());
    let out = std::process::Command::new(engine_example("manager_approval_server"))
        .env("ATTESTA_SERVER", format!("http://{}", server.addr))
        .env("ATTESTA_TOKEN", &agent)
        .env(
            "ATTESTA_SERVER_KEY",
            dir.path().join(".attesta/server-signing.pub"),
        )
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["verdict"], "approved", "{result}");
    assert_eq!(result["refunded"], true);
    assert_eq!(result["approvers"], json!(["manager"]));
    let notified = std::fs::read_to_string(dir.path().join("notified.log")).unwrap();
    let told: Value = serde_json::from_str(notified.lines().next().unwrap()).unwrap();
    assert_eq!(told["ATTESTA_APPROVAL_ID"], result["approval_id"]);
    assert_eq!(
        told["ATTESTA_APPROVAL_ACTION"],
        "refund_order(order='A-1042', amount=450)"
    );
    assert_eq!(told["ATTESTA_APPROVAL_RISK"], "medium");
    assert_eq!(told["ATTESTA_APPROVAL_REQUESTER"], "deploy-bot");
    assert_eq!(told["ATTESTA_APPROVAL_APPROVERS"], "1");
}

/// An example of the engine crate (with `remote`), brought up to date:
/// `cargo test` here does not build another package's examples.
fn engine_example(name: &str) -> std::path::PathBuf {
    let status = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args([
            "build",
            "-q",
            "-p",
            "attesta",
            "--features",
            "remote",
            "--example",
            name,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "building the {name} example failed");
    Path::new(env!("CARGO_BIN_EXE_attesta"))
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// Escalation rules that always hold (what a domain profile's rules give
/// the gate; `attesta/tests/escalation.rs` covers the profiles themselves).
#[derive(Debug)]
struct AlwaysEscalate(attesta::Escalation);

impl attesta::EscalationSource for AlwaysEscalate {
    fn escalation(
        &self,
        _: &attesta::ActionContext,
        _: &[&attesta::RiskAssessment],
    ) -> attesta::Escalation {
        self.0.clone()
    }
}

fn remote(
    addr: &str,
    token: &str,
    key: attesta::audit::AuditPublicKey,
) -> attesta::remote::RemoteApprovals {
    remote_retrying(addr, token, key, Duration::from_secs(1))
}

/// The rule that demanded an approval and the roles it names travel with
/// the submission: the notification hook is told them, and the server's
/// trail records them.
#[test]
fn an_escalation_reaches_the_server_its_hook_and_its_trail() {
    let (dir, agent, server) = manager_on_call("chart-bot");
    let key = public_key(&server, dir.path());
    let rule = "healthcare: matches_pattern:phi_access → notify".to_owned();
    let engine = attesta::Attesta::builder()
        .scorer(Arc::new(attesta::risk::FixedRiskScorer::new(0.45).unwrap()))
        .environment("ci")
        .audit(Arc::new(attesta::audit::JsonlAuditLog::new(
            dir.path().join("agent.jsonl"),
        )))
        .approval_service(Arc::new(remote(&server.addr, &agent, key)))
        .escalations(Arc::new(AlwaysEscalate(attesta::Escalation {
            notify: vec!["privacy_officer".into(), "compliance".into()],
            rules: vec![rule.clone()],
            ..attesta::Escalation::default()
        })))
        .build()
        .unwrap();
    let ctx = attesta::ActionContext::new("read_chart")
        .with_kwarg("patient", "P-77")
        .with_agent("chart-agent");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let decision = runtime.block_on(engine.evaluate(&ctx));
    assert!(decision.is_approved(), "{decision:?}");
    assert_eq!(decision.approvers, ["manager"]);
    let notified = std::fs::read_to_string(dir.path().join("notified.log")).unwrap();
    let told: Value = serde_json::from_str(notified.lines().next().unwrap()).unwrap();
    assert_eq!(
        told["ATTESTA_APPROVAL_NOTIFY"],
        "privacy_officer,compliance"
    );
    assert_eq!(told["ATTESTA_APPROVAL_RULE"], rule.as_str());
    let trail = std::fs::read_to_string(dir.path().join(".attesta/server-audit.jsonl")).unwrap();
    let submitted: Value = serde_json::from_str(trail.lines().next().unwrap()).unwrap();
    let escalation = &submitted["metadata"]["escalation"];
    assert_eq!(escalation["rule"], rule.as_str(), "{submitted}");
    assert_eq!(
        escalation["notify"],
        json!(["privacy_officer", "compliance"])
    );
}

/// `order: [server, local]`: a server that cannot be reached hands the
/// approval to the local channel (and says so); a server that decided is
/// final, so a denial there is never asked again locally. With the server
/// alone, an unreachable server denies, even under `fail_mode: allow`.
#[test]
fn the_local_route_is_tried_only_when_the_server_never_took_the_approval() {
    use attesta::channel::{ScriptedAnswer, ScriptedChannel};
    use attesta::policy::{ApprovalRoute, FailMode};
    let dir = tempfile::tempdir().unwrap();
    let agent = add(dir.path(), "deploy-bot", "requester");
    let alice = add(dir.path(), "alice", "approver");
    let server = Server::start(dir.path());
    let key = public_key(&server, dir.path());
    // A port nothing listens on: bound, then released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let engine = |addr: &str, order: &[ApprovalRoute], fail_mode: FailMode| {
        let local = Arc::new(ScriptedChannel::new([
            ScriptedAnswer::answers(["yes"]).by("local-approver")
        ]));
        let policy = attesta::Policy {
            fail_mode,
            ..attesta::Policy::default()
        };
        let engine = attesta::Attesta::builder()
            .policy(policy)
            .scorer(Arc::new(attesta::risk::FixedRiskScorer::new(0.45).unwrap()))
            .environment("ci")
            .channel(local.clone())
            .approval_service(Arc::new(remote(addr, &agent, key.clone())))
            .approval_routing(attesta::ApprovalRouting {
                order: order.to_vec(),
                levels: attesta::RiskLevel::ALL.to_vec(),
            })
            .build()
            .unwrap();
        (engine, local)
    };
    let ctx = attesta::ActionContext::new("restart_service").with_arg("web-01");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let route = |d: &attesta::Decision| {
        d.challenge_result.as_ref().unwrap().details["approval_route"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let both = [ApprovalRoute::Server, ApprovalRoute::Local];
    let (fallback, local) = engine(&closed, &both, FailMode::Deny);
    let decision = runtime.block_on(fallback.evaluate(&ctx));
    assert!(decision.is_approved(), "{decision:?}");
    assert_eq!(decision.approvers, ["local-approver"]);
    assert_eq!(route(&decision), "local");
    assert_eq!(local.prompts().len(), 1);

    let (alone, local) = engine(&closed, &[ApprovalRoute::Server], FailMode::Allow);
    let decision = runtime.block_on(alone.evaluate(&ctx));
    assert!(
        !decision.is_approved(),
        "an unreachable server waved it through"
    );
    assert!(local.prompts().is_empty());
    let result = decision.challenge_result.as_ref().unwrap();
    assert_eq!(
        result.unanswered,
        Some(attesta::challenge::Unanswered::Undelivered)
    );
    assert!(
        decision.reason.contains("cannot be reached"),
        "{}",
        decision.reason
    );

    let (reachable, local) = engine(&server.addr, &both, FailMode::Deny);
    let no = approver(server.addr.clone(), alice, false);
    let decision = runtime.block_on(reachable.evaluate(&ctx));
    assert_eq!(no.join().unwrap()["passed"], false);
    assert!(!decision.is_approved(), "{decision:?}");
    assert_eq!(route(&decision), "server");
    assert!(
        local.prompts().is_empty(),
        "a decided approval was asked again locally"
    );
}

/// Two servers appending at once to one PostgreSQL trail still write one
/// unbroken chain; an edited or deleted row is caught by `attesta audit
/// verify --database`; a database with no trail is a clear error.
#[test]
fn the_postgresql_trail_is_one_chain_across_servers_and_catches_tampering() {
    let Some(url) = fresh_postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let agent = add_in(dir.path(), Some(&url), "deploy-bot", "requester");
    let a = Server::start_in(dir.path(), "127.0.0.1:0", Some(&url));
    let b = Server::start_in(dir.path(), "127.0.0.1:0", Some(&url));
    let writers: Vec<_> = [a.addr.clone(), b.addr.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, addr)| {
            let agent = agent.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let body = serde_json::to_vec(&submission(&format!("w{n}-{i}"), 1)).unwrap();
                    let (status, _, created) = request(
                        &addr,
                        "POST",
                        "/v1/approvals",
                        Some(&agent),
                        Some("application/json"),
                        &body,
                    );
                    assert_eq!(status, 201, "{created}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let (intact, report) = verify_server_trail(dir.path(), Some(&url));
    assert!(intact, "{report}");
    assert_eq!(report["entries"], 20, "{report}");

    let psql = |sql: &str| {
        let out = std::process::Command::new("psql")
            .args([url.as_str(), "-q", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql("UPDATE audit_log SET line = replace(line, 'drop_table', 'drop_tablx') WHERE seq = 7");
    let (intact, report) = verify_server_trail(dir.path(), Some(&url));
    assert!(!intact, "an edited row went unnoticed: {report}");
    assert_eq!(report["broken"].as_array().unwrap().len(), 1, "{report}");

    let Some(empty) = fresh_postgres() else {
        return;
    };
    let out = common::attesta()
        .args(["audit", "verify", "--database", &empty])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no attesta audit table"), "{err}");
    let both = common::attesta()
        .args(["audit", "verify", "--log", "x.jsonl", "--database", &url])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("not both"));
}

/// `?sslmode=require`: the server talks to PostgreSQL over TLS and checks
/// the database's certificate (here signed by the test CA, trusted with
/// `--database-ca`); without the CA it refuses to connect, and a URL asking
/// for libpq's unverified modes is refused with what to write.
#[test]
fn the_server_reaches_postgresql_over_verified_tls() {
    let Some(url) = fresh_postgres() else { return };
    let ca = std::env::var("ATTESTA_TEST_POSTGRES_CA")
        .expect("ATTESTA_TEST_POSTGRES_CA (scripts/test-postgres prints it)");
    let dir = tempfile::tempdir().unwrap();
    let tls_url = format!("{url}?sslmode=require");
    let with_ca = ["--database", tls_url.as_str(), "--database-ca", ca.as_str()];

    let mut add = common::attesta();
    add.args([
        "server",
        "principals",
        "add",
        "deploy-bot",
        "--kind",
        "requester",
        "--json",
    ])
    .args(with_ca)
    .current_dir(dir.path());
    let added = add.output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let agent: Value = serde_json::from_slice(&added.stdout).unwrap();
    let agent = agent["token"].as_str().unwrap().to_owned();

    let server = Server::start_with(dir.path(), "127.0.0.1:0", None, &with_ca);
    let (status, _, created) = server.post("/v1/approvals", &agent, &submission("tls", 1));
    assert_eq!(status, 201, "{created}");
    // The server's own connections to the database are encrypted.
    let out = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-At",
            "-c",
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
        ])
        .output()
        .unwrap();
    let counts = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (encrypted, all) = counts.split_once('|').unwrap();
    assert!(
        all.parse::<u32>().unwrap() > 0,
        "no server connection seen: {counts}"
    );
    assert_eq!(
        encrypted, all,
        "a plain connection among the server's: {counts}"
    );
    drop(server);

    let refused = |args: &[&str], needle: &str| {
        let out = common::attesta()
            .args(["server", "principals", "list"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    refused(&["--database", &tls_url], "certificate");
    let prefer = format!("{url}?sslmode=prefer");
    refused(&["--database", &prefer], "sslmode=require");
    refused(
        &["--database", &url, "--database-ca", &ca],
        "sslmode=require",
    );

    let verify = common::attesta()
        .args(["audit", "verify", "--json"])
        .args(with_ca)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
