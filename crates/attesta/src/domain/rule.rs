//! Escalation rules and the condition language they are written in (§8.2).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::matcher::ActionGlob;
use crate::challenge::ChallengeType;
use crate::risk::RiskLevel;

/// What an escalation rule does when its condition holds. Every action
/// raises the bar; none lowers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationAction {
    /// At least `required_approvers` distinct approvers (a multi-party
    /// challenge).
    RequireMultiParty,
    /// Tell the rule's `notify_roles` (or `compliance` when it names
    /// none); the decision itself is unchanged.
    NotifyCompliance,
    /// Deny without asking anyone.
    Block,
    /// At least a teach-back challenge.
    RequireTeachBack,
    /// At least a confirmation.
    RequireConfirmation,
}

impl EscalationAction {
    /// Every action, in the reference's order (used in messages).
    pub const ALL: [EscalationAction; 5] = [
        Self::RequireMultiParty,
        Self::NotifyCompliance,
        Self::Block,
        Self::RequireTeachBack,
        Self::RequireConfirmation,
    ];

    /// The configuration name (`require_multi_party`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequireMultiParty => "require_multi_party",
            Self::NotifyCompliance => "notify_compliance",
            Self::Block => "block",
            Self::RequireTeachBack => "require_teach_back",
            Self::RequireConfirmation => "require_confirmation",
        }
    }

    /// The least challenge this action demands, if it demands one.
    pub fn required_challenge(self) -> Option<ChallengeType> {
        match self {
            Self::RequireMultiParty => Some(ChallengeType::MultiParty),
            Self::RequireTeachBack => Some(ChallengeType::TeachBack),
            Self::RequireConfirmation => Some(ChallengeType::Confirm),
            Self::NotifyCompliance | Self::Block => None,
        }
    }
}

impl fmt::Display for EscalationAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EscalationAction {
    type Err = String;

    /// The configuration name, trimmed and case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "'{}' is not an escalation action; use {}",
                    s.trim(),
                    names.join(", ")
                )
            })
    }
}

/// A comparison in `risk_score <op> <number>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>=`
    AtLeast,
    /// `<=`
    AtMost,
    /// `>`
    Above,
    /// `<`
    Below,
    /// `==` (within 1e-9)
    Equal,
    /// `!=` (beyond 1e-9)
    NotEqual,
}

impl Comparison {
    /// Longest operators first, so `>=` is not read as `>`.
    const OPERATORS: [(&'static str, Comparison); 6] = [
        (">=", Self::AtLeast),
        ("<=", Self::AtMost),
        ("==", Self::Equal),
        ("!=", Self::NotEqual),
        (">", Self::Above),
        ("<", Self::Below),
    ];

    fn symbol(self) -> &'static str {
        Self::OPERATORS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(s, _)| s)
    }

    fn holds(self, score: f64, threshold: f64) -> bool {
        // The reference's tolerance for (in)equality of floats.
        const TOLERANCE: f64 = 1e-9;
        match self {
            Self::AtLeast => score >= threshold,
            Self::AtMost => score <= threshold,
            Self::Above => score > threshold,
            Self::Below => score < threshold,
            Self::Equal => (score - threshold).abs() <= TOLERANCE,
            Self::NotEqual => (score - threshold).abs() > TOLERANCE,
        }
    }
}

/// When an escalation rule fires.
///
/// The reference's language (§8.2), parsed once at load time so that a
/// condition it would silently treat as false (a typo, `ENVIRONMENT:`, a
/// compound expression, a bare name) is an error here instead:
///
/// | written | holds when |
/// |---|---|
/// | `risk_score >= 0.9` (also `<=`, `>`, `<`, `==`, `!=`) | the score compares so (`==`/`!=` within 1e-9) |
/// | `matches_pattern:NAME` | a risk pattern of the profile named exactly `NAME` matches the call |
/// | `environment:NAME` | the call's environment is `NAME` (any case) |
/// | `risk_level:LEVEL` | the assessed level is `LEVEL` (any case) |
/// | `action:GLOB` | the action's whole name matches `GLOB`, or is a near-miss of a name that does (an addition: what the `NAME: N` shorthand creates) |
///
/// ```
/// use attesta::domain::Condition;
/// assert!(Condition::parse("risk_score >= 0.9").is_ok());
/// assert!(Condition::parse(" risk_score!=.5 ").is_ok());
/// assert!(Condition::parse("risk_score > -1").is_err());
/// assert!(Condition::parse("ENVIRONMENT:production").is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// `risk_score <op> <threshold>`.
    RiskScore {
        /// The comparison.
        op: Comparison,
        /// A number from 0 to 1.
        threshold: f64,
    },
    /// `matches_pattern:NAME`.
    MatchesPattern(String),
    /// `environment:NAME`, kept lower-cased.
    Environment(String),
    /// `risk_level:LEVEL`.
    RiskLevel(RiskLevel),
    /// `action:GLOB`.
    Action(ActionGlob),
}

