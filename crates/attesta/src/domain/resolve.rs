//! From the policy's `domain:` / `domains:` entries to one active profile.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::error::DomainError;
use super::merge::merge;
use super::profile::DomainProfile;
use super::registry::DomainRegistry;
use super::rule::{Condition, EscalationAction, EscalationRule};
use super::scorer::DomainRiskScorer;
use crate::policy::{DomainSelection, EscalationSetting, Policy};
use crate::value::Value;

/// The profiles a policy activates, merged into one.
#[derive(Debug, Clone, Default)]
pub struct ResolvedDomains {
    /// The merged profile (the only one when a single profile is
    /// selected); `None` when the policy selects none.
    pub profile: Option<DomainProfile>,
    /// The members' names, in the order listed.
    pub members: Vec<String>,
    /// Things worth telling the operator: names skipped because
    /// `domain_strict` is false, shorthand rules that match only an action
    /// name.
    pub warnings: Vec<String>,
}

impl ResolvedDomains {
    /// A scorer over the merged profile with the default base scorer, if
    /// any profile is active.
    pub fn scorer(&self) -> Option<DomainRiskScorer> {
        self.profile.clone().map(DomainRiskScorer::new)
    }
}

/// Resolves `policy.domains` against the built-in presets, reading
/// profile files relative to the policy file's directory.
///
/// See [`DomainRegistry::resolve`].
pub fn resolve_policy(policy: &Policy) -> Result<ResolvedDomains, DomainError> {
    if policy.domains.is_empty() {
        return Ok(ResolvedDomains::default());
    }
    let base_dir = policy
        .source
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or_else(|| Path::new(""));
    DomainRegistry::with_presets()?.resolve(&policy.domains, policy.domain_strict, base_dir)
}

/// Whether a `domains:` entry names a profile file rather than a profile:
/// it ends in `.yaml` / `.yml` or contains a path separator.
pub fn is_profile_path(name: &str) -> bool {
    let name = name.trim();
    let yaml = Path::new(name)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"));
    yaml || name.contains('/') || name.contains('\\')
}

impl DomainRegistry {
    /// Turns policy selections into one merged profile.
    ///
    /// Each entry is a registered name or alias (any case), or the path of
    /// a profile file (`.yaml`/`.yml`, or containing `/`), relative paths
    /// being taken from `base_dir`. An unknown name is an error listing the
    /// known ones when `strict`, a warning otherwise. Listing one profile
    /// twice (also through an alias) is an error.
    ///
    /// Escalation rules given with an entry are added to that profile:
    ///
    /// * `NAME: N` adds `require_multi_party` rules with `N` approvers
    ///   that fire when the profile's pattern `NAME` matches, when the
    ///   profile's own rules named `NAME` fire, and when the action itself
    ///   is named `NAME`;
    /// * `NAME: {condition, action, required_approvers, notify_roles,
    ///   description}` adds that rule (missing condition: as for the
    ///   shorthand; missing action: `require_multi_party`).
    ///
    /// Added rules sit beside the profile's own, so they can raise what a
    /// profile demands but never lower it; to weaken a preset, copy it into
    /// a profile file and edit that.
    pub fn resolve(
        &self,
        selections: &[DomainSelection],
        strict: bool,
        base_dir: &Path,
    ) -> Result<ResolvedDomains, DomainError> {
        let mut resolved = ResolvedDomains::default();
        let mut profiles = Vec::new();
        for selection in selections {
            let mut profile = if is_profile_path(&selection.name) {
                let path = PathBuf::from(selection.name.trim());
                let path = if path.is_absolute() {
                    path
                } else {
                    base_dir.join(path)
                };
                DomainProfile::from_file(&path)?
            } else {
                match self.get(&selection.name) {
                    Ok(profile) => profile.clone(),
                    Err(error) if !strict => {
                        resolved.warnings.push(format!(
                            "{error}; continuing without it because domain_strict is false"
                        ));
                        continue;
                    }
                    Err(error) => return Err(error),
                }
            };
            if resolved.members.contains(&profile.name) {
                return Err(DomainError::ListedTwice { name: profile.name });
            }
            add_rules(
                &mut profile,
                &selection.escalation_rules,
                &mut resolved.warnings,
            )?;
            resolved.members.push(profile.name.clone());
            profiles.push(profile);
        }
        if !profiles.is_empty() {
            resolved.profile = Some(merge(profiles)?);
        }
        Ok(resolved)
    }
}

