//! Exporting audit entries to CSV, JSON or JSON Lines, streaming, and
//! writing an export file without ever harming the log.
//!
//! # Formats
//!
//! All three use the 20 fields in the reference's declaration order
//! ([`COLUMNS`]).
//!
//! - **CSV** (RFC 4180): a header row, `\r\n` line ends, a field quoted
//!   (with `"` doubled) only when it holds `,`, `"`, CR or LF. Floats in
//!   Python `repr` form as in the log (`0.45`, `1e-07`, `NaN`), booleans
//!   `true`/`false`, `challenge_passed: null` as an empty cell,
//!   `approver_ids` joined with `;`, `metadata` as compact JSON. Cells are
//!   not neutralised against spreadsheet formulas.
//! - **JSON**: one array of objects, pretty-printed with two spaces, `[]`
//!   when empty.
//! - **JSONL**: one compact object per line.
//!
//! JSON has no spelling for NaN or infinities: they are written as `null`.
//! Every format is written entry by entry, in constant memory.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::canonical::write_f64;
use super::query::{Filter, LogError, LogScan, StoredEntry, UnreadableSummary};

/// Column names, in the reference's field declaration order (§1.1).
pub const COLUMNS: [&str; 20] = [
    "entry_id",
    "chain_hash",
    "previous_hash",
    "action_name",
    "action_description",
    "agent_id",
    "risk_score",
    "risk_level",
    "challenge_type",
    "challenge_passed",
    "approver_ids",
    "verdict",
    "review_duration_seconds",
    "min_review_met",
    "intercepted_at",
    "decided_at",
    "executed_at",
    "session_id",
    "environment",
    "metadata",
];

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A pretty-printed JSON array.
    Json,
    /// JSON Lines: one object per line.
    Jsonl,
}

impl ExportFormat {
    /// The format's name as used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Jsonl => "jsonl",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "jsonl" | "ndjson" => Ok(Self::Jsonl),
            _ => Err(format!(
                "'{s}' is not an export format: use csv, json or jsonl"
            )),
        }
    }
}

/// Writes entries in one format, one at a time.
///
/// ```
/// use attesta::audit::{ExportFormat, ExportWriter, StoredEntry};
/// let mut w = ExportWriter::new(ExportFormat::Jsonl, Vec::new()).unwrap();
/// w.write(&StoredEntry::from_line(br#"{"verdict":"approved"}"#).unwrap()).unwrap();
/// let (bytes, count) = w.finish().unwrap();
/// assert_eq!(count, 1);
/// assert!(String::from_utf8(bytes).unwrap().starts_with("{\"entry_id\":\"\""));
/// ```
#[derive(Debug)]
pub struct ExportWriter<W: Write> {
    /// The format being written.
    format: ExportFormat,
    /// Destination.
    out: W,
    /// Entries written so far (also: whether a JSON separator is due).
    count: usize,
    /// Reused cell buffer for CSV.
    cell: String,
}

impl<W: Write> ExportWriter<W> {
    /// Starts an export (writes the CSV header; JSON waits for the first
    /// entry so that an empty export is `[]`).
    pub fn new(format: ExportFormat, mut out: W) -> io::Result<Self> {
        if format == ExportFormat::Csv {
            out.write_all(COLUMNS.join(",").as_bytes())?;
            out.write_all(b"\r\n")?;
        }
        Ok(Self {
            format,
            out,
            count: 0,
            cell: String::new(),
        })
    }

