//! Policy files on disk: every test writes a real `attesta.yaml` /
//! `attesta.toml` into a fresh temp dir and loads it with
//! `Policy::from_file`.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test set-up helpers: a failed set-up must stop the test loudly"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use attesta::policy::{
    DomainSelection, EscalationSetting, FailMode, GateMode, Policy, PolicyError, RubberStampMode,
    SourceLocation,
};
use attesta::{ChallengeType, RiskLevel, Value};
use indexmap::IndexMap;
use tempfile::TempDir;

/// A temp dir holding policy files for one test.
struct Dir(TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("temp dir"))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(&path, text).expect("write policy file");
        path
    }

    fn load(&self, name: &str, text: &str) -> Policy {
        let path = self.write(name, text);
        Policy::from_file(&path).unwrap_or_else(|e| panic!("{name} should load: {e}"))
    }

    fn error(&self, name: &str, text: &str) -> PolicyError {
        let path = self.write(name, text);
        match Policy::from_file(&path) {
            Ok(policy) => panic!("{name} should be rejected, loaded {policy:?}"),
            Err(e) => e,
        }
    }

    /// Loads a file that must be rejected for a bad value, and checks the
    /// message names the file, the line and the key path. Returns the
    /// message for further checks.
    fn invalid(&self, name: &str, text: &str, line: usize, key: &str) -> String {
        let error = self.error(name, text);
        let message = error.to_string();
        let file = self.path().join(name);
        assert!(
            message.starts_with(&format!("{}:{line}:", file.display())),
            "expected {}:{line}: at the start of: {message}",
            file.display()
        );
        assert!(
            message.contains(&format!(": {key}: ")),
            "expected key {key} in: {message}"
        );
        match &error {
            PolicyError::Invalid {
                key: k,
                location,
                path,
                ..
            } => {
                assert_eq!(k, key);
                assert_eq!(location.line, line);
                assert_eq!(path, &file);
            }
            other => panic!("expected an Invalid error, got {other:?}"),
        }
        message
    }
}

const FULL_YAML: &str = r#"# Every section, with values that differ from the defaults.
policy:
  minimum_review_seconds:
    high: 12
    critical: 45.5
  min_review_seconds:
    confirm: 2
    teach-back: 40
  require_multi_party:
    critical: 3
  challenge_map:
    low: confirm
    HIGH: teach_back
  fail_mode: Escalate
  timeout_seconds: 120
  mode: shadow
  rubber_stamp: reject
  allow_hint_override: true
  default_environment: staging
risk:
  overrides:
    deploy_prod: critical
    "Service.read": LOW
  amplifiers:
    - pattern: "^prod_"
      boost: 0.25
    - pattern: "drop|truncate"
      boost: 0.5
trust:
  influence: 0.4
  ceiling: 0.8
  initial_score: 0.2
  decay_rate: 0.02
  incident_penalty: 0.5
  history_limit: 500
  store: state/trust.json
domain: devops
domains:
  - etl:
      escalation_rules:
        pii_export: 3
        nightly_drop:
          condition: "matches_pattern:drop_table"
          action: block
          required_approvers: 2
          notify_roles: [dba, security]
          description: Dropping tables needs a human
domain_strict: true
audit:
  backend: legacy
  path: logs/audit.jsonl
  tenant_id: acme
  hmac_key: s3cret
"#;

const FULL_TOML: &str = r#"# The same policy as FULL_YAML.
domain = "devops"
domain_strict = true

[policy]
fail_mode = "Escalate"
timeout_seconds = 120
mode = "shadow"
rubber_stamp = "reject"
allow_hint_override = true
default_environment = "staging"

[policy.minimum_review_seconds]
high = 12
critical = 45.5

[policy.min_review_seconds]
confirm = 2
teach-back = 40

[policy.require_multi_party]
critical = 3

[policy.challenge_map]
low = "confirm"
HIGH = "teach_back"

[risk.overrides]
deploy_prod = "critical"
"Service.read" = "LOW"

[[risk.amplifiers]]
pattern = "^prod_"
boost = 0.25

[[risk.amplifiers]]
pattern = "drop|truncate"
boost = 0.5

[trust]
influence = 0.4
ceiling = 0.8
initial_score = 0.2
decay_rate = 0.02
incident_penalty = 0.5
history_limit = 500
store = "state/trust.json"

[[domains]]
[domains.etl.escalation_rules]
pii_export = 3

[domains.etl.escalation_rules.nightly_drop]
condition = "matches_pattern:drop_table"
action = "block"
required_approvers = 2
notify_roles = ["dba", "security"]
description = "Dropping tables needs a human"

[audit]
backend = "legacy"
path = "logs/audit.jsonl"
tenant_id = "acme"
hmac_key = "s3cret"
"#;

