//! Verification of a v1 audit log file: the reference's `verify_chain`
//! semantics, streamed, on every core, with reasons instead of crashes.
//!
//! The rules (spec §1.4), in short: lines end at `\n`, `\r\n` or a lone
//! `\r`; each is stripped of Unicode whitespace and blank lines are skipped
//! (but still counted for line numbers). Every other line is an entry. Its
//! expected hash is `sha256(P ‖ C(E))`, where `C(E)` is the canonical JSON of
//! the 19 v1 fields other than `chain_hash` (unknown keys dropped, missing
//! keys defaulted) and `P` is the running hash: genesis at the start, then
//! the *stored* `chain_hash` of the last entry, whether or not that entry
//! verified, so one edit flags one entry instead of the rest of the file. A
//! line that cannot be read leaves `P` unchanged.
//!
//! Where the reference crashes (a line that is JSON but not an object,
//! invalid UTF-8, a `chain_hash` that is not a string) this module reports
//! the line as broken, leaves `P` unchanged and carries on.
//!
//! ```
//! use attesta::audit::verify::{VerifyOptions, verify_reader};
//! let log = "";
//! let report = verify_reader(log.as_bytes(), &VerifyOptions::default()).unwrap();
//! assert!(report.intact());
//! assert_eq!(report.entries, 0);
//! ```

mod entry;
mod report;
mod scan;

use std::fs::File;
use std::io::{self, Read};
use std::num::NonZeroUsize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use entry::{EntryCheck, LineCheck, check_line, hash_hex, parse_entry, strip_py};
pub use report::{BreakReason, BrokenEntry, VerifyReport};

use super::GENESIS_HASH;

/// Bytes read and verified per batch; big enough that thread start-up is
/// noise, small enough that memory stays flat.
const CHUNK_BYTES: usize = 4 << 20;

/// A progress callback: `(bytes_done, bytes_total)`; `bytes_total` is 0 when
/// the size is unknown (a reader rather than a file).
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// How to verify.
#[derive(Clone, Default)]
pub struct VerifyOptions {
    /// Verify a segment (e.g. a rotated-away or truncated-by-rotation file):
    /// start from the first entry's `previous_hash` instead of genesis. The
    /// report records the anchor, because an anchored segment proves less:
    /// anything before the anchor is not checked.
    pub anchored: bool,
    /// Worker threads; `None` uses every available core.
    pub threads: Option<NonZeroUsize>,
    /// Called after each batch with bytes verified so far.
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("anchored", &self.anchored)
            .field("threads", &self.threads)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Why a log could not be verified at all (as opposed to being broken).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The file does not exist.
    #[error(
        "audit log not found: {path} (a log is created by the first gated action that writes an audit entry; check the path)"
    )]
    NotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The file exists but could not be read (a directory, no permission, an
    /// I/O error).
    #[error("could not read the audit log {path}: {source}")]
    Read {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Verifies the log at `path`.
pub fn verify_file(path: &Path, options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let read_error = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            VerifyError::NotFound {
                path: path.to_owned(),
            }
        } else {
            VerifyError::Read {
                path: path.to_owned(),
                source,
            }
        }
    };
    let file = File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if meta.is_dir() {
        return Err(VerifyError::Read {
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "it is a directory"),
        });
    }
    verify_stream(file, meta.len(), options).map_err(read_error)
}

/// Verifies a log read from `reader` (progress totals are reported as 0).
pub fn verify_reader<R: Read>(reader: R, options: &VerifyOptions) -> io::Result<VerifyReport> {
    verify_stream(reader, 0, options)
}

/// The running state of the sequential link check.
#[derive(Debug)]
struct Chain {
    /// `P`; `None` only while an anchored run has not seen its first entry.
    running: Option<Vec<u8>>,
    anchor: Option<Vec<u8>>,
    entries: u64,
    broken: Vec<BrokenEntry>,
}

fn verify_stream<R: Read>(
    mut reader: R,
    total: u64,
    options: &VerifyOptions,
) -> io::Result<VerifyReport> {
    let threads = options
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get)
        .min(16);
    let mut chain = Chain {
        running: (!options.anchored).then(|| GENESIS_HASH.as_bytes().to_vec()),
        anchor: None,
        entries: 0,
        broken: Vec::new(),
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut want = CHUNK_BYTES;
    let mut done: u64 = 0;
    let mut line_base: u64 = 0;
    let mut eof = false;
    let mut filled = 0;
    while !eof || filled > 0 {
        // `buf` only grows, so it is zero-filled once, not per batch.
        if buf.len() < want {
            buf.resize(want, 0);
        }
        while !eof && filled < want {
            match reader.read(&mut buf[filled..want]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let Some(cut) = batch_end(&buf[..filled], eof) else {
            // One line longer than the buffer: read more before splitting.
            want *= 2;
            continue;
        };
        want = CHUNK_BYTES;
        let batch = &buf[..cut];
        let parts = split_parts(batch, threads);
        let results: Vec<PartResult> = if parts.len() == 1 {
            vec![check_part(batch, 0..cut)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = parts[1..]
                    .iter()
                    .map(|range| {
                        let range = range.clone();
                        scope.spawn(move || check_part(batch, range))
                    })
                    .collect();
                let mut results = vec![check_part(batch, parts[0].clone())];
                for handle in handles {
                    // A worker only panics on a bug; re-raise it here.
                    results.push(
                        handle
                            .join()
                            .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                    );
                }
                results
            })
        };
        for part in results {
            for line in part.lines {
                chain.link(batch, line_base, line);
            }
            line_base += part.physical_lines;
        }
        done += cut as u64;
        buf.copy_within(cut..filled, 0);
        filled -= cut;
        if let Some(progress) = &options.progress {
            progress(done, total);
        }
    }
    let head = chain
        .running
        .unwrap_or_else(|| GENESIS_HASH.as_bytes().to_vec());
    Ok(VerifyReport {
        entries: chain.entries,
        broken: chain.broken,
        head_hash: String::from_utf8_lossy(&head).into_owned(),
        anchor: chain
            .anchor
            .map(|a| String::from_utf8_lossy(&a).into_owned()),
    })
}

/// Where the batch in `buf` ends: after its last line terminator, or at the
/// end of the data at EOF. `None` if no complete line is in the buffer yet.
fn batch_end(buf: &[u8], eof: bool) -> Option<usize> {
    if eof {
        return Some(buf.len());
    }
    if let Some(i) = memchr::memrchr(b'\n', buf) {
        return Some(i + 1);
    }
    // Old Mac line ends: a `\r` counts once we know no `\n` follows it.
    match memchr::memrchr(b'\r', buf) {
        Some(i) if i + 1 < buf.len() => Some(i + 1),
        _ => None,
    }
}

/// Splits `batch` into up to `n` ranges that each end after a `\n`.
fn split_parts(batch: &[u8], n: usize) -> Vec<Range<usize>> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for i in 1..n {
        let target = (batch.len() * i / n).max(start);
        let Some(off) = memchr::memchr(b'\n', &batch[target..]) else {
            break;
        };
        let end = target + off + 1;
        if end >= batch.len() {
            break;
        }
        parts.push(start..end);
        start = end;
    }
    parts.push(start..batch.len());
    parts
}

