//! Channels: how a prompt reaches one human and how their answer comes back.
//!
//! Built-in challenges are data plus a checker: they build a [`Prompt`], hand
//! it to a [`Channel`], and judge the [`Response`]. The channel owns all I/O
//! and vouches for who answered (a [`Principal`]), so the same challenge works
//! on a terminal, an MCP elicitation form or a web page.

mod display;
mod scripted;

pub use display::sanitize_for_display;
pub use scripted::{ScriptedAnswer, ScriptedChannel};

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::challenge::ChallengeType;
use crate::risk::RiskLevel;

/// One question of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Stable id, used by forms to key the answer.
    pub id: String,
    /// The question text (already sanitised for display).
    pub text: String,
    /// Allowed answers; empty for free text.
    pub options: Vec<String>,
}

/// Everything a channel needs to ask a human about one action.
///
/// A prompt never contains the correct answers, so it can be stored, logged
/// or sent to a remote form before the human answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// Which challenge is asking.
    pub challenge_type: ChallengeType,
    /// One-line summary of the action, sanitised for display.
    pub action: String,
    /// The action's risk level.
    pub risk_level: RiskLevel,
    /// The action's risk score.
    pub risk_score: f64,
    /// What the human is asked to do.
    pub instructions: String,
    /// The questions, in order.
    pub questions: Vec<Question>,
    /// Minimum number of words for free-text answers, if any.
    pub min_words: Option<usize>,
    /// How long the human should look at the action before answering.
    pub min_review: Duration,
}

/// A human whose identity a channel has established.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier (user name, e-mail, client id).
    pub id: String,
    /// How the channel knows it (`os_user`, `totp`, `mcp_client`, `scripted`).
    pub verified_by: String,
}

impl Principal {
    /// A principal with an id and how it was established.
    pub fn new(id: impl Into<String>, verified_by: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            verified_by: verified_by.into(),
        }
    }
}

/// A human's answer to a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// One answer per question, in order.
    pub answers: Vec<String>,
    /// Who answered.
    pub principal: Principal,
    /// Time from showing the prompt to receiving the answer.
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
