//! Custom challenge 3 of 3: questions only someone who knows the domain can
//! answer, written as templates by the team that owns the system.
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
//! - a tolerant template renderer: `{function_name}`, `{action}` (the same),
//!   `{environment}`, `{agent_id}` and each keyword argument by name; an
//!   unknown placeholder is left as written instead of failing;
//! - installing it for HIGH-risk actions with `challenge_for_level`.
//!
//! Answers are checked by case-insensitive substring against hints, as the
//! reference does; that is lenient, so write specific hints (a table name,
//! not "data").

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use attesta::challenge::{ChannelChallenge, Interrogation, Judgement, Prepared, base_prompt};
use attesta::channel::{
    Channel, Question, QuestionKind, Response, ScriptedAnswer, ScriptedChannel,
};
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, Attesta, ChallengeType, RiskAssessment, RiskLevel, Value, ValueMap};

/// One question a domain asks, from a risk level up.
#[derive(Debug, Clone)]
struct QuestionTemplate {
    /// The lowest risk level this question is asked at.
    from_level: RiskLevel,
    /// The question, with `{placeholders}`.
    text: &'static str,
    /// An answer is right if it contains any of these (rendered, compared
    /// case-insensitively). Hints that render empty are dropped.
    answer_hints: &'static [&'static str],
}

/// The question templates of one domain.
#[derive(Debug, Clone)]
struct DomainProfile {
    name: &'static str,
    templates: Vec<QuestionTemplate>,
}

impl DomainProfile {
    /// The database team's questions.
    fn databases() -> Self {
        let templates = vec![
            QuestionTemplate {
                from_level: RiskLevel::Medium,
                text: "Which environment will {function_name} change?",
                answer_hints: &["{environment}"],
            },
            QuestionTemplate {
                from_level: RiskLevel::High,
                text: "Which table does {action} modify?",
                answer_hints: &["{table}"],
            },
            QuestionTemplate {
                from_level: RiskLevel::High,
                text: "If {function_name} goes wrong, how do you get the data back?",
                answer_hints: &["point-in-time", "snapshot", "backup", "restore"],
            },
            QuestionTemplate {
                from_level: RiskLevel::Critical,
                text: "Which on-call rotation must know before {action} runs? {runbook_link}",
                answer_hints: &["dba-oncall"],
            },
        ];
        Self {
            name: "databases",
            templates,
        }
    }

    /// Templates asked at `level`.
    fn templates_for_level(&self, level: RiskLevel) -> impl Iterator<Item = &QuestionTemplate> {
        self.templates.iter().filter(move |t| t.from_level <= level)
    }
}

