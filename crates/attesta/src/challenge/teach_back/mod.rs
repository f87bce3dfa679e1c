//! [`TeachBack`]: the human explains the action in their own words.
//!
//! | module | job |
//! |---|---|
//! | `terms` | key terms of an action, whole-word matching |
//! | `copy` | text copied from the prompt |
//! | `keyword` | [`KeywordValidator`], the default check |
//!
//! The check itself is pluggable ([`TeachBackValidator`]): a deployment can
//! grade explanations with a language model or a reviewer service instead.
//!
//! With an active domain profile ([`TeachBack::with_domain`]) the profile's
//! teach-back question for the action's level is asked after the standard
//! one, and the profile's vocabulary, the terms it finds in the call and the
//! question's answer hints count as key terms.

mod copy;
#[cfg(test)]
mod domain_tests;
mod keyword;
mod terms;
#[cfg(test)]
mod tests;

pub use keyword::KeywordValidator;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::ChallengeType;
use super::interrogation::{Interrogation, Judgement, Prepared, base_prompt};
use super::{templates, words};
use crate::channel::{Question, QuestionKind, Response};
use crate::context::ActionContext;
use crate::domain::DomainProfile;
use crate::policy::TeachBackSettings;
use crate::risk::{RiskAssessment, RiskLevel};
use crate::value::{Value, ValueMap};

/// What the human is asked to do. Worded so that natural answers rarely
/// repeat five of its words in a row (which would count as copying).
const INSTRUCTIONS: &str = "In your own words, explain what running this action changes, \
     where, and what could go wrong. Words quoted from the call or from these instructions do \
     not count towards the minimum.";

/// The one question of a teach-back prompt.
const QUESTION: &str = "What will this action do, and what will it change?";

/// The key entry holding the action's key terms.
const KEY_TERMS: &str = "key_terms";

/// The verdict of a [`TeachBackValidator`] on one explanation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Validation {
    /// Whether the explanation shows the action was understood.
    pub passed: bool,
    /// What the human should know: why it failed and how to do better.
    /// Shown to humans, so it must not reveal the key terms.
    pub notes: Vec<String>,
    /// The key terms the explanation used; recorded, not shown.
    pub matched_terms: Vec<String>,
}

impl Validation {
    /// A failed validation from a validator that could not decide (a grader
    /// that is down, a timeout), with a note saying so.
    pub fn failed(note: impl Into<String>) -> Self {
        Self {
            passed: false,
            notes: vec![note.into()],
            matched_terms: Vec::new(),
        }
    }
}

/// Decides whether an explanation shows the action was understood.
///
/// Implementations must not panic: a validator that cannot decide returns
/// [`Validation::failed`], which fails the challenge.
///
/// ```
/// use async_trait::async_trait;
/// use attesta::ActionContext;
/// use attesta::challenge::{TeachBackValidator, Validation};
///
/// /// Accepts only explanations that mention the word "irreversible".
/// #[derive(Debug)]
/// struct MentionsRisk;
///
/// #[async_trait]
/// impl TeachBackValidator for MentionsRisk {
///     async fn validate(&self, explanation: &str, _ctx: &ActionContext, _terms: &[String]) -> Validation {
///         if explanation.to_lowercase().contains("irreversible") {
///             Validation { passed: true, ..Validation::default() }
///         } else {
///             Validation::failed("say whether the change can be undone")
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait TeachBackValidator: Send + Sync + fmt::Debug {
    /// Judges `explanation` of the action `ctx`. `key_terms` are the terms
    /// a good explanation of this action would use (see
    /// [`TeachBack::key_terms`]).
    async fn validate(
        &self,
        explanation: &str,
        ctx: &ActionContext,
        key_terms: &[String],
    ) -> Validation;

    /// Judges `explanation` as the answer to `question`, the text the
    /// human was shown, which a domain profile may have extended with its
    /// own question. [`TeachBack`] calls this; the default ignores the
    /// question and calls [`TeachBackValidator::validate`]. A validator
    /// that compares the explanation with the prompt (as
    /// [`KeywordValidator`] does, to discount copied text) overrides it.
    async fn validate_answer(
        &self,
        question: &str,
        explanation: &str,
        ctx: &ActionContext,
        key_terms: &[String],
    ) -> Validation {
        let _ = question;
        self.validate(explanation, ctx, key_terms).await
    }
}

/// Asks the human to explain, in at least `min_words` words of their own,
/// what the action will do, and has a [`TeachBackValidator`] judge it
/// ([`KeywordValidator`] unless another is set).
///
/// Whatever the validator, an empty explanation or one shorter than
/// `min_words` fails without being sent to it: the policy's minimum holds
/// for every validator.
#[derive(Debug, Clone)]
pub struct TeachBack {
    /// The policy's word minimum.
    settings: TeachBackSettings,
    /// Suggested reading time before answering.
    min_review: Duration,
    /// Who judges the explanation.
    validator: Arc<dyn TeachBackValidator>,
    /// Domain terms that count as key terms for every action.
    vocabulary: Vec<String>,
    /// The active domain profile: its question for the level is asked, and
    /// its terms count as key terms.
    domain: Option<Arc<DomainProfile>>,
}

impl TeachBack {
    /// A teach-back judged by a [`KeywordValidator`] with the settings'
    /// word minimum.
    pub fn new(settings: TeachBackSettings, min_review: Duration) -> Self {
        Self {
            settings,
            min_review,
            validator: Arc::new(KeywordValidator::new(settings.min_words)),
            vocabulary: Vec::new(),
            domain: None,
        }
    }

    /// Judges explanations with `validator` instead.
    #[must_use]
    pub fn with_validator(mut self, validator: Arc<dyn TeachBackValidator>) -> Self {
        self.validator = validator;
        self
    }

