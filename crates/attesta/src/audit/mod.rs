//! The audit trail seam: every decision is written through an [`AuditSink`]
//! before the action runs; if the write fails, the action does not run.
//!
//! The v1 log format lives in [`canonical`]; signed checkpoints, which catch
//! a deleted tail or a rewritten history that the bare chain cannot, in
//! [`checkpoint`] with their keys in [`keys`]. Writing is [`JsonlAuditLog`].
//! Reading a log back is [`query`](mod@query) (streaming reader and filters), [`stats`]
//! (statistics, rubber stamps) and [`export`] (CSV, JSON, JSONL); checking
//! it is [`verify`], with the Python-compatible parser in [`json`].

pub mod canonical;
pub mod checkpoint;
pub mod export;
pub mod json;
pub mod keys;
mod log;
mod memory;
pub mod query;
mod record;
pub mod stats;
pub mod verify;

pub use canonical::{ChainedLine, GENESIS_HASH, chain_hash, record_line};
pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointIssue, CheckpointPolicy, CheckpointProblem,
    CheckpointReport, Checkpointer, LogHead, checkpoint_log, checkpoints_path, read_log_head,
    verify_checkpoints,
};
pub use export::{ExportError, ExportFormat, ExportSummary, ExportWriter};
pub use keys::{AuditPublicKey, AuditSigningKey, KeyError};
pub use log::{FsyncMode, JsonlAuditLog, RepairOutcome, Tail};
pub use memory::MemoryAuditSink;
pub use query::{
    ActionPattern, BoundEdge, EntryReader, Filter, LevelFilter, LogError, LogScan, ReadError,
    StoredEntry, TimeParseError, UnreadableLine, UnreadableSummary, parse_time_bound, query,
};
pub use record::{
    AuditRecord, DECISION_KEY, MAX_DESCRIPTION_CHARS, TRUNCATION_MARKER, python_isoformat,
};
pub use stats::{ReviewQuality, RubberStampRule, Stats, StatsBuilder};

use std::fmt;

use async_trait::async_trait;

/// Why an audit record could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Writing to the underlying store failed.
    #[error("could not write the audit record: {0}")]
    Write(String),
}

/// Where audit records go. Implementations must make a record durable (as
/// far as their medium allows) before returning its id.
#[async_trait]
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Appends a record and returns its entry id.
    async fn append(&self, record: AuditRecord) -> Result<String, AuditError>;
}