#[test]
fn full_yaml_file_sets_policy_and_risk() {
    let dir = Dir::new();
    let p = dir.load("attesta.yaml", FULL_YAML);

    assert_eq!(
        p.source.as_deref(),
        Some(dir.path().join("attesta.yaml").as_path())
    );
    assert_eq!(p.minimum_review_seconds.get(&RiskLevel::High), Some(&12.0));
    assert_eq!(
        p.minimum_review_seconds.get(&RiskLevel::Critical),
        Some(&45.5)
    );
    assert_eq!(
        p.minimum_review_seconds.len(),
        2,
        "levels not given are not filled in"
    );
    assert_eq!(p.min_review_seconds[&ChallengeType::Confirm], 2.0);
    assert_eq!(
        p.min_review_seconds[&ChallengeType::Quiz],
        10.0,
        "default kept"
    );
    assert_eq!(p.min_review_seconds[&ChallengeType::TeachBack], 40.0);
    assert_eq!(p.required_approvers, 3);
    assert_eq!(p.challenge_for(RiskLevel::Low), ChallengeType::Confirm);
    assert_eq!(
        p.challenge_for(RiskLevel::Medium),
        ChallengeType::Confirm,
        "default kept"
    );
    assert_eq!(p.challenge_for(RiskLevel::High), ChallengeType::TeachBack);
    assert_eq!(
        p.challenge_for(RiskLevel::Critical),
        ChallengeType::MultiParty
    );
    assert_eq!(p.fail_mode, FailMode::Escalate);
    assert_eq!(p.timeout, Duration::from_mins(2));
    assert_eq!(p.mode, GateMode::Shadow);
    assert_eq!(p.rubber_stamp, RubberStampMode::Reject);
    assert!(p.allow_hint_override);
    assert!(!p.allow_critical_auto_approve);
    assert_eq!(p.default_environment.as_deref(), Some("staging"));
    assert_eq!(
        p.risk_overrides
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [
            ("deploy_prod", RiskLevel::Critical),
            ("Service.read", RiskLevel::Low)
        ]
    );
    let amplifiers: Vec<(&str, f64)> = p
        .risk_amplifiers
        .iter()
        .map(|a| (a.pattern.as_str(), a.boost))
        .collect();
    assert_eq!(amplifiers, [("^prod_", 0.25), ("drop|truncate", 0.5)]);
    assert!(p.risk_amplifiers[0].pattern.is_match("prod_deploy"));
}

#[test]
fn full_yaml_file_sets_trust_domains_and_audit() {
    let dir = Dir::new();
    let p = dir.load("attesta.yaml", FULL_YAML);

    let trust = p.trust.as_ref().expect("trust section enables trust");
    assert_eq!(
        (
            trust.influence,
            trust.ceiling,
            trust.initial_score,
            trust.decay_rate
        ),
        (0.4, 0.8, 0.2, 0.02)
    );
    assert_eq!((trust.incident_penalty, trust.history_limit), (0.5, 500));
    assert_eq!(
        trust.store_path.as_deref(),
        Some(dir.path().join("state/trust.json").as_path())
    );

    let mut nightly_drop = IndexMap::new();
    nightly_drop.insert(
        "condition".to_owned(),
        Value::from("matches_pattern:drop_table"),
    );
    nightly_drop.insert("action".to_owned(), Value::from("block"));
    nightly_drop.insert("required_approvers".to_owned(), Value::Int(2));
    nightly_drop.insert(
        "notify_roles".to_owned(),
        Value::from(vec!["dba", "security"]),
    );
    nightly_drop.insert(
        "description".to_owned(),
        Value::from("Dropping tables needs a human"),
    );
    let mut etl_rules = IndexMap::new();
    etl_rules.insert("pii_export".to_owned(), EscalationSetting::Approvers(3));
    etl_rules.insert(
        "nightly_drop".to_owned(),
        EscalationSetting::Rule(nightly_drop),
    );
    assert_eq!(
        p.domains,
        [
            DomainSelection {
                name: "devops".into(),
                escalation_rules: IndexMap::new()
            },
            DomainSelection {
                name: "etl".into(),
                escalation_rules: etl_rules
            },
        ]
    );
    assert!(p.domain_strict);
    assert!(p.warnings.is_empty());

    assert_eq!(p.audit.path, dir.path().join("logs/audit.jsonl"));
    assert_eq!(p.audit.tenant_id, "acme");
    assert_eq!(p.audit.hmac_key.as_deref(), Some("s3cret"));
}

#[test]
fn yaml_and_toml_files_give_equal_policies() {
    let dir = Dir::new();
    let mut yaml = dir.load("attesta.yaml", FULL_YAML);
    let mut toml = dir.load("attesta.toml", FULL_TOML);
    assert_ne!(
        yaml,
        Policy::default(),
        "the comparison must not be vacuous"
    );
    // TOML tables do not keep file order on their own; the loader restores it.
    let rule_names =
        |p: &Policy| -> Vec<String> { p.domains[1].escalation_rules.keys().cloned().collect() };
    assert_eq!(rule_names(&toml), ["pii_export", "nightly_drop"]);
    let override_names: Vec<&String> = toml.risk_overrides.keys().collect();
    assert_eq!(override_names, ["deploy_prod", "Service.read"]);
    let EscalationSetting::Rule(rule) = &toml.domains[1].escalation_rules["nightly_drop"] else {
        panic!("nightly_drop is a full rule");
    };
    let rule_keys: Vec<&String> = rule.keys().collect();
    assert_eq!(
        rule_keys,
        [
            "condition",
            "action",
            "required_approvers",
            "notify_roles",
            "description"
        ]
    );

    // Only the file name differs.
    yaml.source = None;
    toml.source = None;
    assert_eq!(yaml, toml);
}

