//! `attesta audit verify`: check the hash chain and say where it breaks.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use attesta::audit::verify::{BrokenEntry, VerifyOptions, VerifyReport, verify_file};
use serde::Serialize;

use super::progress::ProgressBar;
use crate::cli::VerifyArgs;

/// Exit code for a log that verified but has broken entries.
const EXIT_BROKEN: u8 = 1;

pub(super) fn run(log: &Path, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
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
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &JsonReport::new(log, &report))?;
        writeln!(out)?;
    } else {
        write_text(&mut out, log, &report)?;
    }
    Ok(if report.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BROKEN)
    })
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

fn write_text(out: &mut impl Write, log: &Path, report: &VerifyReport) -> io::Result<()> {
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
            log.display()
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
            report.entries,
            log.display()
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
    fn new(log: &Path, report: &'a VerifyReport) -> Self {
        JsonReport {
            log: log.display().to_string(),
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
