//! The spec's domain vectors (challenges.md Appendix F), the reference's
//! defects pinned as fixed, the loader's errors and the verdicts.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::challenge::ChallengeType;
use crate::risk::{FixedRiskScorer, RiskAssessment, RiskLevel, RiskScorer};
use crate::{ActionContext, Value};

fn registry() -> DomainRegistry {
    DomainRegistry::with_presets().expect("the presets load")
}

fn preset(name: &str) -> DomainProfile {
    registry().get(name).expect("preset").clone()
}

fn merged(names: &[&str]) -> DomainProfile {
    merge(names.iter().map(|n| preset(n)).collect()).expect("merge")
}

fn scorer(profile: DomainProfile, base: f64) -> DomainRiskScorer {
    DomainRiskScorer::with_base(
        profile,
        Arc::new(FixedRiskScorer::new(base).expect("in range")),
    )
}

fn custom(yaml: &str) -> DomainProfile {
    DomainProfile::from_yaml(yaml, Path::new("custom.yaml"))
        .unwrap_or_else(|e| panic!("custom profile: {e}"))
}

fn ctx(name: &str, env: &str) -> ActionContext {
    ActionContext::new(name).with_environment(env)
}

/// Factor names with contributions, in order.
fn factors(risk: &RiskAssessment) -> Vec<(&str, f64)> {
    risk.factors
        .iter()
        .map(|f| (f.name.as_ref(), f.contribution))
        .collect()
}

/// `(rule name, action)` of every rule that fires on the scorer's own
/// assessment.
fn fired(s: &DomainRiskScorer, c: &ActionContext, risk: &RiskAssessment) -> Vec<(String, String)> {
    s.verdict(c, risk)
        .matched_rules
        .into_iter()
        .map(|r| (r.name, r.action.as_str().to_owned()))
        .collect()
}

fn rules(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, a)| ((*n).to_owned(), (*a).to_owned()))
        .collect()
}

// ---- Appendix F.1: fixed base scorer --------------------------------------

#[test]
fn f1_devops_rows() {
    let devops = preset("devops");

    let s = scorer(devops.clone(), 0.30);
    let c = ctx("run_shell", "production").with_arg("rm -rf /var/lib/app");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (1.0, RiskLevel::Critical));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.3),
            ("domain_patterns", 0.9),
            ("production_multiplier", 0.3719999999999999)
        ]
    );
    assert_eq!(r.scorer_name, "domain:devops");
    assert_eq!(
        fired(&s, &c, &r),
        rules(&[("very_high_risk", "require_multi_party")])
    );

    let c = ctx("kubectl_delete", "staging").with_kwarg("ns", "payments");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (0.895, RiskLevel::Critical));
    assert_eq!(
        factors(&r),
        [("base_score", 0.3), ("domain_patterns", 0.85)]
    );
    assert!(fired(&s, &c, &r).is_empty());

    let c = ctx("terraform_destroy", "development");
    let r = s.assess(&c);
    assert_eq!(
        (r.score, r.level),
        (0.9649999999999999, RiskLevel::Critical)
    );
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.3),
            ("domain_patterns", 0.95),
            ("critical_action_flag", 0.0)
        ]
    );
    assert_eq!(
        fired(&s, &c, &r),
        rules(&[
            ("very_high_risk", "require_multi_party"),
            ("terraform_destroy", "block")
        ])
    );

    let s = scorer(devops.clone(), 0.20);
    let c = ctx("restart", "production")
        .with_arg("web")
        .with_doc("Restart the admin service");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (1.0, RiskLevel::Critical));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.2),
            ("sensitive_terms", 0.7),
            ("production_multiplier", 0.3039999999999998)
        ]
    );
    assert!(
        r.factors[1]
            .evidence
            .as_deref()
            .unwrap()
            .contains(r"\badmin\b")
    );
    assert_eq!(
        fired(&s, &c, &r),
        rules(&[("very_high_risk", "require_multi_party")])
    );

    let s = scorer(devops, 0.02);
    let r = s.assess(&ctx("noop", "development"));
    assert_eq!((r.score, r.level), (0.05, RiskLevel::Low));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.02),
            ("domain_risk_floor", 0.030000000000000002)
        ]
    );
}

/// §10 W9, pinned: the reference treated `terraform_plan_and_apply` as the
/// safe `terraform_plan` (substring match) and capped it, `sudo` argument
/// and all, at 0.15 LOW. Whole-name matching leaves it at 0.95.
#[test]
fn f1_safe_entries_match_whole_names_only() {
    let s = scorer(preset("devops"), 0.50);
    let c = ctx("terraform_plan_and_apply", "development").with_arg("sudo");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (0.95, RiskLevel::Critical));
    assert_eq!(factors(&r), [("base_score", 0.5), ("sensitive_terms", 0.9)]);
    // The safe name itself is still capped when nothing risky is found.
    let r = s.assess(&ctx("terraform_plan", "development"));
    assert_eq!(
        factors(&r),
        [("base_score", 0.5), ("safe_action_override", -0.35)]
    );
    assert_eq!(r.score, 0.15);
}

