//! Custom challenge 3 of 3: questions only someone who knows the domain can
//! answer, taken from a domain profile's challenge templates.
//!
//! ```sh
//! cargo run -p attesta --example domain_knowledge
//! ```
//!
//! What it shows:
//! - a challenge as data plus a checker: [`Interrogation::prepare`] renders
//!   the templates for the action into a prompt and a private answer key,
//!   [`Interrogation::judge`] checks the answers, and [`ChannelChallenge`]
//!   presents it over any channel (scripted here);
//! - taking the questions from a built-in profile (`infrastructure`):
//!   [`DomainProfile::templates_for_level`] picks those for the action's
//!   risk level, [`ChallengeTemplate::render`] fills `{function_name}`,
//!   `{action}`, `{environment}`, `{agent_id}`, `{description}` and each
//!   keyword argument (an unknown placeholder stays as written), and
//!   [`ChallengeTemplate::render_hints`] does the same for the answer hints;
//! - installing it for HIGH-risk actions with `challenge_for_level`.
//!
//! The built-in quiz and teach-back already ask a profile's templates when
//! the policy names a domain (`domain: infrastructure`), after their
//! questions about the call. A challenge like this one is for a quiz of
//! domain questions only, or for judging them by rules of your own.
//!
//! An answer is right when it contains a hint as whole words, in any case
//! (`ci` is not found in "decide", `no` not in "I don't know"); the
//! reference's version of this example matched substrings.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use attesta::challenge::{ChannelChallenge, Interrogation, Judgement, Prepared, base_prompt};
use attesta::channel::{
    Channel, Question, QuestionKind, Response, ScriptedAnswer, ScriptedChannel,
};
use attesta::domain::{ChallengeTemplate, DomainProfile, DomainRegistry};
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, Attesta, ChallengeType, RiskAssessment, RiskLevel, Value, ValueMap};

/// Lower-case words of `text`: runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `text` contains `hint` as whole words, in order, in any case.
fn mentions(text: &str, hint: &str) -> bool {
    let (text, hint) = (words(text), words(hint));
    !hint.is_empty() && text.windows(hint.len()).any(|w| w == hint.as_slice())
}

/// One template made ready for one action: the question and the hints
/// that can judge its answer.
fn ask(template: &ChallengeTemplate, ctx: &ActionContext) -> (String, Vec<String>) {
    let text = template.render(ctx, &ctx.environment);
    // A hint the question itself shows would let anyone echo it back.
    let hints = template
        .render_hints(ctx, &ctx.environment)
        .into_iter()
        .filter(|hint| !mentions(&text, hint))
        .collect();
    (text, hints)
}

/// Asks up to `max_questions` of a profile's questions for the action's
/// level; passes with `min_correct` right (or all, if fewer were asked).
#[derive(Debug, Clone)]
struct DomainKnowledge {
    profile: DomainProfile,
    max_questions: usize,
    min_correct: u32,
}

#[async_trait]
impl Interrogation for DomainKnowledge {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Quiz
    }

    fn min_review(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn prepare(&self, ctx: &ActionContext, risk: &RiskAssessment) -> Prepared {
        let mut prompt = base_prompt(
            ChallengeType::Quiz,
            ctx,
            risk,
            format!(
                "Answer the {} team's questions about this action in a few words.",
                self.profile.display_name
            ),
            self.min_review(),
        );
        let mut key = ValueMap::new();
        for template in self.profile.templates_for_level(risk.level) {
            if prompt.questions.len() == self.max_questions {
                break;
            }
            let (text, hints) = ask(template, ctx);
            // A question nobody could answer right (no hint left) is not
            // asked: it would only fail honest approvers.
            if hints.is_empty() {
                continue;
            }
            let id = format!("q{}", prompt.questions.len() + 1);
            key.insert(
                id.clone(),
                Value::List(hints.into_iter().map(Value::Str).collect()),
            );
            prompt.questions.push(Question {
                id,
                text,
                kind: QuestionKind::FreeText,
                options: Vec::new(),
            });
        }
        Prepared { prompt, key }
    }

    async fn judge(
        &self,
        _ctx: &ActionContext,
        prepared: &Prepared,
        response: &Response,
    ) -> Judgement {
        let mut correct = 0u32;
        let mut marks = Vec::new();
        for (question, answer) in prepared.prompt.questions.iter().zip(&response.answers) {
            let right = match prepared.key.get(&question.id) {
                Some(Value::List(hints)) => hints
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|hint| mentions(answer, hint)),
                _ => false,
            };
            correct += u32::from(right);
            marks.push(Value::Bool(right));
        }
        let asked = u32::try_from(prepared.prompt.questions.len()).unwrap_or(u32::MAX);
        // With no template for this level there is nothing to get wrong.
        let needed = self.min_correct.min(asked);
        let passed = correct >= needed;
        let mut details = ValueMap::new();
        details.insert("domain".into(), Value::from(self.profile.name.as_str()));
        details.insert("correct".into(), Value::List(marks));
        Judgement {
            passed,
            questions_asked: asked,
            questions_correct: correct,
            reason: (!passed).then(|| {
                format!("{correct} of {asked} domain questions answered correctly; {needed} needed")
            }),
            details,
        }
    }
}

