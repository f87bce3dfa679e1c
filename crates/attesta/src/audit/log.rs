//! [`JsonlAuditLog`]: the v1 audit trail in a JSONL file, safe with any
//! number of writers.
//!
//! Every append takes an exclusive lock on the file, reads the tail *under
//! the lock* to learn the current head hash (never trusting a copy kept in
//! memory, which another process may have outdated), writes the whole line
//! with one `write` on an append-mode descriptor, and syncs it to disk
//! according to [`FsyncMode`]. A line is therefore written whole or not at
//! all (a failed write is cut back off), and concurrent writers keep one
//! valid chain.
//!
//! A torn last line (a writer died mid-append) is never silently dropped or
//! chained over: appends fail until an operator runs `attesta audit repair`,
//! which moves the fragment into a quarantine file beside the log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::canonical::{GENESIS_HASH, record_line};
use super::checkpoint::Checkpointer;
use super::{AuditError, AuditRecord, AuditSink};

/// When appended lines are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncMode {
    /// After every record, before the action may run (the default). Costs a
    /// disk flush per decision (milliseconds on most disks).
    #[default]
    Always,
    /// Group commit: after every 32nd record or once a second, whichever
    /// comes first (per log handle). A power loss can lose up to that many
    /// recent records even though their actions ran.
    Batch,
    /// Never explicitly; the OS writes back within seconds. A power loss can
    /// lose the most recent records even though their actions ran.
    Never,
}

/// Records between syncs in [`FsyncMode::Batch`].
const BATCH_RECORDS: u32 = 32;
/// Longest time between syncs in [`FsyncMode::Batch`].
const BATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Unsynced appends since the last sync, for [`FsyncMode::Batch`].
#[derive(Debug)]
struct BatchState {
    pending: u32,
    last_sync: std::time::Instant,
}

impl BatchState {
    /// Counts one append; whether it is time to sync.
    fn due(&mut self) -> bool {
        self.pending += 1;
        self.pending >= BATCH_RECORDS || self.last_sync.elapsed() >= BATCH_INTERVAL
    }

    fn synced(&mut self) {
        self.pending = 0;
        self.last_sync = std::time::Instant::now();
    }
}

/// The state of a log's last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The file is empty or missing: the next entry chains from genesis.
    Empty,
    /// The last line is complete; its `chain_hash`.
    Head(String),
    /// The file ends without a newline: a writer died mid-append.
    Torn {
        /// Byte offset where the fragment starts.
        offset: u64,
        /// Length of the fragment in bytes.
        len: u64,
    },
    /// The last complete line has no readable `chain_hash`.
    Unreadable {
        /// Byte offset of that line.
        offset: u64,
    },
}

/// What `repair` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairOutcome {
    /// The log ended cleanly; nothing was changed.
    NothingToRepair,
    /// The torn fragment was moved to `quarantine` and cut off the log.
    Quarantined {
        /// Where the fragment now is.
        quarantine: PathBuf,
        /// How many bytes were moved.
        bytes: u64,
    },
}

/// An append-only, hash-chained JSONL audit log (format v1).
#[derive(Debug, Clone)]
pub struct JsonlAuditLog {
    path: PathBuf,
    fsync: FsyncMode,
    /// Shared by clones, so a handle cloned into many tasks batches once.
    batch: std::sync::Arc<std::sync::Mutex<BatchState>>,
    /// Signs a checkpoint every N entries, if configured.
    checkpointer: Option<std::sync::Arc<Checkpointer>>,
    /// `(file length, entries)` when this handle last counted, so counting
    /// after an append only reads what other writers added since.
    counted: std::sync::Arc<std::sync::Mutex<Option<(u64, u64)>>>,
}

