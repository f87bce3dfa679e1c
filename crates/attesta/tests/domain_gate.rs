//! Domain profiles change real decisions, configured the way users do it:
//! an `attesta.yaml` naming presets, loaded by `Attesta::config_builder`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use attesta::audit::MemoryAuditSink;
use attesta::channel::{ChannelError, ScriptedAnswer, ScriptedChannel};
use attesta::{ActionContext, Attesta, ChallengeType, RiskLevel, Value, Verdict};

fn engine(
    yaml: &str,
) -> (
    Attesta,
    Arc<ScriptedChannel>,
    Arc<MemoryAuditSink>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attesta.yaml");
    std::fs::write(&path, yaml).unwrap();
    let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::error(
        ChannelError::Failed("the test stops after the first prompt".into()),
    )]));
    let sink = Arc::new(MemoryAuditSink::new());
    let engine = Attesta::config_builder(&path)
        .unwrap()
        .channel(channel.clone())
        .audit(sink.clone())
        .build()
        .unwrap();
    (engine, channel, sink, dir)
}

fn gate_details(sink: &MemoryAuditSink) -> attesta::ValueMap {
    let record = sink.records().pop().unwrap();
    let Some(Value::Map(details)) = record.metadata.get("attesta_decision") else {
        panic!("no decision details: {record:?}");
    };
    match details.get("gate") {
        Some(Value::Map(gate)) => gate.clone(),
        other => panic!("no gate details: {other:?}"),
    }
}

#[tokio::test]
async fn with_devops_terraform_destroy_is_blocked_and_the_audit_names_the_rule() {
    let (engine, channel, sink, _dir) = engine("domain: devops\n");
    let ctx = ActionContext::new("terraform_destroy")
        .with_kwarg("workspace", "prod-eu")
        .with_environment("development");
    let decision = engine.evaluate(&ctx).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert_eq!(
        decision.risk.level,
        RiskLevel::Critical,
        "a critical action stays CRITICAL in development"
    );
    assert!(
        channel.prompts().is_empty(),
        "blocked without asking anyone"
    );
    assert!(
        decision.reason.contains("terraform_destroy"),
        "{}",
        decision.reason
    );
    let gate = gate_details(&sink);
    let blocked = gate.get("blocked_by").unwrap().as_str().unwrap().to_owned();
    assert!(blocked.starts_with("devops/"), "{blocked}");
    assert!(blocked.contains("block"), "{blocked}");
    // Every rule that held is recorded; the blocking one notifies infra_lead.
    let Some(Value::List(roles)) = gate.get("notify_roles") else {
        panic!("{gate:?}");
    };
    assert!(roles.contains(&Value::from("infra_lead")), "{roles:?}");
}

#[tokio::test]
async fn the_seeds_shorthand_makes_phi_access_need_three_distinct_approvers() {
    let yaml = "\
domains:
  - healthcare:
      escalation_rules:
        phi_access: 3
        data_export: 3
  - infrastructure:
      escalation_rules:
        production_deploy: 2
        database_drop: 4
";
    let (engine, channel, sink, _dir) = engine(yaml);
    let ctx = ActionContext::new("phi_access")
        .with_kwarg("patient_id", "12345")
        .with_environment("staging");
    let decision = engine.evaluate(&ctx).await;
    assert_eq!(decision.challenge, ChallengeType::MultiParty);
    assert!(!decision.is_approved());
    let prompts = channel.prompts();
    assert_eq!(prompts[0].approver.as_ref().unwrap().of, 3, "{prompts:?}");
    assert_eq!(
        gate_details(&sink).get("escalated_approvers"),
        Some(&Value::from(3_i64))
    );
    // The preview (used by `attesta risk score`) agrees.
    let (_, previewed, _) = engine.preview(&ctx);
    assert_eq!(previewed, ChallengeType::MultiParty);
}

/// Near-misses of gated names, through a real policy file: a look-alike of
/// a critical action is CRITICAL, a look-alike of a shorthand rule's action
/// needs the rule's approvers, a look-alike of a safe action is not capped.
#[tokio::test]
async fn near_misses_of_gated_names_are_gated_at_least_as_high() {
    let yaml = "\
domains:
  - devops
  - healthcare:
      escalation_rules:
        phi_access: 3
";
    let (engine, _channel, _sink, _dir) = engine(yaml);
    for name in [
        "TERRAFORM_DESTROY",
        "terraform_destroy\u{200b}",
        "terraform_d\u{435}stroy",
    ] {
        let ctx = ActionContext::new(name).with_environment("development");
        let decision = engine.evaluate(&ctx).await;
        assert_eq!(decision.risk.level, RiskLevel::Critical, "{name:?}");
        assert!(!decision.is_approved(), "{name:?}");
    }
    for name in ["PHI_ACCESS", "phi_\u{430}ccess", "phi_access\u{2060}"] {
        let ctx = ActionContext::new(name).with_environment("staging");
        let preview = engine.preview_decision(&ctx);
        assert_eq!(preview.challenge, ChallengeType::MultiParty, "{name:?}");
        assert_eq!(preview.required_approvers, 3, "{name:?}");
    }
    // Merged profiles keep only the safe actions all members share, so the
    // safe cap is tried on devops alone.
    let (engine, _channel, _sink, _dir) = self::engine("domain: devops\n");
    let safe = |name: &str| {
        let ctx = ActionContext::new(name).with_environment("staging");
        let (risk, _, _) = engine.preview(&ctx);
        risk.factors
            .iter()
            .any(|f| f.name.starts_with("safe_action"))
    };
    assert!(safe("kubectl_get"));
    assert!(!safe("kubectl_g\u{435}t"), "a look-alike is not safe");
    assert!(!safe("kubectl_get\u{200b}"), "a look-alike is not safe");
}

