//! [`ConfirmChallenge`]: an explicit "yes" after looking at the action.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Challenge, ChallengeResult, ChallengeType, Unanswered};
use crate::channel::{Channel, ChannelError, Prompt, Question, sanitize_for_display};
use crate::context::ActionContext;
use crate::risk::RiskAssessment;

/// Asks one human to approve the action with an explicit `yes`. Anything else
/// (empty, `no`, `sure`, end of input) denies.
#[derive(Debug, Clone)]
pub struct ConfirmChallenge {
    channel: Arc<dyn Channel>,
    min_review: Duration,
}

impl ConfirmChallenge {
    /// A confirmation asked over `channel`, suggesting `min_review` of reading
    /// time (the gate checks it and records whether it was met).
    pub fn new(channel: Arc<dyn Channel>, min_review: Duration) -> Self {
        Self {
            channel,
            min_review,
        }
    }

    /// The prompt this challenge shows for an action.
    pub fn prompt(&self, ctx: &ActionContext, risk: &RiskAssessment) -> Prompt {
        Prompt {
            challenge_type: ChallengeType::Confirm,
            action: sanitize_for_display(&ctx.description()),
            risk_level: risk.level,
            risk_score: risk.score,
            instructions:
                "Read the action above. Type 'yes' to let it run; anything else stops it."
                    .to_owned(),
            questions: vec![Question {
                id: "approve".to_owned(),
                text: "Approve this action?".to_owned(),
                options: vec!["yes".to_owned(), "no".to_owned()],
            }],
            min_words: None,
            min_review: self.min_review,
        }
    }
}

/// Only an explicit yes counts.
fn is_explicit_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y")
}

#[async_trait]
impl Challenge for ConfirmChallenge {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Confirm
    }

    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult {
        let prompt = self.prompt(ctx, risk);
        let response = match self.channel.ask(&prompt).await {
            Ok(response) => response,
            Err(err) => return unanswered_from(ChallengeType::Confirm, self.channel.name(), &err),
        };
        let answer = response.answers.first().map_or("", String::as_str);
        let passed = is_explicit_yes(answer);
        let mut result = ChallengeResult::new(ChallengeType::Confirm, passed);
        result.responder.clone_from(&response.principal.id);
        result.response_time_seconds = response.review_time.as_secs_f64();
        result.questions_asked = 1;
        result.questions_correct = u32::from(passed);
        result
            .details
            .insert("verified_by".into(), response.principal.verified_by.into());
        if !passed {
            result
                .details
                .insert("reason".into(), "the approver did not answer 'yes'".into());
        }
        result
    }
}

/// Turns a channel error into a failed, unanswered result.
pub(crate) fn unanswered_from(
    challenge_type: ChallengeType,
    channel: &str,
    err: &ChannelError,
) -> ChallengeResult {
    let why = match err {
        ChannelError::Unavailable(_) => Unanswered::NoChannel,
        ChannelError::Cancelled => Unanswered::Cancelled,
        ChannelError::Failed(_) => Unanswered::ChannelError,
    };
    ChallengeResult::unanswered(challenge_type, why, format!("{channel} channel: {err}"))
        .with_detail("channel", channel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{ScriptedAnswer, ScriptedChannel};
    use crate::risk::FixedRiskScorer;
    use crate::risk::RiskScorer;

    fn risk() -> RiskAssessment {
        FixedRiskScorer::new(0.45)
            .expect("in range")
            .assess(&ActionContext::new("x"))
    }

    async fn run(answer: &str) -> ChallengeResult {
        let channel = Arc::new(ScriptedChannel::new([
            ScriptedAnswer::answers([answer]).by("alice")
        ]));
        ConfirmChallenge::new(channel, Duration::from_secs(3))
            .present(&ActionContext::new("deploy"), &risk())
            .await
    }

    #[tokio::test]
    async fn only_explicit_yes_passes() {
        assert!(run("yes").await.passed);
        assert!(run(" Y ").await.passed);
        for answer in ["", "no", "sure", "yes please", "ok"] {
            let r = run(answer).await;
            assert!(!r.passed, "{answer:?} must not approve");
            assert!(r.reason().is_some());
        }
        assert_eq!(run("yes").await.responder, "alice");
    }

    #[tokio::test]
    async fn channel_failure_is_an_unanswered_result() {
        let channel = Arc::new(ScriptedChannel::new([]));
        let r = ConfirmChallenge::new(channel, Duration::ZERO)
            .present(&ActionContext::new("deploy"), &risk())
            .await;
        assert!(!r.passed);
        assert_eq!(r.unanswered, Some(Unanswered::NoChannel));
    }
}
