//! One-time codes: HOTP (RFC 4226) and TOTP (RFC 6238) values from a key.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use crate::policy::{TotpAlgorithm, TotpSettings};

/// Why codes cannot be computed with some settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    /// `digits` is outside 6 to 8 (RFC 4226 §5.3: fewer is too guessable,
    /// more exceeds the 31 bits the truncation yields).
    #[error("policy.totp.digits is {0}; codes have 6 to 8 digits")]
    Digits(u32),
    /// `period_seconds` is zero, so there is no time step.
    #[error("policy.totp.period_seconds must be at least 1")]
    Period,
    /// `drift_steps` is above 5; a wider window makes codes easier to guess
    /// and is never needed by a clock that is roughly right.
    #[error("policy.totp.drift_steps is {0}; at most 5 steps either side are accepted")]
    Drift(u32),
    /// `max_attempts` is zero, so nobody could ever enter a code.
    #[error("policy.totp.max_attempts must be at least 1")]
    MaxAttempts,
    /// The HMAC could not be computed. RustCrypto's HMAC accepts keys of
    /// any length, so this would be a bug, reported instead of a panic.
    #[error("the HMAC for the code could not be computed")]
    Hmac,
}

/// Checks the settings a verifier depends on.
pub(super) fn check_settings(settings: &TotpSettings) -> Result<(), TotpError> {
    check_digits(settings.digits)?;
    if settings.period_seconds == 0 {
        return Err(TotpError::Period);
    }
    if settings.drift_steps > 5 {
        return Err(TotpError::Drift(settings.drift_steps));
    }
    if settings.max_attempts == 0 {
        return Err(TotpError::MaxAttempts);
    }
    Ok(())
}

pub(super) fn check_digits(digits: u32) -> Result<(), TotpError> {
    if (6..=8).contains(&digits) {
        Ok(())
    } else {
        Err(TotpError::Digits(digits))
    }
}

/// The RFC 6238 time step `floor(unix_seconds / period)` (T0 = 0).
pub(super) fn time_step(unix_seconds: u64, period_seconds: u32) -> Result<u64, TotpError> {
    unix_seconds
        .checked_div(u64::from(period_seconds))
        .ok_or(TotpError::Period)
}

/// The HOTP value for `counter`, as a number below `10^digits`. `digits`
/// must already be checked.
pub(super) fn hotp_value(
    key: &[u8],
    algorithm: TotpAlgorithm,
    counter: u64,
    digits: u32,
) -> Result<u32, TotpError> {
    let message = counter.to_be_bytes();
    let mac = match algorithm {
        TotpAlgorithm::Sha1 => hmac::<Hmac<Sha1>>(key, &message),
        TotpAlgorithm::Sha256 => hmac::<Hmac<Sha256>>(key, &message),
        TotpAlgorithm::Sha512 => hmac::<Hmac<Sha512>>(key, &message),
    }?;
    let truncated = dynamic_truncation(&mac)?;
    Ok(truncated % 10u32.pow(digits))
}

/// Formats a code value with leading zeros, as authenticator apps show it.
pub(super) fn format_code(value: u32, digits: u32) -> String {
    let width = usize::try_from(digits).unwrap_or(8);
    format!("{value:0width$}")
}

fn hmac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Result<Zeroizing<Vec<u8>>, TotpError> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| TotpError::Hmac)?;
    mac.update(message);
    Ok(Zeroizing::new(mac.finalize().into_bytes().to_vec()))
}

/// RFC 4226 §5.3: the low nibble of the last byte picks four bytes, whose
/// value without the top bit is the code before reduction.
fn dynamic_truncation(mac: &[u8]) -> Result<u32, TotpError> {
    let last = mac.last().ok_or(TotpError::Hmac)?;
    let offset = usize::from(last & 0x0f);
    let Some(&[a, b, c, d]) = mac.get(offset..offset + 4) else {
        return Err(TotpError::Hmac);
    };
    Ok(u32::from_be_bytes([a & 0x7f, b, c, d]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc_4226_appendix_d_hotp_values() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, want) in (0u64..).zip(expected) {
            let got = hotp_value(SEED20, TotpAlgorithm::Sha1, counter, 6).expect("hotp");
            assert_eq!(got, want, "counter {counter}");
        }
    }

    #[test]
    fn rfc_4226_truncation_example() {
        // RFC 4226 §5.4: the worked example's HMAC and its result.
        let mac = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        assert_eq!(dynamic_truncation(&mac), Ok(0x50ef_7f19));
        assert_eq!(0x50ef_7f19 % 1_000_000, 872_921);
    }

    #[test]
    fn rfc_6238_appendix_b_totp_values() {
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (time, sha1, sha256, sha512) in table {
            let step = time_step(time, 30).expect("period");
            for (algorithm, key, want) in [
                (TotpAlgorithm::Sha1, SEED20, sha1),
                (TotpAlgorithm::Sha256, SEED32, sha256),
                (TotpAlgorithm::Sha512, SEED64, sha512),
            ] {
                let value = hotp_value(key, algorithm, step, 8).expect("totp");
                assert_eq!(format_code(value, 8), want, "{algorithm:?} at {time}");
            }
        }
    }

    #[test]
    fn leading_zeros_are_kept() {
        assert_eq!(format_code(7_081_804, 8), "07081804");
        assert_eq!(format_code(42, 6), "000042");
    }

    #[test]
    fn settings_outside_the_safe_range_are_refused() {
        let ok = TotpSettings::default();
        assert_eq!(check_settings(&ok), Ok(()));
        for (settings, want) in [
            (TotpSettings { digits: 5, ..ok }, TotpError::Digits(5)),
            (TotpSettings { digits: 9, ..ok }, TotpError::Digits(9)),
            (
                TotpSettings {
                    period_seconds: 0,
                    ..ok
                },
                TotpError::Period,
            ),
            (
                TotpSettings {
                    drift_steps: 6,
                    ..ok
                },
                TotpError::Drift(6),
            ),
            (
                TotpSettings {
                    max_attempts: 0,
                    ..ok
                },
                TotpError::MaxAttempts,
            ),
        ] {
            assert_eq!(check_settings(&settings), Err(want));
        }
        assert_eq!(time_step(100, 0), Err(TotpError::Period));
    }
}
