//! Multi-party approval: distinct, verified approvers in rotation, through
//! the real gate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use attesta::audit::MemoryAuditSink;
use attesta::challenge::{
    Confirm, Interrogation, Judgement, MultiParty, MultiPartyError, Prepared, base_prompt,
};
use attesta::channel::{
    ChannelError, Question, QuestionKind, Response, ScriptedAnswer, ScriptedChannel,
};
use attesta::policy::RubberStampMode;
use attesta::risk::FixedRiskScorer;
use attesta::{
    ActionContext, Attesta, Challenge, ChallengeType, Decision, Policy, RiskAssessment, RiskScorer,
    Value, ValueMap, Verdict,
};

/// A sub-challenge whose answer must be "42": stands in for a quiz.
#[derive(Debug)]
struct AnswerIs42;

#[async_trait]
impl Interrogation for AnswerIs42 {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Quiz
    }
    fn min_review(&self) -> Duration {
        Duration::from_secs(10)
    }
    fn prepare(&self, ctx: &ActionContext, risk: &RiskAssessment) -> Prepared {
        let mut prompt = base_prompt(ChallengeType::Quiz, ctx, risk, "answer", self.min_review());
        prompt.questions.push(Question {
            id: "q".into(),
            text: "What is the answer?".into(),
            kind: QuestionKind::FreeText,
            options: vec![],
        });
        let mut key = ValueMap::new();
        key.insert("answer".into(), "42".into());
        Prepared { prompt, key }
    }
    async fn judge(
        &self,
        _ctx: &ActionContext,
        prepared: &Prepared,
        response: &Response,
    ) -> Judgement {
        let want = prepared.key.get("answer").and_then(Value::as_str);
        Judgement::single(
            response.answers.first().map(String::as_str) == want,
            Some("wrong answer".into()),
        )
    }
}

fn rotation() -> Vec<Arc<dyn Interrogation>> {
    vec![
        Arc::new(Confirm::new(Duration::from_secs(3))),
        Arc::new(AnswerIs42),
    ]
}

fn critical() -> RiskAssessment {
    FixedRiskScorer::new(0.9)
        .unwrap()
        .assess(&ActionContext::new("drop_db"))
}

fn ctx() -> ActionContext {
    ActionContext::new("drop_db")
        .with_agent("bot")
        .with_environment("ci")
}

fn yes(who: &str) -> ScriptedAnswer {
    ScriptedAnswer::answers(["yes"]).by(who)
}

fn answer42(who: &str) -> ScriptedAnswer {
    ScriptedAnswer::answers(["42"]).by(who)
}

async fn gate_with(
    channel: Arc<ScriptedChannel>,
    approvers: u32,
    policy: Policy,
) -> (Decision, Arc<MemoryAuditSink>) {
    let sink = Arc::new(MemoryAuditSink::new());
    let challenge = MultiParty::new(rotation(), approvers, channel).unwrap();
    let attesta = Attesta::builder()
        .policy(Policy {
            required_approvers: approvers,
            ..policy
        })
        .scorer(Arc::new(FixedRiskScorer::new(0.9).unwrap()))
        .challenge_for_type(ChallengeType::MultiParty, Arc::new(challenge))
        .audit(sink.clone())
        .build()
        .unwrap();
    (attesta.evaluate(&ctx()).await, sink)
}

#[test]
fn construction_needs_two_approvers_and_a_rotation() {
    let channel = Arc::new(ScriptedChannel::new([]));
    assert_eq!(
        MultiParty::new(rotation(), 1, channel.clone()).unwrap_err(),
        MultiPartyError::TooFewApprovers(1)
    );
    assert_eq!(
        MultiParty::new(vec![], 2, channel).unwrap_err(),
        MultiPartyError::NoSubChallenges
    );
}

#[tokio::test]
async fn two_distinct_approvers_pass_and_are_recorded() {
    let channel = Arc::new(ScriptedChannel::new([yes("alice"), answer42("bob")]));
    let (decision, sink) = gate_with(channel.clone(), 2, Policy::default()).await;
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    assert_eq!(decision.approvers, ["alice", "bob"]);
    let record = &sink.records()[0];
    assert_eq!(record.approver_ids, ["alice", "bob"]);
    assert_eq!(record.challenge_type, "multi_party");
    assert_eq!(record.challenge_passed, Some(true));
    // Every approver's sub-result reaches the audit record.
    let Some(Value::Map(details)) = record.metadata.get(attesta::audit::DECISION_KEY) else {
        panic!("decision details missing: {:?}", record.metadata);
    };
    let Some(Value::List(sub_results)) = details.get("approver_records") else {
        panic!("approver records missing: {details:?}");
    };
    assert_eq!(sub_results.len(), 2);
    let Value::Map(bob) = &sub_results[1] else {
        panic!("a record is a map")
    };
    assert_eq!(bob.get("approver_id"), Some(&Value::from("bob")));
    assert_eq!(bob.get("challenge_type"), Some(&Value::from("quiz")));
    assert_eq!(bob.get("passed"), Some(&Value::Bool(true)));

    // Each approver saw its slot, with earlier approvers and the agent excluded.
    let slots: Vec<_> = channel
        .prompts()
        .into_iter()
        .map(|p| p.approver.unwrap())
        .collect();
    assert_eq!((slots[0].index, slots[0].of), (1, 2));
    assert_eq!(slots[0].excluded, ["bot"]);
    assert_eq!(slots[1].excluded, ["bot", "alice"]);

    let result = decision.challenge_result.unwrap();
    let Some(Value::List(records)) = result.details.get("approver_records") else {
        panic!("approver records missing: {:?}", result.details);
    };
    let types: Vec<_> = records
        .iter()
        .map(|r| match r {
            Value::Map(m) => m.get("challenge_type").cloned().unwrap(),
            _ => panic!("record is a map"),
        })
        .collect();
    assert_eq!(types, [Value::from("confirm"), Value::from("quiz")]);
}

