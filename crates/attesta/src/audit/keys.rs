//! Ed25519 keys that sign audit checkpoints: an [`AuditSigningKey`] kept in
//! a private file next to the log, and an [`AuditPublicKey`] that is all a
//! verifier needs.
//!
//! Both files are small UTF-8 text files: a version line, then `name: value`
//! lines; blank lines and lines starting with `#` are ignored.
//!
//! ```text
//! attesta-audit-signing-key v1
//! # Signs audit checkpoints. Keep it secret; never share or commit it.
//! key-id: 3f2a9c0d51b7e846
//! secret: <64 lowercase hex digits: the 32-byte Ed25519 seed>
//! ```
//!
//! ```text
//! attesta-audit-public-key v1
//! key-id: 3f2a9c0d51b7e846
//! public: <64 lowercase hex digits: the 32-byte Ed25519 public key>
//! ```
//!
//! The key id is the first 16 hex digits of SHA-256 over the 32 public key
//! bytes; a `key-id` line that disagrees with the key is refused. The private
//! file is created with mode 0600 and `create_new`, so an existing key is
//! never overwritten by accident, and loading refuses a private file that
//! the group or others may read.

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::TryRng as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// First line of a private key file.
const PRIVATE_HEADER: &str = "attesta-audit-signing-key v1";
/// First line of a public key file.
const PUBLIC_HEADER: &str = "attesta-audit-public-key v1";
/// Key files are a few lines; anything much larger is not one.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why a key could not be created, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file is already at the path and replacing it was not asked for.
    #[error(
        "{} already exists; refusing to overwrite a key (checkpoints signed with it could no \
         longer be checked against a new one). Move it aside first, or replace it explicitly \
         (attesta init --force)",
        path.display()
    )]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// The key file could not be read (missing, unreadable, a directory).
    #[error(
        "cannot read key file {}: {io}; check the path (attesta init creates the key pair)",
        path.display()
    )]
    Read {
        /// The key file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },
    /// Creating the directory or the file, writing or syncing it failed.
    #[error(
        "cannot write key file {}: {io}; check that the directory is writable",
        path.display()
    )]
    Write {
        /// The key file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },
    /// The file is not a key file of the expected kind and version, or its
    /// key id does not match its key.
    #[error("{} is not a valid {kind} file: {detail}", path.display())]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// `audit signing key` or `audit public key`.
        kind: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The private key file may be read by the group or others.
    #[error(
        "private key file {} has mode {mode:03o}, readable by other users; run \
         `chmod 600 {}` (and consider the key exposed)",
        path.display(),
        path.display()
    )]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The operating system's random number generator failed.
    #[error("no randomness for a new signing key: {0}")]
    Random(String),
}

/// The private half: signs checkpoints. Its `Debug` shows only the key id.
pub struct AuditSigningKey {
    /// The Ed25519 key; zeroized on drop by `ed25519-dalek`.
    key: SigningKey,
}

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigningKey")
            .field("key_id", &self.public_key().key_id())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The public half: verifies checkpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditPublicKey {
    /// The Ed25519 public key.
    key: VerifyingKey,
}

