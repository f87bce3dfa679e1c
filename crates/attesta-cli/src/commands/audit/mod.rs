//! `attesta audit …`: one module per subcommand; the shared `--log`
//! handling lives here.

mod checkpoint;

use std::path::PathBuf;
use std::process::ExitCode;

use attesta::Policy;

use crate::cli::{AuditArgs, AuditCommand};
use crate::config;

pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        AuditCommand::Checkpoint(sub) => checkpoint::run(args, sub),
    }
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
