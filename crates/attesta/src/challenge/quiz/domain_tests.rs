//! The quiz with a domain profile: template questions after the call
//! questions, judged by their answer hints, which the prompt never shows.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::challenge::words;
use crate::channel::{Principal, QuestionKind};
use crate::domain::DomainRegistry;
use crate::risk::{FixedRiskScorer, RiskLevel, RiskScorer};

fn devops() -> Arc<DomainProfile> {
    let registry = DomainRegistry::with_presets().expect("presets load");
    Arc::new(registry.get("devops").expect("devops").clone())
}

fn risk_at(ctx: &ActionContext, level: RiskLevel) -> RiskAssessment {
    FixedRiskScorer::new(level.representative_score())
        .expect("in range")
        .assess(ctx)
}

fn quiz(settings: QuizSettings) -> Quiz {
    Quiz::with_seed(settings, Duration::ZERO, 7).with_domain(devops())
}

/// A deployment whose call offers a directory, a name and the environment.
fn deploy() -> ActionContext {
    ActionContext::new("deploy_bundle")
        .with_arg("/srv/releases/web-42.tar")
        .with_environment("production")
}

fn response(answers: &[&str]) -> Response {
    Response {
        answers: answers.iter().map(|&a| a.to_owned()).collect(),
        principal: Principal::new("alice", "scripted"),
        review_time: Duration::from_secs(30),
    }
}

fn ids(p: &Prepared) -> Vec<&str> {
    p.prompt.questions.iter().map(|q| q.id.as_str()).collect()
}

/// The hints stored for the question at `i`.
fn hints(p: &Prepared, i: usize) -> Vec<String> {
    let Some(Value::List(answers)) = p.key.get("answers") else {
        panic!("no answer key: {:?}", p.key);
    };
    match &answers[i] {
        Value::List(hints) => hints
            .iter()
            .map(|h| h.as_str().expect("string hints").to_owned())
            .collect(),
        other => panic!("not a domain entry: {other:?}"),
    }
}

#[test]
fn at_high_a_template_question_takes_the_environment_questions_slot() {
    let ctx = deploy();
    let p = quiz(QuizSettings::default()).prepare(&ctx, &risk_at(&ctx, RiskLevel::High));
    assert_eq!(ids(&p), ["directory", "name", "domain_1"]);
    let q = &p.prompt.questions[2];
    // The HIGH template comes before the MEDIUM one, rendered for this call.
    assert_eq!(
        q.text,
        "Has deploy_bundle been tested outside production? Where?"
    );
    assert_eq!(q.kind, QuestionKind::FreeText);
    assert!(q.options.is_empty());
    // "test" is dropped: the question itself says "tested".
    assert_eq!(hints(&p, 2), ["staging", "dev", "ci", "sandbox"]);
    assert!(p.prompt.instructions.contains("domain profile"));
}

#[test]
fn the_prompt_never_shows_a_hint() {
    let ctx = deploy();
    for seed in 0..20 {
        let p = Quiz::with_seed(QuizSettings::default(), Duration::ZERO, seed)
            .with_domain(devops())
            .prepare(&ctx, &risk_at(&ctx, RiskLevel::High));
        let shown = serde_json::to_string(&p.prompt).expect("json");
        let shown = words::tokens(&shown);
        for hint in hints(&p, 2) {
            assert!(!shown.contains(&hint), "{hint} shown (seed {seed})");
        }
    }
}