#[test]
fn the_issue_domains_shorthand_loads() {
    let dir = Dir::new();
    let text = "\
domain_strict: false
domains:
  - healthcare:
      escalation_rules:
        phi_access: 3
  - infrastructure:
      escalation_rules:
        production_deploy: 2
        database_drop: 4
";
    let p = dir.load("attesta.yaml", text);
    let rules = |pairs: &[(&str, u32)]| -> IndexMap<String, EscalationSetting> {
        pairs
            .iter()
            .map(|(k, n)| ((*k).to_owned(), EscalationSetting::Approvers(*n)))
            .collect()
    };
    assert_eq!(
        p.domains,
        [
            DomainSelection {
                name: "healthcare".into(),
                escalation_rules: rules(&[("phi_access", 3)])
            },
            DomainSelection {
                name: "infrastructure".into(),
                escalation_rules: rules(&[("production_deploy", 2), ("database_drop", 4)]),
            },
        ]
    );
    // Both are built-in presets now, so nothing to warn about.
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // An unknown name with domain_strict false is a warning naming the
    // file, the line and the entry.
    let p = dir.load(
        "attesta.yaml",
        "domain_strict: false\ndomains:\n  - finance:\n      escalation_rules:\n        wire: 3\n",
    );
    let file = dir.path().join("attesta.yaml");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].starts_with(&format!("{}:3:5: domains[0].finance: ", file.display())));
    assert!(
        p.warnings[0].contains("not a known domain profile"),
        "{}",
        p.warnings[0]
    );
}

#[test]
fn unknown_domains_are_errors_when_strict() {
    let dir = Dir::new();
    let text = "domains:\n  - finance:\n      escalation_rules:\n        wire: 3\n";
    let message = dir.invalid("attesta.yaml", text, 2, "domains[0].finance");
    assert!(
        message.contains("'finance' is not a known domain profile"),
        "{message}"
    );
    assert!(
        message.contains("devops (alias ops), healthcare (alias health)"),
        "lists the known names: {message}"
    );
    assert!(message.contains("domain_strict: false"), "{message}");
    let message = dir.invalid("attesta.toml", "domain = \"finance\"\n", 1, "domain");
    assert!(message.contains("not a known domain profile"), "{message}");
}

#[test]
fn domain_takes_a_name_or_a_list_and_comes_before_domains() {
    let dir = Dir::new();
    let names = |p: &Policy| p.domains.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&dir.load("attesta.yaml", "domain: devops\n")),
        ["devops"]
    );
    assert_eq!(
        names(&dir.load("attesta.yml", "domain: [devops, etl]\n")),
        ["devops", "etl"]
    );
    assert_eq!(
        names(&dir.load("attesta.toml", "domains = [\"etl\"]\ndomain = [\"ops\"]\n")),
        ["ops", "etl"]
    );
    let p = dir.load("attesta.yaml", "domain: [devops]\n");
    assert!(p.domains[0].escalation_rules.is_empty());
}

#[test]
fn a_domain_listed_twice_is_an_error_even_through_an_alias() {
    let dir = Dir::new();
    let message = dir.invalid(
        "attesta.yaml",
        "domain: devops\ndomains:\n  - ops\n",
        3,
        "domains[0]",
    );
    assert!(
        message.contains("'ops' names the same profile as 'devops', listed at line 1"),
        "{message}"
    );
    dir.invalid("attesta.yaml", "domain: [etl, ETL]\n", 1, "domain[1]");
}

#[test]
fn escalation_rules_are_validated() {
    let dir = Dir::new();
    let rules = |body: &str| format!("domains:\n  - devops:\n      escalation_rules:\n{body}");
    dir.invalid(
        "attesta.yaml",
        &rules("        r: 0\n"),
        4,
        "domains[0].devops.escalation_rules.r",
    );
    dir.invalid(
        "attesta.yaml",
        &rules("        r: 2.5\n"),
        4,
        "domains[0].devops.escalation_rules.r",
    );
    let message = dir.invalid(
        "attesta.yaml",
        &rules("        r:\n          action: block\n          when: always\n"),
        6,
        "domains[0].devops.escalation_rules.r.when",
    );
    assert!(message.contains("unknown key 'when'"), "{message}");
    let message = dir.invalid(
        "attesta.yaml",
        &rules("        r:\n          action: nuke\n"),
        5,
        "domains[0].devops.escalation_rules.r.action",
    );
    assert!(
        message.contains("require_multi_party, notify_compliance, block"),
        "{message}"
    );
    let message = dir.invalid(
        "attesta.yaml",
        &rules("        r:\n          condition: bulk_student_export\n"),
        5,
        "domains[0].devops.escalation_rules.r.condition",
    );
    assert!(message.contains("would never fire"), "{message}");
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    let dir = Dir::new();
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  fail_mod: deny\n",
        2,
        "policy.fail_mod",
    );
    assert!(
        message.contains("unknown key 'fail_mod'; did you mean 'fail_mode'?"),
        "{message}"
    );
    let message = dir.invalid(
        "attesta.toml",
        "[trust]\nstorage_path = \"x\"\n",
        2,
        "trust.storage_path",
    );
    assert!(message.contains("trust.store"), "{message}");
    dir.invalid("attesta.yaml", "colour: blue\n", 1, "colour");
    dir.invalid(
        "attesta.yaml",
        "audit:\n  format: jsonl\n",
        2,
        "audit.format",
    );
}