/// Near-misses of a critical action (case, an invisible character, a
/// Cyrillic look-alike) are critical too: the security review's names.
#[test]
fn near_misses_of_a_critical_action_are_critical() {
    let ops = custom("name: ops\ncritical_actions: [terraform_destroy]\n");
    let s = scorer(ops.clone(), 0.1);
    for name in [
        "terraform_destroy",
        "TERRAFORM_DESTROY",
        "terraform_destroy\u{200b}",
        "terraform_d\u{435}stroy",
        "Workspace.terraform_d\u{435}stroy",
        "\u{ff54}erraform_destroy",
    ] {
        assert!(ops.is_critical_action(name), "{name:?}");
        let r = s.assess(&ctx(name, "development"));
        assert_eq!(r.level, RiskLevel::Critical, "{name:?}");
        assert_eq!(
            factors(&r),
            [
                ("base_score", 0.1),
                ("critical_action_override", 0.7000000000000001)
            ],
            "{name:?}"
        );
    }
    for name in ["terraform-destroy", "terraform_destroy_plan", "terraform"] {
        assert!(!ops.is_critical_action(name), "{name:?}");
    }

    // The preset's critical actions work the same way.
    let devops = preset("devops");
    for name in [
        "DROP_DATABASE",
        "drop_d\u{430}tabase",
        "rm_\u{200d}rf",
        "Rm_Rf ",
    ] {
        assert!(devops.is_critical_action(name), "{name:?}");
    }
}

/// A near-miss of a safe action is not safe: the cap applies to the names
/// listed (in any case), never to look-alikes of them.
#[test]
fn near_misses_of_a_safe_action_are_not_capped() {
    let reader = custom("name: reader\nsafe_actions: ['read_*']\n");
    let s = scorer(reader.clone(), 0.5);
    let capped = s.assess(&ctx("read_file", "development"));
    assert_eq!(capped.score, DomainProfile::SAFE_CAP);
    assert!(
        reader.is_safe_action("READ_FILE"),
        "case is forgiven, as before"
    );
    for name in [
        "\u{ff52}ead_file",
        "r\u{435}ad_file",
        "read\u{200b}_file",
        " read_file",
    ] {
        assert!(!reader.is_safe_action(name), "{name:?}");
        let r = s.assess(&ctx(name, "development"));
        assert_eq!(r.score, 0.5, "{name:?}");
        assert_eq!(factors(&r), [("base_score", 0.5)], "{name:?}");
    }
}

/// An `action:` rule fires for near-misses of the action; a rule that
/// blocks still blocks.
#[test]
fn action_rules_fire_for_near_misses() {
    let profile = custom(
        "name: disks\nescalation_rules:\n  - name: no_wipes\n    condition: action:wipe_disk\n    action: block\n",
    );
    let s = scorer(profile, 0.1);
    for name in [
        "wipe_disk",
        "WIPE_DISK",
        "wipe_d\u{456}sk",
        "wipe_disk\u{feff}",
    ] {
        let c = ctx(name, "development");
        let r = s.assess(&c);
        assert_eq!(
            fired(&s, &c, &r),
            rules(&[("no_wipes", "block")]),
            "{name:?}"
        );
    }
    let c = ctx("wipe_disks", "development");
    assert!(fired(&s, &c, &s.assess(&c)).is_empty());
}

#[test]
fn f1_data_pipeline_rows() {
    let s = scorer(preset("data-pipeline"), 0.30);

    let c = ctx("run_query", "development").with_arg("SELECT email_address FROM users");
    let r = s.assess(&c);
    assert_eq!(
        (r.score, r.level),
        (0.8599999999999999, RiskLevel::Critical)
    );
    assert_eq!(factors(&r), [("base_score", 0.3), ("domain_patterns", 0.8)]);
    assert_eq!(
        fired(&s, &c, &r),
        rules(&[("very_high_risk", "require_multi_party")])
    );

    // Snake_case hides "pii" from the word-boundary term and pattern, as in
    // the reference.
    let r = s.assess(&ctx("load_pii_records", "development"));
    assert_eq!((r.score, r.level), (0.3, RiskLevel::Medium));
    assert_eq!(factors(&r), [("base_score", 0.3)]);

    let c = ctx("load", "development").with_kwarg("fields", "pii");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (0.9895, RiskLevel::Critical));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.3),
            ("domain_patterns", 0.85),
            ("sensitive_terms", 0.9)
        ]
    );
    assert_eq!(
        fired(&s, &c, &r),
        rules(&[
            ("pii", "require_teach_back"),
            ("very_high_risk", "require_multi_party")
        ])
    );

    let s = scorer(preset("data-pipeline"), 0.40);
    let c = ctx("delete_backup", "production").with_kwarg("id", "snap-1");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (1.0, RiskLevel::Critical));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.4),
            ("domain_patterns", 0.9),
            ("critical_action_flag", 0.0),
            ("production_multiplier", 0.4700000000000001)
        ]
    );
    assert_eq!(
        fired(&s, &c, &r),
        rules(&[
            ("backup_deletion", "block"),
            ("very_high_risk", "require_multi_party")
        ])
    );
}

#[test]
fn f1_merged_rows() {
    let s = scorer(merged(&["devops", "data-pipeline"]), 0.40);
    assert_eq!(s.name(), "domain:devops+data-pipeline");

    let c = ctx("dump", "production").with_arg("pg_dump prod_db");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (1.0, RiskLevel::Critical));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.4),
            ("domain_patterns", 0.8),
            ("sensitive_terms", 0.6),
            ("production_multiplier", 0.476)
        ]
    );
    assert_eq!(
        fired(&s, &c, &r),
        rules(&[
            ("very_high_risk", "require_multi_party"),
            ("very_high_risk", "require_multi_party")
        ])
    );
}

