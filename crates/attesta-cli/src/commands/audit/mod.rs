//! `attesta audit`: one module per subcommand; the shared `--log` option is
//! resolved here.

mod progress;
mod verify;

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{AuditArgs, AuditCommand};

pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let log = log_path(args);
    match &args.command {
        AuditCommand::Verify(verify_args) => verify::run(log, verify_args),
    }
}

/// The log every subcommand works on (`--log`, default
/// `.attesta/audit.jsonl` relative to the current directory).
fn log_path(args: &AuditArgs) -> &Path {
    &args.log.log
}
