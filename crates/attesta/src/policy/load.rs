//! Strict loading of `attesta.yaml` / `attesta.toml`. (Placeholder until the
//! loader lands; every call reports that loading is not available yet.)

use std::path::Path;

use super::Policy;

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Placeholder.
    #[error("{0}")]
    Invalid(String),
}

pub(super) fn from_file(path: &Path) -> Result<Policy, PolicyError> {
    Err(PolicyError::Invalid(format!(
        "cannot load {} yet",
        path.display()
    )))
}

pub(super) fn from_text(_text: &str, path: &Path) -> Result<Policy, PolicyError> {
    Err(PolicyError::Invalid(format!(
        "cannot load {} yet",
        path.display()
    )))
}