impl JsonlAuditLog {
    /// A log at `path` (created on first append, mode 0600, parent
    /// directories 0700).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            fsync: FsyncMode::default(),
            batch: std::sync::Arc::new(std::sync::Mutex::new(BatchState {
                pending: 0,
                last_sync: std::time::Instant::now(),
            })),
            checkpointer: None,
            counted: std::sync::Arc::default(),
        }
    }

    /// Signs checkpoints through `checkpointer` as entries are appended
    /// (`audit.checkpoint_every`). A checkpoint that cannot be written fails
    /// the append, so the action does not run.
    #[must_use]
    pub fn with_checkpointer(mut self, checkpointer: Checkpointer) -> Self {
        self.checkpointer = Some(std::sync::Arc::new(checkpointer));
        self
    }

    /// Sets when lines are synced to disk.
    #[must_use]
    pub fn with_fsync(mut self, fsync: FsyncMode) -> Self {
        self.fsync = fsync;
        self
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record`, chained to the current head; returns the line's
    /// chain hash. Blocking: call it off the async runtime.
    pub fn append_blocking(&self, record: &AuditRecord) -> Result<String, AuditError> {
        let file = self.open_for_append()?;
        let _lock = Lock::exclusive(&file, &self.path)?;
        // `&File` reads and writes through the shared reference the lock
        // also holds.
        let mut handle = &file;
        let previous = match read_tail(&file).map_err(|e| self.io_error("read", &e))? {
            Tail::Empty => GENESIS_HASH.to_owned(),
            Tail::Head(hash) => hash,
            Tail::Torn { offset, len } => {
                return Err(AuditError::Write(format!(
                    "{} ends with a torn line ({len} bytes at byte {offset}), left by a writer \
                     that stopped mid-append; run `attesta audit repair --log {}` to move it \
                     aside, then retry",
                    self.path.display(),
                    self.path.display()
                )));
            }
            Tail::Unreadable { offset } => {
                return Err(AuditError::Write(format!(
                    "the last line of {} (at byte {offset}) is not a readable audit entry, so \
                     the chain cannot be continued; run `attesta audit verify --log {}`",
                    self.path.display(),
                    self.path.display()
                )));
            }
        };
        let chained = record_line(record, &previous);
        let before = handle
            .seek(SeekFrom::End(0))
            .map_err(|e| self.io_error("seek", &e))?;
        if let Err(err) = handle.write_all(chained.line.as_bytes()) {
            // Whole or nothing: cut a partial line back off while we still
            // hold the lock.
            let _ = file.set_len(before);
            return Err(self.io_error("write", &err));
        }
        let sync = match self.fsync {
            FsyncMode::Always => true,
            FsyncMode::Never => false,
            FsyncMode::Batch => self
                .batch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .due(),
        };
        if sync {
            file.sync_data().map_err(|e| self.io_error("sync", &e))?;
            if self.fsync == FsyncMode::Batch {
                self.batch
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .synced();
            }
        }
        if let Some(checkpointer) = &self.checkpointer {
            // Still under the lock: the count and head are this append's.
            let after = before + chained.line.len() as u64;
            let entries = self
                .count_entries(&file, after)
                .map_err(|e| self.io_error("count the entries of", &e))?;
            checkpointer
                .after_append(entries, &chained.chain_hash)
                .map_err(|e| AuditError::Write(format!("the record was written, but {e}")))?;
        }
        Ok(chained.chain_hash)
    }

    /// Entries (non-blank lines) in the first `len` bytes of the file,
    /// reading only what was added since this handle last counted.
    fn count_entries(&self, file: &File, len: u64) -> io::Result<u64> {
        let mut counted = self
            .counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (from, mut entries) = match *counted {
            Some((offset, entries)) if offset <= len => (offset, entries),
            _ => (0, 0),
        };
        let mut handle = file;
        handle.seek(SeekFrom::Start(from))?;
        let mut reader = io::BufReader::new(handle.take(len - from));
        let mut line = Vec::new();
        loop {
            line.clear();
            if io::BufRead::read_until(&mut reader, b'\n', &mut line)? == 0 {
                break;
            }
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                entries += 1;
            }
        }
        *counted = Some((len, entries));
        Ok(entries)
    }

    /// The state of the last line, read under a shared lock.
    pub fn tail(&self) -> Result<Tail, AuditError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Tail::Empty),
            Err(err) => return Err(self.io_error("open", &err)),
        };
        let _lock = Lock::shared(&file, &self.path)?;
        read_tail(&file).map_err(|e| self.io_error("read", &e))
    }

    /// Moves a torn last line into `<log>.quarantine-<unix seconds>` and cuts
    /// it off the log, under the writers' lock. Complete lines are never
    /// touched: verification, not repair, judges them.
    pub fn repair(&self) -> Result<RepairOutcome, AuditError> {
        let file = match OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(RepairOutcome::NothingToRepair);
            }
            Err(err) => return Err(self.io_error("open", &err)),
        };
        let _lock = Lock::exclusive(&file, &self.path)?;
        let Tail::Torn { offset, len } = read_tail(&file).map_err(|e| self.io_error("read", &e))?
        else {
            return Ok(RepairOutcome::NothingToRepair);
        };
        let mut fragment = Vec::new();
        let mut handle = &file;
        handle
            .seek(SeekFrom::Start(offset))
            .and_then(|_| handle.read_to_end(&mut fragment))
            .map_err(|e| self.io_error("read", &e))?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let quarantine = PathBuf::from(format!("{}.quarantine-{stamp}", self.path.display()));
        let mut out = private_file(&quarantine, true).map_err(|e| {
            AuditError::Write(format!(
                "could not create the quarantine file {}: {e}",
                quarantine.display()
            ))
        })?;
        out.write_all(&fragment)
            .and_then(|()| out.sync_all())
            .map_err(|e| {
                AuditError::Write(format!("could not write {}: {e}", quarantine.display()))
            })?;
        // Only after the fragment is safely elsewhere is it cut off.
        file.set_len(offset)
            .and_then(|()| file.sync_all())
            .map_err(|e| self.io_error("truncate", &e))?;
        Ok(RepairOutcome::Quarantined {
            quarantine,
            bytes: len,
        })
    }

    fn open_for_append(&self) -> Result<File, AuditError> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent).map_err(|e| {
                AuditError::Write(format!(
                    "could not create the audit directory {}: {e}",
                    parent.display()
                ))
            })?;
        }
        private_file(&self.path, false).map_err(|e| self.io_error("open", &e))
    }

    fn io_error(&self, what: &str, err: &io::Error) -> AuditError {
        AuditError::Write(format!(
            "could not {what} the audit log {}: {err}",
            self.path.display()
        ))
    }
}

#[async_trait]
impl AuditSink for JsonlAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<String, AuditError> {
        let log = self.clone();
        let entry_id = record.entry_id.clone();
        // Locking, reading the tail and fsync block: keep them off the
        // async worker.
        tokio::task::spawn_blocking(move || log.append_blocking(&record))
            .await
            .map_err(|e| AuditError::Write(format!("the audit writer stopped: {e}")))??;
        Ok(entry_id)
    }
}

/// An advisory lock on the log file, released on drop.
struct Lock<'a>(&'a File);

impl<'a> Lock<'a> {
    fn exclusive(file: &'a File, path: &Path) -> Result<Self, AuditError> {
        file.lock().map_err(|e| lock_error(path, &e))?;
        Ok(Self(file))
    }

    fn shared(file: &'a File, path: &Path) -> Result<Self, AuditError> {
        file.lock_shared().map_err(|e| lock_error(path, &e))?;
        Ok(Self(file))
    }
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn lock_error(path: &Path, err: &io::Error) -> AuditError {
    AuditError::Write(format!(
        "could not lock the audit log {}: {err}",
        path.display()
    ))
}

/// Reads the end of the file to find the last line and what state it is in.
fn read_tail(mut file: &File) -> io::Result<Tail> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(Tail::Empty);
    }
    // Read backwards in growing windows until a line break before the last
    // byte is found (or the start of the file).
    let mut window: u64 = 4096;
    loop {
        let start = len.saturating_sub(window);
        let mut buf = vec![0u8; usize::try_from(len - start).unwrap_or(usize::MAX)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        let ends_with_newline = buf.last() == Some(&b'\n');
        let body = if ends_with_newline {
            &buf[..buf.len() - 1]
        } else {
            &buf[..]
        };
        match body.iter().rposition(|&b| b == b'\n') {
            Some(at) => {
                let line_start = start + at as u64 + 1;
                let line = &body[at + 1..];
                return Ok(classify(line, line_start, len, ends_with_newline));
            }
            None if start == 0 => return Ok(classify(body, 0, len, ends_with_newline)),
            None => window = window.saturating_mul(4),
        }
    }
}

fn classify(line: &[u8], offset: u64, file_len: u64, complete: bool) -> Tail {
    if !complete {
        return Tail::Torn {
            offset,
            len: file_len - offset,
        };
    }
    let text = String::from_utf8_lossy(line);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        // A blank last line: the verifier skips blank lines, so the head is
        // the last non-blank one; rare enough to treat as unreadable here.
        return Tail::Unreadable { offset };
    }
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(serde_json::Value::Object(map)) => match map.get("chain_hash") {
            Some(serde_json::Value::String(hash)) => Tail::Head(hash.clone()),
            _ => Tail::Unreadable { offset },
        },
        _ => Tail::Unreadable { offset },
    }
}

#[cfg(unix)]
fn private_file(path: &Path, create_new: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = OpenOptions::new();
    options.read(true).append(true).mode(0o600);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true);
    }
    options.open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path, create_new: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true);
    }
    options.open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_syncs_every_32_records() {
        let mut state = BatchState {
            pending: 0,
            last_sync: std::time::Instant::now(),
        };
        let due: Vec<bool> = (0..32).map(|_| state.due()).collect();
        assert!(due[..31].iter().all(|d| !d));
        assert!(due[31]);
        state.synced();
        assert!(!state.due());
    }
}