/// One checked non-blank line, in file order.
#[derive(Debug)]
struct CheckedLine {
    /// Physical line index within its part.
    index: u64,
    /// The line's bytes (terminator removed) within the batch.
    range: Range<usize>,
    check: LineCheck,
}

#[derive(Debug)]
struct PartResult {
    lines: Vec<CheckedLine>,
    physical_lines: u64,
}

/// Splits a part into physical lines (universal newlines) and checks each.
fn check_part(batch: &[u8], range: Range<usize>) -> PartResult {
    let part = &batch[range.clone()];
    let mut lines = Vec::with_capacity(part.len() / 512 + 1);
    let mut pos = 0;
    let mut index = 0;
    while pos < part.len() {
        let (end, next) = match memchr::memchr2(b'\n', b'\r', &part[pos..]) {
            Some(i) => {
                let end = pos + i;
                if part[end] == b'\r' && part.get(end + 1) == Some(&b'\n') {
                    (end, end + 2)
                } else {
                    (end, end + 1)
                }
            }
            None => (part.len(), part.len()),
        };
        if let Some(check) = check_line(&part[pos..end]) {
            lines.push(CheckedLine {
                index,
                range: range.start + pos..range.start + end,
                check,
            });
        }
        index += 1;
        pos = next;
    }
    PartResult {
        lines,
        physical_lines: index,
    }
}

impl Chain {
    /// The sequential step: compares one line with the running hash.
    fn link(&mut self, batch: &[u8], line_base: u64, line: CheckedLine) {
        self.entries += 1;
        let raw = &batch[line.range];
        let reason = match line.check {
            // An unreadable line leaves the running hash where it was.
            LineCheck::Unusable(reason) => Some(reason),
            LineCheck::Entry(entry) => {
                let running = if let Some(p) = self.running.take() {
                    p
                } else {
                    // Anchored: the first entry says where the segment starts.
                    let anchor = entry
                        .previous
                        .clone()
                        .unwrap_or_else(|| GENESIS_HASH.as_bytes().to_vec());
                    self.anchor = Some(anchor.clone());
                    anchor
                };
                let reason = judge(&entry, &running, raw);
                // P := the stored hash, whether or not this entry verified.
                self.running = Some(entry.stored.unwrap_or_default());
                reason
            }
        };
        if let Some(reason) = reason {
            self.broken.push(BrokenEntry {
                line: line_base + line.index,
                entry_number: self.entries,
                entry_id: entry_id_of(raw),
                reason,
            });
        }
    }
}

/// Why `entry` does not verify against the running hash, if it does not.
fn judge(entry: &EntryCheck, running: &[u8], raw: &[u8]) -> Option<BreakReason> {
    let Some(stored) = &entry.stored else {
        return Some(BreakReason::MissingChainHash);
    };
    if entry.missing_entry_id {
        return Some(BreakReason::MissingEntryId);
    }
    let verified = if entry.previous.as_deref() == Some(running) {
        entry.self_consistent
    } else {
        // The entry claims another predecessor; the reference still hashes
        // with P, so do exactly that (rare: only broken lines get here).
        recompute_matches(raw, running, stored)
    };
    if verified {
        return None;
    }
    Some(match &entry.previous {
        Some(found) if found.as_slice() == running => BreakReason::HashMismatch,
        found => BreakReason::BrokenLink {
            expected: String::from_utf8_lossy(running).into_owned(),
            found: found
                .as_deref()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .unwrap_or_default(),
        },
    })
}

/// Whether `sha256(running ‖ C(E))` equals the stored hash of `raw`.
fn recompute_matches(raw: &[u8], running: &[u8], stored: &[u8]) -> bool {
    let Some(parsed) = std::str::from_utf8(raw)
        .ok()
        .and_then(|text| parse_entry(strip_py(text)).ok())
    else {
        return false;
    };
    hash_hex(&[running, parsed.canonical.as_bytes()]).as_slice() == stored
}

/// The entry id of a broken line, for the report (re-parsed: rare path).
fn entry_id_of(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    parse_entry(strip_py(text)).ok()?.entry_id
}

#[cfg(test)]
mod tests;
