//! `attesta audit rubber-stamps`: approvals of risky actions that were
//! waved through; `--fail-on-found` makes it a CI check.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use attesta::audit::{Filter, RubberStampRule, StoredEntry, UnreadableSummary};
use serde::Serialize;

use super::{EXIT_CHECK_FAILED, display_time, open_scan, or_dash, warn_unreadable};
use crate::cli::AuditRubberStampsArgs;

#[derive(Debug, Serialize)]
struct Report<'a> {
    log: String,
    rule: &'a RubberStampRule,
    count: usize,
    entries: &'a [StoredEntryWithLine<'a>],
    unreadable_lines: &'a UnreadableSummary,
}

#[derive(Debug, Serialize)]
struct StoredEntryWithLine<'a> {
    line: usize,
    #[serde(flatten)]
    entry: &'a StoredEntry,
}

pub(super) fn run(log: &Path, args: &AuditRubberStampsArgs) -> anyhow::Result<ExitCode> {
    if !args.max_seconds.is_finite() || args.max_seconds < 0.0 {
        bail!(
            "--max-seconds must be a non-negative number of seconds, got {}",
            args.max_seconds
        );
    }
    let rule = RubberStampRule {
        max_seconds: args.max_seconds,
        min_risk: args.min_risk,
    };
    let mut scan = open_scan(log, Filter::default())?;
    let mut found = Vec::new();
    for entry in &mut scan {
        let entry = entry?;
        if rule.matches(&entry) {
            found.push(entry);
        }
    }
    warn_unreadable(log, scan.unreadable());
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        let entries: Vec<StoredEntryWithLine<'_>> = found
            .iter()
            .map(|entry| StoredEntryWithLine {
                line: entry.line,
                entry,
            })
            .collect();
        let report = Report {
            log: log.display().to_string(),
            rule: &rule,
            count: found.len(),
            entries: &entries,
            unreadable_lines: scan.unreadable(),
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_human(&mut out, &rule, &found)?;
    }
    out.flush()?;
    Ok(if args.fail_on_found && !found.is_empty() {
        ExitCode::from(EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_human(
    out: &mut impl Write,
    rule: &RubberStampRule,
    found: &[StoredEntry],
) -> io::Result<()> {
    let criteria = format!(
        "approved at {} risk or above after under {}s of review, or without the minimum review",
        rule.min_risk, rule.max_seconds
    );
    if found.is_empty() {
        return writeln!(out, "No rubber stamps found ({criteria}).");
    }
    let noun = if found.len() == 1 {
        "rubber stamp"
    } else {
        "rubber stamps"
    };
    writeln!(out, "{} {noun} ({criteria}):", found.len())?;
    for e in found {
        let id: String = e.entry_id.chars().take(12).collect();
        let minimum = if e.min_review_met {
            ""
        } else {
            ", minimum review not met"
        };
        writeln!(
            out,
            "\n  line {}  {}  {}  [{}]  {}s review{minimum}",
            e.line,
            display_time(&e.intercepted_at),
            if e.action_name.is_empty() {
                "(unnamed)"
            } else {
                &e.action_name
            },
            e.risk_level,
            e.review_duration_seconds
        )?;
        writeln!(
            out,
            "    agent {}  entry {}",
            or_dash(&e.agent_id),
            or_dash(&id)
        )?;
    }
    Ok(())
}