/// §10 W9, pinned: `preview_data` is safe in data-pipeline only. The
/// reference's union of safe lists capped `preview_data('DROP TABLE
/// users')` at 0.15 LOW while its own block rule fired; here the merge
/// intersects safe lists, and a pattern above the cap disables it anyway.
#[test]
fn f1_merge_does_not_make_drop_table_low() {
    let s = scorer(merged(&["devops", "data-pipeline"]), 0.40);
    let c = ctx("preview_data", "development").with_arg("DROP TABLE users");
    let r = s.assess(&c);
    assert_eq!((r.score, r.level), (0.994, RiskLevel::Critical));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.4),
            ("domain_patterns", 0.95),
            ("sensitive_terms", 0.8)
        ]
    );
    let verdict = s.verdict(&c, &r);
    assert_eq!(verdict.blocked_by.unwrap().name, "drop_table");

    // data-pipeline alone: the safe name is kept, but the cap is not applied.
    let s = scorer(preset("data-pipeline"), 0.40);
    let r = s.assess(&c);
    assert_eq!(r.score, 0.994);
    assert_eq!(r.factors.last().unwrap().name, "safe_action_flag");
}

#[test]
fn f1_custom_profiles() {
    let s = scorer(custom("name: c\nproduction_multiplier: 2.0\n"), 0.30);
    let r = s.assess(&ctx("noop", "PRODUCTION"));
    assert_eq!((r.score, r.level), (0.6, RiskLevel::High));
    assert_eq!(
        factors(&r),
        [("base_score", 0.3), ("production_multiplier", 0.3)]
    );

    let s = scorer(
        custom("name: c\nbase_risk_floor: 0.4\nproduction_multiplier: 1.0\n"),
        0.10,
    );
    let r = s.assess(&ctx("noop", "production"));
    assert_eq!((r.score, r.level), (0.4, RiskLevel::Medium));
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.1),
            ("domain_risk_floor", 0.30000000000000004)
        ]
    );

    let s = scorer(
        custom(
            "name: c\nrisk_patterns:\n  - {name: pw, pattern: password, target: kwargs, \
             risk_contribution: 0.5}\n",
        ),
        0.20,
    );
    let r = s.assess(&ActionContext::new("f").with_kwarg("password", 1));
    assert_eq!((r.score, r.level), (0.6000000000000001, RiskLevel::High));
    assert_eq!(factors(&r), [("base_score", 0.2), ("domain_patterns", 0.5)]);
}

/// The reference capped `get_config('secret')` at 0.15 although its own
/// pattern scored the argument 0.9. The cap does not apply here.
#[test]
fn f1_safe_cap_never_hides_a_pattern_or_term() {
    let profile = custom(
        "name: c\nsafe_actions: ['get_*']\nrisk_patterns:\n  - {name: secret, pattern: secret, \
         target: args, risk_contribution: 0.9}\n",
    );
    let s = scorer(profile, 0.20);
    let r = s.assess(&ActionContext::new("get_config").with_arg("secret"));
    assert_eq!(
        (r.score, r.level),
        (0.9200000000000002, RiskLevel::Critical)
    );
    assert_eq!(
        factors(&r),
        [
            ("base_score", 0.2),
            ("domain_patterns", 0.9),
            ("safe_action_flag", 0.0)
        ]
    );
    // Without the risky argument the cap applies.
    let r = s.assess(&ActionContext::new("get_config").with_arg("colour"));
    assert_eq!(r.score, 0.15);
}

/// §10 W19, pinned: a production multiplier below 1 is refused, and a
/// critical action stays CRITICAL in production.
#[test]
fn f1_multiplier_below_one_is_refused_and_critical_stays_critical() {
    let error = DomainProfile::from_yaml(
        "name: c\ncritical_actions: [wipe]\nproduction_multiplier: 0.5\n",
        Path::new("c.yaml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with(
            "c.yaml:3:24: production_multiplier: 0.5 is out of range; use a number from 1"
        ),
        "{error}"
    );
    let s = scorer(custom("name: c\ncritical_actions: ['wipe*']\n"), 0.10);
    let r = s.assess(&ctx("wipe_all", "production"));
    assert_eq!(r.level, RiskLevel::Critical);
    assert_eq!(r.factors[1].name, "critical_action_override");
    // `wipe` (no glob) is a whole name: it does not cover `wipe_all`.
    let s = scorer(custom("name: c\ncritical_actions: [wipe]\n"), 0.10);
    assert_eq!(
        s.assess(&ctx("wipe_all", "development")).level,
        RiskLevel::Low
    );
}

// ---- Appendix F.2: default base scorer ------------------------------------

/// F.2 prints four decimals; the base scorer's last bits are its own.
fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
}

#[test]
fn f2_with_the_default_base_scorer() {
    let devops = DomainRiskScorer::new(preset("devops"));
    let r = devops.assess(&ctx("run_shell", "production").with_arg("rm -rf /var/lib/app"));
    assert_eq!(r.factors[0].contribution, 0.5);
    assert_eq!(r.score, 1.0);

    // The spec's table gives this base as 0.2775 (→ 0.8194); this crate's
    // DefaultRiskScorer, checked against the reference's own vectors, gives
    // 0.2875 for the call. The domain step on top is the same either way.
    let r =
        devops.assess(&ctx("update_dns", "development").with_kwarg("record", "api.example.com"));
    let base = r.factors[0].contribution;
    assert_eq!(base, 0.28750000000000003);
    assert_eq!(r.score, base + 0.75 * (1.0 - base));
    assert_eq!(r.level, RiskLevel::Critical);

    let c = ActionContext::new("apply_rules").with_arg("iptables -A INPUT -j DROP");
    let r = devops.assess(&c);
    assert_eq!(r.factors[0].contribution, 0.455);
    assert_eq!(r.score, 0.98365);
    assert_eq!(
        fired(&devops, &c, &r),
        rules(&[
            ("very_high_risk", "require_multi_party"),
            ("firewall_change", "require_teach_back")
        ])
    );

    // The reference capped this at 0.15 and then multiplied: 0.21 LOW.
    let r = devops.assess(&ctx("get_status", "production").with_arg("sudo reboot"));
    assert_close(r.factors[0].contribution, 0.365);
    assert_eq!((r.score, r.level), (1.0, RiskLevel::Critical));

    let pipeline = DomainRiskScorer::new(preset("data-pipeline"));
    let r = pipeline.assess(
        &ActionContext::new("export_data")
            .with_kwarg("columns", "email_address,ssn")
            .with_kwarg("dest", "s3://bucket"),
    );
    assert_close(r.factors[0].contribution, 0.2425);
    assert_close(r.score, 0.992425);
    assert!(
        r.factors[1]
            .description
            .contains("pii_field_access, data_export.")
    );
}

