//! The human stage of the pipeline: present the challenge (bounded by the
//! approval timeout), check who approved, check review time, apply the fail
//! mode.

use std::collections::HashSet;
use std::time::Duration;

use crate::challenge::{Challenge, ChallengeResult, ChallengeType, Unanswered};
use crate::context::ActionContext;
use crate::decision::Verdict;
use crate::policy::{FailMode, Policy, RubberStampMode};
use crate::risk::{RiskAssessment, RiskLevel};
use crate::value::Value;

/// What came of asking.
#[derive(Debug)]
pub(crate) struct Asked {
    pub(crate) verdict: Verdict,
    pub(crate) reason: String,
    pub(crate) result: ChallengeResult,
    pub(crate) approvers: Vec<String>,
    pub(crate) min_review: Duration,
    pub(crate) min_review_met: bool,
    pub(crate) fail_open: bool,
}

/// Presents `challenge`, giving up after the policy's timeout.
pub(crate) async fn present_with_timeout(
    challenge: &dyn Challenge,
    ctx: &ActionContext,
    risk: &RiskAssessment,
    timeout: Duration,
) -> ChallengeResult {
    match tokio::time::timeout(timeout, challenge.present(ctx, risk)).await {
        Ok(result) => result,
        Err(_elapsed) => ChallengeResult::unanswered(
            challenge.challenge_type(),
            Unanswered::TimedOut,
            format!(
                "nobody answered within {:.0} seconds",
                timeout.as_secs_f64()
            ),
        )
        .with_detail("timeout_seconds", timeout.as_secs_f64()),
    }
}

/// Principal ids of the humans who approved: the challenge's
/// `approver_ids` detail when it reports several, else its responder.
fn approvers_of(result: &ChallengeResult) -> Vec<String> {
    if let Some(Value::List(ids)) = result.details.get("approver_ids") {
        return ids
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    if result.passed && result.responder != "default" && !result.responder.is_empty() {
        return vec![result.responder.clone()];
    }
    Vec::new()
}

/// The single choke point for approver identity: approvers must be distinct,
/// none may be the requesting agent, and a multi-party approval needs at least
/// the required number. Returns why not, if not.
fn check_approvers(
    result: &ChallengeResult,
    approvers: &[String],
    ctx: &ActionContext,
    required: u32,
) -> Result<(), String> {
    if let Some(agent) = ctx.agent_id.as_deref().filter(|a| !a.is_empty())
        && approvers.iter().any(|a| a == agent)
    {
        return Err(format!(
            "the requesting agent '{agent}' cannot approve its own action"
        ));
    }
    let distinct: HashSet<&str> = approvers.iter().map(String::as_str).collect();
    if distinct.len() != approvers.len() {
        return Err("the same approver was counted more than once".to_owned());
    }
    if result.challenge_type == ChallengeType::MultiParty {
        let needed = usize::try_from(required).unwrap_or(usize::MAX);
        if distinct.len() < needed {
            return Err(format!(
                "multi-party approval needs {required} distinct approvers, got {}",
                distinct.len()
            ));
        }
    }
    Ok(())
}

/// Judges a presented challenge's result into a verdict.
pub(crate) fn judge(
    mut result: ChallengeResult,
    ctx: &ActionContext,
    risk: &RiskAssessment,
    policy: &Policy,
    required_approvers: u32,
    min_review: Duration,
) -> Asked {
    if let Some(why) = result.unanswered {
        return unanswered(result, why, risk.level, policy.fail_mode, min_review);
    }
    let approvers = approvers_of(&result);
    let reported_met = !matches!(
        result.details.get("min_review_met"),
        Some(Value::Bool(false))
    );
    let min_review_met = reported_met && result.response_time() >= min_review;
    let mut asked = Asked {
        verdict: Verdict::Denied,
        reason: String::new(),
        result: result.clone(),
        // Who approved, even when the whole approval failed (a multi-party
        // approval can fail after its first approvers said yes).
        approvers: approvers.clone(),
        min_review,
        min_review_met,
        fail_open: false,
    };
    if !result.passed {
        asked.reason = result
            .reason()
            .map_or_else(|| "the challenge was not passed".to_owned(), str::to_owned);
        return asked;
    }
    if let Err(why) = check_approvers(&result, &approvers, ctx, required_approvers) {
        // The challenge said yes, but not in a way that counts: nobody is
        // recorded as having approved.
        asked.approvers.clear();
        result.passed = false;
        result
            .details
            .insert("reason".into(), Value::Str(why.clone()));
        asked.result = result;
        asked.reason = why;
        return asked;
    }
    if !min_review_met && policy.rubber_stamp == RubberStampMode::Reject {
        asked.reason = format!(
            "answered after {:.1}s, faster than the {:.0}s minimum review time \
             (policy.rubber_stamp: reject)",
            result.response_time_seconds,
            min_review.as_secs_f64()
        );
        return asked;
    }
    asked.verdict = Verdict::Approved;
    asked.reason = match approvers.as_slice() {
        [] => format!("{} challenge passed", result.challenge_type),
        ids => format!(
            "{} challenge passed; approved by {}",
            result.challenge_type,
            ids.join(", ")
        ),
    };
    if !min_review_met {
        asked
            .reason
            .push_str(" (flagged: faster than the minimum review time)");
    }
    asked.approvers = approvers;
    asked
}

/// Nobody answered: the fail mode decides, within limits. `fail_mode`
/// covers "nobody could be asked" (no channel, no answer in time). A human
/// who cancelled, or a channel that failed (which includes an approver
/// failing to prove who they are), never fails open; nor does a CRITICAL
/// action.
fn unanswered(
    result: ChallengeResult,
    why: Unanswered,
    level: RiskLevel,
    fail_mode: FailMode,
    min_review: Duration,
) -> Asked {
    let cause = result.reason().unwrap_or(why.as_str()).to_owned();
    let nobody_reachable = matches!(why, Unanswered::NoChannel | Unanswered::TimedOut);
    let (verdict, reason, fail_open) = match fail_mode {
        FailMode::Allow if level == RiskLevel::Critical => (
            Verdict::Denied,
            format!("{cause}; fail_mode allow never applies to CRITICAL actions"),
            false,
        ),
        FailMode::Allow if !nobody_reachable => (
            Verdict::Denied,
            format!(
                "{cause}; fail_mode allow only covers a missing channel or a timeout, \
                 not a cancelled or failed approval"
            ),
            false,
        ),
        FailMode::Allow => (
            Verdict::Approved,
            format!("{cause}; approved without a human because fail_mode is allow"),
            true,
        ),
        FailMode::Escalate if why == Unanswered::Cancelled => (Verdict::Denied, cause, false),
        FailMode::Escalate => (Verdict::Escalated, format!("{cause}; escalated"), false),
        FailMode::Deny if why == Unanswered::TimedOut => (Verdict::TimedOut, cause, false),
        FailMode::Deny => (Verdict::Denied, cause, false),
    };
    Asked {
        verdict,
        reason,
        result,
        approvers: Vec::new(),
        min_review,
        // Nobody reviewed anything; do not claim the minimum was met.
        min_review_met: min_review.is_zero(),
        fail_open,
    }
}
