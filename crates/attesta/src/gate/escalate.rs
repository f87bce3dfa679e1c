//! Escalation rules applied to one action: block it, demand more distinct
//! approvers or a stronger challenge, and name the roles to notify.
//!
//! Rules come from an [`EscalationSource`] (the active domain profiles) and
//! only ever raise: a rule can never make the challenge weaker than the
//! level's own, nor ask for fewer approvers than the policy requires.

use std::fmt;
use std::sync::Arc;

use super::registry::{ChallengeRegistry, Resolved};
use crate::challenge::ChallengeType;
use crate::context::ActionContext;
use crate::policy::Policy;
use crate::risk::{RiskAssessment, RiskLevel};
use crate::value::{Value, ValueMap};

/// What the escalation rules that hold for one action demand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Escalation {
    /// The rule that blocks the action, described for the human and the
    /// audit trail (`devops: matches_pattern:terraform_destroy → block`).
    pub blocked_by: Option<String>,
    /// The weakest challenge the action may get.
    pub at_least: Option<ChallengeType>,
    /// The fewest distinct approvers the action needs (2 or more means
    /// multi-party approval).
    pub approvers: Option<u32>,
    /// Roles to notify, in rule order, without repeats.
    pub notify: Vec<String>,
    /// Every rule that held, described as in `blocked_by`.
    pub rules: Vec<String>,
}

impl Escalation {
    /// Whether no rule held.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Both escalations together: the first block, the stronger challenge,
    /// the larger approver count, every role and rule once.
    #[must_use]
    pub fn join(mut self, other: Self) -> Self {
        self.blocked_by = self.blocked_by.or(other.blocked_by);
        self.at_least = match (self.at_least, other.at_least) {
            (Some(a), Some(b)) => Some(if strength(b) > strength(a) { b } else { a }),
            (a, b) => a.or(b),
        };
        self.approvers = self.approvers.max(other.approvers);
        for role in other.notify {
            if !self.notify.contains(&role) {
                self.notify.push(role);
            }
        }
        for rule in other.rules {
            if !self.rules.contains(&rule) {
                self.rules.push(rule);
            }
        }
        self
    }

    /// What goes into the decision's metadata (and so the audit record).
    pub(crate) fn metadata(&self) -> ValueMap {
        let mut out = ValueMap::new();
        if self.is_empty() {
            return out;
        }
        let list = |items: &[String]| Value::List(items.iter().cloned().map(Value::Str).collect());
        out.insert("escalation_rules".into(), list(&self.rules));
        if let Some(rule) = &self.blocked_by {
            out.insert("blocked_by".into(), rule.clone().into());
        }
        if let Some(kind) = self.at_least {
            out.insert("escalated_challenge".into(), kind.as_str().into());
        }
        if let Some(n) = self.approvers {
            out.insert("escalated_approvers".into(), i64::from(n).into());
        }
        if !self.notify.is_empty() {
            out.insert("notify_roles".into(), list(&self.notify));
        }
        out
    }
}

/// Where escalation rules come from (the active domain profiles).
pub trait EscalationSource: Send + Sync + fmt::Debug {
    /// The rules that hold for `ctx` on any of `risks` (the gate passes the
    /// scorer's own assessment and the final one when they differ), combined.
    fn escalation(&self, ctx: &ActionContext, risks: &[&RiskAssessment]) -> Escalation;
}

/// Two sources of rules, both applied.
#[derive(Debug)]
pub(crate) struct Both(
    pub(crate) Arc<dyn EscalationSource>,
    pub(crate) Arc<dyn EscalationSource>,
);

impl EscalationSource for Both {
    fn escalation(&self, ctx: &ActionContext, risks: &[&RiskAssessment]) -> Escalation {
        self.0
            .escalation(ctx, risks)
            .join(self.1.escalation(ctx, risks))
    }
}

