//! `attesta audit export`: entries to CSV, JSON or JSON Lines, on stdout or
//! into a file that is never the log itself.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use attesta::audit::export::{export_to_file, export_to_writer};
use attesta::audit::{ExportError, LogError};
use serde_json::json;

use super::{filter_from, log_error, warn_unreadable};
use crate::cli::AuditExportArgs;

/// Logs smaller than this export too fast to need a progress indicator.
const PROGRESS_MIN_BYTES: u64 = 8 * 1024 * 1024;

pub(super) fn run(log: &Path, args: &AuditExportArgs) -> anyhow::Result<ExitCode> {
    let filter = filter_from(&args.filter)?;
    let mut progress = Progress::new();
    let summary = if let Some(dest) = &args.output {
        export_to_file(log, filter, args.format, dest, args.force, &mut |d, t| {
            progress.update(d, t);
        })
        .map_err(export_error)?
    } else {
        refuse_stdout_onto_log(log)?;
        let out = BufWriter::new(io::stdout().lock());
        let (mut out, summary) = export_to_writer(log, filter, args.format, out, &mut |d, t| {
            progress.update(d, t);
        })
        .map_err(export_error)?;
        out.flush()?;
        summary
    };
    progress.clear();
    warn_unreadable(log, &summary.unreadable);
    if let Some(dest) = &args.output {
        if args.json {
            let report = json!({
                "log": log.display().to_string(),
                "output": dest.display().to_string(),
                "format": args.format.as_str(),
                "entries": summary.entries,
                "unreadable_lines": summary.unreadable,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            eprintln!(
                "Exported {} entries to {} ({})",
                summary.entries,
                dest.display(),
                args.format
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export_error(e: ExportError) -> anyhow::Error {
    match e {
        ExportError::Log(inner @ LogError::NotFound(_)) => log_error(inner),
        ExportError::Write { cause: source, .. } if source.kind() == io::ErrorKind::BrokenPipe => {
            // Let main treat a closed pipe as success.
            source.into()
        }
        other => other.into(),
    }
}

/// `attesta audit export >> .attesta/audit.jsonl` would append the export to
/// the log; refuse when stdout is the log file itself.
fn refuse_stdout_onto_log(log: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        use std::os::unix::fs::MetadataExt as _;
        let stdout = io::stdout();
        let Ok(fd) = stdout.as_fd().try_clone_to_owned() else {
            return Ok(());
        };
        let (Ok(out), Ok(log_meta)) = (std::fs::File::from(fd).metadata(), std::fs::metadata(log))
        else {
            return Ok(());
        };
        if out.is_file() && out.dev() == log_meta.dev() && out.ino() == log_meta.ino() {
            bail!(
                "refusing to export onto the audit log itself: standard output is {}; redirect to another file or use -o FILE",
                log.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = log;
    Ok(())
}

/// A percentage on stderr, only for large logs and only when stderr is a
/// terminal (never in pipes, files or CI logs).
#[derive(Debug)]
struct Progress {
    /// Whether stderr is a terminal.
    enabled: bool,
    /// Whether anything was drawn (and must be erased).
    drawn: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            enabled: io::stderr().is_terminal(),
            drawn: false,
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        if !self.enabled || total < PROGRESS_MIN_BYTES {
            return;
        }
        let pct = done.saturating_mul(100) / total.max(1);
        eprint!("\rexporting… {:>3}%", pct.min(100));
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            self.drawn = false;
        }
    }
}
