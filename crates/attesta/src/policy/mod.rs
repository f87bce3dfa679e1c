//! [`Policy`]: what `attesta.yaml` (or `attesta.toml`) says the gate must do.
//!
//! The keys are the reference implementation's, so a policy file moves
//! between the two, plus the keys the product documentation promises and the
//! reference ignores (`policy.min_review_seconds` per challenge type,
//! `policy.multi_party.required_approvers`, `domains:`). Loading is strict:
//! see [`Policy::from_file`] and `docs/configuration.md`.

mod from_toml;
// `from_yaml`, `tree`, `load` and `validate::read` are shared with the domain
// profile loader, so profile files get the same strictness and messages.
pub(crate) mod from_yaml;
pub(crate) mod load;
pub(crate) mod tree;
pub(crate) mod validate;

pub use load::{PolicyError, SourceLocation};

use std::collections::BTreeMap;
use std::fmt;
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

/// Where approvals go when an approval server is used
/// (`policy.approvals`): the levels it covers are put to it, and the routes
/// are tried in `order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalsSettings {
    /// The server's base URL (`https://…`; `http://` only on loopback).
    pub server: String,
    /// The environment variable holding the requester token (default
    /// `ATTESTA_TOKEN`).
    pub token_env: String,
    /// A file holding the token instead (owner-only permissions), if set.
    pub token_file: Option<PathBuf>,
    /// The server's public key file (`server-signing.pub`): decisions not
    /// signed by it are refused.
    pub public_key: PathBuf,
    /// Where an approval is asked for, in the order tried (`order:`;
    /// default `[server]`). A later route is tried only when the one before
    /// could not take the approval at all; never after a decision.
    pub order: Vec<ApprovalRoute>,
    /// The levels the server is used for (`levels:`; default every level).
    /// Other levels are asked locally.
    pub levels: Vec<RiskLevel>,
    /// How long an unreachable server is retried before the approval
    /// counts as undelivered (`retry_seconds:`; default 60).
    pub retry: Duration,
}

/// One way to put an approval to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApprovalRoute {
    /// The approval server (`policy.approvals.server`).
    Server,
    /// The engine's own channel: the terminal, or the MCP client's form.
    Local,
}

impl ApprovalRoute {
    /// The name in `attesta.yaml` and in results (`server`, `local`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Local => "local",
        }
    }
}

impl fmt::Display for ApprovalRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Audit trail settings (`audit:` section).
#[derive(Clone, PartialEq)]
pub struct AuditSettings {
    /// Where the JSONL log lives (default `.attesta/audit.jsonl`).
    pub path: PathBuf,
    /// Tenant name carried into records (default `default`).
    pub tenant_id: String,
    /// Optional key for keyed hashing, as in the reference's `hmac_key`.
    pub hmac_key: Option<String>,
    /// Sign a checkpoint after every this many entries
    /// (`audit.checkpoint_every`); `None` (the default) leaves checkpoints to
    /// `attesta audit checkpoint`.
    pub checkpoint_every: Option<u64>,
    /// The checkpoint signing key file (`audit.key`, default
    /// `.attesta/audit.key` next to the policy file).
    pub key_path: PathBuf,
    /// The checkpoint public key file (`audit.public_key`, default
    /// `.attesta/audit.pub` next to the policy file).
    pub public_key_path: PathBuf,
    /// When appended records are forced to disk (`audit.fsync`, default
    /// `always`).
    pub fsync: crate::audit::FsyncMode,
}

impl AuditSettings {
    /// Default `audit.key`, relative to the policy file's directory.
    pub const DEFAULT_KEY_PATH: &'static str = ".attesta/audit.key";
    /// Default `audit.public_key`, relative to the policy file's directory.
    pub const DEFAULT_PUBLIC_KEY_PATH: &'static str = ".attesta/audit.pub";

    /// When the log writer should sign checkpoints.
    pub fn checkpoint_policy(&self) -> crate::audit::CheckpointPolicy {
        crate::audit::CheckpointPolicy {
            every: self.checkpoint_every,
        }
    }
}

// Hand-written so the HMAC key never reaches logs or error output.
impl std::fmt::Debug for AuditSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSettings")
            .field("path", &self.path)
            .field("tenant_id", &self.tenant_id)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<redacted>"))
            .field("checkpoint_every", &self.checkpoint_every)
            .field("key_path", &self.key_path)
            .field("public_key_path", &self.public_key_path)
            .field("fsync", &self.fsync)
            .finish()
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from(".attesta/audit.jsonl"),
            tenant_id: "default".to_owned(),
            hmac_key: None,
            checkpoint_every: None,
            key_path: PathBuf::from(Self::DEFAULT_KEY_PATH),
            public_key_path: PathBuf::from(Self::DEFAULT_PUBLIC_KEY_PATH),
            fsync: crate::audit::FsyncMode::Always,
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

