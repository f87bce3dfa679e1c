//! The gate's invariants, each proven against the public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use attesta::audit::{AuditError, AuditRecord, AuditSink, MemoryAuditSink};
use attesta::challenge::Unanswered;
use attesta::channel::{ChannelError, ScriptedAnswer, ScriptedChannel};
use attesta::events::{EventBus, EventType};
use attesta::policy::{FailMode, GateMode, RubberStampMode};
use attesta::risk::FixedRiskScorer;
use attesta::trust::{TrustModel, TrustRecordError};
use attesta::{
    ActionContext, Attesta, BuildError, Challenge, ChallengeResult, ChallengeType, GateError,
    Policy, RiskAssessment, RiskLevel, Value, Verdict,
};
use proptest::prelude::*;

fn fixed(score: f64) -> Arc<FixedRiskScorer> {
    Arc::new(FixedRiskScorer::new(score).expect("score in range"))
}

/// An engine with this policy and a fixed score, no channel.
fn with_policy(policy: Policy, score: f64) -> Attesta {
    Attesta::builder()
        .policy(policy)
        .scorer(fixed(score))
        .build()
        .expect("valid")
}

/// An engine with a fixed score asking through `channel`, default policy.
fn with_channel(score: f64, channel: Arc<ScriptedChannel>) -> Attesta {
    Attesta::builder()
        .scorer(fixed(score))
        .channel(channel)
        .build()
        .expect("valid")
}

fn yes_by(who: &str) -> ScriptedAnswer {
    ScriptedAnswer::answers(["yes"]).by(who)
}

/// A trust model that always returns the same adjusted score and counts
/// what it is told.
#[derive(Debug, Default)]
struct FakeTrust {
    adjusted: f64,
    successes: AtomicUsize,
    denials: AtomicUsize,
    calls: AtomicUsize,
}

impl FakeTrust {
    fn returning(adjusted: f64) -> Arc<Self> {
        Arc::new(Self {
            adjusted,
            ..Self::default()
        })
    }
}

