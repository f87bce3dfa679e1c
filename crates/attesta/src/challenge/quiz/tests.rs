//! Quiz behaviour as a user sees it: generated prompts, judging, and the
//! full round trip over a channel. Option order is random, so tests compare
//! option sets or answer by value.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::challenge::{Challenge, ChannelChallenge, words};
use crate::channel::{Principal, Question, QuestionKind, ScriptedAnswer, ScriptedChannel};
use crate::risk::{FixedRiskScorer, RiskScorer};

fn risk(ctx: &ActionContext) -> RiskAssessment {
    FixedRiskScorer::new(0.7).expect("in range").assess(ctx)
}

fn settings(max_questions: u32) -> QuizSettings {
    QuizSettings {
        max_questions,
        min_correct: None,
    }
}

fn prepare_with(ctx: &ActionContext, max: u32, seed: u64) -> Prepared {
    Quiz::with_seed(settings(max), Duration::ZERO, seed).prepare(ctx, &risk(ctx))
}

fn prepare(ctx: &ActionContext) -> Prepared {
    prepare_with(ctx, 3, 42)
}

fn key(p: &Prepared) -> Vec<String> {
    match p.key.get("answers") {
        Some(Value::List(items)) => items
            .iter()
            .map(|v| v.as_str().expect("string answers").to_owned())
            .collect(),
        other => panic!("answer key missing: {other:?}"),
    }
}

fn ids(p: &Prepared) -> Vec<&str> {
    p.prompt.questions.iter().map(|q| q.id.as_str()).collect()
}

/// The question with `id` and its correct answer.
fn question(p: &Prepared, id: &str) -> (Question, String) {
    let i = p
        .prompt
        .questions
        .iter()
        .position(|q| q.id == id)
        .unwrap_or_else(|| panic!("no {id} question in {:?}", ids(p)));
    (p.prompt.questions[i].clone(), key(p)[i].clone())
}

fn set<S: AsRef<str>>(items: &[S]) -> BTreeSet<String> {
    items.iter().map(|s| s.as_ref().to_owned()).collect()
}

fn response(answers: &[&str]) -> Response {
    Response {
        answers: answers.iter().map(|&a| a.to_owned()).collect(),
        principal: Principal::new("alice", "scripted"),
        review_time: Duration::from_secs(30),
    }
}

async fn judge(quiz: &Quiz, ctx: &ActionContext, p: &Prepared, answers: &[&str]) -> Judgement {
    quiz.judge(ctx, p, &response(answers)).await
}

/// Contexts covering every question source and the reference's weak spots.
fn corpus() -> Vec<ActionContext> {
    vec![
        ActionContext::new("delete_file").with_arg("/var/data/reports/q3.csv"),
        ActionContext::new("scale_replicas")
            .with_kwarg("service", "api")
            .with_kwarg("replicas", 5),
        ActionContext::new("run_sql").with_arg("DELETE FROM orders WHERE id < 100"),
        ActionContext::new("deployService").with_kwarg("env", "staging"),
        ActionContext::new("export_table")
            .with_arg("./out/dump.sql")
            .with_arg(3.5)
            .with_kwarg("query", "SELECT * FROM users JOIN sessions ON x")
            .with_kwarg("limit", "250"),
        ActionContext::new("read_config"),
        ActionContext::new("purge").with_environment("production"),
        ActionContext::new("wipe").with_arg("/etc"),
        ActionContext::new("notify")
            .with_arg("see https://example.com/api/v1")
            .with_arg("portable devices"),
        ActionContext::new("adjust")
            .with_kwarg("flag", true)
            .with_kwarg("delta", -5),
        ActionContext::new("rm").with_arg("C:\\Users\\bob\\file.txt"),
        ActionContext::new("set_rate").with_kwarg("rate", "0.25"),
        ActionContext::new("delete_users").with_arg(vec!["u1", "u2"]),
        ActionContext::new("f").with_arg(0),
        ActionContext::new("f").with_arg(1e20),
        ActionContext::new("f").with_arg(f64::NAN),
        ActionContext::new("f").with_arg(f64::INFINITY),
        ActionContext::new("f").with_arg("/a/b/"),
        ActionContext::new("run_shell")
            .with_arg("rm -rf /var/lib/app")
            .with_environment("staging"),
        ActionContext::new("copy")
            .with_kwarg("src", "/srv/app/config.yml")
            .with_kwarg("dst", "/backups/2024/config.yml")
            .with_environment("ci"),
        ActionContext::new("x\u{1b}[31m")
            .with_kwarg("p\u{202e}ath", "/tmp/\u{202e}evil")
            .with_environment("prod\u{7}"),
    ]
}

