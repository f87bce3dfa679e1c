//! Finding and loading the policy for a command.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use attesta::{Attesta, Policy};

/// Where the policy came from, for messages.
#[derive(Debug, Clone)]
pub(crate) enum PolicySource {
    File(PathBuf),
    BuiltIn,
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::BuiltIn => f.write_str("built-in defaults (no attesta.yaml found)"),
        }
    }
}

const DEFAULT_NAMES: [&str; 3] = ["attesta.yaml", "attesta.yml", "attesta.toml"];

/// The policy file a command uses: the explicitly named one (whether or not
/// it exists, so that a mistyped `--config` is an error, not the defaults),
/// else the first default file in the current directory, else none.
pub(crate) fn policy_file(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => DEFAULT_NAMES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    }
}

/// The explicitly named policy file (which must exist and be valid), else the
/// first default file in the current directory, else the built-in policy.
pub(crate) fn load_policy(explicit: Option<&Path>) -> anyhow::Result<(Policy, PolicySource)> {
    match policy_file(explicit) {
        Some(path) => {
            let policy = Policy::from_file(&path)?;
            for warning in &policy.warnings {
                eprintln!("attesta: warning: {warning}");
            }
            Ok((policy, PolicySource::File(path)))
        }
        None => Ok((Policy::default(), PolicySource::BuiltIn)),
    }
}

/// An engine for previews under `policy`; what building it found worth
/// saying goes to stderr.
pub(crate) fn engine(policy: Policy) -> anyhow::Result<Attesta> {
    let engine = Attesta::builder()
        .policy(policy)
        .build()
        .context("the policy cannot be used")?;
    print_startup_warnings(&engine);
    Ok(engine)
}

/// `Attesta::startup_warnings` (for example a domain shorthand rule that
/// names nothing its profile knows), on stderr.
pub(crate) fn print_startup_warnings(engine: &Attesta) {
    for warning in engine.startup_warnings() {
        eprintln!("attesta: warning: {warning}");
    }
}
