//! `domain:`, `domains:` and `domain_strict:`: which domain profiles to
//! activate, with any escalation rules the file sets for them.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::read::{Field, Section, either};
use crate::domain::{Condition, EscalationAction, is_profile_path, presets};
use crate::policy::load::SourceLocation;
use crate::policy::tree::{Kind, Problem, quote};
use crate::policy::{DomainSelection, EscalationSetting, Policy};
use crate::value::Value;

/// The actions an escalation rule may take (challenges.md §8.2), for
/// messages.
fn rule_actions() -> Vec<&'static str> {
    EscalationAction::ALL.iter().map(|a| a.as_str()).collect()
}

/// Fills `policy.domains` (and `domain_strict`) from `top`. Unknown names
/// are errors when `domain_strict` is true (the default), warnings
/// otherwise.
pub(super) fn apply(
    policy: &mut Policy,
    top: &Section<'_>,
    warnings: &mut Vec<Problem>,
) -> Result<(), Problem> {
    if let Some(f) = top.get("domain_strict") {
        policy.domain_strict = f.boolean()?;
    }
    let mut listed = Vec::new();
    if let Some(f) = top.get("domain") {
        for name in domain_names(f)? {
            listed.push(selection(&name, IndexMap::new())?);
        }
    }
    if let Some(f) = top.get("domains") {
        for item in f.items("a list of domain names (or NAME: {escalation_rules: ...} mappings)")? {
            listed.push(domains_item(&item)?);
        }
    }

    // Keyed by the profile a name resolves to, so `devops` and its alias
    // `ops` count as the same profile listed twice.
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    for Listed { at, path, domain } in listed {
        let canonical = canonical(&domain.name);
        let identity = canonical.map_or_else(|| domain.name.to_ascii_lowercase(), str::to_owned);
        if let Some((first, line)) = seen.get(&identity) {
            let what = if first.eq_ignore_ascii_case(&domain.name) {
                format!("{} is already listed at line {line}", quote(&domain.name))
            } else {
                format!(
                    "{} names the same profile as {}, listed at line {line}",
                    quote(&domain.name),
                    quote(first)
                )
            };
            return Err(Problem::new(
                at,
                &path,
                format!("{what}; list each profile once"),
            ));
        }
        seen.insert(identity, (domain.name.clone(), at.line));
        if canonical.is_none() {
            let message = format!(
                "{} is not a known domain profile; the known profiles are {}",
                quote(&domain.name),
                known_profiles()
            );
            if policy.domain_strict {
                return Err(Problem::new(
                    at,
                    &path,
                    format!(
                        "{message}. Fix the name, or set domain_strict: false to load the file \
                         with a warning instead"
                    ),
                ));
            }
            warnings.push(Problem::new(
                at,
                &path,
                format!("{message}; loading anyway because domain_strict is false"),
            ));
        }
        policy.domains.push(domain);
    }
    Ok(())
}

/// A domain as listed in the file, with where its name is written.
struct Listed {
    at: SourceLocation,
    path: String,
    domain: DomainSelection,
}

/// The preset a name refers to, if it names one. Profile files (a name
/// ending in `.yaml`/`.yml` or holding a `/`) are checked when the policy
/// is put to use, since that reads them; here they count as themselves.
fn canonical(name: &str) -> Option<&str> {
    if is_profile_path(name) {
        return Some(name.trim());
    }
    presets::builtin(name).map(|p| p.name)
}

/// `data-pipeline (aliases data_pipeline, etl), devops (alias ops), ...`.
fn known_profiles() -> String {
    let described: Vec<String> = presets::BUILTIN
        .iter()
        .map(|preset| match preset.aliases {
            [] => preset.name.to_owned(),
            [one] => format!("{} (alias {one})", preset.name),
            many => format!("{} (aliases {})", preset.name, many.join(", ")),
        })
        .collect();
    let described: Vec<&str> = described.iter().map(String::as_str).collect();
    format!(
        "{}, or the path of a profile file (.yaml)",
        either(&described).replacen(" or ", " and ", 1)
    )
}

/// `domain:` is a name or a list of names.
fn domain_names<'a>(f: &Field<'a>) -> Result<Vec<Field<'a>>, Problem> {
    match &f.node.kind {
        Kind::Str(_) => Ok(vec![f.clone()]),
        Kind::List(_) => {
            let items = f.items("a list of domain names")?;
            for item in &items {
                if !matches!(item.node.kind, Kind::Str(_)) {
                    return Err(item.expected(
                        "a domain name (escalation rules go under domains:, not domain:)",
                    ));
                }
            }
            Ok(items)
        }
        _ => Err(f.expected("a domain name or a list of domain names")),
    }
}

/// One `domains:` item: `NAME` or `NAME: {escalation_rules: {...}}`.
fn domains_item(item: &Field<'_>) -> Result<Listed, Problem> {
    if matches!(item.node.kind, Kind::Str(_)) {
        return selection(item, IndexMap::new());
    }
    if !matches!(item.node.kind, Kind::Map(_)) {
        return Err(item.expected("a domain name or a NAME: {escalation_rules: ...} mapping"));
    }
    let entries = item.entries("a mapping")?;
    let [(name, body)] = entries.as_slice() else {
        return Err(item.problem(format!(
            "each item names one domain, but this one has {} keys; put each domain in its own \
             list item",
            entries.len()
        )));
    };
    let section = Section::new(body, &["escalation_rules"])?;
    let escalation_rules = match section.get("escalation_rules") {
        Some(rules) => escalation_rules(rules)?,
        None => IndexMap::new(),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(body.key_problem("the domain name is empty; write the profile name"));
    }
    Ok(Listed {
        // The name is the key here, so messages about it point at the key.
        at: body.key_at,
        path: body.path.clone(),
        domain: DomainSelection {
            name: name.to_owned(),
            escalation_rules,
        },
    })
}

