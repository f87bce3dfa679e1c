//! The trust seam the gate calls; [`TrustEngine`](super::TrustEngine) is the
//! built-in implementation.

use std::fmt;

/// An error from recording a trust outcome.
pub type TrustRecordError = Box<dyn std::error::Error + Send + Sync>;

/// What the gate needs from a trust model: adjust a risk score for an agent,
/// and learn from outcomes.
pub trait TrustModel: Send + Sync + fmt::Debug {
    /// The risk score adjusted for how much `agent_id` is trusted in `domain`.
    fn effective_risk(&self, raw_risk: f64, agent_id: &str, domain: Option<&str>) -> f64;

    /// A human approved an action of this agent after a challenge.
    fn record_success(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        risk_score: f64,
    ) -> Result<(), TrustRecordError>;

    /// A human denied (or failed to approve) an action of this agent.
    fn record_denial(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        risk_score: f64,
    ) -> Result<(), TrustRecordError>;
}

impl TrustModel for super::TrustEngine {
    fn effective_risk(&self, raw_risk: f64, agent_id: &str, domain: Option<&str>) -> f64 {
        super::TrustEngine::effective_risk(self, raw_risk, agent_id, domain)
    }

    fn record_success(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        risk_score: f64,
    ) -> Result<(), TrustRecordError> {
        Ok(super::TrustEngine::record_success(
            self,
            agent_id,
            action_name,
            domain,
            risk_score,
        )?)
    }

    fn record_denial(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        risk_score: f64,
    ) -> Result<(), TrustRecordError> {
        Ok(super::TrustEngine::record_denial(
            self,
            agent_id,
            action_name,
            domain,
            risk_score,
        )?)
    }
}
