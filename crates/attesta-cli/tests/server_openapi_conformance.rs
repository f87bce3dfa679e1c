//! `attesta serve` against its own OpenAPI document (`/v1/openapi.json`),
//! checked by schemathesis 4.32.5 with `--checks all`: responses of the
//! documented statuses, content types and schemas, schema-valid requests
//! accepted and invalid ones refused, authentication not ignored, no server
//! errors, over generated requests and stateful sequences (submit, then
//! status, decision, slot, answer, cancel on the approvals it made).
//!
//! schemathesis is installed by `scripts/install-test-peers` into
//! `.test-tools/schemathesis` (`./scripts/test` does it and sets
//! `ATTESTA_TEST_PEERS` and `ATTESTA_REQUIRE_PEERS=1`). Without it these
//! tests print a note and pass vacuously, unless `ATTESTA_REQUIRE_PEERS=1`,
//! which makes them fail. Its configuration and hooks are in
//! crates/attesta-server/tests/schemathesis/.
#![cfg(unix)]
#![allow(clippy::expect_used, clippy::panic)] // test code: fail loudly

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{Server, add};

/// Fixed, so that a failure reruns the same requests (`--seed`).
const SEED: &str = "8787";
/// Test cases per operation and phase: enough to find the mismatches found
/// so far, few enough that a run takes well under a minute on two cores.
const MAX_EXAMPLES: &str = "40";
/// A run that has not finished by then is stuck (it takes ~15 s).
const LIMIT: Duration = Duration::from_secs(300);

/// The schemathesis executable, or `None` (after saying why) when it is not
/// installed and not required.
fn schemathesis() -> Option<PathBuf> {
    let bin = |root: &Path| root.join("schemathesis/bin/schemathesis");
    let tools = common::peers::test_tools("schemathesis test tools", |root| {
        let bin = bin(root);
        if bin.is_file() {
            Vec::new()
        } else {
            vec![bin.display().to_string()]
        }
    })?;
    Some(bin(&tools))
}

/// crates/attesta-server/tests/schemathesis: configuration and hooks.
fn settings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../attesta-server/tests/schemathesis")
}

/// Runs `bin run … --checks all` against `server`, with `requester` for
/// the requesters' operations and `approver` for the approvers' (see
/// schemathesis.toml), and fails with schemathesis' report unless it
/// finds nothing.
fn conforms(bin: &Path, server: &Server, requester: &str, approver: &str) {
    // schemathesis and Hypothesis write caches (.hypothesis, .schemathesis)
    // into the working directory: a scratch one, never the source tree.
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let settings = settings();
    let child = Command::new(bin)
        .arg("--config-file")
        .arg(settings.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("http://{}/v1/openapi.json", server.addr))
        .args(["--checks", "all", "--seed", SEED, "--max-examples"])
        .arg(MAX_EXAMPLES)
        .args(["--workers", "1", "--generation-database", "none"])
        // Throwaway tokens: the reproductions are printed as sent.
        .args(["--output-sanitize", "false", "--no-color"])
        .env("ATTESTA_REQUESTER_TOKEN", requester)
        .env("ATTESTA_APPROVER_TOKEN", approver)
        .env("SCHEMATHESIS_HOOKS", settings.join("hooks.py"))
        // Importing hooks.py must leave no __pycache__ beside it.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_COLOR", "1")
        // Wide enough that reproductions (curl lines) are not wrapped.
        .env("COLUMNS", "200")
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis starts");
    let (ok, report) = finish(child);
    if ok {
        // Shown with --nocapture: what was tested.
        eprintln!("{report}");
        return;
    }
    panic!(
        "schemathesis found the server and its OpenAPI document disagreeing \
         (seed {SEED}; each failure shows the check, the response and a curl \
         reproduction):\n{report}"
    );
}

/// Waits (at most [`LIMIT`]) for `child`; its success and its output.
fn finish(mut child: Child) -> (bool, String) {
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("schemathesis runs") {
            break Some(status);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = format!(
        "{}{}",
        stdout.join().expect("stdout read"),
        stderr.join().expect("stderr read")
    );
    match status {
        Some(status) => (status.success(), output),
        None => (false, format!("stopped after {LIMIT:?}:\n{output}")),
    }
}

/// Requesters submit, follow and cancel; an approver lists, opens and
/// answers the approvals the requester's operations made.
#[test]
fn the_server_answers_as_its_openapi_document_says() {
    let Some(bin) = schemathesis() else { return };
    let dir = tempfile::tempdir().expect("a state directory");
    let requester = add(dir.path(), "deploy-bot", "requester");
    let approver = add(dir.path(), "alice", "approver");
    let server = Server::start(dir.path());
    conforms(&bin, &server, &requester, &approver);
}

/// The same with an approver for every operation: what approvers may not
/// do (submit, cancel) is refused as documented, on a server that already
/// holds a pending approval for them to list and open.
#[test]
fn the_server_answers_an_approver_everywhere_as_documented() {
    let Some(bin) = schemathesis() else { return };
    let dir = tempfile::tempdir().expect("a state directory");
    let requester = add(dir.path(), "deploy-bot", "requester");
    let approver = add(dir.path(), "alice", "approver");
    let server = Server::start(dir.path());
    let submission = serde_json::json!({
        "idempotency_key": "seeded",
        "action": {"function_name": "drop_table", "kwargs": {"table": "users"}},
        "risk": {"score": 0.95, "level": "critical", "factors": [], "scorer_name": "default"},
    });
    let (status, _, created) = server.post("/v1/approvals", &requester, &submission);
    assert_eq!(status, 201, "{created}");
    conforms(&bin, &server, &approver, &approver);
}