/// §10 W9, pinned: `preview_data('rm -rf /')` scores 0.9455 CRITICAL under
/// devops; the reference's merge with data-pipeline made it 0.15 LOW.
#[test]
fn f2_merging_never_turns_rm_rf_into_low() {
    let c = ActionContext::new("preview_data").with_arg("rm -rf /");
    let alone = DomainRiskScorer::new(preset("devops")).assess(&c);
    assert_eq!((alone.score, alone.level), (0.9455, RiskLevel::Critical));
    let both = DomainRiskScorer::new(merged(&["devops", "data-pipeline"])).assess(&c);
    assert_eq!((both.score, both.level), (0.9455, RiskLevel::Critical));
    let other_order = DomainRiskScorer::new(merged(&["data-pipeline", "devops"])).assess(&c);
    assert_eq!(other_order.score, 0.9455);
}

// ---- Appendix F.4 and §8.7/§8.9 -------------------------------------------

#[test]
fn f4_matchers() {
    let devops = preset("devops");
    assert!(!devops.is_safe_action("terraform_plan_and_apply"));
    let p = custom(
        "name: c\ncritical_actions: [delete_patient, 'drop_(table|db)']\nsafe_actions: ['read_*']\n",
    );
    assert!(!p.is_critical_action("undelete_patient"));
    assert!(p.is_critical_action("drop_db"));
    assert!(
        p.is_critical_action("Db.drop_table"),
        "the part after the last dot counts"
    );
    assert!(!p.is_safe_action("thread_pool"));
    assert!(
        !p.is_safe_action("Files.read_all"),
        "safe needs the whole name"
    );
    let terms: Vec<&str> = devops
        .matching_terms("delete_prod_db production")
        .iter()
        .map(|t| t.term())
        .collect();
    assert_eq!(terms, ["production"]);
    let pipeline_pattern = |text: &str| {
        let c = ActionContext::new("f").with_arg(text);
        devops
            .matching_patterns(&CallText::of(&c))
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
    };
    // Fixed (§10 W18): a real workflow path matches.
    assert_eq!(
        pipeline_pattern("/repo/.github/workflows/ci.yml"),
        ["cicd_pipeline_change"]
    );
    assert_eq!(
        pipeline_pattern("x.github/workflows"),
        ["cicd_pipeline_change"]
    );
    assert_eq!(
        pipeline_pattern("truncate the log message"),
        ["sql_truncate"]
    );
}

#[test]
fn merged_presets_have_the_documented_shape() {
    let m = merged(&["devops", "data-pipeline"]);
    assert_eq!(
        m.display_name,
        "DevOps / Platform Operations + Data Pipeline / ETL"
    );
    assert!(m.description.contains(" | "));
    assert_eq!(m.risk_patterns.len(), 29);
    assert_eq!(m.sensitive_terms.len(), 22);
    assert_eq!(m.critical_actions.len(), 8);
    // The reference had 16 (the union); nothing is safe in both.
    assert_eq!(m.safe_actions.len(), 0);
    assert_eq!(m.escalation_rules.len(), 7);
    assert_eq!(m.base_risk_floor, 0.05);
    assert_eq!(m.production_multiplier, 1.5);
    assert_eq!(m.escalation_rules[0].profile, "devops");
    assert_eq!(m.escalation_rules[6].profile, "data-pipeline");
    let weights = m.term_weights();
    assert_eq!(weights["drop"], 0.8);
    assert_eq!(weights["ssn"], 0.95);
    assert!(matches!(merge(vec![]), Err(DomainError::NothingToMerge)));
    assert_eq!(merge(vec![preset("devops")]).unwrap(), preset("devops"));
}

#[test]
fn presets_match_the_spec_summary() {
    let devops = preset("devops");
    assert_eq!(
        (
            devops.risk_patterns.len(),
            devops.sensitive_terms.len(),
            devops.critical_actions.len(),
            devops.safe_actions.len(),
            devops.escalation_rules.len(),
            devops.challenge_templates.len()
        ),
        (14, 11, 5, 8, 3, 3)
    );
    assert_eq!(
        (devops.base_risk_floor, devops.production_multiplier),
        (0.05, 1.4)
    );
    let pipeline = preset("data-pipeline");
    assert_eq!(
        (
            pipeline.risk_patterns.len(),
            pipeline.sensitive_terms.len(),
            pipeline.critical_actions.len(),
            pipeline.safe_actions.len(),
            pipeline.escalation_rules.len(),
            pipeline.challenge_templates.len()
        ),
        (15, 15, 5, 8, 4, 4)
    );
    assert_eq!(pipeline.production_multiplier, 1.5);
    let order: Vec<&str> = pipeline
        .escalation_rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        order,
        ["drop_table", "backup_deletion", "pii", "very_high_risk"]
    );
    for name in ["healthcare", "infrastructure"] {
        let p = preset(name);
        assert!(p.risk_patterns.len() >= 10, "{name}");
        assert!(!p.challenge_templates.is_empty() && !p.required_vocabulary.is_empty());
        assert!(!p.compliance_frameworks.is_empty());
    }
    // The seeds' shorthand names are patterns of their profiles.
    let has = |p: &DomainProfile, n: &str| p.risk_patterns.iter().any(|x| x.name == n);
    assert!(has(&preset("healthcare"), "phi_access") && has(&preset("healthcare"), "data_export"));
    let infra = preset("infrastructure");
    assert!(has(&infra, "production_deploy") && has(&infra, "database_drop"));
}

