//! Starting the upstream MCP server and stopping it.

use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::ProxyError;

/// Starts `argv` (no shell) with piped stdin/stdout and inherited stderr, in
/// a new process group so the whole tree can be stopped together.
pub fn spawn(argv: &[OsString]) -> Result<Child, ProxyError> {
    let (program, rest) = argv.split_first().ok_or(ProxyError::NoCommand)?;
    let mut command = Command::new(program);
    command
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // A backstop: if the proxy itself is dropped mid-way, the child dies too.
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    command.spawn().map_err(|source| ProxyError::Spawn {
        program: program.to_string_lossy().into_owned(),
        cause: source,
    })
}

/// Waits up to `grace` for the upstream to exit (its stdin is already
/// closed), then sends SIGTERM to its process group, waits `grace` again,
/// and finally sends SIGKILL.
pub async fn stop(child: &mut Child, grace: Duration) -> Result<ExitStatus, ProxyError> {
    let io_err = |source| ProxyError::Io {
        doing: "waiting for the upstream MCP server to exit",
        cause: source,
    };
    if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
        return status.map_err(io_err);
    }
    signal_group(child, Signal::Term);
    if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
        return status.map_err(io_err);
    }
    signal_group(child, Signal::Kill);
    // SIGKILL cannot be caught; kill the leader directly too in case the
    // group signal failed (e.g. the child changed its group).
    let _ = child.start_kill();
    child.wait().await.map_err(io_err)
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_group(child: &Child, signal: Signal) {
    use rustix::process::{Pid, Signal as Sig, kill_process_group};
    let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
    else {
        return; // already reaped
    };
    let sig = match signal {
        Signal::Term => Sig::TERM,
        Signal::Kill => Sig::KILL,
    };
    // ESRCH (the group is gone) is the outcome we want anyway.
    let _ = kill_process_group(pid, sig);
}

#[cfg(not(unix))]
fn signal_group(_child: &Child, _signal: Signal) {
    // No process groups: `stop` kills the child itself.
}
