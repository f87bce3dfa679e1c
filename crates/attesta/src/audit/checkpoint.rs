//! Signed checkpoints: what a bare hash chain cannot show.
//!
//! Anyone who can write the log can delete its tail or rewrite an entry and
//! recompute every later `chain_hash`; the chain still verifies. A
//! [`Checkpoint`] is a statement "this log had `entries` entries and the last
//! one's `chain_hash` was `head_hash`", signed with an Ed25519 key kept
//! outside the log ([`AuditSigningKey`]). Checking it needs only the public
//! key ([`verify_checkpoints`]): a log that is now shorter lost its tail; a
//! log whose entry `entries` has another `chain_hash` was rewritten.
//!
//! Checkpoints are appended, one JSON object per line, to the sidecar file
//! `<log>.checkpoints` ([`checkpoints_path`]):
//!
//! ```text
//! {"version":1,"entries":10,"head_hash":"9635…","time":"2025-01-15T10:00:00+01:00","key_id":"3f2a9c0d51b7e846","signature":"…128 hex…"}
//! ```
//!
//! The signature covers [`Checkpoint::signed_bytes`]: the line
//! `attesta-audit-checkpoint v1` and a newline, followed by the canonical
//! JSON (keys sorted, no whitespace, the audit log's string escaping) of
//! every field except `signature`, with `log_id` left out when absent.
//!
//! Entries are counted as the log's non-blank lines; the entry at position
//! `n` (1-based) is the `n`-th non-blank line. The log is read as a stream,
//! and only the lines a check needs are parsed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{self, BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Deserialize, Serialize};

use super::canonical::{GENESIS_HASH, write_str};
use super::keys::{AuditPublicKey, AuditSigningKey, KeyError, hex_decode_into, hex_encode};
use crate::clock::Clock;

/// The checkpoint format version this code writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Domain separation for signatures: a checkpoint signature can never be
/// mistaken for a signature over anything else.
const SIGNING_CONTEXT: &str = "attesta-audit-checkpoint v1\n";

/// A signed statement about a log's length and head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Format version, [`CHECKPOINT_VERSION`].
    pub version: u32,
    /// An optional name for the log, so a checkpoint cannot be presented as
    /// being about another log with the same head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
    /// Non-blank lines in the log when the checkpoint was taken.
    pub entries: u64,
    /// The `chain_hash` of entry `entries` ([`GENESIS_HASH`] for an empty
    /// log).
    pub head_hash: String,
    /// When it was taken, RFC 3339 with the local offset.
    pub time: String,
    /// Id of the key that signed it ([`AuditPublicKey::key_id`]).
    pub key_id: String,
    /// Ed25519 signature over [`Checkpoint::signed_bytes`], 128 hex digits.
    pub signature: String,
}

/// The state of a log at its end: what a checkpoint records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    /// Non-blank lines.
    pub entries: u64,
    /// The last entry's `chain_hash`, or [`GENESIS_HASH`] for an empty log.
    pub head_hash: String,
}

