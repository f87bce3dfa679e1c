//! Profile files: YAML → [`DomainProfile`], strictly.
//!
//! The same parser and typed reads as `attesta.yaml` (`policy::tree`,
//! `policy::validate::read`), so profile files get the same rules and the
//! same `file:line:column: key: message` errors: unknown keys, wrong types,
//! out-of-range numbers, duplicate keys and unknown names are all errors.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::error::DomainError;
use super::matcher::{ActionGlob, SensitiveTerm, compile, explain_regex_error};
use super::profile::{DomainProfile, PatternTarget, RiskPattern};
use super::rule::{Condition, EscalationAction, EscalationRule};
use super::template::ChallengeTemplate;
use crate::challenge::ChallengeType;
use crate::policy::tree::{self, Kind, ParseFailure, Problem, quote};
use crate::policy::validate::read::{Field, Section};
use crate::risk::RiskLevel;

/// The keys of a profile file.
const PROFILE_KEYS: &[&str] = &[
    "name",
    "display_name",
    "description",
    "risk_patterns",
    "sensitive_terms",
    "critical_actions",
    "safe_actions",
    "compliance_frameworks",
    "escalation_rules",
    "challenge_templates",
    "min_review_overrides",
    "base_risk_floor",
    "production_multiplier",
    "required_vocabulary",
];

/// Longest review a profile may ask for, in seconds; beyond an hour it is
/// a typo (minutes written as seconds) or a policy nobody can follow.
const MAX_REVIEW_SECONDS: f64 = 3600.0;

/// Largest production multiplier; anything above is surely a typo, and
/// at 10 every production action is already CRITICAL.
const MAX_PRODUCTION_MULTIPLIER: f64 = 10.0;

impl DomainProfile {
    /// Reads and checks the profile file at `path` (YAML).
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use attesta::domain::DomainProfile;
    /// let profile = DomainProfile::from_file(Path::new("profiles/payments.yaml"))?;
    /// println!("{} patterns", profile.risk_patterns.len());
    /// # Ok::<(), attesta::domain::DomainError>(())
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, DomainError> {
        let text = std::fs::read_to_string(path).map_err(|source| DomainError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text, path)
    }

    /// Checks profile `text` as if read from `path` (which labels
    /// messages).
    ///
    /// ```
    /// use std::path::Path;
    /// use attesta::domain::DomainProfile;
    /// let error = DomainProfile::from_yaml(
    ///     "name: acme\nrisk_patterns:\n  - name: x\n    pattern: 'a(?=b)'\n    risk_contribution: 0.5\n",
    ///     Path::new("acme.yaml"),
    /// ).unwrap_err();
    /// assert!(error.to_string().starts_with("acme.yaml:4:14: risk_patterns[0].pattern: "));
    /// ```
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, DomainError> {
        let invalid = |problem: Problem| DomainError::Invalid {
            path: path.to_owned(),
            location: problem.at,
            key: problem.key,
            message: problem.message,
        };
        let root = crate::policy::from_yaml::parse(text).map_err(|failure| match failure {
            ParseFailure::Syntax { at, message } => DomainError::Syntax {
                path: path.to_owned(),
                location: at,
                message,
            },
            ParseFailure::Invalid(problem) => invalid(problem),
        })?;
        let Some(root) = root else {
            return Err(DomainError::Syntax {
                path: path.to_owned(),
                location: None,
                message: "the file is empty; a profile needs at least a name".to_owned(),
            });
        };
        if let Some(problem) = tree::find_duplicate_key(&root, "") {
            return Err(invalid(problem));
        }
        profile(&Field::root(&root)).map_err(invalid)
    }
}

