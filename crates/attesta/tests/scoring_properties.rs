//! Properties of the default scorer that hold for every input, not just the
//! reference's vectors: the score is a valid level-bearing number, the level
//! follows from it, and every factor explains itself. Plus worst-case inputs
//! for the argument patterns, which must score (correctly) rather than stall.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a test reports failure by panicking"
)]

use attesta::{ActionContext, DefaultRiskScorer, RiskLevel, RiskScorer, Value, ValueMap};
use proptest::prelude::*;

/// Words a function name is built from: every verb the scorer knows, words
/// that merely contain one (`deleted`, `runner`), qualified-name parts and
/// non-ASCII text.
const NAME_WORDS: &[&str] = &[
    "delete",
    "remove",
    "drop",
    "destroy",
    "purge",
    "truncate",
    "kill",
    "write",
    "update",
    "modify",
    "set",
    "create",
    "send",
    "deploy",
    "push",
    "execute",
    "run",
    "read",
    "get",
    "list",
    "fetch",
    "search",
    "find",
    "check",
    "deleted",
    "runner",
    "getter",
    "user",
    "account",
    "cache",
    "Service",
    "<locals>",
    "HTTPRequest",
    "v2",
    "x",
    "ÜBER",
    "straße",
    "数据",
    "",
];
const NAME_SEPARATORS: &[&str] = &["_", ".", "-", "/", "__", "", "._-/"];

/// Text that triggers (or nearly triggers) the argument patterns.
const ARG_SNIPPETS: &[&str] = &[
    "production",
    "prod",
    "PRODUCT",
    ".env",
    "secret",
    "password",
    "token",
    "key",
    "api_key",
    "credential",
    "DROP TABLE users",
    "please delete me",
    "truncate",
    "ALTER",
    "rm -rf /",
    "rm  -rf",
    "RM -RF",
    "sudo",
    "chmod 777 /",
    "https://example.com",
    "HTTP://x",
    "a.b@example.com",
    "a@b",
    "10.0.0.1",
    "1.2.3.4.5",
    "999.999.999.999",
    "",
    " ",
    "\u{1c}",
    "é",
    "😀",
    "'\"\\",
];

/// Text that triggers (or nearly triggers) the docstring keywords.
const DOC_WORDS: &[&str] = &[
    "irreversible",
    "Permanently",
    "DESTRUCTIVE",
    "dangerous",
    "production",
    "critical",
    "careful",
    "Warning",
    "caution",
    "safe",
    "reads",
    "the",
    "a",
    "\n",
    "é",
];

fn function_name() -> impl Strategy<Value = String> {
    let composed = (
        prop::collection::vec((prop::sample::select(NAME_WORDS), any::<bool>()), 0..5),
        prop::sample::select(NAME_SEPARATORS),
    )
        .prop_map(|(words, separator)| {
            let mut name = String::new();
            for (i, (word, camel)) in words.into_iter().enumerate() {
                if i > 0 && camel {
                    // camelCase: no separator, upper-case first letter.
                    let mut chars = word.chars();
                    if let Some(first) = chars.next() {
                        name.extend(first.to_uppercase());
                        name.push_str(chars.as_str());
                    }
                } else {
                    if i > 0 {
                        name.push_str(separator);
                    }
                    name.push_str(word);
                }
            }
            name
        });
    prop_oneof![4 => composed, 1 => any::<String>()]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(ARG_SNIPPETS), 0..4)
            .prop_map(|parts| parts.join(" ")),
        1 => any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-20_000_i64..20_000).prop_map(Value::from),
        any::<i128>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::MAX,
            f64::MIN,
            1e308,
            -1e308,
            5e-324,
            10_000.0,
            -5_000.0,
        ])
        .prop_map(Value::Float),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::Str),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|entries| Value::Map(entries.into_iter().collect())),
        ]
    })
}

fn value_map(values: impl Strategy<Value = Value>) -> impl Strategy<Value = ValueMap> {
    prop::collection::vec(("[a-z_]{0,8}", values), 0..5)
        .prop_map(|entries| entries.into_iter().collect())
}

/// Hints mix the scorable kinds (booleans, numbers of every size and sign,
/// NaN, infinities) with the ignored ones (strings, null, containers).
fn hint() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => any::<bool>().prop_map(Value::Bool),
        4 => number(),
        1 => value(),
    ]
}

fn docstring() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        4 => prop::collection::vec(prop::sample::select(DOC_WORDS), 1..8)
            .prop_map(|words| Some(words.join(" "))),
        1 => any::<String>().prop_map(Some),
    ]
}

fn context() -> impl Strategy<Value = ActionContext> {
    (
        function_name(),
        prop::collection::vec(value(), 0..4),
        value_map(value()),
        docstring(),
        value_map(hint()),
    )
        .prop_map(|(name, args, kwargs, doc, hints)| {
            let mut ctx = ActionContext::new(name);
            ctx.args = args;
            ctx.kwargs = kwargs;
            ctx.function_doc = doc;
            ctx.hints = hints;
            ctx
        })
}

