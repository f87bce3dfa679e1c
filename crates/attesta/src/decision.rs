//! [`Decision`]: what the gate decided about one action, and why.

use std::fmt;

use chrono::{DateTime, Local};
use serde::{Deserialize, Serialize};

use crate::challenge::{ChallengeResult, ChallengeType};
use crate::policy::{FailMode, GateMode};
use crate::risk::RiskAssessment;
use crate::value::ValueMap;

/// The outcome for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The action may run.
    Approved,
    /// The action may not run.
    Denied,
    /// A human changed the action (reserved for channels that allow edits).
    Modified,
    /// Nobody answered in time; the action may not run.
    TimedOut,
    /// The action may not run and was escalated for follow-up.
    Escalated,
}

impl Verdict {
    /// The snake_case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Modified => "modified",
            Self::TimedOut => "timed_out",
            Self::Escalated => "escalated",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the gate decided about one action. The audit record is built
/// from this, so every field is what actually happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Approved, denied, timed out or escalated.
    pub verdict: Verdict,
    /// One sentence on why, for people and for the agent.
    pub reason: String,
    /// The final risk (after overrides, environment and trust), with factors.
    pub risk: RiskAssessment,
    /// The challenge the policy selected for the final level.
    pub challenge: ChallengeType,
    /// What the challenge returned, if one was presented.
    pub challenge_result: Option<ChallengeResult>,
    /// Principal ids of the humans who approved, in order.
    pub approvers: Vec<String>,
    /// Seconds the human(s) spent between seeing the prompt and answering;
    /// 0 when nobody was asked.
    pub review_time_seconds: f64,
    /// The minimum review time that applied; 0 when nobody was asked.
    pub min_review_seconds: f64,
    /// Whether every human took at least the minimum review time. True when
    /// nobody was asked (there was nothing to rush).
    pub min_review_met: bool,
    /// Enforce, shadow or audit-only.
    #[serde(serialize_with = "serialize_mode")]
    pub mode: GateMode,
    /// The fail mode in force.
    #[serde(serialize_with = "serialize_fail_mode")]
    pub fail_mode: FailMode,
    /// True when the action was approved only because `fail_mode: allow`
    /// let it through after nobody could be asked.
    pub fail_open: bool,
    /// The audit entry id, once written.
    pub audit_entry_id: Option<String>,
    /// When the action was intercepted.
    pub intercepted_at: DateTime<Local>,
    /// When the verdict was reached.
    pub decided_at: DateTime<Local>,
    /// The environment the action was evaluated for.
    pub environment: String,
    /// Extra facts (`shadow_verdict`, `skipped_challenge`, `timed_out`, ...).
    pub metadata: ValueMap,
    /// Problems that did not change the verdict (e.g. trust could not be
    /// saved), so they are visible rather than swallowed.
    pub warnings: Vec<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes fields by reference
fn serialize_mode<S: serde::Serializer>(mode: &GateMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(mode.as_str())
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes fields by reference
fn serialize_fail_mode<S: serde::Serializer>(mode: &FailMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(mode.as_str())
}

impl Decision {
    /// Whether the action may run.
    pub fn is_approved(&self) -> bool {
        self.verdict == Verdict::Approved
    }

    /// Whether the integration refused the action outright
    /// ([`crate::ActionContext::with_trusted_refusal`]): nobody was asked,
    /// and nobody could have approved it.
    pub fn was_refused(&self) -> bool {
        self.metadata.get(REFUSED_KEY) == Some(&crate::Value::Bool(true))
    }
}

/// The decision metadata key that marks a refusal by the integration.
pub(crate) const REFUSED_KEY: &str = "refused";

/// The action was not allowed to run. Carries the whole decision.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("action {verdict}: {description}: {reason}", verdict = .decision.verdict, reason = .decision.reason)]
pub struct Denied {
    /// The call as described in the audit record.
    pub description: String,
    /// The full decision.
    pub decision: Box<Decision>,
}
