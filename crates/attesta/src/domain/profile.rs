//! [`DomainProfile`] and [`RiskPattern`]: what an industry considers risky
//! (§8.1, §8.4).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use regex::Regex;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::matcher::{ActionGlob, SensitiveTerm};
use super::rule::EscalationRule;
use super::template::ChallengeTemplate;
use crate::context::ActionContext;
use crate::names::fold;
use crate::risk::RiskLevel;

/// Which text of a call a [`RiskPattern`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternTarget {
    /// The function or tool name.
    FunctionName,
    /// Python `str()` of each positional argument, joined by spaces.
    Args,
    /// `key=str(value)` for each keyword argument, joined by spaces (so
    /// argument names are searchable too).
    Kwargs,
    /// The function's documentation.
    Docstring,
    /// Each of the above in turn.
    Any,
}

impl PatternTarget {
    /// Every target, in configuration order.
    pub const ALL: [PatternTarget; 5] = [
        Self::FunctionName,
        Self::Args,
        Self::Kwargs,
        Self::Docstring,
        Self::Any,
    ];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FunctionName => "function_name",
            Self::Args => "args",
            Self::Kwargs => "kwargs",
            Self::Docstring => "docstring",
            Self::Any => "any",
        }
    }
}

/// A regular expression whose match in a call adds risk (§8.1).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RiskPattern {
    /// Identifier, referred to by `matches_pattern:NAME` conditions.
    pub name: String,
    /// Searched (anywhere, case-insensitively) in the target text.
    #[serde(serialize_with = "regex_source")]
    pub pattern: Regex,
    /// Which text is searched.
    pub target: PatternTarget,
    /// Risk it adds, `0..=1`.
    pub risk_contribution: f64,
    /// What the pattern detects.
    pub description: String,
    /// Regulations or controls it relates to, shown with the evidence.
    pub compliance_refs: Vec<String>,
}

impl PartialEq for RiskPattern {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.pattern.as_str() == other.pattern.as_str()
            && self.target == other.target
            && self.risk_contribution == other.risk_contribution
            && self.description == other.description
            && self.compliance_refs == other.compliance_refs
    }
}

fn regex_source<S: Serializer>(regex: &Regex, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(regex.as_str())
}

impl RiskPattern {
    /// Whether the pattern matches the call.
    pub fn matches(&self, text: &CallText) -> bool {
        let found = |t: &str| !t.is_empty() && self.pattern.is_match(t);
        match self.target {
            PatternTarget::FunctionName => found(&text.function_name),
            PatternTarget::Args => found(&text.args),
            PatternTarget::Kwargs => found(&text.kwargs),
            PatternTarget::Docstring => found(&text.docstring),
            PatternTarget::Any => [
                &text.function_name,
                &text.args,
                &text.kwargs,
                &text.docstring,
            ]
            .into_iter()
            .any(|t| found(t)),
        }
    }
}

/// The texts of a call that patterns and terms search, built once per
/// assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallText {
    /// The function name.
    pub function_name: String,
    /// Python `str()` of each positional argument, joined by spaces.
    pub args: String,
    /// `key=str(value)` per keyword argument, joined by spaces.
    pub kwargs: String,
    /// The documentation, or empty.
    pub docstring: String,
}

impl CallText {
    /// The texts of `ctx`.
    pub fn of(ctx: &ActionContext) -> Self {
        let mut args = String::new();
        for (i, arg) in ctx.args.iter().enumerate() {
            if i > 0 {
                args.push(' ');
            }
            arg.write_py_str(&mut args);
        }
        let mut kwargs = String::new();
        for (i, (key, value)) in ctx.kwargs.iter().enumerate() {
            if i > 0 {
                kwargs.push(' ');
            }
            kwargs.push_str(key);
            kwargs.push('=');
            value.write_py_str(&mut kwargs);
        }
        Self {
            function_name: ctx.function_name.clone(),
            args,
            kwargs,
            docstring: ctx.function_doc.clone().unwrap_or_default(),
        }
    }

    /// Everything, for sensitive terms: name, each argument, each keyword
    /// argument and the documentation, joined by single spaces.
    pub fn full(&self) -> String {
        [
            &self.function_name,
            &self.args,
            &self.kwargs,
            &self.docstring,
        ]
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// An industry's view of risk: patterns and terms that raise it, actions
/// that are always critical or always safe, rules that escalate, questions
/// to ask, and the vocabulary an explanation should use (§8.4).
///
/// Profiles are data: load one with [`DomainProfile::from_yaml`] or
/// [`DomainProfile::from_file`], take a preset from
/// [`super::DomainRegistry::with_presets`], or combine several with
/// [`super::merge`]. Every field was checked when the profile was loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DomainProfile {
    /// Identifier (lower case; letters, digits, `-`, `_`); the scorer is
    /// named `domain:<name>`. A merged profile's name joins its members'
    /// with `+`.
    pub name: String,
    /// Human-readable name.
    pub display_name: String,
    /// What the profile covers.
    pub description: String,
    /// Patterns searched in each call.
    pub risk_patterns: Vec<RiskPattern>,
    /// Words and phrases that raise risk, with weights.
    #[serde(serialize_with = "terms_as_map")]
    pub sensitive_terms: Vec<SensitiveTerm>,
    /// Actions scored CRITICAL whatever else is found.
    pub critical_actions: Vec<ActionGlob>,
    /// Actions capped at LOW, unless a pattern or term says otherwise.
    pub safe_actions: Vec<ActionGlob>,
    /// Frameworks the profile relates to (informational).
    pub compliance_frameworks: Vec<String>,
    /// Rules that raise the bar for matching actions, in order.
    pub escalation_rules: Vec<EscalationRule>,
    /// Questions for quiz and teach-back challenges.
    pub challenge_templates: Vec<ChallengeTemplate>,
    /// Minimum review seconds per level the domain asks for.
    pub min_review_overrides: BTreeMap<RiskLevel, f64>,
    /// No action scores below this (`0..=1`).
    pub base_risk_floor: f64,
    /// Factor applied in production (at least 1: a domain may make
    /// production riskier, never safer).
    pub production_multiplier: f64,
    /// Words an explanation of an action in this domain should use.
    pub required_vocabulary: Vec<String>,
}

fn terms_as_map<S: Serializer>(terms: &[SensitiveTerm], serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(terms.len()))?;
    for term in terms {
        map.serialize_entry(term.term(), &term.weight())?;
    }
    map.end()
}