#[test]
fn new_presets_score_their_domain() {
    let health = DomainRiskScorer::new(preset("healthcare"));
    let c = ActionContext::new("export_patient_records").with_kwarg("format", "csv");
    let r = health.assess(&c);
    assert_eq!(r.level, RiskLevel::Critical);
    assert!(
        r.factors[1].description.contains("HIPAA"),
        "{:?}",
        r.factors[1]
    );
    let v = health.verdict(&c, &r);
    assert_eq!(v.required_challenge, Some(ChallengeType::MultiParty));
    assert!(v.notify.contains(&"privacy_officer".to_owned()));
    let c = ActionContext::new("purge_audit_log");
    let r = health.assess(&c);
    assert_eq!(
        health.verdict(&c, &r).blocked_by.unwrap().name,
        "audit_log_tampering"
    );
    let r = health.assess(&ActionContext::new("list_providers"));
    assert_eq!(r.level, RiskLevel::Low);

    let infra = DomainRiskScorer::new(preset("infrastructure"));
    let c = ActionContext::new("attach_role_policy").with_kwarg("policy", "AdministratorAccess");
    let r = infra.assess(&c);
    assert!(r.level >= RiskLevel::High, "{r:?}");
    assert_eq!(infra.verdict(&c, &r).required_approvers, Some(2));
    let c = ActionContext::new("terraform_destroy").with_environment("staging");
    let r = infra.assess(&c);
    assert_eq!(
        infra.verdict(&c, &r).blocked_by.unwrap().name,
        "infrastructure_teardown"
    );
}

#[test]
fn templates_by_level_and_vocabulary() {
    let devops = preset("devops");
    assert!(devops.templates_for_level(RiskLevel::Low).is_empty());
    assert_eq!(devops.templates_for_level(RiskLevel::Medium).len(), 1);
    assert_eq!(devops.templates_for_level(RiskLevel::Critical).len(), 3);
    assert_eq!(
        devops
            .templates_of_type(ChallengeType::TeachBack, RiskLevel::High)
            .len(),
        1
    );
    assert_eq!(
        devops.vocabulary(),
        ["rollback", "downtime", "deployment", "backup", "monitoring"]
    );
    let c = ActionContext::new("run_shell").with_arg("sudo rm -rf /tmp/x");
    let terms = devops.key_terms_for(&c);
    assert!(terms.contains(&"sudo".to_owned()) && terms.contains(&"recursive delete".to_owned()));
    let t = devops.templates_for_level(RiskLevel::High)[0];
    assert_eq!(
        t.render(&c, "production"),
        "What is the rollback plan if run_shell fails or causes downtime?"
    );
}

// ---- Registry and aliases (§8.8) ------------------------------------------

#[test]
fn registry_lists_looks_up_and_refuses_alias_hijacking() {
    let mut r = registry();
    assert_eq!(
        r.names(),
        ["data-pipeline", "devops", "healthcare", "infrastructure"]
    );
    assert_eq!(r.len(), 4);
    assert_eq!(r.get("DevOps").unwrap().name, "devops");
    assert_eq!(r.get(" ETL ").unwrap().name, "data-pipeline");
    assert_eq!(r.canonical_name("infra"), Some("infrastructure"));
    let error = r.get("finance").unwrap_err().to_string();
    assert!(
        error.contains("no domain profile named 'finance'"),
        "{error}"
    );
    assert!(error.contains("devops (alias ops)"), "{error}");

    // §10 W17, pinned: the reference let an alias `devops` take over.
    let other = custom("name: my-ops\n");
    let error = r.register(other.clone(), &["devops"]).unwrap_err();
    assert!(matches!(error, DomainError::AliasTaken { ref owner, .. } if owner == "devops"));
    assert_eq!(r.get("devops").unwrap().name, "devops");
    assert!(!r.contains("my-ops"), "a failed registration adds nothing");
    let error = r.register(other.clone(), &["ops"]).unwrap_err();
    assert!(matches!(error, DomainError::AliasTaken { .. }));
    r.register(other.clone(), &["mine", "MINE"]).unwrap();
    assert_eq!(r.get("Mine").unwrap().name, "my-ops");
    assert!(matches!(
        r.register(other, &[]),
        Err(DomainError::AlreadyRegistered { .. })
    ));
    assert!(
        r.replace(custom("name: mine\n")).is_err(),
        "a name may not shadow an alias"
    );
    r.replace(custom("name: devops\ndescription: mine\n"))
        .unwrap();
    assert_eq!(r.get("ops").unwrap().description, "mine");
}

// ---- Loader errors ----------------------------------------------------------

fn load_error(yaml: &str) -> String {
    DomainProfile::from_yaml(yaml, Path::new("p.yaml"))
        .expect_err("should be refused")
        .to_string()
}

