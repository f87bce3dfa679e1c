//! [`Confirm`]: an explicit "yes" after looking at the action.

use std::time::Duration;

use async_trait::async_trait;

use super::ChallengeType;
use super::interrogation::{Interrogation, Judgement, Prepared, base_prompt};
use crate::channel::{Question, QuestionKind, Response};
use crate::context::ActionContext;
use crate::risk::RiskAssessment;
use crate::value::ValueMap;

/// Asks one human to approve the action with an explicit `yes` (or `y`).
/// Anything else (empty, `no`, `sure`, end of input) denies.
#[derive(Debug, Clone)]
pub struct Confirm {
    min_review: Duration,
}

impl Confirm {
    /// A confirmation suggesting `min_review` of reading time (the gate
    /// checks it and records whether it was met).
    pub fn new(min_review: Duration) -> Self {
        Self { min_review }
    }
}

/// Only an explicit yes counts.
fn is_explicit_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y")
}

#[async_trait]
impl Interrogation for Confirm {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Confirm
    }

    fn min_review(&self) -> Duration {
        self.min_review
    }

    fn prepare(&self, ctx: &ActionContext, risk: &RiskAssessment) -> Prepared {
        let mut prompt = base_prompt(
            ChallengeType::Confirm,
            ctx,
            risk,
            "Read the action above. Type 'yes' to let it run; anything else stops it.",
            self.min_review,
        );
        prompt.questions.push(Question {
            id: "approve".to_owned(),
            text: "Approve this action?".to_owned(),
            kind: QuestionKind::Choice,
            options: vec!["yes".to_owned(), "no".to_owned()],
        });
        Prepared {
            prompt,
            key: ValueMap::new(),
        }
    }

    async fn judge(
        &self,
        _ctx: &ActionContext,
        _prepared: &Prepared,
        response: &Response,
    ) -> Judgement {
        let answer = response.answers.first().map_or("", String::as_str);
        let passed = is_explicit_yes(answer);
        Judgement::single(passed, Some("the approver did not answer 'yes'".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::challenge::{Challenge, ChallengeResult, ChannelChallenge, Unanswered};
    use crate::channel::{ScriptedAnswer, ScriptedChannel};
    use crate::risk::{FixedRiskScorer, RiskScorer};

    fn risk() -> RiskAssessment {
        FixedRiskScorer::new(0.45)
            .expect("in range")
            .assess(&ActionContext::new("x"))
    }

    async fn run(answer: &str) -> ChallengeResult {
        let channel = Arc::new(ScriptedChannel::new([
            ScriptedAnswer::answers([answer]).by("alice")
        ]));
        ChannelChallenge::new(Arc::new(Confirm::new(Duration::from_secs(3))), channel)
            .present(&ActionContext::new("deploy"), &risk())
            .await
    }

    #[tokio::test]
    async fn only_explicit_yes_passes() {
        assert!(run("yes").await.passed);
        assert!(run(" Y ").await.passed);
        for answer in ["", "  ", "no", "sure", "yes please", "ok", "B"] {
            let r = run(answer).await;
            assert!(!r.passed, "{answer:?} must not approve");
            assert!(r.reason().is_some());
        }
        assert_eq!(run("yes").await.responder, "alice");
    }

    #[tokio::test]
    async fn channel_failure_is_an_unanswered_result() {
        let channel = Arc::new(ScriptedChannel::new([]));
        let r = ChannelChallenge::new(Arc::new(Confirm::new(Duration::ZERO)), channel)
            .present(&ActionContext::new("deploy"), &risk())
            .await;
        assert!(!r.passed);
        assert_eq!(r.unanswered, Some(Unanswered::NoChannel));
    }

    #[tokio::test]
    async fn a_response_without_answers_fails() {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers(
            Vec::<String>::new(),
        )]));
        let r = ChannelChallenge::new(Arc::new(Confirm::new(Duration::ZERO)), channel)
            .present(&ActionContext::new("deploy"), &risk())
            .await;
        assert!(!r.passed);
        assert_eq!(r.reason(), Some("0 of 1 questions were answered"));
    }
}