/// Why a checkpoint could not be made or the checkpoints not be read.
/// (Problems *found* by verification are [`CheckpointProblem`]s in the
/// report, not errors.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The audit log does not exist.
    #[error(
        "audit log {} not found; check the path (--log, or audit.path in attesta.yaml)",
        path.display()
    )]
    LogNotFound {
        /// The log as given.
        path: PathBuf,
    },
    /// The audit log could not be read.
    #[error("cannot read audit log {}: {io}", path.display())]
    ReadLog {
        /// The log.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },
    /// The log's last entry has no readable `chain_hash`, so there is no head
    /// to sign.
    #[error(
        "the last entry (entry {entry}) of audit log {} has no readable chain_hash: {detail}; \
         check the log with `attesta audit verify` before checkpointing it",
        path.display()
    )]
    BadHead {
        /// The log.
        path: PathBuf,
        /// The entry's 1-based position.
        entry: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// The checkpoint file could not be read.
    #[error("cannot read checkpoint file {}: {io}", path.display())]
    ReadCheckpoints {
        /// The sidecar file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },
    /// Appending to the checkpoint file failed.
    #[error(
        "cannot append to checkpoint file {}: {io}; check that its directory is writable",
        path.display()
    )]
    WriteCheckpoints {
        /// The sidecar file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },
    /// The caller gave a head hash that is not 64 lowercase hex digits.
    #[error("{0:?} is not a chain hash (64 lowercase hex digits)")]
    InvalidHeadHash(String),
    /// A key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl Checkpoint {
    /// Signs a checkpoint for `head` taken at `time`.
    pub fn sign(
        key: &AuditSigningKey,
        head: &LogHead,
        log_id: Option<String>,
        time: DateTime<FixedOffset>,
    ) -> Result<Self, CheckpointError> {
        if !is_hash(&head.head_hash) {
            return Err(CheckpointError::InvalidHeadHash(head.head_hash.clone()));
        }
        let mut checkpoint = Self {
            version: CHECKPOINT_VERSION,
            log_id,
            entries: head.entries,
            head_hash: head.head_hash.clone(),
            time: time.to_rfc3339_opts(SecondsFormat::Secs, false),
            key_id: key.public_key().key_id(),
            signature: String::new(),
        };
        checkpoint.signature = hex_encode(&key.sign(&checkpoint.signed_bytes()));
        Ok(checkpoint)
    }

    /// The bytes the signature covers: `attesta-audit-checkpoint v1\n`
    /// followed by the canonical JSON of every other field.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str(SIGNING_CONTEXT);
        out.push_str("{\"entries\":");
        out.push_str(&self.entries.to_string());
        out.push_str(",\"head_hash\":");
        write_str(&mut out, &self.head_hash);
        out.push_str(",\"key_id\":");
        write_str(&mut out, &self.key_id);
        if let Some(log_id) = &self.log_id {
            out.push_str(",\"log_id\":");
            write_str(&mut out, log_id);
        }
        out.push_str(",\"time\":");
        write_str(&mut out, &self.time);
        out.push_str(",\"version\":");
        out.push_str(&self.version.to_string());
        out.push('}');
        out.into_bytes()
    }

    /// The line to append (JSON, no trailing newline).
    pub fn to_line(&self) -> String {
        // Serialising plain strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses and checks the shape of one line (not the signature).
    pub fn parse_line(line: &str) -> Result<Self, String> {
        let checkpoint: Self =
            serde_json::from_str(line).map_err(|e| format!("not a checkpoint object: {e}"))?;
        if checkpoint.version != CHECKPOINT_VERSION {
            return Err(format!(
                "version {} is not supported (this build reads version {CHECKPOINT_VERSION})",
                checkpoint.version
            ));
        }
        if !is_hash(&checkpoint.head_hash) {
            return Err("head_hash is not 64 lowercase hex digits".into());
        }
        if DateTime::parse_from_rfc3339(&checkpoint.time).is_err() {
            return Err(format!(
                "time {:?} is not an RFC 3339 timestamp",
                checkpoint.time
            ));
        }
        if checkpoint.signature.len() != 128 {
            return Err("signature is not 128 hex digits".into());
        }
        Ok(checkpoint)
    }

    /// Whether the signature is valid for `key` (and names `key`).
    pub fn signature_valid(&self, key: &AuditPublicKey) -> bool {
        let mut signature = [0u8; 64];
        self.key_id == key.key_id()
            && hex_decode_into(&self.signature, &mut signature).is_some()
            && key.verify(&self.signed_bytes(), &signature)
    }
}

/// The sidecar file for `log`: `<log>.checkpoints`.
pub fn checkpoints_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".checkpoints");
    PathBuf::from(name)
}

/// Reads the log's entry count and last `chain_hash`. A missing log is
/// [`CheckpointError::LogNotFound`].
pub fn read_log_head(log: &Path) -> Result<LogHead, CheckpointError> {
    let scan = scan_log(log, &[], true)?.ok_or_else(|| CheckpointError::LogNotFound {
        path: log.to_owned(),
    })?;
    let head_hash = match scan.last_line {
        None => GENESIS_HASH.to_owned(),
        Some(line) => chain_hash_of(&line).map_err(|detail| CheckpointError::BadHead {
            path: log.to_owned(),
            entry: scan.entries,
            detail,
        })?,
    };
    Ok(LogHead {
        entries: scan.entries,
        head_hash,
    })
}

