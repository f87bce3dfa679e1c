//! `attesta audit verify`: check the hash chain and say where it breaks.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use attesta::audit::verify::{
    BrokenEntry, VerifyOptions, VerifyReport, verify_file, verify_reader,
};
use attesta::audit::{
    AuditPublicKey, CheckpointReport, checkpoints_path, read_log_head, verify_checkpoints,
};
use serde::Serialize;

use super::progress::ProgressBar;
use crate::cli::VerifyArgs;

/// Exit code for a log that verified but has broken entries.
const EXIT_BROKEN: u8 = 1;

pub(super) fn run(log: &Path, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.database {
        return run_database(url, args);
    }
    let size = std::fs::metadata(log).map_or(0, |m| m.len());
    let bar = ProgressBar::for_file(size).map(Arc::new);
    let mut options = VerifyOptions {
        anchored: args.anchored,
        ..VerifyOptions::default()
    };
    if let Some(bar) = &bar {
        let bar = Arc::clone(bar);
        options.progress = Some(Arc::new(move |done, total| bar.update(done, total)));
    }
    let result = verify_file(log, &options);
    if let Some(bar) = &bar {
        bar.finish();
    }
    let report = result?;
    let checkpoints = check_checkpoints(log, args)?;
    report_and_exit(&log.display().to_string(), &report, &checkpoints, args)
}

/// `attesta audit verify --database postgres://…`: the approval server's
/// chained `audit_log` table, read in chain order and checked like a file.
/// The table has no checkpoint sidecar; the chain alone vouches for it.
fn run_database(url: &str, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let options = VerifyOptions {
        anchored: args.anchored,
        ..VerifyOptions::default()
    };
    let table = super::database::TableReader::open(url, args.database_ca.as_deref())?;
    let name = super::database::NAME;
    let report = verify_reader(table, &options).with_context(|| format!("cannot read {name}"))?;
    let checkpoints = Checkpoints::None { expected: false };
    report_and_exit(name, &report, &checkpoints, args)
}

/// Prints the report (text or `--json`) and picks the exit code.
fn report_and_exit(
    source: &str,
    report: &VerifyReport,
    checkpoints: &Checkpoints,
    args: &VerifyArgs,
) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(JsonReport::new(source, report))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("checkpoints".into(), serde_json::to_value(checkpoints)?);
        }
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, source, report)?;
        write_checkpoints(&mut out, report, checkpoints)?;
    }
    Ok(if report.intact() && checkpoints.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BROKEN)
    })
}

/// What the signed checkpoints say about the log.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Checkpoints {
    /// No sidecar file: the chain alone vouches for the log.
    None {
        /// Whether the policy expected some (`audit.checkpoint_every`).
        expected: bool,
    },
    /// Checked with the public key.
    Checked(CheckpointReport),
}

impl Checkpoints {
    fn ok(&self) -> bool {
        match self {
            Self::None { expected } => !expected,
            Self::Checked(report) => report.is_ok(),
        }
    }
}

/// Verifies `<log>.checkpoints` with the public key, if there are any.
fn check_checkpoints(log: &Path, args: &VerifyArgs) -> anyhow::Result<Checkpoints> {
    let policy = super::policy()?;
    let sidecar = checkpoints_path(log);
    if !sidecar.exists() {
        // A policy that signs every N entries and a log of N or more with
        // no checkpoints at all means the checkpoints were removed.
        let expected = policy
            .audit
            .checkpoint_every
            .is_some_and(|every| read_log_head(log).is_ok_and(|head| head.entries >= every));
        return Ok(Checkpoints::None { expected });
    }
    let key_path = args
        .public_key
        .clone()
        .unwrap_or(policy.audit.public_key_path);
    let key = AuditPublicKey::load(&key_path).with_context(|| {
        format!(
            "{} holds signed checkpoints, but the public key to check them cannot be read; \
             pass --public-key PATH",
            sidecar.display()
        )
    })?;
    Ok(Checkpoints::Checked(verify_checkpoints(log, &key)?))
}

