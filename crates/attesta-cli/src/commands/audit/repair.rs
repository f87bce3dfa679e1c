//! `attesta audit repair`: move a torn last line into a quarantine file.

use std::io::{self, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use attesta::audit::{JsonlAuditLog, RepairOutcome};
use serde_json::json;

use crate::cli::AuditRepairArgs;

pub(super) fn run(log: &Path, args: &AuditRepairArgs) -> anyhow::Result<ExitCode> {
    if !log.exists() {
        bail!(
            "{} does not exist; use --log PATH to repair another file",
            log.display()
        );
    }
    let outcome = JsonlAuditLog::new(log).repair()?;
    let mut out = io::stdout().lock();
    match (&outcome, args.json) {
        (RepairOutcome::NothingToRepair, true) => {
            writeln!(out, "{}", json!({"log": log, "repaired": false}))?;
        }
        (RepairOutcome::Quarantined { quarantine, bytes }, true) => {
            let value =
                json!({"log": log, "repaired": true, "quarantine": quarantine, "bytes": bytes});
            writeln!(out, "{value}")?;
        }
        (RepairOutcome::NothingToRepair, false) => {
            writeln!(out, "{} ends cleanly; nothing to repair.", log.display())?;
        }
        (RepairOutcome::Quarantined { quarantine, bytes }, false) => {
            writeln!(
                out,
                "Moved a torn last line ({bytes} bytes) from {} to {}.\n\
                 Writers can append again. The fragment is kept for inspection; run \
                 `attesta audit verify --log {}` to check the rest of the log.",
                log.display(),
                quarantine.display(),
                log.display()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
