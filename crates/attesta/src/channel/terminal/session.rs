//! One prompt from start to finish: header, identity, the action, the
//! questions, and the timing of the review.
//!
//! The session shows and collects; it never judges. It does not know the
//! correct answers and prints nothing about whether an answer was right.

use crate::channel::{Prompt, Question, QuestionKind, Response};

use super::TerminalConfig;
use super::console::{Console, Halt};
use super::identity::{self, OsUser};
use super::render;

/// Runs `prompt` on `console` and returns the operator's answers.
pub(super) fn run(
    console: &mut Console<'_>,
    prompt: &Prompt,
    config: &TerminalConfig,
    os_user: &OsUser,
) -> Result<Response, Halt> {
    let layout = console.layout();
    console.say(&render::header(prompt, layout))?;
    // Identity first, so the review clock measures reading the action, not
    // typing a one-time code.
    let principal = match &prompt.approver {
        None => identity::os_principal(os_user),
        Some(slot) => identity::approver_principal(
            console,
            slot,
            &config.approvers,
            config.code_verifier.as_deref(),
            os_user,
        )?,
    };
    // After the identity exchange, set the action apart from it.
    let mut screen = if prompt.approver.is_some() {
        String::from("\n")
    } else {
        String::new()
    };
    screen.push_str(&render::action(prompt, layout));
    screen.push_str(&render::guidance(prompt, layout));
    console.say(&screen)?;
    let shown = config.clock.monotonic();

    let mut answers = Vec::with_capacity(prompt.questions.len());
    let total = prompt.questions.len();
    for (i, question) in prompt.questions.iter().enumerate() {
        let mut text = render::question(question, i + 1, total, prompt.min_words, layout);
        text.push_str(&render::input_marker(layout));
        console.say(&text)?;
        let line = console.read_line(true)?;
        answers.push(resolve_answer(question, &line));
    }
    if total == 0 {
        // Nothing to answer, but the operator must still have seen it.
        console.say(&layout.hint("Press Enter once you have read this."))?;
        console.say(&render::input_marker(layout))?;
        console.read_line(true)?;
    }
    let answered = config.clock.monotonic();
    console.say(&layout.hint(&format!(
        "Answers recorded as {}. Attesta now checks them and records the decision.",
        principal.id
    )))?;
    Ok(Response {
        answers,
        principal,
        review_time: answered.saturating_sub(shown),
    })
}

