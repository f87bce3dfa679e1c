#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly
//! `attesta domains list|show|check` and `attesta risk score --domain`, as a
//! user runs them: a real process, real files.

mod common;

use std::path::Path;
use std::process::Output;

use common::run_with_stdin;
use serde_json::Value;

fn run(args: &[&str], dir: &Path) -> Output {
    run_with_stdin(args, "", dir)
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

const PAYMENTS: &str = r"name: payments
display_name: Payments
description: Card data and money movement.
compliance_frameworks: [PCI DSS]
risk_patterns:
  - name: refund
    pattern: '\brefund'
    target: function_name
    risk_contribution: 0.7
    description: Refunds move money out
    compliance_refs: [PCI DSS 10.2]
sensitive_terms:
  card number: 0.9
critical_actions: ['wire_*']
safe_actions: [get_balance]
escalation_rules:
  - name: refunds
    condition: matches_pattern:refund
    action: require_multi_party
    required_approvers: 3
    notify_roles: [finance_lead]
challenge_templates:
  - question_template: Who asked for {function_name}?
    answer_hints: [ticket]
required_vocabulary: [chargeback]
";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write file");
}

/// `text` with every run of whitespace (line breaks and wrapping indents
/// included) as one space, to look for phrases the output may wrap.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_fits_80_columns(text: &str, what: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{what}: a line of {} columns:\n{line}",
            line.chars().count()
        );
    }
}

// ---- domains list ----------------------------------------------------------

#[test]
fn list_names_every_preset_with_aliases_and_counts() {
    let dir = temp();
    let out = run(&["domains", "list"], dir.path());
    ok(&out);
    let text = stdout(&out);
    for expected in [
        "data-pipeline — Data Pipeline / ETL (aliases data_pipeline, etl)",
        "devops — DevOps / Platform Operations (alias ops)",
        "healthcare — Healthcare / PHI (alias health)",
        "infrastructure — Cloud Infrastructure (alias infra)",
        "14 patterns, 11 terms, 5 critical and 8 safe actions, 3 rules",
        "production multiplier 1.4, risk floor 0.05",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_fits_80_columns(&text, "domains list");
}

#[test]
fn list_json_counts_what_show_json_holds() {
    let dir = temp();
    let out = run(&["domains", "list", "--json"], dir.path());
    ok(&out);
    let listed = json(&out);
    let listed = listed.as_array().expect("an array");
    let names: Vec<&str> = listed.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["data-pipeline", "devops", "healthcare", "infrastructure"]
    );
    let devops = &listed[1];
    assert_eq!(devops["aliases"], serde_json::json!(["ops"]));
    assert_eq!(devops["production_multiplier"], 1.4);
    assert_eq!(devops["base_risk_floor"], 0.05);
    for preset in listed {
        let name = preset["name"].as_str().unwrap();
        let shown = json(&run(&["domains", "show", name, "--json"], dir.path()));
        let counts = &preset["counts"];
        for key in [
            "risk_patterns",
            "critical_actions",
            "safe_actions",
            "escalation_rules",
            "challenge_templates",
        ] {
            assert_eq!(
                counts[key].as_u64(),
                Some(shown[key].as_array().unwrap().len() as u64),
                "{name}.{key}"
            );
        }
        assert_eq!(
            counts["sensitive_terms"].as_u64(),
            Some(shown["sensitive_terms"].as_object().unwrap().len() as u64),
            "{name}.sensitive_terms"
        );
    }
}

// ---- domains show ----------------------------------------------------------

