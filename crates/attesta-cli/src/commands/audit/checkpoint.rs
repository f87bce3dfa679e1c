//! `attesta audit checkpoint`: sign the log's current length and head and
//! append the checkpoint to `<log>.checkpoints`.

use std::io::{self, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use attesta::audit::{AuditSigningKey, checkpoint_log, checkpoints_path};

use crate::cli::{AuditArgs, CheckpointArgs};

pub(super) fn run(audit: &AuditArgs, args: &CheckpointArgs) -> anyhow::Result<ExitCode> {
    let policy = super::policy()?;
    let log = super::log_path(audit, &policy);
    let key_path = args.key.clone().unwrap_or(policy.audit.key_path);
    let key = AuditSigningKey::load(&key_path).with_context(|| {
        format!(
            "cannot sign a checkpoint of {} (create a key pair with `attesta init`, or pass --key)",
            log.display()
        )
    })?;
    let checkpoint = checkpoint_log(&log, &key, None, chrono::Local::now().fixed_offset())?;
    let sidecar = checkpoints_path(&log);
    let mut out = io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(&checkpoint)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("log".into(), log.display().to_string().into());
            map.insert(
                "checkpoints_file".into(),
                sidecar.display().to_string().into(),
            );
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(out, "Checkpoint appended to {}", sidecar.display())?;
        writeln!(out, "  log     : {}", log.display())?;
        writeln!(out, "  entries : {}", checkpoint.entries)?;
        writeln!(out, "  head    : {}", checkpoint.head_hash)?;
        writeln!(out, "  time    : {}", checkpoint.time)?;
        writeln!(out, "  key id  : {}", checkpoint.key_id)?;
    }
    Ok(ExitCode::SUCCESS)
}
