#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly
//! `attesta mcp wrap` between the official MCP peers: the Python SDK's
//! client (`mcp` 2.3.0, driven by tests/peers/mcp_client.py) in front, and
//! the npm servers `@modelcontextprotocol/server-filesystem` /
//! `server-everything` (2026.8.31) or the SDK's own server
//! (tests/peers/sdk_server.py) behind, with the proxy in a session of its own
//! (`setsid --wait`: no controlling terminal, as under an editor).
//!
//! The peers are installed by `scripts/install-test-peers` into
//! `.test-tools/` (`./scripts/test` does it and sets `ATTESTA_TEST_PEERS` and
//! `ATTESTA_REQUIRE_PEERS=1`). Without them these tests print a note and pass
//! vacuously, unless `ATTESTA_REQUIRE_PEERS=1`, which makes them fail.
#![cfg(unix)]

mod common;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The node servers' directory (under `.test-tools/node/node_modules`).
const NPM_SCOPE: &str = "node/node_modules/@modelcontextprotocol";
/// Question ids of Attesta's approval forms.
const QUESTION_IDS: [&str; 8] = [
    "approve",
    "directory",
    "name",
    "environment",
    "number",
    "table",
    "operation",
    "explanation",
];

/// Where the installed peers are.
struct Peers {
    /// The `.test-tools` directory.
    root: PathBuf,
}

impl Peers {
    /// The installed peers, or `None` (after saying why) when they are not
    /// installed and not required.
    fn find() -> Option<Self> {
        common::peers::test_tools("MCP test peers", |root| {
            Self {
                root: root.to_owned(),
            }
            .missing()
        })
        .map(|root| Self { root })
    }

    fn missing(&self) -> Vec<String> {
        let mut missing: Vec<String> = [
            self.python(),
            self.root
                .join(NPM_SCOPE)
                .join("server-filesystem/dist/index.js"),
            self.root
                .join(NPM_SCOPE)
                .join("server-everything/dist/index.js"),
        ]
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
        let node = Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status();
        if !node.is_ok_and(|s| s.success()) {
            missing.push("node on PATH".into());
        }
        missing
    }

    fn python(&self) -> PathBuf {
        self.root.join("venv/bin/python")
    }

    fn filesystem(&self, dir: &Path) -> Vec<OsString> {
        vec![
            "node".into(),
            self.root
                .join(NPM_SCOPE)
                .join("server-filesystem/dist/index.js")
                .into(),
            dir.into(),
        ]
    }

    fn everything(&self) -> Vec<OsString> {
        vec![
            "node".into(),
            self.root
                .join(NPM_SCOPE)
                .join("server-everything/dist/index.js")
                .into(),
            "stdio".into(),
        ]
    }

    /// The Python SDK's own server (dual-era: it answers `server/discover`).
    fn sdk_server(&self) -> Vec<OsString> {
        vec![self.python().into(), peer_file("sdk_server.py").into()]
    }

    /// Runs the SDK client with `client_args` against `attesta mcp wrap
    /// <wrap_args> -- <server>` (or `server` itself when `wrap_args` is
    /// `None`), in `cwd`, without a controlling terminal.
    fn session(
        &self,
        cwd: &Path,
        client_args: &[&str],
        wrap_args: Option<&[&str]>,
        server: &[OsString],
    ) -> Session {
        let mut command = Command::new("setsid");
        command
            .arg("--wait")
            .arg(self.python())
            .arg(peer_file("mcp_client.py"))
            .args(client_args)
            .arg("--");
        if let Some(wrap_args) = wrap_args {
            command
                .arg(env!("CARGO_BIN_EXE_attesta"))
                .args(["mcp", "wrap"])
                .args(wrap_args)
                .arg("--");
        }
        let output = run_bounded(
            command
                .args(server)
                .current_dir(cwd)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            Duration::from_secs(90),
        );
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let out: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "the client printed no JSON ({e}); status {:?}\nstdout: {}\nstderr: {stderr}",
                output.status,
                String::from_utf8_lossy(&output.stdout)
            )
        });
        assert!(
            output.status.success() && out.get("error").is_none(),
            "the client failed: {out:#}\nstderr: {stderr}"
        );
        Session {
            out,
            stderr,
            audit: audit_records(cwd),
        }
    }
}

