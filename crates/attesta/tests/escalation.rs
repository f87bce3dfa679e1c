//! Escalation rules change real gate decisions: a block denies without
//! asking anyone in every mode, more approvers make a multi-party approval
//! of that size, a required challenge is never weaker than the level's own,
//! and everything that held is in the audit record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use attesta::audit::MemoryAuditSink;
use attesta::channel::{ChannelError, ScriptedAnswer, ScriptedChannel};
use attesta::policy::GateMode;
use attesta::risk::FixedRiskScorer;
use attesta::{
    ActionContext, Attesta, ChallengeType, Escalation, EscalationSource, Policy, RiskAssessment,
    Value, Verdict,
};

/// Rules that always hold, as a fixed escalation.
#[derive(Debug)]
struct Always(Escalation);

impl EscalationSource for Always {
    fn escalation(&self, _: &ActionContext, _: &[&RiskAssessment]) -> Escalation {
        self.0.clone()
    }
}

fn engine(
    score: f64,
    escalation: Escalation,
    mode: GateMode,
) -> (Attesta, Arc<ScriptedChannel>, Arc<MemoryAuditSink>) {
    let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::error(
        ChannelError::Failed("stop here".into()),
    )]));
    let sink = Arc::new(MemoryAuditSink::new());
    let policy = Policy {
        mode,
        ..Policy::default()
    };
    let engine = Attesta::builder()
        .policy(policy)
        .scorer(Arc::new(FixedRiskScorer::new(score).unwrap()))
        .channel(channel.clone())
        .audit(sink.clone())
        // No environment multiplier: the fixed score is the final one.
        .environment("ci")
        .escalations(Arc::new(Always(escalation)))
        .build()
        .unwrap();
    (engine, channel, sink)
}

fn gate_details(sink: &MemoryAuditSink) -> attesta::ValueMap {
    let record = sink.records().pop().unwrap();
    let Some(Value::Map(details)) = record.metadata.get("attesta_decision") else {
        panic!("no decision details: {record:?}");
    };
    let Some(Value::Map(gate)) = details.get("gate") else {
        panic!("no gate details: {details:?}");
    };
    gate.clone()
}

fn blocking() -> Escalation {
    let rule = "devops: matches_pattern:terraform_destroy → block".to_owned();
    Escalation {
        blocked_by: Some(rule.clone()),
        notify: vec!["infra_lead".into()],
        rules: vec![rule],
        ..Escalation::default()
    }
}

#[tokio::test]
async fn a_block_denies_without_asking_in_every_mode_and_is_audited() {
    for mode in [GateMode::Enforce, GateMode::Shadow, GateMode::AuditOnly] {
        let (engine, channel, sink) = engine(0.1, blocking(), mode);
        let decision = engine
            .evaluate(&ActionContext::new("terraform_destroy"))
            .await;
        assert_eq!(decision.verdict, Verdict::Denied, "{mode:?}");
        assert!(
            decision.reason.contains("terraform_destroy"),
            "{}",
            decision.reason
        );
        assert!(
            decision.reason.contains("infra_lead"),
            "{}",
            decision.reason
        );
        assert!(channel.prompts().is_empty(), "nobody was asked");
        let gate = gate_details(&sink);
        assert!(gate.contains_key("blocked_by"), "{gate:?}");
        assert_eq!(
            gate.get("notify_roles"),
            Some(&Value::List(vec![Value::from("infra_lead")]))
        );
    }
}

#[tokio::test]
async fn required_approvers_raise_the_multi_party_count() {
    let escalation = Escalation {
        approvers: Some(3),
        rules: vec!["healthcare: phi_access → require_multi_party (3)".into()],
        ..Escalation::default()
    };
    // LOW would run without asking; the rule demands three approvers.
    let (engine, channel, sink) = engine(0.1, escalation, GateMode::Enforce);
    let decision = engine.evaluate(&ActionContext::new("read_chart")).await;
    assert_eq!(decision.challenge, ChallengeType::MultiParty);
    assert!(!decision.is_approved());
    let prompts = channel.prompts();
    assert_eq!(prompts.len(), 1, "the first approver was asked");
    assert_eq!(prompts[0].approver.as_ref().unwrap().of, 3);
    assert_eq!(
        gate_details(&sink).get("escalated_approvers"),
        Some(&Value::from(3_i64))
    );
}

#[tokio::test]
async fn fewer_approvers_than_the_policy_never_lower_it() {
    let escalation = Escalation {
        approvers: Some(2),
        rules: vec!["r".into()],
        ..Escalation::default()
    };
    let policy_approvers = Policy::default().required_approvers;
    assert!(policy_approvers >= 2);
    let (engine, channel, _) = engine(0.95, escalation, GateMode::Enforce);
    let decision = engine.evaluate(&ActionContext::new("x")).await;
    assert_eq!(decision.challenge, ChallengeType::MultiParty);
    assert_eq!(
        channel.prompts()[0].approver.as_ref().unwrap().of,
        policy_approvers
    );
}

#[tokio::test]
async fn a_required_challenge_raises_but_never_lowers() {
    let teach_back = Escalation {
        at_least: Some(ChallengeType::TeachBack),
        rules: vec!["r".into()],
        ..Escalation::default()
    };
    let (low, channel, _) = engine(0.1, teach_back, GateMode::Enforce);
    let decision = low.evaluate(&ActionContext::new("x")).await;
    assert_eq!(decision.challenge, ChallengeType::TeachBack);
    assert_eq!(
        channel.prompts()[0].challenge_type,
        ChallengeType::TeachBack
    );

    let confirm = Escalation {
        at_least: Some(ChallengeType::Confirm),
        rules: vec!["r".into()],
        ..Escalation::default()
    };
    // HIGH asks a quiz; a confirmation rule does not weaken that.
    let (high, channel, _) = engine(0.7, confirm, GateMode::Enforce);
    let decision = high.evaluate(&ActionContext::new("x")).await;
    assert_eq!(decision.challenge, ChallengeType::Quiz);
    assert_eq!(channel.prompts()[0].challenge_type, ChallengeType::Quiz);
    let (_, previewed, _) = high.preview(&ActionContext::new("x"));
    assert_eq!(previewed, ChallengeType::Quiz);
}

#[tokio::test]
async fn notify_roles_are_recorded_on_approved_actions_too() {
    let escalation = Escalation {
        notify: vec!["compliance_officer".into()],
        rules: vec!["healthcare: risk_score >= 0 → notify_compliance".into()],
        ..Escalation::default()
    };
    let (engine, channel, sink) = engine(0.1, escalation, GateMode::Enforce);
    let decision = engine.evaluate(&ActionContext::new("x")).await;
    assert!(decision.is_approved(), "{}", decision.reason);
    assert!(channel.prompts().is_empty());
    assert_eq!(
        gate_details(&sink).get("notify_roles"),
        Some(&Value::List(vec![Value::from("compliance_officer")]))
    );
}