impl DomainProfile {
    /// The scorer's floor for critical actions: the lower bound of
    /// CRITICAL.
    pub const CRITICAL_FLOOR: f64 = 0.8;
    /// The score safe actions are capped at.
    pub const SAFE_CAP: f64 = 0.15;
    /// Default `production_multiplier`, as in the reference.
    pub const DEFAULT_PRODUCTION_MULTIPLIER: f64 = 1.5;

    /// Whether `function_name` is a critical action: its whole name, or the
    /// part after the last `.` (`Db.drop_table`), matches an entry, or
    /// differs from a match only in case, spacing, invisible or look-alike
    /// characters ([`ActionGlob::matches_or_resembles`]): a near-miss of a
    /// critical action is critical too.
    pub fn is_critical_action(&self, function_name: &str) -> bool {
        if self.critical_actions.is_empty() {
            return false;
        }
        let tail = function_name.rsplit_once('.').map(|(_, t)| t);
        if self
            .critical_actions
            .iter()
            .any(|g| g.matches(function_name) || tail.is_some_and(|t| g.matches(t)))
        {
            return true;
        }
        // Folded once for every entry. The folded name's own tail and the
        // fold of the raw tail differ when folding makes or drops a dot
        // (a fullwidth full stop); either counts.
        let folded = fold(function_name);
        let folded_tail = folded.rsplit_once('.').map(|(_, t)| t);
        let raw_tail_folded = tail.map(fold);
        self.critical_actions.iter().any(|g| {
            g.matches_folded(&folded)
                || folded_tail.is_some_and(|t| g.matches_folded(t))
                || raw_tail_folded
                    .as_deref()
                    .is_some_and(|t| g.matches_folded(t))
        })
    }

    /// Whether `function_name` as a whole matches a safe entry. Only the
    /// whole name counts: a qualified name is safe only if listed so. Nor
    /// is a near-miss of a safe name safe: apart from case, names must
    /// match as written ([`ActionGlob::matches`]).
    pub fn is_safe_action(&self, function_name: &str) -> bool {
        self.safe_actions.iter().any(|g| g.matches(function_name))
    }

    /// The patterns that match the call, in profile order.
    pub fn matching_patterns<'a>(&'a self, text: &CallText) -> Vec<&'a RiskPattern> {
        self.risk_patterns
            .iter()
            .filter(|p| p.matches(text))
            .collect()
    }

    /// The sensitive terms found in `text`, in profile order.
    pub fn matching_terms<'a>(&'a self, text: &str) -> Vec<&'a SensitiveTerm> {
        self.sensitive_terms
            .iter()
            .filter(|t| t.is_found_in(text))
            .collect()
    }

    /// Templates asked at `level`: those whose minimum level is at or below
    /// it (`get_templates_for_level`).
    pub fn templates_for_level(&self, level: RiskLevel) -> Vec<&ChallengeTemplate> {
        self.challenge_templates
            .iter()
            .filter(|t| t.min_risk_level <= level)
            .collect()
    }

    /// Templates of one challenge type asked at `level`.
    pub fn templates_of_type(
        &self,
        challenge: crate::challenge::ChallengeType,
        level: RiskLevel,
    ) -> Vec<&ChallengeTemplate> {
        self.templates_for_level(level)
            .into_iter()
            .filter(|t| t.challenge_type == challenge)
            .collect()
    }

    /// Words a teach-back explanation in this domain should use: the
    /// profile's `required_vocabulary`.
    pub fn vocabulary(&self) -> &[String] {
        &self.required_vocabulary
    }

    /// Key terms for judging an explanation of `ctx`: the vocabulary plus
    /// the sensitive terms and pattern names found in the call, without
    /// duplicates (case-insensitive), in that order.
    pub fn key_terms_for(&self, ctx: &ActionContext) -> Vec<String> {
        let text = CallText::of(ctx);
        let full = text.full();
        let mut terms: Vec<String> = Vec::new();
        let mut push = |term: &str| {
            if !terms.iter().any(|t| t.eq_ignore_ascii_case(term)) {
                terms.push(term.to_owned());
            }
        };
        self.required_vocabulary.iter().for_each(|v| push(v));
        self.matching_terms(&full)
            .iter()
            .for_each(|t| push(t.term()));
        self.matching_patterns(&text)
            .iter()
            .for_each(|p| push(&p.name.replace('_', " ")));
        terms
    }

    /// The minimum review time the domain asks for at `level`, if any.
    pub fn min_review_for(&self, level: RiskLevel) -> Option<Duration> {
        self.min_review_overrides
            .get(&level)
            .and_then(|s| Duration::try_from_secs_f64(*s).ok())
    }

    /// The sensitive-term weights as a map (term → weight).
    pub fn term_weights(&self) -> BTreeMap<&str, f64> {
        self.sensitive_terms
            .iter()
            .map(|t| (t.term(), t.weight()))
            .collect()
    }
}

impl fmt::Display for DomainProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.display_name)
    }
}