/// What one client run saw.
struct Session {
    /// The client's JSON report (see mcp_client.py).
    out: Value,
    /// The client's, the proxy's and the server's stderr, for messages.
    stderr: String,
    /// The proxy's audit log (`.attesta/audit.jsonl` in the cwd), if any.
    audit: Vec<Value>,
}

impl Session {
    fn call(&self, index: usize) -> &Value {
        let call = &self.out["calls"][index];
        assert!(
            call.get("is_error").is_some(),
            "call {index} did not return a result: {call:#}\nstderr: {}",
            self.stderr
        );
        call
    }

    fn attesta_elicitations(&self) -> Vec<&Value> {
        self.out["elicitations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["attesta"] == true)
            .collect()
    }

    fn audit_for(&self, tool: &str) -> &Value {
        self.audit
            .iter()
            .rev()
            .find(|r| r["action_name"] == tool)
            .unwrap_or_else(|| panic!("no audit record for {tool}: {:#?}", self.audit))
    }

    /// A denial as the contract describes it: an `isError` result naming the
    /// tool, the risk and the audit entry, and an audit record that is not an
    /// approval.
    fn assert_denied(&self, index: usize, tool: &str, risk: &str) {
        let call = self.call(index);
        assert_eq!(call["is_error"], true, "{call:#}\nstderr: {}", self.stderr);
        let text = call["text"].as_str().unwrap();
        assert!(text.contains(&format!("`{tool}`")), "{text}");
        assert!(text.contains(&format!("risk: {risk}")), "{text}");
        let record = self.audit_for(tool);
        assert_ne!(record["verdict"], "approved", "{record:#}");
        assert_eq!(record["risk_level"], risk, "{record:#}");
        assert_eq!(record["metadata"]["source"], "mcp", "{record:#}");
        let entry = record["entry_id"].as_str().unwrap();
        assert!(
            text.contains(entry),
            "the text names audit entry {entry}: {text}"
        );
    }

    fn assert_approved(&self, index: usize, tool: &str) {
        let call = self.call(index);
        assert_eq!(call["is_error"], false, "{call:#}\nstderr: {}", self.stderr);
        let record = self.audit_for(tool);
        assert_eq!(record["verdict"], "approved", "{record:#}");
        assert_eq!(record["metadata"]["source"], "mcp", "{record:#}");
    }
}

fn peer_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// Runs `command` to completion, killing it after `limit`.
fn run_bounded(command: &mut Command, limit: Duration) -> std::process::Output {
    let child = command.spawn().expect("setsid (util-linux) and python run");
    let id = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished.recv_timeout(limit).is_err() {
        let _ = Command::new("kill")
            .args(["-KILL", &id.to_string()])
            .status();
        panic!("the session did not end within {limit:?}");
    }
    waiter.join().unwrap().unwrap()
}

fn audit_records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(".attesta/audit.jsonl"))
        .map(|text| {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// A temp directory for the session (the audit log lands in it) with a
/// `data/` directory for the filesystem server holding `notes.txt`.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("notes.txt"), "hello from the peers test\n").unwrap();
    (dir, data)
}

fn args_json(path: &Path, content: &str) -> String {
    json!({"path": path, "content": content}).to_string()
}

const CONTENT: &str = "written through attesta";

// --- pass-through --------------------------------------------------------

#[test]
fn filesystem_server_lists_tools_and_reads_files_through_the_proxy_unchanged() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let read = json!({"path": data.join("notes.txt")}).to_string();
    let client = ["--list", "--call", "read_text_file", &read];
    let server = peers.filesystem(&data);
    let proxied = peers.session(dir.path(), &client, Some(&[]), &server);
    let direct = peers.session(dir.path(), &client, None, &server);

    // The client probes server/discover first; the TypeScript server answers
    // -32601 through the proxy and the client falls back to initialize.
    assert_eq!(proxied.out["protocol_version"], "2025-11-25");
    assert_eq!(
        proxied.out["server_info"]["name"],
        "secure-filesystem-server"
    );
    assert_eq!(
        proxied.out["tools"], direct.out["tools"],
        "names and annotations arrive as the server sent them"
    );
    let tools = proxied.out["tools"].as_array().unwrap();
    let write = tools.iter().find(|t| t["name"] == "write_file").unwrap();
    assert_eq!(
        write["annotations"],
        json!({"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": false})
    );
    for name in ["read_text_file", "list_directory", "edit_file", "move_file"] {
        assert!(tools.iter().any(|t| t["name"] == name), "{name}: {tools:?}");
    }

    // read_text_file is read-only and LOW: no prompt, the content comes back.
    let call = proxied.call(0);
    assert_eq!(call["is_error"], false, "{call:#}");
    assert_eq!(call["text"], "hello from the peers test\n");
    assert_eq!(call, direct.call(0), "the same result as without the proxy");
    assert!(proxied.out["elicitations"].as_array().unwrap().is_empty());
    let record = proxied.audit_for("read_text_file");
    assert_eq!(record["verdict"], "approved");
    assert_eq!(record["risk_level"], "low");
    assert_eq!(record["agent_id"], "attesta-peer-test", "the client's name");
    assert_eq!(record["metadata"]["source"], "mcp");
}