#[test]
fn loader_errors_name_the_file_line_and_field() {
    let pattern = |body: &str| format!("name: p\nrisk_patterns:\n  - name: x\n{body}");
    let cases: [(String, &str, &str); 12] = [
        (
            pattern("    pattern: 'a(?=b)'\n    risk_contribution: 0.5\n"),
            "p.yaml:4:14: risk_patterns[0].pattern: ",
            "look-around",
        ),
        (
            pattern("    pattern: 'a('\n    risk_contribution: 0.5\n"),
            "p.yaml:4:14: risk_patterns[0].pattern: ",
            "not a valid regular expression",
        ),
        (
            pattern("    pattern: a\n    target: body\n    risk_contribution: 0.5\n"),
            "p.yaml:5:13: risk_patterns[0].target: ",
            "'body' is not a pattern target; use function_name, args, kwargs, docstring or any",
        ),
        (
            pattern("    pattern: a\n    risk_contribution: 1.5\n"),
            "p.yaml:5:24: risk_patterns[0].risk_contribution: ",
            "1.5 is out of range",
        ),
        (
            pattern("    pattern: a\n"),
            "p.yaml:3:5: risk_patterns[0]: ",
            "the pattern has no risk_contribution",
        ),
        (
            pattern("    pattern: a\n    risk_contribution: 0.5\n    weight: 2\n"),
            "p.yaml:6:5: risk_patterns[0].weight: ",
            "unknown key 'weight'",
        ),
        (
            "name: p\nescalation_rules:\n  - condition: risk_score >= 0.9\n    action: multi_party\n".into(),
            "p.yaml:4:13: escalation_rules[0].action: ",
            "'multi_party' is not an escalation action",
        ),
        (
            "name: p\nescalation_rules:\n  - condition: matches_pattern:nope\n    action: block\n".into(),
            "p.yaml:3:16: escalation_rules[0].condition: ",
            "no pattern named 'nope'",
        ),
        (
            "name: p\nescalation_rules:\n  - condition: bulk_export\n    action: block\n".into(),
            "p.yaml:3:16: escalation_rules[0].condition: ",
            "would never fire",
        ),
        (
            "name: p\nescalation_rules:\n  - condition: risk_score > 0.5\n    action: block\n    required_approvers: 0\n".into(),
            "p.yaml:5:25: escalation_rules[0].required_approvers: ",
            "0 is out of range",
        ),
        (
            "name: p\nsensitive_terms:\n  pii: 1.2\n".into(),
            "p.yaml:3:8: sensitive_terms.pii: ",
            "out of range",
        ),
        (
            "name: p\nbase_risk_floor: -0.1\n".into(),
            "p.yaml:2:18: base_risk_floor: ",
            "out of range",
        ),
    ];
    for (yaml, prefix, needle) in cases {
        let error = load_error(&yaml);
        assert!(
            error.starts_with(prefix),
            "{error}\n(wanted prefix {prefix})"
        );
        assert!(error.contains(needle), "{error}\n(wanted {needle})");
    }
}

#[test]
fn loader_refuses_other_mistakes() {
    for (yaml, needle) in [
        (
            "name: DevOps\n",
            "profile names are lower case; write 'devops'",
        ),
        ("name: a+b\n", "not a usable profile name"),
        ("display_name: x\n", "the profile has no name"),
        ("name: p\nrisk_patern: []\n", "did you mean 'risk_patterns'"),
        ("name: p\nname: q\n", "given twice"),
        (
            "name: p\nsensitive_terms: {PII: 0.5, pii: 0.6}\n",
            "already listed",
        ),
        (
            "name: p\nchallenge_templates:\n  - {question_template: q, challenge_type: confirm}\n",
            "not a template challenge type",
        ),
        (
            "name: p\nchallenge_templates:\n  - {question_template: q, min_risk_level: severe}\n",
            "not a risk level",
        ),
        (
            "name: p\nmin_review_overrides: {high: 7200}\n",
            "out of range",
        ),
        (
            "name: p\ncritical_actions: ['drop_(']\n",
            "not a valid regular expression",
        ),
        ("- a\n", "expected a mapping"),
        ("", "empty"),
        ("name: [\n", "invalid YAML"),
    ] {
        let error = load_error(yaml);
        assert!(error.starts_with("p.yaml"), "{error}");
        assert!(error.contains(needle), "{yaml:?}: {error}");
    }
    let r = "name: p\nrisk_patterns:\n  - {name: a, pattern: a, risk_contribution: 0.1}\n  - {name: a, pattern: b, risk_contribution: 0.1}\n";
    assert!(load_error(r).contains("already defined at line 3"));
}

