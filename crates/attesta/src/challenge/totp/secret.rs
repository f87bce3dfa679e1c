//! [`TotpSecret`]: an approver's key, and why text is not one
//! ([`InvalidSecret`]).

use std::fmt;

use zeroize::Zeroizing;

use super::base32;
use super::code::{self, TotpError};
use crate::policy::{TotpAlgorithm, TotpSettings};

/// RFC 4226 §4 (R6) requires shared secrets of at least 128 bits.
const MIN_SECRET_BYTES: usize = 16;

/// Why text or bytes are not a usable TOTP secret. Never quotes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSecret {
    /// Nothing is left once spaces and padding are removed.
    #[error("it is empty")]
    Empty,
    /// A character other than A–Z, a–z, 2–7, whitespace or `=`. Positions
    /// count characters from 1, spaces included.
    #[error("character {position} is not a base32 letter (A-Z, 2-7)")]
    InvalidCharacter {
        /// 1-based position of the offending character.
        position: usize,
    },
    /// Base32 data continues after `=` padding (two secrets pasted together?).
    #[error("character {position} follows the '=' padding")]
    DataAfterPadding {
        /// 1-based position of the first symbol after the padding.
        position: usize,
    },
    /// The number of symbols cannot encode whole bytes (a truncated paste).
    #[error("{symbols} base32 letters cannot encode whole bytes; is part of it missing?")]
    InvalidLength {
        /// How many base32 symbols there were.
        symbols: usize,
    },
    /// Shorter than the 128 bits RFC 4226 requires.
    #[error(
        "it has {bits} bits; at least 128 are needed (generate 160: head -c 20 /dev/urandom | base32)"
    )]
    TooShort {
        /// The secret's length in bits.
        bits: usize,
    },
    /// The environment variable does not hold UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotText,
}

/// An approver's TOTP shared secret (the key an authenticator app holds).
///
/// The bytes are wiped from memory when the value is dropped, and `Debug`
/// prints `TotpSecret(<redacted>)`. There is deliberately no `Clone`, so the
/// secret exists in as few places as possible.
///
/// ```
/// use attesta::challenge::totp::TotpSecret;
/// use attesta::policy::{TotpAlgorithm, TotpSettings};
///
/// // The RFC 6238 test key, "12345678901234567890", in base32.
/// let secret = TotpSecret::from_base32("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ")?;
/// assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
/// let settings = TotpSettings { digits: 8, ..TotpSettings::default() };
/// assert_eq!(secret.totp(&settings, 59)?, "94287082");
/// assert_eq!(secret.hotp(TotpAlgorithm::Sha1, 0, 6)?, "755224");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TotpSecret {
    bytes: Zeroizing<Vec<u8>>,
}

impl TotpSecret {
    /// Decodes a base32 secret (RFC 4648): any case, spaces and `=` padding
    /// are accepted. At least 128 bits are required.
    pub fn from_base32(text: &str) -> Result<Self, InvalidSecret> {
        Self::checked(base32::decode(text)?)
    }

    /// A secret from raw key bytes; at least 16 bytes (128 bits).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, InvalidSecret> {
        Self::checked(Zeroizing::new(bytes))
    }

    /// A fresh 160-bit secret from the operating system's random number
    /// generator (the length RFC 4226 recommends), for enrolling an
    /// approver; `None` if the system has no randomness to give.
    pub fn generate() -> Option<Self> {
        use rand::TryRng as _;
        let mut bytes = Zeroizing::new(vec![0u8; 20]);
        rand::rngs::SysRng.try_fill_bytes(&mut bytes).ok()?;
        Some(Self { bytes })
    }

    /// The secret in base32 without padding, as authenticator apps take
    /// it (and as [`TotpSecret::from_base32`] reads it back).
    pub fn to_base32(&self) -> Zeroizing<String> {
        base32::encode(&self.bytes)
    }

    fn checked(bytes: Zeroizing<Vec<u8>>) -> Result<Self, InvalidSecret> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(InvalidSecret::TooShort {
                bits: bytes.len() * 8,
            });
        }
        Ok(Self { bytes })
    }

    /// The HOTP code (RFC 4226) for `counter`, with leading zeros.
    pub fn hotp(
        &self,
        algorithm: TotpAlgorithm,
        counter: u64,
        digits: u32,
    ) -> Result<String, TotpError> {
        code::check_digits(digits)?;
        let value = code::hotp_value(&self.bytes, algorithm, counter, digits)?;
        Ok(code::format_code(value, digits))
    }

    /// The TOTP code (RFC 6238) an authenticator app shows at
    /// `unix_seconds`, for the digits, period and algorithm in `settings`.
    pub fn totp(&self, settings: &TotpSettings, unix_seconds: u64) -> Result<String, TotpError> {
        let step = code::time_step(unix_seconds, settings.period_seconds)?;
        self.hotp(settings.algorithm, step, settings.digits)
    }

    /// The key bytes, for computing codes inside this module only.
    pub(super) fn key(&self) -> &[u8] {
        &self.bytes
    }
}

// Hand-written so the key never reaches logs, panics or error output.
impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "12345678901234567890" (the RFC test key) in base32.
    const RFC_KEY_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn short_secrets_are_refused() {
        // 80 bits: common in old set-up screens, below RFC 4226's minimum.
        assert_eq!(
            TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap_err(),
            InvalidSecret::TooShort { bits: 80 }
        );
        assert!(TotpSecret::from_bytes(vec![7; 15]).is_err());
        assert!(TotpSecret::from_bytes(vec![7; 16]).is_ok());
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secret = TotpSecret::from_base32(RFC_KEY_B32).expect("secret");
        let printed = format!("{secret:?} {secret:#?}");
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
        assert!(!printed.contains(RFC_KEY_B32));
        assert!(!printed.contains("1234567890"));
        assert!(
            !printed.contains("49, 50, 51"),
            "raw bytes leaked: {printed}"
        );
    }
}
