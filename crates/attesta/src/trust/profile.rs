//! What the engine remembers about one agent.

use std::fmt;

use chrono::NaiveDateTime;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// How one recorded action turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustOutcome {
    /// The action was approved (or ran unreviewed); the only outcome that
    /// raises trust.
    Success,
    /// A human denied the action.
    Denied,
    /// Something went wrong after the action ran; also multiplies trust by
    /// the incident penalty.
    Incident,
}

impl TrustOutcome {
    /// The store's name for the outcome (`success`, `denied`, `incident`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Incident => "incident",
        }
    }
}

impl fmt::Display for TrustOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded action of an agent.
///
/// Timestamps are naive local wall-clock times with microsecond precision,
/// exactly what the store holds: converting them to zoned times would be
/// ambiguous in daylight-saving folds and would not round-trip.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TrustRecord {
    /// When the outcome was recorded (local time).
    pub timestamp: NaiveDateTime,
    /// The action's name (the gated function or tool).
    pub action_name: String,
    /// The trust domain the action belonged to (`"ci"`, `"finance"`, ...).
    pub domain: String,
    /// How it turned out.
    pub outcome: TrustOutcome,
    /// The action's risk score when it was recorded (1.0 for incidents).
    pub risk_score: f64,
    /// How bad an incident was, as reported; `None` for other outcomes.
    pub severity: Option<String>,
    /// What happened in an incident, as reported; `None` for other outcomes.
    pub description: Option<String>,
}

/// A snapshot of everything the engine knows about one agent.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TrustProfile {
    /// The agent's id.
    pub agent_id: String,
    /// Trust across all domains as of the last success, incident or
    /// reinstatement; informational, never read by the formula.
    pub overall_score: f64,
    /// Per-domain trust as of the last success in each domain;
    /// informational, never read by the formula.
    pub domain_scores: IndexMap<String, f64>,
    /// Recorded actions, oldest first, at most `history_limit` of them.
    pub history: Vec<TrustRecord>,
    /// Incidents so far (a revocation counts as three); never decreases.
    pub incidents: u32,
    /// When the engine first saw the agent (local time).
    pub created_at: NaiveDateTime,
    /// When the last success or denial was recorded (local time).
    pub last_action_at: Option<NaiveDateTime>,
    /// Since when the agent is revoked; while set, its trust is 0.0.
    pub revoked_at: Option<NaiveDateTime>,
}

impl TrustProfile {
    /// A profile with no history, as the reference creates it.
    pub(super) fn new(agent_id: &str, initial_score: f64, now: NaiveDateTime) -> Self {
        Self {
            agent_id: agent_id.to_owned(),
            overall_score: initial_score,
            domain_scores: IndexMap::new(),
            history: Vec::new(),
            incidents: 0,
            created_at: now,
            last_action_at: None,
            revoked_at: None,
        }
    }

    /// Appends a record, dropping the oldest ones beyond `limit` so that
    /// scoring stays O(limit) however long the agent lives.
    pub(super) fn push_record(&mut self, record: TrustRecord, limit: usize) {
        self.history.push(record);
        self.trim_history(limit);
    }

    /// Drops the oldest records beyond `limit`.
    pub(super) fn trim_history(&mut self, limit: usize) {
        if self.history.len() > limit {
            let excess = self.history.len() - limit;
            self.history.drain(..excess);
        }
    }
}