// --- write_file gated ------------------------------------------------------

#[test]
fn write_file_is_denied_when_the_client_cannot_elicit_and_there_is_no_terminal() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let target = data.join("out.txt");
    let s = peers.session(
        dir.path(),
        &[
            "--list",
            "--call",
            "write_file",
            &args_json(&target, CONTENT),
        ],
        Some(&[]),
        &peers.filesystem(&data),
    );
    // No override: the listed destructiveHint makes it at least HIGH.
    s.assert_denied(0, "write_file", "high");
    assert!(!target.exists(), "the server never saw the call");
    assert!(s.out["elicitations"].as_array().unwrap().is_empty());
    let text = s.call(0)["text"].as_str().unwrap();
    assert!(text.contains("elicitation"), "says what would help: {text}");
}

/// The SDK client calls a tool before it has listed any (at 2025-11-25 it
/// lists only afterwards, to validate the output), so the client's own
/// `tools/list` cannot be where the proxy learns `destructiveHint`: scored
/// on the bare name `write_file` would be LOW and run unasked.
#[test]
fn a_destructive_tool_called_before_any_tools_list_is_still_gated() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let target = data.join("unlisted.txt");
    let s = peers.session(
        dir.path(),
        &["--call", "write_file", &args_json(&target, CONTENT)],
        Some(&[]),
        &peers.filesystem(&data),
    );
    s.assert_denied(0, "write_file", "high");
    assert!(!target.exists());
}

/// `write_file` of `target` pinned to HIGH (a quiz) in staging, the client
/// answering the form with `answers` (`correct` or `wrong`).
fn quiz_session(peers: &Peers, dir: &Path, data: &Path, target: &Path, answers: &str) -> Session {
    peers.session(
        dir,
        &[
            "--elicitation",
            answers,
            "--environment",
            "staging",
            "--call",
            "write_file",
            &args_json(target, CONTENT),
        ],
        Some(&[
            "--environment",
            "staging",
            "--risk-override",
            "write_file=high",
        ]),
        &peers.filesystem(data),
    )
}

#[test]
fn write_file_at_high_risk_is_approved_by_correct_quiz_answers_through_elicitation() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let target = data.join("approved.txt");
    let s = quiz_session(&peers, dir.path(), &data, &target, "correct");
    let asked = s.attesta_elicitations();
    assert_eq!(asked.len(), 1, "one approval form: {:#}", s.out);
    let request_id = asked[0]["request_id"].as_str().unwrap_or_default();
    assert!(
        request_id.starts_with("attesta-"),
        "a proxy request: {request_id}"
    );
    let params = &asked[0]["params"];
    let message = params["message"].as_str().unwrap();
    assert!(message.contains("write_file"), "{message}");
    assert!(message.to_lowercase().contains("high"), "{message}");
    let schema = &params["requestedSchema"];
    assert_eq!(schema["type"], "object");
    let questions: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert!(
        questions.iter().any(|q| *q == "directory"),
        "a quiz about the path: {questions:?}"
    );
    assert!(questions.iter().all(|q| QUESTION_IDS.contains(&q.as_str())));
    assert_eq!(asked[0]["response"]["action"], "accept");

    s.assert_approved(0, "write_file");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), CONTENT);
    let record = s.audit_for("write_file");
    assert_eq!(record["challenge_type"], "quiz");
    assert_eq!(record["challenge_passed"], true);
    assert_eq!(record["environment"], "staging");
}

