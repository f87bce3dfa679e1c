//! Challenges: what a human must do to show they understood an action.
//!
//! A [`Challenge`] is the pluggable seam: anything that implements
//! [`Challenge::challenge_type`] and an async [`Challenge::present`] can stand
//! in for a built-in (a TOTP code, a manager's approval, a domain quiz).
//! `present` never fails: a challenge that could not reach anyone, or whose
//! human got it wrong, returns a result with `passed: false` and says why.

mod confirm;
mod interrogation;
mod multi_party;
mod quiz;
mod teach_back;
mod templates;
pub mod totp;
mod words;

pub use confirm::Confirm;
pub use interrogation::{
    ChannelChallenge, Interrogation, Judgement, Prepared, base_prompt, missing_answers,
    result_from, unanswered_from,
};
pub use multi_party::{MultiParty, MultiPartyError};
pub use quiz::Quiz;
pub use teach_back::{KeywordValidator, TeachBack, TeachBackValidator, Validation};
pub use totp::{
    ConfiguredSecrets, SecretError, SecretProvider, TotpChallenge, TotpSecret, TotpVerifier,
};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::context::ActionContext;
use crate::risk::RiskAssessment;
use crate::value::{Value, ValueMap};

/// The kinds of proof a human can be asked for, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeType {
    /// No human is asked; the action runs.
    AutoApprove,
    /// An explicit "yes" after a minimum review time.
    Confirm,
    /// Questions generated from the action's own arguments.
    Quiz,
    /// The human explains the action in their own words.
    TeachBack,
    /// Several independent approvers, each passing a sub-challenge.
    MultiParty,
}

/// A string that names no challenge type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a challenge type; use auto_approve, confirm, quiz, teach_back or multi_party"
)]
pub struct UnknownChallengeType(pub String);

impl ChallengeType {
    /// All types, weakest first.
    pub const ALL: [ChallengeType; 5] = [
        Self::AutoApprove,
        Self::Confirm,
        Self::Quiz,
        Self::TeachBack,
        Self::MultiParty,
    ];

    /// The `snake_case` wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoApprove => "auto_approve",
            Self::Confirm => "confirm",
            Self::Quiz => "quiz",
            Self::TeachBack => "teach_back",
            Self::MultiParty => "multi_party",
        }
    }

    /// Parses a configuration token: the `snake_case` name or its kebab-case
    /// spelling (`teach-back`), case-insensitively.
    pub fn from_config_token(token: &str) -> Result<Self, UnknownChallengeType> {
        let normalised = token.trim().to_ascii_lowercase().replace('-', "_");
        normalised
            .parse()
            .map_err(|_| UnknownChallengeType(token.to_owned()))
    }
}

impl fmt::Display for ChallengeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChallengeType {
    type Err = UnknownChallengeType;

    /// Exact parse of the `snake_case` wire name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownChallengeType(s.to_owned()))
    }
}

/// Why a challenge ended without anyone answering it. Unlike a wrong answer,
/// these are subject to the policy's `fail_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unanswered {
    /// No channel could reach a human (no terminal, no client support).
    NoChannel,
    /// The channel failed while asking.
    ChannelError,
    /// The approval could not be handed over at all (an approval server
    /// that could not be reached before it accepted the request). Unlike
    /// [`Unanswered::NoChannel`], the policy's `fail_mode: allow` never
    /// covers it: a server that is down must not wave actions through.
    Undelivered,
    /// Nobody answered within the approval timeout.
    TimedOut,
    /// The request was withdrawn before an answer arrived.
    Cancelled,
}

