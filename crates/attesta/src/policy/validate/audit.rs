//! The `audit:` section.

use std::path::Path;

use super::read::{Field, Section};
use crate::policy::AuditSettings;
use crate::policy::tree::{Problem, quote};

/// Largest `audit.checkpoint_every`; any more and a checkpoint would
/// practically never be taken.
const MAX_CHECKPOINT_EVERY: i128 = 1_000_000_000;

/// Applies the `audit:` section to `audit`.
pub(super) fn apply(
    audit: &mut AuditSettings,
    field: &Field<'_>,
    base_dir: &Path,
) -> Result<(), Problem> {
    let section = Section::new(
        field,
        &[
            "backend",
            "path",
            "tenant_id",
            "hmac_key",
            "checkpoint_every",
            "key",
            "public_key",
            "fsync",
        ],
    )?;
    if let Some(f) = section.get("backend") {
        match f.token()?.as_str() {
            "legacy" => {}
            "trailproof" => {
                // The reference falls back to the legacy log with a warning
                // when TrailProof is missing; a file asking for it here would
                // get a different audit trail than it says, so it is refused.
                return Err(f.problem(
                    "the trailproof backend is not supported by this implementation; remove the \
                     key to use the built-in hash-chained log",
                ));
            }
            _ => {
                return Err(f.problem(format!(
                    "{} is not an audit backend; use legacy (or remove the key)",
                    quote(f.string()?.trim())
                )));
            }
        }
    }
    if let Some(f) = section.get("path") {
        audit.path = base_dir.join(f.non_empty_string()?);
    }
    if let Some(f) = section.get("tenant_id") {
        f.non_empty_string()?.clone_into(&mut audit.tenant_id);
    }
    if let Some(f) = section.get("hmac_key") {
        let key = f.string()?;
        if key.is_empty() {
            return Err(f.problem(
                "the key is empty, which would make keyed hashing worthless; set a secret or \
                 remove the key",
            ));
        }
        audit.hmac_key = Some(key.to_owned());
    }
    if let Some(f) = section.get("checkpoint_every") {
        let every = f.whole_in(
            1,
            MAX_CHECKPOINT_EVERY,
            "a whole number of entries, 1 or more",
        )?;
        // Range-checked above, so it fits.
        audit.checkpoint_every = Some(u64::try_from(every).unwrap_or(u64::MAX));
    }
    if let Some(f) = section.get("fsync") {
        use crate::audit::FsyncMode;
        audit.fsync = f.choice(
            "an fsync mode",
            &[
                ("always", FsyncMode::Always),
                ("batch", FsyncMode::Batch),
                ("never", FsyncMode::Never),
            ],
        )?;
    }
    if let Some(f) = section.get("key") {
        audit.key_path = base_dir.join(f.non_empty_string()?);
    }
    if let Some(f) = section.get("public_key") {
        audit.public_key_path = base_dir.join(f.non_empty_string()?);
    }
    Ok(())
}

/// Anchors the default log and key paths at the policy file's directory,
/// like `trust.store`, so every file a policy names lives beside it whatever
/// the working directory; called whether or not the file has an `audit:`
/// section.
pub(super) fn anchor_defaults(audit: &mut AuditSettings, base_dir: &Path) {
    audit.path = base_dir.join(&audit.path);
    audit.key_path = base_dir.join(AuditSettings::DEFAULT_KEY_PATH);
    audit.public_key_path = base_dir.join(AuditSettings::DEFAULT_PUBLIC_KEY_PATH);
}