#[test]
fn wrong_types_are_errors() {
    let dir = Dir::new();
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  timeout_seconds: '300'\n",
        2,
        "policy.timeout_seconds",
    );
    assert!(
        message.contains("write the number without quotes"),
        "{message}"
    );
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  allow_hint_override: yes\n",
        2,
        "policy.allow_hint_override",
    );
    assert!(message.contains("write true or false"), "{message}");
    let message = dir.invalid("attesta.toml", "trust = 3\n", 1, "trust");
    assert!(message.contains("expected a mapping"), "{message}");
    dir.invalid("attesta.yaml", "domain_strict: 1\n", 1, "domain_strict");
    dir.invalid(
        "attesta.yaml",
        "risk:\n  amplifiers: {pattern: x}\n",
        2,
        "risk.amplifiers",
    );
    dir.invalid(
        "attesta.toml",
        "[policy]\ndefault_environment = 2024-01-01\n",
        2,
        "policy.default_environment",
    );
    dir.invalid(
        "attesta.yaml",
        "policy:\n  default_environment: '  '\n",
        2,
        "policy.default_environment",
    );
}

#[test]
fn out_of_range_values_are_errors() {
    let dir = Dir::new();
    let cases: &[(&str, usize, &str)] = &[
        (
            "policy:\n  timeout_seconds: 0\n",
            2,
            "policy.timeout_seconds",
        ),
        (
            "policy:\n  timeout_seconds: 86401\n",
            2,
            "policy.timeout_seconds",
        ),
        (
            "policy:\n  timeout_seconds: .nan\n",
            2,
            "policy.timeout_seconds",
        ),
        (
            "policy:\n  minimum_review_seconds:\n    high: -1\n",
            3,
            "policy.minimum_review_seconds.high",
        ),
        (
            "policy:\n  min_review_seconds:\n    quiz: .inf\n",
            3,
            "policy.min_review_seconds.quiz",
        ),
        (
            "policy:\n  multi_party:\n    required_approvers: 1\n",
            3,
            "policy.multi_party.required_approvers",
        ),
        (
            "policy:\n  multi_party:\n    required_approvers: 17\n",
            3,
            "policy.multi_party.required_approvers",
        ),
        (
            "policy:\n  require_multi_party:\n    critical: 0\n",
            3,
            "policy.require_multi_party.critical",
        ),
        ("trust:\n  influence: 1.5\n", 2, "trust.influence"),
        ("trust:\n  decay_rate: -0.1\n", 2, "trust.decay_rate"),
        ("trust:\n  history_limit: 0\n", 2, "trust.history_limit"),
        ("trust:\n  initial_score: 0.95\n", 2, "trust.initial_score"),
        (
            "risk:\n  amplifiers:\n    - pattern: x\n      boost: -0.2\n",
            4,
            "risk.amplifiers[0].boost",
        ),
    ];
    for (text, line, key) in cases {
        let message = dir.invalid("attesta.yaml", text, *line, key);
        assert!(
            message.contains("out of range")
                || message.contains("finite")
                || message.contains("above ceiling"),
            "{message}"
        );
    }
    let message = dir.invalid(
        "attesta.toml",
        "[policy]\ntimeout_seconds = -5\n",
        2,
        "policy.timeout_seconds",
    );
    assert!(
        message.contains("greater than 0 and at most 86400"),
        "{message}"
    );
}

#[test]
fn unknown_levels_challenges_and_modes_are_errors() {
    let dir = Dir::new();
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  challenge_map:\n    urgent: quiz\n",
        3,
        "policy.challenge_map.urgent",
    );
    assert!(
        message.contains("'urgent' is not a risk level; use low, medium, high or critical"),
        "{message}"
    );
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  challenge_map:\n    high: totp\n",
        3,
        "policy.challenge_map.high",
    );
    assert!(
        message.contains("'totp' is not a challenge type"),
        "{message}"
    );
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  fail_mode: sometimes\n",
        2,
        "policy.fail_mode",
    );
    assert!(
        message.ends_with("'sometimes' is not a fail mode; use deny, allow or escalate"),
        "{message}"
    );
    dir.invalid(
        "attesta.toml",
        "[policy]\nmode = \"paranoid\"\n",
        2,
        "policy.mode",
    );
    dir.invalid(
        "attesta.toml",
        "[policy]\nrubber_stamp = \"warn\"\n",
        2,
        "policy.rubber_stamp",
    );
    dir.invalid(
        "attesta.yaml",
        "risk:\n  overrides:\n    deploy: severe\n",
        3,
        "risk.overrides.deploy",
    );
    dir.invalid(
        "attesta.yaml",
        "policy:\n  min_review_seconds:\n    totp: 3\n",
        3,
        "policy.min_review_seconds.totp",
    );
    let message = dir.invalid(
        "attesta.yaml",
        "audit:\n  backend: trailproof\n",
        2,
        "audit.backend",
    );
    assert!(
        message.contains("not supported by this implementation; remove the key"),
        "{message}"
    );
}

#[test]
fn fail_mode_and_mode_tokens_are_trimmed_and_case_insensitive() {
    let dir = Dir::new();
    let p = dir.load(
        "attesta.yaml",
        "policy:\n  fail_mode: ' ALLOW '\n  mode: Audit-Only\n",
    );
    assert_eq!(p.fail_mode, FailMode::Allow);
    assert_eq!(p.mode, GateMode::AuditOnly);
}