#[test]
fn a_full_user_profile_loads() {
    let p = custom(
        "name: payments\n\
         display_name: Payments\n\
         description: Card data and money movement.\n\
         compliance_frameworks: [PCI DSS]\n\
         risk_patterns:\n\
         \x20 - name: refund\n\
         \x20   pattern: '\\brefund'\n\
         \x20   target: function_name\n\
         \x20   risk_contribution: 0.7\n\
         \x20   compliance_refs: [PCI DSS 10.2]\n\
         sensitive_terms: {card number: 0.9}\n\
         critical_actions: ['wire_*']\n\
         safe_actions: [get_balance]\n\
         escalation_rules:\n\
         \x20 - {name: refunds, condition: 'matches_pattern:refund', action: require_multi_party, required_approvers: 3, notify_roles: [finance]}\n\
         \x20 - {condition: 'environment:production', action: notify_compliance}\n\
         challenge_templates:\n\
         \x20 - {question_template: 'Who asked for {function_name}?', challenge_type: teach_back, min_risk_level: medium}\n\
         min_review_overrides: {critical: 60}\n\
         base_risk_floor: 0.1\n\
         production_multiplier: 1.2\n\
         required_vocabulary: [chargeback]\n",
    );
    assert_eq!(p.escalation_rules[1].name, "environment:production");
    assert_eq!(p.min_review_for(RiskLevel::Critical).unwrap().as_secs(), 60);
    let payments = scorer(p, 0.2);
    let call = ctx("refund_order", "production");
    let verdict = payments.verdict(&call, &payments.assess(&call));
    assert_eq!(verdict.required_approvers, Some(3));
    assert_eq!(verdict.notify, ["finance", "compliance"]);
    let json = serde_json::to_value(payments.profile()).unwrap();
    assert_eq!(json["sensitive_terms"]["card number"], 0.9);
    assert_eq!(json["risk_patterns"][0]["pattern"], "\\brefund");
    assert_eq!(
        json["escalation_rules"][0]["condition"],
        "matches_pattern:refund"
    );
    assert_eq!(json["critical_actions"][0], "wire_*");
}

// ---- Verdicts: what each action demands -----------------------------------

#[test]
fn each_escalation_action_raises_the_verdict() {
    let p = custom(
        "name: v\n\
         escalation_rules:\n\
         \x20 - {name: two, condition: 'action:a*', action: require_multi_party}\n\
         \x20 - {name: four, condition: 'action:ab*', action: require_multi_party, required_approvers: 4}\n\
         \x20 - {name: teach, condition: 'action:t*', action: require_teach_back, notify_roles: [lead]}\n\
         \x20 - {name: confirm, condition: 'action:*c', action: require_confirmation}\n\
         \x20 - {name: tell, condition: 'action:n*', action: notify_compliance}\n\
         \x20 - {name: stop, condition: 'action:*stop*', action: block, notify_roles: [sec, lead]}\n\
         \x20 - {name: stop2, condition: 'action:*stop', action: block}\n",
    );
    let s = scorer(p, 0.1);
    let verdict = |name: &str| {
        let c = ActionContext::new(name);
        s.verdict(&c, &s.assess(&c))
    };
    let v = verdict("abc");
    assert_eq!(v.required_approvers, Some(4));
    assert_eq!(
        v.required_challenge,
        Some(ChallengeType::MultiParty),
        "multi-party beats confirm"
    );
    assert_eq!(v.matched_rules.len(), 3);
    assert_eq!(v.approvers_at_least(2), 4);
    assert_eq!(v.approvers_at_least(6), 6);
    let v = verdict("tc");
    assert_eq!(v.required_challenge, Some(ChallengeType::TeachBack));
    assert_eq!(v.required_approvers, None);
    assert_eq!(v.notify, ["lead"]);
    // Rules only raise: a level's own stronger challenge stays.
    assert_eq!(
        v.challenge_at_least(ChallengeType::MultiParty),
        ChallengeType::MultiParty
    );
    assert_eq!(
        v.challenge_at_least(ChallengeType::AutoApprove),
        ChallengeType::TeachBack
    );
    let v = verdict("xc");
    assert_eq!(
        v.challenge_at_least(ChallengeType::AutoApprove),
        ChallengeType::Confirm
    );
    let v = verdict("n1");
    assert_eq!(v.required_challenge, None);
    assert_eq!(v.notify, ["compliance"]);
    assert!(!v.is_blocked());
    let v = verdict("tstop");
    let blocked = v.blocked_by.clone().unwrap();
    assert_eq!(
        blocked.name, "stop",
        "the first block rule is the one recorded"
    );
    assert_eq!(blocked.to_string(), "v/stop (action:*stop* -> block)");
    assert_eq!(v.notify, ["lead", "sec"]);
    assert!(verdict("zzz").is_empty());
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["blocked_by"]["action"], "block");
}

// ---- Resolution from the policy ---------------------------------------------

fn policy(yaml: &str) -> crate::Policy {
    crate::Policy::from_str_named(yaml, Path::new("attesta.yaml"))
        .unwrap_or_else(|e| panic!("policy: {e}"))
}

/// The seeds' YAML: `phi_access` needs three distinct approvers.
#[test]
fn the_seeds_shorthand_takes_effect() {
    let p = policy(
        "domains:\n  - healthcare:\n      escalation_rules:\n        phi_access: 3\n        data_export: 3\n  - infrastructure:\n      escalation_rules:\n        production_deploy: 2\n        database_drop: 4\n",
    );
    let resolved = resolve_policy(&p).unwrap();
    assert_eq!(resolved.members, ["healthcare", "infrastructure"]);
    assert!(resolved.warnings.is_empty(), "{:?}", resolved.warnings);
    let s = resolved.scorer().unwrap();
    assert_eq!(s.name(), "domain:healthcare+infrastructure");
    let verdict = |c: &ActionContext| s.verdict(c, &s.assess(c));

    let v = verdict(&ActionContext::new("phi_access").with_kwarg("patient_id", 42));
    assert_eq!(v.required_approvers, Some(3));
    assert_eq!(v.required_challenge, Some(ChallengeType::MultiParty));
    assert!(
        v.notify.contains(&"privacy_officer".to_owned()),
        "inherits the preset's roles"
    );
    let v = verdict(&ActionContext::new("get_patient_chart").with_arg("mrn 1234"));
    assert_eq!(v.required_approvers, Some(3));
    let v = verdict(&ActionContext::new("export_data").with_kwarg("dest", "s3://x"));
    assert_eq!(v.required_approvers, Some(3));
    let v = verdict(&ActionContext::new("run_sql").with_arg("DROP DATABASE billing"));
    assert_eq!(v.required_approvers, Some(4));
    let v = verdict(&ActionContext::new("deploy_to_production").with_kwarg("version", "1.2"));
    assert_eq!(v.required_approvers, Some(2));
}

