//! Teach-back as a user sees it: the prompt, the keyword rules on real and
//! adversarial explanations, pluggable validators, and the channel round
//! trip.

use std::sync::{Arc, Mutex, PoisonError};

use super::*;
use crate::challenge::{Challenge, ChannelChallenge};
use crate::channel::{Principal, ScriptedAnswer, ScriptedChannel};
use crate::risk::{FixedRiskScorer, RiskScorer};

fn risk(ctx: &ActionContext) -> RiskAssessment {
    FixedRiskScorer::new(0.9).expect("in range").assess(ctx)
}

/// The reference's example action.
fn drop_table() -> ActionContext {
    ActionContext::new("drop_table")
        .with_kwarg("table", "user_sessions")
        .with_kwarg("database", "prod")
}

fn teach_back() -> TeachBack {
    TeachBack::new(TeachBackSettings::default(), Duration::ZERO)
}

async fn judge_with(tb: &TeachBack, ctx: &ActionContext, explanation: &str) -> Judgement {
    let prepared = tb.prepare(ctx, &risk(ctx));
    let response = Response {
        answers: vec![explanation.to_owned()],
        principal: Principal::new("carol", "scripted"),
        review_time: Duration::from_secs(40),
    };
    tb.judge(ctx, &prepared, &response).await
}

async fn judge(explanation: &str) -> Judgement {
    judge_with(&teach_back(), &drop_table(), explanation).await
}

fn list(j: &Judgement, key: &str) -> Vec<String> {
    match j.details.get(key) {
        Some(Value::List(items)) => items
            .iter()
            .map(|v| v.as_str().expect("strings").to_owned())
            .collect(),
        other => panic!("{key}: {other:?}"),
    }
}

const GOOD: &str = "This action will permanently drop the user_sessions table from the prod \
                    database, removing all session data. Active users will be logged out.";

// ---- the prompt -----------------------------------------------------------

#[test]
fn the_prompt_asks_one_explanation_question_and_keeps_terms_private() {
    let tb = TeachBack::new(TeachBackSettings { min_words: 20 }, Duration::from_secs(30));
    assert_eq!(tb.challenge_type(), ChallengeType::TeachBack);
    assert_eq!(tb.min_review(), Duration::from_secs(30));
    let ctx = drop_table();
    let p = tb.prepare(&ctx, &risk(&ctx));
    assert_eq!(p.prompt.challenge_type, ChallengeType::TeachBack);
    assert_eq!(p.prompt.min_words, Some(20));
    assert_eq!(p.prompt.min_review, Duration::from_secs(30));
    assert_eq!(p.prompt.instructions, INSTRUCTIONS);
    assert_eq!(p.prompt.questions.len(), 1);
    let q = &p.prompt.questions[0];
    assert_eq!(
        (q.id.as_str(), q.kind),
        ("explanation", QuestionKind::Explanation)
    );
    assert!(q.options.is_empty());
    assert_eq!(
        p.key.get(KEY_TERMS),
        Some(&strings(&[
            "drop".into(),
            "table".into(),
            "user_sessions".into(),
            "prod".into()
        ]))
    );
    let json = serde_json::to_string(&p.prompt).expect("serialises");
    assert!(!json.contains("key_terms"));
}

// ---- the reference's examples, with the stricter rules ----------------------

#[tokio::test]
async fn a_specific_explanation_in_own_words_passes() {
    let j = judge(GOOD).await;
    assert!(j.passed, "{:?}", j.reason);
    assert_eq!((j.questions_asked, j.questions_correct), (1, 1));
    assert_eq!(j.reason, None);
    assert_eq!(
        list(&j, "matched_terms"),
        ["drop", "table", "user_sessions", "prod"]
    );
    assert_eq!(j.details["word_count"], Value::Int(22));
    assert_eq!(j.details["explanation"], Value::from(GOOD));
}

#[tokio::test]
async fn a_short_explanation_fails_on_length() {
    let j = judge("It drops a table.").await;
    assert!(!j.passed);
    assert_eq!(
        j.reason.as_deref(),
        Some("The explanation has 4 words; write at least 15.")
    );
    assert_eq!(j.details["word_count"], Value::Int(4));
}

#[tokio::test]
async fn a_vague_explanation_fails_without_revealing_the_terms() {
    let j = judge(
        "This operation will modify some data in the system and could have an impact on \
         users who are currently active in the application.",
    )
    .await;
    assert!(!j.passed);
    assert!(list(&j, "matched_terms").is_empty());
    let reason = j.reason.expect("reason");
    assert!(
        reason.contains("Name at least one specific detail"),
        "{reason}"
    );
    let said = crate::challenge::words::tokens(&reason);
    for term in ["drop", "user_sessions", "prod", "table"] {
        assert!(!said.contains(&term.to_owned()), "{reason} reveals {term}");
    }
}