impl TrustModel for FakeTrust {
    fn effective_risk(&self, _raw: f64, _agent: &str, _domain: Option<&str>) -> f64 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.adjusted
    }
    fn record_success(&self, _: &str, _: &str, _: &str, _: f64) -> Result<(), TrustRecordError> {
        self.successes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn record_denial(&self, _: &str, _: &str, _: &str, _: f64) -> Result<(), TrustRecordError> {
        self.denials.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A challenge that reports what it is told to.
#[derive(Debug)]
struct Canned(ChallengeResult);

#[async_trait]
impl Challenge for Canned {
    fn challenge_type(&self) -> ChallengeType {
        self.0.challenge_type
    }
    async fn present(&self, _ctx: &ActionContext, _risk: &RiskAssessment) -> ChallengeResult {
        self.0.clone()
    }
}

#[derive(Debug)]
struct BrokenSink;

#[async_trait]
impl AuditSink for BrokenSink {
    async fn append(&self, _record: AuditRecord) -> Result<String, AuditError> {
        Err(AuditError::Write("disk full".into()))
    }
}

// ---------------------------------------------------------------- CRITICAL

#[tokio::test]
async fn trust_never_lowers_critical() {
    let trust = FakeTrust::returning(0.0);
    let attesta = Attesta::builder()
        .scorer(fixed(0.85))
        .trust(trust.clone())
        .environment("ci")
        .build()
        .expect("valid");
    let decision = attesta
        .evaluate(&ActionContext::new("drop_db").with_agent("bot"))
        .await;
    assert_eq!(decision.risk.level, RiskLevel::Critical);
    assert_eq!(decision.risk.score, 0.85);
    assert!(
        !decision.is_approved(),
        "no channel: CRITICAL must be denied"
    );
}

#[tokio::test]
async fn trust_may_raise_high_to_critical() {
    let attesta = Attesta::builder()
        .scorer(fixed(0.77))
        .trust(FakeTrust::returning(0.8162))
        .environment("ci")
        .build()
        .expect("valid");
    let decision = attesta
        .evaluate(&ActionContext::new("x").with_agent("bot"))
        .await;
    assert_eq!(decision.risk.level, RiskLevel::Critical);
    assert!(
        decision
            .risk
            .factors
            .iter()
            .any(|f| f.name == "trust_adjustment")
    );
}

#[tokio::test]
async fn environment_multiplier_never_lowers_critical() {
    let attesta = Attesta::builder()
        .scorer(fixed(0.8))
        .build()
        .expect("valid");
    let ctx = ActionContext::new("deploy_production").with_environment("development");
    let decision = attesta.evaluate(&ctx).await;
    assert_eq!(decision.risk.level, RiskLevel::Critical);
    assert_eq!(decision.risk.score, 0.8);
    // A HIGH action is still scaled down in development.
    let attesta = Attesta::builder()
        .scorer(fixed(0.77))
        .build()
        .expect("valid");
    let decision = attesta.evaluate(&ctx).await;
    assert_eq!(decision.risk.score, 0.6160000000000001);
    assert_eq!(decision.risk.level, RiskLevel::High);
}

#[test]
fn challenge_map_sending_critical_to_auto_approve_is_a_config_error() {
    let mut policy = Policy::default();
    policy
        .challenge_map
        .insert(RiskLevel::Critical, ChallengeType::AutoApprove);
    let err = Attesta::builder()
        .policy(policy.clone())
        .build()
        .expect_err("must refuse");
    assert!(matches!(err, BuildError::InvalidPolicy(_)), "{err}");
    assert!(err.to_string().contains("allow_critical_auto_approve"));
    policy.allow_critical_auto_approve = true;
    assert!(Attesta::builder().policy(policy).build().is_ok());
}

#[tokio::test]
async fn shadow_and_audit_only_modes_still_enforce_critical() {
    for mode in [GateMode::Shadow, GateMode::AuditOnly] {
        let policy = Policy {
            mode,
            ..Policy::default()
        };
        let attesta = Attesta::builder()
            .policy(policy)
            .scorer(fixed(0.9))
            .environment("ci")
            .build()
            .expect("valid");
        let decision = attesta.evaluate(&ActionContext::new("drop")).await;
        assert_eq!(decision.mode, GateMode::Enforce, "{mode:?}");
        assert!(
            !decision.is_approved(),
            "{mode:?} must not let CRITICAL through"
        );
    }
}

/// A refusal set by the integration denies in every mode, asks nobody, and
/// the audit record says why.
#[tokio::test]
async fn a_trusted_refusal_denies_in_every_mode_without_asking() {
    for mode in [GateMode::Enforce, GateMode::Shadow, GateMode::AuditOnly] {
        let sink = Arc::new(MemoryAuditSink::new());
        let channel = Arc::new(ScriptedChannel::new([yes_by("alice")]));
        let attesta = Attesta::builder()
            .policy(Policy {
                mode,
                ..Policy::default()
            })
            .scorer(fixed(0.1))
            .channel(channel.clone())
            .audit(sink.clone())
            .build()
            .expect("valid");
        let ctx = ActionContext::new("read").with_trusted_refusal("the server never listed it");
        let decision = attesta.evaluate(&ctx).await;
        assert_eq!(decision.verdict, Verdict::Denied, "{mode:?}");
        assert_eq!(decision.mode, GateMode::Enforce, "{mode:?}");
        assert_eq!(decision.reason, "the server never listed it");
        assert!(decision.challenge_result.is_none(), "nobody was asked");
        assert!(channel.prompts().is_empty(), "{mode:?}");
        let records = sink.records();
        assert_eq!(records[0].verdict, "denied");
        let Some(Value::Map(details)) = records[0].metadata.get("attesta_decision") else {
            panic!("no decision details: {:?}", records[0].metadata);
        };
        assert_eq!(
            details.get("reason"),
            Some(&Value::from("the server never listed it"))
        );
    }
}

proptest! {
    /// Whatever trust says and whatever the environment, a CRITICAL score
    /// stays CRITICAL and is never approved without a human.
    #[test]
    fn critical_survives_any_trust_and_environment(
        score in 0.8f64..=1.0,
        adjusted in prop_oneof![Just(f64::NAN), -1.0f64..2.0],
        env in prop_oneof![
            Just("production"), Just("staging"), Just("ci"),
            Just("development"), Just("Development"), Just("other"),
        ],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let attesta = Attesta::builder()
            .scorer(fixed(score))
            .trust(FakeTrust::returning(adjusted))
            .build()
            .unwrap();
        let ctx = ActionContext::new("act").with_agent("bot").with_environment(env);
        let decision = runtime.block_on(attesta.evaluate(&ctx));
        prop_assert_eq!(decision.risk.level, RiskLevel::Critical);
        prop_assert!(!decision.is_approved());
    }
}

// --------------------------------------------------------------- overrides

#[tokio::test]
async fn explicit_overrides_are_not_scaled_by_environment_or_trust() {
    let trust = FakeTrust::returning(0.0);
    let attesta = Attesta::builder()
        .trust(trust.clone())
        .build()
        .expect("valid");
    let ctx = ActionContext::new("get_users")
        .with_environment("development")
        .with_agent("bot")
        .with_trusted_risk_override(RiskLevel::Critical);
    let decision = attesta.evaluate(&ctx).await;
    assert_eq!(
        (decision.risk.score, decision.risk.level),
        (0.9, RiskLevel::Critical)
    );
    assert_eq!(
        trust.calls.load(Ordering::SeqCst),
        0,
        "trust must not touch an override"
    );

    let mut policy = Policy::default();
    policy
        .risk_overrides
        .insert("restart".into(), RiskLevel::Medium);
    let attesta = Attesta::builder().policy(policy).build().expect("valid");
    for env in ["development", "production"] {
        let ctx = ActionContext::new("Service.restart").with_environment(env);
        let decision = attesta.evaluate(&ctx).await;
        assert_eq!(
            (decision.risk.score, decision.risk.level),
            (0.45, RiskLevel::Medium),
            "{env}"
        );
    }
}

#[tokio::test]
async fn code_and_config_overrides_combine_to_the_higher_level() {
    let mut policy = Policy::default();
    policy
        .risk_overrides
        .insert("deploy".into(), RiskLevel::High);
    let attesta = Attesta::builder()
        .policy(policy)
        .environment("ci")
        .build()
        .expect("valid");
    let ctx = ActionContext::new("deploy").with_trusted_risk_override(RiskLevel::Low);
    assert_eq!(attesta.evaluate(&ctx).await.risk.level, RiskLevel::High);
}

/// A policy with these `risk.overrides` entries.
fn overriding(entries: &[(&str, RiskLevel)]) -> Policy {
    let mut policy = Policy::default();
    for (name, level) in entries {
        policy.risk_overrides.insert((*name).to_owned(), *level);
    }
    policy
}

/// An engine with these overrides and a fixed score, in `ci` (multiplier 1),
/// no channel.
fn overridden(entries: &[(&str, RiskLevel)], score: f64) -> Attesta {
    Attesta::builder()
        .policy(overriding(entries))
        .scorer(fixed(score))
        .environment("ci")
        .build()
        .expect("valid")
}

/// Near-misses of `danger` the security review found: case, trailing
/// spacing, a no-break space, a NUL, a zero-width space, fullwidth and a
/// Cyrillic а.
const DANGER_NEAR_MISSES: [&str; 7] = [
    "DANGER",
    "danger ",
    "danger\u{a0}",
    "danger\u{0}",
    "dan\u{200b}ger",
    "\u{ff44}anger",
    "d\u{430}nger",
];

#[tokio::test]
async fn a_near_miss_of_an_override_is_gated_at_least_as_high() {
    let attesta = overridden(&[("danger", RiskLevel::Critical)], 0.1);
    for name in DANGER_NEAR_MISSES {
        let decision = attesta.evaluate(&ActionContext::new(name)).await;
        assert_eq!(decision.risk.level, RiskLevel::Critical, "{name:?}");
        assert!(!decision.is_approved(), "{name:?}");
        let floor = decision
            .risk
            .factors
            .iter()
            .find(|f| f.name == "override_floor")
            .expect("the raise is explained");
        assert_eq!(
            floor.description,
            "Risk level raised to critical by risk.overrides entry `danger`: this name differs \
             from it only in case, spacing or look-alike characters"
        );
    }
    // Not near-misses: other names are scored as usual.
    for name in ["dangerous", "danger_zone", "anger"] {
        let decision = attesta.evaluate(&ActionContext::new(name)).await;
        assert_eq!(decision.risk.level, RiskLevel::Low, "{name:?}");
    }
}

#[tokio::test]
async fn a_near_miss_never_lowers_risk() {
    let attesta = overridden(&[("read_note", RiskLevel::Low)], 0.7);
    let exact = attesta.evaluate(&ActionContext::new("read_note")).await;
    assert_eq!(
        (exact.risk.score, exact.risk.level),
        (0.15, RiskLevel::Low),
        "the exact name is still pinned"
    );
    for name in ["READ_NOTE", "read_note ", "r\u{435}ad_note"] {
        let decision = attesta.evaluate(&ActionContext::new(name)).await;
        assert_eq!(
            (decision.risk.score, decision.risk.level),
            (0.7, RiskLevel::High),
            "{name:?} keeps its computed level"
        );
        assert!(
            decision
                .risk
                .factors
                .iter()
                .any(|f| f.name == "override_resemblance" && f.description.contains("`read_note`")),
            "{name:?}: the resemblance is recorded"
        );
    }
}

#[tokio::test]
async fn the_tail_rule_holds_for_exact_names_and_near_misses() {
    let attesta = overridden(&[("deploy", RiskLevel::Critical)], 0.1);
    let exact = attesta
        .evaluate(&ActionContext::new("Service.deploy"))
        .await;
    assert_eq!(
        (exact.risk.score, exact.risk.level),
        (0.9, RiskLevel::Critical)
    );
    assert_eq!(exact.risk.factors[0].name, "manual_override");
    for name in [
        "Service.DEPLOY",
        "Service.d\u{435}ploy",
        "Service\u{ff0e}deploy",
    ] {
        let decision = attesta.evaluate(&ActionContext::new(name)).await;
        assert_eq!(decision.risk.level, RiskLevel::Critical, "{name:?}");
    }

    let attesta = overridden(&[("read_note", RiskLevel::Low)], 0.7);
    let decision = attesta
        .evaluate(&ActionContext::new("Notes.read_note"))
        .await;
    assert_eq!(
        decision.risk.level,
        RiskLevel::Low,
        "an exact tail still pins low"
    );
    let decision = attesta
        .evaluate(&ActionContext::new("Notes.READ_NOTE"))
        .await;
    assert_eq!(
        decision.risk.level,
        RiskLevel::High,
        "a near-miss tail does not"
    );
}

#[tokio::test]
async fn a_floor_survives_the_environment_and_trust() {
    // development × 0.8 takes 0.65 (HIGH) to 0.52 (MEDIUM); the floor puts
    // it back, and then counts as explicit: trust is not asked.
    let trust = FakeTrust::returning(0.0);
    let attesta = Attesta::builder()
        .policy(overriding(&[("wipe", RiskLevel::High)]))
        .scorer(fixed(0.65))
        .trust(trust.clone())
        .build()
        .expect("valid");
    let ctx = ActionContext::new("WIPE")
        .with_environment("development")
        .with_agent("bot");
    let decision = attesta.evaluate(&ctx).await;
    assert_eq!(
        (decision.risk.score, decision.risk.level),
        (0.7, RiskLevel::High)
    );
    assert_eq!(
        trust.calls.load(Ordering::SeqCst),
        0,
        "a raised level is explicit"
    );

    // A floor below the computed level leaves it to trust, which may lower
    // it to the floor but not past it.
    let trust = FakeTrust::returning(0.0);
    let attesta = Attesta::builder()
        .policy(overriding(&[("wipe", RiskLevel::Medium)]))
        .scorer(fixed(0.7))
        .trust(trust.clone())
        .environment("ci")
        .build()
        .expect("valid");
    let ctx = ActionContext::new("WIPE").with_agent("bot");
    let decision = attesta.evaluate(&ctx).await;
    assert_eq!(trust.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        (decision.risk.score, decision.risk.level),
        (0.45, RiskLevel::Medium)
    );
    let exact = attesta
        .evaluate(&ActionContext::new("wipe").with_agent("bot"))
        .await;
    assert_eq!(exact.risk.level, RiskLevel::Medium);
}

#[tokio::test]
async fn code_cannot_pin_a_near_miss_below_the_entry_it_resembles() {
    let attesta = overridden(&[("danger", RiskLevel::Critical)], 0.1);
    let ctx = ActionContext::new("DANGER").with_trusted_risk_override(RiskLevel::Low);
    assert_eq!(attesta.evaluate(&ctx).await.risk.level, RiskLevel::Critical);
    // Code may still raise above a resembling entry.
    let attesta = overridden(&[("danger", RiskLevel::Medium)], 0.1);
    let ctx = ActionContext::new("DANGER").with_trusted_risk_override(RiskLevel::High);
    assert_eq!(attesta.evaluate(&ctx).await.risk.level, RiskLevel::High);
}

proptest! {
    /// Whatever the score, the environment and trust, a near-miss of an
    /// entry ends at least at the entry's level.
    #[test]
    fn a_near_miss_is_never_below_its_entry(
        score in 0.0f64..=1.0,
        level in prop::sample::select(RiskLevel::ALL.to_vec()),
        name in prop::sample::select(DANGER_NEAR_MISSES.to_vec()),
        adjusted in 0.0f64..=1.0,
        env in prop_oneof![Just("production"), Just("ci"), Just("development")],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let attesta = Attesta::builder()
            .policy(overriding(&[("danger", level)]))
            .scorer(fixed(score))
            .trust(FakeTrust::returning(adjusted))
            .build()
            .unwrap();
        let ctx = ActionContext::new(name).with_agent("bot").with_environment(env);
        let decision = runtime.block_on(attesta.evaluate(&ctx));
        prop_assert!(decision.risk.level >= level, "{:?} at {}", name, decision.risk.level);
    }
}

#[tokio::test]
async fn hint_override_is_opt_in_and_raise_only() {
    let ctx = ActionContext::new("get_users").with_hint("risk_override", "critical");
    let off = Attesta::builder().environment("ci").build().expect("valid");
    let decision = off.evaluate(&ctx).await;
    assert_eq!(decision.risk.level, RiskLevel::Low);
    assert!(
        decision
            .warnings
            .iter()
            .any(|w| w.contains("allow_hint_override"))
    );

    let policy = Policy {
        allow_hint_override: true,
        ..Policy::default()
    };
    let on = Attesta::builder()
        .policy(policy)
        .environment("development")
        .build()
        .expect("valid");
    let decision = on.evaluate(&ctx).await;
    assert_eq!(
        (decision.risk.score, decision.risk.level),
        (0.9, RiskLevel::Critical)
    );

    let lower = ActionContext::new("drop_table")
        .with_arg("production")
        .with_hint("risk_override", "low");
    assert!(
        on.evaluate(&lower).await.risk.level > RiskLevel::Low,
        "hints may not lower risk"
    );
}

// ------------------------------------------------------------- fail closed

fn medium() -> ActionContext {
    ActionContext::new("update_config").with_environment("ci")
}

#[tokio::test]
async fn no_channel_denies() {
    let attesta = Attesta::builder()
        .scorer(fixed(0.45))
        .build()
        .expect("valid");
    let decision = attesta.evaluate(&medium()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        decision.reason.contains("no approval channel"),
        "{}",
        decision.reason
    );
    assert_eq!(
        decision
            .challenge_result
            .as_ref()
            .and_then(|r| r.unanswered),
        Some(Unanswered::NoChannel)
    );
}

#[tokio::test]
async fn channel_error_denies() {
    let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::error(
        ChannelError::Failed("tty closed".into()),
    )]));
    let attesta = with_channel(0.45, channel);
    let decision = attesta.evaluate(&medium()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(decision.reason.contains("tty closed"));
}

