//! Judging quiz answers against the private key.

use super::domain::mentions_hint;
use crate::challenge::Judgement;
use crate::channel::{Question, QuestionKind, Response};
use crate::policy::QuizSettings;
use crate::value::{Value, ValueMap};

/// The key entry holding the correct answers, one per question, in order:
/// a string for a question about the call, a list of answer hints for a
/// domain question.
pub(super) const ANSWERS: &str = "answers";

/// What one answer is judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected<'a> {
    /// A question about the call: this value, exactly.
    Exact(&'a str),
    /// A domain question: any of these hints, as whole words.
    AnyHint(Vec<&'a str>),
}

impl Expected<'_> {
    fn is_met_by(&self, question: &Question, given: &str) -> bool {
        match self {
            Self::Exact(correct) => is_correct(question, given, correct),
            Self::AnyHint(hints) => mentions_hint(given, hints),
        }
    }

    /// What the details record as the right answer, after judging.
    fn record(&self, record: &mut ValueMap) {
        match self {
            Self::Exact(correct) => {
                record.insert("correct_answer".into(), (*correct).into());
            }
            Self::AnyHint(hints) => {
                let hints = hints.iter().map(|&h| Value::from(h)).collect();
                record.insert("answer_hints".into(), Value::List(hints));
            }
        }
    }
}

/// What an answer to a choice question selects: the option at its letter
/// (`B`, `b`) when it is a single letter within range, else the answer
/// itself as a value. An out-of-range letter is therefore a literal value,
/// and wrong unless the answer really is that letter.
fn selected<'a>(question: &'a Question, answer: &'a str) -> &'a str {
    if question.kind != QuestionKind::Choice {
        return answer;
    }
    let mut chars = answer.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => {
            let index = u32::from(c.to_ascii_lowercase()) - u32::from('a');
            usize::try_from(index)
                .ok()
                .and_then(|i| question.options.get(i))
                .map_or(answer, String::as_str)
        }
        _ => answer,
    }
}

/// Whether `given` answers `question` correctly: trimmed, compared without
/// regard to case, and never correct when empty.
pub(super) fn is_correct(question: &Question, given: &str, correct: &str) -> bool {
    let given = given.trim();
    if given.is_empty() {
        return false;
    }
    selected(question, given).to_lowercase() == correct.trim().to_lowercase()
}

/// The correct answers stored in a key, if the key has the expected shape.
fn key_answers(key: &ValueMap) -> Option<Vec<Expected<'_>>> {
    let Value::List(items) = key.get(ANSWERS)? else {
        return None;
    };
    items
        .iter()
        .map(|item| match item {
            Value::Str(correct) => Some(Expected::Exact(correct)),
            Value::List(hints) => hints
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .map(Expected::AnyHint),
            _ => None,
        })
        .collect()
}

/// Judges a response; never fails. The reason of a failed judgement counts
/// wrong answers but never names the right ones: in multi-party approval
/// it is shown to the next approver.
pub(super) fn judge(
    settings: &QuizSettings,
    questions: &[Question],
    key: &ValueMap,
    response: &Response,
) -> Judgement {
    let asked = u32::try_from(questions.len()).unwrap_or(u32::MAX);
    let Some(answers) = key_answers(key).filter(|a| a.len() == questions.len()) else {
        return failure(
            asked,
            "the quiz's answer key does not match its questions; ask the quiz again",
        );
    };
    if questions.is_empty() {
        return failure(
            0,
            "no question could be built from this action (it has no function name or \
             arguments to ask about); use a confirm or teach-back challenge for it",
        );
    }
    let mut correct_count = 0u32;
    let (mut call_asked, mut call_correct) = (0u32, 0u32);
    let mut records = Vec::with_capacity(questions.len());
    for (i, (question, expected)) in questions.iter().zip(&answers).enumerate() {
        let given = response.answers.get(i).map_or("", String::as_str);
        let correct_here = expected.is_met_by(question, given);
        correct_count += u32::from(correct_here);
        if let Expected::Exact(_) = expected {
            call_asked += 1;
            call_correct += u32::from(correct_here);
        }
        let mut record = ValueMap::new();
        record.insert("text".into(), question.text.clone().into());
        record.insert("options".into(), question.options.clone().into());
        record.insert("answer_given".into(), given.trim().into());
        expected.record(&mut record);
        record.insert("correct".into(), correct_here.into());
        records.push(Value::Map(record));
    }
    let required = settings.required_correct(asked);
    // Domain questions can make up the count, but never replace the proof
    // that the call itself was read. Without domain questions this holds
    // whenever the count does (at least one answer is always required).
    let read_the_call = call_asked == 0 || call_correct > 0;
    let passed = correct_count >= required && read_the_call;
    let wrong = asked - correct_count;
    let reason = (!passed).then(|| {
        if correct_count >= required {
            "every answer about the call itself was wrong; read the action's call line \
             again and answer from its arguments"
                .to_owned()
        } else {
            format!(
                "{wrong} of {asked} answers were wrong and {required} correct were needed; \
                 read the action's call line again and answer from its arguments"
            )
        }
    });
    let mut details = ValueMap::new();
    details.insert("questions".into(), Value::List(records));
    details.insert("required_correct".into(), Value::Int(required.into()));
    Judgement {
        passed,
        questions_asked: asked,
        questions_correct: correct_count,
        reason,
        details,
    }
}

fn failure(asked: u32, reason: &str) -> Judgement {
    Judgement {
        passed: false,
        questions_asked: asked,
        questions_correct: 0,
        reason: Some(reason.to_owned()),
        details: ValueMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(options: &[&str]) -> Question {
        Question {
            id: "q".into(),
            text: "Which directory contains the path?".into(),
            kind: QuestionKind::Choice,
            options: options.iter().map(|&o| o.to_owned()).collect(),
        }
    }

    #[test]
    fn letters_select_options_and_values_match_case_insensitively() {
        let q = choice(&["/tmp", "/var/data", "/var/log"]);
        for given in ["B", "b", " b ", "/var/data", "/VAR/DATA", "  /var/data\t"] {
            assert!(is_correct(&q, given, "/var/data"), "{given:?}");
        }
        for given in ["", "   ", "A", "c", "/tmp", "D", "z", "/var", &q.text] {
            assert!(!is_correct(&q, given, "/var/data"), "{given:?}");
        }
    }

    #[test]
    fn an_out_of_range_letter_is_a_literal_value() {
        let q = choice(&["a", "b"]);
        assert!(is_correct(&q, "D", "d"), "literally the answer");
        assert!(!is_correct(&q, "D", "a"));
        assert!(is_correct(&q, "A", "a"));
    }

    #[test]
    fn free_text_never_maps_letters() {
        let q = Question {
            kind: QuestionKind::FreeText,
            options: Vec::new(),
            ..choice(&[])
        };
        assert!(is_correct(&q, " Q3.CSV ", "q3.csv"));
        assert!(!is_correct(&q, "A", "q3.csv"));
        assert!(is_correct(&q, "a", "A"));
    }
}
