//! Combining profiles so that the result is at least as cautious as each
//! of them (§8.7, with the reference's weakening fixed).

use super::error::DomainError;
use super::matcher::{ActionGlob, SensitiveTerm};
use super::profile::DomainProfile;

/// One profile holding everything several profiles say, for any number of
/// profiles (one is returned as is).
///
/// The result never scores an action lower than the riskiest of its
/// members would (with the same base score): patterns, rules and
/// templates are concatenated in argument order; critical actions,
/// frameworks and vocabulary are unions; each sensitive term keeps its
/// largest weight, each review override its longest time; the floor is the
/// largest floor and the production multiplier the largest multiplier (at
/// least 1).
///
/// The difference from the reference: **safe actions are the
/// intersection** (entries listed by every member, compared ignoring case),
/// not the union. A name one member calls safe is scored by the others as
/// usual; with a union, `preview_data('rm -rf /')` went from CRITICAL under
/// `devops` alone to LOW under `devops+data-pipeline`.
///
/// ```
/// use attesta::domain::{DomainRegistry, merge};
/// let registry = DomainRegistry::with_presets()?;
/// let merged = merge(vec![
///     registry.get("devops")?.clone(),
///     registry.get("data-pipeline")?.clone(),
/// ])?;
/// assert_eq!(merged.name, "devops+data-pipeline");
/// assert!(merged.safe_actions.is_empty());
/// # Ok::<(), attesta::domain::DomainError>(())
/// ```
pub fn merge(profiles: Vec<DomainProfile>) -> Result<DomainProfile, DomainError> {
    let mut profiles = profiles.into_iter();
    let first = profiles.next().ok_or(DomainError::NothingToMerge)?;
    Ok(profiles.fold(first, merge_two))
}

fn merge_two(mut a: DomainProfile, b: DomainProfile) -> DomainProfile {
    a.name = format!("{}+{}", a.name, b.name);
    a.display_name = format!("{} + {}", a.display_name, b.display_name);
    a.description = format!("{} | {}", a.description, b.description);
    a.risk_patterns.extend(b.risk_patterns);
    a.escalation_rules.extend(b.escalation_rules);
    a.challenge_templates.extend(b.challenge_templates);
    union_actions(&mut a.critical_actions, b.critical_actions);
    a.safe_actions
        .retain(|glob| b.safe_actions.iter().any(|other| other == glob));
    union_strings(&mut a.compliance_frameworks, b.compliance_frameworks);
    union_strings(&mut a.required_vocabulary, b.required_vocabulary);
    union_terms(&mut a.sensitive_terms, b.sensitive_terms);
    for (level, seconds) in b.min_review_overrides {
        let entry = a.min_review_overrides.entry(level).or_insert(seconds);
        *entry = entry.max(seconds);
    }
    a.base_risk_floor = a.base_risk_floor.max(b.base_risk_floor);
    a.production_multiplier = a
        .production_multiplier
        .max(b.production_multiplier)
        .max(1.0);
    a
}

fn union_actions(into: &mut Vec<ActionGlob>, more: Vec<ActionGlob>) {
    for glob in more {
        if !into.contains(&glob) {
            into.push(glob);
        }
    }
}

fn union_strings(into: &mut Vec<String>, more: Vec<String>) {
    for s in more {
        if !into.contains(&s) {
            into.push(s);
        }
    }
}

/// Terms compare ignoring case (they match ignoring case); the larger
/// weight wins.
fn union_terms(into: &mut Vec<SensitiveTerm>, more: Vec<SensitiveTerm>) {
    for term in more {
        match into
            .iter_mut()
            .find(|t| t.term().eq_ignore_ascii_case(term.term()))
        {
            Some(existing) if existing.weight() < term.weight() => *existing = term,
            Some(_) => {}
            None => into.push(term),
        }
    }
}
