//! The gate with the real trust engine and its store on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::sync::Arc;

use attesta::channel::{ScriptedAnswer, ScriptedChannel};
use attesta::risk::FixedRiskScorer;
use attesta::{
    ActionContext, Attesta, Policy, RiskLevel, TrustEngine, TrustOutcome, TrustSettings,
};

fn policy_with_store(dir: &std::path::Path) -> Policy {
    Policy {
        trust: Some(TrustSettings {
            store_path: Some(dir.join("trust.json")),
            ..TrustSettings::default()
        }),
        ..Policy::default()
    }
}

#[tokio::test]
async fn human_approvals_are_learned_persisted_and_revocation_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_with_store(dir.path());
    let channel = Arc::new(ScriptedChannel::new([
        ScriptedAnswer::answers(["yes"]).by("alice")
    ]));
    let attesta = Attesta::builder()
        .policy(policy.clone())
        .scorer(Arc::new(FixedRiskScorer::new(0.5).unwrap()))
        .channel(channel)
        .environment("ci")
        .build()
        .unwrap();
    let ctx = ActionContext::new("update_config").with_agent("bot");

    // A new agent: trust 0.3 → risk × 1.06.
    let first = attesta.evaluate(&ctx).await;
    assert!(first.is_approved(), "{}", first.reason);
    assert_eq!(first.risk.score, 0.53);

    // The success is on disk, so another process sees it.
    let settings = policy.trust.clone().unwrap();
    let observer = TrustEngine::open(
        settings.clone(),
        Arc::new(attesta::clock::SystemClock::new()),
    )
    .unwrap();
    let profile = observer.profile("bot").expect("profile persisted");
    assert_eq!(profile.history.len(), 1);
    assert_eq!(profile.history[0].outcome, TrustOutcome::Success);

    // One human-approved success → ceiling trust 0.9 → risk × 0.88.
    let (risk, _, _) = attesta.preview(&ctx);
    assert!((risk.score - 0.44).abs() < 1e-12, "{}", risk.score);

    // An operator revokes the agent from another process: trust 0 → × 1.15.
    observer.revoke("bot").unwrap();
    let (risk, _, _) = attesta.preview(&ctx);
    assert!((risk.score - 0.575).abs() < 1e-12, "{}", risk.score);
    assert_eq!(risk.level, RiskLevel::Medium);
}