/// Replaces `{name}` with `values[name]`; unknown names stay as written, so
/// a template with a typo still renders (visibly) instead of failing.
fn render(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let Some((name, tail)) = after.split_once('}') else {
            // An unclosed brace is text.
            out.push('{');
            out.push_str(after);
            return out;
        };
        if let Some(value) = values.get(name) {
            out.push_str(value);
        } else {
            out.push('{');
            out.push_str(name);
            out.push('}');
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The placeholder values for an action.
fn placeholders(ctx: &ActionContext) -> BTreeMap<String, String> {
    let mut values = BTreeMap::from([
        ("function_name".to_owned(), ctx.function_name.clone()),
        ("action".to_owned(), ctx.function_name.clone()),
        ("environment".to_owned(), ctx.environment.clone()),
        (
            "agent_id".to_owned(),
            ctx.agent_id.clone().unwrap_or_default(),
        ),
    ]);
    for (name, value) in &ctx.kwargs {
        values.insert(name.clone(), value.py_str());
    }
    values
}

/// Asks up to `max_questions` of a domain's questions; passes with
/// `min_correct` right (or all, if fewer were asked).
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
        let values = placeholders(ctx);
        let mut prompt = base_prompt(
            ChallengeType::Quiz,
            ctx,
            risk,
            format!(
                "Answer the {} team's questions about this action.",
                self.profile.name
            ),
            self.min_review(),
        );
        let mut key = ValueMap::new();
        for template in self.profile.templates_for_level(risk.level) {
            if prompt.questions.len() == self.max_questions {
                break;
            }
            let hints: Vec<Value> = template
                .answer_hints
                .iter()
                .map(|hint| render(hint, &values).trim().to_lowercase())
                .filter(|hint| !hint.is_empty())
                .map(Value::Str)
                .collect();
            // A question nobody could answer right (its hint rendered
            // empty) is not asked: it would only fail honest approvers.
            if hints.is_empty() {
                continue;
            }
            let id = format!("q{}", prompt.questions.len() + 1);
            key.insert(id.clone(), Value::List(hints));
            prompt.questions.push(Question {
                id,
                text: render(template.text, &values),
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
            let answer = answer.to_lowercase();
            let right = match prepared.key.get(&question.id) {
                Some(Value::List(hints)) => hints
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|hint| answer.contains(hint)),
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
        details.insert("domain".into(), Value::from(self.profile.name));
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

fn quiz() -> DomainKnowledge {
    DomainKnowledge {
        profile: DomainProfile::databases(),
        max_questions: 3,
        min_correct: 2,
    }
}

/// A gate that scores every action HIGH and asks the domain questions there.
fn gate(channel: Arc<dyn Channel>) -> Result<Attesta, Box<dyn Error>> {
    let challenge = ChannelChallenge::new(Arc::new(quiz()), channel);
    Ok(Attesta::builder()
        .scorer(Arc::new(FixedRiskScorer::new(0.7)?))
        .challenge_for_level(RiskLevel::High, Arc::new(challenge))
        .build()?)
}

fn action() -> ActionContext {
    ActionContext::new("drop_column")
        .with_kwarg("table", "invoices")
        .with_kwarg("column", "legacy_vat")
        .with_environment("billing-eu")
        .with_agent("migration-bot")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers([
        "billing-eu",
        "the invoices table",
        "point-in-time restore from last night",
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
    use attesta::Verdict;
    use attesta::challenge::{Challenge, ChallengeResult};
    use attesta::risk::RiskScorer;

    use super::*;

    async fn present(answers: &[&str]) -> ChallengeResult {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers(
            answers.iter().copied(),
        )
        .by("dana")]));
        let ctx = action();
        let risk = FixedRiskScorer::new(0.7).expect("score").assess(&ctx);
        ChannelChallenge::new(Arc::new(quiz()), channel)
            .present(&ctx, &risk)
            .await
    }

    #[test]
    fn templates_render_known_placeholders_and_keep_unknown_ones() {
        let values = placeholders(&action());
        assert_eq!(
            render("Which table does {action} modify?", &values),
            "Which table does drop_column modify?"
        );
        assert_eq!(render("{table}/{column}", &values), "invoices/legacy_vat");
        assert_eq!(
            render("See {runbook_link} {", &values),
            "See {runbook_link} {"
        );
        let critical: Vec<_> = DomainProfile::databases()
            .templates_for_level(RiskLevel::Critical)
            .map(|t| render(t.text, &values))
            .collect();
        assert_eq!(
            critical[3],
            "Which on-call rotation must know before drop_column runs? {runbook_link}"
        );
        assert_eq!(
            DomainProfile::databases()
                .templates_for_level(RiskLevel::Medium)
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn correct_answers_pass() {
        let result = present(&["Billing-EU", "invoices", "we restore the snapshot"]).await;
        assert!(result.passed, "{:?}", result.reason());
        assert_eq!(result.challenge_type, ChallengeType::Quiz);
        assert_eq!(result.questions_asked, 3);
        assert_eq!(result.questions_correct, 3);
        assert_eq!(result.responder, "dana");
    }

    #[tokio::test]
    async fn wrong_answers_fail() {
        let result = present(&["production", "customers", "we restore the snapshot"]).await;
        assert!(!result.passed);
        assert_eq!(
            result.reason(),
            Some("1 of 3 domain questions answered correctly; 2 needed")
        );
        assert_eq!(
            result.details.get("correct"),
            Some(&Value::List(vec![
                Value::Bool(false),
                Value::Bool(false),
                Value::Bool(true)
            ]))
        );
    }

    #[tokio::test]
    async fn an_empty_placeholder_never_matches_everything() {
        // No environment: the environment question is not asked at all,
        // rather than accepting any answer (the empty string is in every
        // answer).
        let ctx = ActionContext::new("drop_column").with_kwarg("table", "invoices");
        let risk = FixedRiskScorer::new(0.7).expect("score").assess(&ctx);
        let prepared = quiz().prepare(&ctx, &risk);
        let texts: Vec<_> = prepared.prompt.questions.iter().map(|q| &q.text).collect();
        assert_eq!(
            texts,
            [
                "Which table does drop_column modify?",
                "If drop_column goes wrong, how do you get the data back?"
            ]
        );
        // The prompt does not give the answers away.
        let shown = serde_json::to_string(&prepared.prompt).expect("json");
        assert!(!shown.contains("snapshot"));
    }

    #[tokio::test]
    async fn the_gate_approves_correct_answers() {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers([
            "billing-eu",
            "invoices",
            "backup",
        ])
        .by("dana")]));
        let decision = gate(channel).expect("gate").evaluate(&action()).await;
        assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
        assert_eq!(decision.approvers, ["dana"]);
    }

    #[tokio::test]
    async fn the_gate_denies_wrong_answers() {
        let channel = Arc::new(ScriptedChannel::new([ScriptedAnswer::answers([
            "staging", "users", "hope",
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