impl Condition {
    /// Parses a condition (surrounding whitespace ignored). The error says
    /// which forms exist.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let unknown = || {
            format!(
                "'{text}' is not a condition Attesta understands, so the rule would never fire; \
                 use risk_score >= 0.9 (or <=, >, <, ==, !=), matches_pattern:NAME, \
                 environment:NAME, risk_level:LEVEL or action:NAME"
            )
        };
        if let Some(rest) = text.strip_prefix("risk_score") {
            let rest = rest.trim_start();
            let (symbol, op) = Comparison::OPERATORS
                .into_iter()
                .find(|(symbol, _)| rest.starts_with(symbol))
                .ok_or_else(unknown)?;
            let number = rest[symbol.len()..].trim();
            let threshold = parse_threshold(number).ok_or_else(unknown)?;
            if threshold > 1.0 {
                return Err(format!(
                    "risk_score {symbol} {number}: scores run from 0 to 1, so the threshold \
                     must be a number from 0 to 1"
                ));
            }
            return Ok(Self::RiskScore { op, threshold });
        }
        let (prefix, value) = text.split_once(':').ok_or_else(unknown)?;
        let value = value.trim();
        if value.is_empty() {
            return Err(format!(
                "'{text}' names nothing after the colon; write {prefix}:NAME"
            ));
        }
        match prefix {
            "matches_pattern" => Ok(Self::MatchesPattern(value.to_owned())),
            "environment" => Ok(Self::Environment(value.to_lowercase())),
            "risk_level" => value
                .to_ascii_lowercase()
                .parse()
                .map(Self::RiskLevel)
                .map_err(|_| {
                    format!(
                        "'{value}' is not a risk level; use risk_level:low, medium, high or \
                         critical"
                    )
                }),
            "action" => ActionGlob::new(value).map(Self::Action),
            _ => Err(unknown()),
        }
    }

    /// Whether the condition holds, given what the scorer found: the
    /// call's environment, the assessed score and level, the action name
    /// and the names of the risk patterns that matched.
    pub(crate) fn holds(&self, facts: &Facts<'_>) -> bool {
        match self {
            Self::RiskScore { op, threshold } => op.holds(facts.score, *threshold),
            Self::MatchesPattern(name) => facts.matched_patterns.iter().any(|p| p == name),
            Self::Environment(env) => facts.environment.to_lowercase() == *env,
            Self::RiskLevel(level) => facts.level == *level,
            // Rules only ever raise the bar, so a look-alike of a named
            // action meets it too.
            Self::Action(glob) => {
                glob.matches(facts.action) || glob.matches_folded(facts.folded_action)
            }
        }
    }
}

/// Digits with an optional decimal point, as the reference's grammar
/// (`0.9`, `1`, `.5`); no sign, no exponent.
fn parse_threshold(number: &str) -> Option<f64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let valid = digits(whole)
        && digits(fraction)
        && !(whole.is_empty() && fraction.is_empty())
        && !(number.contains('.') && fraction.is_empty());
    if valid { number.parse().ok() } else { None }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RiskScore { op, threshold } => write!(
                f,
                "risk_score {} {}",
                op.symbol(),
                crate::value::py_float_repr(*threshold)
            ),
            Self::MatchesPattern(name) => write!(f, "matches_pattern:{name}"),
            Self::Environment(env) => write!(f, "environment:{env}"),
            Self::RiskLevel(level) => write!(f, "risk_level:{level}"),
            Self::Action(glob) => write!(f, "action:{}", glob.as_str()),
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What conditions are evaluated against.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    pub(crate) action: &'a str,
    /// [`crate::names::fold`] of `action`, computed once per call.
    pub(crate) folded_action: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) score: f64,
    pub(crate) level: RiskLevel,
    pub(crate) matched_patterns: Vec<&'a str>,
}

/// A rule that raises the bar for matching actions (§8.2).
///
/// Constructed by the profile loader, which checks every field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EscalationRule {
    /// A name for messages and audit records; defaults to the condition
    /// text. The `NAME: N` shorthand in `attesta.yaml` uses `NAME`.
    pub name: String,
    /// When the rule fires.
    pub condition: Condition,
    /// What it does then.
    pub action: EscalationAction,
    /// Distinct approvers `require_multi_party` asks for (at least 1;
    /// default 2). Ignored by the other actions.
    pub required_approvers: u32,
    /// Roles to notify when the rule fires (any action).
    pub notify_roles: Vec<String>,
    /// Why the rule exists.
    pub description: String,
    /// The profile that declared it; kept through merges so a decision can
    /// say which profile's rule applied. Not serialised: a profile's
    /// serialised form is a profile file, which has no such key.
    #[serde(skip_serializing)]
    pub profile: String,
}

