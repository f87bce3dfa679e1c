//! The `policy:` section, and the reference's legacy flat keys that say the
//! same things at the top level (`fail_mode: allow` instead of
//! `policy: {fail_mode: allow}`). Giving both spellings of one setting is
//! an error: the file would be ambiguous.

use std::collections::BTreeMap;
use std::time::Duration;

use super::read::{Field, Section, one_of};
use crate::challenge::{ChallengeType, UnknownChallengeType};
use crate::policy::tree::{Kind, Problem, escape_controls};
use crate::policy::{FailMode, GateMode, Policy, RubberStampMode};
use crate::risk::RiskLevel;

pub(super) const POLICY_KEYS: &[&str] = &[
    "minimum_review_seconds",
    "min_review_seconds",
    "require_multi_party",
    "multi_party",
    "challenge_map",
    "challenges",
    "fail_mode",
    "timeout_seconds",
    "mode",
    "rubber_stamp",
    "allow_hint_override",
    "default_environment",
    "allow_critical_auto_approve",
    "quiz",
    "teach_back",
    "totp",
    "approvals",
];

/// Longest approval wait a policy may set: a day. Longer is a typo (minutes
/// for seconds) or a gate that never gives up.
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;

/// Applies `policy:` and the legacy flat keys of `top` to `policy`.
pub(super) fn apply(policy: &mut Policy, top: &Section<'_>) -> Result<(), Problem> {
    let section = top
        .get("policy")
        .map(|f| Section::new(f, POLICY_KEYS))
        .transpose()?;
    let get = |key: &str| section.as_ref().and_then(|s| s.get(key));

    review_times(
        policy,
        top,
        get("minimum_review_seconds"),
        get("min_review_seconds"),
    )?;

    let critical_approvers = get("require_multi_party")
        .map(require_multi_party)
        .transpose()?;
    policy.required_approvers = approver_count(critical_approvers.as_ref(), get("multi_party"))?;

    let allow_critical_auto = get("allow_critical_auto_approve")
        .map(Field::boolean)
        .transpose()?
        .unwrap_or(false);
    policy.allow_critical_auto_approve = allow_critical_auto;
    let map = one_of(&[
        get("challenge_map"),
        get("challenges"),
        top.get("challenge_map"),
        top.get("challenges"),
    ])?;
    challenge_map(
        policy,
        map,
        critical_approvers.as_ref(),
        allow_critical_auto,
    )?;

    if let Some(f) = one_of(&[get("fail_mode"), top.get("fail_mode")])? {
        let modes = [FailMode::Deny, FailMode::Allow, FailMode::Escalate];
        policy.fail_mode = f.choice("a fail mode", &modes.map(|m| (m.as_str(), m)))?;
    }
    if let Some(f) = one_of(&[get("timeout_seconds"), top.get("timeout_seconds")])? {
        policy.timeout = timeout(f)?;
    }
    if let Some(f) = get("mode") {
        let modes = [GateMode::Enforce, GateMode::Shadow, GateMode::AuditOnly];
        policy.mode = f.choice("a gate mode", &modes.map(|m| (m.as_str(), m)))?;
    }
    if let Some(f) = get("rubber_stamp") {
        policy.rubber_stamp = f.choice(
            "a rubber-stamp mode",
            &[
                ("flag", RubberStampMode::Flag),
                ("reject", RubberStampMode::Reject),
            ],
        )?;
    }
    if let Some(f) = one_of(&[get("allow_hint_override"), top.get("allow_hint_override")])? {
        policy.allow_hint_override = f.boolean()?;
    }
    if let Some(f) = one_of(&[get("default_environment"), top.get("default_environment")])? {
        policy.default_environment = Some(f.non_empty_string()?.to_owned());
    }
    if let Some(f) = get("quiz") {
        policy.quiz = super::challenges::quiz(f)?;
    }
    if let Some(f) = get("teach_back") {
        policy.teach_back = super::challenges::teach_back(f)?;
    }
    if let Some(f) = get("totp") {
        policy.totp = super::challenges::totp(f)?;
    }
    Ok(())
}

/// `policy.minimum_review_seconds` (per level), the legacy top-level
/// `min_review_seconds` (one number for medium, high and critical) and
/// `policy.min_review_seconds` (per challenge type).
fn review_times(
    policy: &mut Policy,
    top: &Section<'_>,
    per_level: Option<&Field<'_>>,
    per_challenge: Option<&Field<'_>>,
) -> Result<(), Problem> {
    let legacy = top.get("min_review_seconds");
    one_of(&[per_level, legacy])?;
    if let Some(f) = per_level {
        for (level, value) in f.level_entries("a mapping of risk level to seconds")? {
            policy
                .minimum_review_seconds
                .insert(level, seconds(&value)?);
        }
    }
    if let Some(f) = legacy {
        if matches!(f.node.kind, Kind::Map(_)) {
            return Err(f.problem(
                "at the top level min_review_seconds is a single number of seconds (the \
                 reference's legacy form); for seconds per challenge type write \
                 policy.min_review_seconds, for seconds per level policy.minimum_review_seconds",
            ));
        }
        let secs = seconds(f)?;
        for level in [RiskLevel::Medium, RiskLevel::High, RiskLevel::Critical] {
            policy.minimum_review_seconds.insert(level, secs);
        }
    }
    if let Some(f) = per_challenge {
        let mut seen: BTreeMap<ChallengeType, usize> = BTreeMap::new();
        for (key, value) in f.entries("a mapping of challenge type to seconds")? {
            let challenge = ChallengeType::from_config_token(key)
                .map_err(|_| value.key_problem(unknown_challenge(key)))?;
            if !matches!(
                challenge,
                ChallengeType::Confirm | ChallengeType::Quiz | ChallengeType::TeachBack
            ) {
                return Err(value.key_problem(format!(
                    "{challenge} has no review time of its own; only confirm, quiz and \
                     teach_back do (for a time per level use policy.minimum_review_seconds)"
                )));
            }
            if let Some(first) = seen.insert(challenge, value.key_at.line) {
                return Err(value.key_problem(format!(
                    "{challenge} is already set at line {first}; remove one of them"
                )));
            }
            policy
                .min_review_seconds
                .insert(challenge, seconds(&value)?);
        }
    }
    Ok(())
}

