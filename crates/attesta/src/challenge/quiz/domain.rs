//! Questions from the active domain profile's quiz templates, and how they
//! share the question budget with the questions about the call.
//!
//! The questions about the call's own arguments keep priority: they are
//! what proves the human read *this* call, while a domain question asks
//! what the team should know about actions like it (is there a rollback,
//! was it tested), whose answer no call line shows. So domain questions
//! come last, take only the room the call questions leave, plus one slot
//! reserved from a full budget of two or more, and are never asked alone.

use super::generate::Asked;
use crate::challenge::ChallengeType;
use crate::challenge::templates;
use crate::challenge::words::{term_matches, tokens};
use crate::channel::{Question, QuestionKind};
use crate::context::ActionContext;
use crate::domain::DomainProfile;
use crate::risk::RiskLevel;

/// One domain question and the hints its answer is judged against (kept
/// apart: the hints go into the private key, never into the prompt).
#[derive(Debug, Clone)]
pub(super) struct DomainAsked {
    /// What the human sees: free text, no options.
    pub(super) question: Question,
    /// An answer is right when it contains one of these as whole words.
    pub(super) hints: Vec<String>,
}

/// The profile's quiz questions for `ctx` at `level`, most severe first.
///
/// A hint that the question's own text shows is dropped: echoing the
/// question ("Has it been run against a copy?" → "copy") proves nothing.
/// A template left without hints is not asked, since no answer could be
/// right.
pub(super) fn questions(
    profile: &DomainProfile,
    ctx: &ActionContext,
    level: RiskLevel,
) -> Vec<DomainAsked> {
    let mut out = Vec::new();
    for template in templates::rendered(profile, ChallengeType::Quiz, ctx, level) {
        let shown = [tokens(&template.text)];
        let hints: Vec<String> = template
            .hints
            .into_iter()
            .filter(|hint| !term_matches(hint, &shown))
            .collect();
        if hints.is_empty() {
            continue;
        }
        out.push(DomainAsked {
            question: Question {
                id: format!("domain_{}", out.len() + 1),
                text: template.text,
                kind: QuestionKind::FreeText,
                options: Vec::new(),
            },
            hints,
        });
    }
    out
}

/// Fits `domain` questions into a budget of `max` next to the call
/// questions in `asked`, and returns those that are asked.
///
/// When the call questions fill the budget and it holds two or more, the
/// last call question (the least telling: the environment, when asked)
/// gives its slot to the first domain question. With a budget of one, or
/// no call question at all, no domain question is asked: a quiz must
/// always ask about the call.
pub(super) fn fit(
    asked: &mut Vec<Asked>,
    mut domain: Vec<DomainAsked>,
    max: usize,
) -> Vec<DomainAsked> {
    if asked.is_empty() || domain.is_empty() || max < 2 {
        return Vec::new();
    }
    asked.truncate(max - 1);
    domain.truncate(max - asked.len());
    domain
}

/// Whether `given` contains one of `hints` as whole words, in any case
/// and with simple inflections (`backups` for `backup`), by the rules
/// teach-back uses for key terms. An empty answer contains nothing.
pub(super) fn mentions_hint(given: &str, hints: &[&str]) -> bool {
    let said = [tokens(given)];
    hints.iter().any(|hint| term_matches(hint, &said))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(id: &str) -> Asked {
        Asked {
            question: Question {
                id: id.to_owned(),
                text: String::new(),
                kind: QuestionKind::FreeText,
                options: Vec::new(),
            },
            answer: String::new(),
        }
    }

    fn domain(n: usize) -> Vec<DomainAsked> {
        (1..=n)
            .map(|i| DomainAsked {
                question: Question {
                    id: format!("domain_{i}"),
                    ..asked("").question
                },
                hints: vec!["x".into()],
            })
            .collect()
    }

    fn ids(asked: &[Asked], domain: &[DomainAsked]) -> Vec<String> {
        asked
            .iter()
            .map(|a| &a.question.id)
            .chain(domain.iter().map(|d| &d.question.id))
            .cloned()
            .collect()
    }

    #[test]
    fn call_questions_keep_priority_and_one_slot_is_reserved() {
        let cases: [(&[&str], usize, usize, &[&str]); 7] = [
            (
                &["directory", "name", "environment"],
                3,
                2,
                &["directory", "name", "domain_1"],
            ),
            (
                &["operation", "environment"],
                3,
                2,
                &["operation", "environment", "domain_1"],
            ),
            (&["operation"], 3, 2, &["operation", "domain_1", "domain_2"]),
            (&["directory", "name"], 2, 2, &["directory", "domain_1"]),
            (&["directory"], 1, 2, &["directory"]),
            (&[], 3, 2, &[]),
            (
                &["operation", "environment"],
                3,
                0,
                &["operation", "environment"],
            ),
        ];
        for (call, max, offered, want) in cases {
            let mut call_asked: Vec<Asked> = call.iter().map(|id| asked(id)).collect();
            let fitted = fit(&mut call_asked, domain(offered), max);
            assert_eq!(ids(&call_asked, &fitted), want, "{call:?} max {max}");
        }
    }

    #[test]
    fn hints_match_whole_words_in_any_case() {
        let hints = ["staging", "dry run", "backup"];
        for given in [
            "In STAGING, yesterday",
            "a dry run first",
            "two backups exist",
        ] {
            assert!(mentions_hint(given, &hints), "{given:?}");
        }
        for given in ["", "   ", "prestaging", "dry, then run", "backupserver"] {
            assert!(!mentions_hint(given, &hints), "{given:?}");
        }
    }
}