/// Adds the policy's rules for one profile.
fn add_rules(
    profile: &mut DomainProfile,
    settings: &IndexMap<String, EscalationSetting>,
    warnings: &mut Vec<String>,
) -> Result<(), DomainError> {
    for (name, setting) in settings {
        let fail = |message: String| DomainError::Selection {
            domain: profile.name.clone(),
            message: format!("escalation rule '{name}': {message}"),
        };
        let mut template = EscalationRule::new(
            &profile.name,
            name,
            Condition::MatchesPattern(name.clone()),
            EscalationAction::RequireMultiParty,
            EscalationRule::DEFAULT_APPROVERS,
        );
        // The profile's own rule of that name lends its roles and reason,
        // so `phi_access: 3` still tells the privacy officer.
        if let Some(own) = profile.escalation_rules.iter().find(|r| r.name == *name) {
            template.notify_roles.clone_from(&own.notify_roles);
            template.description.clone_from(&own.description);
        }
        let mut explicit_condition = None;
        match setting {
            EscalationSetting::Approvers(n) => template.required_approvers = *n,
            EscalationSetting::Rule(fields) => {
                for (key, value) in fields {
                    match (key.as_str(), value) {
                        ("condition", Value::Str(text)) => {
                            explicit_condition = Some(Condition::parse(text).map_err(fail)?);
                        }
                        ("action", Value::Str(text)) => {
                            template.action = text.parse().map_err(fail)?;
                        }
                        ("required_approvers", Value::Int(n)) => {
                            template.required_approvers = u32::try_from(*n)
                                .ok()
                                .filter(|n| *n >= 1)
                                .ok_or_else(|| fail(format!("{n} approvers is out of range")))?;
                        }
                        ("notify_roles", Value::List(roles)) => {
                            template.notify_roles = roles
                                .iter()
                                .filter_map(|r| r.as_str().map(str::to_owned))
                                .collect();
                        }
                        ("description", Value::Str(text)) => {
                            text.clone_into(&mut template.description);
                        }
                        (other, _) => {
                            return Err(fail(format!("the key '{other}' is not understood here")));
                        }
                    }
                }
            }
        }
        let conditions = match explicit_condition {
            Some(condition) => {
                if let Condition::MatchesPattern(pattern) = &condition
                    && !profile.risk_patterns.iter().any(|p| p.name == *pattern)
                {
                    return Err(fail(format!(
                        "{} has no pattern named '{pattern}', so the rule would never fire; \
                         use one of: {}",
                        profile.name,
                        pattern_names(profile)
                    )));
                }
                vec![condition]
            }
            None => shorthand_conditions(profile, name, warnings).map_err(fail)?,
        };
        for condition in conditions {
            let mut rule = template.clone();
            rule.condition = condition;
            profile.escalation_rules.push(rule);
        }
    }
    Ok(())
}

/// What `NAME: N` matches: the pattern `NAME`, whatever the profile's
/// rules named `NAME` match, and actions named `NAME`.
fn shorthand_conditions(
    profile: &DomainProfile,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Condition>, String> {
    let mut conditions: Vec<Condition> = profile
        .escalation_rules
        .iter()
        .filter(|r| r.name == name)
        .map(|r| r.condition.clone())
        .collect();
    let has_pattern = profile.risk_patterns.iter().any(|p| p.name == name);
    if has_pattern {
        conditions.push(Condition::MatchesPattern(name.to_owned()));
    }
    if conditions.is_empty() {
        warnings.push(format!(
            "domains: {}: '{name}' is neither a risk pattern nor a rule of the profile, so its \
             rule applies only to actions named '{name}' (patterns: {})",
            profile.name,
            pattern_names(profile)
        ));
    }
    conditions.push(Condition::parse(&format!("action:{name}"))?);
    let mut unique: Vec<Condition> = Vec::new();
    for condition in conditions {
        if !unique.contains(&condition) {
            unique.push(condition);
        }
    }
    Ok(unique)
}

fn pattern_names(profile: &DomainProfile) -> String {
    let names: Vec<&str> = profile
        .risk_patterns
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
