//! `attesta init`: a commented `attesta.yaml` with safe defaults, and the
//! audit signing key pair in `.attesta/` (mode 0700).

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use attesta::audit::{AuditPublicKey, AuditSigningKey};

use crate::cli::InitArgs;

/// The file `attesta init` writes; it must load with `Policy::from_file`.
const TEMPLATE: &str = include_str!("init.yaml");

const CONFIG: &str = "attesta.yaml";
const STATE_DIR: &str = ".attesta";
const PRIVATE_KEY: &str = ".attesta/audit.key";
const PUBLIC_KEY: &str = ".attesta/audit.pub";

pub(crate) fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot tell the current directory")?;
    let config = cwd.join(CONFIG);
    let (private, public) = (cwd.join(PRIVATE_KEY), cwd.join(PUBLIC_KEY));
    // Check everything before writing anything, so a refusal changes nothing.
    if !args.force {
        for path in [&config, &private, &public] {
            if fs::symlink_metadata(path).is_ok() {
                bail!(
                    "{} already exists; refusing to overwrite it. Move it aside, or run \
                     `attesta init --force` to replace it{}",
                    path.display(),
                    if path == &config {
                        ""
                    } else {
                        " (checkpoints signed with the old key will no longer verify)"
                    }
                );
            }
        }
    }
    let old_key_id = AuditPublicKey::load(&public).ok().map(|k| k.key_id());

    let dir = cwd.join(STATE_DIR);
    let dir_existed = dir.is_dir();
    create_private_dir(&dir)?;
    write_config(&config, args.force)?;
    let key = AuditSigningKey::generate()?;
    key.save(&private, &public, args.force)?;
    let key_id = key.public_key().key_id();

    let mut out = io::stdout().lock();
    writeln!(out, "Created {}", config.display())?;
    if !dir_existed {
        writeln!(out, "Created {}/ (mode 0700)", dir.display())?;
    }
    writeln!(
        out,
        "Created {} (checkpoint signing key, mode 0600; keep it secret)",
        private.display()
    )?;
    writeln!(
        out,
        "Created {} (public key, id {key_id}; all a verifier needs)",
        public.display()
    )?;
    if let Some(old) = old_key_id.filter(|old| *old != key_id) {
        writeln!(
            out,
            "Replaced signing key {old}: checkpoints it signed now report \"signed by another \
             key\"; keep the old audit.pub to check them."
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Next steps:")?;
    writeln!(
        out,
        "  1. Edit {CONFIG}: list your approvers (with TOTP secrets) and pick domain profiles."
    )?;
    writeln!(
        out,
        "  2. Keep a copy of {PUBLIC_KEY} somewhere the agents cannot write."
    )?;
    writeln!(
        out,
        "  3. Sign a checkpoint of the audit log now and then: attesta audit checkpoint"
    )?;
    Ok(ExitCode::SUCCESS)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes the template: `create_new` unless `force`, and then through a
/// temporary file renamed over the old one.
fn write_config(path: &Path, force: bool) -> anyhow::Result<()> {
    let context = || format!("cannot write {}", path.display());
    if !force {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(context)?;
        return file.write_all(TEMPLATE.as_bytes()).with_context(context);
    }
    let tmp = PathBuf::from(format!("{}.new-{}", path.display(), std::process::id()));
    fs::write(&tmp, TEMPLATE).with_context(context)?;
    fs::rename(&tmp, path).with_context(context)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use attesta::Policy;
    use attesta::policy::FailMode;

    use super::TEMPLATE;

    #[test]
    fn the_template_loads_and_keeps_the_safe_defaults() {
        let p = Policy::from_str_named(TEMPLATE, Path::new("attesta.yaml")).unwrap();
        let defaults = Policy::default();
        assert_eq!(p.challenge_map, defaults.challenge_map);
        assert_eq!(p.min_review_seconds, defaults.min_review_seconds);
        assert_eq!(p.fail_mode, FailMode::Deny);
        assert_eq!(p.required_approvers, 2);
        assert!(p.trust.is_none(), "trust stays off until enabled");
        assert_eq!(p.audit.checkpoint_every, Some(100));
        assert!(p.warnings.is_empty());
    }
}
