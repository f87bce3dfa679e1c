//! Trying the approval routes in order: the approval server and the local
//! channel, as `policy.approvals.order` lists them.
//!
//! The next route is tried only when the one before could not take the
//! approval at all: no channel to ask on, or a server that could not be
//! reached before it accepted the request. A route that asked anyone and
//! got an answer, a refusal, a failure or a timeout has decided; trying
//! another after that would let an agent shop for a friendlier approver.

use std::sync::Arc;

use async_trait::async_trait;

use crate::challenge::{Challenge, ChallengeResult, ChallengeType, Unanswered};
use crate::context::ActionContext;
use crate::policy::ApprovalRoute;
use crate::risk::RiskAssessment;
use crate::value::Value;

/// One route's challenge, or why the route cannot ask anyone.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The route asks with this challenge.
    Ready(Arc<dyn Challenge>),
    /// The route cannot be used here (for example no local channel).
    Unavailable(String),
}

/// A challenge that tries its routes in order.
#[derive(Debug)]
pub(crate) struct Routed {
    kind: ChallengeType,
    routes: Vec<(ApprovalRoute, Target)>,
}

impl Routed {
    /// `routes` tried in order for a `kind` challenge.
    pub(crate) fn new(kind: ChallengeType, routes: Vec<(ApprovalRoute, Target)>) -> Self {
        Self { kind, routes }
    }
}

/// Whether `result` says the route never reached anyone who could decide.
fn not_taken(result: &ChallengeResult) -> bool {
    matches!(
        result.unanswered,
        Some(Unanswered::NoChannel | Unanswered::Undelivered)
    )
}

#[async_trait]
impl Challenge for Routed {
    fn challenge_type(&self) -> ChallengeType {
        self.kind
    }

    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult {
        let mut passed_over: Vec<String> = Vec::new();
        let mut last = None;
        for (route, target) in &self.routes {
            let mut result = match target {
                Target::Ready(challenge) => challenge.present(ctx, risk).await,
                Target::Unavailable(why) => {
                    ChallengeResult::unanswered(self.kind, Unanswered::NoChannel, why.clone())
                }
            };
            result
                .details
                .insert("approval_route".into(), route.as_str().into());
            if !not_taken(&result) {
                if !passed_over.is_empty() {
                    result
                        .details
                        .insert("routes_passed_over".into(), list(&passed_over));
                }
                return result;
            }
            let why = result
                .reason()
                .unwrap_or("nobody could be asked")
                .to_owned();
            passed_over.push(format!("{route}: {why}"));
            last = Some(result);
        }
        // No route took the approval: say what each one ran into, and keep
        // the last route's kind of failure (undelivered never fails open).
        let mut result = last.unwrap_or_else(|| {
            ChallengeResult::unanswered(self.kind, Unanswered::NoChannel, "no approval route")
        });
        result.details.insert(
            "reason".into(),
            format!(
                "no approval route could take it ({})",
                passed_over.join("; ")
            )
            .into(),
        );
        result
            .details
            .insert("routes_passed_over".into(), list(&passed_over));
        result
    }
}