#[tokio::test]
async fn a_safe_action_name_does_not_hide_a_dangerous_argument() {
    let (engine, _channel, _sink, _dir) = engine("domain: [devops, data-pipeline]\n");
    let ctx = ActionContext::new("preview_data")
        .with_arg("rm -rf /")
        .with_environment("staging");
    let (risk, _, _) = engine.preview(&ctx);
    assert_eq!(risk.level, RiskLevel::Critical, "{risk:?}");
}

/// A user profile file with one rule per escalation action, named from the
/// policy: each action's effect on a real decision.
#[tokio::test]
async fn every_escalation_action_of_a_user_profile_changes_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("payments.yaml"),
        "\
name: payments
display_name: Payments
description: Money movement.
escalation_rules:
  - condition: action:explain_*
    action: require_teach_back
  - condition: action:confirm_*
    action: require_confirmation
  - condition: action:audit_*
    action: notify_compliance
    notify_roles: [finance_lead]
  - condition: action:wire_*
    action: require_multi_party
    required_approvers: 4
  - condition: action:close_*
    action: block
    notify_roles: [cfo]
",
    )
    .unwrap();
    let path = dir.path().join("attesta.yaml");
    std::fs::write(&path, "domain: payments.yaml\n").unwrap();
    let run = |name: &'static str| {
        let path = path.clone();
        async move {
            let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::error(
                ChannelError::Failed("stop".into()),
            )]));
            let sink = Arc::new(MemoryAuditSink::new());
            let engine = Attesta::config_builder(&path)
                .unwrap()
                .channel(channel.clone())
                .audit(sink.clone())
                .environment("ci")
                .build()
                .unwrap();
            let decision = engine.evaluate(&ActionContext::new(name)).await;
            (decision, channel.prompts(), gate_details(&sink))
        }
    };
    let (decision, prompts, _) = run("explain_fees").await;
    assert_eq!(decision.challenge, ChallengeType::TeachBack);
    assert_eq!(prompts[0].challenge_type, ChallengeType::TeachBack);

    let (decision, prompts, _) = run("confirm_payee").await;
    assert_eq!(decision.challenge, ChallengeType::Confirm);
    assert_eq!(prompts[0].challenge_type, ChallengeType::Confirm);

    let (decision, prompts, gate) = run("audit_ledger").await;
    assert!(decision.is_approved(), "notify changes nothing else");
    assert!(prompts.is_empty());
    assert_eq!(
        gate.get("notify_roles"),
        Some(&Value::List(vec![Value::from("finance_lead")]))
    );

    let (decision, prompts, _) = run("wire_funds").await;
    assert_eq!(decision.challenge, ChallengeType::MultiParty);
    assert_eq!(prompts[0].approver.as_ref().unwrap().of, 4);

    let (decision, prompts, gate) = run("close_account").await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(prompts.is_empty());
    assert!(decision.reason.contains("cfo"), "{}", decision.reason);
    assert!(gate.contains_key("blocked_by"));
}

/// A profile's `min_review_overrides` (unused by the reference) lengthen the
/// review a human owes; they never shorten the policy's.
#[tokio::test]
async fn a_profile_min_review_override_lengthens_the_review() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow.yaml"),
        "\
name: slow
display_name: Slow
description: Read twice.
min_review_overrides: {low: 30}
escalation_rules:
  - condition: action:approve_*
    action: require_confirmation
",
    )
    .unwrap();
    let path = dir.path().join("attesta.yaml");
    std::fs::write(&path, "domain: slow.yaml\n").unwrap();
    let channel = Arc::new(ScriptedChannel::new([
        ScriptedAnswer::answers(["yes"]).reviewed_for(std::time::Duration::from_secs(10))
    ]));
    let engine = Attesta::config_builder(&path)
        .unwrap()
        .channel(channel.clone())
        .environment("ci")
        .build()
        .unwrap();
    let decision = engine
        .evaluate(&ActionContext::new("approve_invoice"))
        .await;
    assert_eq!(decision.challenge, ChallengeType::Confirm);
    assert_eq!(
        channel.prompts()[0].min_review,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(decision.min_review_seconds, 30.0);
    assert!(
        !decision.min_review_met,
        "10 s is less than the profile's 30 s"
    );
}