#[tokio::test]
async fn filler_with_one_key_term_no_longer_passes() {
    // The reference accepted this (15 tokens, contains "drop").
    let j = judge("x x x x x x x x x x x x x x drop").await;
    assert!(!j.passed);
    let reason = j.reason.expect("reason");
    assert!(
        reason.contains("Only 1 different words; use at least 10"),
        "{reason}"
    );
}

// ---- whole words, terms, vocabulary --------------------------------------------

#[tokio::test]
async fn terms_match_whole_words_only() {
    let ctx = ActionContext::new("rotate_keys").with_kwarg("count", 3);
    let tb = teach_back();
    // The only term used is a number: "13" must not count as "3".
    let base = "The operator asked me to review this request carefully before anything \
                happens to the production signing service today";
    let j = judge_with(&tb, &ctx, &format!("{base} with 13 changes")).await;
    assert!(!j.passed, "{:?}", j.details);
    let j = judge_with(&tb, &ctx, &format!("{base} with 3 changes")).await;
    assert!(j.passed, "{:?}", j.reason);
    assert_eq!(list(&j, "matched_terms"), ["3"]);
    let ctx = ActionContext::new("drop_table");
    let j = judge_with(
        &tb,
        &ctx,
        "An unstable deployment pipeline may break tonight unless somebody carefully \
         reviews every pending change first",
    )
    .await;
    assert!(!j.passed, "'unstable' must not match 'table'");
}

#[tokio::test]
async fn vocabulary_terms_count_and_match_as_phrases() {
    let ctx = ActionContext::new("rm");
    let plain = teach_back();
    let tb = teach_back().with_vocabulary(vec!["Point in time recovery".into(), " ".into()]);
    assert_eq!(tb.key_terms(&ctx), ["point in time recovery"]);
    let text = "After this runs we lose the ability to do a point in time recovery for the \
                whole cluster until tomorrow";
    let j = judge_with(&tb, &ctx, text).await;
    assert!(j.passed, "{:?}", j.reason);
    assert_eq!(list(&j, "matched_terms"), ["point in time recovery"]);
    let j = judge_with(&tb, &ctx, &text.replace("point in time", "point at time")).await;
    assert!(!j.passed);
    // Without vocabulary, `rm()` has no terms: length and originality decide.
    assert!(plain.key_terms(&ctx).is_empty());
    let j = judge_with(&plain, &ctx, text).await;
    assert!(j.passed, "{:?}", j.reason);
    assert!(list(&j, "notes")[0].contains("no specific terms"));
}

// ---- adversarial explanations ------------------------------------------------

#[tokio::test]
async fn empty_and_whitespace_explanations_fail() {
    for explanation in ["", "   ", "\n\t "] {
        let j = judge(explanation).await;
        assert!(!j.passed);
        assert!(
            j.reason
                .expect("reason")
                .starts_with("No explanation was given")
        );
        assert_eq!(j.details["explanation"], Value::from(""));
    }
}

#[tokio::test]
async fn copying_the_prompt_does_not_count() {
    let ctx = drop_table().with_doc("Drops the named table from the given database for good.");
    let call = ctx.description();
    let cases = [
        format!("{call} {call} {call} {call}"),
        INSTRUCTIONS.to_owned(),
        format!("{QUESTION} {QUESTION}"),
        format!("{QUESTION} it drops user_sessions in prod"),
        format!(
            "Drops the named table from the given database for good. {}",
            "Then it is gone and that is that."
        ),
        // Own words that mention nothing specific, plus the call pasted for the terms.
        format!(
            "I have read everything shown here very carefully and I agree with running it now {call}"
        ),
    ];
    for explanation in cases {
        let j = judge_with(&teach_back(), &ctx, &explanation).await;
        assert!(!j.passed, "{explanation:?} passed");
        let notes = list(&j, "notes");
        assert!(
            notes[0].contains("copied from the prompt"),
            "{explanation:?}: {notes:?}"
        );
    }
}

#[tokio::test]
async fn a_repeated_word_or_the_function_name_repeated_fails() {
    for explanation in [
        "drop ".repeat(20),
        "drop_table ".repeat(16),
        "drop table ".repeat(10),
        "a b c d e f g h i j k l m n o p q drop".to_owned(),
    ] {
        let j = judge(&explanation).await;
        assert!(!j.passed, "{explanation:?} passed");
        assert!(j.reason.expect("reason").contains("different words"));
    }
}

#[tokio::test]
async fn the_question_text_as_an_answer_fails() {
    let j = judge(QUESTION).await;
    assert!(!j.passed);
}