#[tokio::test(start_paused = true)]
async fn timeout_denies_as_timed_out() {
    let channel = Arc::new(ScriptedChannel::new([
        yes_by("alice").after(Duration::from_secs(301))
    ]));
    let attesta = with_channel(0.45, channel);
    let decision = attesta.evaluate(&medium()).await;
    assert_eq!(decision.verdict, Verdict::TimedOut);
    assert_eq!(decision.metadata.get("timed_out"), Some(&Value::Bool(true)));
    assert!(!decision.min_review_met, "nobody reviewed anything");
}

#[tokio::test(start_paused = true)]
async fn answer_within_timeout_is_not_a_timeout() {
    let channel = Arc::new(ScriptedChannel::new([
        yes_by("alice").after(Duration::from_secs(299))
    ]));
    let attesta = with_channel(0.45, channel);
    assert_eq!(attesta.evaluate(&medium()).await.verdict, Verdict::Approved);
}

#[tokio::test]
async fn fail_mode_allow_is_opt_in_recorded_and_never_for_critical() {
    let policy = Policy {
        fail_mode: FailMode::Allow,
        ..Policy::default()
    };
    let sink = Arc::new(MemoryAuditSink::new());
    let attesta = Attesta::builder()
        .policy(policy.clone())
        .scorer(fixed(0.45))
        .audit(sink.clone())
        .build()
        .expect("valid");
    let decision = attesta.evaluate(&medium()).await;
    assert_eq!(decision.verdict, Verdict::Approved);
    assert!(decision.fail_open);
    assert_eq!(decision.metadata.get("fail_open"), Some(&Value::Bool(true)));
    assert!(decision.reason.contains("fail_mode is allow"));
    assert_eq!(sink.records()[0].verdict, "approved");
    assert!(!sink.records()[0].min_review_met);

    let critical = Attesta::builder()
        .policy(policy)
        .scorer(fixed(0.95))
        .build()
        .expect("valid");
    let decision = critical.evaluate(&medium()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(!decision.fail_open);
}

#[tokio::test]
async fn fail_mode_allow_never_covers_a_cancelled_or_failed_approval() {
    let policy = Policy {
        fail_mode: FailMode::Allow,
        ..Policy::default()
    };
    for error in [
        ChannelError::Cancelled,
        ChannelError::Failed("3 wrong one-time codes".into()),
    ] {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::error(error.clone())]));
        let attesta = Attesta::builder()
            .policy(policy.clone())
            .scorer(fixed(0.45))
            .channel(channel)
            .build()
            .expect("valid");
        let decision = attesta.evaluate(&medium()).await;
        assert_eq!(decision.verdict, Verdict::Denied, "{error:?}");
        assert!(!decision.fail_open);
    }
}