    /// Adds domain vocabulary: terms (one or several words) that count as
    /// key terms for every action, such as "backup" or "point in time".
    #[must_use]
    pub fn with_vocabulary(mut self, terms: Vec<String>) -> Self {
        self.vocabulary.extend(terms);
        self
    }

    /// Uses `profile`: its teach-back template for the action's level (the
    /// one written for the highest level, first in the profile among
    /// equals) is asked after the standard question, and key terms gain
    /// the profile's vocabulary, the sensitive terms and pattern names it
    /// finds in the call ([`DomainProfile::key_terms_for`]) and the
    /// template's answer hints.
    #[must_use]
    pub fn with_domain(mut self, profile: Arc<DomainProfile>) -> Self {
        self.domain = Some(profile);
        self
    }

    /// The key terms of an action: the function name's words, argument
    /// values, the vocabulary, and with a domain profile the terms
    /// [`DomainProfile::key_terms_for`] gives (see `docs/challenges.md`).
    /// The answer hints of the profile's question depend on the risk level
    /// and are added when a prompt is prepared. Never contains an empty
    /// term, nor one twice.
    pub fn key_terms(&self, ctx: &ActionContext) -> Vec<String> {
        self.key_terms_with(ctx, &[])
    }

    /// [`TeachBack::key_terms`] plus `hints`.
    fn key_terms_with(&self, ctx: &ActionContext, hints: &[String]) -> Vec<String> {
        let mut vocabulary = self.vocabulary.clone();
        if let Some(profile) = &self.domain {
            // `key_terms_for` starts with the profile's vocabulary; adding
            // `vocabulary()` too would only repeat it.
            vocabulary.extend(profile.key_terms_for(ctx));
        }
        vocabulary.extend_from_slice(hints);
        terms::key_terms(ctx, &vocabulary)
    }

    /// The profile's question for `ctx` at `level`, if a profile is active
    /// and has one.
    fn domain_question(
        &self,
        ctx: &ActionContext,
        level: RiskLevel,
    ) -> Option<templates::Rendered> {
        let profile = self.domain.as_ref()?;
        templates::rendered(profile, ChallengeType::TeachBack, ctx, level)
            .into_iter()
            .next()
    }

    fn min_words(&self) -> usize {
        usize::try_from(self.settings.min_words).unwrap_or(usize::MAX)
    }

    /// Runs the policy's own checks, then the validator.
    async fn validate(
        &self,
        question: &str,
        explanation: &str,
        ctx: &ActionContext,
        key_terms: &[String],
        word_count: usize,
    ) -> Validation {
        if explanation.is_empty() {
            return Validation::failed(
                "No explanation was given; describe in your own words what the action will do.",
            );
        }
        if word_count < self.min_words() {
            return Validation::failed(format!(
                "The explanation has {word_count} words; write at least {}.",
                self.settings.min_words
            ));
        }
        self.validator
            .validate_answer(question, explanation, ctx, key_terms)
            .await
    }
}

fn key_terms_from(key: &ValueMap) -> Option<Vec<String>> {
    match key.get(KEY_TERMS)? {
        Value::List(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

fn strings(items: &[String]) -> Value {
    Value::List(items.iter().cloned().map(Value::Str).collect())
}

#[async_trait]
impl Interrogation for TeachBack {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::TeachBack
    }

    fn min_review(&self) -> Duration {
        self.min_review
    }

    fn prepare(&self, ctx: &ActionContext, risk: &RiskAssessment) -> Prepared {
        let mut prompt = base_prompt(
            ChallengeType::TeachBack,
            ctx,
            risk,
            INSTRUCTIONS,
            self.min_review,
        );
        prompt.min_words = Some(self.min_words());
        // The domain's question extends the standard one rather than
        // replacing it: what the action changes is still the first thing
        // to explain.
        let (text, hints) = match self.domain_question(ctx, risk.level) {
            Some(domain) => (format!("{QUESTION} {}", domain.text), domain.hints),
            None => (QUESTION.to_owned(), Vec::new()),
        };
        prompt.questions.push(Question {
            id: "explanation".to_owned(),
            text,
            kind: QuestionKind::Explanation,
            options: Vec::new(),
        });
        let mut key = ValueMap::new();
        key.insert(KEY_TERMS.into(), strings(&self.key_terms_with(ctx, &hints)));
        Prepared { prompt, key }
    }

    async fn judge(
        &self,
        ctx: &ActionContext,
        prepared: &Prepared,
        response: &Response,
    ) -> Judgement {
        let explanation = response.answers.first().map_or("", |a| a.trim());
        let word_count = words::tokens(explanation).len();
        let question = prepared
            .prompt
            .questions
            .first()
            .map_or(QUESTION, |q| q.text.as_str());
        let validation = match key_terms_from(&prepared.key) {
            Some(key_terms) => {
                self.validate(question, explanation, ctx, &key_terms, word_count)
                    .await
            }
            None => {
                Validation::failed("The teach-back key is damaged; ask for the explanation again.")
            }
        };
        let reason = (!validation.passed).then(|| {
            if validation.notes.is_empty() {
                "the explanation was not accepted".to_owned()
            } else {
                validation.notes.join(" ")
            }
        });
        let mut details = ValueMap::new();
        details.insert("explanation".into(), explanation.into());
        details.insert(
            "word_count".into(),
            Value::Int(i128::try_from(word_count).unwrap_or(i128::MAX)),
        );
        details.insert("matched_terms".into(), strings(&validation.matched_terms));
        details.insert("notes".into(), strings(&validation.notes));
        Judgement {
            passed: validation.passed,
            questions_asked: 1,
            questions_correct: u32::from(validation.passed),
            reason,
            details,
        }
    }
}