#[tokio::test]
async fn a_damaged_key_fails_instead_of_panicking() {
    let tb = teach_back();
    let ctx = drop_table();
    let mut p = tb.prepare(&ctx, &risk(&ctx));
    p.key.insert(KEY_TERMS.into(), Value::Int(1));
    let response = Response {
        answers: vec![GOOD.to_owned()],
        principal: Principal::new("carol", "scripted"),
        review_time: Duration::ZERO,
    };
    let j = tb.judge(&ctx, &p, &response).await;
    assert!(!j.passed);
    assert!(j.reason.expect("reason").contains("key is damaged"));
}

// ---- pluggable validators ------------------------------------------------------

/// Stands in for a language-model grader: answers after an await point,
/// records what it was asked.
#[derive(Debug, Default)]
struct FakeLlm {
    calls: Mutex<Vec<(String, Vec<String>)>>,
}

#[async_trait]
impl TeachBackValidator for FakeLlm {
    async fn validate(
        &self,
        explanation: &str,
        _ctx: &ActionContext,
        key_terms: &[String],
    ) -> Validation {
        tokio::task::yield_now().await;
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((explanation.to_owned(), key_terms.to_vec()));
        let understood = explanation.contains("session");
        Validation {
            passed: understood,
            notes: if understood {
                Vec::new()
            } else {
                vec!["The grader found no mention of what is lost.".into()]
            },
            matched_terms: if understood {
                vec!["user_sessions".into()]
            } else {
                Vec::new()
            },
        }
    }
}

#[tokio::test]
async fn a_custom_async_validator_decides() {
    let llm = Arc::new(FakeLlm::default());
    let tb = teach_back().with_validator(llm.clone());
    // Filler the keyword validator would reject, but this grader accepts.
    let lenient = "session session session session session session session session session \
                   session session session session session session";
    let j = judge_with(&tb, &drop_table(), lenient).await;
    assert!(j.passed, "{:?}", j.reason);
    assert_eq!(list(&j, "matched_terms"), ["user_sessions"]);
    let j = judge_with(&tb, &drop_table(), &"words ".repeat(15)).await;
    assert!(!j.passed);
    assert_eq!(
        j.reason.as_deref(),
        Some("The grader found no mention of what is lost.")
    );
    // The policy minimum holds for any validator, and spares it the call.
    let j = judge_with(&tb, &drop_table(), "session gone").await;
    assert!(!j.passed);
    let calls = llm.calls.lock().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, ["drop", "table", "user_sessions", "prod"]);
}

/// A grader whose service is down.
#[derive(Debug)]
struct Unreachable;

#[async_trait]
impl TeachBackValidator for Unreachable {
    async fn validate(&self, _: &str, _: &ActionContext, _: &[String]) -> Validation {
        Validation::failed("The grader is unavailable (connection refused); try again later.")
    }
}

#[tokio::test]
async fn a_validator_that_cannot_decide_fails_the_challenge() {
    let tb = teach_back().with_validator(Arc::new(Unreachable));
    let j = judge_with(&tb, &drop_table(), GOOD).await;
    assert!(!j.passed);
    assert_eq!(j.questions_correct, 0);
    assert_eq!(
        j.reason.as_deref(),
        Some("The grader is unavailable (connection refused); try again later.")
    );
    assert_eq!(
        list(&j, "notes"),
        ["The grader is unavailable (connection refused); try again later."]
    );
}

#[tokio::test]
async fn keyword_validator_can_require_more_terms() {
    let v = KeywordValidator::new(15).with_min_terms(3);
    let terms: Vec<String> = ["drop", "table", "user_sessions", "prod"]
        .map(String::from)
        .to_vec();
    let two = "Running it will drop everything stored about user_sessions and nobody can \
               bring those records back afterwards at all";
    let r = v.validate(two, &drop_table(), &terms).await;
    assert!(!r.passed);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("at least 3 specific details")),
        "{r:?}"
    );
    assert!(v.validate(GOOD, &drop_table(), &terms).await.passed);
    assert_eq!(KeywordValidator::default(), KeywordValidator::new(15));
}

// ---- over a channel ------------------------------------------------------------

async fn present(explanation: &str) -> crate::ChallengeResult {
    let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers([
        explanation,
    ])
    .by("dave")]));
    let ctx = drop_table();
    ChannelChallenge::new(Arc::new(teach_back()), channel.clone())
        .present(&ctx, &risk(&ctx))
        .await
}

#[tokio::test]
async fn over_a_channel_a_good_explanation_passes_and_a_poor_one_fails() {
    let r = present(GOOD).await;
    assert!(r.passed, "{:?}", r.details);
    assert_eq!(r.challenge_type, ChallengeType::TeachBack);
    assert_eq!(r.responder, "dave");
    assert_eq!((r.questions_asked, r.questions_correct), (1, 1));

    let r = present("It drops a table.").await;
    assert!(!r.passed);
    assert_eq!(
        r.reason(),
        Some("The explanation has 4 words; write at least 15.")
    );
    assert_eq!(r.details["explanation"], Value::from("It drops a table."));
}
