//! Merging domain profiles never weakens them: for any call and base score,
//! the merged profile scores at least as high as each member alone, and its
//! escalation rules demand at least as much (challenges.md §10 W9: in the
//! reference, adding a profile could turn CRITICAL into LOW).
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a test reports failure by panicking"
)]

use std::sync::Arc;

use attesta::domain::{DomainProfile, DomainRegistry, DomainRiskScorer, DomainVerdict, merge};
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, RiskAssessment, RiskScorer};
use proptest::prelude::*;

const PRESETS: &[&str] = &["devops", "data-pipeline", "healthcare", "infrastructure"];

/// Names that are critical or safe somewhere, match patterns, or nothing.
const NAMES: &[&str] = &[
    "terraform_destroy",
    "terraform_plan",
    "terraform_plan_and_apply",
    "preview_data",
    "get_status",
    "list_pods",
    "drop_table",
    "delete_backup",
    "dry_run_migration",
    "export_patient_records",
    "bulk_export_claims",
    "list_providers",
    "describe_instances",
    "deploy_to_prod",
    "attach_role_policy",
    "run_shell",
    "dump",
    "noop",
    "phi_access",
    "Db.drop_table",
];

/// Argument text that triggers (or nearly triggers) patterns and terms.
const FRAGMENTS: &[&str] = &[
    "rm -rf /",
    "DROP TABLE users",
    "sudo reboot",
    "pii",
    "email_address,ssn",
    "pg_dump prod_db",
    "iptables -A INPUT -j DROP",
    "patient record",
    "secret",
    "truncate the log",
    "/repo/.github/workflows/ci.yml",
    "0.0.0.0/0",
    "production",
    "hello world",
    "",
];

const ENVIRONMENTS: &[&str] = &[
    "development",
    "staging",
    "production",
    "PRODUCTION",
    "ci",
    "",
];

fn registry() -> &'static DomainRegistry {
    static REGISTRY: std::sync::OnceLock<DomainRegistry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| DomainRegistry::with_presets().expect("presets load"))
}

fn profile(name: &str) -> DomainProfile {
    registry().get(name).expect("preset").clone()
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(NAMES).prop_map(str::to_owned),
        1 => "[a-z_]{1,16}",
    ]
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_owned),
        1 => "[ -~]{0,24}",
    ]
}

fn context() -> impl Strategy<Value = ActionContext> {
    (
        name(),
        proptest::collection::vec(fragment(), 0..3),
        proptest::collection::vec(
            (
                proptest::sample::select(&["password", "fields", "id", "dest"][..]),
                fragment(),
            ),
            0..3,
        ),
        proptest::option::of(fragment()),
        proptest::sample::select(ENVIRONMENTS),
    )
        .prop_map(|(name, args, kwargs, doc, env)| {
            let mut ctx = ActionContext::new(name).with_environment(env);
            for arg in args {
                ctx = ctx.with_arg(arg);
            }
            for (key, value) in kwargs {
                ctx = ctx.with_kwarg(key, value);
            }
            if let Some(doc) = doc {
                ctx = ctx.with_doc(doc);
            }
            ctx
        })
}

/// Two or three distinct presets, in any order.
fn members() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(PRESETS, 2..=3).prop_shuffle()
}

fn judge(
    profile: DomainProfile,
    base: f64,
    ctx: &ActionContext,
) -> (RiskAssessment, DomainVerdict) {
    let scorer = DomainRiskScorer::with_base(
        profile,
        Arc::new(FixedRiskScorer::new(base).expect("base in range")),
    );
    let risk = scorer.assess(ctx);
    let verdict = scorer.verdict(ctx, &risk);
    (risk, verdict)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn merged_profiles_never_score_or_demand_less(
        ctx in context(),
        base in 0.0..=1.0_f64,
        names in members(),
    ) {
        let merged = merge(names.iter().map(|n| profile(n)).collect()).expect("merge");
        let (risk, verdict) = judge(merged, base, &ctx);
        for name in &names {
            let (alone, alone_verdict) = judge(profile(name), base, &ctx);
            prop_assert!(
                risk.score >= alone.score,
                "{names:?} scored {} < {name} alone {} for {}",
                risk.score, alone.score, ctx.description()
            );
            prop_assert!(risk.level >= alone.level);
            prop_assert!(verdict.blocked_by.is_some() || alone_verdict.blocked_by.is_none());
            prop_assert!(verdict.required_approvers >= alone_verdict.required_approvers);
            prop_assert!(verdict.required_challenge >= alone_verdict.required_challenge);
            for role in &alone_verdict.notify {
                prop_assert!(verdict.notify.contains(role));
            }
        }
    }
}

/// The reference's counter-example, as a plain test.
#[test]
fn rm_rf_stays_critical_when_a_profile_calling_the_name_safe_is_added() {
    let ctx = ActionContext::new("preview_data").with_arg("rm -rf /");
    let (alone, _) = judge(profile("devops"), 0.455, &ctx);
    let (both, _) = judge(
        merge(vec![profile("devops"), profile("data-pipeline")]).expect("merge"),
        0.455,
        &ctx,
    );
    assert_eq!(alone.score, 0.9455);
    assert_eq!(both.score, alone.score);
}