#[tokio::test]
async fn a_hint_in_the_answer_is_right_and_none_is_wrong() {
    let ctx = deploy();
    let quiz = quiz(QuizSettings {
        max_questions: 3,
        min_correct: Some(3),
    });
    let p = quiz.prepare(&ctx, &risk_at(&ctx, RiskLevel::High));
    let call = ["/srv/releases", "web-42.tar"];
    let judged = |domain_answer: &'static str| {
        let quiz = quiz.clone();
        let p = p.clone();
        let ctx = ctx.clone();
        async move {
            let answers = [call[0], call[1], domain_answer];
            quiz.judge(&ctx, &p, &response(&answers)).await
        }
    };
    for right in ["Yes, in Staging on Monday", "a sandbox run", "CI ran it"] {
        let j = judged(right).await;
        assert!(j.passed, "{right:?}: {:?}", j.reason);
        assert_eq!(j.questions_correct, 3);
    }
    for wrong in ["yes", "it was tested", "in prestaging", "", "production"] {
        let j = judged(wrong).await;
        assert!(!j.passed, "{wrong:?}");
        assert_eq!(j.questions_correct, 2, "{wrong:?}");
    }
    // After judging, the record names the hints instead of one answer.
    let j = judged("staging").await;
    let Some(Value::List(records)) = j.details.get("questions") else {
        panic!("{:?}", j.details);
    };
    let Value::Map(record) = &records[2] else {
        panic!("{records:?}");
    };
    assert!(record.get("answer_hints").is_some());
    assert!(record.get("correct_answer").is_none());
}

#[tokio::test]
async fn domain_answers_never_replace_reading_the_call() {
    let ctx = deploy();
    let quiz = quiz(QuizSettings {
        max_questions: 3,
        min_correct: Some(1),
    });
    let p = quiz.prepare(&ctx, &risk_at(&ctx, RiskLevel::High));
    let j = quiz
        .judge(&ctx, &p, &response(&["/tmp", "nope", "staging"]))
        .await;
    assert!(!j.passed);
    assert_eq!(j.questions_correct, 1);
    let reason = j.reason.expect("a reason");
    assert!(
        reason.starts_with("every answer about the call"),
        "{reason}"
    );
    assert!(!reason.contains("staging"));
    let j = quiz
        .judge(&ctx, &p, &response(&["/tmp", "web-42.tar", "no idea"]))
        .await;
    assert!(j.passed, "{:?}", j.reason);
}

#[test]
fn room_left_by_the_call_questions_goes_to_templates_in_severity_order() {
    // Only the operation and the environment to ask about the call.
    let ctx = ActionContext::new("deploy_service").with_environment("staging");
    let p = quiz(QuizSettings::default()).prepare(&ctx, &risk_at(&ctx, RiskLevel::High));
    assert_eq!(ids(&p), ["operation", "environment", "domain_1"]);
    let p = quiz(QuizSettings {
        max_questions: 3,
        min_correct: None,
    })
    .prepare(
        &ActionContext::new("deploy_service"),
        &risk_at(&ctx, RiskLevel::High),
    );
    assert_eq!(ids(&p), ["operation", "domain_1", "domain_2"]);
    assert_eq!(
        p.prompt.questions[2].text,
        "Which environment will deploy_service change?"
    );
    // A budget of one is the call's.
    let p = quiz(QuizSettings {
        max_questions: 1,
        min_correct: None,
    })
    .prepare(&ctx, &risk_at(&ctx, RiskLevel::High));
    assert_eq!(ids(&p), ["operation"]);
    // Nothing to ask about the call: no quiz of domain questions alone.
    let empty = ActionContext::new("");
    let p = quiz(QuizSettings::default()).prepare(&empty, &risk_at(&empty, RiskLevel::High));
    assert!(p.prompt.questions.is_empty());
}

#[test]
fn without_templates_for_the_level_the_prompt_is_unchanged() {
    let ctx = deploy();
    for level in [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High] {
        let risk = risk_at(&ctx, level);
        let plain =
            Quiz::with_seed(QuizSettings::default(), Duration::ZERO, 3).prepare(&ctx, &risk);
        let with = Quiz::with_seed(QuizSettings::default(), Duration::ZERO, 3)
            .with_domain(devops())
            .prepare(&ctx, &risk);
        // devops has no quiz template below MEDIUM.
        assert_eq!(plain == with, level == RiskLevel::Low, "{level}");
        // The call questions keep their order and their options.
        assert_eq!(plain.prompt.questions[..2], with.prompt.questions[..2]);
    }
}