/// Quiz settings (`policy.quiz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuizSettings {
    /// Questions to ask, 1 to 3 (default 3); fewer if the action offers
    /// fewer facts to ask about.
    pub max_questions: u32,
    /// Correct answers needed to pass. `None` (the default) means all of
    /// them for one or two questions, and all but one for three.
    pub min_correct: Option<u32>,
}

impl Default for QuizSettings {
    fn default() -> Self {
        Self {
            max_questions: 3,
            min_correct: None,
        }
    }
}

impl QuizSettings {
    /// Correct answers needed when `asked` questions were asked.
    pub fn required_correct(&self, asked: u32) -> u32 {
        match self.min_correct {
            Some(n) => n.min(asked).max(1),
            None if asked >= 3 => asked - 1,
            None => asked.max(1),
        }
    }
}

/// Teach-back settings (`policy.teach_back`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeachBackSettings {
    /// Words an explanation needs at least (default 15).
    pub min_words: u32,
}

impl Default for TeachBackSettings {
    fn default() -> Self {
        Self { min_words: 15 }
    }
}

/// Hash function of a TOTP code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotpAlgorithm {
    /// HMAC-SHA1 (what authenticator apps use by default).
    #[default]
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// TOTP settings (`policy.totp`), RFC 6238.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpSettings {
    /// Code length: 6 or 8 (default 6).
    pub digits: u32,
    /// Seconds per time step (default 30).
    pub period_seconds: u32,
    /// Steps of clock drift accepted either side (default 1).
    pub drift_steps: u32,
    /// Wrong codes allowed before the challenge fails (default 3).
    pub max_attempts: u32,
    /// Hash function (default SHA-1).
    pub algorithm: TotpAlgorithm,
}

impl Default for TotpSettings {
    fn default() -> Self {
        Self {
            digits: 6,
            period_seconds: 30,
            drift_steps: 1,
            max_attempts: 3,
            algorithm: TotpAlgorithm::Sha1,
        }
    }
}

/// Where an approver's TOTP secret (base32) comes from. The secret itself is
/// never in the policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable holding the base32 secret.
    Env(String),
    /// A file holding the base32 secret (must not be readable by others).
    File(PathBuf),
}

