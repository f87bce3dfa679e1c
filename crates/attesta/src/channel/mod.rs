//! Channels: how a prompt reaches one human and how their answer comes back.
//!
//! Built-in challenges are data plus a checker: they build a [`Prompt`], hand
//! it to a [`Channel`], and judge the [`Response`]. The channel owns all I/O
//! and vouches for who answered (a [`Principal`]), so the same challenge works
//! on a terminal, an MCP elicitation form or a web page.

mod display;
mod identity;
mod scripted;
#[cfg(unix)]
mod terminal;

pub use display::sanitize_for_display;
pub use identity::CodeVerifier;
pub use scripted::{ScriptedAnswer, ScriptedChannel};
#[cfg(unix)]
pub use terminal::{TerminalChannel, TerminalConfig, current_os_user};

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::challenge::ChallengeType;
use crate::risk::RiskLevel;

/// How a question is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Pick one of `options` (by letter or by value).
    Choice,
    /// A short free-text answer (a file name, a number).
    FreeText,
    /// A free-text explanation in the human's own words.
    Explanation,
}

/// One question of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Stable id, used by forms to key the answer.
    pub id: String,
    /// The question text (already sanitised for display).
    pub text: String,
    /// How it is answered.
    pub kind: QuestionKind,
    /// Allowed answers for [`QuestionKind::Choice`]; empty otherwise.
    pub options: Vec<String>,
}

/// What a human needs to see about the action, sanitised for display
/// (control, ANSI and bidi characters removed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSummary {
    /// The function or tool name.
    pub function_name: String,
    /// The whole call, `name(args, key=value)`.
    pub call: String,
    /// The function's documentation, if any.
    pub doc: Option<String>,
    /// The environment the action runs in.
    pub environment: String,
    /// The requesting agent, if known.
    pub agent_id: Option<String>,
    /// One line per risk factor that contributed (`arguments: shell command 'rm -rf'`).
    pub risk_factors: Vec<String>,
}

impl ActionSummary {
    /// Builds the summary for an action and its assessed risk.
    pub fn new(ctx: &crate::ActionContext, risk: &crate::RiskAssessment) -> Self {
        let risk_factors = risk
            .factors
            .iter()
            .filter(|f| f.contribution != 0.0)
            .map(|f| match &f.evidence {
                Some(evidence) => sanitize_for_display(&format!("{}: {evidence}", f.name)),
                None => sanitize_for_display(&format!("{}: {}", f.name, f.description)),
            })
            .collect();
        Self {
            function_name: sanitize_for_display(&ctx.function_name),
            call: sanitize_for_display(&ctx.description()),
            doc: ctx
                .function_doc
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(sanitize_for_display),
            environment: sanitize_for_display(&ctx.environment),
            agent_id: ctx.agent_id.as_deref().map(sanitize_for_display),
            risk_factors,
        }
    }
}

/// Which approver a multi-party prompt is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverSlot {
    /// 1-based position of this approver.
    pub index: u32,
    /// How many approvers are needed in all.
    pub of: u32,
    /// Principal ids that may not answer this slot (earlier approvers and
    /// the requesting agent).
    pub excluded: Vec<String>,
}

/// Everything a channel needs to ask a human about one action.
///
/// A prompt never contains the correct answers, so it can be stored, logged
/// or sent to a remote form before the human answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// Which challenge is asking.
    pub challenge_type: ChallengeType,
    /// The action, sanitised for display.
    pub action: ActionSummary,
    /// The action's risk level.
    pub risk_level: RiskLevel,
    /// The action's risk score.
    pub risk_score: f64,
    /// What the human is asked to do.
    pub instructions: String,
    /// The questions, in order; the response has one answer per question.
    pub questions: Vec<Question>,
    /// Minimum number of words for explanations, if any.
    pub min_words: Option<usize>,
    /// How long the human should look at the action before answering.
    pub min_review: Duration,
    /// For multi-party approval: which approver this prompt is for.
    pub approver: Option<ApproverSlot>,
}

/// A human whose identity a channel has established.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier (user name, e-mail, client id).
    pub id: String,
    /// How the channel knows it (`os_user`, `totp`, `mcp_client`, `scripted`).
    pub verified_by: String,
    /// Why this identity is weak, if it is (e.g. several approvers at one
    /// keyboard proven only by the OS user). Recorded with the approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weakness: Option<String>,
}

impl Principal {
    /// A principal with an id and how it was established.
    pub fn new(id: impl Into<String>, verified_by: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            verified_by: verified_by.into(),
            weakness: None,
        }
    }
}

/// A human's answer to a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// One answer per question, in order.
    pub answers: Vec<String>,
    /// Who answered, as established by the channel.
    pub principal: Principal,
    /// Time from showing the prompt to receiving the last answer, measured
    /// by the channel with its clock.
    pub review_time: Duration,
}

/// Why a channel could not get an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The channel cannot reach a human here (no terminal, client lacks the
    /// capability). The message says what would have been needed.
    #[error("no way to reach a human: {0}")]
    Unavailable(String),
    /// The channel failed while asking (I/O error, disconnected client).
    #[error("asking the human failed: {0}")]
    Failed(String),
    /// The human or the client withdrew the request.
    #[error("the request was cancelled")]
    Cancelled,
}

/// A way to put a prompt in front of one human.
#[async_trait]
pub trait Channel: Send + Sync + fmt::Debug {
    /// Short name for records and messages (`terminal`, `elicitation`, ...).
    fn name(&self) -> &str;

    /// Shows the prompt and waits for the answer. The gate bounds the wait
    /// with the approval timeout.
    async fn ask(&self, prompt: &Prompt) -> Result<Response, ChannelError>;
}
