//! Which challenge object answers for a risk level.
//!
//! Resolved once when the engine is built (the policy cannot change
//! afterwards), so an evaluation only clones an `Arc`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::escalate::Escalation;
use super::route::{Routed, Target};
use crate::challenge::{
    Challenge, ChallengeType, ChannelChallenge, Confirm, Interrogation, MultiParty, Quiz, TeachBack,
};
use crate::channel::Channel;
use crate::domain::DomainProfile;
use crate::policy::{ApprovalRoute, Policy};
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
    /// An approval server that asks, judges and decides for the levels in
    /// `routing` (instead of, or before or after, the built-ins over the
    /// channel).
    pub(crate) approvals: Option<Arc<dyn ApprovalService>>,
    /// Which levels go to `approvals`, and in which order the routes are
    /// tried.
    pub(crate) routing: ApprovalRouting,
}

/// Which levels an approval service takes, and whether the local channel
/// is tried before or after it (or not at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRouting {
    /// The routes in the order tried; a later one only when the one before
    /// could not take the approval at all.
    pub order: Vec<ApprovalRoute>,
    /// The levels the service is used for; other levels are asked locally.
    pub levels: Vec<RiskLevel>,
}

impl Default for ApprovalRouting {
    /// Every level to the server, and nowhere else.
    fn default() -> Self {
        Self {
            order: vec![ApprovalRoute::Server],
            levels: RiskLevel::ALL.to_vec(),
        }
    }
}

impl ApprovalRouting {
    /// Fails unless the order names the server, each route at most once,
    /// and at least one level goes to it.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.order.contains(&ApprovalRoute::Server) {
            return Err("the order must include the server route".into());
        }
        if self.order.len() != self.order.iter().collect::<BTreeSet<_>>().len() {
            return Err("the order names a route twice; name each once".into());
        }
        if self.levels.is_empty() {
            return Err("no level goes to the approval server; name at least one".into());
        }
        Ok(())
    }
}

/// What an [`ApprovalService`] is asked to put to people for one kind of
/// challenge.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApprovalRequest {
    /// The challenge the level (or an escalation rule) calls for.
    pub kind: ChallengeType,
    /// How many distinct people must pass (1 unless `kind` is multi-party).
    pub required_approvers: u32,
    /// The escalation rules that held for the action, and the roles they
    /// ask to notify (empty when none did).
    pub escalation: Escalation,
}

impl ApprovalRequest {
    /// A request for `kind` by `required_approvers` people, with no
    /// escalation.
    pub fn new(kind: ChallengeType, required_approvers: u32) -> Self {
        Self {
            kind,
            required_approvers,
            escalation: Escalation::default(),
        }
    }

    /// The same request, demanded by `escalation`.
    #[must_use]
    pub fn with_escalation(mut self, escalation: Escalation) -> Self {
        self.escalation = escalation;
        self
    }
}

/// A service that puts approvals to people elsewhere and decides them
/// itself (the approval server): the engine asks it for the challenge of
/// one action, of a kind and for a number of distinct approvers, and
/// presents that challenge like any other. The engine stays free of HTTP:
/// the implementation over `attesta serve` is behind the `remote` feature.
///
/// A challenge that could not hand the approval over at all (nobody took
/// it) should end [`Unanswered::Undelivered`](crate::challenge::Unanswered):
/// only then is the next route in [`ApprovalRouting::order`] tried.
pub trait ApprovalService: Send + Sync + std::fmt::Debug {
    /// The challenge that asks the service for `request`.
    fn challenge(&self, request: &ApprovalRequest) -> Arc<dyn Challenge>;
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
    /// configured for the type, else the built-in over the routes.
    pub(crate) fn resolve_kind(
        &self,
        policy: &Policy,
        level: RiskLevel,
        kind: ChallengeType,
    ) -> Resolved {
        if let Some(instance) = self.per_type.get(&kind) {
            return Resolved::Present(Arc::clone(instance));
        }
        let required = if kind == ChallengeType::MultiParty {
            policy.required_approvers
        } else {
            1
        };
        self.routed(policy, level, kind, required, &Escalation::default())
    }

    /// The built-in `kind` by `required` people for an action at `level`,
    /// over the routes configured for the level: the approval service (told
    /// of `escalation`) and the local channel, in the configured order.
    pub(crate) fn routed(
        &self,
        policy: &Policy,
        level: RiskLevel,
        kind: ChallengeType,
        required: u32,
        escalation: &Escalation,
    ) -> Resolved {
        if kind == ChallengeType::AutoApprove {
            return Resolved::AutoApprove;
        }
        let Some(approvals) = self
            .approvals
            .as_ref()
            .filter(|_| self.routing.levels.contains(&level))
        else {
            return self.local(policy, level, kind, required);
        };
        let targets = self
            .routing
            .order
            .iter()
            .map(|&route| {
                let target = match route {
                    ApprovalRoute::Server => Target::Ready(
                        approvals.challenge(
                            &ApprovalRequest::new(kind, required.max(1))
                                .with_escalation(escalation.clone()),
                        ),
                    ),
                    ApprovalRoute::Local => match self.local(policy, level, kind, required) {
                        Resolved::Present(challenge) => Target::Ready(challenge),
                        Resolved::Unavailable(_, why) => Target::Unavailable(why),
                        // `kind` needs a human, so the local route asks one.
                        Resolved::AutoApprove => {
                            Target::Unavailable("the local route asks nobody".into())
                        }
                    },
                };
                (route, target)
            })
            .collect();
        Resolved::Present(Arc::new(Routed::new(kind, targets)))
    }

    /// The built-in `kind` by `required` people over the local channel.
    fn local(
        &self,
        policy: &Policy,
        level: RiskLevel,
        kind: ChallengeType,
        required: u32,
    ) -> Resolved {
        let Some(channel) = &self.channel else {
            return Resolved::Unavailable(kind, no_channel(kind, required));
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
                match MultiParty::new(self.rotation(policy), required, Arc::clone(channel)) {
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

/// Why `kind` cannot be asked without a channel.
fn no_channel(kind: ChallengeType, required: u32) -> String {
    if kind == ChallengeType::MultiParty {
        format!(
            "a multi-party approval by {required} distinct approvers needs a human, but no \
             approval channel is configured (attach a terminal, use an MCP client with \
             elicitation, configure a channel, or set policy.approvals)"
        )
    } else {
        format!(
            "a {kind} challenge needs a human, but no approval channel is configured \
             (attach a terminal, use an MCP client with elicitation, or configure a channel)"
        )
    }
}
