//! Turning facts into questions.
//!
//! Order of preference: where (the directory, then the name of the path),
//! what (the table a query changes), how much (a number), and only when the
//! arguments offer none of these, what the action does at all. The
//! environment comes last: it is the same for every action of a deployment,
//! so it shows least that this action was read.

use rand::rngs::StdRng;

use super::distract;
use super::extract::{Facts, NumberFact, PathFact, SqlFact};
use crate::channel::{Question, QuestionKind};

/// One generated question and its correct answer (kept apart: the answer
/// goes into the private key, never into the prompt).
#[derive(Debug, Clone)]
pub(super) struct Asked {
    /// What the human sees.
    pub(super) question: Question,
    /// The correct answer, as displayed.
    pub(super) answer: String,
}

/// Up to `max` questions about the action.
pub(super) fn questions(facts: &Facts, max: usize, rng: &mut StdRng) -> Vec<Asked> {
    let mut out = Vec::new();
    if let Some(subject) = facts.paths.first() {
        out.push(directory(subject, facts, rng));
        out.push(name(subject));
    }
    if let Some(sql) = facts.sql.first() {
        out.extend(table(sql, &facts.sql[1..], rng));
    }
    if let Some(number) = facts.numbers.first() {
        out.push(self::number(number, facts, rng));
    }
    if out.is_empty() {
        out.extend(operation(&facts.operation, rng));
    }
    if let Some(env) = &facts.environment {
        out.push(environment(env, rng));
    }
    out.truncate(max);
    out
}

/// A multiple-choice question, or free text if no distractor survived (a
/// question with one option would give its answer away).
fn choice(
    id: &str,
    text: String,
    answer: &str,
    tiers: Vec<Vec<String>>,
    exclude: &[String],
    rng: &mut StdRng,
) -> Asked {
    let options = distract::options(answer, tiers, exclude, rng);
    let kind = if options.is_empty() {
        QuestionKind::FreeText
    } else {
        QuestionKind::Choice
    };
    Asked {
        question: Question {
            id: id.to_owned(),
            text,
            kind,
            options,
        },
        answer: answer.to_owned(),
    }
}

fn directory(subject: &PathFact, facts: &Facts, rng: &mut StdRng) -> Asked {
    let text = format!(
        "Which directory contains the path given in {}?",
        subject.label
    );
    let tiers = distract::directory_tiers(subject, facts);
    let exclude = [subject.path.full.clone()];
    choice("directory", text, &subject.path.dir, tiers, &exclude, rng)
}

/// Free text on purpose: with no options to pick from, only someone who
/// read the path can answer.
fn name(subject: &PathFact) -> Asked {
    Asked {
        question: Question {
            id: "name".to_owned(),
            text: format!(
                "What file or folder name ends the path given in {}? Type it.",
                subject.label
            ),
            kind: QuestionKind::FreeText,
            options: Vec::new(),
        },
        answer: subject.path.name.clone(),
    }
}

/// Asks for the table the SQL changes if it changes one, else the one it
/// reads first. Other tables the same SQL changes (or, for a read, reads)
/// are never offered: they would be right too.
fn table(sql: &SqlFact, other_sql: &[SqlFact], rng: &mut StdRng) -> Option<Asked> {
    let answer = sql
        .tables
        .iter()
        .find(|t| t.writes)
        .or_else(|| sql.tables.first())?;
    let text = if answer.writes {
        format!("Which database table will the SQL in {} change?", sql.label)
    } else {
        format!(
            "Which database table does the SQL in {} read from?",
            sql.label
        )
    };
    let also_right: Vec<String> = sql
        .tables
        .iter()
        .filter(|t| t.writes == answer.writes)
        .map(|t| t.name.clone())
        .collect();
    let others: Vec<_> = other_sql.iter().flat_map(|s| s.tables.clone()).collect();
    let tiers = distract::table_tiers(answer, &sql.tables, &others);
    Some(choice("table", text, &answer.name, tiers, &also_right, rng))
}

fn number(number: &NumberFact, facts: &Facts, rng: &mut StdRng) -> Asked {
    let text = format!("What number is given in {}?", number.label);
    let tiers = distract::number_tiers(&number.text, facts);
    choice("number", text, &number.text, tiers, &[], rng)
}

fn environment(env: &str, rng: &mut StdRng) -> Asked {
    let text = "In which environment will this action run?".to_owned();
    choice(
        "environment",
        text,
        env,
        distract::environment_tiers(),
        &[],
        rng,
    )
}

/// "What will this action do?" answered by the function name's verb and
/// target: `user_delete` -> "delete user". `None` when the name has no
/// words at all.
fn operation(words: &[String], rng: &mut StdRng) -> Option<Asked> {
    let at = words
        .iter()
        .position(|w| distract::is_known_verb(w))
        .unwrap_or(0);
    let verb = words.get(at)?;
    let target = words
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != at)
        .map(|(_, w)| w.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let answer = if target.is_empty() {
        verb.clone()
    } else {
        format!("{verb} {target}")
    };
    let text = "What will this action do?".to_owned();
    let tiers = distract::operation_tiers(verb, &target);
    Some(choice("operation", text, &answer, tiers, &[], rng))
}