// ---- generation -----------------------------------------------------------

#[test]
fn a_file_path_asks_for_its_directory_and_name() {
    let ctx = ActionContext::new("delete_file").with_arg("/var/data/reports/q3.csv");
    for seed in 0..20 {
        let p = prepare_with(&ctx, 3, seed);
        assert_eq!(ids(&p), ["directory", "name"]);
        let (dir, answer) = question(&p, "directory");
        assert_eq!(answer, "/var/data/reports");
        assert_eq!(dir.kind, QuestionKind::Choice);
        assert_eq!(dir.options.len(), 4);
        assert!(dir.options.contains(&answer));
        assert!(
            dir.options.contains(&"/var/data".to_owned()),
            "{:?}",
            dir.options
        );
        // Siblings: other folders next to the answer, never the file itself.
        for o in dir
            .options
            .iter()
            .filter(|o| *o != &answer && *o != "/var/data")
        {
            assert!(
                o.starts_with("/var/data/") && o.matches('/').count() == 3,
                "{o}"
            );
            assert!(!o.contains("q3") && !o.contains("reports"), "{o}");
        }
        let (name, answer) = question(&p, "name");
        assert_eq!(answer, "q3.csv");
        assert_eq!(name.kind, QuestionKind::FreeText);
        assert!(name.options.is_empty());
    }
}

#[test]
fn a_known_environment_adds_a_question_with_the_standard_names() {
    let ctx = ActionContext::new("delete_file")
        .with_arg("/var/data/reports/q3.csv")
        .with_environment("production");
    let p = prepare(&ctx);
    assert_eq!(ids(&p), ["directory", "name", "environment"]);
    let (env, answer) = question(&p, "environment");
    assert_eq!(env.text, "In which environment will this action run?");
    assert_eq!(answer, "production");
    assert_eq!(
        set(&env.options),
        set(&["production", "staging", "ci", "development"])
    );

    let ctx = ActionContext::new("purge").with_environment("qa");
    let (env, answer) = question(&prepare(&ctx), "environment");
    assert_eq!(answer, "qa");
    assert_eq!(env.options.len(), 4);
    assert!(env.options.contains(&"qa".to_owned()));
    assert!(
        env.options
            .iter()
            .all(|o| ["qa", "production", "staging", "ci", "development"].contains(&o.as_str()))
    );
}

#[test]
fn an_argument_naming_another_environment_suppresses_the_question() {
    let ctx = ActionContext::new("deployService")
        .with_kwarg("env", "staging")
        .with_environment("production");
    assert_eq!(ids(&prepare(&ctx)), ["operation"]);
}

#[test]
fn a_number_is_asked_with_its_parameter_name_and_same_sized_distractors() {
    let ctx = ActionContext::new("scale_replicas")
        .with_kwarg("service", "api")
        .with_kwarg("replicas", 5);
    for seed in 0..20 {
        let p = prepare_with(&ctx, 3, seed);
        assert_eq!(ids(&p), ["number"]);
        let (q, answer) = question(&p, "number");
        assert_eq!(q.text, "What number is given in argument 'replicas'?");
        assert_eq!(answer, "5");
        assert_eq!(q.options.len(), 4);
        assert!(q.options.contains(&answer));
        assert!(
            q.options
                .iter()
                .all(|o| o.len() == 1 && o.parse::<u8>().is_ok())
        );
    }
}

