//! What `attesta mcp wrap` adds to a request's round trip: the same upstream
//! (the stdlib fake server of crates/attesta-mcp/tests/fixtures) spoken to
//! directly and through the proxy, each process spawned once and kept alive
//! across iterations, one request/response pair per iteration.
//!
//! * `ping`: a request the proxy only relays (target: ≤ 200 µs added).
//! * `tools_call_low`: a LOW `tools/call` the gate scores, audits (policy
//!   with `fsync: never`, so the disk is not measured) and then relays.
//! * `tools_call_low_fsync`: the same with the default `fsync: always`.
//!
//! `cargo bench -p attesta-cli --bench mcp_overhead` also prints medians of
//! interleaved direct/proxied round trips (less sensitive to drift than two
//! separate criterion runs).
#![allow(clippy::expect_used, clippy::unwrap_used)] // benchmark set-up: fail loudly

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const PING: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\n";
const READ: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"read_note\",\"arguments\":{\"title\":\"todo\"}}}\n";

fn fake_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../attesta-mcp/tests/fixtures/fake_upstream.py")
}

/// A long-lived MCP peer on pipes.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
}

impl Peer {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 and attesta run");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut peer = Self {
            child,
            stdin,
            stdout,
            line: Vec::with_capacity(256),
        };
        // Warm both processes (imports, first allocation, the gate's novelty).
        for _ in 0..50 {
            peer.round_trip(PING);
            peer.round_trip(READ);
        }
        peer
    }

    fn direct() -> Self {
        Self::spawn(Command::new("python3").arg(fake_server()))
    }

    fn proxied(dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_attesta"))
                .args(["mcp", "wrap"])
                .args(extra)
                .arg("--")
                .arg("python3")
                .arg(fake_server())
                .current_dir(dir),
        )
    }

    /// Sends one request line and reads one answer line.
    fn round_trip(&mut self, request: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(request).unwrap();
        stdin.flush().unwrap();
        self.line.clear();
        let n = self.stdout.read_until(b'\n', &mut self.line).unwrap();
        assert!(n > 0, "the peer closed its stdout");
        // An answer that is not the request's would skew every number.
        assert!(
            !self.line.windows(8).any(|w| w == b"\"error\":"),
            "{}",
            String::from_utf8_lossy(&self.line)
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("no-fsync.yaml");
    std::fs::write(
        &policy,
        "audit:\n  path: audit-no-fsync.jsonl\n  fsync: never\n",
    )
    .unwrap();
    let policy = policy.to_str().unwrap();

    let mut direct = Peer::direct();
    let mut proxied = Peer::proxied(dir.path(), &["--config", policy]);
    let mut proxied_fsync = Peer::proxied(dir.path(), &[]);

    let mut group = c.benchmark_group("mcp_overhead");
    for (name, request) in [("ping", PING), ("tools_call_low", READ)] {
        group.bench_function(format!("{name}/direct"), |b| {
            b.iter(|| direct.round_trip(request));
        });
        group.bench_function(format!("{name}/proxied"), |b| {
            b.iter(|| proxied.round_trip(request));
        });
    }
    group.bench_function("tools_call_low_fsync/proxied", |b| {
        b.iter(|| proxied_fsync.round_trip(READ));
    });
    group.finish();

    if std::env::args().any(|a| a == "--bench") {
        for (name, request) in [("ping", PING), ("tools_call_low", READ)] {
            interleaved(name, request, &mut direct, &mut proxied);
        }
    }
}

/// Alternates direct and proxied round trips and prints both medians and
/// the median of the per-pair differences.
fn interleaved(name: &str, request: &[u8], direct: &mut Peer, proxied: &mut Peer) {
    const PAIRS: usize = 5_000;
    let mut a = Vec::with_capacity(PAIRS);
    let mut b = Vec::with_capacity(PAIRS);
    let mut added = Vec::with_capacity(PAIRS);
    for _ in 0..PAIRS {
        let started = Instant::now();
        direct.round_trip(request);
        let d = started.elapsed();
        let started = Instant::now();
        proxied.round_trip(request);
        let p = started.elapsed();
        a.push(d);
        b.push(p);
        added.push(p.as_nanos().cast_signed() - d.as_nanos().cast_signed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    added.sort_unstable();
    println!(
        "mcp_overhead/{name}/interleaved ({PAIRS} pairs): direct median {:?}, proxied median {:?}, \
         added median {:.1} µs (p90 {:.1} µs)",
        median(&mut a),
        median(&mut b),
        added[PAIRS / 2] as f64 / 1000.0,
        added[PAIRS * 9 / 10] as f64 / 1000.0,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
