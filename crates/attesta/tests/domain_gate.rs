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

#[tokio::test]
async fn a_safe_action_name_does_not_hide_a_dangerous_argument() {
    let (engine, _channel, _sink, _dir) = engine("domain: [devops, data-pipeline]\n");
    let ctx = ActionContext::new("preview_data")
        .with_arg("rm -rf /")
        .with_environment("staging");
    let (risk, _, _) = engine.preview(&ctx);
    assert_eq!(risk.level, RiskLevel::Critical, "{risk:?}");
}
