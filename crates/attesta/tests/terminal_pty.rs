//! The terminal channel end to end: a real process whose controlling
//! terminal is a pseudo-terminal, with stdin empty and stdout a pipe; the
//! test reads the screen and types like an operator. See `pty/mod.rs`.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod pty;

use std::time::Duration;

use pty::Run;
use regex::bytes::Regex;
use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

/// A prompt as the probe takes it.
#[allow(clippy::needless_pass_by_value)] // reads best with json!(...) inline
fn prompt(kind: &str, questions: Value) -> Value {
    json!({
        "challenge_type": kind,
        "action": {
            "function_name": "drop_table",
            "call": "drop_table('user_sessions', database='prod')",
            "doc": "Drops a table for good.",
            "environment": "production",
            "agent_id": "agent-7",
            "risk_factors": ["arguments: destructive verb 'drop'"]
        },
        "risk_level": "high",
        "risk_score": 0.62,
        "instructions": "Read the action, then answer.",
        "questions": questions,
        "min_words": 15,
        "min_review": {"secs": 10, "nanos": 0},
        "approver": null
    })
}

fn confirm() -> Value {
    prompt(
        "confirm",
        json!([{"id": "approve", "text": "Approve this action?", "kind": "choice",
                "options": ["yes", "no"]}]),
    )
}

fn with_slot(mut p: Value, excluded: &[&str]) -> Value {
    p["challenge_type"] = json!("multi_party");
    p["approver"] = json!({"index": 2, "of": 2, "excluded": excluded});
    p
}

fn ask(p: &Value) -> Run {
    Run::probe(["--prompt".to_owned(), p.to_string()])
}

