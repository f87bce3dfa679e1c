//! [`KeywordValidator`]: the default, offline teach-back check.

use async_trait::async_trait;

use super::copy::{self, Stripped};
use super::{INSTRUCTIONS, QUESTION, TeachBackValidator, Validation};
use crate::challenge::words::{self, term_matches};
use crate::context::ActionContext;

/// Accepts an explanation that is long enough in the human's own words and
/// names something specific about the action.
///
/// An explanation passes when all of these hold:
///
/// 1. **Own words.** Runs of five or more consecutive words copied from the
///    prompt (the call, the function's documentation, the instructions, the
///    question as shown, a domain profile's included) are removed first;
///    the rest is what counts.
/// 2. **Length.** At least `min_words` words remain.
/// 3. **Variety.** At least two thirds of `min_words` (rounded up) of the
///    remaining words are different words of two or more characters, so
///    "x x x … x drop" or one word repeated is not an explanation.
/// 4. **Specific.** At least `min_terms` (default 1) key terms occur in the
///    remaining words as whole words (`table` does not match "unstable",
///    `3` does not match "13"). When the action has no key terms at all
///    this check is skipped and a note says so.
///
/// Notes on failure say what to improve and how many terms are needed, but
/// never list the key terms: that would hand over the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordValidator {
    /// Words the explanation needs, after copied text is removed.
    min_words: u32,
    /// Key terms it must mention.
    min_terms: usize,
}

impl Default for KeywordValidator {
    /// 15 words and one key term, like the policy default.
    fn default() -> Self {
        Self::new(15)
    }
}

impl KeywordValidator {
    /// A validator requiring `min_words` words of the human's own and one
    /// key term.
    pub fn new(min_words: u32) -> Self {
        Self {
            min_words,
            min_terms: 1,
        }
    }

    /// Requires `min_terms` key terms instead of one (capped at the number
    /// of key terms an action has).
    #[must_use]
    pub fn with_min_terms(mut self, min_terms: usize) -> Self {
        self.min_terms = min_terms;
        self
    }

    /// Different words needed: two thirds of the minimum, rounded up.
    fn distinct_needed(&self) -> usize {
        usize::try_from(self.min_words.saturating_mul(2).div_ceil(3)).unwrap_or(usize::MAX)
    }

    fn min_words(&self) -> usize {
        usize::try_from(self.min_words).unwrap_or(usize::MAX)
    }
}

/// The texts a prompt shows that an explanation must not simply repeat.
fn prompt_texts(ctx: &ActionContext, question: &str) -> Vec<Vec<String>> {
    let mut texts = vec![
        words::tokens(&ctx.description()),
        words::tokens(INSTRUCTIONS),
        words::tokens(question),
    ];
    if let Some(doc) = &ctx.function_doc {
        texts.push(words::tokens(doc));
    }
    texts
}

fn distinct_words(stripped: &Stripped) -> usize {
    let mut seen: Vec<&str> = stripped
        .segments
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|w| w.chars().count() >= 2)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

#[async_trait]
impl TeachBackValidator for KeywordValidator {
    /// Judges an answer to the standard question.
    async fn validate(
        &self,
        explanation: &str,
        ctx: &ActionContext,
        key_terms: &[String],
    ) -> Validation {
        self.check(QUESTION, explanation, ctx, key_terms)
    }

    async fn validate_answer(
        &self,
        question: &str,
        explanation: &str,
        ctx: &ActionContext,
        key_terms: &[String],
    ) -> Validation {
        self.check(question, explanation, ctx, key_terms)
    }
}

impl KeywordValidator {
    /// The four rules, with `question` as the question shown.
    fn check(
        &self,
        question: &str,
        explanation: &str,
        ctx: &ActionContext,
        key_terms: &[String],
    ) -> Validation {
        let stripped =
            copy::strip_copies(&words::tokens(explanation), &prompt_texts(ctx, question));
        let mut notes = Vec::new();
        if stripped.copied > 0 {
            notes.push(format!(
                "{} words copied from the prompt (the call, its documentation, the instructions \
                 or the question) do not count.",
                stripped.copied
            ));
        }
        let kept = stripped.kept();
        let long_enough = kept >= self.min_words();
        if !long_enough {
            notes.push(format!(
                "Only {kept} words count; write at least {} in your own words.",
                self.min_words
            ));
        }
        let distinct = distinct_words(&stripped);
        let varied = distinct >= self.distinct_needed();
        if !varied {
            notes.push(format!(
                "Only {distinct} different words; use at least {} different words instead of \
                 repeating some.",
                self.distinct_needed()
            ));
        }
        let matched_terms: Vec<String> = key_terms
            .iter()
            .filter(|t| term_matches(t, &stripped.segments))
            .cloned()
            .collect();
        let needed = self.min_terms.min(key_terms.len());
        let specific = matched_terms.len() >= needed;
        if key_terms.is_empty() {
            notes.push(
                "This action offers no specific terms to check; only length and originality \
                 were judged."
                    .to_owned(),
            );
        } else if !specific {
            let what = if needed == 1 {
                "one specific detail".to_owned()
            } else {
                format!("{needed} specific details")
            };
            notes.push(format!(
                "Name at least {what} of this action in your own words: say what it changes \
                 and where (a name, path or number from its arguments)."
            ));
        }
        Validation {
            passed: long_enough && varied && specific,
            notes,
            matched_terms,
        }
    }
}
