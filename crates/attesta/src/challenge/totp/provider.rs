//! Where approvers' secrets come from: the [`SecretProvider`] seam and the
//! policy-configured [`ConfiguredSecrets`] (environment variable or file).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::secret::{InvalidSecret, TotpSecret};
use crate::policy::{ApproverConfig, SecretSource};

/// Secret files are a line of base32; anything much larger is the wrong file
/// (and reading `/dev/zero` by mistake must not hang).
const MAX_SECRET_FILE_BYTES: u64 = 1024;

/// Why an approver's secret could not be had. Messages name the approver
/// and where the secret should be, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No secret is configured for this approver at all.
    #[error(
        "approver '{approver}' has no TOTP secret configured \
         (set totp_secret_env or totp_secret_file under approvers:)"
    )]
    NotConfigured {
        /// The approver id that was asked for.
        approver: String,
    },
    /// The configured environment variable is not set.
    #[error("approver '{approver}': environment variable {variable} is not set")]
    MissingVariable {
        /// The approver id.
        approver: String,
        /// The variable that should hold the secret.
        variable: String,
    },
    /// The configured file could not be opened or read.
    #[error("approver '{approver}': cannot read TOTP secret file {}: {message}", .path.display())]
    Unreadable {
        /// The approver id.
        approver: String,
        /// The file that should hold the secret.
        path: PathBuf,
        /// What went wrong (from the operating system).
        message: String,
    },
    /// The file can be read by its group or by other users, so the secret
    /// may already be known to someone else.
    #[error(
        "approver '{approver}': TOTP secret file {path} can be read by other users \
         (mode {mode:03o}); run chmod 600 {path}",
        path = .path.display()
    )]
    Exposed {
        /// The approver id.
        approver: String,
        /// The file holding the secret.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The variable or file holds something that is not a usable secret.
    #[error("approver '{approver}': the TOTP secret in {origin} is not valid base32: {problem}")]
    Invalid {
        /// The approver id.
        approver: String,
        /// Where it came from, in words (`environment variable ALICE_TOTP`).
        origin: String,
        /// What is wrong with it.
        problem: InvalidSecret,
    },
    /// A custom provider could not produce the secret (vault unreachable,
    /// access denied, ...).
    #[error("approver '{approver}': {message}")]
    Unavailable {
        /// The approver id.
        approver: String,
        /// What went wrong, worded for the approver.
        message: String,
    },
}

/// Where approvers' TOTP secrets come from. Implement it to read secrets
/// from a vault or keychain; [`ConfiguredSecrets`] reads the `approvers:`
/// list of the policy.
///
/// Implementations must not log or format the secret, and their `Debug`
/// output must not contain it.
pub trait SecretProvider: Send + Sync + fmt::Debug {
    /// The secret of `approver_id`. Called for every code checked, so a
    /// rotated secret takes effect without a restart.
    fn secret(&self, approver_id: &str) -> Result<TotpSecret, SecretError>;

    /// Whether `approver_id` has a secret configured at all, whether or not
    /// it can be read right now. A channel uses this to decide whether to
    /// ask for a code, so a misplaced secret is reported rather than
    /// silently skipped. The default asks [`SecretProvider::secret`].
    fn has_secret(&self, approver_id: &str) -> bool {
        !matches!(
            self.secret(approver_id),
            Err(SecretError::NotConfigured { .. })
        )
    }
}

/// Reads an environment variable; swappable so tests need not touch the
/// process environment.
type EnvLookup = Arc<dyn Fn(&str) -> Option<OsString> + Send + Sync>;

/// The secrets named in the policy's `approvers:` list: each approver's
/// `totp_secret_env` variable or `totp_secret_file` file, read afresh for
/// every check.
///
/// A secret file must not be readable by its group or by others (on Unix;
/// elsewhere the check is skipped): `chmod 600` it.
///
/// ```
/// use attesta::challenge::totp::{ConfiguredSecrets, SecretError, SecretProvider};
/// use attesta::policy::{ApproverConfig, SecretSource};
///
/// let approvers = [ApproverConfig {
///     id: "alice".into(),
///     totp_secret: Some(SecretSource::Env("ATTESTA_DOC_UNSET_VARIABLE".into())),
///     os_user: None,
/// }];
/// let secrets = ConfiguredSecrets::from_approvers(&approvers);
/// assert!(secrets.has_secret("alice"));
/// assert!(!secrets.has_secret("mallory"));
/// let error = secrets.secret("alice").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "approver 'alice': environment variable ATTESTA_DOC_UNSET_VARIABLE is not set"
/// );
/// ```
#[derive(Clone)]
pub struct ConfiguredSecrets {
    /// Approver id → where that approver's secret is.
    sources: BTreeMap<String, SecretSource>,
    /// How environment variables are read.
    env: EnvLookup,
}