impl Unanswered {
    /// The `snake_case` wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoChannel => "no_channel",
            Self::ChannelError => "channel_error",
            Self::Undelivered => "undelivered",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The outcome of presenting a challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeResult {
    /// Whether the human proved understanding and approved.
    pub passed: bool,
    /// Which kind of challenge this was.
    pub challenge_type: ChallengeType,
    /// Who answered: a verified principal id, or `"default"` if unknown.
    pub responder: String,
    /// Seconds from showing the prompt to receiving the answer.
    pub response_time_seconds: f64,
    /// How many questions were asked.
    pub questions_asked: u32,
    /// How many of them were answered correctly.
    pub questions_correct: u32,
    /// Set when nobody answered at all (no channel, error, timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<Unanswered>,
    /// Challenge-specific details; a failed result carries a `reason`.
    #[serde(default)]
    pub details: ValueMap,
}

impl ChallengeResult {
    /// A result with the defaults of the reference (`responder = "default"`).
    pub fn new(challenge_type: ChallengeType, passed: bool) -> Self {
        Self {
            passed,
            challenge_type,
            responder: "default".to_owned(),
            response_time_seconds: 0.0,
            questions_asked: 0,
            questions_correct: 0,
            unanswered: None,
            details: ValueMap::new(),
        }
    }

    /// A failed result because nobody answered, with a reason.
    pub fn unanswered(
        challenge_type: ChallengeType,
        why: Unanswered,
        reason: impl Into<String>,
    ) -> Self {
        let mut result = Self::new(challenge_type, false);
        result.unanswered = Some(why);
        result
            .details
            .insert("reason".into(), Value::Str(reason.into()));
        result
    }

    /// Adds a detail entry.
    #[must_use]
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// The `reason` detail, if the result has one.
    pub fn reason(&self) -> Option<&str> {
        self.details.get("reason").and_then(Value::as_str)
    }

    /// The response time as a duration.
    pub fn response_time(&self) -> Duration {
        Duration::try_from_secs_f64(self.response_time_seconds).unwrap_or(Duration::ZERO)
    }
}

/// Something a human must pass before an action runs.
///
/// Implementations must not panic and must not return early with an error:
/// every failure is a `ChallengeResult` with `passed: false` and a `reason`
/// detail. The gate adds the approval timeout around `present`, so a
/// challenge that waits for a human does not need its own.
///
/// ```
/// use attesta::{ActionContext, Challenge, ChallengeResult, ChallengeType, RiskAssessment};
/// use async_trait::async_trait;
///
/// /// Passes only between 09:00 and 17:00 (a toy policy).
/// #[derive(Debug)]
/// struct OfficeHours { hour: u32 }
///
/// #[async_trait]
/// impl Challenge for OfficeHours {
///     fn challenge_type(&self) -> ChallengeType { ChallengeType::Confirm }
///     async fn present(&self, _ctx: &ActionContext, _risk: &RiskAssessment) -> ChallengeResult {
///         let ok = (9..17).contains(&self.hour);
///         let result = ChallengeResult::new(ChallengeType::Confirm, ok);
///         if ok { result } else { result.with_detail("reason", "outside office hours") }
///     }
/// }
/// ```
#[async_trait]
pub trait Challenge: Send + Sync + fmt::Debug {
    /// Which built-in kind this challenge reports as (custom challenges reuse
    /// the closest one, e.g. a TOTP code reports `confirm`).
    fn challenge_type(&self) -> ChallengeType;

    /// Shows the action to a human and judges the answer.
    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_tokens_accept_kebab_and_case() {
        assert_eq!(
            ChallengeType::from_config_token("teach-back"),
            Ok(ChallengeType::TeachBack)
        );
        assert_eq!(
            ChallengeType::from_config_token(" Multi_Party "),
            Ok(ChallengeType::MultiParty)
        );
        assert_eq!(
            ChallengeType::from_config_token("auto-approve"),
            Ok(ChallengeType::AutoApprove)
        );
        assert!(ChallengeType::from_config_token("totp").is_err());
        assert!("Quiz".parse::<ChallengeType>().is_err());
    }

    #[test]
    fn unanswered_results_fail_with_reason() {
        let r = ChallengeResult::unanswered(ChallengeType::Quiz, Unanswered::NoChannel, "no tty");
        assert!(!r.passed);
        assert_eq!(r.reason(), Some("no tty"));
        assert_eq!(r.unanswered, Some(Unanswered::NoChannel));
    }
}
