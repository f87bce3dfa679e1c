//! `attesta audit stats`: summary numbers over the (filtered) log.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use attesta::RiskLevel;
use attesta::audit::{RubberStampRule, Stats, StatsBuilder, UnreadableSummary};
use serde::Serialize;

use super::{filter_from, open_scan, warn_unreadable};
use crate::cli::AuditStatsArgs;

#[derive(Debug, Serialize)]
struct Report<'a> {
    log: String,
    #[serde(flatten)]
    stats: &'a Stats,
    top_agents: Vec<(String, usize)>,
    top_actions: Vec<(String, usize)>,
    unreadable_lines: &'a UnreadableSummary,
}

pub(super) fn run(log: &Path, args: &AuditStatsArgs) -> anyhow::Result<ExitCode> {
    let mut scan = open_scan(log, filter_from(&args.filter)?)?;
    let mut builder = StatsBuilder::new(RubberStampRule::default());
    for entry in &mut scan {
        builder.add(&entry?);
    }
    let stats = builder.finish();
    warn_unreadable(log, scan.unreadable());
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        let report = Report {
            log: log.display().to_string(),
            stats: &stats,
            top_agents: Stats::top(&stats.agents, args.top),
            top_actions: Stats::top(&stats.actions, args.top),
            unreadable_lines: scan.unreadable(),
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_human(&mut out, log, &stats, args.top, scan.unreadable().count)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn seconds(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |s| format!("{s}s"))
}

/// Fixed-width layout: nothing depends on the terminal or the time zone.
fn write_human(
    out: &mut impl Write,
    log: &Path,
    s: &Stats,
    top: usize,
    unreadable: usize,
) -> io::Result<()> {
    writeln!(out, "Audit log        {}", log.display())?;
    writeln!(out, "Entries          {}", s.total)?;
    if unreadable > 0 {
        writeln!(out, "Unreadable lines {unreadable}")?;
    }
    if s.total == 0 {
        writeln!(out, "No audit entries match.")?;
        return Ok(());
    }
    let approved = s.verdict_count("approved");
    writeln!(
        out,
        "Approval rate    {} ({approved} of {})",
        percent(approved, s.total),
        s.total
    )?;

    writeln!(out, "\nVerdicts")?;
    for (verdict, n) in &s.by_verdict {
        writeln!(out, "  {verdict:<14} {n:>6}  {:>6}", percent(*n, s.total))?;
    }

    writeln!(out, "\nRisk levels")?;
    for level in RiskLevel::ALL {
        let n = s.by_level.get(level.as_str()).copied().unwrap_or(0);
        writeln!(out, "  {:<14} {n:>6}", level.as_str())?;
    }
    // Anything else a writer put there is shown, not hidden.
    for (level, n) in &s.by_level {
        if level.parse::<RiskLevel>().is_err() {
            writeln!(out, "  {level:<14} {n:>6}")?;
        }
    }

    writeln!(out, "\nRisk scores")?;
    let widest = s.risk_histogram.iter().copied().max().unwrap_or(0).max(1);
    for (i, n) in s.risk_histogram.iter().enumerate() {
        let bar = "#".repeat(n * 30 / widest);
        let upper = if i == 9 { ']' } else { ')' };
        let row = format!(
            "  [{:.1}, {:.1}{upper}   {n:>6}  {bar}",
            i as f64 / 10.0,
            (i + 1) as f64 / 10.0
        );
        writeln!(out, "{}", row.trim_end())?;
    }
    if s.risk_out_of_range > 0 {
        writeln!(out, "  out of range   {:>6}", s.risk_out_of_range)?;
    }

    writeln!(out, "\nChallenges")?;
    for (challenge, n) in &s.by_challenge {
        writeln!(out, "  {challenge:<14} {n:>6}")?;
    }

    writeln!(out, "\nReview")?;
    writeln!(out, "  reviewed       {:>6}", s.review.reviewed)?;
    writeln!(out, "  median         {}", seconds(s.review.median_seconds))?;
    writeln!(out, "  p90            {}", seconds(s.review.p90_seconds))?;
    writeln!(
        out,
        "  minimum unmet  {:>6}  {:>6}",
        s.review.min_review_not_met,
        percent(s.review.min_review_not_met, s.total)
    )?;
    let rule = RubberStampRule::default();
    writeln!(
        out,
        "  rubber stamps  {:>6}  {:>6} of approvals (under {}s at {} risk or above)",
        s.rubber_stamps,
        percent(s.rubber_stamps, approved),
        rule.max_seconds,
        rule.min_risk
    )?;

    for (title, counts) in [("Top agents", &s.agents), ("Top actions", &s.actions)] {
        writeln!(out, "\n{title}")?;
        for (name, n) in Stats::top(counts, top) {
            writeln!(out, "  {n:>6}  {name}")?;
        }
    }
    Ok(())
}