fn write_checkpoints(
    out: &mut impl Write,
    report: &VerifyReport,
    checkpoints: &Checkpoints,
) -> io::Result<()> {
    match checkpoints {
        Checkpoints::None { expected: true } => writeln!(
            out,
            "CHECKPOINTS MISSING: the policy signs a checkpoint every audit.checkpoint_every \
             entries, but {} entries have none; they may have been deleted",
            report.entries
        ),
        Checkpoints::None { expected: false } => writeln!(
            out,
            "no signed checkpoints: a deleted tail or a rewritten history would not be \
             detected (run `attesta audit checkpoint`)"
        ),
        Checkpoints::Checked(c) if c.is_ok() => {
            writeln!(
                out,
                "checkpoints: {} signed, all verified; entries 1..{} are vouched for",
                c.verified, c.covered_entries
            )?;
            let after = c.log_entries.saturating_sub(c.covered_entries);
            if after > 0 {
                writeln!(
                    out,
                    "  {after} entries after the last checkpoint are protected by the chain only"
                )?;
            }
            Ok(())
        }
        Checkpoints::Checked(c) => {
            writeln!(
                out,
                "CHECKPOINTS FAILED: {} problem(s) in {}",
                c.issues.len(),
                c.checkpoints_file.display()
            )?;
            for issue in &c.issues {
                writeln!(
                    out,
                    "  checkpoint {} (line {}): {}",
                    issue.index, issue.line, issue.problem
                )?;
            }
            Ok(())
        }
    }
}

fn describe(entry: &BrokenEntry) -> String {
    let id = entry
        .entry_id
        .as_deref()
        .map(|id| format!(", id {id}"))
        .unwrap_or_default();
    format!(
        "line {} (entry {}{id}): {}",
        entry.line + 1,
        entry.entry_number,
        entry.reason
    )
}

fn write_text(out: &mut impl Write, log: &str, report: &VerifyReport) -> io::Result<()> {
    let segment = report
        .anchor
        .as_deref()
        .map(|a| format!(" (segment anchored at {a}; entries before it were not checked)"))
        .unwrap_or_default();
    if let Some(first) = report.first_broken() {
        writeln!(
            out,
            "BROKEN: {} of {} entries in {} failed verification{segment}",
            report.broken.len(),
            report.entries,
            log
        )?;
        writeln!(out, "first break: {}", describe(first))?;
        writeln!(out, "all breaks (line numbers count from 1):")?;
        for entry in &report.broken {
            writeln!(out, "  {}", describe(entry))?;
        }
        writeln!(
            out,
            "An entry is flagged when its contents, or its link to the entry before, no longer match the hashes written with it. Later breaks are often consequences of the first."
        )
    } else {
        writeln!(
            out,
            "intact: {} entries in {}{segment}",
            report.entries, log
        )?;
        writeln!(out, "head hash: {}", report.head_hash)
    }
}

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    log: String,
    intact: bool,
    entries: u64,
    head_hash: &'a str,
    anchored: bool,
    anchor: Option<&'a str>,
    broken: Vec<JsonBroken<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonBroken<'a> {
    /// 0-based physical line index, as the reference reports it.
    line_index: u64,
    /// 1-based line number, as an editor shows it.
    line_number: u64,
    entry_number: u64,
    entry_id: Option<&'a str>,
    reason: &'a attesta::audit::verify::BreakReason,
    message: String,
}

impl<'a> JsonReport<'a> {
    fn new(log: &str, report: &'a VerifyReport) -> Self {
        JsonReport {
            log: log.to_owned(),
            intact: report.intact(),
            entries: report.entries,
            head_hash: &report.head_hash,
            anchored: report.anchor.is_some(),
            anchor: report.anchor.as_deref(),
            broken: report
                .broken
                .iter()
                .map(|b| JsonBroken {
                    line_index: b.line,
                    line_number: b.line + 1,
                    entry_number: b.entry_number,
                    entry_id: b.entry_id.as_deref(),
                    reason: &b.reason,
                    message: b.reason.to_string(),
                })
                .collect(),
        }
    }
}