fn answers(out: &Value) -> Vec<String> {
    let list = out["response"]["answers"].as_array();
    let list = list.unwrap_or_else(|| panic!("no response: {out}"));
    list.iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn review_secs(out: &Value) -> f64 {
    let t = &out["response"]["review_time"];
    t["secs"].as_f64().unwrap() + t["nanos"].as_f64().unwrap() / 1e9
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn confirm_answered_yes() {
    let mut probe = ask(&confirm()).start();
    probe
        .expect("ATTESTA · CONFIRM · HIGH RISK")
        .expect("██████░░░░")
        .expect("0.62 HIGH")
        .expect("drop_table('user_sessions', database='prod')")
        .expect("Take at least 10 s")
        .expect("Approve this action?")
        .expect("A) yes")
        .expect("> ")
        .send(b"yes\r");
    let out = probe.finish();
    assert_eq!(answers(&out), ["yes"]);
    let principal = &out["response"]["principal"];
    assert_eq!(principal["verified_by"], "os_user");
    assert!(!principal["id"].as_str().unwrap().is_empty());
    assert!(principal.get("weakness").is_none());
    assert!(probe.terminal_restored(), "raw mode must be undone");
}

#[test]
fn the_answer_is_read_from_the_terminal_and_stdin_is_left_alone() {
    // What an MCP client would be sending on stdin must not answer the
    // prompt, nor be consumed by it.
    let protocol = b"yes\n{\"jsonrpc\":\"2.0\"}\n";
    let mut probe = Run::probe([
        "--prompt".to_owned(),
        confirm().to_string(),
        "--report-stdin".to_owned(),
    ])
    .stdin(protocol)
    .start();
    probe.expect("> ").send(b"no\r");
    let out = probe.finish();
    assert_eq!(answers(&out), ["no"]);
    assert_eq!(out["stdin_bytes"], protocol.len());
}

#[test]
fn keys_typed_before_the_prompt_appeared_do_not_answer_it() {
    let mut probe = Run::probe([
        "--prompt".to_owned(),
        confirm().to_string(),
        "--wait-stdin".to_owned(),
    ])
    .stdin_open()
    .start();
    // Typed into the terminal while the probe waits, before any prompt.
    probe.send(b"yes\r").expect("yes");
    probe.write_stdin(b"go\n");
    probe
        .expect("Approve this action?")
        .expect("> ")
        .send(b"no\r");
    let out = probe.finish();
    assert_eq!(answers(&out), ["no"]);
}

#[test]
fn quiz_answered_by_letter() {
    let p = prompt(
        "quiz",
        json!([
            {"id": "q1", "text": "Which table is dropped?", "kind": "choice",
             "options": ["audit_log", "user_sessions", "orders"]},
            {"id": "q2", "text": "Which database?", "kind": "choice",
             "options": ["prod", "staging"]},
            {"id": "q3", "text": "How many tables?", "kind": "free_text", "options": []}
        ]),
    );
    let mut probe = ask(&p).start();
    probe
        .expect("Question 1 of 3")
        .expect("B) user_sessions")
        .expect("(A-C)")
        .expect("> ")
        .send(b"b\r")
        .expect("Question 2 of 3")
        .expect("> ")
        .send(b"A\r")
        .expect("Question 3 of 3")
        .expect("> ")
        .send(b" 1 \r");
    let out = probe.finish();
    assert_eq!(answers(&out), ["user_sessions", "prod", "1"]);
    let screen = lossy(&probe.screen()).to_lowercase();
    for verdict in ["correct", "incorrect", "expected", "passed", "failed"] {
        assert!(!screen.contains(verdict), "the channel judged: {verdict}");
    }
}

#[test]
fn teach_back_with_line_editing() {
    let p = prompt(
        "teach_back",
        json!([{"id": "explain", "text": "What will this do?", "kind": "explanation",
                "options": []}]),
    );
    let mut probe = ask(&p).start();
    probe
        .expect("ATTESTA · TEACH-BACK · HIGH RISK")
        .expect("at least 15 words")
        .expect("> ")
        // Typo fixed with Backspace, a discarded start cleared with Ctrl-U,
        // arrow keys ignored, and a UTF-8 character.
        .send(b"nonsense\x15it drops teh\x7f\x7fhe")
        .send(b"\x1b[D\x1b[A user_sessions table in prod \xe2\x80\x94 gone\r");
    let out = probe.finish();
    assert_eq!(
        answers(&out),
        ["it drops the user_sessions table in prod \u{2014} gone"]
    );
    // The editor erased on screen with backspaces, not escape sequences.
    assert!(probe.screen().windows(3).any(|w| w == b"\x08 \x08"));
}

#[test]
fn ctrl_c_cancels_cleanly() {
    let mut probe = ask(&confirm()).start();
    probe
        .expect("> ")
        .send(b"ye\x03")
        .expect("^C")
        .expect("Cancelled.");
    let out = probe.finish();
    assert_eq!(out["error"]["kind"], "cancelled", "{out}");
    assert!(out.get("response").is_none());
    assert!(probe.terminal_restored());
}

#[test]
fn ctrl_d_on_an_empty_line_cancels() {
    let mut probe = ask(&confirm()).start();
    probe.expect("> ").send(b"\x04");
    let out = probe.finish();
    assert_eq!(out["error"]["kind"], "cancelled", "{out}");
    assert!(probe.terminal_restored());
}

#[test]
fn a_quick_answer_reports_a_short_review_time() {
    let mut probe = ask(&confirm()).start();
    probe
        .expect("Take at least 10 s")
        .expect("> ")
        .send(b"yes\r");
    let out = probe.finish();
    assert_eq!(answers(&out), ["yes"], "answers are not blocked by a timer");
    let secs = review_secs(&out);
    assert!(
        secs < 5.0,
        "review time {secs}s should show a rushed answer"
    );
}

#[test]
fn review_time_covers_the_time_spent_reading() {
    let mut probe = ask(&confirm()).start();
    probe.expect("> ");
    std::thread::sleep(Duration::from_millis(1_200));
    probe.send(b"yes\r");
    let out = probe.finish();
    let secs = review_secs(&out);
    assert!(secs >= 1.2, "review time {secs}s");
    assert!(secs < 1.2 + pty::STEP.as_secs_f64());
}

/// Agent-controlled text full of terminal tricks.
fn hostile() -> Value {
    let mut p = confirm();
    p["action"]["function_name"] = json!("wipe\u{1b}[2J\u{1b}[H");
    p["action"]["call"] = json!(
        "wipe('\u{1b}[8mhidden\u{1b}[0m', '\u{202e}fr- mr\u{202c}', '\u{1b}]8;;http://evil\u{7}link\u{1b}]8;;\u{7}', '\u{9b}31m')"
    );
    p["action"]["doc"] = json!("line one\nline two\r\u{1b}[1A\u{1b}[2Kfake");
    p["action"]["agent_id"] = json!("agent\u{2066}-7\u{2069}");
    p["questions"][0]["text"] = json!("Approve\u{1b}[5m this?\u{7}");
    p["questions"][0]["options"] = json!(["yes\u{1b}[0m", "no"]);
    p
}

/// The escape sequences in `screen`, each as bytes.
fn escapes(screen: &[u8]) -> Vec<Vec<u8>> {
    // CSI, OSC and two-byte escapes: anything an ESC starts.
    let re = Regex::new(r"(?-u)\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|.)").unwrap();
    re.find_iter(screen)
        .map(|m| m.as_bytes().to_vec())
        .collect()
}

#[test]
fn agent_text_cannot_put_escape_sequences_on_screen() {
    let mut probe = ask(&hostile()).start();
    probe
        .expect("Approve this?")
        .expect("> ")
        .send(b"no\r")
        .expect("Answers recorded");
    let out = probe.finish();
    assert_eq!(answers(&out), ["no"]);
    let screen = probe.screen();
    let ours: Vec<&[u8]> = vec![
        b"\x1b[0m",
        b"\x1b[1m",
        b"\x1b[2m",
        b"\x1b[1;33m",
        b"\x1b[31m",
        b"\x1b[32m",
        b"\x1b[33m",
        b"\x1b[1;37;41m",
    ];
    let found = escapes(&screen);
    assert!(!found.is_empty(), "colour was expected on this terminal");
    for esc in &found {
        assert!(
            ours.contains(&esc.as_slice()),
            "foreign escape {:?}",
            lossy(esc)
        );
    }
    let text = lossy(&screen);
    for bad in [
        '\u{202e}', '\u{202c}', '\u{2066}', '\u{2069}', '\u{9b}', '\u{7}',
    ] {
        assert!(!text.contains(bad), "{bad:?} reached the screen");
    }
    assert!(text.contains("hidden"), "the text itself is still shown");
}

#[test]
fn no_color_means_no_escape_sequences_at_all() {
    let mut probe = ask(&hostile()).env("NO_COLOR", "1").start();
    probe.expect("> ").send(b"yes\r").expect("Answers recorded");
    probe.finish();
    let screen = probe.screen();
    assert!(
        !screen.contains(&0x1b),
        "escape on a NO_COLOR screen: {:?}",
        lossy(&screen)
    );
    assert!(lossy(&screen).contains("██████░░░░ 0.62 HIGH"));
}

#[test]
fn a_dumb_terminal_gets_no_colour() {
    let mut probe = ask(&confirm()).env("TERM", "dumb").start();
    probe.expect("> ").send(b"yes\r").expect("Answers recorded");
    probe.finish();
    assert!(!probe.screen().contains(&0x1b));
}

#[test]
fn forty_columns_stay_readable() {
    let mut probe = ask(&confirm()).columns(40).env("NO_COLOR", "1").start();
    probe
        .expect("Approve this action?")
        .expect("> ")
        .send(b"yes\r")
        .expect("Answers recorded");
    probe.finish();
    let text = lossy(&probe.screen());
    for line in text.split("\r\n") {
        assert!(line.width() <= 40, "{line:?} is wider than 40 columns");
    }
    assert!(text.contains("drop_table('user_sessions',"));
}

#[test]
fn no_controlling_terminal_is_unavailable() {
    let mut probe = ask(&confirm()).without_terminal().start();
    let out = probe.finish();
    assert_eq!(out["error"]["kind"], "unavailable", "{out}");
    let msg = out["error"]["message"].as_str().unwrap();
    assert!(msg.contains("controlling terminal"), "{msg}");
    assert!(
        msg.contains("MCP elicitation"),
        "says what else would work: {msg}"
    );
}

#[test]
fn a_background_job_is_unavailable_instead_of_stopped() {
    let mut probe = Run::probe([
        "--prompt".to_owned(),
        confirm().to_string(),
        "--background".to_owned(),
    ])
    .start();
    let out = probe.finish();
    assert_eq!(out["error"]["kind"], "unavailable", "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("background")
    );
    assert!(
        !lossy(&probe.screen()).contains("ATTESTA"),
        "nothing was drawn"
    );
}

#[test]
fn multi_party_without_configured_approvers_is_unavailable() {
    let mut probe = ask(&with_slot(confirm(), &[])).start();
    let out = probe.finish();
    assert_eq!(out["error"]["kind"], "unavailable", "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approvers:")
    );
}

fn approvers() -> String {
    json!([
        {"id": "alice", "code": "111111"},
        {"id": "bob", "code": "654321"},
        {"id": "dave", "os_user": "no-such-account-here"},
        // Without a code, the OS account is carol's only proof: it must be
        // the account these tests run as.
        {"id": "carol", "os_user": current_account()}
    ])
    .to_string()
}

/// The name of the OS account running the tests (as `id -un` reports it).
fn current_account() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("`id -un` runs");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn multi_party(excluded: &[&str]) -> Run {
    Run::probe([
        "--prompt".to_owned(),
        with_slot(confirm(), excluded).to_string(),
        "--approvers".to_owned(),
        approvers(),
    ])
    .env("NO_COLOR", "1")
}

#[test]
fn multi_party_with_the_right_code() {
    let mut probe = multi_party(&["alice"]).start();
    probe
        .expect("Approver 2 of 2")
        .expect("1) bob")
        .expect("already approved): alice")
        .expect("> ")
        .send(b"alice\r")
        .expect("'alice' cannot answer here")
        .expect("> ")
        .send(b"bob\r")
        .expect("One-time code for bob")
        .expect("> ")
        .send(b"654321\r")
        .expect("one-time code accepted")
        .expect("Approve this action?")
        .expect("> ")
        .send(b"yes\r");
    let out = probe.finish();
    assert_eq!(answers(&out), ["yes"]);
    let principal = &out["response"]["principal"];
    assert_eq!(principal["id"], "bob");
    assert_eq!(principal["verified_by"], "totp");
    assert!(principal.get("weakness").is_none());
    assert!(
        !lossy(&probe.screen()).contains("654321"),
        "the code was echoed"
    );
}

#[test]
fn multi_party_wrong_codes_give_no_response() {
    let mut probe = multi_party(&[]).start();
    probe
        .expect("> ")
        .send(b"2\r")
        .expect("One-time code for bob");
    for code in ["000000", "123456", "654320"] {
        probe.expect("> ").send(code.as_bytes()).send(b"\r");
    }
    let out = probe.finish();
    assert!(out.get("response").is_none(), "{out}");
    assert_eq!(out["error"]["kind"], "failed", "{out}");
    assert!(out["error"]["message"].as_str().unwrap().contains("bob"));
    let screen = lossy(&probe.screen());
    assert!(
        !screen.contains("Approve this action?"),
        "questions after a failed proof"
    );
    assert!(probe.terminal_restored());
}

#[test]
fn multi_party_by_os_user_only_is_marked_weak() {
    let mut probe = multi_party(&["alice", "bob"]).start();
    probe
        .expect("1) dave")
        .expect("2) carol")
        .expect("> ")
        .send(b"dave\r")
        .expect("approves from the OS account 'no-such-account-here'")
        .expect("> ")
        .send(b"carol\r")
        .expect("Warning:")
        .expect("Approve this action?")
        .expect("> ")
        .send(b"yes\r");
    let out = probe.finish();
    let principal = &out["response"]["principal"];
    assert_eq!(principal["id"], "carol");
    assert_eq!(principal["verified_by"], "os_user");
    assert_eq!(
        principal["weakness"],
        "several approvers at one keyboard, proven only by the OS user"
    );
    let screen = lossy(&probe.screen())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        screen.contains("configure a totp_secret for each approver"),
        "{screen}"
    );
}

