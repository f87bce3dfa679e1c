//! An in-memory audit sink, for tests and embedding.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{AuditError, AuditRecord, AuditSink};

/// Keeps records in memory, in append order; optionally only the newest
/// `limit` of them (for long-running processes and benchmarks).
#[derive(Debug, Default)]
pub struct MemoryAuditSink {
    records: Mutex<VecDeque<AuditRecord>>,
    /// Oldest records are dropped beyond this many; `None` keeps all.
    limit: Option<usize>,
}

impl MemoryAuditSink {
    /// An empty sink that keeps every record.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty sink that keeps only the newest `limit` records.
    pub fn bounded(limit: usize) -> Self {
        Self {
            records: Mutex::default(),
            limit: Some(limit.max(1)),
        }
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl AuditSink for MemoryAuditSink {
    async fn append(&self, record: AuditRecord) -> Result<String, AuditError> {
        let id = record.entry_id.clone();
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if self.limit.is_some_and(|limit| records.len() >= limit) {
            records.pop_front();
        }
        records.push_back(record);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> AuditRecord {
        let json = format!(
            r#"{{"entry_id":"{id}","action_name":"a","action_description":"a()","agent_id":"",
            "risk_score":0.1,"risk_level":"low","challenge_type":"","challenge_passed":null,
            "approver_ids":[],"verdict":"approved","review_duration_seconds":0.0,
            "min_review_met":true,"intercepted_at":"","decided_at":"","executed_at":"",
            "session_id":"","environment":"ci","metadata":{{}}}}"#
        );
        serde_json::from_str(&json).expect("valid record")
    }

    #[tokio::test]
    async fn bounded_sink_keeps_the_newest() {
        let sink = MemoryAuditSink::bounded(2);
        for id in ["1", "2", "3"] {
            assert_eq!(sink.append(record(id)).await.expect("appends"), id);
        }
        let ids: Vec<String> = sink.records().into_iter().map(|r| r.entry_id).collect();
        assert_eq!(ids, ["2", "3"]);
    }
}
