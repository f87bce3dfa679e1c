//! Teach-back with a domain profile: the profile's question after the
//! standard one, and its vocabulary, the terms it finds in the call and the
//! question's hints as key terms.

use std::sync::Arc;

use super::*;
use crate::channel::Principal;
use crate::domain::DomainRegistry;
use crate::risk::{FixedRiskScorer, RiskScorer};

fn profile(name: &str) -> Arc<DomainProfile> {
    let registry = DomainRegistry::with_presets().expect("presets load");
    Arc::new(registry.get(name).expect("a preset").clone())
}

fn risk_at(ctx: &ActionContext, level: RiskLevel) -> RiskAssessment {
    FixedRiskScorer::new(level.representative_score())
        .expect("in range")
        .assess(ctx)
}

fn plain() -> TeachBack {
    TeachBack::new(TeachBackSettings::default(), Duration::ZERO)
}

fn devops() -> TeachBack {
    plain().with_domain(profile("devops"))
}

fn deploy() -> ActionContext {
    ActionContext::new("deploy_service").with_kwarg("service", "web")
}

async fn judge_at(
    tb: &TeachBack,
    ctx: &ActionContext,
    level: RiskLevel,
    explanation: &str,
) -> Judgement {
    let prepared = tb.prepare(ctx, &risk_at(ctx, level));
    let response = Response {
        answers: vec![explanation.to_owned()],
        principal: Principal::new("carol", "scripted"),
        review_time: Duration::from_secs(40),
    };
    tb.judge(ctx, &prepared, &response).await
}

fn terms_in_key(p: &Prepared) -> Vec<String> {
    key_terms_from(&p.key).expect("key terms")
}

/// Names nothing of the call (`deploy`, `service`, `web`), but says how
/// the change is undone.
const ROLLBACK_PLAN: &str = "If anything breaks we revert to the previous version straight away, \
                             then watch error rates on the dashboards for an hour.";

#[tokio::test]
async fn domain_terms_count_where_without_the_profile_the_explanation_fails() {
    let ctx = deploy();
    let without = judge_at(&plain(), &ctx, RiskLevel::High, ROLLBACK_PLAN).await;
    assert!(!without.passed, "no term of the call is named");
    let with = judge_at(&devops(), &ctx, RiskLevel::High, ROLLBACK_PLAN).await;
    assert!(with.passed, "{:?}", with.reason);
    let Some(Value::List(matched)) = with.details.get("matched_terms") else {
        panic!("{:?}", with.details);
    };
    assert_eq!(
        matched,
        &[Value::from("revert"), Value::from("previous version")]
    );
}

#[test]
fn the_profiles_question_follows_the_standard_one_at_its_level() {
    let ctx = deploy();
    let high = devops().prepare(&ctx, &risk_at(&ctx, RiskLevel::High));
    assert_eq!(
        high.prompt.questions[0].text,
        "What will this action do, and what will it change? What is the rollback plan if \
         deploy_service fails or causes downtime?"
    );
    // Below HIGH devops has no teach-back template: only the vocabulary
    // and the terms found in the call are added.
    let medium = devops().prepare(&ctx, &risk_at(&ctx, RiskLevel::Medium));
    assert_eq!(medium.prompt.questions[0].text, QUESTION);
    assert_eq!(
        terms_in_key(&medium),
        [
            "deploy",
            "service",
            "web",
            "rollback",
            "downtime",
            "deployment",
            "backup",
            "monitoring"
        ]
    );
    // The template's hints join at HIGH; "rollback" and "backup" are not
    // repeated.
    assert_eq!(
        terms_in_key(&high),
        [
            "deploy",
            "service",
            "web",
            "rollback",
            "downtime",
            "deployment",
            "backup",
            "monitoring",
            "revert",
            "restore",
            "previous version"
        ]
    );
    // The prompt shows none of the hints it does not already ask about.
    let shown = serde_json::to_string(&high.prompt).expect("json");
    for hint in ["revert", "restore", "previous version", "monitoring"] {
        assert!(!shown.contains(hint), "{hint}");
    }
}

#[test]
fn terms_found_in_the_call_are_added_once() {
    // "backup" is a word of the name and vocabulary; "production" and
    // "drop" are sensitive terms found in the arguments; the pattern
    // `sql_drop_table` matched too.
    let ctx = ActionContext::new("run_backup")
        .with_arg("DROP TABLE audit")
        .with_kwarg("target", "production");
    let terms = devops().key_terms(&ctx);
    assert_eq!(
        terms,
        [
            "backup",
            "audit",
            "production",
            "rollback",
            "downtime",
            "deployment",
            "monitoring",
            "drop",
            "sql drop table"
        ]
    );
    let mut sorted = terms.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), terms.len());
}

#[tokio::test]
async fn copying_the_profiles_question_does_not_count() {
    let ctx = deploy();
    let copied = "What is the rollback plan if deploy_service fails or causes downtime? \
                  That is what I am asked and I repeat it here with a few more words.";
    let j = judge_at(&devops(), &ctx, RiskLevel::High, copied).await;
    assert!(!j.passed);
    let Some(Value::List(notes)) = j.details.get("notes") else {
        panic!("{:?}", j.details);
    };
    let first = notes[0].as_str().expect("a note");
    assert!(first.contains("copied from the prompt"), "{first}");
}

#[tokio::test]
async fn a_custom_validator_sees_the_question_that_was_shown() {
    #[derive(Debug, Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);

    #[async_trait]
    impl TeachBackValidator for Recorder {
        async fn validate(&self, _: &str, _: &ActionContext, _: &[String]) -> Validation {
            Validation::failed("validate_answer was not called")
        }

        async fn validate_answer(
            &self,
            question: &str,
            _: &str,
            _: &ActionContext,
            _: &[String],
        ) -> Validation {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(question.to_owned());
            Validation {
                passed: true,
                ..Validation::default()
            }
        }
    }

    let recorder = Arc::new(Recorder::default());
    let tb = devops().with_validator(recorder.clone());
    let j = judge_at(&tb, &deploy(), RiskLevel::High, ROLLBACK_PLAN).await;
    assert!(j.passed, "{:?}", j.reason);
    let seen = recorder
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].ends_with("fails or causes downtime?"), "{seen:?}");
}

#[test]
fn without_a_profile_nothing_changes() {
    let ctx = deploy();
    for level in RiskLevel::ALL {
        let p = plain().prepare(&ctx, &risk_at(&ctx, level));
        assert_eq!(p.prompt.questions[0].text, QUESTION);
        assert_eq!(terms_in_key(&p), ["deploy", "service", "web"]);
    }
}
