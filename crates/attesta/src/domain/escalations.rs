//! The active domain profiles as the gate's source of escalation rules.

use std::sync::Arc;

use super::DomainRiskScorer;
use super::verdict::DomainVerdict;
use crate::context::ActionContext;
use crate::gate::{Escalation, EscalationSource};
use crate::risk::RiskAssessment;

/// Evaluates the active profile's escalation rules for the gate.
#[derive(Debug, Clone)]
pub struct DomainEscalations {
    scorer: Arc<DomainRiskScorer>,
}

impl DomainEscalations {
    /// The rules of `scorer`'s profile.
    pub fn new(scorer: Arc<DomainRiskScorer>) -> Self {
        Self { scorer }
    }
}

impl EscalationSource for DomainEscalations {
    fn escalation(&self, ctx: &ActionContext, risks: &[&RiskAssessment]) -> Escalation {
        escalation_of(&self.scorer.verdict_on_any(ctx, risks))
    }
}

/// A domain verdict in the gate's terms.
pub fn escalation_of(verdict: &DomainVerdict) -> Escalation {
    Escalation {
        blocked_by: verdict.blocked_by.as_ref().map(ToString::to_string),
        at_least: verdict.required_challenge,
        approvers: verdict.required_approvers,
        notify: verdict.notify.clone(),
        rules: verdict
            .matched_rules
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}