#[test]
fn number_distractors_prefer_other_arguments_and_keep_the_answers_format() {
    let ctx = ActionContext::new("scale")
        .with_kwarg("replicas", 5)
        .with_kwarg("max_replicas", 8);
    for seed in 0..10 {
        let (q, _) = question(&prepare_with(&ctx, 3, seed), "number");
        assert!(q.options.contains(&"8".to_owned()), "{:?}", q.options);
    }
    let ctx = ActionContext::new("export").with_arg(3.5);
    let (q, answer) = question(&prepare(&ctx), "number");
    assert_eq!(answer, "3.5");
    assert_eq!(q.text, "What number is given in the 1st argument?");
    assert!(
        q.options
            .iter()
            .all(|o| o.len() == 3 && o.as_bytes()[1] == b'.'),
        "{:?}",
        q.options
    );
    let ctx = ActionContext::new("adjust")
        .with_kwarg("flag", true)
        .with_kwarg("delta", -5);
    let (q, answer) = question(&prepare(&ctx), "number");
    assert_eq!(answer, "-5");
    assert!(q.options.iter().all(|o| o.starts_with('-') && o.len() == 2));
    let ctx = ActionContext::new("f").with_arg(1e20);
    let (q, answer) = question(&prepare(&ctx), "number");
    assert_eq!(answer, "1e+20");
    assert!(
        q.options
            .iter()
            .all(|o| o.ends_with("e+20") && o.len() == 5)
    );
}

#[test]
fn inf_and_nan_are_not_numbers_to_ask_about() {
    for value in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        let p = prepare(&ActionContext::new("set_limit").with_arg(value));
        assert_eq!(ids(&p), ["operation"], "{value}");
    }
}

#[test]
fn sql_asks_for_the_table_it_changes() {
    let ctx = ActionContext::new("run_sql").with_arg("DELETE FROM orders WHERE id < 100");
    let p = prepare(&ctx);
    assert_eq!(ids(&p), ["table"]);
    let (q, answer) = question(&p, "table");
    assert_eq!(
        q.text,
        "Which database table will the SQL in the 1st argument change?"
    );
    assert_eq!(answer, "orders");
    assert_eq!(q.options.len(), 4);

    let ctx = ActionContext::new("run_sql").with_arg("INSERT INTO audit_log SELECT * FROM events");
    for seed in 0..10 {
        let (q, answer) = question(&prepare_with(&ctx, 3, seed), "table");
        assert_eq!(answer, "audit_log");
        assert!(
            q.options.contains(&"events".to_owned()),
            "read table as distractor"
        );
    }
}

#[test]
fn a_read_only_query_never_offers_another_table_it_reads() {
    let ctx = ActionContext::new("export_table")
        .with_arg("./out/dump.sql")
        .with_arg(3.5)
        .with_kwarg("query", "SELECT * FROM users JOIN sessions ON x")
        .with_kwarg("limit", "250");
    for seed in 0..20 {
        let p = prepare_with(&ctx, 3, seed);
        assert_eq!(ids(&p), ["directory", "name", "table"]);
        let (dir, answer) = question(&p, "directory");
        assert_eq!(answer, "./out");
        assert!(dir.options.contains(&".".to_owned()));
        let (table, answer) = question(&p, "table");
        assert_eq!(answer, "users");
        assert!(table.text.ends_with("argument 'query' read from?"));
        assert!(!table.options.iter().any(|o| o == "sessions"));
    }
    assert_eq!(ids(&prepare_with(&ctx, 1, 0)), ["directory"]);
    assert_eq!(ids(&prepare_with(&ctx, 2, 0)), ["directory", "name"]);
    // Out-of-range settings are clamped, not trusted.
    assert_eq!(prepare_with(&ctx, 0, 0).prompt.questions.len(), 1);
    assert_eq!(prepare_with(&ctx, 10, 0).prompt.questions.len(), 3);
}

#[test]
fn english_prose_and_urls_yield_no_tables_or_paths() {
    let ctx = ActionContext::new("notify")
        .with_arg("see https://example.com/api/v1")
        .with_arg("portable devices")
        .with_arg("read/write 2024/01/02 1/2");
    let p = prepare(&ctx);
    assert_eq!(ids(&p), ["operation"]);
    assert_eq!(question(&p, "operation").1, "notify");
}