#[test]
fn write_file_at_high_risk_is_denied_by_wrong_quiz_answers() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let target = data.join("wrong.txt");
    let s = quiz_session(&peers, dir.path(), &data, &target, "wrong");
    assert_eq!(s.attesta_elicitations().len(), 1, "the human was asked");
    s.assert_denied(0, "write_file", "high");
    assert!(!target.exists());
    assert_eq!(s.audit_for("write_file")["challenge_passed"], false);
}

#[test]
fn write_file_at_medium_risk_is_approved_by_confirming_through_elicitation() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let target = data.join("confirmed.txt");
    let s = peers.session(
        dir.path(),
        &[
            "--elicitation",
            "correct",
            "--call",
            "write_file",
            &args_json(&target, CONTENT),
        ],
        Some(&["--risk-override", "write_file=medium"]),
        &peers.filesystem(&data),
    );
    let asked = s.attesta_elicitations();
    assert_eq!(asked.len(), 1, "{:#}", s.out);
    let approve = &asked[0]["params"]["requestedSchema"]["properties"]["approve"];
    assert_eq!(approve["type"], "boolean", "{:#}", asked[0]);
    s.assert_approved(0, "write_file");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), CONTENT);
    assert_eq!(s.audit_for("write_file")["challenge_type"], "confirm");
}

#[test]
fn write_file_is_denied_when_the_human_declines_or_cancels() {
    let Some(peers) = Peers::find() else { return };
    for answer in ["decline", "cancel"] {
        let (dir, data) = workspace();
        let target = data.join("declined.txt");
        let s = peers.session(
            dir.path(),
            &[
                "--elicitation",
                answer,
                "--call",
                "write_file",
                &args_json(&target, CONTENT),
            ],
            Some(&["--risk-override", "write_file=medium"]),
            &peers.filesystem(&data),
        );
        assert_eq!(s.attesta_elicitations().len(), 1, "{answer}: {:#}", s.out);
        s.assert_denied(0, "write_file", "medium");
        assert!(!target.exists(), "{answer}");
    }
}

// --- the 2026-07-28 era (input_required) -----------------------------------

#[test]
fn modern_era_clients_approve_through_input_required() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let target = data.join("modern.txt");
    let read = json!({"path": data.join("notes.txt")}).to_string();
    // `auto` discovers the SDK server through the proxy and stays modern.
    let s = peers.session(
        dir.path(),
        &[
            "--elicitation",
            "correct",
            "--call",
            "read_text_file",
            &read,
            "--call",
            "write_file",
            &args_json(&target, CONTENT),
        ],
        Some(&["--risk-override", "write_file=medium"]),
        &peers.sdk_server(),
    );
    assert_eq!(s.out["protocol_version"], "2026-07-28");
    s.assert_approved(0, "read_text_file");
    let asked = s.attesta_elicitations();
    assert_eq!(asked.len(), 1, "{:#}", s.out);
    assert_eq!(asked[0]["during_call"], "write_file");
    let approve = &asked[0]["params"]["requestedSchema"]["properties"]["approve"];
    assert_eq!(approve["type"], "boolean", "{:#}", asked[0]);
    s.assert_approved(1, "write_file");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), CONTENT);
}

/// A 2026-07-28 client validates every result: the proxy's own `isError`
/// answer must be a complete `CallToolResult` (`resultType: "complete"`),
/// or the SDK raises instead of showing the model the denial.
#[test]
fn modern_era_denials_are_results_the_client_accepts() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let target = data.join("modern-denied.txt");
    for (client, what) in [
        (&["--mode", "2026-07-28"][..], "no elicitation capability"),
        (
            &["--mode", "2026-07-28", "--elicitation", "decline"][..],
            "declined",
        ),
    ] {
        let write = args_json(&target, CONTENT);
        let args: Vec<&str> = client
            .iter()
            .copied()
            .chain(["--call", "write_file", &write])
            .collect();
        let s = peers.session(
            dir.path(),
            &args,
            Some(&["--risk-override", "write_file=medium"]),
            &peers.sdk_server(),
        );
        assert_eq!(s.out["protocol_version"], "2026-07-28", "{what}");
        s.assert_denied(0, "write_file", "medium");
        assert!(!target.exists(), "{what}");
    }
}

