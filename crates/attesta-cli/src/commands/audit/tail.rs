//! `attesta audit tail`: the last entries, and with `--follow` new ones as
//! they are appended.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use attesta::audit::{Filter, StoredEntry, UnreadableLine};

use super::{display_time, filter_from, open_scan, or_dash, warn_unreadable};
use crate::cli::AuditTailArgs;

/// How often `--follow` looks for new lines.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// A line still without its newline after this many bytes is dropped, so a
/// writer gone wild cannot make `--follow` eat memory.
const MAX_PENDING_LINE: usize = 16 * 1024 * 1024;

pub(super) fn run(log: &Path, args: &AuditTailArgs) -> anyhow::Result<ExitCode> {
    let filter = filter_from(&args.filter)?;
    let mut scan = open_scan(log, filter.clone())?;
    // A ring of the last N matches: constant memory whatever the log size.
    let mut last: VecDeque<StoredEntry> = VecDeque::with_capacity(args.lines.min(4096));
    for entry in &mut scan {
        let entry = entry?;
        if args.lines > 0 {
            if last.len() == args.lines {
                last.pop_front();
            }
            last.push_back(entry);
        }
    }
    warn_unreadable(log, scan.unreadable());
    let mut out = io::stdout().lock();
    for entry in &last {
        write_entry(&mut out, entry, args.json)?;
    }
    out.flush()?;
    if args.follow {
        let limit = match args.follow_for {
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => bail!("--follow-for must be a non-negative number of seconds, got {s}"),
            None => None,
        };
        let (position, _) = scan.progress();
        follow(
            log,
            &filter,
            position,
            scan.lines_read(),
            limit,
            args.json,
            &mut out,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One entry: time, verdict, level, action, agent, approvers, in fixed
/// columns (long values push the rest right rather than being cut).
fn write_entry(out: &mut impl Write, e: &StoredEntry, json: bool) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, e)?;
        return out.write_all(b"\n");
    }
    let approvers = if e.approver_ids.is_empty() {
        "-".to_owned()
    } else {
        e.approver_ids.join(",")
    };
    writeln!(
        out,
        "{}  {:<9}  {:<8}  {:<20}  {:<12}  {approvers}",
        display_time(&e.intercepted_at),
        or_dash(&e.verdict),
        or_dash(&e.risk_level),
        or_dash(&e.action_name),
        or_dash(&e.agent_id),
    )
}

/// Polls the log for appended lines until `limit` (or forever: Ctrl-C ends
/// the process, and everything printed has been flushed).
fn follow(
    log: &Path,
    filter: &Filter,
    mut position: u64,
    mut line_no: usize,
    limit: Option<Duration>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = Vec::new();
    loop {
        if limit.is_some_and(|l| started.elapsed() >= l) {
            return Ok(());
        }
        std::thread::sleep(POLL_INTERVAL);
        let len = match std::fs::metadata(log) {
            Ok(m) => m.len(),
            // Being rotated: try again on the next poll.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("could not read {}", log.display())),
        };
        if len < position {
            eprintln!(
                "attesta: warning: {} shrank (truncated or rotated); following from its start",
                log.display()
            );
            position = 0;
            line_no = 0;
            pending.clear();
        }
        if len == position {
            continue;
        }
        let mut file =
            File::open(log).with_context(|| format!("could not open {}", log.display()))?;
        file.seek(SeekFrom::Start(position))?;
        chunk.clear();
        let read = file.take(len - position).read_to_end(&mut chunk)?;
        position += read as u64;
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(nl) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = &pending[start..start + nl];
            start += nl + 1;
            line_no += 1;
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            match StoredEntry::from_line(line) {
                Ok(mut entry) => {
                    entry.line = line_no;
                    if filter.matches(&entry) {
                        write_entry(out, &entry, json)?;
                    }
                }
                Err(reason) => eprintln!(
                    "attesta: warning: {}: {}",
                    log.display(),
                    UnreadableLine {
                        line: line_no,
                        reason
                    }
                ),
            }
        }
        pending.drain(..start);
        if pending.len() > MAX_PENDING_LINE {
            eprintln!(
                "attesta: warning: {}: skipping a line longer than {MAX_PENDING_LINE} bytes",
                log.display()
            );
            pending.clear();
        }
        out.flush()?;
    }
}