/// A person allowed to approve at this installation (`approvers:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverConfig {
    /// The principal id recorded in the audit trail.
    pub id: String,
    /// Proof of identity by TOTP code, if configured.
    pub totp_secret: Option<SecretSource>,
    /// The OS account this approver uses, if it must match.
    pub os_user: Option<String>,
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
    /// Quiz settings.
    pub quiz: QuizSettings,
    /// Teach-back settings.
    pub teach_back: TeachBackSettings,
    /// TOTP settings.
    pub totp: TotpSettings,
    /// People allowed to approve, and how each proves who they are.
    pub approvers: Vec<ApproverConfig>,
    /// The approval server every human approval goes to
    /// (`policy.approvals`), if any.
    pub approvals: Option<ApprovalsSettings>,
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
            quiz: QuizSettings::default(),
            teach_back: TeachBackSettings::default(),
            totp: TotpSettings::default(),
            approvers: Vec::new(),
            approvals: None,
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
    /// unknown key, a wrong type, an out-of-range value, an unknown level or
    /// a duplicate key is an error naming the file, the line and the key.
    ///
    /// The extension (any case) picks the format. A missing file is an
    /// error; falling back to [`Policy::default`] is the caller's choice.
    /// Relative paths in the file (`audit.path`, `trust.store`) are resolved
    /// against the file's directory. See `docs/configuration.md` for every
    /// key.
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        load::from_file(path)
    }

    /// Parses policy text as if it had been read from `file_name`, which
    /// picks YAML or TOML by its extension, labels error messages and
    /// anchors relative paths.
    ///
    /// ```
    /// use std::path::Path;
    /// use attesta::policy::{FailMode, Policy};
    ///
    /// let policy = Policy::from_str_named("policy:\n  fail_mode: escalate\n", Path::new("attesta.yaml"))?;
    /// assert_eq!(policy.fail_mode, FailMode::Escalate);
    ///
    /// let error = Policy::from_str_named("policy:\n  fail_mode: sometimes\n", Path::new("attesta.yaml"))
    ///     .unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "attesta.yaml:2:14: policy.fail_mode: 'sometimes' is not a fail mode; use deny, allow or escalate"
    /// );
    /// # Ok::<(), attesta::policy::PolicyError>(())
    /// ```
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

    /// The `risk.overrides` entry that applies to an action, if any.
    ///
    /// An entry named exactly like the action, or else like the part after
    /// its last `.` (`Service.deploy` → `deploy`), gives an absolute level
    /// ([`OverrideMatch::Exact`]). Failing that, entries that are near-misses
    /// of the name or of that part under [`crate::names::fold`] (`DANGER`,
    /// `danger `, `dаnger` with a Cyrillic `а` for the entry `danger`) give
    /// the highest of their levels as a floor ([`OverrideMatch::Resembles`]):
    /// a look-alike name is gated at least as high as the entry, never
    /// lower.
    ///
    /// ```
    /// use attesta::policy::{OverrideMatch, Policy};
    /// use attesta::RiskLevel;
    ///
    /// let mut policy = Policy::default();
    /// policy.risk_overrides.insert("danger".into(), RiskLevel::Critical);
    /// assert_eq!(policy.override_for("danger"), Some(OverrideMatch::Exact(RiskLevel::Critical)));
    /// assert_eq!(
    ///     policy.override_for("Tools.DANGER"),
    ///     Some(OverrideMatch::Resembles { key: "danger", level: RiskLevel::Critical })
    /// );
    /// assert_eq!(policy.override_for("dangerous"), None);
    /// ```
    pub fn override_for(&self, function_name: &str) -> Option<OverrideMatch<'_>> {
        if let Some(level) = self.risk_overrides.get(function_name) {
            return Some(OverrideMatch::Exact(*level));
        }
        let tail = function_name.rsplit_once('.').map(|(_, tail)| tail);
        if let Some(level) = tail.and_then(|tail| self.risk_overrides.get(tail)) {
            return Some(OverrideMatch::Exact(*level));
        }
        self.resembling_override(function_name, tail)
    }

    /// The highest-level entry whose fold equals the fold of the name or of
    /// its tail (the first such entry on a tie, so messages are stable).
    fn resembling_override(
        &self,
        function_name: &str,
        tail: Option<&str>,
    ) -> Option<OverrideMatch<'_>> {
        if self.risk_overrides.is_empty() {
            return None;
        }
        let folded = crate::names::fold(function_name);
        // The tail of the folded name and the fold of the raw tail differ
        // when folding makes or removes a dot (`Svc．deploy`, fullwidth
        // full stop); either one resembling an entry is enough.
        let folded_tail = folded.rsplit_once('.').map(|(_, t)| t.to_owned());
        let raw_tail_folded = tail.map(crate::names::fold);
        let candidates = [Some(folded), folded_tail, raw_tail_folded];
        let mut best: Option<(&str, RiskLevel)> = None;
        for (key, level) in &self.risk_overrides {
            if best.is_some_and(|(_, best_level)| *level <= best_level) {
                continue;
            }
            let key_folded = crate::names::fold(key);
            if candidates.iter().flatten().any(|c| *c == key_folded) {
                best = Some((key.as_str(), *level));
            }
        }
        best.map(|(key, level)| OverrideMatch::Resembles { key, level })
    }
}

/// How a `risk.overrides` entry applies to an action (see
/// [`Policy::override_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideMatch<'a> {
    /// An entry is the action's name, or the part after its last `.`: its
    /// level is the action's level, whatever the scorer says (it may lower
    /// risk, as `read_note: low` does).
    Exact(RiskLevel),
    /// No entry is the name, but `key` differs from it (or from the part
    /// after its last `.`) only in case, spacing, invisible or look-alike
    /// characters: the action is scored as usual and then raised to
    /// `level` if it scored lower. Never lowers.
    Resembles {
        /// The entry as written in the policy.
        key: &'a str,
        /// The entry's level: the least level the action gets.
        level: RiskLevel,
    },
}

impl OverrideMatch<'_> {
    /// The entry's level, whether it is absolute or a floor.
    pub fn level(self) -> RiskLevel {
        match self {
            Self::Exact(level) | Self::Resembles { level, .. } => level,
        }
    }
}

