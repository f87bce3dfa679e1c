//! [`DomainVerdict`]: what the escalation rules that fired demand, together.

use serde::Serialize;

use super::rule::{EscalationAction, EscalationRule};
use crate::challenge::ChallengeType;

/// Which rule, for decisions and audit records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// The profile that declared the rule.
    pub profile: String,
    /// The rule's name.
    pub name: String,
    /// Its condition as written (`matches_pattern:terraform_destroy`).
    pub condition: String,
    /// What it does.
    pub action: EscalationAction,
    /// Approvers it asks for (meaningful for `require_multi_party`).
    pub required_approvers: u32,
    /// Roles it notifies.
    pub notify_roles: Vec<String>,
}

impl RuleRef {
    fn of(rule: &EscalationRule) -> Self {
        Self {
            profile: rule.profile.clone(),
            name: rule.name.clone(),
            condition: rule.condition.to_string(),
            action: rule.action,
            required_approvers: rule.required_approvers,
            notify_roles: rule.notify_roles.clone(),
        }
    }
}

impl std::fmt::Display for RuleRef {
    /// `devops/terraform_destroy (matches_pattern:terraform_destroy → block)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} ({} -> {})",
            self.profile, self.name, self.condition, self.action
        )
    }
}

/// The combined demand of every escalation rule that fired for one action.
///
/// Rules only raise: the gate takes the stronger of this and what the risk
/// level already asks for.
///
/// * `blocked_by`: the first `block` rule (profile order) — deny without
///   asking anyone.
/// * `required_approvers`: the largest `required_approvers` among the
///   `require_multi_party` rules.
/// * `required_challenge`: the strongest challenge any rule demands
///   (`require_multi_party` → multi-party, `require_teach_back` →
///   teach-back, `require_confirmation` → confirm); never weaken the
///   level's own challenge with it.
/// * `notify`: every role named by a rule that fired, once each, in order;
///   `notify_compliance` without roles notifies `compliance`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DomainVerdict {
    /// The rule that blocks the action, if any.
    pub blocked_by: Option<RuleRef>,
    /// Least number of distinct approvers, if a rule asks for multi-party.
    pub required_approvers: Option<u32>,
    /// Least challenge, if a rule asks for one.
    pub required_challenge: Option<ChallengeType>,
    /// Roles to notify.
    pub notify: Vec<String>,
    /// Every rule that fired, in profile order.
    pub matched_rules: Vec<RuleRef>,
}

impl DomainVerdict {
    /// Combines the rules that fired.
    pub(crate) fn from_rules<'a>(rules: impl Iterator<Item = &'a EscalationRule>) -> Self {
        let mut verdict = Self::default();
        for rule in rules {
            let reference = RuleRef::of(rule);
            match rule.action {
                EscalationAction::Block => {
                    if verdict.blocked_by.is_none() {
                        verdict.blocked_by = Some(reference.clone());
                    }
                }
                EscalationAction::RequireMultiParty => {
                    verdict.required_approvers = Some(
                        verdict
                            .required_approvers
                            .map_or(rule.required_approvers, |n| n.max(rule.required_approvers)),
                    );
                }
                EscalationAction::NotifyCompliance
                | EscalationAction::RequireTeachBack
                | EscalationAction::RequireConfirmation => {}
            }
            if let Some(challenge) = rule.action.required_challenge() {
                verdict.required_challenge = verdict.required_challenge.max(Some(challenge));
            }
            let default_role = ["compliance".to_owned()];
            let to_notify = if rule.notify_roles.is_empty()
                && rule.action == EscalationAction::NotifyCompliance
            {
                &default_role[..]
            } else {
                &rule.notify_roles[..]
            };
            for role in to_notify {
                if !verdict.notify.contains(role) {
                    verdict.notify.push(role.clone());
                }
            }
            verdict.matched_rules.push(reference);
        }
        verdict
    }

    /// Whether any rule fired.
    pub fn is_empty(&self) -> bool {
        self.matched_rules.is_empty()
    }

    /// Whether a rule blocks the action.
    pub fn is_blocked(&self) -> bool {
        self.blocked_by.is_some()
    }

    /// The challenge to run given the one the risk level selected: the
    /// stronger of the two (rules never lower it).
    pub fn challenge_at_least(&self, level_challenge: ChallengeType) -> ChallengeType {
        self.required_challenge
            .map_or(level_challenge, |c| c.max(level_challenge))
    }

    /// Approvers a multi-party challenge needs given the policy's own
    /// number: the larger of the two.
    pub fn approvers_at_least(&self, policy_approvers: u32) -> u32 {
        self.required_approvers
            .map_or(policy_approvers, |n| n.max(policy_approvers))
    }
}
