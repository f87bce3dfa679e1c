//! The server's signed decisions.
//!
//! A final decision is a JSON object (approval id, requester, action
//! digest, verdict, every approver with their sub-result, time, key id)
//! signed with the server's Ed25519 key over its canonical JSON (the audit
//! log's: sorted keys, no whitespace, Python escapes). A requester verifies
//! it with the server's public key from its own policy and denies anything
//! it cannot verify.

pub use attesta::approval::{canonical, sign, verify};
use serde_json::{Value, json};

use crate::store::{Approval, ApprovalState, SlotState};

/// The decision for `approval` reaching `state` at `now_ms`, unsigned.
pub fn content(approval: &Approval, state: ApprovalState, now_ms: i64, key_id: &str) -> Value {
    let approvers: Vec<Value> = approval
        .slots
        .iter()
        .filter(|s| s.state != SlotState::Open)
        .map(|s| {
            json!({
                "slot": s.index,
                "approver": s.approver,
                "challenge": s.challenge,
                "passed": s.state == SlotState::Passed,
                "result": s.result,
            })
        })
        .collect();
    json!({
        "version": 1,
        "approval_id": approval.id,
        "requester": approval.requester,
        "action_digest": approval.action_digest,
        "verdict": state.as_str(),
        "required_approvers": approval.slots.len(),
        "approvers": approvers,
        "decided_at_ms": now_ms,
        "key_id": key_id,
    })
}