#[test]
fn the_operation_question_uses_the_verb_and_target_of_the_function_name() {
    let ctx = ActionContext::new("deployService").with_kwarg("env", "staging");
    for seed in 0..10 {
        let (q, answer) = question(&prepare_with(&ctx, 3, seed), "operation");
        assert_eq!(q.text, "What will this action do?");
        assert_eq!(answer, "deploy service");
        assert_eq!(q.options.len(), 4);
        assert!(q.options.iter().all(|o| o.ends_with(" service")));
    }
    let (_, answer) = question(&prepare(&ActionContext::new("user_delete")), "operation");
    assert_eq!(answer, "delete user");
    let (q, answer) = question(&prepare(&ActionContext::new("drop_table")), "operation");
    assert_eq!(answer, "drop table");
    for synonym in ["delete table", "remove table", "purge table"] {
        assert!(!q.options.iter().any(|o| o == synonym), "{synonym}");
    }
    let (q, answer) = question(&prepare(&ActionContext::new("purge")), "operation");
    assert_eq!(answer, "purge");
    assert!(q.options.iter().all(|o| !o.contains(' ')));
}

#[test]
fn windows_paths_are_split_on_backslashes() {
    let ctx = ActionContext::new("rm").with_arg("C:\\Users\\bob\\file.txt");
    let p = prepare(&ctx);
    let (dir, answer) = question(&p, "directory");
    assert_eq!(answer, "C:\\Users\\bob");
    assert!(
        dir.options.iter().all(|o| o.starts_with("C:\\")),
        "{:?}",
        dir.options
    );
    assert_eq!(question(&p, "name").1, "file.txt");
}

#[test]
fn roots_and_trailing_slashes_give_sensible_answers() {
    let p = prepare(&ActionContext::new("wipe").with_arg("/etc"));
    let (dir, answer) = question(&p, "directory");
    assert_eq!(answer, "/");
    assert!(
        !dir.options.contains(&"/etc".to_owned()),
        "the path itself is no distractor"
    );
    assert_eq!(question(&p, "name").1, "etc");

    let p = prepare(&ActionContext::new("wipe").with_arg("/var/data/"));
    assert_eq!(question(&p, "directory").1, "/var");
    assert_eq!(question(&p, "name").1, "data");
    assert_eq!(
        ids(&prepare(&ActionContext::new("wipe").with_arg("/"))),
        ["operation"]
    );
}

#[test]
fn directory_distractors_come_from_other_arguments_first() {
    let ctx = ActionContext::new("copy")
        .with_kwarg("src", "/srv/app/config.yml")
        .with_kwarg("dst", "/backups/2024/config.yml");
    for seed in 0..10 {
        let (dir, answer) = question(&prepare_with(&ctx, 3, seed), "directory");
        assert_eq!(answer, "/srv/app");
        assert!(dir.text.ends_with("argument 'src'?"));
        assert!(
            dir.options.contains(&"/backups/2024".to_owned()),
            "{:?}",
            dir.options
        );
    }
}

#[test]
fn agent_text_in_questions_is_sanitized() {
    let ctx = ActionContext::new("set")
        .with_kwarg("n\u{1b}[8m\u{202e}", 7)
        .with_environment("prod\u{7}");
    let p = prepare(&ctx);
    let json = serde_json::to_string(&p.prompt.questions).expect("serialises");
    assert!(!json.contains('\u{1b}') && !json.contains('\u{202e}') && !json.contains('\u{7}'));
    assert_eq!(question(&p, "environment").1, "prod");
}

#[test]
fn every_question_is_well_formed_for_every_context_and_seed() {
    for ctx in corpus() {
        for seed in 0..25 {
            let p = prepare_with(&ctx, 3, seed);
            let answers = key(&p);
            assert_eq!(answers.len(), p.prompt.questions.len());
            assert!((1..=3).contains(&answers.len()), "{}", ctx.description());
            for (q, answer) in p.prompt.questions.iter().zip(&answers) {
                assert!(!answer.trim().is_empty(), "{}", ctx.description());
                match q.kind {
                    QuestionKind::Choice => {
                        assert!(q.options.len() >= 2, "{q:?}");
                        let lower: BTreeSet<_> =
                            q.options.iter().map(|o| o.to_lowercase()).collect();
                        assert_eq!(lower.len(), q.options.len(), "duplicate options {q:?}");
                        let hits = q.options.iter().filter(|o| o.eq_ignore_ascii_case(answer));
                        assert_eq!(hits.count(), 1, "{q:?} / {answer}");
                    }
                    QuestionKind::FreeText => assert!(q.options.is_empty()),
                    QuestionKind::Explanation => panic!("quiz asked for an explanation"),
                }
            }
        }
    }
}