#[test]
fn one_prompt_at_a_time_owns_the_terminal() {
    let mut probe = Run::probe([
        "--prompt".to_owned(),
        confirm().to_string(),
        "--concurrent".to_owned(),
        "2".to_owned(),
    ])
    .start();
    probe.expect("Approve this action?").expect("> ");
    // The second prompt waits for the first; give it a chance to barge in.
    std::thread::sleep(Duration::from_millis(300));
    let headers = lossy(&probe.screen()).matches("ATTESTA ·").count();
    assert_eq!(headers, 1, "two prompts drew at once");
    probe
        .send(b"yes\r")
        .expect("Approve this action?")
        .expect("> ")
        .send(b"no\r");
    let out = probe.finish();
    let all: Vec<Value> = out["responses"].as_array().unwrap().clone();
    let mut given: Vec<String> = all
        .iter()
        .map(|r| r["response"]["answers"][0].as_str().unwrap().to_owned())
        .collect();
    given.sort();
    assert_eq!(given, ["no", "yes"]);
}

#[test]
fn a_withdrawn_prompt_lets_go_of_the_terminal() {
    // The caller gives up after 500 ms (as the gate does on its timeout);
    // the probe then asks again, and that prompt gets the operator's answer.
    let mut probe = Run::probe([
        "--prompt".to_owned(),
        confirm().to_string(),
        "--timeout-ms".to_owned(),
        "500".to_owned(),
    ])
    .start();
    probe
        .expect("> ")
        .expect("This request was withdrawn")
        .expect("Approve this action?")
        .expect("> ")
        .send(b"yes\r");
    let out = probe.finish();
    assert_eq!(out["first"]["error"]["kind"], "timed_out", "{out}");
    assert_eq!(out["second"]["response"]["answers"][0], "yes", "{out}");
    assert!(probe.terminal_restored());
}