/// Takes a checkpoint of `log` now, appends it to [`checkpoints_path`] and
/// returns it.
pub fn checkpoint_log(
    log: &Path,
    key: &AuditSigningKey,
    log_id: Option<String>,
    time: DateTime<FixedOffset>,
) -> Result<Checkpoint, CheckpointError> {
    let head = read_log_head(log)?;
    let checkpoint = Checkpoint::sign(key, &head, log_id, time)?;
    append_checkpoint(&checkpoints_path(log), &checkpoint)?;
    Ok(checkpoint)
}

/// Appends `checkpoint` as one line to `sidecar` (created with mode 0600),
/// and syncs it to disk.
pub fn append_checkpoint(sidecar: &Path, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
    let write_error = |io| CheckpointError::WriteCheckpoints {
        path: sidecar.to_owned(),
        io,
    };
    let mut options = fs::OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(sidecar).map_err(write_error)?;
    // Writers in several processes may checkpoint at once: hold the lock
    // from reading the end to writing the line, so lines never interleave.
    file.lock().map_err(write_error)?;
    let mut line = String::new();
    // A torn last line (crash mid-write) must not swallow this checkpoint.
    let len = file.metadata().map_err(write_error)?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1)).map_err(write_error)?;
        file.read_exact(&mut last).map_err(write_error)?;
        if last[0] != b'\n' {
            line.push('\n');
        }
    }
    line.push_str(&checkpoint.to_line());
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(write_error)?;
    let synced = file.sync_data().map_err(write_error);
    let _ = file.unlock();
    synced
}

/// What is wrong with one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckpointProblem {
    /// The line is not a checkpoint of a supported version.
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// The checkpoint names another key than the one verifying.
    UnknownKey {
        /// The key id it names.
        key_id: String,
    },
    /// The signature does not verify: the line was forged or edited.
    BadSignature,
    /// Its entry count is below an earlier checkpoint's.
    OutOfOrder {
        /// The earlier checkpoint's count.
        previous_entries: u64,
        /// This one's.
        entries: u64,
    },
    /// The log is shorter than the checkpoint says it was.
    DeletedTail {
        /// Entries the log has now.
        log_entries: u64,
        /// Entries at the checkpoint.
        checkpoint_entries: u64,
    },
    /// Entry `entry` has another `chain_hash` than the checkpoint's head:
    /// the log was rewritten at or before it.
    HistoryRewritten {
        /// The checkpoint's entry count.
        entry: u64,
    },
    /// Entry `entry` has no readable `chain_hash` any more.
    UnreadableEntry {
        /// The checkpoint's entry count.
        entry: u64,
        /// What is wrong with the line.
        detail: String,
    },
}

impl fmt::Display for CheckpointProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { detail } => write!(f, "malformed checkpoint ({detail})"),
            Self::UnknownKey { key_id } => write!(
                f,
                "signed by another key ({key_id}); not evidence for this public key"
            ),
            Self::BadSignature => f.write_str("invalid signature (forged or edited checkpoint)"),
            Self::OutOfOrder {
                previous_entries,
                entries,
            } => write!(
                f,
                "out of order (checkpoint at {entries} follows one at {previous_entries})"
            ),
            Self::DeletedTail {
                log_entries,
                checkpoint_entries,
            } => write!(
                f,
                "deleted tail (log has {log_entries} entries, checkpoint at {checkpoint_entries})"
            ),
            Self::HistoryRewritten { entry } => write!(
                f,
                "history rewritten before entry {entry} (checkpoint head differs)"
            ),
            Self::UnreadableEntry { entry, detail } => write!(
                f,
                "history rewritten before entry {entry} (entry {entry} is unreadable: {detail})"
            ),
        }
    }
}