impl ConfiguredSecrets {
    /// The sources of every approver that has `totp_secret_env` or
    /// `totp_secret_file`; the others have no code.
    pub fn from_approvers(approvers: &[ApproverConfig]) -> Self {
        let sources = approvers
            .iter()
            .filter_map(|a| Some((a.id.clone(), a.totp_secret.clone()?)))
            .collect();
        Self {
            sources,
            env: Arc::new(|name: &str| std::env::var_os(name)),
        }
    }

    /// Reads environment variables through `lookup` instead of the process
    /// environment: for tests, or for a supervisor that hands secrets over
    /// some other way.
    #[must_use]
    pub fn with_env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<OsString> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(lookup);
        self
    }

    /// Where `approver_id`'s secret is configured, if anywhere.
    pub fn source(&self, approver_id: &str) -> Option<&SecretSource> {
        self.sources.get(approver_id)
    }

    fn read_env(&self, approver: &str, variable: &str) -> Result<TotpSecret, SecretError> {
        let Some(value) = (self.env)(variable) else {
            return Err(SecretError::MissingVariable {
                approver: approver.to_owned(),
                variable: variable.to_owned(),
            });
        };
        let invalid = |problem| SecretError::Invalid {
            approver: approver.to_owned(),
            origin: format!("environment variable {variable}"),
            problem,
        };
        // `into_string` reuses the buffer, so no extra copy is left behind.
        let text = Zeroizing::new(
            value
                .into_string()
                .map_err(|_| invalid(InvalidSecret::NotText))?,
        );
        TotpSecret::from_base32(&text).map_err(invalid)
    }
}

fn read_file_secret(approver: &str, path: &Path) -> Result<TotpSecret, SecretError> {
    let text = read_private_file(path).map_err(|failure| match failure {
        FileFailure::Exposed(mode) => SecretError::Exposed {
            approver: approver.to_owned(),
            path: path.to_owned(),
            mode,
        },
        FileFailure::Io(message) => SecretError::Unreadable {
            approver: approver.to_owned(),
            path: path.to_owned(),
            message,
        },
    })?;
    TotpSecret::from_base32(&text).map_err(|problem| SecretError::Invalid {
        approver: approver.to_owned(),
        origin: format!("file {}", path.display()),
        problem,
    })
}

impl SecretProvider for ConfiguredSecrets {
    fn secret(&self, approver_id: &str) -> Result<TotpSecret, SecretError> {
        match self.sources.get(approver_id) {
            None => Err(SecretError::NotConfigured {
                approver: approver_id.to_owned(),
            }),
            Some(SecretSource::Env(variable)) => self.read_env(approver_id, variable),
            Some(SecretSource::File(path)) => read_file_secret(approver_id, path),
        }
    }

    fn has_secret(&self, approver_id: &str) -> bool {
        self.sources.contains_key(approver_id)
    }
}

// Hand-written because the lookup function has no `Debug`; the sources are
// variable names and paths, never secrets.
impl fmt::Debug for ConfiguredSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfiguredSecrets")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

enum FileFailure {
    /// Group or other permission bits are set.
    Exposed(u32),
    /// Opening or reading failed.
    Io(String),
}