/// How strong a challenge is, weakest first.
fn strength(kind: ChallengeType) -> u8 {
    match kind {
        ChallengeType::AutoApprove => 0,
        ChallengeType::Confirm => 1,
        ChallengeType::Quiz => 2,
        ChallengeType::TeachBack => 3,
        ChallengeType::MultiParty => 4,
    }
}

/// The challenge an action gets once escalation applies, and the number of
/// distinct approvers a multi-party approval of it needs.
#[derive(Debug, Clone)]
pub(crate) struct Escalated {
    pub(crate) kind: ChallengeType,
    pub(crate) resolved: Resolved,
    pub(crate) required_approvers: u32,
}

impl ChallengeRegistry {
    /// The level's own challenge (`base`) unless `escalation` demands a
    /// stronger one or more approvers; then a challenge built for this
    /// action alone.
    pub(crate) fn escalated(
        &self,
        policy: &Policy,
        level: RiskLevel,
        base: (ChallengeType, Resolved),
        escalation: &Escalation,
    ) -> Escalated {
        let (base_kind, base_resolved) = base;
        let approvers = escalation.approvers.unwrap_or(0);
        let required_approvers = policy.required_approvers.max(approvers);
        let mut kind = base_kind;
        if let Some(at_least) = escalation.at_least
            && strength(at_least) > strength(kind)
        {
            kind = at_least;
        }
        if approvers >= 2 {
            kind = ChallengeType::MultiParty;
        } else if approvers == 1 && kind == ChallengeType::AutoApprove {
            // One approver: at least somebody confirms.
            kind = ChallengeType::Confirm;
        }
        let unchanged = kind == base_kind && required_approvers == policy.required_approvers;
        // An approval server is told why an action was escalated (and whom
        // to notify) even when the rules did not change the challenge.
        let tell_server = !escalation.is_empty()
            && self.server_takes(level)
            && !self.per_level.contains_key(&level)
            && !self.per_type.contains_key(&kind);
        if unchanged && !tell_server {
            return Escalated {
                kind,
                resolved: base_resolved,
                required_approvers,
            };
        }
        let more_approvers =
            kind == ChallengeType::MultiParty && required_approvers > policy.required_approvers;
        let resolved = match self.per_type.get(&kind) {
            // A stand-in configured for the type cannot promise a count.
            Some(instance) if !more_approvers => Resolved::Present(Arc::clone(instance)),
            _ => {
                let required = if kind == ChallengeType::MultiParty {
                    required_approvers
                } else {
                    1
                };
                self.routed(policy, level, kind, required, escalation)
            }
        };
        Escalated {
            kind,
            resolved,
            required_approvers,
        }
    }

    /// Whether an approval at `level` goes to the approval server.
    fn server_takes(&self, level: RiskLevel) -> bool {
        self.approvals.is_some() && self.routing.levels.contains(&level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_orders_the_challenges() {
        let order = [
            ChallengeType::AutoApprove,
            ChallengeType::Confirm,
            ChallengeType::Quiz,
            ChallengeType::TeachBack,
            ChallengeType::MultiParty,
        ];
        for pair in order.windows(2) {
            assert!(strength(pair[0]) < strength(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn metadata_names_rules_roles_and_demands() {
        assert!(Escalation::default().metadata().is_empty());
        let e = Escalation {
            blocked_by: Some("devops: x → block".into()),
            at_least: Some(ChallengeType::TeachBack),
            approvers: Some(3),
            notify: vec!["infra_lead".into()],
            rules: vec!["devops: x → block".into()],
        };
        let m = e.metadata();
        assert_eq!(m.get("blocked_by"), Some(&Value::from("devops: x → block")));
        assert_eq!(m.get("escalated_approvers"), Some(&Value::from(3_i64)));
        assert_eq!(
            m.get("escalated_challenge"),
            Some(&Value::from("teach_back"))
        );
        assert!(m.contains_key("notify_roles"));
    }
}
