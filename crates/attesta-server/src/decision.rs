//! The server's signed decisions.
//!
//! A final decision is a JSON object (approval id, requester, action
//! digest, verdict, every approver with their sub-result, time, key id)
//! signed with the server's Ed25519 key over its canonical JSON (the audit
//! log's: sorted keys, no whitespace, Python escapes). A requester verifies
//! it with the server's public key from its own policy and denies anything
//! it cannot verify.

use attesta::audit::canonical::write_value;
use attesta::audit::{AuditPublicKey, AuditSigningKey};
use serde_json::{Value, json};

use crate::store::{Approval, ApprovalState, SlotState};

/// The canonical bytes a decision's signature covers.
pub fn canonical(decision: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, &attesta::Value::from(decision.clone()));
    out
}

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

/// `{"decision": content, "signature": hex}`.
pub fn sign(key: &AuditSigningKey, content: Value) -> Value {
    let signature = key.sign(canonical(&content).as_bytes());
    let mut hex = String::with_capacity(128);
    for b in signature {
        hex.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    let mut signed = serde_json::Map::new();
    signed.insert("decision".to_owned(), content);
    signed.insert("signature".to_owned(), Value::String(hex));
    Value::Object(signed)
}

/// Whether `signed` (`{"decision", "signature"}`) carries a valid signature
/// by `key`: what a requester checks before trusting a decision.
pub fn verify(key: &AuditPublicKey, signed: &Value) -> bool {
    let (Some(content), Some(hex)) = (
        signed.get("decision"),
        signed.get("signature").and_then(Value::as_str),
    ) else {
        return false;
    };
    let mut signature = [0u8; 64];
    if hex.len() != 128 {
        return false;
    }
    for (i, byte) in signature.iter_mut().enumerate() {
        match u8::from_str_radix(&hex[2 * i..2 * i + 2], 16) {
            Ok(b) => *byte = b,
            Err(_) => return false,
        }
    }
    key.verify(canonical(content).as_bytes(), &signature)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signatures_verify_and_any_change_breaks_them() {
        let key = AuditSigningKey::from_seed(&[3u8; 32]);
        let content = json!({"approval_id": "a", "verdict": "approved", "approvers": [{"approver": "alice"}]});
        let signed = sign(&key, content);
        assert!(verify(&key.public_key(), &signed));
        let mut forged = signed.clone();
        forged["decision"]["verdict"] = json!("denied");
        assert!(!verify(&key.public_key(), &forged));
        let mut swapped = signed.clone();
        swapped["decision"]["approvers"][0]["approver"] = json!("mallory");
        assert!(!verify(&key.public_key(), &swapped));
        let other = AuditSigningKey::from_seed(&[4u8; 32]);
        assert!(!verify(&other.public_key(), &signed));
        assert!(!verify(&key.public_key(), &json!({"decision": {}})));
        assert!(!verify(
            &key.public_key(),
            &json!({"decision": {}, "signature": "zz"})
        ));
        // Key order does not matter: the canonical form sorts keys.
        let reordered: Value =
            serde_json::from_str(r#"{"signature": "", "decision": {"verdict": "approved", "approvers": [{"approver": "alice"}], "approval_id": "a"}}"#).unwrap();
        let mut reordered = reordered;
        reordered["signature"] = signed["signature"].clone();
        assert!(verify(&key.public_key(), &reordered));
    }
}