/// The answer as recorded: trimmed, and for a choice the option itself when
/// the operator typed its letter (or the option in another case), so every
/// judge sees option values. Anything else is passed on as typed for the
/// challenge to judge.
fn resolve_answer(question: &Question, typed: &str) -> String {
    let typed = typed.trim();
    if question.kind != QuestionKind::Choice {
        return typed.to_owned();
    }
    let options = &question.options;
    if let Some(exact) = options
        .iter()
        .find(|o| o.trim().eq_ignore_ascii_case(typed))
    {
        return exact.clone();
    }
    let mut chars = typed.chars();
    if let (Some(letter), None) = (chars.next(), chars.next())
        && letter.is_ascii_alphabetic()
    {
        let index = usize::from(letter.to_ascii_uppercase() as u8 - b'A');
        if let Some(option) = options.get(index) {
            return option.clone();
        }
    }
    typed.to_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::super::console::fake::FakeTerminal;
    use super::super::render::Layout;
    use super::*;
    use crate::challenge::ChallengeType;
    use crate::channel::ActionSummary;
    use crate::clock::Clock;
    use crate::risk::RiskLevel;

    fn choice(options: &[&str]) -> Question {
        Question {
            id: "q".to_owned(),
            text: "Pick".to_owned(),
            kind: QuestionKind::Choice,
            options: options.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn prompt(questions: Vec<Question>) -> Prompt {
        Prompt {
            challenge_type: ChallengeType::Quiz,
            action: ActionSummary {
                function_name: "f".to_owned(),
                call: "f()".to_owned(),
                doc: None,
                environment: "dev".to_owned(),
                agent_id: None,
                risk_factors: Vec::new(),
            },
            risk_level: RiskLevel::High,
            risk_score: 0.7,
            instructions: "Answer.".to_owned(),
            questions,
            min_words: None,
            min_review: Duration::from_secs(10),
            approver: None,
        }
    }

    fn me() -> OsUser {
        OsUser {
            uid: 1000,
            name: "ops".to_owned(),
        }
    }

    #[test]
    fn letters_map_to_options_and_other_text_passes_through() {
        let q = choice(&["/srv/data", "/tmp", "b"]);
        assert_eq!(resolve_answer(&q, " a "), "/srv/data");
        assert_eq!(
            resolve_answer(&q, "B"),
            "b",
            "an option equal to the text wins"
        );
        assert_eq!(resolve_answer(&q, "c"), "b");
        assert_eq!(resolve_answer(&q, "/TMP"), "/tmp");
        assert_eq!(resolve_answer(&q, "d"), "d", "out of range: as typed");
        assert_eq!(resolve_answer(&q, "/etc"), "/etc");
        assert_eq!(resolve_answer(&choice(&["yes", "no"]), "y"), "y");
        let free = Question {
            kind: QuestionKind::FreeText,
            ..choice(&["x"])
        };
        assert_eq!(resolve_answer(&free, "a"), "a");
    }

    /// Moves seven seconds forward each time it is read.
    #[derive(Debug, Default)]
    struct StepClock(std::sync::Mutex<u64>);

    impl Clock for StepClock {
        fn now(&self) -> chrono::DateTime<chrono::Local> {
            chrono::Local::now()
        }

        fn monotonic(&self) -> Duration {
            let mut n = self.0.lock().unwrap();
            *n += 1;
            Duration::from_secs(*n * 7)
        }
    }

    #[test]
    fn answers_every_question_and_times_the_review() {
        let config = TerminalConfig::default().with_clock(Arc::new(StepClock::default()));
        let p = prompt(vec![choice(&["x", "y"]), choice(&["1", "2"])]);
        let mut term = FakeTerminal::typing(["b\r", "2\r"]);
        let flag = AtomicBool::new(false);
        let layout = Layout::new(Some(80), false);
        let mut console = Console::new(&mut term, &flag, layout);
        let r = run(&mut console, &p, &config, &me()).unwrap();
        assert_eq!(r.answers, ["y", "2"]);
        assert_eq!(r.principal.id, "ops");
        assert_eq!(r.principal.verified_by, "os_user");
        // Read once when the action was shown and once after the last answer.
        assert_eq!(r.review_time, Duration::from_secs(7));
        assert!(term.output.contains("Question 2 of 2"));
        for judged in ["correct", "Correct", "wrong", "passed", "PASSED"] {
            assert!(!term.output.contains(judged), "the channel does not judge");
        }
    }

    #[test]
    fn cancelling_midway_gives_no_response() {
        let p = prompt(vec![choice(&["x"]), choice(&["y"])]);
        let mut term = FakeTerminal::typing(["a\r", "\x03"]);
        let flag = AtomicBool::new(false);
        let mut console = Console::new(&mut term, &flag, Layout::new(None, false));
        let got = run(&mut console, &p, &TerminalConfig::default(), &me());
        assert!(matches!(got, Err(Halt::Cancelled)));
    }

    #[test]
    fn a_prompt_without_questions_waits_for_enter() {
        let mut term = FakeTerminal::typing(["\r"]);
        let flag = AtomicBool::new(false);
        let mut console = Console::new(&mut term, &flag, Layout::new(None, false));
        let r = run(
            &mut console,
            &prompt(Vec::new()),
            &TerminalConfig::default(),
            &me(),
        );
        assert!(r.unwrap().answers.is_empty());
    }
}