/// An owner-only secret file's text (a TOTP secret, an approval server
/// token), or why it cannot be used, in words that say what to do.
#[cfg(feature = "remote")]
pub(crate) fn read_owner_only(path: &Path) -> Result<Zeroizing<String>, String> {
    read_private_file(path).map_err(|failure| match failure {
        FileFailure::Exposed(mode) => format!(
            "{} can be read by others (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        ),
        FileFailure::Io(e) => format!("cannot read {}: {e}", path.display()),
    })
}

/// Reads a small secret file after checking, on the open handle (so the
/// file cannot be swapped between check and read), that only its owner can
/// read it.
fn read_private_file(path: &Path) -> Result<Zeroizing<String>, FileFailure> {
    let file = File::open(path).map_err(|e| FileFailure::Io(e.to_string()))?;
    let metadata = file
        .metadata()
        .map_err(|e| FileFailure::Io(e.to_string()))?;
    check_private(&metadata)?;
    if metadata.len() > MAX_SECRET_FILE_BYTES {
        return Err(FileFailure::Io(format!(
            "it is {} bytes; a TOTP secret file holds one line of base32",
            metadata.len()
        )));
    }
    // Sized up front so reading never reallocates and strands a copy.
    let capacity = usize::try_from(MAX_SECRET_FILE_BYTES + 1).unwrap_or(1025);
    let mut text = Zeroizing::new(String::with_capacity(capacity));
    file.take(MAX_SECRET_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| FileFailure::Io(e.to_string()))?;
    Ok(text)
}

#[cfg(unix)]
fn check_private(metadata: &std::fs::Metadata) -> Result<(), FileFailure> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    let group_or_other = mode & 0o077;
    if group_or_other == 0 {
        Ok(())
    } else {
        Err(FileFailure::Exposed(mode))
    }
}