    /// Writes one entry.
    pub fn write(&mut self, entry: &StoredEntry) -> io::Result<()> {
        match self.format {
            ExportFormat::Csv => self.write_csv_row(entry)?,
            ExportFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, entry)?;
                self.out.write_all(b"\n")?;
            }
            ExportFormat::Json => {
                self.out
                    .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
                let text = serde_json::to_string_pretty(entry)?;
                // JSON strings never hold a raw newline, so splitting on
                // newlines only splits between tokens.
                for (i, line) in text.split('\n').enumerate() {
                    if i > 0 {
                        self.out.write_all(b"\n")?;
                    }
                    self.out.write_all(b"  ")?;
                    self.out.write_all(line.as_bytes())?;
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Ends the export (closes the JSON array), flushes, and returns the
    /// writer and the number of entries written.
    pub fn finish(mut self) -> io::Result<(W, usize)> {
        if self.format == ExportFormat::Json {
            self.out
                .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        Ok((self.out, self.count))
    }

    fn write_csv_row(&mut self, e: &StoredEntry) -> io::Result<()> {
        let floats = |x: f64| {
            let mut s = String::new();
            write_f64(&mut s, x);
            s
        };
        let bool_cell = |b: bool| if b { "true" } else { "false" }.to_owned();
        let metadata = serde_json::to_string(&e.metadata)?;
        let cells: [std::borrow::Cow<'_, str>; 20] = [
            e.entry_id.as_str().into(),
            e.chain_hash.as_str().into(),
            e.previous_hash.as_str().into(),
            e.action_name.as_str().into(),
            e.action_description.as_str().into(),
            e.agent_id.as_str().into(),
            floats(e.risk_score).into(),
            e.risk_level.as_str().into(),
            e.challenge_type.as_str().into(),
            e.challenge_passed.map(bool_cell).unwrap_or_default().into(),
            e.approver_ids.join(";").into(),
            e.verdict.as_str().into(),
            floats(e.review_duration_seconds).into(),
            bool_cell(e.min_review_met).into(),
            e.intercepted_at.as_str().into(),
            e.decided_at.as_str().into(),
            e.executed_at.as_str().into(),
            e.session_id.as_str().into(),
            e.environment.as_str().into(),
            metadata.into(),
        ];
        self.cell.clear();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.cell.push(',');
            }
            push_csv_field(&mut self.cell, cell);
        }
        self.cell.push_str("\r\n");
        self.out.write_all(self.cell.as_bytes())
    }
}

/// Appends `field` to `out`, quoted per RFC 4180 when it needs to be.
fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The destination is the log itself (same path, a symlink to it, or a
    /// hard link to it); refused even when overwriting is allowed.
    #[error(
        "refusing to export onto the audit log itself ({} is the log {}); choose another output file",
        dest.display(),
        log.display()
    )]
    IsTheLog {
        /// The requested destination.
        dest: PathBuf,
        /// The log.
        log: PathBuf,
    },
    /// The destination exists and overwriting was not allowed.
    #[error("{} already exists: pass --force to overwrite it, or choose another file", .0.display())]
    Exists(PathBuf),
    /// Writing the export failed; nothing was left at the destination.
    #[error("could not write export {}: {cause}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The cause (shown in the message, not chained, so it prints once).
        cause: io::Error,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entries written.
    pub entries: usize,
    /// Lines of the log that could not be read (and were not exported).
    pub unreadable: UnreadableSummary,
}

/// Whether `a` and `b` name the same file: same canonical path, or (on
/// Unix) the same device and inode, which also catches hard links.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ca), Ok(cb)) = (fs::canonicalize(a), fs::canonicalize(b))
        && ca == cb
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

/// Checks that `dest` may receive an export of `log`: it must not be the
/// log (in any disguise), and must not exist unless `overwrite`.
pub fn check_destination(log: &Path, dest: &Path, overwrite: bool) -> Result<(), ExportError> {
    if same_file(log, dest) {
        return Err(ExportError::IsTheLog {
            dest: dest.to_owned(),
            log: log.to_owned(),
        });
    }
    // symlink_metadata: a dangling symlink also "exists".
    if !overwrite && fs::symlink_metadata(dest).is_ok() {
        return Err(ExportError::Exists(dest.to_owned()));
    }
    Ok(())
}

