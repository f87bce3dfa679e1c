//! Which challenge object answers for a risk level.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::challenge::{Challenge, ChallengeType, ChannelChallenge, Confirm};
use crate::channel::Channel;
use crate::policy::Policy;
use crate::risk::RiskLevel;

/// What the gate will present for one level.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    /// Nobody is asked.
    AutoApprove,
    /// This challenge is presented.
    Present(Arc<dyn Challenge>),
    /// A human would be needed but cannot be asked; the reason says why.
    Unavailable(ChallengeType, String),
}

/// Challenge instances configured in code, plus the channel the built-ins use.
#[derive(Debug, Default, Clone)]
pub(crate) struct ChallengeRegistry {
    /// Instances that replace the policy's choice for a level.
    pub(crate) per_level: BTreeMap<RiskLevel, Arc<dyn Challenge>>,
    /// Instances that stand in for a built-in type wherever it is used.
    pub(crate) per_type: BTreeMap<ChallengeType, Arc<dyn Challenge>>,
    /// How built-in challenges reach a human.
    pub(crate) channel: Option<Arc<dyn Channel>>,
}

impl ChallengeRegistry {
    /// The challenge type that will be reported for `level`.
    pub(crate) fn challenge_type(&self, policy: &Policy, level: RiskLevel) -> ChallengeType {
        self.per_level
            .get(&level)
            .map_or_else(|| policy.challenge_for(level), |c| c.challenge_type())
    }

    /// The challenge to present for `level` under `policy`.
    pub(crate) fn resolve(&self, policy: &Policy, level: RiskLevel) -> Resolved {
        if let Some(instance) = self.per_level.get(&level) {
            return Resolved::Present(Arc::clone(instance));
        }
        let kind = policy.challenge_for(level);
        if kind == ChallengeType::AutoApprove {
            return Resolved::AutoApprove;
        }
        if let Some(instance) = self.per_type.get(&kind) {
            return Resolved::Present(Arc::clone(instance));
        }
        let Some(channel) = &self.channel else {
            return Resolved::Unavailable(
                kind,
                format!(
                    "a {kind} challenge needs a human, but no approval channel is configured \
                     (attach a terminal, use an MCP client with elicitation, or configure a channel)"
                ),
            );
        };
        match kind {
            ChallengeType::Confirm => Resolved::Present(Arc::new(ChannelChallenge::new(
                Arc::new(Confirm::new(policy.min_review_for(level, kind))),
                Arc::clone(channel),
            ))),
            other => Resolved::Unavailable(
                other,
                format!("the built-in {other} challenge is not available in this build"),
            ),
        }
    }
}