#[tokio::test]
async fn fail_mode_escalate() {
    let policy = Policy {
        fail_mode: FailMode::Escalate,
        ..Policy::default()
    };
    let attesta = with_policy(policy, 0.45);
    let ran = AtomicUsize::new(0);
    let err = attesta
        .gate(&medium(), || ran.fetch_add(1, Ordering::SeqCst))
        .await
        .expect_err("escalated is not approved");
    assert_eq!(err.decision.verdict, Verdict::Escalated);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_quiz_cannot_be_passed_by_saying_yes() {
    let channel = Arc::new(ScriptedChannel::new([yes_by("alice")]));
    let attesta = with_channel(0.7, channel);
    let decision = attesta.evaluate(&medium()).await;
    assert_eq!(decision.challenge, ChallengeType::Quiz);
    assert!(!decision.is_approved());
}

// ------------------------------------------------------------------- audit

#[tokio::test]
async fn audit_record_is_written_before_the_action_runs() {
    let sink = Arc::new(MemoryAuditSink::new());
    let attesta = Attesta::builder()
        .audit(sink.clone())
        .environment("ci")
        .build()
        .expect("valid");
    let ctx = ActionContext::new("get_users")
        .with_agent("bot")
        .with_session("s1");
    let seen_inside = attesta.gate(&ctx, || sink.len()).await.expect("approved");
    assert_eq!(
        seen_inside, 1,
        "the record must exist when the action starts"
    );
    let record = &sink.records()[0];
    assert_eq!(record.action_description, "get_users()");
    assert_eq!(
        (record.agent_id.as_str(), record.session_id.as_str()),
        ("bot", "s1")
    );
    assert_eq!(record.verdict, "approved");
    assert_eq!(record.executed_at, "");
    assert_eq!(record.challenge_type, "");
    assert_eq!(record.challenge_passed, None);
    assert!(
        record.metadata.is_empty(),
        "an agent cannot plant decision details: {:?}",
        record.metadata
    );
}

#[tokio::test]
async fn audit_failure_denies_and_the_action_does_not_run() {
    let attesta = Attesta::builder()
        .audit(Arc::new(BrokenSink))
        .environment("ci")
        .build()
        .expect("valid");
    let ran = AtomicUsize::new(0);
    let err = attesta
        .gate(&ActionContext::new("get_users"), || {
            ran.fetch_add(1, Ordering::SeqCst)
        })
        .await
        .expect_err("no audit, no action");
    assert_eq!(err.decision.verdict, Verdict::Denied);
    assert!(err.decision.reason.contains("disk full"));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn approved_challenge_is_recorded_truthfully() {
    let sink = Arc::new(MemoryAuditSink::new());
    let channel = Arc::new(ScriptedChannel::new([
        yes_by("alice").reviewed_for(Duration::from_secs(7))
    ]));
    let attesta = Attesta::builder()
        .scorer(fixed(0.45))
        .channel(channel)
        .audit(sink.clone())
        .build()
        .expect("valid");
    let decision = attesta.evaluate(&medium()).await;
    assert!(decision.is_approved());
    let record = &sink.records()[0];
    assert_eq!(record.approver_ids, ["alice"]);
    assert_eq!(record.challenge_type, "confirm");
    assert_eq!(record.challenge_passed, Some(true));
    assert_eq!(record.review_duration_seconds, 7.0);
    assert!(record.min_review_met);
    assert_eq!(
        decision.audit_entry_id.as_deref(),
        Some(record.entry_id.as_str())
    );
    assert_eq!(record.entry_id.len(), 32);
}

// -------------------------------------------------------------- min review

#[tokio::test]
async fn min_review_never_applies_to_auto_approved_calls() {
    let attesta = Attesta::builder().environment("ci").build().expect("valid");
    let decision = attesta.evaluate(&ActionContext::new("get_users")).await;
    assert!(decision.is_approved());
    assert_eq!(decision.min_review_seconds, 0.0);
    assert!(decision.min_review_met);
    assert_eq!(decision.review_time_seconds, 0.0);
}

#[tokio::test]
async fn fast_answers_are_flagged_or_rejected() {
    let fast = || {
        Arc::new(ScriptedChannel::new([
            yes_by("alice").reviewed_for(Duration::from_millis(500))
        ]))
    };
    let flag = Attesta::builder()
        .scorer(fixed(0.45))
        .channel(fast())
        .build()
        .expect("valid");
    let decision = flag.evaluate(&medium()).await;
    assert!(decision.is_approved());
    assert!(!decision.min_review_met);
    assert_eq!(decision.min_review_seconds, 3.0);
    assert!(decision.reason.contains("flagged"));

    let policy = Policy {
        rubber_stamp: RubberStampMode::Reject,
        ..Policy::default()
    };
    let reject = Attesta::builder()
        .policy(policy)
        .scorer(fixed(0.45))
        .channel(fast())
        .build()
        .expect("valid");
    let decision = reject.evaluate(&medium()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(decision.reason.contains("minimum review time"));
}

// ------------------------------------------------------------ multi-party

fn multi_party(ids: &[&str]) -> Arc<Canned> {
    let mut result = ChallengeResult::new(ChallengeType::MultiParty, true);
    result.response_time_seconds = 120.0;
    result.details.insert(
        "approver_ids".into(),
        Value::List(ids.iter().map(|s| Value::from(*s)).collect()),
    );
    Arc::new(Canned(result))
}

#[tokio::test]
async fn multi_party_needs_distinct_approvers_other_than_the_agent() {
    let run = |ids: &'static [&'static str]| async move {
        let attesta = Attesta::builder()
            .scorer(fixed(0.9))
            .challenge_for_type(ChallengeType::MultiParty, multi_party(ids))
            .environment("ci")
            .build()
            .expect("valid");
        attesta
            .evaluate(&ActionContext::new("drop").with_agent("bot"))
            .await
    };
    let ok = run(&["alice", "bob"]).await;
    assert!(ok.is_approved(), "{}", ok.reason);
    assert_eq!(ok.approvers, ["alice", "bob"]);

    let dup = run(&["alice", "alice"]).await;
    assert!(!dup.is_approved());
    assert!(dup.reason.contains("more than once"));

    let one = run(&["alice"]).await;
    assert!(!one.is_approved());
    assert!(one.reason.contains("2 distinct approvers"));

    let agent = run(&["alice", "bot"]).await;
    assert!(!agent.is_approved());
    assert!(agent.reason.contains("cannot approve its own action"));
}

// -------------------------------------------------------------- modes etc.

#[tokio::test]
async fn shadow_mode_runs_the_challenge_but_not_its_verdict() {
    let channel = Arc::new(ScriptedChannel::new([
        ScriptedAnswer::answers(["no"]).by("alice")
    ]));
    let policy = Policy {
        mode: GateMode::Shadow,
        ..Policy::default()
    };
    let attesta = Attesta::builder()
        .policy(policy)
        .scorer(fixed(0.45))
        .channel(channel)
        .build()
        .expect("valid");
    let decision = attesta.evaluate(&medium()).await;
    assert!(decision.is_approved());
    assert_eq!(
        decision.metadata.get("shadow_verdict"),
        Some(&Value::from("denied"))
    );
    assert_eq!(decision.challenge_result.map(|r| r.passed), Some(false));
}

#[tokio::test]
async fn audit_only_records_the_skipped_challenge() {
    let policy = Policy {
        mode: GateMode::AuditOnly,
        ..Policy::default()
    };
    let attesta = with_policy(policy, 0.45);
    let decision = attesta.evaluate(&medium()).await;
    assert!(decision.is_approved());
    assert_eq!(
        decision.metadata.get("skipped_challenge"),
        Some(&Value::from("confirm"))
    );
    assert!(decision.challenge_result.is_none());
}

#[tokio::test]
async fn events_arrive_in_pipeline_order() {
    let bus = Arc::new(EventBus::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    bus.subscribe_all(move |e| sink.lock().unwrap().push((e.kind, e.data.clone())));
    let channel = Arc::new(ScriptedChannel::new([yes_by("alice")]));
    let attesta = Attesta::builder()
        .scorer(fixed(0.45))
        .channel(channel)
        .events(bus)
        .build()
        .expect("valid");
    attesta.evaluate(&medium()).await;
    let seen = seen.lock().unwrap();
    let kinds: Vec<EventType> = seen.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            EventType::RiskScored,
            EventType::ChallengeIssued,
            EventType::ChallengeCompleted,
            EventType::Approved,
            EventType::AuditLogged,
        ]
    );
    assert_eq!(seen[0].1.get("risk_level"), Some(&Value::from("medium")));
    assert_eq!(seen[2].1.get("passed"), Some(&Value::Bool(true)));
    assert_eq!(seen[3].1.get("verdict"), Some(&Value::from("approved")));
}

#[tokio::test]
async fn trust_learns_only_from_answered_challenges() {
    let trust = FakeTrust::returning(0.45);
    let channel = Arc::new(ScriptedChannel::new([
        yes_by("alice"),
        ScriptedAnswer::answers(["no"]),
    ]));
    let attesta = Attesta::builder()
        .scorer(fixed(0.45))
        .trust(trust.clone())
        .channel(channel)
        .build()
        .expect("valid");
    let ctx = medium().with_agent("bot");
    attesta.evaluate(&ctx).await; // approved by a human
    attesta.evaluate(&ctx).await; // denied by a human
    attesta.evaluate(&ctx).await; // nobody left to ask: proves nothing
    assert_eq!(trust.successes.load(Ordering::SeqCst), 1);
    assert_eq!(trust.denials.load(Ordering::SeqCst), 1);

    let low = Attesta::builder()
        .trust(trust.clone())
        .scorer(fixed(0.1))
        .build()
        .expect("valid");
    low.evaluate(&ActionContext::new("get").with_agent("bot"))
        .await;
    assert_eq!(
        trust.successes.load(Ordering::SeqCst),
        1,
        "auto-approval proves nothing"
    );
}

// -------------------------------------------------------------------- gate

#[tokio::test]
async fn gate_runs_sync_and_async_actions_only_on_approval() {
    let attesta = Attesta::builder().environment("ci").build().expect("valid");
    let value = attesta
        .gate(&ActionContext::new("get_users"), || 41 + 1)
        .await
        .expect("low risk");
    assert_eq!(value, 42);
    let value = attesta
        .gate_async(&ActionContext::new("get_users"), || async { "done" })
        .await
        .expect("low risk");
    assert_eq!(value, "done");
    let ran = AtomicUsize::new(0);
    let risky = ActionContext::new("delete_database").with_arg("production");
    let err = attesta
        .gate_async(&risky, || async { ran.fetch_add(1, Ordering::SeqCst) })
        .await
        .expect_err("needs a human");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(
        err.to_string().contains("delete_database('production')"),
        "{err}"
    );
}

#[test]
fn gate_blocking_works_outside_a_runtime_and_refuses_inside() {
    let attesta = Attesta::builder().environment("ci").build().expect("valid");
    let ctx = ActionContext::new("get_users");
    assert_eq!(attesta.gate_blocking(&ctx, || 7).expect("approved"), 7);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let inside = runtime.block_on(async { attesta.gate_blocking(&ctx, || 7) });
    assert!(matches!(inside, Err(GateError::InsideRuntime)));
}
