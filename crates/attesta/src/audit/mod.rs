//! The audit trail seam: every decision is written through an [`AuditSink`]
//! before the action runs; if the write fails, the action does not run.

pub mod canonical;
pub mod json;
mod memory;
mod record;
pub mod verify;

pub use canonical::{ChainedLine, GENESIS_HASH, chain_hash, record_line};
pub use memory::MemoryAuditSink;
pub use record::{AuditRecord, python_isoformat};

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