// --- server-initiated requests ---------------------------------------------

#[test]
fn server_initiated_sampling_elicitation_and_roots_requests_reach_the_client() {
    let Some(peers) = Peers::find() else { return };
    let (dir, data) = workspace();
    let tools = [
        "trigger-sampling-request",
        "trigger-elicitation-request",
        "get-roots-list",
    ];
    let pins: Vec<String> = tools.iter().map(|t| format!("{t}=low")).collect();
    let mut wrap = Vec::new();
    for pin in &pins {
        wrap.extend(["--risk-override", pin.as_str()]);
    }
    let data_str = data.to_str().unwrap();
    let s = peers.session(
        dir.path(),
        &[
            "--elicitation",
            "correct",
            "--sampling",
            "--roots",
            data_str,
            "--call",
            tools[0],
            r#"{"prompt": "say hi", "maxTokens": 20}"#,
            "--call",
            tools[1],
            "{}",
            "--call",
            tools[2],
            "{}",
        ],
        Some(&wrap),
        &peers.everything(),
    );
    assert_eq!(s.out["protocol_version"], "2025-11-25");

    // sampling/createMessage went server → proxy → client, and the answer back.
    let sampling = s.out["sampling"].as_array().unwrap();
    assert_eq!(sampling.len(), 1, "{:#}", s.out);
    let prompt = &sampling[0]["params"]["messages"][0]["content"]["text"];
    assert!(prompt.as_str().unwrap().contains("say hi"), "{prompt}");
    assert_eq!(s.call(0)["is_error"], false);
    assert!(
        s.call(0)["text"]
            .as_str()
            .unwrap()
            .contains("sampled by the attesta test client")
    );

    // The server's own elicitation is relayed as is (not one of attesta's).
    let elicitations = s.out["elicitations"].as_array().unwrap();
    assert_eq!(elicitations.len(), 1, "{elicitations:#?}");
    assert_eq!(elicitations[0]["attesta"], false);
    assert!(
        !elicitations[0]["request_id"]
            .to_string()
            .contains("attesta-"),
        "the server's own id: {}",
        elicitations[0]["request_id"]
    );
    assert_eq!(s.call(1)["is_error"], false);
    assert!(s.call(1)["text"].as_str().unwrap().contains("peer-test"));

    // roots/list: the server asks after initialization, and the tool shows
    // what the client answered.
    assert!(s.out["roots_requests"].as_u64().unwrap() >= 1);
    let roots = s.call(2)["text"].as_str().unwrap();
    assert!(roots.contains(&format!("file://{data_str}")), "{roots}");

    for tool in tools {
        assert_eq!(s.audit_for(tool)["verdict"], "approved");
    }
}

// --- lifecycle ---------------------------------------------------------------

#[test]
fn the_proxy_exits_with_the_real_servers_status() {
    let Some(peers) = Peers::find() else { return };
    let dir = tempfile::tempdir().unwrap();

    // server-filesystem refuses to start without an accessible directory (exit 1).
    let missing = dir.path().join("missing");
    let output = run_bounded(
        Command::new("setsid")
            .arg("--wait")
            .arg(env!("CARGO_BIN_EXE_attesta"))
            .args(["mcp", "wrap", "--"])
            .args(peers.filesystem(&missing))
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("None of the specified directories"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    // Killed mid-session (SIGKILL): 128 + 9, with the client's stdin still open.
    let pid_file = dir.path().join("server.pid");
    let script = format!(
        "echo $$ > '{}'; exec \"$@\"",
        pid_file.display().to_string().replace('\'', r"'\''")
    );
    let mut child = Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_attesta"))
        .args(["mcp", "wrap", "--", "sh", "-c", &script, "sh"])
        .args(peers.filesystem(dir.path()))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"it\",\"version\":\"1\"}}}\n")
        .unwrap();
    stdin.flush().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        reply["result"]["serverInfo"]["name"],
        "secure-filesystem-server"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the proxy outlived its server"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    assert_eq!(status.code(), Some(137));
}
