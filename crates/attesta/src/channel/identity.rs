//! How an approver proves who they are to a channel.

use std::fmt;

/// Checks one-time codes (TOTP) for configured approvers. The terminal
/// channel asks an approver for a code and asks this to check it; the
/// secret never leaves the verifier.
pub trait CodeVerifier: Send + Sync + fmt::Debug {
    /// Whether this approver has a code configured at all.
    fn has_code(&self, approver_id: &str) -> bool;

    /// Whether `code` is valid for `approver_id` now. A code that was already
    /// accepted must not be accepted again (replay). An error (secret missing
    /// or unreadable) is a reason to refuse, worded for the approver.
    fn verify(&self, approver_id: &str, code: &str) -> Result<bool, String>;
}