fn seconds(f: &Field<'_>) -> Result<f64, Problem> {
    f.number_in(0.0, f64::MAX, "a number of seconds, 0 or more")
}

fn timeout(f: &Field<'_>) -> Result<Duration, Problem> {
    let secs = f.number()?;
    if secs <= 0.0 || secs > MAX_TIMEOUT_SECONDS {
        return Err(f.problem(format!(
            "{secs} is out of range; use a number of seconds greater than 0 and at most 86400 \
             (one day)"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `policy.require_multi_party`: only `critical` means anything. Returns
/// the critical approver count with the field that set it.
fn require_multi_party<'a>(f: &Field<'a>) -> Result<(u32, Field<'a>), Problem> {
    let mut critical = None;
    for (level, value) in f.level_entries("a mapping of risk level to approver count")? {
        if level != RiskLevel::Critical {
            return Err(value.key_problem(format!(
                "require_multi_party only sets the approvers for critical; to ask several \
                 approvers at {level}, write policy.challenge_map.{level}: multi_party (the \
                 number of approvers is policy.multi_party.required_approvers)"
            )));
        }
        critical = Some((value.approvers(1)?, value));
    }
    critical.ok_or_else(|| {
        f.problem(
            "no level given; write critical: N (the number of approvers critical actions need)",
        )
    })
}

/// The approver count for multi-party challenges: `policy.multi_party.
/// required_approvers`, else `require_multi_party.critical` when it is 2 or
/// more, else 2. The two keys must agree when both are given.
fn approver_count(
    critical: Option<&(u32, Field<'_>)>,
    multi_party: Option<&Field<'_>>,
) -> Result<u32, Problem> {
    let explicit = match multi_party {
        Some(f) => {
            let section = Section::new(f, &["required_approvers"])?;
            match section.get("required_approvers") {
                Some(count) => Some((count.approvers(2)?, count.clone())),
                None => None,
            }
        }
        None => None,
    };
    if let (Some((a, first)), Some((b, second))) = (critical, explicit.as_ref())
        && a != b
    {
        let ((n_first, first), (n_second, second)) = if first.key_at < second.key_at {
            ((a, first), (b, second))
        } else {
            ((b, second), (a, first))
        };
        return Err(second.problem(format!(
            "asks for {n_second} approvers but {} (line {}) asks for {n_first}; give the number \
             once",
            first.path, first.key_at.line
        )));
    }
    Ok(match (critical, explicit) {
        (_, Some((count, _))) => count,
        (Some((count, _)), None) if *count >= 2 => *count,
        _ => 2,
    })
}

/// The challenge map: defaults, then the reference's rule that
/// `require_multi_party.critical: 1` means teach-back for critical, then the
/// levels the file names. Critical may go to auto-approve only with the
/// explicit opt-in.
fn challenge_map(
    policy: &mut Policy,
    map: Option<&Field<'_>>,
    critical_approvers: Option<&(u32, Field<'_>)>,
    allow_critical_auto: bool,
) -> Result<(), Problem> {
    let single_critical_approver = critical_approvers.filter(|(count, _)| *count == 1);
    if single_critical_approver.is_some() {
        policy
            .challenge_map
            .insert(RiskLevel::Critical, ChallengeType::TeachBack);
    }
    let Some(map) = map else {
        return Ok(());
    };
    for (level, value) in map.level_entries("a mapping of risk level to challenge type")? {
        let challenge = match &value.node.kind {
            Kind::Str(token) => ChallengeType::from_config_token(token)
                .map_err(|_| value.problem(unknown_challenge(token)))?,
            _ => {
                return Err(value.expected(
                    "a challenge type (auto_approve, confirm, quiz, teach_back or multi_party)",
                ));
            }
        };
        if level == RiskLevel::Critical {
            if challenge == ChallengeType::AutoApprove && !allow_critical_auto {
                return Err(value.problem(
                    "auto_approve for critical lets the most dangerous actions run with no human \
                     at all; choose another challenge, or if that is really intended also set \
                     policy.allow_critical_auto_approve: true",
                ));
            }
            if let Some((_, single)) = single_critical_approver
                && challenge == ChallengeType::MultiParty
            {
                return Err(value.problem(format!(
                    "multi_party needs at least 2 approvers but {} (line {}) asks for 1; raise \
                     that number or choose another challenge for critical",
                    single.path, single.key_at.line
                )));
            }
        }
        policy.challenge_map.insert(level, challenge);
    }
    Ok(())
}

fn unknown_challenge(token: &str) -> String {
    UnknownChallengeType(escape_controls(token)).to_string()
}