#[tokio::test]
async fn sub_challenges_rotate() {
    let channel = Arc::new(ScriptedChannel::new([yes("a"), answer42("b"), yes("c")]));
    let (decision, _) = gate_with(channel.clone(), 3, Policy::default()).await;
    assert!(decision.is_approved(), "{}", decision.reason);
    let kinds: Vec<_> = channel.prompts().iter().map(|p| p.challenge_type).collect();
    assert_eq!(
        kinds,
        [
            ChallengeType::Confirm,
            ChallengeType::Quiz,
            ChallengeType::Confirm
        ]
    );
}

#[tokio::test]
async fn one_person_cannot_fill_two_slots() {
    let channel = Arc::new(ScriptedChannel::new([yes("alice"), answer42("alice")]));
    let (decision, sink) = gate_with(channel, 2, Policy::default()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        decision.reason.contains("already approved"),
        "{}",
        decision.reason
    );
    assert_eq!(sink.records()[0].verdict, "denied");
}

#[tokio::test]
async fn the_requesting_agent_cannot_approve() {
    let channel = Arc::new(ScriptedChannel::new([yes("bot"), answer42("bob")]));
    let (decision, _) = gate_with(channel, 2, Policy::default()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        decision.reason.contains("requested this action"),
        "{}",
        decision.reason
    );
}

#[tokio::test]
async fn the_first_failure_stops_the_approval() {
    let channel = Arc::new(ScriptedChannel::new([
        ScriptedAnswer::answers(["no"]).by("alice"),
        answer42("bob"),
    ]));
    let (decision, _) = gate_with(channel.clone(), 2, Policy::default()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        decision.reason.contains("approver 1 of 2"),
        "{}",
        decision.reason
    );
    assert_eq!(
        channel.prompts().len(),
        1,
        "bob must not be asked after alice denied"
    );
    assert!(decision.approvers.is_empty());
}

#[tokio::test]
async fn a_wrong_sub_answer_denies_and_records_who_did_approve() {
    let channel = Arc::new(ScriptedChannel::new([
        yes("alice"),
        ScriptedAnswer::answers(["41"]).by("bob"),
    ]));
    let (decision, sink) = gate_with(channel, 2, Policy::default()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        decision.reason.contains("(bob) did not pass the quiz"),
        "{}",
        decision.reason
    );
    assert_eq!(sink.records()[0].approver_ids, ["alice"]);
    assert_eq!(sink.records()[0].challenge_passed, Some(false));
}

#[tokio::test]
async fn losing_the_channel_midway_fails_closed() {
    let channel = Arc::new(ScriptedChannel::new([
        yes("alice"),
        ScriptedAnswer::error(ChannelError::Failed("terminal closed".into())),
    ]));
    let (decision, _) = gate_with(channel, 2, Policy::default()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        decision.reason.contains("approver 2 of 2"),
        "{}",
        decision.reason
    );
}

#[tokio::test]
async fn a_rushed_sub_challenge_is_flagged_or_rejected() {
    let rushed = || {
        Arc::new(ScriptedChannel::new([
            yes("alice"),
            answer42("bob").reviewed_for(Duration::from_secs(2)), // quiz minimum is 10 s
        ]))
    };
    let (flagged, sink) = gate_with(rushed(), 2, Policy::default()).await;
    assert!(flagged.is_approved());
    assert!(!flagged.min_review_met);
    assert!(!sink.records()[0].min_review_met);

    let policy = Policy {
        rubber_stamp: RubberStampMode::Reject,
        ..Policy::default()
    };
    let (rejected, _) = gate_with(rushed(), 2, policy).await;
    assert_eq!(rejected.verdict, Verdict::Denied);
}

#[tokio::test]
async fn the_challenge_itself_reports_everything() {
    let channel = Arc::new(ScriptedChannel::new([yes("alice"), answer42("bob")]));
    let challenge = MultiParty::new(rotation(), 2, channel).unwrap();
    let result = challenge.present(&ctx(), &critical()).await;
    assert!(result.passed);
    assert_eq!(result.questions_asked, 2);
    assert_eq!(result.questions_correct, 2);
    assert_eq!(result.response_time_seconds, 120.0);
    assert_eq!(
        result.details.get("required_approvers"),
        Some(&Value::Int(2))
    );
    assert_eq!(
        result.details.get("min_review_met"),
        Some(&Value::Bool(true))
    );
}
