//! The rules every backend applies inside its transactions, so SQLite and
//! PostgreSQL decide the same way.

use super::{Approval, Claim, Slot, SlotState, StoreError};

/// Why `approver` may not answer slot `index` of `approval` now, if so;
/// the same rule for every backend.
pub(crate) fn check_answerable(
    approval: &Approval,
    index: u32,
    approver: &str,
) -> Result<(), StoreError> {
    let id = &approval.id;
    if approval.state.is_final() {
        return Err(StoreError::Conflict(format!(
            "approval {id} is {} already; the answer was not recorded",
            approval.state.as_str()
        )));
    }
    if approval
        .slots
        .iter()
        .any(|s| s.approver.as_deref() == Some(approver))
    {
        return Err(StoreError::Conflict(format!(
            "`{approver}` answered a slot of approval {id} already; one person fills one slot"
        )));
    }
    let slot = approval
        .slots
        .iter()
        .find(|s| s.index == index)
        .ok_or_else(|| StoreError::NotFound(format!("slot {index} of approval {id}")))?;
    if slot.state != SlotState::Open {
        return Err(StoreError::Conflict(format!(
            "slot {index} of approval {id} was answered already"
        )));
    }
    if slot.claimed_by.as_deref() != Some(approver) {
        return Err(StoreError::Conflict(format!(
            "slot {index} of approval {id} is not held by `{approver}` (open it first with \
             POST /v1/approvals/{id}/slot, which may give another slot)"
        )));
    }
    Ok(())
}

/// Which slot of `approval` is `approver`'s (see [`Store::claim_slot`]);
/// the same rule for every backend.
pub(crate) fn choose_slot(approval: &Approval, approver: &str, lapsed_before_ms: i64) -> Claim {
    if approval.state.is_final() {
        return Claim::NoneOpen;
    }
    if let Some(answered) = approval
        .slots
        .iter()
        .find(|s| s.approver.as_deref() == Some(approver))
    {
        return Claim::AlreadyAnswered(answered.clone());
    }
    let open: Vec<&Slot> = approval
        .slots
        .iter()
        .filter(|s| s.state == SlotState::Open)
        .collect();
    if open.is_empty() {
        return Claim::NoneOpen;
    }
    if let Some(mine) = open
        .iter()
        .find(|s| s.claimed_by.as_deref() == Some(approver))
    {
        return Claim::Held((*mine).clone());
    }
    let free = open.iter().find(|s| {
        s.claimed_by.is_none() || s.claimed_at_ms.is_some_and(|at| at < lapsed_before_ms)
    });
    match free {
        Some(slot) => Claim::Held((*slot).clone()),
        None => Claim::Busy,
    }
}
