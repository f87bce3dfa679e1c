//! [`MultiParty`]: several independent approvers, each passing a different
//! sub-challenge in rotation, before a CRITICAL action runs.

use std::sync::Arc;

use async_trait::async_trait;

use super::interrogation::{Interrogation, missing_answers, unanswered_from};
use super::{Challenge, ChallengeResult, ChallengeType};
use crate::channel::{ApproverSlot, Channel, Response};
use crate::context::ActionContext;
use crate::risk::RiskAssessment;
use crate::value::{Value, ValueMap};

/// Why a [`MultiParty`] challenge could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiPartyError {
    /// Fewer than two approvers is not multi-party approval.
    #[error("multi-party approval needs at least 2 approvers, got {0}")]
    TooFewApprovers(u32),
    /// No sub-challenge to rotate through.
    #[error("multi-party approval needs at least one sub-challenge")]
    NoSubChallenges,
}

/// N distinct approvers, approver *i* answering sub-challenge `i mod len`
/// of the rotation (by default teach-back → quiz → confirm → teach-back …).
///
/// Identity comes from the channel (each [`Response`] carries a verified
/// [`Principal`](crate::channel::Principal)), never from a typed name. Each
/// prompt tells the channel which principals may not answer (earlier
/// approvers and the requesting agent), and the answer is refused here too if
/// one of them answers anyway; the gate checks the final list once more. The
/// first failure stops the approval: the action is denied and later
/// approvers are not asked. Every approver's id and sub-result is recorded.
#[derive(Debug, Clone)]
pub struct MultiParty {
    rotation: Vec<Arc<dyn Interrogation>>,
    required: u32,
    channel: Arc<dyn Channel>,
}

impl MultiParty {
    /// `required` approvers (at least 2) over `channel`, rotating through
    /// `rotation` (at least one).
    pub fn new(
        rotation: Vec<Arc<dyn Interrogation>>,
        required: u32,
        channel: Arc<dyn Channel>,
    ) -> Result<Self, MultiPartyError> {
        if required < 2 {
            return Err(MultiPartyError::TooFewApprovers(required));
        }
        if rotation.is_empty() {
            return Err(MultiPartyError::NoSubChallenges);
        }
        Ok(Self {
            rotation,
            required,
            channel,
        })
    }

    /// How many approvers this challenge asks for.
    pub fn required(&self) -> u32 {
        self.required
    }
}

/// What is recorded about one approver.
fn approver_record(
    slot: u32,
    sub: &dyn Interrogation,
    response: &Response,
    passed: bool,
    reason: Option<&str>,
    judged: Option<&super::Judgement>,
) -> Value {
    let review = response.review_time.as_secs_f64();
    let min_review = sub.min_review().as_secs_f64();
    let mut record = ValueMap::new();
    record.insert("slot".into(), i64::from(slot).into());
    record.insert("approver_id".into(), response.principal.id.clone().into());
    record.insert(
        "verified_by".into(),
        response.principal.verified_by.clone().into(),
    );
    if let Some(weakness) = &response.principal.weakness {
        record.insert("identity_warning".into(), weakness.clone().into());
    }
    record.insert(
        "challenge_type".into(),
        sub.challenge_type().as_str().into(),
    );
    record.insert("passed".into(), passed.into());
    record.insert("response_time_seconds".into(), review.into());
    record.insert("min_review_seconds".into(), min_review.into());
    record.insert("min_review_met".into(), (review >= min_review).into());
    if let Some(j) = judged {
        record.insert(
            "questions_asked".into(),
            i64::from(j.questions_asked).into(),
        );
        record.insert(
            "questions_correct".into(),
            i64::from(j.questions_correct).into(),
        );
        record.insert("details".into(), Value::Map(j.details.clone()));
    }
    if let Some(reason) = reason {
        record.insert("reason".into(), reason.into());
    }
    Value::Map(record)
}

/// How one approver slot ended.
enum Slot {
    /// The approver passed; their id.
    Approved(String),
    /// The approval stops here, for this reason.
    Refused(String),
    /// Nobody could be asked; the result to return.
    Unanswered(Box<ChallengeResult>),
}

/// What the approvers so far have produced.
#[derive(Default)]
struct Progress {
    excluded: Vec<String>,
    approvers: Vec<String>,
    records: Vec<Value>,
    total_review: f64,
    all_met: bool,
}

