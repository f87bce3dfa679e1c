//! [`Quiz`]: questions generated from the action's own arguments.
//!
//! | module | job |
//! |---|---|
//! | `extract` | facts an action offers: paths, numbers, SQL tables, environment, function-name words |
//! | `path`, `sql` | parsing paths (any platform) and SQL table references |
//! | `generate` | facts to questions, in order of preference |
//! | `domain` | questions from the active domain profile's templates, and their share of the budget |
//! | `distract` | plausible wrong options |
//! | `judge` | answers against the private key |
//!
//! See `docs/challenges.md` for the rules and how they differ from the
//! reference implementation.

mod distract;
mod domain;
#[cfg(test)]
mod domain_tests;
mod extract;
mod generate;
mod judge;
pub(super) mod path;
pub(super) mod sql;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rand::SeedableRng;
use rand::rngs::{StdRng, SysRng};

use super::ChallengeType;
use super::interrogation::{Interrogation, Judgement, Prepared, base_prompt};
use crate::channel::Response;
use crate::context::ActionContext;
use crate::domain::DomainProfile;
use crate::policy::QuizSettings;
use crate::risk::RiskAssessment;
use crate::value::{Value, ValueMap};

/// What the human is told to do.
const INSTRUCTIONS: &str = "Answer each question about the action shown above. For a \
     multiple-choice question type the letter or the value; otherwise type the value.";

/// Added to the instructions when the domain profile's questions are asked:
/// their answers are not on the call line.
const DOMAIN_INSTRUCTIONS: &str = " The domain profile's questions come last: answer them \
     in a few words of your own.";

/// Asks one to three questions whose answers are in the action's arguments:
/// which directory a path is in, the file name at its end, the table a SQL
/// statement changes, a number, the environment, or (when the arguments
/// offer nothing) what the action does.
///
/// Correct answers stay in [`Prepared::key`]; the prompt only shows the
/// options, so it can be sent anywhere before the human answers.
///
/// With a domain profile ([`Quiz::with_domain`]) the profile's quiz
/// templates for the action's level are asked too, after the questions
/// about the call and within the same budget; their answers are judged by
/// the templates' answer hints (see `docs/domains.md`).
///
/// ```
/// use std::time::Duration;
/// use attesta::challenge::{Interrogation, Quiz};
/// use attesta::policy::QuizSettings;
/// use attesta::risk::{FixedRiskScorer, RiskScorer};
/// use attesta::ActionContext;
///
/// let ctx = ActionContext::new("delete_file").with_arg("/var/data/reports/q3.csv");
/// let risk = FixedRiskScorer::new(0.7).unwrap().assess(&ctx);
/// let quiz = Quiz::with_seed(QuizSettings::default(), Duration::ZERO, 1);
/// let prepared = quiz.prepare(&ctx, &risk);
/// assert_eq!(prepared.prompt.questions[0].text,
///            "Which directory contains the path given in the 1st argument?");
/// assert!(prepared.prompt.questions[0].options.contains(&"/var/data/reports".to_owned()));
/// ```
#[derive(Debug, Clone)]
pub struct Quiz {
    /// How many questions to ask and how many must be right.
    settings: QuizSettings,
    /// Suggested reading time before answering.
    min_review: Duration,
    /// A fixed seed makes option order reproducible (tests); `None` seeds
    /// every prepared quiz from the OS.
    seed: Option<u64>,
    /// The active domain profile, whose quiz templates are asked too.
    domain: Option<Arc<DomainProfile>>,
}

impl Quiz {
    /// A quiz that shuffles options with a fresh OS-seeded generator each
    /// time it is prepared.
    pub fn new(settings: QuizSettings, min_review: Duration) -> Self {
        Self {
            settings,
            min_review,
            seed: None,
            domain: None,
        }
    }

    /// A quiz whose option order depends only on `seed`: the same seed and
    /// action always give the same prompt. For tests and reproducible
    /// demos; a real deployment wants [`Quiz::new`], or every approver sees
    /// the right option in the same place.
    pub fn with_seed(settings: QuizSettings, min_review: Duration, seed: u64) -> Self {
        Self {
            settings,
            min_review,
            seed: Some(seed),
            domain: None,
        }
    }

    /// Also asks `profile`'s quiz templates for the action's risk level,
    /// after the questions about the call: they take the room those leave,
    /// and one slot of a full budget of two or more, but are never asked
    /// without a question about the call. An answer is right when it
    /// contains one of the template's answer hints as whole words.
    #[must_use]
    pub fn with_domain(mut self, profile: Arc<DomainProfile>) -> Self {
        self.domain = Some(profile);
        self
    }

    /// `max_questions`, kept to 1..=3 even if the settings were built by
    /// hand past the policy loader's validation.
    fn max_questions(&self) -> usize {
        usize::try_from(self.settings.max_questions.clamp(1, 3)).unwrap_or(3)
    }

    fn rng(&self) -> StdRng {
        match self.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::try_from_rng(&mut SysRng).unwrap_or_else(|_| fallback_rng()),
        }
    }
}

/// Used only if the OS has no randomness to give. Option order is there to
/// stop "always answer A", not to keep a secret, so a clock-and-counter seed
/// is an acceptable fallback where panicking in the approval path is not.
fn fallback_rng() -> StdRng {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    #[allow(clippy::cast_possible_truncation)] // mixing bits; losing the high ones is fine
    let seed = (nanos as u64) ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
    StdRng::seed_from_u64(seed)
}

#[async_trait]
impl Interrogation for Quiz {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Quiz
    }

    fn min_review(&self) -> Duration {
        self.min_review
    }

    fn prepare(&self, ctx: &ActionContext, risk: &RiskAssessment) -> Prepared {
        let facts = extract::facts(ctx);
        let mut rng = self.rng();
        let max = self.max_questions();
        let mut asked = generate::questions(&facts, max, &mut rng);
        let from_domain = match &self.domain {
            Some(profile) => {
                domain::fit(&mut asked, domain::questions(profile, ctx, risk.level), max)
            }
            None => Vec::new(),
        };
        let mut instructions = INSTRUCTIONS.to_owned();
        if !from_domain.is_empty() {
            instructions.push_str(DOMAIN_INSTRUCTIONS);
        }
        let mut prompt = base_prompt(
            ChallengeType::Quiz,
            ctx,
            risk,
            instructions,
            self.min_review,
        );
        let mut answers = Vec::with_capacity(asked.len() + from_domain.len());
        for a in asked {
            prompt.questions.push(a.question);
            answers.push(Value::Str(a.answer));
        }
        // A list, not a string, marks a domain question's entry: any of
        // these hints makes the answer right.
        for d in from_domain {
            prompt.questions.push(d.question);
            answers.push(Value::List(d.hints.into_iter().map(Value::Str).collect()));
        }
        let mut key = ValueMap::new();
        key.insert(judge::ANSWERS.into(), Value::List(answers));
        Prepared { prompt, key }
    }

    async fn judge(
        &self,
        _ctx: &ActionContext,
        prepared: &Prepared,
        response: &Response,
    ) -> Judgement {
        judge::judge(
            &self.settings,
            &prepared.prompt.questions,
            &prepared.key,
            response,
        )
    }
}