/// A selection for a plain string name.
fn selection(
    field: &Field<'_>,
    escalation_rules: IndexMap<String, EscalationSetting>,
) -> Result<Listed, Problem> {
    let name = field.non_empty_string()?.to_owned();
    Ok(Listed {
        at: field.node.at,
        path: field.path.clone(),
        domain: DomainSelection {
            name,
            escalation_rules,
        },
    })
}

fn escalation_rules(f: &Field<'_>) -> Result<IndexMap<String, EscalationSetting>, Problem> {
    let mut rules = IndexMap::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (name, value) in f.entries("a mapping of rule name to approvers or rule")? {
        let name = name.trim();
        if name.is_empty() {
            return Err(value.key_problem("the rule name is empty; write the rule's name"));
        }
        if let Some(first) = seen.insert(name, value.key_at.line) {
            return Err(value.key_problem(format!(
                "rule {} is already given at line {first}; remove one of them",
                quote(name)
            )));
        }
        let setting = match &value.node.kind {
            Kind::Int(_) | Kind::Float(_) => EscalationSetting::Approvers(value.approvers(1)?),
            Kind::Map(_) => EscalationSetting::Rule(rule(&value)?),
            _ => {
                return Err(value.expected(
                    "a number of approvers or a rule mapping (condition, action, \
                     required_approvers, notify_roles, description)",
                ));
            }
        };
        rules.insert(name.to_owned(), setting);
    }
    Ok(rules)
}

/// A full escalation rule, validated field by field and kept in file order.
/// No field is required: a rule without an action is the shorthand's
/// "require this many approvers", and the domains feature fills the rest.
fn rule(f: &Field<'_>) -> Result<IndexMap<String, Value>, Problem> {
    let keys = [
        "condition",
        "action",
        "required_approvers",
        "notify_roles",
        "description",
    ];
    let section = Section::new(f, &keys)?;
    let mut rule = IndexMap::new();
    for (key, value) in section.iter() {
        let checked = match key {
            "condition" => {
                let condition = value.non_empty_string()?;
                check_condition(condition).map_err(|message| value.problem(message))?;
                Value::Str(condition.to_owned())
            }
            "action" => {
                let wanted = value.token()?;
                let action = wanted.parse::<EscalationAction>().map_err(|_| {
                    value.problem(format!(
                        "{} is not an escalation action; use {}",
                        quote(value.string().unwrap_or_default().trim()),
                        either(&rule_actions())
                    ))
                })?;
                Value::Str(action.as_str().to_owned())
            }
            "required_approvers" => Value::Int(i128::from(value.approvers(1)?)),
            "notify_roles" => Value::List(
                value
                    .items("a list of role names")?
                    .iter()
                    .map(|role| role.non_empty_string().map(|r| Value::Str(r.to_owned())))
                    .collect::<Result<_, _>>()?,
            ),
            // `description`, the only key left.
            _ => Value::Str(value.string()?.to_owned()),
        };
        rule.insert(key.to_owned(), checked);
    }
    Ok(rule)
}

/// Checks a condition against the forms the domain scorer evaluates. The
/// reference treats anything else as false without a word, so a misspelt
/// condition silently never fires; here it is an error.
fn check_condition(condition: &str) -> Result<(), String> {
    Condition::parse(condition).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve_to_their_preset() {
        assert_eq!(canonical("devops"), Some("devops"));
        assert_eq!(canonical(" OPS "), Some("devops"));
        assert_eq!(canonical("ETL"), Some("data-pipeline"));
        assert_eq!(canonical("data_pipeline"), Some("data-pipeline"));
        assert_eq!(canonical("Healthcare"), Some("healthcare"));
        assert_eq!(canonical("infra"), Some("infrastructure"));
        assert_eq!(canonical("finance"), None);
        assert_eq!(canonical("profiles/acme.yaml"), Some("profiles/acme.yaml"));
        assert_eq!(
            known_profiles(),
            "data-pipeline (aliases data_pipeline, etl), devops (alias ops), healthcare \
             (alias health) and infrastructure (alias infra), or the path of a profile file \
             (.yaml)"
        );
    }

    #[test]
    fn conditions_follow_the_scorer_grammar() {
        for ok in [
            "risk_score >= 0.9",
            "risk_score>=1",
            "risk_score != 0.25",
            "matches_pattern:terraform_destroy",
            "environment:production",
            "risk_level:CRITICAL",
            "risk_score > .5",
            "action:phi_*",
        ] {
            assert_eq!(check_condition(ok), Ok(()), "{ok}");
        }
        for bad in [
            "bulk_student_export",
            "risk_score >= -1",
            "risk_score >= 1e-1",
            "risk_score => 0.5",
            "ENVIRONMENT:production",
            "matches_pattern: ",
        ] {
            assert!(check_condition(bad).is_err(), "{bad}");
        }
        assert!(
            check_condition("risk_level:severe")
                .unwrap_err()
                .contains("not a risk level")
        );
    }
}
