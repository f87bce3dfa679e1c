//! `attesta domains`: the built-in profiles, one profile in full, and
//! checking profile files before a policy uses them.

mod check;
mod list;
mod show;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use attesta::domain::{DomainProfile, DomainRegistry, is_profile_path};
use serde::Serialize;

use crate::cli::DomainsCommand;

pub(crate) fn run(command: &DomainsCommand) -> anyhow::Result<ExitCode> {
    match command {
        DomainsCommand::List { json } => list::run(*json),
        DomainsCommand::Show { profile, json } => show::run(profile, *json),
        DomainsCommand::Check { files, json } => check::run(files, *json),
    }
}

/// The built-in profiles, with their aliases.
fn presets() -> anyhow::Result<DomainRegistry> {
    // Presets are checked by the test suite; failing here means a broken build.
    DomainRegistry::with_presets().context("the built-in domain profiles do not load")
}

/// Where a profile came from.
enum Origin {
    /// A built-in preset, with its aliases.
    Preset { aliases: Vec<String> },
    /// A profile file.
    File(PathBuf),
}

/// A built-in name or alias, else a profile file. A path (containing a
/// separator or ending in `.yaml`/`.yml`) is always a file; another word is
/// a file only if it is no built-in name and such a file exists.
fn lookup(name_or_file: &str) -> anyhow::Result<(DomainProfile, Origin)> {
    let registry = presets()?;
    let as_file = is_profile_path(name_or_file)
        || (!registry.contains(name_or_file) && Path::new(name_or_file).is_file());
    if as_file {
        let path = PathBuf::from(name_or_file.trim());
        let profile = DomainProfile::from_file(&path)?;
        return Ok((profile, Origin::File(path)));
    }
    match registry.get(name_or_file) {
        Ok(profile) => {
            let aliases = registry
                .aliases_of(&profile.name)
                .into_iter()
                .map(str::to_owned)
                .collect();
            Ok((profile.clone(), Origin::Preset { aliases }))
        }
        Err(error) => Err(anyhow::anyhow!(
            "{error}; or give the path of a profile file (NAME.yaml); `attesta domains list` \
             shows the built-in profiles"
        )),
    }
}

/// How much a profile holds, keyed as in the profile file.
#[derive(Debug, Serialize)]
struct Counts {
    risk_patterns: usize,
    sensitive_terms: usize,
    critical_actions: usize,
    safe_actions: usize,
    escalation_rules: usize,
    challenge_templates: usize,
}

impl Counts {
    fn of(profile: &DomainProfile) -> Self {
        Self {
            risk_patterns: profile.risk_patterns.len(),
            sensitive_terms: profile.sensitive_terms.len(),
            critical_actions: profile.critical_actions.len(),
            safe_actions: profile.safe_actions.len(),
            escalation_rules: profile.escalation_rules.len(),
            challenge_templates: profile.challenge_templates.len(),
        }
    }

    /// `14 patterns, 11 terms, 5 critical and 8 safe actions, 3 rules,
    /// 2 templates`.
    fn summary(&self) -> String {
        format!(
            "{}, {}, {} critical and {}, {}, {}",
            plural(self.risk_patterns, "pattern"),
            plural(self.sensitive_terms, "term"),
            self.critical_actions,
            plural(self.safe_actions, "safe action"),
            plural(self.escalation_rules, "rule"),
            plural(self.challenge_templates, "template"),
        )
    }
}

/// `1 rule`, `3 rules`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Text from a profile file, safe to print (no control characters or
/// escape sequences).
fn clean(text: &str) -> String {
    attesta::channel::sanitize_for_display(text)
}
