//! Which challenge object answers for a risk level.
//!
//! Resolved once when the engine is built (the policy cannot change
//! afterwards), so an evaluation only clones an `Arc`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::challenge::{
    Challenge, ChallengeType, ChannelChallenge, Confirm, Interrogation, MultiParty, Quiz, TeachBack,
};
use crate::channel::Channel;
use crate::domain::DomainProfile;
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
    /// The active domain profile, if the policy names any: the built-in
    /// quiz and teach-back (alone or in a multi-party rotation) ask its
    /// templates and count its vocabulary.
    pub(crate) domain: Option<Arc<DomainProfile>>,
    /// An approval server that asks, judges and decides for every level
    /// that needs a human (instead of the built-ins over the channel).
    pub(crate) approvals: Option<Arc<dyn ApprovalService>>,
}

/// A service that puts approvals to people elsewhere and decides them
/// itself (the approval server): the engine asks it for the challenge of
/// one action, of a kind and for a number of distinct approvers, and
/// presents that challenge like any other. The engine stays free of HTTP:
/// the implementation over `attesta serve` is behind the `remote` feature.
pub trait ApprovalService: Send + Sync + std::fmt::Debug {
    /// The challenge that asks the service for an approval of `kind` by
    /// `required_approvers` distinct people.
    fn challenge(&self, kind: ChallengeType, required_approvers: u32) -> Arc<dyn Challenge>;
}

/// The challenge for every level, fixed at build time.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedChallenges {
    by_level: BTreeMap<RiskLevel, (ChallengeType, Resolved)>,
}

impl ResolvedChallenges {
    /// The reported type and the challenge for `level`.
    pub(crate) fn get(&self, level: RiskLevel) -> (ChallengeType, Resolved) {
        self.by_level.get(&level).cloned().unwrap_or_else(|| {
            // Every level is filled in `resolve_all`; this is unreachable,
            // and failing closed is the right answer if it ever is not.
            (
                ChallengeType::MultiParty,
                Resolved::Unavailable(ChallengeType::MultiParty, "no challenge resolved".into()),
            )
        })
    }
}

impl ChallengeRegistry {
    /// Resolves the challenge of every level under `policy`.
    pub(crate) fn resolve_all(&self, policy: &Policy) -> ResolvedChallenges {
        let by_level = RiskLevel::ALL
            .into_iter()
            .map(|level| {
                let resolved = self.resolve(policy, level);
                let kind = match &resolved {
                    Resolved::AutoApprove => ChallengeType::AutoApprove,
                    Resolved::Present(c) => c.challenge_type(),
                    Resolved::Unavailable(kind, _) => *kind,
                };
                (level, (kind, resolved))
            })
            .collect();
        ResolvedChallenges { by_level }
    }

    fn resolve(&self, policy: &Policy, level: RiskLevel) -> Resolved {
        if let Some(instance) = self.per_level.get(&level) {
            return Resolved::Present(Arc::clone(instance));
        }
        self.resolve_kind(policy, level, policy.challenge_for(level))
    }

    /// The challenge of type `kind` for an action at `level`: a stand-in
    /// configured for the type, else the built-in over the channel.
    pub(crate) fn resolve_kind(
        &self,
        policy: &Policy,
        level: RiskLevel,
        kind: ChallengeType,
    ) -> Resolved {
        if kind == ChallengeType::AutoApprove {
            return Resolved::AutoApprove;
        }
        if let Some(instance) = self.per_type.get(&kind) {
            return Resolved::Present(Arc::clone(instance));
        }
        if let Some(approvals) = &self.approvals {
            let required = if kind == ChallengeType::MultiParty {
                policy.required_approvers
            } else {
                1
            };
            return Resolved::Present(approvals.challenge(kind, required));
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
        let min_review = self.min_review(policy, level, kind);
        let single = |interrogation: Arc<dyn Interrogation>| {
            Resolved::Present(Arc::new(ChannelChallenge::new(
                interrogation,
                Arc::clone(channel),
            )))
        };
        match kind {
            ChallengeType::Confirm => single(Arc::new(Confirm::new(min_review))),
            ChallengeType::Quiz => single(Arc::new(self.quiz(policy, min_review))),
            ChallengeType::TeachBack => single(Arc::new(self.teach_back(policy, min_review))),
            ChallengeType::MultiParty => {
                match MultiParty::new(
                    self.rotation(policy),
                    policy.required_approvers,
                    Arc::clone(channel),
                ) {
                    Ok(challenge) => Resolved::Present(Arc::new(challenge)),
                    Err(err) => Resolved::Unavailable(kind, err.to_string()),
                }
            }
            ChallengeType::AutoApprove => Resolved::AutoApprove,
        }
    }

    /// How long a human must look at an action at `level` before answering
    /// a `kind` challenge: the policy's minimum, or the active domain
    /// profile's `min_review_overrides` for the level if that is longer
    /// (a profile can ask for more care, never less).
    pub(crate) fn min_review(
        &self,
        policy: &Policy,
        level: RiskLevel,
        kind: ChallengeType,
    ) -> Duration {
        let own = policy.min_review_for(level, kind);
        if kind == ChallengeType::AutoApprove {
            return own;
        }
        self.domain
            .as_ref()
            .and_then(|profile| profile.min_review_for(level))
            .map_or(own, |domain| own.max(domain))
    }

    /// The built-in quiz under `policy`, with the domain profile if any.
    fn quiz(&self, policy: &Policy, min_review: Duration) -> Quiz {
        let quiz = Quiz::new(policy.quiz, min_review);
        match &self.domain {
            Some(profile) => quiz.with_domain(Arc::clone(profile)),
            None => quiz,
        }
    }

    /// The built-in teach-back under `policy`, with the domain profile if
    /// any.
    fn teach_back(&self, policy: &Policy, min_review: Duration) -> TeachBack {
        let teach_back = TeachBack::new(policy.teach_back, min_review);
        match &self.domain {
            Some(profile) => teach_back.with_domain(Arc::clone(profile)),
            None => teach_back,
        }
    }

    /// The default multi-party rotation, teach-back → quiz → confirm, each
    /// with its own per-type minimum review time.
    pub(crate) fn rotation(&self, policy: &Policy) -> Vec<Arc<dyn Interrogation>> {
        let seconds = |kind| {
            let secs = policy.min_review_seconds.get(&kind).copied().unwrap_or(0.0);
            Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
        };
        vec![
            Arc::new(self.teach_back(policy, seconds(ChallengeType::TeachBack))),
            Arc::new(self.quiz(policy, seconds(ChallengeType::Quiz))),
            Arc::new(Confirm::new(seconds(ChallengeType::Confirm))),
        ]
    }
}