#[cfg(not(unix))]
fn check_private(_metadata: &std::fs::Metadata) -> Result<(), FileFailure> {
    // Windows ACLs do not map onto mode bits; protecting the file is left
    // to the profile directory's default ACL.
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::policy::TotpAlgorithm;

    /// "12345678901234567890" (the RFC test key) in base32.
    const RFC_KEY_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn approver(id: &str, source: SecretSource) -> ApproverConfig {
        ApproverConfig {
            id: id.to_owned(),
            totp_secret: Some(source),
            os_user: None,
        }
    }

    fn with_env(approvers: &[ApproverConfig], vars: &[(&str, &str)]) -> ConfiguredSecrets {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ConfiguredSecrets::from_approvers(approvers)
            .with_env_lookup(move |name| vars.get(name).map(OsString::from))
    }

    fn secret_file(contents: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("alice.totp");
        let mut file = File::create(&path).expect("create");
        file.write_all(contents.as_bytes()).expect("write");
        set_mode(&path, mode);
        (dir, path)
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[cfg(not(unix))]
    fn set_mode(_path: &Path, _mode: u32) {}

    fn rfc_code(secret: &TotpSecret) -> String {
        secret.hotp(TotpAlgorithm::Sha1, 0, 6).expect("hotp")
    }

    #[test]
    fn env_source_reads_the_named_variable() {
        let secrets = with_env(
            &[approver("alice", SecretSource::Env("ALICE_TOTP".into()))],
            &[("ALICE_TOTP", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq")],
        );
        let secret = secrets.secret("alice").expect("secret");
        assert_eq!(rfc_code(&secret), "755224");
    }

    #[test]
    fn missing_variable_names_approver_and_variable() {
        let approvers = [approver(
            "alice",
            SecretSource::Env("ATTESTA_TEST_SURELY_UNSET_TOTP".into()),
        )];
        // The real process environment, not a stand-in.
        let secrets = ConfiguredSecrets::from_approvers(&approvers);
        let error = secrets.secret("alice").unwrap_err();
        assert_eq!(
            error.to_string(),
            "approver 'alice': environment variable ATTESTA_TEST_SURELY_UNSET_TOTP is not set"
        );
        assert!(secrets.has_secret("alice"), "configured, though unreadable");
    }

    #[test]
    fn invalid_base32_names_the_source_but_not_the_secret() {
        let secrets = with_env(
            &[approver("alice", SecretSource::Env("ALICE_TOTP".into()))],
            &[("ALICE_TOTP", "GEZDGNBVGY3TQOJQ1EZDGNBVGY3TQOJQ")],
        );
        let message = secrets.secret("alice").unwrap_err().to_string();
        assert_eq!(
            message,
            "approver 'alice': the TOTP secret in environment variable ALICE_TOTP is not \
             valid base32: character 17 is not a base32 letter (A-Z, 2-7)"
        );
        assert!(!message.contains("GEZD"));
    }

    #[test]
    fn unknown_approver_is_not_configured() {
        let secrets = with_env(&[], &[]);
        assert!(!secrets.has_secret("bob"));
        assert_eq!(
            secrets.secret("bob").unwrap_err(),
            SecretError::NotConfigured {
                approver: "bob".into()
            }
        );
        let no_totp = ApproverConfig {
            id: "carol".into(),
            totp_secret: None,
            os_user: Some("carol".into()),
        };
        assert!(!ConfiguredSecrets::from_approvers(&[no_totp]).has_secret("carol"));
    }

    #[test]
    fn private_file_is_read() {
        let (_dir, path) = secret_file(&format!("{RFC_KEY_B32}\n"), 0o600);
        let secrets =
            ConfiguredSecrets::from_approvers(&[approver("alice", SecretSource::File(path))]);
        assert_eq!(
            rfc_code(&secrets.secret("alice").expect("secret")),
            "755224"
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_readable_by_others_is_refused_with_chmod_advice() {
        let (_dir, path) = secret_file(RFC_KEY_B32, 0o644);
        let secrets = ConfiguredSecrets::from_approvers(&[approver(
            "alice",
            SecretSource::File(path.clone()),
        )]);
        let error = secrets.secret("alice").unwrap_err();
        assert!(matches!(error, SecretError::Exposed { mode: 0o644, .. }));
        let message = error.to_string();
        assert!(message.contains("approver 'alice'"), "{message}");
        assert!(
            message.contains(&format!("chmod 600 {}", path.display())),
            "{message}"
        );
        assert!(!message.contains(RFC_KEY_B32));
        // Group-readable alone is enough to refuse.
        let (_dir, path) = secret_file(RFC_KEY_B32, 0o640);
        let secrets =
            ConfiguredSecrets::from_approvers(&[approver("alice", SecretSource::File(path))]);
        assert!(matches!(
            secrets.secret("alice"),
            Err(SecretError::Exposed { mode: 0o640, .. })
        ));
    }

    #[test]
    fn missing_or_invalid_file_names_approver_and_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nobody.totp");
        let secrets =
            ConfiguredSecrets::from_approvers(&[approver("bob", SecretSource::File(path.clone()))]);
        let message = secrets.secret("bob").unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "approver 'bob': cannot read TOTP secret file {}",
                path.display()
            )),
            "{message}"
        );

        let (_dir, path) = secret_file("not base32 at all!", 0o600);
        let secrets =
            ConfiguredSecrets::from_approvers(&[approver("bob", SecretSource::File(path.clone()))]);
        let message = secrets.secret("bob").unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "approver 'bob': the TOTP secret in file {} is not valid base32",
                path.display()
            )),
            "{message}"
        );
    }

    #[test]
    fn oversized_file_is_refused() {
        let (_dir, path) = secret_file(&"A".repeat(4096), 0o600);
        let secrets =
            ConfiguredSecrets::from_approvers(&[approver("bob", SecretSource::File(path))]);
        assert!(matches!(
            secrets.secret("bob"),
            Err(SecretError::Unreadable { .. })
        ));
    }

    #[test]
    fn provider_debug_output_never_contains_secrets() {
        // The secret's own Debug is tested in `secret.rs`; this checks the
        // provider, which holds sources and reads secrets on demand.
        let (_dir, path) = secret_file(RFC_KEY_B32, 0o600);
        let secrets = with_env(
            &[
                approver("alice", SecretSource::Env("ALICE_TOTP".into())),
                approver("bob", SecretSource::File(path)),
            ],
            &[("ALICE_TOTP", RFC_KEY_B32)],
        );
        // Load both so any caching would show up in the output.
        secrets.secret("alice").expect("alice");
        secrets.secret("bob").expect("bob");
        let printed = format!("{secrets:?} {secrets:#?}");
        assert!(
            printed.contains("ALICE_TOTP"),
            "sources are shown: {printed}"
        );
        assert!(!printed.contains(RFC_KEY_B32));
        assert!(!printed.contains("1234567890"));
    }
}
