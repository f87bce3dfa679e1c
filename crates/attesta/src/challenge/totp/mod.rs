//! TOTP (RFC 6238): approvers prove who they are with the six- or
//! eight-digit code their authenticator app shows.
//!
//! | piece | job |
//! |---|---|
//! | [`TotpSecret`] | an approver's key; wiped on drop, redacted in `Debug`; computes codes |
//! | [`SecretProvider`], [`ConfiguredSecrets`] | where keys come from (the policy's `approvers:` list, or your vault) |
//! | [`TotpVerifier`] | checks a code now, within the drift window, refusing replays; the terminal channel's [`CodeVerifier`](crate::channel::CodeVerifier) |
//! | [`TotpChallenge`] | a [`Challenge`](crate::Challenge) that asks for a code over a channel |
//!
//! Codes are HOTP values (RFC 4226, HMAC with dynamic truncation) of the
//! time step `unix_seconds / period_seconds`, with SHA-1, SHA-256 or SHA-512.
//! Set-up is described in `docs/challenges.md` (section "TOTP").

mod base32;
mod challenge;
mod code;
mod provider;
mod secret;
mod verifier;

pub use challenge::TotpChallenge;
pub use code::TotpError;
#[cfg(feature = "remote")]
pub(crate) use provider::read_owner_only;
pub use provider::{ConfiguredSecrets, SecretError, SecretProvider};
pub use secret::{InvalidSecret, TotpSecret};
pub use verifier::{CodeCheck, TotpVerifier};
