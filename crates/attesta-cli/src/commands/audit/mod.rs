//! `attesta audit`: read the audit log. One module per subcommand; the
//! helpers they share (filters, opening the log, warnings, time display)
//! live here.

mod checkpoint;
mod database;
mod export;
mod progress;
mod repair;
mod rubber_stamps;
mod stats;
mod tail;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use attesta::audit::{
    ActionPattern, BoundEdge, Filter, LogError, LogScan, UnreadableSummary, parse_time_bound,
};

use attesta::Policy;

use crate::cli::{AuditArgs, AuditCommand, AuditFilterArgs};
use crate::config;

/// Exit code for "a check failed" (e.g. rubber stamps with --fail-on-found).
const EXIT_CHECK_FAILED: u8 = 1;

pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let log = log_path(args, &policy()?);
    let log = log.as_path();
    match &args.command {
        AuditCommand::Checkpoint(sub) => checkpoint::run(args, sub),
        AuditCommand::Verify(a) if a.database.is_some() && args.log.is_some() => Err(anyhow!(
            "give either --log (a log file) or --database (a server's PostgreSQL trail), not both"
        )),
        AuditCommand::Verify(a) => verify::run(log, a),
        AuditCommand::Stats(a) => stats::run(log, a),
        AuditCommand::Export(a) => export::run(log, a),
        AuditCommand::RubberStamps(a) => rubber_stamps::run(log, a),
        AuditCommand::Tail(a) => tail::run(log, a),
        AuditCommand::Repair(a) => repair::run(log, a),
    }
}

/// The library filter for the command-line flags.
fn filter_from(args: &AuditFilterArgs) -> anyhow::Result<Filter> {
    let bound = |flag: &str, text: &Option<String>, edge| {
        text.as_deref()
            .map(|t| parse_time_bound(t, edge).map_err(|e| anyhow!("--{flag}: {e}")))
            .transpose()
    };
    Ok(Filter {
        agent: args.agent.clone(),
        verdict: args.verdict.clone(),
        level: args.level,
        action: args.action.clone().map(ActionPattern::new),
        since: bound("since", &args.since, BoundEdge::Since)?,
        until: bound("until", &args.until, BoundEdge::Until)?,
    })
}

/// Opens the log, with a hint about `--log` when it is missing.
fn open_scan(log: &Path, filter: Filter) -> anyhow::Result<LogScan> {
    LogScan::open(log, filter).map_err(log_error)
}

fn log_error(e: LogError) -> anyhow::Error {
    match e {
        LogError::NotFound(_) => anyhow!("{e}; use --log PATH to read another file"),
        other => other.into(),
    }
}

/// Tells stderr about lines that could not be read (they are left out of
/// every result, never hidden).
fn warn_unreadable(log: &Path, unreadable: &UnreadableSummary) {
    for line in &unreadable.first {
        eprintln!("attesta: warning: {}: {line}", log.display());
    }
    let more = unreadable.count.saturating_sub(unreadable.first.len());
    if more > 0 {
        eprintln!(
            "attesta: warning: {}: {more} more unreadable lines",
            log.display()
        );
    }
}

/// A stored timestamp for people: `2025-01-15 14:30:00`, as written (local
/// time of the writer, no conversion, so output does not depend on the
/// reader's zone); fractions of a second dropped; anything unusual as is.
fn display_time(stored: &str) -> String {
    let b = stored.as_bytes();
    if b.len() >= 19 && b[10] == b'T' && stored.is_char_boundary(19) {
        format!("{} {}", &stored[..10], &stored[11..19])
    } else if stored.is_empty() {
        "-".to_owned()
    } else {
        stored.to_owned()
    }
}

/// `value` or `-` when empty.
fn or_dash(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}

/// The policy for audit commands: `./attesta.yaml` (or `.yml`, `.toml`) if
/// present, else the built-in defaults.
pub(crate) fn policy() -> anyhow::Result<Policy> {
    Ok(config::load_policy(None)?.0)
}

/// The log to work on: `--log`, else the policy's `audit.path`.
pub(crate) fn log_path(args: &AuditArgs, policy: &Policy) -> PathBuf {
    args.log
        .clone()
        .unwrap_or_else(|| policy.audit.path.clone())
}
