//! A real `attesta serve` on a loopback socket, principals made with the
//! real `attesta server principals` command, and plain HTTP/1.1 requests.
#![allow(clippy::unwrap_used, clippy::panic)] // test code: fail loudly

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

/// `attesta server principals ARGS` in `dir`.
pub fn principals(dir: &Path, args: &[&str]) -> std::process::Output {
    principals_in(dir, None, args)
}

/// The same on `database` (a PostgreSQL URL), if given.
pub fn principals_in(dir: &Path, database: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut command = super::attesta();
    if let Some(url) = database {
        command.args(["server", "--database", url]);
    } else {
        command.arg("server");
    }
    command
        .arg("principals")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Adds a principal and returns its token.
pub fn add(dir: &Path, id: &str, kind: &str) -> String {
    add_in(dir, None, id, kind)
}

pub fn add_in(dir: &Path, database: Option<&str>, id: &str, kind: &str) -> String {
    let out = principals_in(dir, database, &["add", id, "--kind", kind, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["id"], id);
    added["token"].as_str().unwrap().to_owned()
}

/// A running server and its address.
pub struct Server {
    /// The `attesta serve` process (killed when dropped).
    pub child: Child,
    /// `HOST:PORT` it listens on.
    pub addr: String,
}

impl Server {
    pub fn start(dir: &Path) -> Self {
        Self::start_at(dir, "127.0.0.1:0")
    }

    pub fn start_at(dir: &Path, listen: &str) -> Self {
        Self::start_in(dir, listen, None)
    }

    /// A server on `database` (a PostgreSQL URL) if given, else SQLite.
    pub fn start_in(dir: &Path, listen: &str, database: Option<&str>) -> Self {
        Self::start_with(dir, listen, database, &[])
    }

    pub fn start_with(dir: &Path, listen: &str, database: Option<&str>, extra: &[&str]) -> Self {
        let mut command = super::attesta();
        command.args(["serve", "--listen", listen]).args(extra);
        if let Some(url) = database {
            command.args(["--database", url]);
        }
        let mut child = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("listening on") {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "the server exited"
            );
        }
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = stderr.read_to_string(&mut sink);
        });
        Self { child, addr }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> (u16, String, Value) {
        request(&self.addr, method, path, token, content_type, body)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, String, Value) {
        self.call("GET", path, token, None, b"")
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> (u16, String, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        self.call("POST", path, Some(token), Some("application/json"), &bytes)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `addr`; returns the status, the content type
/// and the body as JSON (`null` if it is not JSON).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String, Value) {
    {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        if let Some(token) = token {
            let _ = write!(head, "Authorization: Bearer {token}\r\n");
        }
        if let Some(kind) = content_type {
            let _ = write!(head, "Content-Type: {kind}\r\n");
        }
        let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) before reading a large body.
        let _ = stream.write_all(body);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let body = serde_json::from_str(body.trim()).unwrap_or(Value::Null);
        (status, content_type, body)
    }
}