#[test]
fn every_answer_is_visible_in_the_prompt() {
    for ctx in corpus() {
        let p = prepare(&ctx);
        let shown = format!(
            "{} {}",
            p.prompt.action.call.to_lowercase().replace("\\\\", "\\"),
            p.prompt.action.environment.to_lowercase()
        );
        let name = p.prompt.action.function_name.to_lowercase();
        for (q, answer) in p.prompt.questions.iter().zip(key(&p)) {
            let answer = answer.to_lowercase();
            let visible = if q.id == "operation" {
                answer.split(' ').all(|w| name.contains(w))
            } else {
                shown.contains(&answer)
            };
            assert!(visible, "{answer:?} for {:?} not in {shown}", q.text);
        }
    }
}

#[test]
fn the_prompt_never_carries_the_key() {
    for ctx in corpus() {
        for seed in 0..5 {
            let p = prepare_with(&ctx, 3, seed);
            let full = serde_json::to_string(&p.prompt).expect("serialises");
            assert!(!full.contains("correct") && !full.contains("\"answers\""));
            // The call line must show the arguments, so a file name is in
            // `action.call`; nothing the quiz itself adds (instructions,
            // question texts, options) may hold a free-text answer as a word.
            let asked = serde_json::to_string(&(&p.prompt.instructions, &p.prompt.questions))
                .expect("serialises");
            let asked = words::tokens(&asked);
            for (q, answer) in p.prompt.questions.iter().zip(key(&p)) {
                if q.kind == QuestionKind::Choice {
                    assert!(q.options.contains(&answer));
                } else {
                    let needle = words::tokens(&answer);
                    assert!(!needle.is_empty());
                    let leaks = asked.windows(needle.len()).any(|w| w == needle.as_slice());
                    assert!(!leaks, "{answer} leaks in {asked:?}");
                }
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_prompt_and_seeds_vary_the_order() {
    let ctx = ActionContext::new("delete_file")
        .with_arg("/var/data/reports/q3.csv")
        .with_environment("production");
    assert_eq!(prepare_with(&ctx, 3, 9), prepare_with(&ctx, 3, 9));
    let orders: BTreeSet<Vec<String>> = (0..20)
        .map(|seed| {
            prepare_with(&ctx, 3, seed).prompt.questions[0]
                .options
                .clone()
        })
        .collect();
    assert!(orders.len() > 1, "option order must depend on the seed");
    let positions: BTreeSet<usize> = (0..40)
        .filter_map(|seed| {
            let p = prepare_with(&ctx, 3, seed);
            let (q, answer) = question(&p, "environment");
            q.options.iter().position(|o| *o == answer)
        })
        .collect();
    assert!(positions.len() > 2, "the answer moves between positions");
}

#[test]
fn os_seeded_quizzes_ask_the_same_questions() {
    let ctx = ActionContext::new("run_sql").with_arg("DELETE FROM orders");
    let quiz = Quiz::new(QuizSettings::default(), Duration::from_secs(10));
    assert_eq!(quiz.min_review(), Duration::from_secs(10));
    assert_eq!(quiz.challenge_type(), ChallengeType::Quiz);
    let a = quiz.prepare(&ctx, &risk(&ctx));
    let b = quiz.prepare(&ctx, &risk(&ctx));
    assert_eq!(a.key, b.key);
    assert_eq!(a.prompt.questions[0].text, b.prompt.questions[0].text);
    for p in [&a, &b] {
        assert!(p.prompt.questions[0].options.contains(&"orders".to_owned()));
        assert_eq!(p.prompt.questions[0].options.len(), 4);
    }
    assert_eq!(a.prompt.min_review, Duration::from_secs(10));
}

// ---- judging --------------------------------------------------------------

fn letter_of(q: &Question, value: &str) -> String {
    let i = q.options.iter().position(|o| o == value).expect("option");
    char::from(b'A' + u8::try_from(i).expect("few options")).to_string()
}

#[tokio::test]
async fn adversarial_answers_are_wrong() {
    let ctx = ActionContext::new("run_sql").with_arg("DELETE FROM orders");
    let quiz = Quiz::with_seed(settings(3), Duration::ZERO, 3);
    let p = quiz.prepare(&ctx, &risk(&ctx));
    let (q, answer) = question(&p, "table");
    let wrong = q
        .options
        .iter()
        .find(|o| **o != answer)
        .expect("a distractor");
    let wrong_letter = letter_of(&q, wrong);
    for given in [
        "",
        "   ",
        "\t\n",
        wrong_letter.as_str(),
        &wrong_letter.to_lowercase(),
        wrong.as_str(),
        "E",
        "z",
        q.text.as_str(),
        "orders; users",
        "A B",
    ] {
        let j = judge(&quiz, &ctx, &p, &[given]).await;
        assert!(!j.passed, "{given:?} must not pass");
        assert_eq!((j.questions_asked, j.questions_correct), (1, 0));
        assert_eq!(
            j.reason.as_deref(),
            Some(
                "1 of 1 answers were wrong and 1 correct were needed; read the action's \
                 call line again and answer from its arguments"
            )
        );
    }
    let right_letter = letter_of(&q, &answer);
    for given in [
        right_letter.as_str(),
        &right_letter.to_lowercase(),
        "orders",
        " ORDERS ",
    ] {
        assert!(judge(&quiz, &ctx, &p, &[given]).await.passed, "{given:?}");
    }
    // No answer at all (a response shorter than the prompt) is wrong too.
    assert!(!judge(&quiz, &ctx, &p, &[]).await.passed);
}

#[tokio::test]
async fn free_text_answers_are_trimmed_and_case_insensitive() {
    let ctx = ActionContext::new("delete_file").with_arg("/var/data/reports/Q3.csv");
    let quiz = Quiz::with_seed(settings(3), Duration::ZERO, 1);
    let p = quiz.prepare(&ctx, &risk(&ctx));
    let dir = question(&p, "directory").1;
    assert!(judge(&quiz, &ctx, &p, &[&dir, "  q3.CSV "]).await.passed);
    for name in ["A", "q3", "/var/data/reports/Q3.csv", "Q3.csv.bak", ""] {
        assert!(
            !judge(&quiz, &ctx, &p, &[&dir, name]).await.passed,
            "{name:?}"
        );
    }
}

#[tokio::test]
async fn pass_rule_follows_the_settings_for_one_two_and_three_questions() {
    let quiz_for = |min_correct| {
        Quiz::with_seed(
            QuizSettings {
                max_questions: 3,
                min_correct,
            },
            Duration::ZERO,
            5,
        )
    };
    let cases = [
        // (context, answers right per question, min_correct, passes)
        (
            ActionContext::new("run_sql").with_arg("DROP TABLE t"),
            vec![true],
            None,
            true,
        ),
        (
            ActionContext::new("run_sql").with_arg("DROP TABLE t"),
            vec![false],
            None,
            false,
        ),
        (
            ActionContext::new("rm").with_arg("/a/b"),
            vec![true, true],
            None,
            true,
        ),
        (
            ActionContext::new("rm").with_arg("/a/b"),
            vec![true, false],
            None,
            false,
        ),
        (
            ActionContext::new("rm").with_arg("/a/b"),
            vec![true, false],
            Some(1),
            true,
        ),
    ];
    let three = ActionContext::new("rm")
        .with_arg("/a/b")
        .with_environment("production");
    let more = [
        (three.clone(), vec![true, true, true], None, true),
        (three.clone(), vec![false, true, true], None, true),
        (three.clone(), vec![true, false, false], None, false),
        (three.clone(), vec![false, true, true], Some(3), false),
        (three.clone(), vec![false, false, false], Some(0), false),
    ];
    for (ctx, rights, min_correct, passes) in cases.into_iter().chain(more) {
        let quiz = quiz_for(min_correct);
        let p = quiz.prepare(&ctx, &risk(&ctx));
        assert_eq!(
            p.prompt.questions.len(),
            rights.len(),
            "{}",
            ctx.description()
        );
        let answers: Vec<String> = key(&p)
            .into_iter()
            .zip(&rights)
            .map(|(a, right)| if *right { a } else { "nope".to_owned() })
            .collect();
        let refs: Vec<&str> = answers.iter().map(String::as_str).collect();
        let j = judge(&quiz, &ctx, &p, &refs).await;
        assert_eq!(
            j.passed,
            passes,
            "{} {rights:?} {min_correct:?}",
            ctx.description()
        );
        let right = u32::try_from(rights.iter().filter(|r| **r).count()).expect("small");
        assert_eq!(j.questions_correct, right);
        assert_eq!(j.reason.is_none(), passes);
    }
}

#[tokio::test]
async fn details_record_each_question_after_judging_but_the_reason_reveals_nothing() {
    let ctx = ActionContext::new("delete_file")
        .with_arg("/var/data/reports/q3.csv")
        .with_environment("production");
    let quiz = Quiz::with_seed(settings(3), Duration::ZERO, 8);
    let p = quiz.prepare(&ctx, &risk(&ctx));
    let j = judge(&quiz, &ctx, &p, &["/tmp", " nope ", "production"]).await;
    assert!(!j.passed);
    let reason = j.reason.expect("a reason");
    for answer in key(&p) {
        assert!(!reason.contains(&answer), "{reason} reveals {answer}");
    }
    assert!(reason.starts_with("2 of 3 answers were wrong"));
    let Some(Value::List(records)) = j.details.get("questions") else {
        panic!("questions detail: {:?}", j.details)
    };
    let Value::Map(second) = &records[1] else {
        panic!("record map")
    };
    let keys: Vec<&str> = second.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "text",
            "options",
            "answer_given",
            "correct_answer",
            "correct"
        ]
    );
    assert_eq!(second["answer_given"], Value::from("nope"));
    assert_eq!(second["correct_answer"], Value::from("q3.csv"));
    assert_eq!(second["correct"], Value::Bool(false));
    assert_eq!(second["options"], Value::List(Vec::new()));
    assert_eq!(j.details["required_correct"], Value::Int(2));
}

#[tokio::test]
async fn a_damaged_key_or_an_empty_action_fails_instead_of_panicking() {
    let ctx = ActionContext::new("run_sql").with_arg("DELETE FROM orders");
    let quiz = Quiz::with_seed(settings(3), Duration::ZERO, 1);
    let mut p = quiz.prepare(&ctx, &risk(&ctx));
    p.key.clear();
    let j = judge(&quiz, &ctx, &p, &["orders"]).await;
    assert!(!j.passed);
    assert!(j.reason.expect("reason").contains("answer key"));

    let ctx = ActionContext::new("");
    let p = quiz.prepare(&ctx, &risk(&ctx));
    assert!(p.prompt.questions.is_empty());
    let j = judge(&quiz, &ctx, &p, &[]).await;
    assert!(!j.passed);
    assert!(
        j.reason
            .expect("reason")
            .contains("no question could be built")
    );
}

// ---- over a channel -------------------------------------------------------

async fn present(ctx: &ActionContext, answers: Vec<String>) -> crate::ChallengeResult {
    let channel = Arc::new(ScriptedChannel::new([
        ScriptedAnswer::answers(answers).by("bob")
    ]));
    let quiz = Quiz::with_seed(QuizSettings::default(), Duration::ZERO, 11);
    ChannelChallenge::new(Arc::new(quiz), channel)
        .present(ctx, &risk(ctx))
        .await
}

#[tokio::test]
async fn over_a_channel_right_answers_pass_and_wrong_ones_fail_with_a_reason() {
    let ctx = ActionContext::new("scale_replicas")
        .with_kwarg("replicas", 5)
        .with_environment("staging");
    let expected = key(
        &Quiz::with_seed(QuizSettings::default(), Duration::ZERO, 11).prepare(&ctx, &risk(&ctx)),
    );
    assert_eq!(expected, ["5", "staging"]);

    let r = present(&ctx, expected.clone()).await;
    assert!(r.passed, "{:?}", r.details);
    assert_eq!(r.challenge_type, ChallengeType::Quiz);
    assert_eq!((r.questions_asked, r.questions_correct), (2, 2));
    assert_eq!(r.responder, "bob");

    let r = present(&ctx, vec!["5".into(), "production".into()]).await;
    assert!(!r.passed);
    assert_eq!((r.questions_asked, r.questions_correct), (2, 1));
    let reason = r.reason().expect("a reason");
    assert!(reason.starts_with("1 of 2 answers were wrong"), "{reason}");
    assert!(!reason.contains("staging"));

    let r = present(&ctx, vec!["5".into()]).await;
    assert!(!r.passed);
    assert_eq!(r.reason(), Some("1 of 2 questions were answered"));
}
