//! The server's own audit trail: one v1 record for every submission and
//! every decision, in any [`AuditSink`] (a hash-chained JSONL file beside
//! the SQLite database), so `attesta audit verify` checks it like any log.
//!
//! A decision is recorded *before* it is stored: if the record cannot be
//! written, the approval stays pending (and expires, denied), so no
//! approval is ever granted without its record.

use std::sync::Arc;

use attesta::audit::{AuditRecord, AuditSink, python_isoformat};
use attesta::{ActionContext, Value, ValueMap};
use chrono::{Local, TimeZone as _};

use crate::store::{Approval, ApprovalState, SlotState};

/// The action name of a submission record.
pub const SUBMITTED_ACTION: &str = "server.approval_submitted";

/// Where the server's records go.
#[derive(Debug, Clone)]
pub struct Trail {
    sink: Arc<dyn AuditSink>,
}

impl Trail {
    /// A trail writing to `sink`.
    pub fn new(sink: Arc<dyn AuditSink>) -> Self {
        Self { sink }
    }

    /// Records a new approval (not a decision: verdict `escalated`, nothing
    /// may run on it).
    pub async fn submitted(&self, approval: &Approval) -> Result<String, String> {
        let action = action_of(approval);
        let mut metadata = base_metadata(approval);
        metadata.insert("action".into(), action.description().into());
        let record = AuditRecord {
            action_name: SUBMITTED_ACTION.to_owned(),
            action_description: format!(
                "{SUBMITTED_ACTION}(approval_id={:?}, action={:?})",
                approval.id, action.function_name
            ),
            verdict: "escalated".to_owned(),
            intercepted_at: iso(approval.created_at_ms),
            decided_at: iso(approval.created_at_ms),
            metadata,
            ..record_base(approval, &action)
        };
        self.append(record).await
    }

    /// Records the decision of `approval` reaching `state`, with every
    /// approver who answered and the signed decision.
    pub async fn decided(
        &self,
        approval: &Approval,
        state: ApprovalState,
        signed: &serde_json::Value,
        now_ms: i64,
    ) -> Result<String, String> {
        let action = action_of(approval);
        let answered: Vec<_> = approval
            .slots
            .iter()
            .filter(|s| s.state != SlotState::Open)
            .collect();
        let review = answered
            .iter()
            .filter_map(|s| s.result.as_ref()?.get("review_seconds")?.as_f64())
            .fold(0.0_f64, f64::max);
        let min_review_met = answered.iter().all(|s| {
            s.result
                .as_ref()
                .and_then(|r| r.get("min_review_met"))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true)
        });
        let mut metadata = base_metadata(approval);
        metadata.insert("signed_decision".into(), Value::from(signed.clone()));
        let record = AuditRecord {
            challenge_type: if approval.slots.len() > 1 {
                "multi_party".to_owned()
            } else {
                approval
                    .slots
                    .first()
                    .map(|s| s.challenge.clone())
                    .unwrap_or_default()
            },
            challenge_passed: (!answered.is_empty()).then_some(state == ApprovalState::Approved),
            approver_ids: answered
                .iter()
                .filter(|s| s.state == SlotState::Passed)
                .filter_map(|s| s.approver.clone())
                .collect(),
            verdict: verdict(state).to_owned(),
            review_duration_seconds: review,
            min_review_met,
            intercepted_at: iso(approval.created_at_ms),
            decided_at: iso(now_ms),
            metadata,
            ..record_base(approval, &action)
        };
        self.append(record).await
    }

    async fn append(&self, record: AuditRecord) -> Result<String, String> {
        self.sink
            .append(record)
            .await
            .map_err(|e| format!("the server's audit trail cannot be written: {e}"))
    }
}

/// The v1 verdict for a final state.
fn verdict(state: ApprovalState) -> &'static str {
    match state {
        ApprovalState::Approved => "approved",
        ApprovalState::Expired => "timed_out",
        ApprovalState::Pending => "escalated",
        ApprovalState::Denied | ApprovalState::Cancelled => "denied",
    }
}

fn action_of(approval: &Approval) -> ActionContext {
    serde_json::from_value(approval.request["action"].clone())
        .unwrap_or_else(|_| ActionContext::new("unreadable-action"))
}

fn record_base(approval: &Approval, action: &ActionContext) -> AuditRecord {
    let risk = &approval.request["risk"];
    AuditRecord {
        entry_id: uuid::Uuid::new_v4().simple().to_string(),
        action_name: action.function_name.clone(),
        action_description: action.description(),
        agent_id: action.agent_id.clone().unwrap_or_default(),
        risk_score: risk["score"].as_f64().unwrap_or(1.0),
        risk_level: risk["level"].as_str().unwrap_or("critical").to_owned(),
        challenge_type: String::new(),
        challenge_passed: None,
        approver_ids: Vec::new(),
        verdict: String::new(),
        review_duration_seconds: 0.0,
        min_review_met: true,
        intercepted_at: String::new(),
        decided_at: String::new(),
        executed_at: String::new(),
        session_id: action.session_id.clone().unwrap_or_default(),
        environment: action.environment.clone(),
        metadata: ValueMap::new(),
    }
}

fn base_metadata(approval: &Approval) -> ValueMap {
    let mut metadata = ValueMap::new();
    metadata.insert("source".into(), "attesta-server".into());
    metadata.insert("approval_id".into(), approval.id.clone().into());
    metadata.insert("requester".into(), approval.requester.clone().into());
    metadata.insert(
        "action_digest".into(),
        approval.action_digest.clone().into(),
    );
    metadata.insert(
        "required_approvers".into(),
        Value::Int(i128::try_from(approval.slots.len()).unwrap_or(0)),
    );
    if let Some(escalation) = approval.request.get("escalation").filter(|e| !e.is_null()) {
        metadata.insert("escalation".into(), Value::from(escalation.clone()));
    }
    metadata
}

fn iso(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| python_isoformat(&t))
        .unwrap_or_default()
}