impl EscalationRule {
    /// Default for `required_approvers`, as in the reference.
    pub const DEFAULT_APPROVERS: u32 = 2;

    /// A rule with the given parts and no roles or description.
    pub(crate) fn new(
        profile: &str,
        name: &str,
        condition: Condition,
        action: EscalationAction,
        required_approvers: u32,
    ) -> Self {
        Self {
            name: name.to_owned(),
            condition,
            action,
            required_approvers,
            notify_roles: Vec::new(),
            description: String::new(),
            profile: profile.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::names::fold;

    static FOLDED_ACTION: LazyLock<String> = LazyLock::new(|| fold("terraform_destroy"));

    fn facts(score: f64, level: RiskLevel) -> Facts<'static> {
        Facts {
            action: "terraform_destroy",
            folded_action: &FOLDED_ACTION,
            environment: "Production",
            score,
            level,
            matched_patterns: vec!["x"],
        }
    }

    /// Appendix F.3: environment "Production", score 0.9, level critical,
    /// matched pattern `x`. Conditions the reference silently treats as
    /// false are load-time errors here.
    #[test]
    fn appendix_f3_condition_table() {
        let f = facts(0.9, RiskLevel::Critical);
        let table: [(&str, Option<bool>); 13] = [
            ("risk_score > 0.9", Some(false)),
            ("risk_score >= 0.9", Some(true)),
            ("risk_score==0.9", Some(true)),
            (" risk_score != 0.9 ", Some(false)),
            ("risk_score > .5", Some(true)),
            ("risk_score > -1", None),
            ("risk_score > 1e-1", None),
            ("environment:production", Some(true)),
            ("risk_level:CRITICAL", Some(true)),
            ("matches_pattern:x", Some(true)),
            ("bulk_student_export", None),
            ("risk_score>0.5 and environment:production", None),
            ("ENVIRONMENT:production", None),
        ];
        for (text, expected) in table {
            let parsed = Condition::parse(text);
            match expected {
                Some(holds) => {
                    let condition = parsed.unwrap_or_else(|e| panic!("{text}: {e}"));
                    assert_eq!(condition.holds(&f), holds, "{text}");
                }
                None => assert!(parsed.is_err(), "{text} should be refused"),
            }
        }
    }

    #[test]
    fn more_conditions() {
        let f = facts(0.5, RiskLevel::Medium);
        let holds = |t: &str| Condition::parse(t).unwrap().holds(&f);
        assert!(holds("risk_score < 0.6"));
        assert!(holds("risk_score <= 0.5"));
        assert!(holds("risk_score == 0.5000000001"));
        assert!(!holds("risk_score != 0.5000000001"));
        assert!(holds("risk_level:medium"));
        assert!(
            !holds("matches_pattern:X"),
            "pattern names are case-sensitive"
        );
        assert!(holds("action:terraform_*"));
        assert!(!holds("action:terraform"), "whole names only");
        assert!(holds("environment:PRODUCTION"));
        for bad in [
            "risk_score >= 1.5",
            "risk_score >= 5.",
            "risk_score >= .",
            "risk_score => 0.5",
            "risk_level:severe",
            "matches_pattern: ",
            "action:drop_(",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn action_conditions_hold_for_near_misses_of_the_action() {
        let condition = Condition::parse("action:terraform_destroy").unwrap();
        for name in [
            "TERRAFORM_DESTROY",
            "terraform_destroy\u{200b}",
            "terraform_d\u{435}stroy",
        ] {
            let folded = fold(name);
            let f = Facts {
                action: name,
                folded_action: &folded,
                ..facts(0.1, RiskLevel::Low)
            };
            assert!(condition.holds(&f), "{name:?}");
        }
        let folded = fold("terraform_destroy_plan");
        let other = Facts {
            action: "terraform_destroy_plan",
            folded_action: &folded,
            ..facts(0.1, RiskLevel::Low)
        };
        assert!(!condition.holds(&other));
    }

    #[test]
    fn conditions_print_in_their_written_form() {
        for text in [
            "risk_score >= 0.9",
            "matches_pattern:terraform_destroy",
            "environment:production",
            "risk_level:high",
            "action:phi_access",
        ] {
            assert_eq!(Condition::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Condition::parse("risk_score>1").unwrap().to_string(),
            "risk_score > 1.0"
        );
    }

    #[test]
    fn actions_parse_and_demand_challenges() {
        assert_eq!(
            " Block ".parse::<EscalationAction>(),
            Ok(EscalationAction::Block)
        );
        let error = "multi_party".parse::<EscalationAction>().unwrap_err();
        assert!(
            error.contains("require_multi_party, notify_compliance, block"),
            "{error}"
        );
        assert_eq!(
            EscalationAction::RequireTeachBack.required_challenge(),
            Some(ChallengeType::TeachBack)
        );
        assert_eq!(EscalationAction::Block.required_challenge(), None);
    }
}
