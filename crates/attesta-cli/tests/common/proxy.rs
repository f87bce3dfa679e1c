//! `attesta mcp wrap` as an MCP client runs it: a real process without a
//! controlling terminal (`setsid --wait`), with stdin/stdout pipes, in front
//! of one of the scripted MCP servers in crates/attesta-mcp/tests/fixtures.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

/// A scripted MCP server from the MCP crate's test fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../attesta-mcp/tests/fixtures")
        .join(name)
}

/// The well-behaved fake server.
pub fn fake_server() -> PathBuf {
    fixture("fake_upstream.py")
}

/// The proxy without a controlling terminal, in `dir`, with its output
/// lines delivered through a channel so reads can time out.
pub struct Proxy {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub lines: mpsc::Receiver<Vec<u8>>,
    /// Everything written to stderr so far (drained by a thread, so a
    /// chatty proxy never blocks on a full pipe).
    pub stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// In front of the fake server, which logs what it receives to
    /// `dir/upstream.log` and exits 4 at EOF.
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::start_server(dir, extra, &fake_server())
    }

    /// In front of the Python script `server`, with the same environment.
    pub fn start_server(dir: &Path, extra: &[&str], server: &Path) -> Self {
        let mut child = Command::new("setsid")
            .arg("--wait")
            .arg(env!("CARGO_BIN_EXE_attesta"))
            .args(["mcp", "wrap"])
            .args(extra)
            .arg("--")
            .arg("python3")
            .arg(server)
            .current_dir(dir)
            .env("FAKE_LOG", dir.join("upstream.log"))
            .env("FAKE_EXIT", "4")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("setsid (util-linux) and attesta run");
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut line = Vec::new();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    pub fn line(&self) -> Vec<u8> {
        self.lines
            .recv_timeout(Duration::from_secs(15))
            .expect("the proxy answers within 15 s")
    }

    /// The next line, or `None` if nothing comes within `wait`.
    pub fn line_within(&self, wait: Duration) -> Option<Vec<u8>> {
        self.lines.recv_timeout(wait).ok()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.line()).unwrap()
    }

    /// Closes the client's side; returns the exit code, the remaining
    /// stdout and the stderr.
    pub fn finish(mut self) -> (i32, Vec<u8>, String) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        // The stdout thread ends at EOF; give it a moment to hand over.
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            rest.extend(line);
        }
        let stderr = String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned();
        (status.code().expect("exited"), rest, stderr)
    }
}

/// Every record of the audit log in `dir/.attesta/audit.jsonl`.
pub fn audit_records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(".attesta/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every line the upstream received (the scripted servers log them to
/// `dir/upstream.log`).
pub fn upstream_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("upstream.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
