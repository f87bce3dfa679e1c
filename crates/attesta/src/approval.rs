//! Signed approval decisions, as an approval server issues them and a
//! requester checks them.
//!
//! A decision is a JSON object signed with the server's Ed25519 key over
//! its canonical JSON (the audit log's: sorted keys, no whitespace, Python
//! escapes), carried as `{"decision": {...}, "signature": "<128 hex>"}`.
//! A requester verifies it with the server's public key from its own
//! configuration and denies anything it cannot verify.

use serde_json::Value;

use crate::audit::canonical::write_value;
use crate::audit::{AuditPublicKey, AuditSigningKey};

/// What a decision is about: `sha256:` and the hex SHA-256 of the action's
/// JSON as this crate serialises it. Requester and server compute it the
/// same way, so a requester can tell a decision about *its* action.
pub fn action_digest(action: &crate::ActionContext) -> Result<String, serde_json::Error> {
    use sha2::Digest as _;
    let bytes = serde_json::to_vec(action)?;
    let digest = sha2::Sha256::digest(&bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    Ok(out)
}

/// The canonical bytes a decision's signature covers.
pub fn canonical(decision: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, &crate::Value::from(decision.clone()));
    out
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
/// by `key`.
pub fn verify(key: &AuditPublicKey, signed: &Value) -> bool {
    let (Some(content), Some(hex)) = (
        signed.get("decision"),
        signed.get("signature").and_then(Value::as_str),
    ) else {
        return false;
    };
    let mut signature = [0u8; 64];
    if hex.len() != 128 || !hex.is_ascii() {
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
    use serde_json::json;

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