fn gate(answer: &[u8]) -> (Value, Vec<u8>) {
    let arg = "web-01\u{1b}]0;pwned\u{7}\u{1b}[2J";
    let mut probe = Run::probe(["--gate", "--arg", arg]).start();
    probe
        .expect("ATTESTA · CONFIRM · MEDIUM RISK")
        .expect("restart_service")
        .expect("> ")
        .send(answer);
    let out = probe.finish();
    (out, probe.screen())
}

#[test]
fn gate_with_terminal_confirm_approves_on_yes() {
    let (out, screen) = gate(b"yes\r");
    assert_eq!(out["verdict"], "approved", "{out}");
    assert_eq!(out["challenge"], "confirm");
    assert_eq!(out["approvers"].as_array().unwrap().len(), 1);
    let text = lossy(&screen);
    assert!(text.contains("web-01"), "{text}");
    assert!(!text.contains("pwned\u{7}") && !text.contains("\u{1b}]0;"));
}

#[test]
fn gate_with_terminal_confirm_denies_on_no() {
    let (out, _) = gate(b"no\r");
    assert_eq!(out["verdict"], "denied", "{out}");
    assert!(out["approvers"].as_array().unwrap().is_empty());
}

/// A policy whose approval server at `server` cannot be reached, tried in
/// `order`, with the audit log in `dir`.
fn unreachable_server_policy(dir: &std::path::Path, order: &str) -> std::path::PathBuf {
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let key = attesta::audit::AuditSigningKey::generate().unwrap();
    std::fs::write(dir.join("server.pub"), key.public_key().to_file_text()).unwrap();
    let policy = dir.join("attesta.yaml");
    std::fs::write(
        &policy,
        format!(
            "policy:\n  approvals:\n    server: http://{closed}\n    public_key: server.pub\n    \
             order: {order}\n    retry_seconds: 0\naudit:\n  path: {}\n",
            dir.join("audit.jsonl").display()
        ),
    )
    .unwrap();
    policy
}

