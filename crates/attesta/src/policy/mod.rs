//! [`Policy`]: what `attesta.yaml` (or `attesta.toml`) says the gate must do.
//!
//! The keys are the reference implementation's, so a policy file moves
//! between the two, plus the keys the product documentation promises and the
//! reference ignores (`policy.min_review_seconds` per challenge type,
//! `policy.multi_party.required_approvers`, `domains:`). Loading is strict:
//! see [`Policy::from_file`] and `docs/configuration.md`.

mod load;

pub use load::PolicyError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

use crate::challenge::ChallengeType;
use crate::risk::{Amplifier, RiskLevel};
use crate::trust::TrustSettings;
use crate::value::Value;

/// What the gate does when no human could be asked (no channel, channel
/// error, timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Deny the action (the default).
    #[default]
    Deny,
    /// Let the action run anyway, recorded as fail-open. Never applies to
    /// CRITICAL actions, which are denied regardless.
    Allow,
    /// Deny now and mark the decision as escalated for someone to follow up.
    Escalate,
}

impl FailMode {
    /// The lowercase configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allow => "allow",
            Self::Escalate => "escalate",
        }
    }
}

/// Whether challenges are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GateMode {
    /// Challenges decide (the default).
    #[default]
    Enforce,
    /// Challenges run and are recorded, but the action runs whatever the
    /// outcome; for trialling a policy.
    Shadow,
    /// No human is asked; every action runs and is recorded.
    AuditOnly,
}

impl GateMode {
    /// The `snake_case` configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Shadow => "shadow",
            Self::AuditOnly => "audit_only",
        }
    }
}

/// What to do with an answer given faster than the minimum review time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RubberStampMode {
    /// Accept it, but record `min_review_met: false` (the default).
    #[default]
    Flag,
    /// Deny the action.
    Reject,
}

/// Audit trail settings (`audit:` section).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSettings {
    /// Where the JSONL log lives (default `.attesta/audit.jsonl`).
    pub path: PathBuf,
    /// Tenant name carried into records (default `default`).
    pub tenant_id: String,
    /// Optional key for keyed hashing, as in the reference's `hmac_key`.
    pub hmac_key: Option<String>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from(".attesta/audit.jsonl"),
            tenant_id: "default".to_owned(),
            hmac_key: None,
        }
    }
}

/// One entry of the `domains:` list: a profile to activate and any
/// escalation rules the file sets for it.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSelection {
    /// Profile name as written (`healthcare`, `infrastructure`, ...).
    pub name: String,
    /// Escalation rules keyed by action or pattern name.
    pub escalation_rules: IndexMap<String, EscalationSetting>,
}

/// An escalation rule in the `domains:` list.
#[derive(Debug, Clone, PartialEq)]
pub enum EscalationSetting {
    /// Shorthand `phi_access: 3`: require at least this many approvers.
    Approvers(u32),
    /// Full rule form (a mapping), kept as written; the domains feature
    /// interprets it.
    Rule(IndexMap<String, Value>),
}

/// Everything the gate needs to know from configuration.
///
/// `Policy::default()` is the built-in policy used when no file exists.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file this policy came from, if any (for messages).
    pub source: Option<PathBuf>,
    /// Challenge per risk level, complete (levels the file leaves out keep
    /// their defaults: `low` → `auto_approve`, `medium` → `confirm`,
    /// `high` → `quiz`, `critical` → `multi_party`).
    pub challenge_map: BTreeMap<RiskLevel, ChallengeType>,
    /// Per-level minimum review seconds set explicitly in the file
    /// (`policy.minimum_review_seconds`); a level present here wins over
    /// the per-challenge table.
    pub minimum_review_seconds: BTreeMap<RiskLevel, f64>,
    /// Minimum review seconds per challenge type (`policy.min_review_seconds`;
    /// defaults `confirm` 3, `quiz` 10, `teach_back` 30).
    pub min_review_seconds: BTreeMap<ChallengeType, f64>,
    /// Distinct approvers a multi-party challenge needs (default 2).
    pub required_approvers: u32,
    /// What happens when no human could be asked.
    pub fail_mode: FailMode,
    /// How long to wait for a human (default 300 s).
    pub timeout: Duration,
    /// Enforce, shadow or audit-only.
    pub mode: GateMode,
    /// How answers faster than the minimum review time are treated.
    pub rubber_stamp: RubberStampMode,
    /// Honour `hints.risk_override` (raise-only even then).
    pub allow_hint_override: bool,
    /// Explicit opt-in that lets `challenge_map` send CRITICAL to
    /// `auto_approve`. Without it such a map is a configuration error.
    pub allow_critical_auto_approve: bool,
    /// Environment used when an action does not name one.
    pub default_environment: Option<String>,
    /// Absolute risk levels for named actions (`risk.overrides`).
    pub risk_overrides: IndexMap<String, RiskLevel>,
    /// Score boosts for function-name patterns (`risk.amplifiers`).
    pub risk_amplifiers: Vec<Amplifier>,
    /// Trust engine settings; `None` when the file has no `trust:` section.
    pub trust: Option<TrustSettings>,
    /// Domain profiles to activate (`domain:` and `domains:`), in order.
    pub domains: Vec<DomainSelection>,
    /// Whether an unknown domain name is an error (default true).
    pub domain_strict: bool,
    /// Audit trail settings.
    pub audit: AuditSettings,
    /// Non-fatal notes from loading (e.g. an unknown domain with
    /// `domain_strict: false`); the CLI prints them.
    pub warnings: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            source: None,
            challenge_map: default_challenge_map(),
            minimum_review_seconds: BTreeMap::new(),
            min_review_seconds: default_min_review_by_challenge(),
            required_approvers: 2,
            fail_mode: FailMode::Deny,
            timeout: Duration::from_mins(5),
            mode: GateMode::Enforce,
            rubber_stamp: RubberStampMode::Flag,
            allow_hint_override: false,
            allow_critical_auto_approve: false,
            default_environment: None,
            risk_overrides: IndexMap::new(),
            risk_amplifiers: Vec::new(),
            trust: None,
            domains: Vec::new(),
            domain_strict: true,
            audit: AuditSettings::default(),
            warnings: Vec::new(),
        }
    }
}

