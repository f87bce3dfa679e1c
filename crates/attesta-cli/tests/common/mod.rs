//! Running the real `attesta` binary from integration tests.
#![allow(dead_code, unreachable_pub, clippy::expect_used)]

pub mod peers;
pub mod proxy;
#[cfg(unix)]
pub mod pty;
pub mod server;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary under test, with environment detection pinned so results do
/// not depend on the machine running the tests.
pub fn attesta() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_attesta"));
    cmd.env("ATTESTA_ENV", "ci");
    cmd
}

/// Runs `attesta ARGS` in `dir` with `stdin` as its input.
pub fn run_with_stdin(args: &[&str], stdin: &str, dir: &Path) -> Output {
    let mut child = attesta()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("attesta starts");
    // The command may exit before reading its input (e.g. a missing file);
    // a broken pipe here is then expected, not a test failure.
    let _ = child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("attesta finishes")
}
