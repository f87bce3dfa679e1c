//! `attesta demo` driven through a real pseudo-terminal, as a person would
//! use it: every challenge passes only with correct answers.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::pty::Session;

/// The current code of the demo's second approver, as `attesta demo
/// authenticator` prints it (Bob's "phone").
fn bobs_code(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(["demo", "authenticator"])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

/// Answers a quiz question the way someone who read the action would.
fn quiz_answer(question: &str) -> &'static str {
    if question.contains("directory") {
        "/var/data/reports"
    } else if question.contains("file") {
        "q3.csv"
    } else if question.contains("environment") {
        "demo"
    } else if question.contains("What will this action do") {
        "drop table"
    } else {
        panic!("unexpected question: {question}")
    }
}

/// Answers every quiz question that appears until the decision is printed.
fn answer_quiz(s: &mut Session) {
    loop {
        let chunk = s.expect("> ");
        if chunk.contains("approved (") || chunk.contains("denied (") {
            return;
        }
        let question = chunk
            .lines()
            .rev()
            .find(|l| l.contains('?'))
            .unwrap_or("")
            .to_owned();
        s.send(quiz_answer(&question));
        // Multi-party ends the quiz with the verdict; otherwise more questions.
        std::thread::sleep(Duration::from_millis(200));
        let text = s.text();
        if text[s.seen..].contains("approved (") || text[s.seen..].contains("denied (") {
            return;
        }
    }
}

#[test]
fn careful_answers_pass_every_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let screen = run_careful_demo(dir.path());
    let summary = &screen[screen.find("Summary").expect("summary printed")..];
    assert_eq!(summary.matches("approved").count(), 5, "{summary}");
    assert!(screen.contains("approvers: "), "{screen}");
    assert!(screen.contains("Audit log verified: 5 entries"), "{screen}");
}

/// Runs the whole demo answering everything correctly; returns the screen.
fn run_careful_demo(dir: &Path) -> String {
    let mut s = Session::start(dir, &["demo"]);
    s.expect("1. LOW");
    s.expect("approved (low");
    s.expect("Approve this action?");
    s.expect("> ");
    s.send("yes");
    s.expect("approved (medium");
    s.expect("QUIZ");
    answer_quiz(&mut s);
    s.expect("TEACH-BACK");
    s.expect("> ");
    s.send(
        "It replaces the credentials of the payments service with new ones and keeps the old \
         ones valid for another day so clients can switch over without failing",
    );
    s.expect("approved (high 0.70, teach_back)");
    // CRITICAL: me (proven by my OS account) then Bob (proven by his code).
    s.expect("Approver 1 of 2");
    s.expect("> ");
    s.send("1");
    s.expect("> ");
    s.send(
        "This removes the whole user sessions table from the production database, which logs \
         every user out and the data cannot come back without a backup",
    );
    s.expect("Approver 2 of 2");
    s.expect("> ");
    s.send("bob");
    s.expect("One-time code for bob");
    s.expect("> ");
    let code = bobs_code(dir);
    s.send(&code);
    s.expect("one-time code accepted");
    answer_quiz(&mut s);
    s.finish()
}

fn attesta_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The "done when", as a new user would try it.
#[test]
fn init_then_demo_then_verify_catches_an_edit_and_a_deleted_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = attesta_in(dir.path(), &["init"]);
    assert_eq!(code, Some(0), "{text}");
    let screen = run_careful_demo(dir.path());
    assert!(
        screen.contains("Signed a checkpoint: 5 entries"),
        "{screen}"
    );

    let (code, text) = attesta_in(dir.path(), &["audit", "verify"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("intact: 5 entries") && text.contains("all verified"),
        "{text}"
    );

    let log = dir.path().join(".attesta/audit.jsonl");
    let original = std::fs::read_to_string(&log).unwrap();
    // One byte: the second entry's risk score 0.45 becomes 0.46.
    let edited = original.replacen("\"risk_score\":0.45", "\"risk_score\":0.46", 1);
    assert_ne!(edited, original);
    std::fs::write(&log, &edited).unwrap();
    let (code, text) = attesta_in(dir.path(), &["audit", "verify"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("first break: line 2 (entry 2, id "), "{text}");

    // Restore, then delete the last line: the chain alone cannot see it.
    let mut lines: Vec<&str> = original.lines().collect();
    lines.pop();
    std::fs::write(&log, format!("{}\n", lines.join("\n"))).unwrap();
    let (code, text) = attesta_in(dir.path(), &["audit", "verify"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("intact: 4 entries"),
        "the chain itself is fine: {text}"
    );
    assert!(text.contains("deleted tail"), "{text}");
}

#[test]
fn wrong_or_withheld_answers_are_denied() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(dir.path(), &["demo"]);
    s.expect("Approve this action?");
    s.expect("> ");
    s.send("sure"); // not an explicit yes
    s.expect("denied (medium");
    s.expect("QUIZ");
    s.expect("> ");
    s.send("A"); // a guess
    s.expect("> ");
    s.send("report.csv");
    s.expect("> ");
    s.send("production");
    s.expect("denied (high 0.70, quiz)");
    s.expect("TEACH-BACK");
    s.expect("> ");
    s.send("rotate_credentials(service='payments', keep_old_for_hours=24)"); // copied, not explained
    s.expect("denied (high 0.70, teach_back)");
    s.expect("Approver 1 of 2");
    s.expect("> ");
    s.send("bob");
    s.expect("One-time code for bob");
    for _ in 0..3 {
        s.expect("> ");
        s.send("000000");
    }
    s.expect("denied (critical");
    let screen = s.finish();
    let summary = &screen[screen.find("Summary").expect("summary printed")..];
    assert_eq!(summary.matches("denied").count(), 4, "{summary}");
    assert_eq!(
        summary.matches("approved").count(),
        1,
        "only the LOW action runs: {summary}"
    );
}

#[test]
fn ctrl_c_denies_the_action_in_front_of_you() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(dir.path(), &["demo"]);
    s.expect("Approve this action?");
    s.expect("> ");
    s.master.write_all(&[0x03]).unwrap(); // Ctrl-C
    s.expect("denied (medium");
    s.child.kill().ok();
}

#[test]
fn the_demo_needs_a_terminal() {
    // A new session without --ctty has no controlling terminal at all.
    let out = Command::new("setsid")
        .args(["--wait", env!("CARGO_BIN_EXE_attesta"), "demo"])
        .current_dir(tempfile::tempdir().unwrap().path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run it in a terminal"), "{err}");
}