/// `low` → `auto_approve`, `medium` → `confirm`, `high` → `quiz`,
/// `critical` → `multi_party`.
pub fn default_challenge_map() -> BTreeMap<RiskLevel, ChallengeType> {
    BTreeMap::from([
        (RiskLevel::Low, ChallengeType::AutoApprove),
        (RiskLevel::Medium, ChallengeType::Confirm),
        (RiskLevel::High, ChallengeType::Quiz),
        (RiskLevel::Critical, ChallengeType::MultiParty),
    ])
}

/// `confirm` 3 s, `quiz` 10 s, `teach_back` 30 s.
pub fn default_min_review_by_challenge() -> BTreeMap<ChallengeType, f64> {
    BTreeMap::from([
        (ChallengeType::Confirm, 3.0),
        (ChallengeType::Quiz, 10.0),
        (ChallengeType::TeachBack, 30.0),
    ])
}

impl Policy {
    /// Loads `attesta.yaml`, `attesta.yml` or `attesta.toml` strictly: an
    /// unknown key, a wrong type, an out-of-range value or an unknown level is
    /// an error naming the file, the line and the key.
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        load::from_file(path)
    }

    /// Parses policy text; `format_hint` is the file name used to pick YAML or
    /// TOML and to label errors.
    pub fn from_str_named(text: &str, file_name: &Path) -> Result<Self, PolicyError> {
        load::from_text(text, file_name)
    }

    /// The challenge for a level.
    pub fn challenge_for(&self, level: RiskLevel) -> ChallengeType {
        self.challenge_map
            .get(&level)
            .copied()
            .unwrap_or_else(|| default_challenge_map()[&level])
    }

    /// Minimum review time for a challenge of `challenge` type at `level`:
    /// an explicit per-level value wins, else the per-challenge value, else 0.
    pub fn min_review_for(&self, level: RiskLevel, challenge: ChallengeType) -> Duration {
        let seconds = self
            .minimum_review_seconds
            .get(&level)
            .or_else(|| self.min_review_seconds.get(&challenge))
            .copied()
            .unwrap_or(0.0);
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
    }

    /// The absolute level configured for an action, matching the exact name
    /// first and then the part after the last `.` (`Service.deploy` →
    /// `deploy`).
    pub fn override_for(&self, function_name: &str) -> Option<RiskLevel> {
        if let Some(level) = self.risk_overrides.get(function_name) {
            return Some(*level);
        }
        let (_, tail) = function_name.rsplit_once('.')?;
        self.risk_overrides.get(tail).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_policy() {
        let p = Policy::default();
        assert_eq!(p.challenge_for(RiskLevel::Low), ChallengeType::AutoApprove);
        assert_eq!(
            p.challenge_for(RiskLevel::Critical),
            ChallengeType::MultiParty
        );
        assert_eq!(
            p.min_review_for(RiskLevel::Medium, ChallengeType::Confirm),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.min_review_for(RiskLevel::Low, ChallengeType::AutoApprove),
            Duration::ZERO
        );
        assert_eq!(p.fail_mode, FailMode::Deny);
        assert_eq!(p.required_approvers, 2);
    }

    #[test]
    fn per_level_minimum_wins_over_per_challenge() {
        let mut p = Policy::default();
        p.minimum_review_seconds.insert(RiskLevel::High, 20.0);
        assert_eq!(
            p.min_review_for(RiskLevel::High, ChallengeType::Quiz),
            Duration::from_secs(20)
        );
        assert_eq!(
            p.min_review_for(RiskLevel::Medium, ChallengeType::Quiz),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn overrides_match_exact_then_last_segment() {
        let mut p = Policy::default();
        p.risk_overrides
            .insert("deploy".into(), RiskLevel::Critical);
        assert_eq!(p.override_for("deploy"), Some(RiskLevel::Critical));
        assert_eq!(p.override_for("Service.deploy"), Some(RiskLevel::Critical));
        assert_eq!(p.override_for("deploy_all"), None);
    }
}