/// One problem, with the checkpoint it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointIssue {
    /// 1-based position of the checkpoint among the sidecar's non-blank
    /// lines.
    pub index: usize,
    /// 1-based physical line in the sidecar file.
    pub line: usize,
    /// What is wrong.
    pub problem: CheckpointProblem,
}

/// The outcome of [`verify_checkpoints`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointReport {
    /// The log checked.
    pub log: PathBuf,
    /// The sidecar read.
    pub checkpoints_file: PathBuf,
    /// Entries (non-blank lines) the log has now.
    pub log_entries: u64,
    /// Checkpoints found (non-blank sidecar lines).
    pub checkpoints: usize,
    /// Checkpoints that passed every check.
    pub verified: usize,
    /// The largest entry count a verified checkpoint vouches for; entries
    /// after it are covered by the hash chain only.
    pub covered_entries: u64,
    /// Every problem found, in sidecar order.
    pub issues: Vec<CheckpointIssue>,
}

impl CheckpointReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Checks every checkpoint of `log` with `key` (the public key only): each
/// signature, their order, and that the log still holds each checkpointed
/// head at its position. A missing sidecar means no checkpoints; a missing
/// log has no entries. Checkpoints with a bad signature or another key are
/// reported and otherwise ignored.
pub fn verify_checkpoints(
    log: &Path,
    key: &AuditPublicKey,
) -> Result<CheckpointReport, CheckpointError> {
    let sidecar = checkpoints_path(log);
    let lines = read_checkpoint_lines(&sidecar)?;
    let mut issues = Vec::new();
    let mut trusted = Vec::new();
    for (index, (line_no, text)) in lines.iter().enumerate() {
        let issue = |problem| CheckpointIssue {
            index: index + 1,
            line: *line_no,
            problem,
        };
        match Checkpoint::parse_line(text) {
            Err(detail) => issues.push(issue(CheckpointProblem::Malformed { detail })),
            Ok(c) if c.key_id != key.key_id() => {
                issues.push(issue(CheckpointProblem::UnknownKey {
                    key_id: c.key_id.clone(),
                }));
            }
            Ok(c) if !c.signature_valid(key) => {
                issues.push(issue(CheckpointProblem::BadSignature));
            }
            Ok(c) => trusted.push((index + 1, *line_no, c)),
        }
    }
    let positions: Vec<u64> = trusted.iter().map(|(_, _, c)| c.entries).collect();
    let scan = scan_log(log, &positions, false)?.unwrap_or_default();

    let mut verified = 0;
    let mut covered_entries = 0;
    let mut previous: Option<u64> = None;
    for (index, line, c) in trusted {
        let mut found = Vec::new();
        if let Some(prev) = previous.filter(|p| c.entries < *p) {
            found.push(CheckpointProblem::OutOfOrder {
                previous_entries: prev,
                entries: c.entries,
            });
        }
        previous = Some(previous.map_or(c.entries, |p| p.max(c.entries)));
        if scan.entries < c.entries {
            found.push(CheckpointProblem::DeletedTail {
                log_entries: scan.entries,
                checkpoint_entries: c.entries,
            });
        } else {
            let actual = if c.entries == 0 {
                Ok(GENESIS_HASH.to_owned())
            } else {
                scan.hashes
                    .get(&c.entries)
                    .cloned()
                    .unwrap_or_else(|| Err("not read".to_owned()))
            };
            match actual {
                Ok(hash) if hash == c.head_hash => {}
                Ok(_) => found.push(CheckpointProblem::HistoryRewritten { entry: c.entries }),
                Err(detail) => found.push(CheckpointProblem::UnreadableEntry {
                    entry: c.entries,
                    detail,
                }),
            }
        }
        if found.is_empty() {
            verified += 1;
            covered_entries = covered_entries.max(c.entries);
        }
        issues.extend(found.into_iter().map(|problem| CheckpointIssue {
            index,
            line,
            problem,
        }));
    }
    issues.sort_by_key(|i| i.index);
    Ok(CheckpointReport {
        log: log.to_owned(),
        checkpoints_file: sidecar,
        log_entries: scan.entries,
        checkpoints: lines.len(),
        verified,
        covered_entries,
        issues,
    })
}

