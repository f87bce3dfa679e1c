//! [`TotpVerifier`]: checks approvers' codes against their secrets, within a
//! drift window, refusing replays.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use subtle::ConstantTimeEq;

use super::code::{self, TotpError};
use super::provider::{SecretError, SecretProvider};
use crate::channel::CodeVerifier;
use crate::clock::Clock;
use crate::policy::TotpSettings;

/// What became of one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeCheck {
    /// The code is right for a time step in the window that is later than
    /// any this approver used before. It is now used up.
    Accepted,
    /// The code is well formed but not right for any step in the window.
    Wrong,
    /// The code is right, but for a time step at or before one this approver
    /// already used: someone may have seen it being typed.
    Replayed,
    /// Not the configured number of digits (spaces aside).
    Malformed,
}

/// Checks TOTP codes (RFC 6238) for approvers whose secrets a
/// [`SecretProvider`] knows, at the time a [`Clock`] reads.
///
/// A code is accepted if it is right for the current time step or up to
/// `drift_steps` steps either side, and its step is later than the last
/// step accepted for the same approver. That replay memory lives in this
/// value: share one `Arc<TotpVerifier>` between everything that checks codes
/// (the terminal channel, [`TotpChallenge`](super::TotpChallenge)), or a
/// code accepted by one could be accepted again by the other. It is not
/// persisted, so a restarted process accepts a code still inside its window
/// once more.
///
/// ```
/// use std::sync::Arc;
/// use attesta::challenge::totp::{CodeCheck, SecretError, SecretProvider, TotpSecret, TotpVerifier};
/// use attesta::clock::ManualClock;
/// use attesta::policy::TotpSettings;
///
/// #[derive(Debug)]
/// struct OneKey;
/// impl SecretProvider for OneKey {
///     fn secret(&self, _approver: &str) -> Result<TotpSecret, SecretError> {
///         Ok(TotpSecret::from_bytes(b"12345678901234567890".to_vec()).expect("20 bytes"))
///     }
/// }
///
/// // 2009-02-13T23:31:30Z; the RFC 6238 test key shows 005924 then.
/// let utc = chrono::DateTime::from_timestamp(1_234_567_890, 0).unwrap();
/// let clock = ManualClock::at(utc.with_timezone(&chrono::Local).naive_local());
/// let verifier = TotpVerifier::new(TotpSettings::default(), Arc::new(OneKey), Arc::new(clock))?;
/// assert_eq!(verifier.check("alice", "005 924"), Ok(CodeCheck::Accepted));
/// assert_eq!(verifier.check("alice", "005924"), Ok(CodeCheck::Replayed));
/// assert_eq!(verifier.check("alice", "123456"), Ok(CodeCheck::Wrong));
/// # Ok::<(), attesta::challenge::totp::TotpError>(())
/// ```
pub struct TotpVerifier {
    /// Digits, period, drift window, attempts and hash function.
    settings: TotpSettings,
    /// Where each approver's secret comes from.
    provider: Arc<dyn SecretProvider>,
    /// The time codes are checked at; injected so tests can fix it.
    clock: Arc<dyn Clock>,
    /// Approver id → the last time step accepted for them (replay defence).
    last_accepted: Mutex<HashMap<String, u64>>,
}