#[test]
fn duplicate_keys_are_errors_in_both_formats() {
    let dir = Dir::new();
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  fail_mode: deny\n  fail_mode: allow\n",
        3,
        "policy.fail_mode",
    );
    assert!(
        message.contains("given twice (first at line 2)"),
        "{message}"
    );
    let message = dir.invalid(
        "attesta.toml",
        "[policy]\nfail_mode = \"deny\"\nfail_mode = \"allow\"\n",
        3,
        "policy.fail_mode",
    );
    assert!(
        message.contains("given twice (first at line 2)"),
        "{message}"
    );
    // Level keys differ only in case: still the same level.
    dir.invalid(
        "attesta.yaml",
        "challenge_map:\n  HIGH: quiz\n  high: confirm\n",
        3,
        "challenge_map.high",
    );
    // Two spellings of one setting.
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  challenge_map: {high: quiz}\n  challenges: {low: confirm}\n",
        3,
        "policy.challenges",
    );
    assert!(
        message.contains("policy.challenge_map (line 2) already sets this"),
        "{message}"
    );
}

#[test]
fn critical_auto_approve_needs_the_explicit_opt_in() {
    let dir = Dir::new();
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  challenge_map:\n    critical: auto_approve\n",
        3,
        "policy.challenge_map.critical",
    );
    assert!(
        message.contains("policy.allow_critical_auto_approve: true"),
        "{message}"
    );
    let p = dir.load(
        "attesta.yaml",
        "policy:\n  allow_critical_auto_approve: true\n  challenge_map:\n    critical: auto-approve\n",
    );
    assert_eq!(
        p.challenge_for(RiskLevel::Critical),
        ChallengeType::AutoApprove
    );
    assert!(p.allow_critical_auto_approve);
}

#[test]
fn partial_challenge_maps_keep_the_other_defaults() {
    let dir = Dir::new();
    let p = dir.load(
        "attesta.yaml",
        "policy:\n  challenge_map:\n    HIGH: teach-back\n",
    );
    assert_eq!(p.challenge_for(RiskLevel::Low), ChallengeType::AutoApprove);
    assert_eq!(p.challenge_for(RiskLevel::Medium), ChallengeType::Confirm);
    assert_eq!(p.challenge_for(RiskLevel::High), ChallengeType::TeachBack);
    assert_eq!(
        p.challenge_for(RiskLevel::Critical),
        ChallengeType::MultiParty
    );
}

#[test]
fn require_multi_party_follows_the_reference_without_its_silent_downgrade() {
    let dir = Dir::new();
    let p = dir.load(
        "attesta.yaml",
        "policy:\n  require_multi_party:\n    critical: 3\n",
    );
    assert_eq!(
        (p.required_approvers, p.challenge_for(RiskLevel::Critical)),
        (3, ChallengeType::MultiParty)
    );

    let p = dir.load(
        "attesta.yaml",
        "policy:\n  require_multi_party:\n    critical: 1\n",
    );
    assert_eq!(
        p.challenge_for(RiskLevel::Critical),
        ChallengeType::TeachBack
    );
    let p = dir.load(
        "attesta.yaml",
        "policy:\n  require_multi_party:\n    critical: 1\n  challenge_map:\n    critical: quiz\n",
    );
    assert_eq!(
        p.challenge_for(RiskLevel::Critical),
        ChallengeType::Quiz,
        "an explicit map wins"
    );

    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  require_multi_party:\n    high: 2\n",
        3,
        "policy.require_multi_party.high",
    );
    assert!(
        message.contains("policy.challenge_map.high: multi_party"),
        "{message}"
    );

    let p = dir.load(
        "attesta.toml",
        "[policy.multi_party]\nrequired_approvers = 4\n",
    );
    assert_eq!(p.required_approvers, 4);
    let message = dir.invalid(
        "attesta.yaml",
        "policy:\n  require_multi_party: {critical: 3}\n  multi_party: {required_approvers: 2}\n",
        3,
        "policy.multi_party.required_approvers",
    );
    assert!(
        message.contains(
            "asks for 2 approvers but policy.require_multi_party.critical (line 2) asks for 3"
        ),
        "{message}"
    );
}

#[test]
fn legacy_flat_keys_load_and_may_not_repeat_a_policy_key() {
    let dir = Dir::new();
    let text = "\
min_review_seconds: 7
challenge_map:
  high: teach_back
fail_mode: allow
timeout_seconds: 42.5
allow_hint_override: true
default_environment: production
";
    let p = dir.load("attesta.yaml", text);
    let per_level: Vec<(RiskLevel, f64)> = p
        .minimum_review_seconds
        .iter()
        .map(|(l, s)| (*l, *s))
        .collect();
    assert_eq!(
        per_level,
        [
            (RiskLevel::Medium, 7.0),
            (RiskLevel::High, 7.0),
            (RiskLevel::Critical, 7.0)
        ]
    );
    assert_eq!(
        p.min_review_for(RiskLevel::Low, ChallengeType::Confirm),
        Duration::from_secs(3),
        "low is untouched"
    );
    assert_eq!(p.challenge_for(RiskLevel::High), ChallengeType::TeachBack);
    assert_eq!(p.challenge_for(RiskLevel::Low), ChallengeType::AutoApprove);
    assert_eq!(p.fail_mode, FailMode::Allow);
    assert_eq!(p.timeout, Duration::from_secs_f64(42.5));
    assert!(p.allow_hint_override);
    assert_eq!(p.default_environment.as_deref(), Some("production"));

    let p = dir.load("attesta.yaml", "challenges:\n  low: confirm\n");
    assert_eq!(p.challenge_for(RiskLevel::Low), ChallengeType::Confirm);

    let message = dir.invalid(
        "attesta.yaml",
        "fail_mode: allow\npolicy:\n  fail_mode: deny\n",
        3,
        "policy.fail_mode",
    );
    assert!(
        message.contains("fail_mode (line 1) already sets this"),
        "{message}"
    );
    dir.invalid(
        "attesta.yaml",
        "policy:\n  minimum_review_seconds: {high: 3}\nmin_review_seconds: 5\n",
        3,
        "min_review_seconds",
    );
    let message = dir.invalid(
        "attesta.yaml",
        "min_review_seconds: {confirm: 3}\n",
        1,
        "min_review_seconds",
    );
    assert!(message.contains("policy.min_review_seconds"), "{message}");
}