#[test]
fn show_by_name_or_alias_prints_the_whole_profile() {
    let dir = temp();
    let by_name = run(&["domains", "show", "devops"], dir.path());
    ok(&by_name);
    let by_alias = run(&["domains", "show", " OPS "], dir.path());
    ok(&by_alias);
    assert_eq!(stdout(&by_name), stdout(&by_alias));
    let text = stdout(&by_name);
    for expected in [
        "devops — DevOps / Platform Operations",
        "aliases: ops",
        "Risk patterns (14)",
        "terraform_destroy  +0.95  target: any",
        r"regex: terraform\b[^\n]*\bdestroy\b|terraform_destroy|tf_destroy",
        "Sensitive terms (11)",
        "sudo 0.9",
        "Critical actions (5)",
        "Safe actions (8)",
        "terraform_plan",
        "Escalation rules (3)",
        "terraform_destroy: matches_pattern:terraform_destroy → block",
        "very_high_risk: risk_score >= 0.9 → require_multi_party (2 approvers)",
        "notify: infra_lead",
        "Challenge templates (3)",
        "[teach_back, from high] What is the rollback plan",
        "Required vocabulary (5)",
        "rollback, downtime",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn every_preset_shows_within_80_columns() {
    let dir = temp();
    for name in ["devops", "data-pipeline", "healthcare", "infrastructure"] {
        let out = run(&["domains", "show", name], dir.path());
        ok(&out);
        assert_fits_80_columns(&stdout(&out), name);
    }
    let healthcare = stdout(&run(&["domains", "show", "health"], dir.path()));
    assert!(
        healthcare.contains("compliance: HIPAA 45 CFR 164.502 (uses and disclosures);"),
        "{healthcare}"
    );
}

#[test]
fn show_json_is_the_profiles_own_shape() {
    let dir = temp();
    let out = run(&["domains", "show", "healthcare", "--json"], dir.path());
    ok(&out);
    let profile = json(&out);
    assert_eq!(profile["name"], "healthcare");
    assert_eq!(profile["risk_patterns"].as_array().unwrap().len(), 10);
    let phi = &profile["risk_patterns"][0];
    assert_eq!(phi["name"], "phi_access");
    assert_eq!(phi["target"], "any");
    assert!(phi["pattern"].as_str().unwrap().contains("phi_access"));
    assert!(
        phi["compliance_refs"][0]
            .as_str()
            .unwrap()
            .starts_with("HIPAA")
    );
    assert_eq!(profile["sensitive_terms"]["ssn"], 0.95);
    let rule = &profile["escalation_rules"][0];
    for key in [
        "name",
        "condition",
        "action",
        "required_approvers",
        "notify_roles",
    ] {
        assert!(!rule[key].is_null(), "escalation_rules[0].{key}");
    }
}

#[test]
fn show_reads_a_profile_file() {
    let dir = temp();
    write(dir.path(), "payments.yaml", PAYMENTS);
    let out = run(&["domains", "show", "payments.yaml"], dir.path());
    ok(&out);
    let text = stdout(&out);
    for expected in [
        "payments — Payments",
        "file: payments.yaml",
        "compliance frameworks: PCI DSS",
        "refund  +0.7  target: function_name",
        "compliance: PCI DSS 10.2",
        "card number 0.9",
        "refunds: matches_pattern:refund → require_multi_party (3 approvers)",
        "notify: finance_lead",
        "[quiz, from high] Who asked for {function_name}?",
        "chargeback",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let out = run(
        &["domains", "show", "./payments.yaml", "--json"],
        dir.path(),
    );
    ok(&out);
    let profile = json(&out);
    assert_eq!(profile["name"], "payments");
    assert_eq!(profile["escalation_rules"][0]["required_approvers"], 3);
}

#[test]
fn show_of_an_unknown_name_exits_2_listing_the_known_ones() {
    let dir = temp();
    let out = run(&["domains", "show", "finance"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    for expected in [
        "no domain profile named 'finance'",
        "data-pipeline (aliases data_pipeline, etl)",
        "devops (alias ops)",
        "healthcare (alias health)",
        "infrastructure (alias infra)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in: {err}");
    }
    // A path is always a file: a missing one is named.
    let out = run(&["domains", "show", "profiles/none.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("profiles/none.yaml"),
        "{}",
        stderr(&out)
    );
}

// ---- domains check ---------------------------------------------------------

#[test]
fn check_accepts_valid_files_with_a_summary() {
    let dir = temp();
    write(dir.path(), "payments.yaml", PAYMENTS);
    let preset = run(&["domains", "show", "devops", "--json"], dir.path());
    ok(&preset);
    // `show --json` is the file format (JSON is YAML): a preset's content,
    // renamed, is a valid profile of one's own.
    // Rules name their profile in the serde form; a file does not.
    let mut devops = json(&preset);
    devops["name"] = "my-devops".into();
    for rule in devops["escalation_rules"].as_array_mut().unwrap() {
        rule.as_object_mut().unwrap().remove("profile");
    }
    write(dir.path(), "my-devops.yaml", &devops.to_string());
    let out = run(
        &["domains", "check", "payments.yaml", "my-devops.yaml"],
        dir.path(),
    );
    ok(&out);
    let text = stdout(&out);
    for expected in [
        "payments.yaml: OK: payments (Payments): 1 pattern, 1 term, 1 critical and \
         1 safe action, 1 rule, 1 template",
        "my-devops.yaml: OK: my-devops (DevOps / Platform Operations): 14 patterns",
        "2 files: 2 valid, 0 not",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn check_reports_each_invalid_file_with_file_line_column_and_key() {
    let dir = temp();
    write(dir.path(), "payments.yaml", PAYMENTS);
    write(
        dir.path(),
        "regex.yaml",
        "name: bad\nrisk_patterns:\n  - name: x\n    pattern: 'a(?=b)'\n    risk_contribution: 0.5\n",
    );
    write(
        dir.path(),
        "target.yaml",
        "name: bad\nrisk_patterns:\n  - name: x\n    pattern: ab\n    target: name\n    risk_contribution: 0.5\n",
    );
    write(
        dir.path(),
        "range.yaml",
        "name: bad\nbase_risk_floor: 1.5\n",
    );
    let files = ["payments.yaml", "regex.yaml", "target.yaml", "range.yaml"];
    let mut args = vec!["domains", "check"];
    args.extend(files);
    let out = run(&args, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    for expected in [
        "payments.yaml: OK: payments",
        "regex.yaml:4:14: risk_patterns[0].pattern: ",
        "look-around",
        "target.yaml:5:13: risk_patterns[0].target: 'name' is not a pattern target; use function_name",
        "range.yaml:2:18: base_risk_floor: ",
        "out of range",
        "4 files: 1 valid, 3 not",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    args.push("--json");
    let out = run(&args, dir.path());
    assert_eq!(out.status.code(), Some(1));
    let results = json(&out);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["valid"], true);
    assert_eq!(results[0]["counts"]["escalation_rules"], 1);
    let range = &results[3];
    assert_eq!(range["valid"], false);
    assert_eq!(range["status"], "invalid");
    assert_eq!(range["file"], "range.yaml");
    assert_eq!(range["key"], "base_risk_floor");
    assert_eq!(
        (range["line"].as_u64(), range["column"].as_u64()),
        (Some(2), Some(18))
    );
    assert!(
        range["error"]
            .as_str()
            .unwrap()
            .starts_with("range.yaml:2:18: ")
    );
}

#[test]
fn check_of_a_missing_file_exits_2_and_still_checks_the_others() {
    let dir = temp();
    write(dir.path(), "payments.yaml", PAYMENTS);
    let out = run(
        &["domains", "check", "missing.yaml", "payments.yaml"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        text.contains("missing.yaml: cannot read the domain profile"),
        "{text}"
    );
    assert!(text.contains("payments.yaml: OK"), "{text}");
}

#[test]
fn check_notes_a_name_that_a_preset_already_has() {
    let dir = temp();
    write(dir.path(), "mine.yaml", "name: devops\n");
    let out = run(&["domains", "check", "mine.yaml"], dir.path());
    ok(&out);
    assert!(
        stdout(&out).contains("mine.yaml: note: the name 'devops' is also the built-in profile"),
        "{}",
        stdout(&out)
    );
}

// ---- risk score --domain ---------------------------------------------------

const TERRAFORM_DESTROY: &str = r#"{"function_name":"terraform_destroy","args":["-auto-approve"]}"#;
const PHI_READ: &str = r#"{"function_name":"get_patient_record","kwargs":{"patient_id":"12345"}}"#;

#[test]
fn devops_domain_blocks_terraform_destroy_and_says_why() {
    let dir = temp();
    let out = run_with_stdin(
        &["risk", "score", "--domain", "devops"],
        TERRAFORM_DESTROY,
        dir.path(),
    );
    ok(&out);
    let text = flat(&stdout(&out));
    for expected in [
        "domain devops: 0.97 → CRITICAL (domain scorer, first call)",
        "domain_patterns",
        "terraform_destroy (Terraform infrastructure destruction, +0.950)",
        "terraform_destroy (+0.95, target any): Terraform infrastructure destruction",
        "devops/terraform_destroy (matches_pattern:terraform_destroy -> block)",
        "blocked by devops/terraform_destroy: the gate denies it without asking",
        "notify: ops_lead, on_call_engineer, infra_lead",
        "CRITICAL: BLOCKED by devops/terraform_destroy",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The default scorer's own table is still there.
    assert!(
        text.contains("score 0.41 → MEDIUM (default scorer, first call)"),
        "{text}"
    );

    let out = run_with_stdin(
        &["risk", "score", "--domain", "devops", "--json"],
        TERRAFORM_DESTROY,
        dir.path(),
    );
    ok(&out);
    let report = json(&out);
    assert_eq!(
        report["level"], "medium",
        "the default scorer's result is unchanged"
    );
    assert_eq!(report["scorer"], "default");
    assert_eq!(report["effective"]["level"], "critical");
    assert_eq!(report["effective"]["challenge"], "multi_party");
    assert_eq!(
        report["effective"]["blocked_by"],
        "devops/terraform_destroy (matches_pattern:terraform_destroy -> block)"
    );
    let domain = &report["domain"];
    assert_eq!(domain["profile"], "devops");
    assert_eq!(domain["level"], "critical");
    let patterns = domain["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "domain_patterns")
        .expect("a domain_patterns factor");
    assert_eq!(patterns["contribution"], 0.95);
    assert!(
        patterns["evidence"]
            .as_str()
            .unwrap()
            .starts_with("terraform_destroy ("),
        "{patterns}"
    );
    assert_eq!(domain["patterns"][0]["name"], "terraform_destroy");
    let verdict = &domain["verdict"];
    assert_eq!(verdict["blocked_by"]["name"], "terraform_destroy");
    assert_eq!(verdict["blocked_by"]["action"], "block");
    assert_eq!(verdict["required_approvers"], 2);
    assert_eq!(verdict["required_challenge"], "multi_party");
    assert_eq!(
        verdict["notify"],
        serde_json::json!(["ops_lead", "on_call_engineer", "infra_lead"])
    );
}

#[test]
fn healthcare_domain_shows_hipaa_references_on_a_phi_read() {
    let dir = temp();
    let out = run_with_stdin(
        &["risk", "score", "--domain", "healthcare"],
        PHI_READ,
        dir.path(),
    );
    ok(&out);
    let text = flat(&stdout(&out));
    for expected in [
        "phi_access (+0.8, target any): Access to protected health information",
        "compliance: HIPAA 45 CFR 164.502 (uses and disclosures);",
        "HIPAA 45 CFR 164.514(d) (minimum necessary)",
        "healthcare/phi_access (matches_pattern:phi_access -> require_multi_party)",
        "at least 2 distinct approvers",
        "notify: privacy_officer",
        "the gate asks for multi_party (2 distinct approvers)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let out = run_with_stdin(
        &["risk", "score", "--domain", "health", "--json"],
        PHI_READ,
        dir.path(),
    );
    ok(&out);
    let report = json(&out);
    let refs = &report["domain"]["patterns"][0]["compliance_refs"];
    assert!(
        refs[0]
            .as_str()
            .unwrap()
            .starts_with("HIPAA 45 CFR 164.502"),
        "{refs}"
    );
    assert_eq!(
        report["effective"]["notify"],
        serde_json::json!(["privacy_officer"])
    );
    assert!(report["effective"]["blocked_by"].is_null());
}

#[test]
fn domains_from_flags_add_to_the_policys_own() {
    let dir = temp();
    write(dir.path(), "payments.yaml", PAYMENTS);
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    write(
        &dir.path().join("conf"),
        "attesta.yaml",
        "domain: healthcare\n",
    );
    let ctx = r#"{"function_name":"refund_order","args":["42"]}"#;
    // Comma list and repeats; a file path is read from the current directory,
    // not from the policy's.
    let out = run_with_stdin(
        &[
            "risk",
            "score",
            "--json",
            "--config",
            "conf/attesta.yaml",
            "--domain",
            "ops,./payments.yaml",
            "--domain",
            "health",
        ],
        ctx,
        dir.path(),
    );
    ok(&out);
    let report = json(&out);
    assert_eq!(
        report["domain"]["members"],
        serde_json::json!(["healthcare", "devops", "payments"])
    );
    assert_eq!(report["domain"]["profile"], "healthcare+devops+payments");
    assert!(
        stderr(&out).contains("--domain health: the profile 'healthcare' is already in use"),
        "{}",
        stderr(&out)
    );
    // The file's rule asks for three approvers, and the gate follows it.
    assert_eq!(report["domain"]["verdict"]["required_approvers"], 3);
    assert_eq!(report["effective"]["approvers_required"], 3);
    assert_eq!(
        report["effective"]["notify"],
        serde_json::json!(["finance_lead"])
    );

    // A file whose profile has an active profile's name is refused, not dropped.
    write(dir.path(), "mine.yaml", "name: healthcare\n");
    let out = run_with_stdin(
        &[
            "risk",
            "score",
            "--config",
            "conf/attesta.yaml",
            "--domain",
            "mine.yaml",
        ],
        ctx,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--domain mine.yaml: the file's profile is named 'healthcare'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_domain_flag_exits_2_naming_the_known_ones() {
    let dir = temp();
    let out = run_with_stdin(
        &["risk", "score", "--domain", "finance"],
        TERRAFORM_DESTROY,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--domain finance"), "{err}");
    assert!(err.contains("devops (alias ops)"), "{err}");
    let out = run_with_stdin(
        &["risk", "score", "--domain", "./nope.yaml"],
        TERRAFORM_DESTROY,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.yaml"), "{}", stderr(&out));
}

#[test]
fn jsonl_carries_the_domain_view_for_every_line() {
    let dir = temp();
    let trace = format!("{TERRAFORM_DESTROY}\n{{\"function_name\":\"get_status\"}}\n");
    let out = run_with_stdin(
        &["risk", "score", "--jsonl", "--domain", "devops"],
        &trace,
        dir.path(),
    );
    ok(&out);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["domain"]["verdict"]["blocked_by"]["name"],
        "terraform_destroy"
    );
    assert!(lines[1]["domain"]["verdict"]["blocked_by"].is_null());
    assert_eq!(
        lines[1]["domain"]["verdict"]["matched_rules"],
        serde_json::json!([])
    );
    assert!(lines[1]["effective"].get("blocked_by").is_none());
}

#[test]
fn without_domains_the_report_has_no_domain_section() {
    let dir = temp();
    let out = run_with_stdin(&["risk", "score", "--json"], TERRAFORM_DESTROY, dir.path());
    ok(&out);
    let report = json(&out);
    assert!(report.get("domain").is_none());
    assert!(report["effective"].get("blocked_by").is_none());
    assert!(report["effective"].get("notify").is_none());
    let text = stdout(&run_with_stdin(
        &["risk", "score"],
        TERRAFORM_DESTROY,
        dir.path(),
    ));
    assert!(!text.contains("domain"), "{text}");
}

#[test]
fn startup_warnings_reach_stderr() {
    let dir = temp();
    write(
        dir.path(),
        "attesta.yaml",
        "domains:\n  - devops:\n      escalation_rules: {deploy_rocket: 3}\n",
    );
    let out = run_with_stdin(
        &["risk", "score"],
        r#"{"function_name":"deploy_rocket"}"#,
        dir.path(),
    );
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains(
            "attesta: warning: domains: devops: 'deploy_rocket' is neither a risk pattern"
        ),
        "{err}"
    );
    // The shorthand still applies to actions of that name.
    assert!(
        stdout(&out).contains("at least 3 distinct approvers"),
        "{}",
        stdout(&out)
    );
}

#[cfg(unix)]
#[test]
fn mcp_wrap_prints_startup_warnings_too() {
    let dir = temp();
    write(
        dir.path(),
        "attesta.yaml",
        "domains:\n  - devops:\n      escalation_rules: {deploy_rocket: 3}\n",
    );
    // `true` stands in for a server that exits at once.
    let out = run(&["mcp", "wrap", "--", "true"], dir.path());
    ok(&out);
    assert!(
        stderr(&out).contains("attesta: warning: domains: devops: 'deploy_rocket'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn show_json_saved_to_a_file_loads_as_a_profile() {
    let dir = temp();
    for preset in ["devops", "data-pipeline", "healthcare", "infrastructure"] {
        let out = run(&["domains", "show", preset, "--json"], dir.path());
        ok(&out);
        let mut profile = json(&out);
        // A copy under its own name (a built-in's name would only be noted).
        profile["name"] = Value::from(format!("my-{preset}"));
        let file = format!("{preset}-copy.yaml");
        write(dir.path(), &file, &profile.to_string());
        let checked = run(&["domains", "check", &file, "--json"], dir.path());
        assert_eq!(
            checked.status.code(),
            Some(0),
            "{preset}: {}",
            stdout(&checked)
        );
        // And it round-trips: shown again, it is the same profile.
        let shown = json(&run(&["domains", "show", &file, "--json"], dir.path()));
        profile["name"] = shown["name"].clone();
        assert_eq!(shown, profile, "{preset}");
    }
}