impl fmt::Debug for AuditPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditPublicKey")
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl AuditSigningKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::SysRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    /// The key for a 32-byte Ed25519 seed (for tests and key import).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> AuditPublicKey {
        AuditPublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// Signs `message`; returns the 64-byte signature.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Reads a private key file. Refuses (on Unix) a file the group or
    /// others may read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = read_key_file(path, true)?;
        let fields = parse_fields(path, "audit signing key", &text, PRIVATE_HEADER, "secret")?;
        let mut seed = Zeroizing::new([0u8; 32]);
        hex_decode_into(&fields.value, seed.as_mut()).ok_or_else(|| KeyError::Malformed {
            path: path.to_owned(),
            kind: "audit signing key",
            detail: "the secret is not 64 hex digits".to_owned(),
        })?;
        let key = Self::from_seed(&seed);
        fields.check_id(path, "audit signing key", &key.public_key())?;
        Ok(key)
    }

    /// Writes the key pair: the private key to `private_path` (mode 0600)
    /// and the public key to `public_path` (mode 0644), creating missing
    /// directories with mode 0700.
    ///
    /// Unless `replace` is true, fails with [`KeyError::Exists`] if either
    /// file exists, before writing anything. With `replace`, each file is
    /// written to a temporary name and renamed over the old one, so a crash
    /// never leaves half a key.
    pub fn save(
        &self,
        private_path: &Path,
        public_path: &Path,
        replace: bool,
    ) -> Result<(), KeyError> {
        if !replace {
            for path in [private_path, public_path] {
                if fs::symlink_metadata(path).is_ok() {
                    return Err(KeyError::Exists {
                        path: path.to_owned(),
                    });
                }
            }
        }
        let secret = Zeroizing::new(format!(
            "{PRIVATE_HEADER}\n# Signs audit checkpoints. Keep it secret; never share or commit \
             it.\nkey-id: {}\nsecret: {}\n",
            self.public_key().key_id(),
            hex_encode(self.key.as_bytes())
        ));
        write_key_file(private_path, secret.as_bytes(), 0o600, replace)?;
        write_key_file(
            public_path,
            self.public_key().to_file_text().as_bytes(),
            0o644,
            replace,
        )
    }
}

impl AuditPublicKey {
    /// The public key for 32 raw bytes; `None` if they are not a valid
    /// Ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        VerifyingKey::from_bytes(bytes).ok().map(|key| Self { key })
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// First 16 hex digits of SHA-256 over the public key bytes.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.key.as_bytes());
        hex_encode(&digest[..8])
    }

    /// Whether `signature` is a valid signature of `message` by this key
    /// (strict verification: no malleable or small-order encodings).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }

    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = read_key_file(path, false)?;
        let fields = parse_fields(path, "audit public key", &text, PUBLIC_HEADER, "public")?;
        let malformed = |detail: &str| KeyError::Malformed {
            path: path.to_owned(),
            kind: "audit public key",
            detail: detail.to_owned(),
        };
        let mut bytes = [0u8; 32];
        hex_decode_into(&fields.value, &mut bytes)
            .ok_or_else(|| malformed("the public key is not 64 hex digits"))?;
        let key = Self::from_bytes(&bytes)
            .ok_or_else(|| malformed("the bytes are not an Ed25519 key"))?;
        fields.check_id(path, "audit public key", &key)?;
        Ok(key)
    }

    /// The public key file's text.
    pub fn to_file_text(&self) -> String {
        format!(
            "{PUBLIC_HEADER}\nkey-id: {}\npublic: {}\n",
            self.key_id(),
            hex_encode(self.key.as_bytes())
        )
    }
}

/// The fields of a key file after the version line.
struct KeyFields {
    /// The `key-id` line, if given.
    key_id: Option<String>,
    /// The key material (`secret` or `public`), as hex.
    value: Zeroizing<String>,
}

impl KeyFields {
    fn check_id(
        &self,
        path: &Path,
        kind: &'static str,
        key: &AuditPublicKey,
    ) -> Result<(), KeyError> {
        match &self.key_id {
            Some(id) if *id != key.key_id() => Err(KeyError::Malformed {
                path: path.to_owned(),
                kind,
                detail: format!(
                    "its key-id line says {id} but the key's id is {}; the file was edited or \
                     mixed up with another key",
                    key.key_id()
                ),
            }),
            _ => Ok(()),
        }
    }
}

fn parse_fields(
    path: &Path,
    kind: &'static str,
    text: &str,
    header: &str,
    value_name: &str,
) -> Result<KeyFields, KeyError> {
    let malformed = |detail: String| KeyError::Malformed {
        path: path.to_owned(),
        kind,
        detail,
    };
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some(first) if first == header => {}
        Some(first) if first.starts_with("attesta-audit-") => {
            return Err(malformed(format!(
                "it starts with {first:?}, expected {header:?} (wrong kind of key file or a \
                 newer version)"
            )));
        }
        _ => return Err(malformed(format!("the first line must be {header:?}"))),
    }
    let mut key_id = None;
    let mut value = None;
    for line in lines {
        let Some((name, v)) = line.split_once(':') else {
            return Err(malformed(
                "every line after the first must be `name: value`".into(),
            ));
        };
        let v = v.trim();
        match name.trim() {
            "key-id" if key_id.is_none() => key_id = Some(v.to_owned()),
            n if n == value_name && value.is_none() => value = Some(Zeroizing::new(v.to_owned())),
            n => {
                return Err(malformed(format!(
                    "unexpected or repeated line {n:?}; only key-id and {value_name} belong here"
                )));
            }
        }
    }
    let value = value.ok_or_else(|| malformed(format!("it has no {value_name} line")))?;
    Ok(KeyFields { key_id, value })
}