#[test]
fn trust_is_on_when_the_section_is_present() {
    let dir = Dir::new();
    assert_eq!(dir.load("attesta.yaml", "policy: {}\n").trust, None);
    let trust = dir
        .load("attesta.yaml", "trust: {}\n")
        .trust
        .expect("enabled by presence");
    assert_eq!(trust.influence, 0.3);
    assert_eq!(
        trust.store_path,
        Some(dir.path().join(".attesta/trust.json"))
    );
    assert_eq!(
        dir.load("attesta.toml", "[trust]\nenabled = false\nceiling = 0.5\n")
            .trust,
        None
    );
    // Even a disabled section is checked.
    dir.invalid(
        "attesta.yaml",
        "trust:\n  enabled: false\n  ceiling: 2\n",
        3,
        "trust.ceiling",
    );
}

#[test]
fn relative_paths_resolve_against_the_file_directory() {
    let dir = Dir::new();
    let absolute = dir.path().join("elsewhere/trust.json");
    let text = format!(
        "audit:\n  path: logs/audit.jsonl\ntrust:\n  store: '{}'\n",
        absolute.display()
    );
    let p = dir.load("conf/attesta.yaml", &text);
    assert_eq!(p.audit.path, dir.path().join("conf/logs/audit.jsonl"));
    assert_eq!(p.trust.expect("trust on").store_path, Some(absolute));

    let p = dir.load("conf/attesta.toml", "[trust]\n");
    assert_eq!(
        p.trust.expect("trust on").store_path,
        Some(dir.path().join("conf/.attesta/trust.json"))
    );
}

#[test]
fn amplifier_patterns_must_compile() {
    let dir = Dir::new();
    let text = "risk:\n  amplifiers:\n    - pattern: '(?<=prod)_deploy'\n      boost: 0.2\n";
    let message = dir.invalid("attesta.yaml", text, 3, "risk.amplifiers[0].pattern");
    // The regex crate's own explanation, and the note about what it lacks.
    assert!(
        message.contains("look-around, including look-ahead and look-behind, is not supported"),
        "{message}"
    );
    assert!(
        message.contains("no look-around or back-references"),
        "{message}"
    );
    let message = dir.invalid(
        "attesta.yaml",
        "risk:\n  amplifiers:\n    - pattern: deploy\n",
        3,
        "risk.amplifiers[0]",
    );
    assert!(message.contains("has no boost"), "{message}");
}

#[test]
fn empty_files_give_the_default_policy() {
    let dir = Dir::new();
    for (name, text) in [
        ("a.yaml", ""),
        ("b.yml", "# nothing yet\n"),
        ("c.yaml", "{}\n"),
        ("d.toml", ""),
    ] {
        let p = dir.load(name, text);
        let mut expected = Policy {
            source: Some(dir.path().join(name)),
            ..Policy::default()
        };
        // The audit log and key paths are anchored at the file's directory.
        expected.audit.path = dir.path().join(".attesta/audit.jsonl");
        expected.audit.key_path = dir.path().join(".attesta/audit.key");
        expected.audit.public_key_path = dir.path().join(".attesta/audit.pub");
        assert_eq!(p, expected, "{name}");
    }
}

#[test]
fn a_document_that_is_not_a_mapping_is_an_error() {
    let dir = Dir::new();
    let error = dir.error("attesta.yaml", "- policy\n- risk\n");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "{}:1:1: the file must be a mapping",
            dir.path().join("attesta.yaml").display()
        )),
        "{message}"
    );
    assert_eq!(
        error.location(),
        Some(SourceLocation { line: 1, column: 1 })
    );
}

