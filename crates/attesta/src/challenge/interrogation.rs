//! Built-in challenges as data plus a checker.
//!
//! An [`Interrogation`] turns an action into a [`Prompt`] (what to show and
//! ask) and a private answer key, and later judges a [`Response`] against
//! that key. It does no I/O, so any [`Channel`] can present it (terminal,
//! MCP elicitation form, web page) and a prepared prompt can be stored and
//! answered later. [`ChannelChallenge`] joins an interrogation to a channel
//! and is the [`Challenge`] the gate presents.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Challenge, ChallengeResult, ChallengeType, Unanswered};
use crate::channel::{ActionSummary, Channel, ChannelError, Prompt, Response};
use crate::context::ActionContext;
use crate::risk::RiskAssessment;
use crate::value::{Value, ValueMap};

/// A prompt ready to show, and the key to judge its answers.
///
/// The key is kept apart from the prompt so the prompt can be sent anywhere
/// without revealing the correct answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// What the human sees.
    pub prompt: Prompt,
    /// What the answers are judged against; never shown or logged before the
    /// answer is judged. Each interrogation defines its own shape.
    pub key: ValueMap,
}

/// The verdict on one response.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Whether the response proves understanding and approves the action.
    pub passed: bool,
    /// How many questions were judged.
    pub questions_asked: u32,
    /// How many were answered correctly.
    pub questions_correct: u32,
    /// Why it failed, in words the human can act on; `None` when passed.
    pub reason: Option<String>,
    /// What the challenge wants on record (answers given, terms matched, and,
    /// now that judging is done, the correct answers).
    pub details: ValueMap,
}

impl Judgement {
    /// A judgement of one question.
    pub fn single(passed: bool, reason: Option<String>) -> Self {
        Self {
            passed,
            questions_asked: 1,
            questions_correct: u32::from(passed),
            reason: if passed { None } else { reason },
            details: ValueMap::new(),
        }
    }
}

/// A challenge as data plus a checker. See the module docs.
#[async_trait]
pub trait Interrogation: Send + Sync + fmt::Debug {
    /// The kind of challenge.
    fn challenge_type(&self) -> ChallengeType;

    /// The suggested minimum review time for this challenge.
    fn min_review(&self) -> Duration;

    /// Builds the prompt and answer key for an action.
    fn prepare(&self, ctx: &ActionContext, risk: &RiskAssessment) -> Prepared;

    /// Judges a response. Async so a validator may consult a model or a
    /// service; it must still never fail (a failing validator is a failed
    /// judgement with a reason).
    async fn judge(
        &self,
        ctx: &ActionContext,
        prepared: &Prepared,
        response: &Response,
    ) -> Judgement;
}

/// Helper for interrogations: the common part of every prompt.
pub fn base_prompt(
    challenge_type: ChallengeType,
    ctx: &ActionContext,
    risk: &RiskAssessment,
    instructions: impl Into<String>,
    min_review: Duration,
) -> Prompt {
    Prompt {
        challenge_type,
        action: ActionSummary::new(ctx, risk),
        risk_level: risk.level,
        risk_score: risk.score,
        instructions: instructions.into(),
        questions: Vec::new(),
        min_words: None,
        min_review,
        approver: None,
    }
}

/// An [`Interrogation`] presented over a [`Channel`]: the [`Challenge`] the
/// gate uses for built-in challenge types.
#[derive(Debug, Clone)]
pub struct ChannelChallenge {
    interrogation: Arc<dyn Interrogation>,
    channel: Arc<dyn Channel>,
}

impl ChannelChallenge {
    /// Presents `interrogation` over `channel`.
    pub fn new(interrogation: Arc<dyn Interrogation>, channel: Arc<dyn Channel>) -> Self {
        Self {
            interrogation,
            channel,
        }
    }
}

#[async_trait]
impl Challenge for ChannelChallenge {
    fn challenge_type(&self) -> ChallengeType {
        self.interrogation.challenge_type()
    }

    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult {
        let prepared = self.interrogation.prepare(ctx, risk);
        let kind = self.interrogation.challenge_type();
        let response = match self.channel.ask(&prepared.prompt).await {
            Ok(response) => response,
            Err(err) => return unanswered_from(kind, self.channel.name(), &err),
        };
        if let Some(missing) = missing_answers(&prepared.prompt, &response) {
            return failed_result(kind, &response, missing);
        }
        let judgement = self.interrogation.judge(ctx, &prepared, &response).await;
        result_from(kind, &response, judgement)
    }
}

/// A reason when the response does not answer every question.
pub fn missing_answers(prompt: &Prompt, response: &Response) -> Option<String> {
    let want = prompt.questions.len();
    let got = response.answers.len();
    (got < want).then(|| format!("{got} of {want} questions were answered"))
}

/// The challenge result for a judged response.
pub fn result_from(
    kind: ChallengeType,
    response: &Response,
    judgement: Judgement,
) -> ChallengeResult {
    let mut result = ChallengeResult::new(kind, judgement.passed);
    result.responder.clone_from(&response.principal.id);
    result.response_time_seconds = response.review_time.as_secs_f64();
    result.questions_asked = judgement.questions_asked;
    result.questions_correct = judgement.questions_correct;
    result.details = judgement.details;
    result.details.insert(
        "verified_by".into(),
        response.principal.verified_by.clone().into(),
    );
    if let Some(weakness) = &response.principal.weakness {
        result
            .details
            .insert("identity_warning".into(), weakness.clone().into());
    }
    if let Some(reason) = judgement.reason.filter(|_| !judgement.passed) {
        result.details.insert("reason".into(), Value::Str(reason));
    }
    result
}

fn failed_result(kind: ChallengeType, response: &Response, reason: String) -> ChallengeResult {
    let judgement = Judgement {
        passed: false,
        questions_asked: 0,
        questions_correct: 0,
        reason: Some(reason),
        details: ValueMap::new(),
    };
    result_from(kind, response, judgement)
}

/// Turns a channel error into a failed, unanswered result.
pub fn unanswered_from(
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