/// Exports the entries of `log` that pass `filter` to `out`.
/// `progress(bytes_read, log_size)` is called now and then.
pub fn export_to_writer<W: Write>(
    log: &Path,
    filter: Filter,
    format: ExportFormat,
    out: W,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(W, ExportSummary), ExportError> {
    let write_err = |source| ExportError::Write {
        path: PathBuf::from("-"),
        cause: source,
    };
    let mut scan = LogScan::open(log, filter)?;
    let mut writer = ExportWriter::new(format, out).map_err(write_err)?;
    let mut n = 0usize;
    while let Some(entry) = scan.next() {
        writer.write(&entry?).map_err(write_err)?;
        n += 1;
        if n.is_multiple_of(4096) {
            let (done, total) = scan.progress();
            progress(done, total);
        }
    }
    let (out, entries) = writer.finish().map_err(write_err)?;
    let (done, total) = scan.progress();
    progress(done, total);
    Ok((
        out,
        ExportSummary {
            entries,
            unreadable: scan.unreadable().clone(),
        },
    ))
}

/// Exports the entries of `log` that pass `filter` into the file `dest`.
///
/// Refuses `dest` if it is the log ([`ExportError::IsTheLog`]) or exists
/// without `overwrite` ([`ExportError::Exists`]), before reading anything.
/// The export is written to a temporary file beside `dest` (mode 0600 on
/// Unix: audit data is sensitive), synced, and then moved into place, so a
/// failed export leaves no partial file. Without `overwrite` the final step
/// is a hard link, which fails rather than replace a file created in the
/// meantime. If `dest` is a symlink and `overwrite` is set, the link itself
/// is replaced, not the file it points to.
pub fn export_to_file(
    log: &Path,
    filter: Filter,
    format: ExportFormat,
    dest: &Path,
    overwrite: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary, ExportError> {
    check_destination(log, dest, overwrite)?;
    // Open the log before creating anything, so a bad --log leaves no trace.
    drop(LogScan::open(log, Filter::default())?);
    let temp = TempFile::create(dest)?;
    let file = temp.file()?;
    let (writer, summary) = export_to_writer(log, filter, format, BufWriter::new(file), progress)
        .map_err(|e| match e {
        ExportError::Write { cause: source, .. } => ExportError::Write {
            path: dest.to_owned(),
            cause: source,
        },
        other => other,
    })?;
    let write_err = |source| ExportError::Write {
        path: dest.to_owned(),
        cause: source,
    };
    let file = writer.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    temp.persist(dest, overwrite, log)?;
    Ok(summary)
}

/// A temporary file beside the destination, removed unless persisted.
#[derive(Debug)]
struct TempFile {
    /// Its path.
    path: PathBuf,
    /// Cleared once the file has been moved into place.
    armed: bool,
}

impl TempFile {
    fn create(dest: &Path) -> Result<Self, ExportError> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
        let path = dir.join(format!(
            ".{name}.{}.attesta-export.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        options.open(&path).map_err(|source| ExportError::Write {
            path: dest.to_owned(),
            cause: source,
        })?;
        Ok(Self { path, armed: true })
    }

    fn file(&self) -> Result<File, ExportError> {
        OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|source| ExportError::Write {
                path: self.path.clone(),
                cause: source,
            })
    }

    fn persist(mut self, dest: &Path, overwrite: bool, log: &Path) -> Result<(), ExportError> {
        // Re-check: the destination may have changed while we exported.
        check_destination(log, dest, overwrite)?;
        let result = if overwrite {
            fs::rename(&self.path, dest)
        } else {
            match fs::hard_link(&self.path, dest) {
                Ok(()) => fs::remove_file(&self.path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(ExportError::Exists(dest.to_owned()));
                }
                // A file system without hard links: the check above has to do.
                Err(_) => fs::rename(&self.path, dest),
            }
        };
        result.map_err(|source| ExportError::Write {
            path: dest.to_owned(),
            cause: source,
        })?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut s = String::new();
        push_csv_field(&mut s, "plain");
        s.push('|');
        push_csv_field(&mut s, "a,b");
        s.push('|');
        push_csv_field(&mut s, "say \"hi\"");
        s.push('|');
        push_csv_field(&mut s, "two\nlines");
        assert_eq!(s, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
    }

    #[test]
    fn empty_json_export_is_an_empty_array() {
        let w = ExportWriter::new(ExportFormat::Json, Vec::new()).unwrap();
        assert_eq!(w.finish().unwrap().0, b"[]\n");
    }

    #[test]
    fn format_names() {
        assert_eq!("CSV".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
        assert_eq!("jsonl".parse::<ExportFormat>(), Ok(ExportFormat::Jsonl));
        assert!("xml".parse::<ExportFormat>().is_err());
    }
}