/// When the log writer should take a checkpoint (`audit.checkpoint_every`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Checkpoint after every `every` entries; `None` never does.
    pub every: Option<u64>,
}

impl CheckpointPolicy {
    /// Whether a log that now has `entries` entries is due a checkpoint.
    pub fn is_due(&self, entries: u64) -> bool {
        self.every
            .is_some_and(|every| every > 0 && entries > 0 && entries.is_multiple_of(every))
    }
}

/// The log writer's hook: after each append, call
/// [`Checkpointer::after_append`] with the new entry count and head; it
/// signs and appends a checkpoint when the policy says one is due.
#[derive(Debug)]
pub struct Checkpointer {
    /// When to checkpoint.
    policy: CheckpointPolicy,
    /// The signing key, loaded once.
    key: AuditSigningKey,
    /// Where checkpoints go (`<log>.checkpoints`).
    sidecar: PathBuf,
    /// Put into every checkpoint, if set.
    log_id: Option<String>,
    /// Timestamps.
    clock: Arc<dyn Clock>,
}

impl Checkpointer {
    /// A hook for the log at `log`.
    pub fn new(
        log: &Path,
        key: AuditSigningKey,
        policy: CheckpointPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            policy,
            key,
            sidecar: checkpoints_path(log),
            log_id: None,
            clock,
        }
    }

    /// Names the log in every checkpoint.
    #[must_use]
    pub fn with_log_id(mut self, log_id: impl Into<String>) -> Self {
        self.log_id = Some(log_id.into());
        self
    }

    /// Call after appending an entry: `entries` is the log's entry count now
    /// and `head_hash` the new entry's `chain_hash`. Returns the checkpoint
    /// written, if one was due.
    pub fn after_append(
        &self,
        entries: u64,
        head_hash: &str,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        if !self.policy.is_due(entries) {
            return Ok(None);
        }
        let head = LogHead {
            entries,
            head_hash: head_hash.to_owned(),
        };
        let checkpoint = Checkpoint::sign(
            &self.key,
            &head,
            self.log_id.clone(),
            self.clock.now().fixed_offset(),
        )?;
        append_checkpoint(&self.sidecar, &checkpoint)?;
        Ok(Some(checkpoint))
    }
}

/// What one pass over the log found.
#[derive(Debug, Default)]
struct LogScan {
    /// Non-blank lines.
    entries: u64,
    /// `chain_hash` (or why it is unreadable) at each requested position.
    hashes: BTreeMap<u64, Result<String, String>>,
    /// The last non-blank line, when asked for.
    last_line: Option<Vec<u8>>,
}

/// Streams `log` once; `None` if it does not exist.
fn scan_log(
    log: &Path,
    positions: &[u64],
    keep_last: bool,
) -> Result<Option<LogScan>, CheckpointError> {
    let read_error = |io| CheckpointError::ReadLog {
        path: log.to_owned(),
        io,
    };
    let file = match fs::File::open(log) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let positions: BTreeSet<u64> = positions.iter().copied().collect();
    let mut reader = BufReader::new(file);
    let mut scan = LogScan::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(read_error)? == 0 {
            break;
        }
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        scan.entries += 1;
        if positions.contains(&scan.entries) {
            scan.hashes.insert(scan.entries, chain_hash_of(line));
        }
        if keep_last {
            let last = scan.last_line.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(line);
        }
    }
    Ok(Some(scan))
}

/// The `chain_hash` of one log line.
fn chain_hash_of(line: &[u8]) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Head {
        chain_hash: String,
    }
    let head: Head = serde_json::from_slice(line).map_err(|e| format!("{e}"))?;
    Ok(head.chain_hash)
}

/// Non-blank lines of the sidecar with their 1-based line numbers; a missing
/// file has none.
fn read_checkpoint_lines(sidecar: &Path) -> Result<Vec<(usize, String)>, CheckpointError> {
    let text = match fs::read(sidecar) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(io) => {
            return Err(CheckpointError::ReadCheckpoints {
                path: sidecar.to_owned(),
                io,
            });
        }
    };
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .collect())
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