/// The built-in `infrastructure` profile.
fn infrastructure() -> Result<DomainProfile, Box<dyn Error>> {
    Ok(DomainRegistry::with_presets()?
        .get("infrastructure")?
        .clone())
}

fn quiz() -> Result<DomainKnowledge, Box<dyn Error>> {
    Ok(DomainKnowledge {
        profile: infrastructure()?,
        max_questions: 3,
        min_correct: 2,
    })
}

/// A gate that asks the domain questions for HIGH-risk actions, and scores
/// every action 0.6: HIGH in staging (×1.2).
fn gate(channel: Arc<dyn Channel>) -> Result<Attesta, Box<dyn Error>> {
    let challenge = ChannelChallenge::new(Arc::new(quiz()?), channel);
    Ok(Attesta::builder()
        .scorer(Arc::new(FixedRiskScorer::new(0.6)?))
        .challenge_for_level(RiskLevel::High, Arc::new(challenge))
        .build()?)
}

fn action() -> ActionContext {
    ActionContext::new("open_port")
        .with_kwarg("security_group", "sg-web")
        .with_kwarg("port", 22)
        .with_environment("staging")
        .with_agent("ops-bot")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers([
        "staging, the sg-web group",
        "one group; we revert the rule",
        "no: port 22 only, from the bastion",
    ])
    .by("dana")]));
    let attesta = gate(channel.clone())?;
    let decision = attesta.evaluate(&action()).await;
    for prompt in channel.prompts() {
        for question in &prompt.questions {
            println!("asked: {}", question.text);
        }
    }
    println!("verdict: {} ({})", decision.verdict, decision.reason);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use attesta::Verdict;
    use attesta::challenge::{Challenge, ChallengeResult};
    use attesta::risk::RiskScorer;

    use super::*;

    fn risk(level: RiskLevel) -> RiskAssessment {
        FixedRiskScorer::new(level.representative_score())
            .expect("score")
            .assess(&action())
    }

    fn texts(prepared: &Prepared) -> Vec<&str> {
        prepared
            .prompt
            .questions
            .iter()
            .map(|q| q.text.as_str())
            .collect()
    }

    async fn present(answers: &[&str]) -> ChallengeResult {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers(
            answers.iter().copied(),
        )
        .by("dana")]));
        let ctx = action();
        let risk = FixedRiskScorer::new(0.7).expect("score").assess(&ctx);
        ChannelChallenge::new(Arc::new(quiz().expect("preset")), channel)
            .present(&ctx, &risk)
            .await
    }

    #[test]
    fn the_questions_are_the_presets_templates_for_the_level() {
        let ctx = action();
        let preset = infrastructure().expect("preset");
        let quiz = quiz().expect("preset");
        let high = quiz.prepare(&ctx, &risk(RiskLevel::High));
        let from_preset: Vec<String> = preset
            .templates_for_level(RiskLevel::High)
            .iter()
            .map(|t| t.render(&ctx, "staging"))
            .collect();
        assert_eq!(texts(&high), from_preset);
        assert_eq!(
            texts(&high),
            [
                "Which environment and which resources will open_port change?",
                "What is the blast radius of open_port, and how would you roll it back?",
                "Does open_port grant more access than the task needs?",
            ]
        );
        // MEDIUM asks only the template written for MEDIUM; CRITICAL has a
        // fourth, but the budget is three.
        assert_eq!(
            texts(&quiz.prepare(&ctx, &risk(RiskLevel::Medium))).len(),
            1
        );
        assert_eq!(preset.templates_for_level(RiskLevel::Critical).len(), 4);
        assert_eq!(
            texts(&quiz.prepare(&ctx, &risk(RiskLevel::Critical))),
            texts(&high)
        );
        assert!(texts(&quiz.prepare(&ctx, &risk(RiskLevel::Low))).is_empty());
    }

    #[test]
    fn the_prompt_does_not_give_the_hints_away() {
        let prepared = quiz()
            .expect("preset")
            .prepare(&action(), &risk(RiskLevel::High));
        let shown = serde_json::to_string(&prepared.prompt).expect("json");
        for hint in ["least privilege", "snapshot", "rollback", "scoped"] {
            assert!(!shown.contains(hint), "{hint}");
        }
        // "blast radius" is in its own question, so it cannot be an answer.
        let Some(Value::List(hints)) = prepared.key.get("q2") else {
            panic!("{:?}", prepared.key);
        };
        assert!(!hints.contains(&Value::from("blast radius")));
    }

    #[tokio::test]
    async fn correct_answers_pass() {
        let result = present(&[
            "Staging",
            "we restore yesterday's snapshot",
            "No, it is scoped to one port",
        ])
        .await;
        assert!(result.passed, "{:?}", result.reason());
        assert_eq!(result.challenge_type, ChallengeType::Quiz);
        assert_eq!(result.questions_asked, 3);
        assert_eq!(result.questions_correct, 3);
        assert_eq!(result.responder, "dana");
    }

    #[tokio::test]
    async fn wrong_answers_fail_and_hints_are_whole_words() {
        // "know" holds "no", but not as a word.
        let result = present(&["the usual place", "we rollback", "I don't know"]).await;
        assert!(!result.passed);
        assert_eq!(
            result.reason(),
            Some("1 of 3 domain questions answered correctly; 2 needed")
        );
        assert_eq!(
            result.details.get("correct"),
            Some(&Value::List(vec![
                Value::Bool(false),
                Value::Bool(true),
                Value::Bool(false)
            ]))
        );
    }

    #[test]
    fn a_question_nobody_could_answer_is_not_asked() {
        // A profile of your own: its hint is the agent, and this action
        // names none, so the hint renders empty and would match anything.
        let profile = DomainProfile::from_yaml(
            "name: ops\nchallenge_templates:\n  - question_template: Who asked for {action}?\n    \
             answer_hints: ['{agent_id}']\n",
            Path::new("ops.yaml"),
        )
        .expect("a valid profile");
        let quiz = DomainKnowledge {
            profile,
            ..quiz().expect("preset")
        };
        let ctx = ActionContext::new("open_port");
        let risk = FixedRiskScorer::new(0.7).expect("score").assess(&ctx);
        assert!(quiz.prepare(&ctx, &risk).prompt.questions.is_empty());
        let prepared = quiz.prepare(&action(), &risk);
        assert_eq!(texts(&prepared), ["Who asked for open_port?"]);
    }

    #[tokio::test]
    async fn the_gate_approves_correct_answers() {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers([
            "staging",
            "revert the rule",
            "least privilege: one port",
        ])
        .by("dana")]));
        let decision = gate(channel).expect("gate").evaluate(&action()).await;
        assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
        assert_eq!(decision.approvers, ["dana"]);
    }

    #[tokio::test]
    async fn the_gate_denies_wrong_answers() {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers([
            "somewhere",
            "small",
            "hope",
        ])
        .by("dana")]));
        let decision = gate(channel).expect("gate").evaluate(&action()).await;
        assert_eq!(decision.verdict, Verdict::Denied);
        assert_eq!(
            decision.reason,
            "0 of 3 domain questions answered correctly; 2 needed"
        );
    }
}