#[test]
fn syntax_errors_name_the_file_and_position() {
    let dir = Dir::new();
    let error = dir.error(
        "attesta.yaml",
        "policy:\n  fail_mode: deny\n   mode: shadow\n",
    );
    let PolicyError::Syntax {
        location: Some(at), ..
    } = &error
    else {
        panic!("expected a syntax error with a position, got {error:?}");
    };
    assert_eq!(at.line, 3);
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:3:", dir.path().join("attesta.yaml").display()))
    );
    let error = dir.error("attesta.toml", "[policy\nfail_mode = \"deny\"\n");
    assert!(
        matches!(
            error,
            PolicyError::Syntax {
                location: Some(SourceLocation { line: 1, .. }),
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_billion_laughs_file_is_rejected_quickly() {
    let dir = Dir::new();
    let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        writeln!(text, "{name}: &{name} [{refs}]").expect("writing to a String");
    }
    let started = Instant::now();
    let error = dir.error("attesta.yaml", &text);
    let elapsed = started.elapsed();
    assert!(matches!(error, PolicyError::Syntax { .. }), "{error:?}");
    assert!(error.to_string().contains("anchors and aliases"), "{error}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn files_are_refused_by_name_before_they_are_read() {
    let dir = Dir::new();
    let error = dir.error("attesta.json", "{}");
    assert!(matches!(error, PolicyError::UnsupportedExtension { .. }));
    assert!(
        error.to_string().contains(".yaml, .yml or .toml"),
        "{error}"
    );
    let missing = dir.path().join("attesta.yaml");
    let error = Policy::from_file(&missing).expect_err("missing file");
    assert!(matches!(&error, PolicyError::Io { path, .. } if *path == missing));
    assert!(
        error
            .to_string()
            .starts_with(&missing.display().to_string()),
        "{error}"
    );
    let p = dir.load("ATTESTA.YML", "policy: {fail_mode: escalate}\n");
    assert_eq!(p.fail_mode, FailMode::Escalate);
}

/// The complete example in `docs/configuration.md` must load, so the
/// documentation cannot drift from the loader.
#[test]
fn the_documented_complete_example_loads() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/configuration.md is readable");
    let block = doc
        .split("<!-- complete-example:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- complete-example:end -->").next())
        .expect("the doc marks its complete example");
    let yaml = block
        .trim()
        .strip_prefix("```yaml")
        .and_then(|b| b.strip_suffix("```"))
        .expect("the complete example is one yaml code block");

    let dir = Dir::new();
    let p = dir.load("attesta.yaml", yaml);
    assert_eq!(p.challenge_for(RiskLevel::High), ChallengeType::TeachBack);
    assert_eq!(p.required_approvers, 3);
    assert_eq!(p.timeout, Duration::from_mins(10));
    assert_eq!(p.risk_amplifiers.len(), 2);
    assert_eq!(
        p.trust.expect("trust on").store_path,
        Some(dir.path().join(".attesta/trust.json"))
    );
    let names: Vec<&str> = p.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["devops", "data-pipeline"]);
    assert_eq!(p.audit.path, dir.path().join(".attesta/audit.jsonl"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    // The TOML fragments that follow it load too.
    let toml = doc
        .split("```toml")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the doc has a toml block");
    let p = dir.load("attesta.toml", toml);
    assert_eq!(p.challenge_for(RiskLevel::High), ChallengeType::TeachBack);
    assert_eq!(p.domains[1].escalation_rules.len(), 2);
}

#[test]
fn challenge_settings_and_approvers_load() {
    let dir = Dir::new();
    let policy = dir.load(
        "attesta.yaml",
        "policy:\n  quiz:\n    questions: 2\n    min_correct: 1\n  teach_back:\n    min_words: 20\n  totp:\n    digits: 8\n    period_seconds: 60\n    drift_steps: 2\n    max_attempts: 5\n    algorithm: SHA256\napprovers:\n  - id: alice\n    totp_secret_env: ALICE_TOTP\n  - id: bob\n    totp_secret_file: secrets/bob.totp\n    os_user: bob\n  - id: carol\n",
    );
    assert_eq!(policy.quiz.max_questions, 2);
    assert_eq!(policy.quiz.min_correct, Some(1));
    assert_eq!(policy.teach_back.min_words, 20);
    assert_eq!(policy.totp.digits, 8);
    assert_eq!(policy.totp.period_seconds, 60);
    assert_eq!(policy.totp.drift_steps, 2);
    assert_eq!(policy.totp.max_attempts, 5);
    assert_eq!(
        policy.totp.algorithm,
        attesta::policy::TotpAlgorithm::Sha256
    );
    let ids: Vec<&str> = policy.approvers.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["alice", "bob", "carol"]);
    assert_eq!(
        policy.approvers[0].totp_secret,
        Some(attesta::policy::SecretSource::Env("ALICE_TOTP".into()))
    );
    assert_eq!(
        policy.approvers[1].totp_secret,
        Some(attesta::policy::SecretSource::File(
            dir.path().join("secrets/bob.totp")
        ))
    );
    assert_eq!(policy.approvers[1].os_user.as_deref(), Some("bob"));
    assert_eq!(policy.approvers[2].totp_secret, None);
}

#[test]
fn challenge_settings_are_validated() {
    let dir = Dir::new();
    dir.invalid(
        "attesta.yaml",
        "policy:\n  quiz:\n    questions: 4\n",
        3,
        "policy.quiz.questions",
    );
    dir.invalid(
        "attesta.yaml",
        "policy:\n  quiz:\n    questions: 2\n    min_correct: 3\n",
        4,
        "policy.quiz.min_correct",
    );
    dir.invalid(
        "attesta.yaml",
        "policy:\n  teach_back:\n    min_words: 1\n",
        3,
        "policy.teach_back.min_words",
    );
    dir.invalid(
        "attesta.yaml",
        "policy:\n  totp:\n    digits: 7\n",
        3,
        "policy.totp.digits",
    );
    dir.invalid(
        "attesta.yaml",
        "policy:\n  totp:\n    algorithm: md5\n",
        3,
        "policy.totp.algorithm",
    );
    dir.invalid(
        "attesta.yaml",
        "approvers:\n  - id: alice\n  - id: alice\n",
        3,
        "approvers[1].id",
    );
    dir.invalid(
        "attesta.yaml",
        "approvers:\n  - id: alice\n    totp_secret_env: A\n    totp_secret_file: a.txt\n",
        4,
        "approvers[0].totp_secret_file",
    );
    dir.invalid(
        "attesta.yaml",
        "approvers:\n  - name: alice\n",
        2,
        "approvers[0].name",
    );
}

#[test]
fn audit_fsync_mode_loads_and_is_validated() {
    let dir = Dir::new();
    let policy = dir.load("attesta.yaml", "audit:\n  fsync: batch\n");
    assert_eq!(policy.audit.fsync, attesta::audit::FsyncMode::Batch);
    assert_eq!(
        Policy::default().audit.fsync,
        attesta::audit::FsyncMode::Always
    );
    dir.invalid(
        "attesta.yaml",
        "audit:\n  fsync: sometimes\n",
        2,
        "audit.fsync",
    );
}

#[test]
fn approvals_name_a_tls_server_its_key_and_where_the_token_comes_from() {
    let dir = Dir::new();
    let policy = dir.load(
        "attesta.yaml",
        "policy:\n  approvals:\n    server: https://approvals.example.com\n    public_key: keys/server-signing.pub\n",
    );
    let approvals = policy.approvals.expect("approvals");
    assert_eq!(approvals.server, "https://approvals.example.com");
    assert_eq!(approvals.token_env, "ATTESTA_TOKEN");
    assert_eq!(approvals.token_file, None);
    assert_eq!(
        approvals.public_key,
        dir.path().join("keys/server-signing.pub")
    );
    let local = dir.load(
        "local.yaml",
        "policy:\n  approvals:\n    server: http://127.0.0.1:8787\n    public_key: k.pub\n    token_file: token\n",
    );
    assert_eq!(
        local.approvals.expect("approvals").token_file,
        Some(dir.path().join("token"))
    );
    let plain = dir.invalid(
        "plain.yaml",
        "policy:\n  approvals:\n    server: http://approvals.example.com\n    public_key: k.pub\n",
        3,
        "policy.approvals.server",
    );
    assert!(plain.contains("TLS"), "{plain}");
    let keyless = dir.error(
        "keyless.yaml",
        "policy:\n  approvals:\n    server: https://a.example\n",
    );
    assert!(keyless.to_string().contains("public_key"), "{keyless}");
    let both = dir.error(
        "both.yaml",
        "policy:\n  approvals:\n    server: https://a.example\n    public_key: k.pub\n    token_env: T\n    token_file: t\n",
    );
    assert!(both.to_string().contains("not both"), "{both}");
    let typo = dir.error(
        "typo.yaml",
        "policy:\n  approvals:\n    server: https://a.example\n    public_key: k.pub\n    tokn_env: T\n",
    );
    assert!(typo.to_string().contains("tokn_env"), "{typo}");
}

#[test]
fn approvals_route_order_and_levels_are_read_strictly() {
    use attesta::RiskLevel;
    use attesta::policy::ApprovalRoute;
    let dir = Dir::new();
    let head = "policy:\n  approvals:\n    server: https://a.example\n    public_key: k.pub\n";
    let defaults = dir
        .load("defaults.yaml", head)
        .approvals
        .expect("approvals");
    assert_eq!(defaults.order, vec![ApprovalRoute::Server]);
    assert_eq!(defaults.levels, RiskLevel::ALL.to_vec());
    assert_eq!(defaults.retry, std::time::Duration::from_secs(60));
    let routed = dir
        .load(
            "routed.yaml",
            &format!(
                "{head}    order: [local, server]\n    levels: [CRITICAL, high]\n    retry_seconds: 5\n"
            ),
        )
        .approvals
        .expect("approvals");
    assert_eq!(
        routed.order,
        vec![ApprovalRoute::Local, ApprovalRoute::Server]
    );
    assert_eq!(routed.levels, vec![RiskLevel::High, RiskLevel::Critical]);
    assert_eq!(routed.retry, std::time::Duration::from_secs(5));
    for (name, extra, line, path, needle) in [
        (
            "nosrv.yaml",
            "    order: [local]\n",
            5,
            "policy.approvals.order",
            "include server",
        ),
        (
            "twice.yaml",
            "    order: [server, server]\n",
            5,
            "policy.approvals.order[1]",
            "twice",
        ),
        (
            "odd.yaml",
            "    order: [server, pager]\n",
            5,
            "policy.approvals.order[1]",
            "local",
        ),
        (
            "nolevels.yaml",
            "    levels: []\n",
            5,
            "policy.approvals.levels",
            "never be asked",
        ),
        (
            "badlevel.yaml",
            "    levels: [severe]\n",
            5,
            "policy.approvals.levels[0]",
            "severe",
        ),
        (
            "dup.yaml",
            "    levels: [high, HIGH]\n",
            5,
            "policy.approvals.levels[1]",
            "twice",
        ),
    ] {
        let message = dir.invalid(name, &format!("{head}{extra}"), line, path);
        assert!(message.contains(needle), "{name}: {message}");
    }
}