impl MultiParty {
    /// Asks approver `slot` to pass `sub`, and checks who answered.
    async fn ask_slot(
        &self,
        slot: u32,
        sub: &dyn Interrogation,
        ctx: &ActionContext,
        risk: &RiskAssessment,
        progress: &mut Progress,
    ) -> Slot {
        let mut prepared = sub.prepare(ctx, risk);
        prepared.prompt.approver = Some(ApproverSlot {
            index: slot,
            of: self.required,
            excluded: progress.excluded.clone(),
        });
        let response = match self.channel.ask(&prepared.prompt).await {
            Ok(response) => response,
            Err(err) => {
                let mut result =
                    unanswered_from(ChallengeType::MultiParty, self.channel.name(), &err);
                result.details.insert(
                    "reason".into(),
                    format!("approver {slot} of {}: {err}", self.required).into(),
                );
                return Slot::Unanswered(Box::new(result));
            }
        };
        progress.total_review += response.review_time.as_secs_f64();
        let who = response.principal.id.clone();
        let refused = if who.is_empty() {
            Some("the channel did not say who answered".to_owned())
        } else if progress.approvers.contains(&who) {
            Some(format!(
                "'{who}' already approved; each approver must be a different person"
            ))
        } else if progress.excluded.contains(&who) {
            Some(format!(
                "'{who}' requested this action and cannot approve it"
            ))
        } else {
            missing_answers(&prepared.prompt, &response)
        };
        if let Some(reason) = refused {
            let record = approver_record(slot, sub, &response, false, Some(&reason), None);
            progress.records.push(record);
            return Slot::Refused(format!("approver {slot} of {}: {reason}", self.required));
        }
        let judgement = sub.judge(ctx, &prepared, &response).await;
        progress.all_met &= response.review_time >= sub.min_review();
        progress.records.push(approver_record(
            slot,
            sub,
            &response,
            judgement.passed,
            judgement.reason.as_deref(),
            Some(&judgement),
        ));
        if judgement.passed {
            Slot::Approved(who)
        } else {
            let why = judgement
                .reason
                .unwrap_or_else(|| "the answer was not accepted".to_owned());
            Slot::Refused(format!(
                "approver {slot} of {} ({who}) did not pass the {}: {why}",
                self.required,
                sub.challenge_type()
            ))
        }
    }
}

#[async_trait]
impl Challenge for MultiParty {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::MultiParty
    }

    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult {
        let mut progress = Progress {
            excluded: ctx
                .agent_id
                .iter()
                .filter(|a| !a.is_empty())
                .cloned()
                .collect(),
            all_met: true,
            ..Progress::default()
        };
        let mut failure: Option<String> = None;
        for (slot, sub) in (1..=self.required).zip(self.rotation.iter().cycle()) {
            match self.ask_slot(slot, &**sub, ctx, risk, &mut progress).await {
                Slot::Approved(who) => {
                    progress.excluded.push(who.clone());
                    progress.approvers.push(who);
                }
                Slot::Refused(reason) => {
                    failure = Some(reason);
                    break;
                }
                Slot::Unanswered(result) => return finish(*result, self.required, progress),
            }
        }
        let everyone = u32::try_from(progress.approvers.len()).is_ok_and(|n| n == self.required);
        let mut result =
            ChallengeResult::new(ChallengeType::MultiParty, failure.is_none() && everyone);
        if let Some(reason) = failure {
            result.details.insert("reason".into(), reason.into());
        }
        finish(result, self.required, progress)
    }
}

/// Fills in what every multi-party result records, passed or not.
fn finish(mut result: ChallengeResult, required: u32, progress: Progress) -> ChallengeResult {
    let Progress {
        approvers,
        records,
        total_review,
        all_met,
        ..
    } = progress;
    result.questions_asked = u32::try_from(records.len()).unwrap_or(u32::MAX);
    result.questions_correct = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
    result.response_time_seconds = total_review;
    if !approvers.is_empty() {
        result.responder = approvers.join(", ");
    }
    result
        .details
        .insert("required_approvers".into(), i64::from(required).into());
    // Those who passed their sub-challenge, even if a later one failed: the
    // record says truthfully who approved. The gate reads this list.
    result.details.insert(
        "approver_ids".into(),
        Value::List(approvers.into_iter().map(Value::Str).collect()),
    );
    result
        .details
        .insert("approver_records".into(), Value::List(records));
    result
        .details
        .insert("min_review_met".into(), all_met.into());
    result
}