/// Field by field; amplifiers compare by pattern text and boost, since a
/// compiled `Regex` has no equality of its own. Lets tests (and a reload
/// that wants to know whether anything changed) compare whole policies.
impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            source,
            challenge_map,
            minimum_review_seconds,
            min_review_seconds,
            required_approvers,
            fail_mode,
            timeout,
            mode,
            rubber_stamp,
            allow_hint_override,
            allow_critical_auto_approve,
            default_environment,
            risk_overrides,
            risk_amplifiers,
            trust,
            domains,
            domain_strict,
            audit,
            quiz,
            teach_back,
            totp,
            approvers,
            approvals,
            warnings,
        } = self;
        *source == other.source
            && *challenge_map == other.challenge_map
            && *minimum_review_seconds == other.minimum_review_seconds
            && *min_review_seconds == other.min_review_seconds
            && *required_approvers == other.required_approvers
            && *fail_mode == other.fail_mode
            && *timeout == other.timeout
            && *mode == other.mode
            && *rubber_stamp == other.rubber_stamp
            && *allow_hint_override == other.allow_hint_override
            && *allow_critical_auto_approve == other.allow_critical_auto_approve
            && *default_environment == other.default_environment
            && *risk_overrides == other.risk_overrides
            && risk_amplifiers.len() == other.risk_amplifiers.len()
            && risk_amplifiers
                .iter()
                .zip(&other.risk_amplifiers)
                .all(|(a, b)| a.pattern.as_str() == b.pattern.as_str() && a.boost == b.boost)
            && *trust == other.trust
            && *domains == other.domains
            && *domain_strict == other.domain_strict
            && *audit == other.audit
            && *quiz == other.quiz
            && *teach_back == other.teach_back
            && *totp == other.totp
            && *approvers == other.approvers
            && *approvals == other.approvals
            && *warnings == other.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiz_pass_rule_defaults_to_all_or_all_but_one() {
        let q = QuizSettings::default();
        assert_eq!(
            (
                q.required_correct(1),
                q.required_correct(2),
                q.required_correct(3)
            ),
            (1, 2, 2)
        );
        let q = QuizSettings {
            min_correct: Some(3),
            ..q
        };
        assert_eq!(q.required_correct(2), 2, "never more than were asked");
        let q = QuizSettings {
            min_correct: Some(0),
            ..q
        };
        assert_eq!(q.required_correct(3), 1, "never zero");
    }

    #[test]
    fn debug_output_redacts_the_hmac_key() {
        let settings = AuditSettings {
            hmac_key: Some("s3cret-key".into()),
            ..AuditSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

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
        let exact = Some(OverrideMatch::Exact(RiskLevel::Critical));
        assert_eq!(p.override_for("deploy"), exact);
        assert_eq!(p.override_for("Service.deploy"), exact);
        assert_eq!(p.override_for("deploy_all"), None);
    }

    fn resembles(key: &str, level: RiskLevel) -> OverrideMatch<'_> {
        OverrideMatch::Resembles { key, level }
    }

    #[test]
    fn near_misses_of_an_entry_resemble_it() {
        let mut p = Policy::default();
        p.risk_overrides
            .insert("danger".into(), RiskLevel::Critical);
        for name in [
            "DANGER",
            "danger ",
            "danger\u{a0}",
            "danger\u{0}",
            "dan\u{200b}ger",
            "\u{ff44}anger",
            "d\u{430}nger",
            "Tools.DANGER",
            "Tools\u{ff0e}danger",
        ] {
            assert_eq!(
                p.override_for(name),
                Some(resembles("danger", RiskLevel::Critical)),
                "{name:?}"
            );
        }
        assert_eq!(p.override_for("dangerous"), None);
        assert_eq!(p.override_for("danger_zone"), None);
    }

    #[test]
    fn an_exact_entry_wins_over_resemblances() {
        let mut p = Policy::default();
        p.risk_overrides
            .insert("READ_NOTE".into(), RiskLevel::Critical);
        p.risk_overrides.insert("read_note".into(), RiskLevel::Low);
        assert_eq!(
            p.override_for("read_note"),
            Some(OverrideMatch::Exact(RiskLevel::Low))
        );
        assert_eq!(
            p.override_for("Notes.read_note"),
            Some(OverrideMatch::Exact(RiskLevel::Low))
        );
        assert_eq!(
            p.override_for("Read_Note"),
            Some(resembles("READ_NOTE", RiskLevel::Critical)),
            "the highest resembling entry gives the floor"
        );
    }

    #[test]
    fn the_first_entry_names_a_tie() {
        let mut p = Policy::default();
        p.risk_overrides.insert("Wipe".into(), RiskLevel::High);
        p.risk_overrides.insert("WIPE".into(), RiskLevel::High);
        p.risk_overrides
            .insert("wipe_all".into(), RiskLevel::Critical);
        assert_eq!(
            p.override_for("wipe"),
            Some(resembles("Wipe", RiskLevel::High))
        );
        assert_eq!(resembles("Wipe", RiskLevel::High).level(), RiskLevel::High);
    }
}