fn profile(root: &Field<'_>) -> Result<DomainProfile, Problem> {
    if !matches!(root.node.kind, Kind::Map(_)) {
        return Err(root.expected("a mapping with the profile's keys (name, risk_patterns, ...)"));
    }
    let section = Section::new(root, PROFILE_KEYS)?;
    let name_field = section
        .get("name")
        .ok_or_else(|| root.problem("the profile has no name; add name: followed by a name"))?;
    let name = profile_name(name_field)?;
    let text = |key: &str| -> Result<Option<String>, Problem> {
        section
            .get(key)
            .map(|f| f.string().map(|s| s.trim().to_owned()))
            .transpose()
    };
    let risk_patterns = match section.get("risk_patterns") {
        Some(f) => patterns(f)?,
        None => Vec::new(),
    };
    let escalation_rules = match section.get("escalation_rules") {
        Some(f) => rules(f, &name, &risk_patterns)?,
        None => Vec::new(),
    };
    Ok(DomainProfile {
        display_name: text("display_name")?.unwrap_or_else(|| name.clone()),
        description: text("description")?.unwrap_or_default(),
        risk_patterns,
        sensitive_terms: section
            .get("sensitive_terms")
            .map(terms)
            .transpose()?
            .unwrap_or_default(),
        critical_actions: section
            .get("critical_actions")
            .map(actions)
            .transpose()?
            .unwrap_or_default(),
        safe_actions: section
            .get("safe_actions")
            .map(actions)
            .transpose()?
            .unwrap_or_default(),
        compliance_frameworks: string_list(section.get("compliance_frameworks"))?,
        escalation_rules,
        challenge_templates: section
            .get("challenge_templates")
            .map(templates)
            .transpose()?
            .unwrap_or_default(),
        min_review_overrides: section
            .get("min_review_overrides")
            .map(review_overrides)
            .transpose()?
            .unwrap_or_default(),
        base_risk_floor: section
            .get("base_risk_floor")
            .map(|f| f.number_in(0.0, 1.0, "a number from 0 to 1"))
            .transpose()?
            .unwrap_or(0.0),
        production_multiplier: section
            .get("production_multiplier")
            .map(|f| {
                f.number_in(
                    1.0,
                    MAX_PRODUCTION_MULTIPLIER,
                    "a number from 1 to 10 (a domain may make production riskier, never safer)",
                )
            })
            .transpose()?
            .unwrap_or(DomainProfile::DEFAULT_PRODUCTION_MULTIPLIER),
        required_vocabulary: string_list(section.get("required_vocabulary"))?,
        name,
    })
}

/// Lower-case letters, digits, `-` and `_`, starting with a letter or
/// digit: names are looked up case-insensitively and joined with `+` when
/// merged, so anything else would be ambiguous.
fn profile_name(f: &Field<'_>) -> Result<String, Problem> {
    let name = f.non_empty_string()?;
    let lower = name.to_ascii_lowercase();
    let valid = lower.len() <= 64
        && lower
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && lower.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        return Err(f.problem(format!(
            "{} is not a usable profile name; use up to 64 lower-case letters, digits, '-' and \
             '_', starting with a letter or digit",
            quote(name)
        )));
    }
    if lower != name {
        return Err(f.problem(format!(
            "profile names are lower case; write {}",
            quote(&lower)
        )));
    }
    Ok(lower)
}

fn string_list(f: Option<&Field<'_>>) -> Result<Vec<String>, Problem> {
    let Some(f) = f else {
        return Ok(Vec::new());
    };
    f.items("a list of strings")?
        .iter()
        .map(|item| item.non_empty_string().map(str::to_owned))
        .collect()
}

fn patterns(f: &Field<'_>) -> Result<Vec<RiskPattern>, Problem> {
    let keys = [
        "name",
        "pattern",
        "target",
        "risk_contribution",
        "description",
        "compliance_refs",
    ];
    let mut out: Vec<RiskPattern> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in f.items("a list of risk patterns")? {
        let section = Section::new(&item, &keys)?;
        let required = |key: &str| {
            section
                .get(key)
                .cloned()
                .ok_or_else(|| item.problem(format!("the pattern has no {key}; add {key}:")))
        };
        let name_field = required("name")?;
        let name = name_field.non_empty_string()?.to_owned();
        if let Some(line) = seen.insert(name.clone(), name_field.node.at.line) {
            return Err(name_field.problem(format!(
                "a pattern named {} is already defined at line {line}; give each pattern its \
                 own name",
                quote(&name)
            )));
        }
        let pattern_field = required("pattern")?;
        let source = pattern_field.non_empty_string()?;
        let pattern =
            compile(source).map_err(|e| pattern_field.problem(explain_regex_error(source, &e)))?;
        let target = match section.get("target") {
            Some(t) => t.choice(
                "a pattern target",
                &PatternTarget::ALL.map(|t| (t.as_str(), t)),
            )?,
            None => PatternTarget::Any,
        };
        let risk_contribution =
            required("risk_contribution")?.number_in(0.0, 1.0, "a number from 0 to 1")?;
        let description = match section.get("description") {
            Some(d) => d.string()?.trim().to_owned(),
            None => String::new(),
        };
        out.push(RiskPattern {
            name,
            pattern,
            target,
            risk_contribution,
            description,
            compliance_refs: string_list(section.get("compliance_refs"))?,
        });
    }
    Ok(out)
}