impl TotpVerifier {
    /// A verifier for `settings` (checked: 6–8 digits, a period of at least
    /// one second, at most 5 drift steps, at least one attempt).
    pub fn new(
        settings: TotpSettings,
        provider: Arc<dyn SecretProvider>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TotpError> {
        code::check_settings(&settings)?;
        Ok(Self {
            settings,
            provider,
            clock,
            last_accepted: Mutex::default(),
        })
    }

    /// The settings codes are checked with.
    pub fn settings(&self) -> &TotpSettings {
        &self.settings
    }

    /// Checks `code` for `approver_id` now. Spaces in the code are ignored
    /// (`"123 456"`). An accepted code is used up. Fails only if the
    /// approver's secret cannot be had.
    pub fn check(&self, approver_id: &str, code: &str) -> Result<CodeCheck, SecretError> {
        let Some(candidate) = parse_code(code, self.settings.digits) else {
            return Ok(CodeCheck::Malformed);
        };
        let secret = self.provider.secret(approver_id)?;
        // A clock before 1970 cannot produce a right code anyway; step 0
        // keeps that a wrong code instead of an error.
        let now = u64::try_from(self.clock.now().timestamp()).unwrap_or(0);
        let Ok(current) = code::time_step(now, self.settings.period_seconds) else {
            return Ok(CodeCheck::Wrong);
        };
        let drift = u64::from(self.settings.drift_steps);
        let mut matched = None;
        // Every step is computed and compared, matched or not, so timing does
        // not reveal which step (if any) a guess hit.
        for step in current.saturating_sub(drift)..=current.saturating_add(drift) {
            let Ok(expected) = code::hotp_value(
                secret.key(),
                self.settings.algorithm,
                step,
                self.settings.digits,
            ) else {
                // Unreachable with RustCrypto's HMAC; if it ever happened,
                // nothing would match, which fails closed.
                continue;
            };
            if bool::from(expected.ct_eq(&candidate)) {
                matched = Some(step);
            }
        }
        let Some(step) = matched else {
            return Ok(CodeCheck::Wrong);
        };
        // Check-and-record under one lock, so two concurrent checks of the
        // same code cannot both succeed.
        let mut last = self
            .last_accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.get(approver_id).is_some_and(|&used| step <= used) {
            return Ok(CodeCheck::Replayed);
        }
        last.insert(approver_id.to_owned(), step);
        Ok(CodeCheck::Accepted)
    }
}

/// The code as a number if it has exactly `digits` ASCII digits once spaces
/// are removed. Leading zeros count towards the length, so comparing the
/// numbers is the same as comparing the codes.
fn parse_code(code: &str, digits: u32) -> Option<u32> {
    let mut value: u32 = 0;
    let mut length: u32 = 0;
    for c in code.chars().filter(|c| !c.is_whitespace()) {
        // `to_digit` takes only ASCII digits, not other scripts' numerals.
        let digit = c.to_digit(10)?;
        length += 1;
        if length > digits {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(digit)?;
    }
    (length == digits).then_some(value)
}

impl CodeVerifier for TotpVerifier {
    fn has_code(&self, approver_id: &str) -> bool {
        self.provider.has_secret(approver_id)
    }

    fn verify(&self, approver_id: &str, code: &str) -> Result<bool, String> {
        match self.check(approver_id, code) {
            Ok(CodeCheck::Accepted) => Ok(true),
            Ok(_) => Ok(false),
            Err(error) => Err(error.to_string()),
        }
    }
}

// Hand-written to leave out the replay memory, which is noise in logs.
impl fmt::Debug for TotpVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpVerifier")
            .field("settings", &self.settings)
            .field("provider", &self.provider)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, Local};

    use super::*;
    use crate::challenge::totp::TotpSecret;
    use crate::clock::ManualClock;
    use crate::policy::TotpAlgorithm;

    const KEY: &[u8] = b"12345678901234567890";

    /// Every approver has the RFC key; `broken` has none readable.
    #[derive(Debug)]
    struct RfcKey;

    impl SecretProvider for RfcKey {
        fn secret(&self, approver_id: &str) -> Result<TotpSecret, SecretError> {
            if approver_id == "broken" {
                return Err(SecretError::Unavailable {
                    approver: approver_id.to_owned(),
                    message: "the vault is sealed".to_owned(),
                });
            }
            TotpSecret::from_bytes(KEY.to_vec()).map_err(|e| SecretError::Unavailable {
                approver: approver_id.to_owned(),
                message: e.to_string(),
            })
        }
    }

    /// A clock at `unix` seconds.
    fn clock_at(unix: i64) -> ManualClock {
        let utc = DateTime::from_timestamp(unix, 0).expect("in range");
        ManualClock::at(utc.with_timezone(&Local).naive_local())
    }

    fn verifier(settings: TotpSettings, clock: &ManualClock) -> TotpVerifier {
        TotpVerifier::new(settings, Arc::new(RfcKey), Arc::new(clock.clone())).expect("settings")
    }

    /// The 6-digit SHA-1 code for a time step.
    fn code_for(step: u64) -> String {
        TotpSecret::from_bytes(KEY.to_vec())
            .expect("key")
            .hotp(TotpAlgorithm::Sha1, step, 6)
            .expect("code")
    }

    /// 1_111_111_111 s is step 37037037, 1 s into the step.
    const NOW: i64 = 1_111_111_111;
    const STEP: u64 = 37_037_037;

    #[test]
    fn current_code_is_accepted_once() {
        let clock = clock_at(NOW);
        let v = verifier(TotpSettings::default(), &clock);
        assert_eq!(v.check("alice", &code_for(STEP)), Ok(CodeCheck::Accepted));
        assert_eq!(v.check("alice", &code_for(STEP)), Ok(CodeCheck::Replayed));
        // Replay memory is per approver.
        assert_eq!(v.check("bob", &code_for(STEP)), Ok(CodeCheck::Accepted));
    }