/// `order: [server, local]`: the approval server is down, so the person at
/// this terminal is asked instead; the decision says the local route
/// decided, and the audit record keeps why the server was passed over.
#[test]
fn an_unreachable_server_hands_the_approval_to_this_terminal_when_the_policy_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let policy = unreachable_server_policy(dir.path(), "[server, local]");
    let mut probe = Run::probe(["--gate", "--config", policy.to_str().unwrap()])
        .env("ATTESTA_TOKEN", "requester-token")
        .start();
    probe
        .expect("ATTESTA · CONFIRM · MEDIUM RISK")
        .expect("restart_service")
        .expect("> ")
        .send(b"yes\r");
    let out = probe.finish();
    assert_eq!(out["verdict"], "approved", "{out}");
    assert_eq!(out["route"], "local", "{out}");
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let details = &record["metadata"]["attesta_decision"];
    assert_eq!(details["approval_route"], "local", "{record}");
    let passed_over = details["routes_passed_over"][0].as_str().unwrap();
    assert!(passed_over.starts_with("server: "), "{passed_over}");
    assert!(passed_over.contains("cannot be reached"), "{passed_over}");
}

/// With the server alone (the default order), a server that is down
/// denies, and this terminal is never asked.
#[test]
fn with_the_server_alone_an_unreachable_server_denies_without_asking_here() {
    let dir = tempfile::tempdir().unwrap();
    let policy = unreachable_server_policy(dir.path(), "[server]");
    let mut probe = Run::probe(["--gate", "--config", policy.to_str().unwrap()])
        .env("ATTESTA_TOKEN", "requester-token")
        .start();
    let out = probe.finish();
    assert_eq!(out["verdict"], "denied", "{out}");
    assert_eq!(out["unanswered"], "undelivered", "{out}");
    assert!(
        !lossy(&probe.screen()).contains("CONFIRM"),
        "the terminal was asked"
    );
}