/// Scores near every level boundary, plus the ends of the range.
fn unit_score() -> impl Strategy<Value = f64> {
    let edges: Vec<f64> = [0.0, 0.3, 0.6, 0.8, 1.0]
        .into_iter()
        .flat_map(|b: f64| [b.next_down(), b, b.next_up()])
        .filter(|s| (0.0..=1.0).contains(s))
        .collect();
    prop_oneof![prop::sample::select(edges), 0.0..=1.0_f64]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn score_is_a_valid_level_bearing_number(ctx in context()) {
        let risk = DefaultRiskScorer::new().assess(&ctx);
        prop_assert!(!risk.score.is_nan(), "NaN score for {}", ctx.description());
        prop_assert!((0.0..=1.0).contains(&risk.score), "score {} out of range", risk.score);
        prop_assert_eq!(Ok(risk.level), RiskLevel::from_score(risk.score));

        // The score is the plain left-to-right sum of the contributions,
        // clamped (spec §0.1, §3.1).
        let mut total = 0.0;
        for factor in &risk.factors {
            total += factor.contribution;
        }
        prop_assert_eq!(risk.score.to_bits(), 0.0_f64.max(1.0_f64.min(total)).to_bits());

        // `score` (what the pipeline calls) agrees with `assess` exactly.
        let score = DefaultRiskScorer::new().score(&ctx);
        prop_assert_eq!(score.to_bits(), risk.score.to_bits());
    }

    #[test]
    fn every_factor_explains_itself(ctx in context()) {
        let risk = DefaultRiskScorer::new().assess(&ctx);
        let names: Vec<&str> = risk.factors.iter().map(|f| f.name.as_ref()).collect();
        prop_assert_eq!(names, ["function_name", "arguments", "docstring", "hints", "novelty"]);
        for factor in &risk.factors {
            let evidence = factor.evidence.as_deref().unwrap_or("");
            prop_assert!(!evidence.is_empty(), "factor {} has no evidence", factor.name);
            let raw = factor.score.unwrap_or(f64::NAN);
            prop_assert!((0.0..=1.0).contains(&raw), "factor {} raw score {raw}", factor.name);
        }
    }

    #[test]
    fn from_score_is_monotonic(a in unit_score(), b in unit_score()) {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let (Ok(low_level), Ok(high_level)) = (RiskLevel::from_score(low), RiskLevel::from_score(high))
        else {
            return Err(TestCaseError::fail(format!("{low} or {high} rejected")));
        };
        prop_assert!(low_level <= high_level, "{low} -> {low_level:?} but {high} -> {high_level:?}");
    }
}

// ---------------------------------------------------------------------------
// Adversarial arguments

/// The length at which the reference's e-mail pattern takes seconds (spec §7 P1).
const ADVERSARIAL_LEN: usize = 80_000;

/// Strings that make a backtracking engine retry the e-mail pattern from
/// every position, with the arguments factor each must produce. The
/// expectations were checked against Python's `re` with the reference's
/// patterns (which needs about 4–5 s for each of the non-matching ones).
fn adversarial_cases() -> Vec<(&'static str, String, f64, String)> {
    let benign = || "arguments appear benign".to_owned();
    let long_local = format!("{}@b.co", "a".repeat(ADVERSARIAL_LEN - 5));
    vec![
        ("\"a\" * 80000", "a".repeat(ADVERSARIAL_LEN), 0.05, benign()),
        (
            "\"a\" * 79999 + \"@\"",
            format!("{}@", "a".repeat(ADVERSARIAL_LEN - 1)),
            0.05,
            benign(),
        ),
        (
            "\"a\" * 40000 + \"@\" + \"a\" * 39999",
            format!("{}@{}", "a".repeat(40_000), "a".repeat(39_999)),
            0.05,
            benign(),
        ),
        (
            "\"a\" * 79995 + \"@b.co\"",
            long_local.clone(),
            0.5,
            format!("network pattern '{long_local}'"),
        ),
        ("\"a@\" * 40000", "a@".repeat(40_000), 0.05, benign()),
        (
            "\"a.a.a.@-\" * 10000",
            "a.a.a.@-".repeat(10_000),
            0.5,
            "network pattern 'a.a.a.@-a.a.a.'".to_owned(),
        ),
        (
            "\"1.\" * 40000",
            "1.".repeat(40_000),
            0.5,
            "network pattern '1.1.1.1'".to_owned(),
        ),
    ]
}

#[test]
fn adversarial_arguments_score_correctly() {
    let mut failures = Vec::new();
    for (name, text, want_score, want_evidence) in adversarial_cases() {
        assert_eq!(text.len(), ADVERSARIAL_LEN, "{name}: wrong length");
        // As a positional argument and as a keyword argument.
        let contexts = [
            ActionContext::new("process").with_arg(text.as_str()),
            ActionContext::new("process").with_kwarg("payload", text.as_str()),
        ];
        for ctx in contexts {
            let risk = DefaultRiskScorer::new().assess(&ctx);
            let arguments = risk.factors.iter().find(|f| f.name == "arguments");
            let got = arguments.map(|f| (f.score, f.evidence.clone()));
            let want = Some((Some(want_score), Some(want_evidence.clone())));
            if got != want {
                let shorten = |s: &str| s.chars().take(80).collect::<String>();
                failures.push(format!(
                    "{name}: expected {want_score} {:?}, got {:?}",
                    shorten(&want_evidence),
                    got.map(|(s, e)| (s, e.as_deref().map(shorten))),
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