fn read_key_file(path: &Path, private: bool) -> Result<Zeroizing<String>, KeyError> {
    use std::io::Read as _;
    let read_error = |io| KeyError::Read {
        path: path.to_owned(),
        io,
    };
    let file = fs::File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if private {
        check_private(path, &metadata)?;
    }
    let mut text = Zeroizing::new(String::with_capacity(256));
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    Ok(text)
}

#[cfg(unix)]
fn check_private(path: &Path, metadata: &fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o777;
    let group_or_other = mode & 0o077;
    if group_or_other == 0 {
        Ok(())
    } else {
        Err(KeyError::Exposed {
            path: path.to_owned(),
            mode,
        })
    }
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _metadata: &fs::Metadata) -> Result<(), KeyError> {
    // Windows ACLs do not map onto mode bits.
    Ok(())
}

/// Creates `path` with `mode` (`create_new`), or with `replace` writes a
/// temporary sibling and renames it over `path`.
fn write_key_file(path: &Path, contents: &[u8], mode: u32, replace: bool) -> Result<(), KeyError> {
    let write_error = |io| KeyError::Write {
        path: path.to_owned(),
        io,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(write_error)?;
    }
    let target = if replace {
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".new-{}", std::process::id()));
        path.with_file_name(name)
    } else {
        path.to_owned()
    };
    let result = (|| -> io::Result<()> {
        let mut file = open_new(&target, mode)?;
        file.write_all(contents)?;
        file.sync_all()?;
        if replace {
            fs::rename(&target, path)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(()),
        Err(io) if io.kind() == io::ErrorKind::AlreadyExists && !replace => Err(KeyError::Exists {
            path: path.to_owned(),
        }),
        Err(io) => {
            if replace {
                // Best effort: do not leave a stray copy of the key behind.
                let _ = fs::remove_file(&target);
            }
            Err(write_error(io))
        }
    }
}

/// `mkdir -p` with mode 0700 for the directories it creates (Unix).
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn open_new(path: &Path, mode: u32) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Lowercase hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Decodes hex (either case) into exactly `out.len()` bytes.
pub(crate) fn hex_decode_into(text: &str, out: &mut [u8]) -> Option<()> {
    let digits = text.as_bytes();
    if digits.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        // Two hex digits always fit a byte.
        *byte = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = AuditSigningKey::from_seed(&[7u8; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains(&hex_encode(&[7u8; 32])), "{shown}");
        assert!(shown.contains(&key.public_key().key_id()));
    }

    #[test]
    fn signatures_verify_only_with_the_right_key_and_message() {
        let key = AuditSigningKey::from_seed(&[1u8; 32]);
        let other = AuditSigningKey::from_seed(&[2u8; 32]);
        let sig = key.sign(b"hello");
        assert!(key.public_key().verify(b"hello", &sig));
        assert!(!key.public_key().verify(b"hellO", &sig));
        assert!(!other.public_key().verify(b"hello", &sig));
        assert_eq!(key.public_key().key_id().len(), 16);
        assert_ne!(key.public_key().key_id(), other.public_key().key_id());
    }

    #[test]
    fn hex_round_trips_and_refuses_bad_digits() {
        let mut out = [0u8; 3];
        assert_eq!(hex_decode_into("00ffA1", &mut out), Some(()));
        assert_eq!(out, [0, 255, 0xa1]);
        assert_eq!(hex_encode(&out), "00ffa1");
        assert_eq!(hex_decode_into("00ffg1", &mut out), None);
        assert_eq!(hex_decode_into("00ff", &mut out), None);
    }
}