fn terms(f: &Field<'_>) -> Result<Vec<SensitiveTerm>, Problem> {
    let mut out: Vec<SensitiveTerm> = Vec::new();
    for (term, value) in f.entries("a mapping of term to weight (pii: 0.9)")? {
        let weight = value.number_in(0.0, 1.0, "a weight from 0 to 1")?;
        if let Some(first) = out
            .iter()
            .find(|t| t.term().eq_ignore_ascii_case(term.trim()))
        {
            return Err(value.key_problem(format!(
                "the term {} is already listed (as {}); terms are matched ignoring case, so \
                 list it once",
                quote(term),
                quote(first.term())
            )));
        }
        out.push(SensitiveTerm::new(term, weight).map_err(|m| value.key_problem(m))?);
    }
    Ok(out)
}

fn actions(f: &Field<'_>) -> Result<Vec<ActionGlob>, Problem> {
    f.items("a list of action names or globs")?
        .iter()
        .map(|item| {
            let source = item.non_empty_string()?;
            ActionGlob::new(source).map_err(|m| item.problem(m))
        })
        .collect()
}

fn rules(
    f: &Field<'_>,
    profile: &str,
    patterns: &[RiskPattern],
) -> Result<Vec<EscalationRule>, Problem> {
    let keys = [
        "name",
        "condition",
        "action",
        "required_approvers",
        "notify_roles",
        "description",
    ];
    let mut out = Vec::new();
    for item in f.items("a list of escalation rules")? {
        let section = Section::new(&item, &keys)?;
        let required = |key: &str| {
            section
                .get(key)
                .cloned()
                .ok_or_else(|| item.problem(format!("the rule has no {key}; add {key}:")))
        };
        let condition_field = required("condition")?;
        let condition = Condition::parse(condition_field.non_empty_string()?)
            .map_err(|m| condition_field.problem(m))?;
        if let Condition::MatchesPattern(name) = &condition
            && !patterns.iter().any(|p| p.name == *name)
        {
            return Err(condition_field.problem(format!(
                "the profile has no pattern named {}, so the rule would never fire; use the \
                 name of one of its risk_patterns",
                quote(name)
            )));
        }
        let action_field = required("action")?;
        let action = action_field
            .string()?
            .parse::<EscalationAction>()
            .map_err(|m| action_field.problem(m))?;
        let mut rule = EscalationRule::new(
            profile,
            &condition.to_string(),
            condition,
            action,
            EscalationRule::DEFAULT_APPROVERS,
        );
        if let Some(name) = section.get("name") {
            name.non_empty_string()?.clone_into(&mut rule.name);
        }
        if let Some(n) = section.get("required_approvers") {
            rule.required_approvers = n.approvers(1)?;
        }
        rule.notify_roles = string_list(section.get("notify_roles"))?;
        if let Some(d) = section.get("description") {
            d.string()?.trim().clone_into(&mut rule.description);
        }
        out.push(rule);
    }
    Ok(out)
}

fn templates(f: &Field<'_>) -> Result<Vec<ChallengeTemplate>, Problem> {
    let keys = [
        "question_template",
        "answer_hints",
        "context_vars",
        "challenge_type",
        "min_risk_level",
    ];
    let mut out = Vec::new();
    for item in f.items("a list of challenge templates")? {
        let section = Section::new(&item, &keys)?;
        let question = section.get("question_template").ok_or_else(|| {
            item.problem("the template has no question_template; add the question")
        })?;
        let challenge_type = match section.get("challenge_type") {
            Some(t) => t.choice(
                "a template challenge type",
                &[
                    ("quiz", ChallengeType::Quiz),
                    ("teach_back", ChallengeType::TeachBack),
                ],
            )?,
            None => ChallengeType::Quiz,
        };
        out.push(ChallengeTemplate {
            question_template: question.non_empty_string()?.to_owned(),
            answer_hints: string_list(section.get("answer_hints"))?,
            context_vars: string_list(section.get("context_vars"))?,
            challenge_type,
            min_risk_level: section
                .get("min_risk_level")
                .map(Field::level)
                .transpose()?
                .unwrap_or(RiskLevel::High),
        });
    }
    Ok(out)
}

fn review_overrides(f: &Field<'_>) -> Result<BTreeMap<RiskLevel, f64>, Problem> {
    f.level_entries("a mapping of risk level to seconds")?
        .into_iter()
        .map(|(level, value)| {
            value
                .number_in(0.0, MAX_REVIEW_SECONDS, "seconds from 0 to 3600")
                .map(|s| (level, s))
        })
        .collect()
}