fn list(items: &[String]) -> Value {
    Value::List(items.iter().cloned().map(Value::Str).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Answers every presentation with a copy of one result, counting them.
    #[derive(Debug)]
    struct Fixed {
        result: ChallengeResult,
        asked: AtomicUsize,
    }

    impl Fixed {
        fn new(result: ChallengeResult) -> Arc<Self> {
            Arc::new(Self {
                result,
                asked: AtomicUsize::new(0),
            })
        }

        fn asked(&self) -> usize {
            self.asked.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Challenge for Fixed {
        fn challenge_type(&self) -> ChallengeType {
            self.result.challenge_type
        }

        async fn present(&self, _: &ActionContext, _: &RiskAssessment) -> ChallengeResult {
            self.asked.fetch_add(1, Ordering::SeqCst);
            self.result.clone()
        }
    }

    fn unanswered(why: Unanswered, reason: &str) -> Arc<Fixed> {
        Fixed::new(ChallengeResult::unanswered(
            ChallengeType::Confirm,
            why,
            reason,
        ))
    }

    fn approved() -> Arc<Fixed> {
        Fixed::new(ChallengeResult::new(ChallengeType::Confirm, true))
    }

    fn denied() -> Arc<Fixed> {
        Fixed::new(ChallengeResult::new(ChallengeType::Confirm, false))
    }

    async fn present(routes: Vec<(ApprovalRoute, Target)>) -> ChallengeResult {
        let ctx = ActionContext::new("deploy");
        let risk = crate::risk::RiskScorer::assess(
            &crate::risk::FixedRiskScorer::new(0.5).expect("in range"),
            &ctx,
        );
        Routed::new(ChallengeType::Confirm, routes)
            .present(&ctx, &risk)
            .await
    }

    fn ready(c: &Arc<Fixed>) -> Target {
        Target::Ready(Arc::clone(c) as Arc<dyn Challenge>)
    }

    fn route_of(result: &ChallengeResult) -> Option<&str> {
        result.details.get("approval_route").and_then(Value::as_str)
    }

    #[tokio::test]
    async fn the_first_route_that_takes_it_decides() {
        let server = approved();
        let local = approved();
        let result = present(vec![
            (ApprovalRoute::Server, ready(&server)),
            (ApprovalRoute::Local, ready(&local)),
        ])
        .await;
        assert!(result.passed);
        assert_eq!(route_of(&result), Some("server"));
        assert_eq!((server.asked(), local.asked()), (1, 0));
        assert!(!result.details.contains_key("routes_passed_over"));
    }

    #[tokio::test]
    async fn an_undelivered_or_channelless_route_passes_to_the_next() {
        for why in [Unanswered::Undelivered, Unanswered::NoChannel] {
            let server = unanswered(why, "connection refused");
            let local = approved();
            let result = present(vec![
                (ApprovalRoute::Server, ready(&server)),
                (ApprovalRoute::Local, ready(&local)),
            ])
            .await;
            assert!(result.passed, "{why:?}");
            assert_eq!(route_of(&result), Some("local"));
            assert_eq!(
                result.details.get("routes_passed_over"),
                Some(&list(&["server: connection refused".to_owned()]))
            );
        }
    }

    #[tokio::test]
    async fn a_decision_or_a_failure_after_asking_is_final() {
        for first in [
            denied(),
            unanswered(Unanswered::TimedOut, "nobody answered"),
            unanswered(Unanswered::Cancelled, "cancelled"),
            unanswered(Unanswered::ChannelError, "lost the server mid-wait"),
        ] {
            let local = approved();
            let result = present(vec![
                (ApprovalRoute::Server, ready(&first)),
                (ApprovalRoute::Local, ready(&local)),
            ])
            .await;
            assert!(!result.passed);
            assert_eq!(local.asked(), 0, "a decided approval went to another route");
            assert_eq!(route_of(&result), Some("server"));
        }
    }

    #[tokio::test]
    async fn an_unavailable_local_route_passes_to_the_server() {
        let server = approved();
        let result = present(vec![
            (
                ApprovalRoute::Local,
                Target::Unavailable("no terminal".into()),
            ),
            (ApprovalRoute::Server, ready(&server)),
        ])
        .await;
        assert!(result.passed);
        assert_eq!(route_of(&result), Some("server"));
    }

    #[tokio::test]
    async fn when_no_route_takes_it_every_reason_is_given_and_it_stays_undelivered() {
        let server = unanswered(Unanswered::Undelivered, "connection refused");
        let result = present(vec![
            (
                ApprovalRoute::Local,
                Target::Unavailable("no terminal".into()),
            ),
            (ApprovalRoute::Server, ready(&server)),
        ])
        .await;
        assert!(!result.passed);
        assert_eq!(result.unanswered, Some(Unanswered::Undelivered));
        let reason = result.reason().expect("a reason");
        assert!(reason.contains("local: no terminal"), "{reason}");
        assert!(reason.contains("server: connection refused"), "{reason}");
    }
}
