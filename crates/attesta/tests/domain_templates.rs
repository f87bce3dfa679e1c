//! Domain templates and vocabulary in use: a policy naming a profile makes
//! the gate's built-in quiz and teach-back (alone or in a multi-party
//! rotation) ask the profile's questions and count its terms; without one,
//! nothing changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use attesta::channel::{ChannelError, ScriptedAnswer, ScriptedChannel};
use attesta::policy::Policy;
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, Attesta, ChallengeType, RiskLevel, Value, Verdict};

/// An engine under the policy `yaml` that scores every action `level`
/// (before the profile adds anything) in `ci`, answering from `replies`.
fn gate(
    yaml: &str,
    level: RiskLevel,
    replies: Vec<ScriptedAnswer>,
) -> (Attesta, Arc<ScriptedChannel>) {
    let policy = Policy::from_str_named(yaml, Path::new("attesta.yaml")).unwrap();
    let channel = Arc::new(ScriptedChannel::new(replies));
    let engine = Attesta::builder()
        .policy(policy)
        .scorer(Arc::new(
            FixedRiskScorer::new(level.representative_score()).unwrap(),
        ))
        .channel(channel.clone())
        .environment("ci")
        .build()
        .unwrap();
    (engine, channel)
}

/// No devops pattern or term matches it, so the profile leaves its level.
fn deploy_bundle() -> ActionContext {
    ActionContext::new("deploy_bundle").with_arg("/srv/releases/web-42.tar")
}

fn question_texts(channel: &ScriptedChannel) -> Vec<String> {
    channel.prompts()[0]
        .questions
        .iter()
        .map(|q| q.text.clone())
        .collect()
}

const STRICT_QUIZ: &str = "policy:\n  quiz:\n    questions: 3\n    min_correct: 3\n";

#[tokio::test]
async fn under_devops_the_high_quiz_asks_the_profiles_question_and_judges_it_by_its_hints() {
    let yaml = format!("domain: devops\n{STRICT_QUIZ}");
    let right = ScriptedAnswer::answers(["/srv/releases", "web-42.tar", "yes, in staging"]);
    let (engine, channel) = gate(&yaml, RiskLevel::High, vec![right]);
    let decision = engine.evaluate(&deploy_bundle()).await;
    assert_eq!(decision.risk.level, RiskLevel::High);
    assert_eq!(decision.challenge, ChallengeType::Quiz);
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    assert_eq!(
        question_texts(&channel)[2],
        "Has deploy_bundle been tested outside production? Where?"
    );
    // The hints reach the record only after judging, never the prompt.
    let shown = serde_json::to_string(&channel.prompts()[0]).unwrap();
    assert!(!shown.contains("sandbox"));
    let result = decision.challenge_result.unwrap();
    let Some(Value::List(records)) = result.details.get("questions") else {
        panic!("{:?}", result.details);
    };
    let Value::Map(domain) = &records[2] else {
        panic!("{records:?}");
    };
    let Some(Value::List(hints)) = domain.get("answer_hints") else {
        panic!("{domain:?}");
    };
    assert!(hints.contains(&Value::from("sandbox")));

    let wrong = ScriptedAnswer::answers(["/srv/releases", "web-42.tar", "it is fine"]);
    let (engine, _) = gate(&yaml, RiskLevel::High, vec![wrong]);
    let decision = engine.evaluate(&deploy_bundle()).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert_eq!(decision.challenge_result.unwrap().questions_correct, 2);
}

#[tokio::test]
async fn without_a_profile_the_quiz_asks_only_about_the_call() {
    let replies = vec![ScriptedAnswer::answers([
        "/srv/releases",
        "web-42.tar",
        "ci",
    ])];
    let (engine, channel) = gate(STRICT_QUIZ, RiskLevel::High, replies);
    let decision = engine.evaluate(&deploy_bundle()).await;
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    let ids: Vec<_> = channel.prompts()[0]
        .questions
        .iter()
        .map(|q| q.id.clone())
        .collect();
    assert_eq!(ids, ["directory", "name", "environment"]);
}

/// Names nothing of the call, but says how the change is undone.
const ROLLBACK_PLAN: &str = "If anything breaks we revert to the previous version straight away, \
                             then watch error rates on the dashboards for an hour.";

#[tokio::test]
async fn a_teach_back_under_devops_counts_the_profiles_terms() {
    let teach_back = "policy:\n  challenge_map:\n    high: teach_back\n";
    let ctx = ActionContext::new("deploy_service").with_kwarg("service", "web");

    let yaml = format!("domain: devops\n{teach_back}");
    let replies = vec![ScriptedAnswer::answers([ROLLBACK_PLAN])];
    let (engine, channel) = gate(&yaml, RiskLevel::High, replies);
    let decision = engine.evaluate(&ctx).await;
    assert_eq!(decision.challenge, ChallengeType::TeachBack);
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    assert!(
        question_texts(&channel)[0]
            .ends_with("What is the rollback plan if deploy_service fails or causes downtime?")
    );

    let replies = vec![ScriptedAnswer::answers([ROLLBACK_PLAN])];
    let (engine, channel) = gate(teach_back, RiskLevel::High, replies);
    let decision = engine.evaluate(&ctx).await;
    assert_eq!(
        decision.verdict,
        Verdict::Denied,
        "names nothing of the call"
    );
    assert_eq!(
        question_texts(&channel)[0],
        "What will this action do, and what will it change?"
    );
}

#[tokio::test]
async fn the_multi_party_rotation_asks_the_profiles_questions_too() {
    let stop = ScriptedAnswer::error(ChannelError::Failed("the test stops here".into()));
    let (engine, channel) = gate("domain: devops\n", RiskLevel::Critical, vec![stop]);
    let decision = engine.evaluate(&deploy_bundle()).await;
    assert_eq!(decision.challenge, ChallengeType::MultiParty);
    assert_eq!(decision.verdict, Verdict::Denied);
    // The first approver answers the rotation's teach-back.
    assert!(
        question_texts(&channel)[0].contains("rollback plan if deploy_bundle"),
        "{:?}",
        question_texts(&channel)
    );
}