#[test]
fn domain_devops_blocks_terraform_destroy_naming_the_rule() {
    for text in ["domain: devops\n", "domain: [ops]\n", "domains: [DevOps]\n"] {
        let resolved = resolve_policy(&policy(text)).unwrap();
        let s = resolved.scorer().unwrap();
        let c = ActionContext::new("terraform_destroy").with_arg("ws");
        let v = s.verdict(&c, &s.assess(&c));
        let rule = v.blocked_by.unwrap();
        assert_eq!(
            (
                rule.profile.as_str(),
                rule.name.as_str(),
                rule.condition.as_str()
            ),
            (
                "devops",
                "terraform_destroy",
                "matches_pattern:terraform_destroy"
            )
        );
        assert_eq!(rule.notify_roles, ["infra_lead"]);
    }
}

#[test]
fn resolution_handles_full_rules_files_and_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("acme.yaml"),
        "name: acme\nrisk_patterns:\n  - {name: nuke, pattern: nuke, risk_contribution: 0.9}\n",
    )
    .unwrap();
    let text = "domains:\n  - devops:\n      escalation_rules:\n        night:\n          condition: 'environment:production'\n          action: require_teach_back\n        restart_web: 2\n  - acme.yaml:\n      escalation_rules:\n        nuke:\n          action: block\n";
    std::fs::write(dir.path().join("attesta.yaml"), text).unwrap();
    let p = crate::Policy::from_file(&dir.path().join("attesta.yaml")).unwrap();
    let resolved = resolve_policy(&p).unwrap();
    assert_eq!(resolved.members, ["devops", "acme"]);
    assert_eq!(resolved.warnings.len(), 1);
    assert!(resolved.warnings[0].contains("only to actions named 'restart_web'"));
    let s = resolved.scorer().unwrap();
    let c = ActionContext::new("launch")
        .with_arg("nuke")
        .with_environment("production");
    let v = s.verdict(&c, &s.assess(&c));
    assert_eq!(v.blocked_by.unwrap().profile, "acme");
    assert_eq!(v.required_challenge, Some(ChallengeType::MultiParty));
    let c = ActionContext::new("restart_web").with_environment("staging");
    assert_eq!(s.verdict(&c, &s.assess(&c)).required_approvers, Some(2));

    // Unknown names list the known ones; lenient mode warns and goes on.
    let error = resolve_policy(&policy("domain_strict: false\ndomains: [finance]\n"))
        .map(|r| r.warnings)
        .unwrap();
    assert!(
        error[0].contains("no domain profile named 'finance'"),
        "{error:?}"
    );
    let registry = DomainRegistry::with_presets().unwrap();
    let selection = |name: &str| crate::policy::DomainSelection {
        name: name.into(),
        escalation_rules: indexmap::IndexMap::new(),
    };
    let error = registry
        .resolve(&[selection("finance")], true, Path::new(""))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("the known names are data-pipeline (aliases"),
        "{error}"
    );
    assert!(matches!(
        registry.resolve(
            &[selection("devops"), selection("ops")],
            true,
            Path::new("")
        ),
        Err(DomainError::ListedTwice { .. })
    ));
    let error = registry
        .resolve(&[selection("missing.yaml")], true, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("missing.yaml: cannot read the domain profile"),
        "{error}"
    );

    // A full rule pointing at a pattern the profile lacks would never fire.
    let mut bad = selection("devops");
    bad.escalation_rules.insert(
        "x".into(),
        crate::policy::EscalationSetting::Rule(
            [(
                "condition".to_owned(),
                Value::Str("matches_pattern:nope".into()),
            )]
            .into_iter()
            .collect(),
        ),
    );
    let error = registry
        .resolve(&[bad], true, Path::new(""))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no pattern named 'nope'"), "{error}");
    assert!(
        resolve_policy(&crate::Policy::default())
            .unwrap()
            .profile
            .is_none()
    );
}

/// The documentation's counts and its example profile stay true.
#[test]
fn docs_domains_md_is_accurate() {
    let docs = include_str!("../../../../docs/domains.md");
    for name in ["healthcare", "infrastructure", "devops", "data-pipeline"] {
        let p = preset(name);
        let row = format!(
            "| {} | {} | {} | {} | {} | {} |",
            p.risk_patterns.len(),
            p.sensitive_terms.len(),
            p.critical_actions.len(),
            p.safe_actions.len(),
            p.escalation_rules.len(),
            crate::value::py_float_repr(p.production_multiplier)
        );
        assert!(
            docs.contains(&format!("| `{name}` |")) && docs.contains(&row),
            "{name}: {row}"
        );
    }
    let start = docs.find("# profiles/payments.yaml").expect("example");
    let end = start + docs[start..].find("```").expect("end of example");
    let example = DomainProfile::from_yaml(&docs[start..end], Path::new("payments.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(example.name, "payments");
    assert_eq!(example.risk_patterns.len(), 2);
    let refund = ActionContext::new("issue_refund").with_kwarg("order_id", "A-17");
    assert_eq!(
        example.challenge_templates[1].render_hints(&refund, "production"),
        ["A-17"]
    );
}
