//! Who may talk to the server: principals, their kinds and groups, and the
//! bearer tokens that prove who they are.
//!
//! A token is shown once, when the principal is created, and stored only as
//! its SHA-256: the database alone never lets anyone act as a principal.
//! Tokens are 32 random bytes (256 bits), so a plain hash is enough; no slow
//! password hash is needed for a secret nobody chose.

use std::fmt;
use std::str::FromStr;

use rand::TryRng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// Agents, gateways and library users: submit approvals and read their
    /// own. Never answer.
    Requester,
    /// People: list what they may answer, and answer. Never submit.
    Approver,
    /// Operators: manage principals.
    Admin,
}

impl PrincipalKind {
    /// The name used in the database, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requester => "requester",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PrincipalKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "requester" => Ok(Self::Requester),
            "approver" => Ok(Self::Approver),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "unknown principal kind `{other}`; use requester, approver or admin"
            )),
        }
    }
}

/// A principal as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The unique name (`alice`, `deploy-bot`): what audit records show.
    pub id: String,
    /// What it may do.
    pub kind: PrincipalKind,
    /// Groups for approval scopes (`dba`, `sre`).
    pub groups: Vec<String>,
    /// Whether answers need a TOTP code as a second factor.
    pub has_totp: bool,
    /// When it was created (Unix milliseconds).
    pub created_at_ms: i64,
    /// When its token was revoked, if it was (Unix milliseconds).
    pub revoked_at_ms: Option<i64>,
}

impl Principal {
    /// Whether the principal may still act.
    pub fn is_active(&self) -> bool {
        self.revoked_at_ms.is_none()
    }
}

/// What `attesta server principals add` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrincipal {
    /// The unique name.
    pub id: String,
    /// What it may do.
    pub kind: PrincipalKind,
    /// Groups for approval scopes.
    pub groups: Vec<String>,
}

/// The longest principal id or group name.
const MAX_NAME: usize = 64;

/// Checks a principal id or group name: 1–64 characters of ASCII letters,
/// digits, `.`, `_`, `-` and `@`, so names are unambiguous in audit records
/// and never look like another name (no Unicode look-alikes, no spaces).
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "the {what} must be 1 to {MAX_NAME} characters long, got {}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(format!(
            "the {what} `{}` contains {bad:?}; use ASCII letters, digits, `.`, `_`, `-` and `@`",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// What every token starts with, so a leaked one is easy to recognise (and
/// for secret scanners to find).
pub const TOKEN_PREFIX: &str = "attesta_";

/// A bearer token in the clear: exists only between its creation and the
/// moment it is shown, and in a client's memory. Redacted in `Debug`,
/// wiped on drop.
pub struct Token(Zeroizing<String>);

impl Token {
    /// A fresh token of 256 random bits from the operating system.
    pub fn generate() -> Result<Self, String> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::SysRng
            .try_fill_bytes(bytes.as_mut())
            .map_err(|e| format!("no randomness for a new token: {e}"))?;
        let mut text = Zeroizing::new(String::with_capacity(TOKEN_PREFIX.len() + 64));
        text.push_str(TOKEN_PREFIX);
        for b in bytes.iter() {
            text.push(hex_digit(b >> 4));
            text.push(hex_digit(b & 0xf));
        }
        Ok(Self(text))
    }

    /// A token someone presented (from an `Authorization` header or a file).
    pub fn from_presented(text: &str) -> Self {
        Self(Zeroizing::new(text.trim().to_owned()))
    }

    /// The token's text, to show once or to send.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the server stores and looks tokens up by.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The stored form of a token: lowercase hex SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of a token's text.
    pub fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push(hex_digit(b >> 4));
            hex.push(hex_digit(b & 0xf));
        }
        Self(hex)
    }

    /// A hash read back from the database.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_redacted_and_hashed() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(a.expose().len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(format!("{a:?}"), "Token(<redacted>)");
        assert_eq!(a.hash(), Token::from_presented(a.expose()).hash());
        assert_ne!(a.hash(), b.hash());
        // sha256("abc")
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_are_plain_ascii() {
        assert!(check_name("principal id", "alice").is_ok());
        assert!(check_name("principal id", "deploy-bot@ci.example").is_ok());
        for bad in ["", "a b", "\u{430}lice", "x/y", &"a".repeat(65)] {
            assert!(check_name("principal id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kinds_parse_and_print() {
        for kind in [
            PrincipalKind::Requester,
            PrincipalKind::Approver,
            PrincipalKind::Admin,
        ] {
            assert_eq!(kind.as_str().parse::<PrincipalKind>().unwrap(), kind);
        }
        assert!(
            "root"
                .parse::<PrincipalKind>()
                .unwrap_err()
                .contains("requester")
        );
    }
}