    #[test]
    fn drift_window_edges() {
        let clock = clock_at(NOW);
        let settings = TotpSettings {
            drift_steps: 2,
            ..TotpSettings::default()
        };
        for (offset, want) in [
            (-3, CodeCheck::Wrong),
            (-2, CodeCheck::Accepted),
            (2, CodeCheck::Accepted),
            (3, CodeCheck::Wrong),
        ] {
            // A fresh verifier each time so replay memory does not interfere.
            let v = verifier(settings, &clock);
            let step = STEP.checked_add_signed(offset).expect("step");
            assert_eq!(
                v.check("alice", &code_for(step)),
                Ok(want),
                "offset {offset}"
            );
        }
        let strict = TotpSettings {
            drift_steps: 0,
            ..TotpSettings::default()
        };
        let v = verifier(strict, &clock);
        assert_eq!(v.check("alice", &code_for(STEP - 1)), Ok(CodeCheck::Wrong));
        assert_eq!(v.check("alice", &code_for(STEP + 1)), Ok(CodeCheck::Wrong));
        assert_eq!(v.check("alice", &code_for(STEP)), Ok(CodeCheck::Accepted));
    }

    #[test]
    fn a_code_older_than_the_last_accepted_one_is_a_replay() {
        let clock = clock_at(NOW);
        let v = verifier(TotpSettings::default(), &clock);
        assert_eq!(v.check("alice", &code_for(STEP)), Ok(CodeCheck::Accepted));
        // Still inside the window, but at or before the step just used.
        assert_eq!(
            v.check("alice", &code_for(STEP - 1)),
            Ok(CodeCheck::Replayed)
        );
        // The next step's code is fine.
        clock.advance(Duration::from_secs(30));
        assert_eq!(v.check("alice", &code_for(STEP)), Ok(CodeCheck::Replayed));
        assert_eq!(
            v.check("alice", &code_for(STEP + 1)),
            Ok(CodeCheck::Accepted)
        );
    }

    #[test]
    fn spaces_are_tolerated_and_wrong_shapes_are_wrong() {
        let clock = clock_at(NOW);
        let v = verifier(TotpSettings::default(), &clock);
        let code = code_for(STEP);
        let spaced = format!(" {} {} ", &code[..3], &code[3..]);
        assert_eq!(v.check("alice", &spaced), Ok(CodeCheck::Accepted));
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "-12345",
            "+12345",
            "١٢٣٤٥٦",
            "１２３４５６",
        ] {
            assert_eq!(v.check("alice", bad), Ok(CodeCheck::Malformed), "{bad:?}");
        }
        // The right number with a leading zero too many is still wrong.
        assert_eq!(
            v.check("bob", &format!("0{code}")),
            Ok(CodeCheck::Malformed)
        );
        assert_eq!(v.verify("alice", "12a456"), Ok(false));
    }

    #[test]
    fn eight_digit_sha512_codes() {
        let clock = clock_at(NOW);
        let settings = TotpSettings {
            digits: 8,
            algorithm: TotpAlgorithm::Sha512,
            ..TotpSettings::default()
        };
        #[derive(Debug)]
        struct Key64;
        impl SecretProvider for Key64 {
            fn secret(&self, _: &str) -> Result<TotpSecret, SecretError> {
                Ok(TotpSecret::from_bytes(
                    b"1234567890123456789012345678901234567890123456789012345678901234".to_vec(),
                )
                .expect("key"))
            }
        }
        let v = TotpVerifier::new(settings, Arc::new(Key64), Arc::new(clock)).expect("settings");
        // RFC 6238 Appendix B at 1111111111.
        assert_eq!(v.check("alice", "99943326"), Ok(CodeCheck::Accepted));
        assert_eq!(v.check("alice", "999433"), Ok(CodeCheck::Malformed));
    }

    #[test]
    fn provider_failure_is_an_error_worded_for_the_approver() {
        let clock = clock_at(NOW);
        let v = verifier(TotpSettings::default(), &clock);
        assert_eq!(
            v.verify("broken", &code_for(STEP)),
            Err("approver 'broken': the vault is sealed".to_owned())
        );
        assert!(v.has_code("alice"));
    }

    #[test]
    fn invalid_settings_are_refused_at_construction() {
        let clock = clock_at(NOW);
        let bad = TotpSettings {
            period_seconds: 0,
            ..TotpSettings::default()
        };
        let error = TotpVerifier::new(bad, Arc::new(RfcKey), Arc::new(clock)).unwrap_err();
        assert_eq!(error, TotpError::Period);
    }

    #[test]
    fn debug_output_shows_no_secret_material() {
        let clock = clock_at(NOW);
        let v = verifier(TotpSettings::default(), &clock);
        v.check("alice", &code_for(STEP)).expect("check");
        let printed = format!("{v:?}");
        assert!(printed.starts_with("TotpVerifier"), "{printed}");
        assert!(!printed.contains("1234567890"));
        assert!(!printed.contains(&code_for(STEP)));
    }
}
