//! Parity with the reference implementation, to the last digit.
//!
//! Each test reads one section of the reference's published numbers from
//! `tests/data/` (see the README there for where each file comes from), checks
//! every case, and fails once listing every mismatch with the case name,
//! the expected value and the actual value. A regression therefore shows its
//! whole extent in one run instead of one case at a time.
//!
//! Floats are compared the way the reference prints them: through
//! [`py_float_repr`] (Python `repr(float)`), and additionally bit-for-bit
//! against the expected text parsed as an `f64`, so a bug in the formatter
//! cannot hide a bug in the scorer or the other way round.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a test reports failure by panicking"
)]

use std::fmt::{Debug, Write as _};
use std::fs;
use std::path::PathBuf;

use attesta::{
    ActionContext, DefaultRiskScorer, RiskAssessment, RiskFactor, RiskLevel, RiskScorer,
    py_float_repr,
};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Tolerance for the fixture's rounded decimal expectations (spec §6).
const FIXTURE_TOLERANCE: f64 = 1e-9;

/// How many mismatches a failure message lists before summarising the rest.
const MAX_LISTED_MISMATCHES: usize = 50;

/// The five factors of the default scorer, in summation order (spec §3.1).
const FACTOR_ORDER: [&str; 5] = [
    "function_name",
    "arguments",
    "docstring",
    "hints",
    "novelty",
];

/// The exact scores of the four fixture vectors under naive summation (spec
/// §6). The fixture itself only has rounded decimals.
const FIXTURE_EXACT_SCORES: [(&str, &str); 4] = [
    ("read_operation_low_risk", "0.14"),
    ("write_operation_medium_risk", "0.4000000000000001"),
    ("destructive_operation_high_risk", "0.77"),
    ("deploy_production_critical_risk", "0.8"),
];

// ---------------------------------------------------------------------------
// Harness

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

fn read_data(name: &str) -> String {
    let path = data_path(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn load_json<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&read_data(name)).unwrap_or_else(|e| panic!("cannot parse {name}: {e}"))
}

/// Collects every mismatch of one section, then fails once with all of them.
struct Report {
    section: &'static str,
    cases: usize,
    checks: usize,
    mismatches: Vec<String>,
}

impl Report {
    fn new(section: &'static str) -> Self {
        Self {
            section,
            cases: 0,
            checks: 0,
            mismatches: Vec::new(),
        }
    }

    fn case_done(&mut self) {
        self.cases += 1;
    }

    fn fail(&mut self, case: &str, what: &str, detail: impl std::fmt::Display) {
        self.mismatches.push(format!("[{case}] {what}: {detail}"));
    }

    /// `expected == actual`, reported with `Debug`.
    fn eq<T: PartialEq + Debug + ?Sized>(
        &mut self,
        case: &str,
        what: &str,
        expected: &T,
        actual: &T,
    ) {
        self.checks += 1;
        if expected != actual {
            self.fail(
                case,
                what,
                format_args!("expected {expected:?}, got {actual:?}"),
            );
        }
    }

    /// `actual` is the float whose Python repr is `expected_repr`: the repr
    /// strings agree and so do the bits.
    fn exact(&mut self, case: &str, what: &str, expected_repr: &str, actual: f64) {
        self.checks += 1;
        let actual_repr = py_float_repr(actual);
        let same_bits = expected_repr
            .parse::<f64>()
            .is_ok_and(|expected| expected.to_bits() == actual.to_bits());
        if actual_repr != expected_repr || !same_bits {
            self.fail(
                case,
                what,
                format_args!(
                    "expected {expected_repr}, got {actual_repr} (bits {:#018x})",
                    actual.to_bits()
                ),
            );
        }
    }

    /// `|actual - expected| <= FIXTURE_TOLERANCE` (a NaN never passes).
    fn close(&mut self, case: &str, what: &str, expected: f64, actual: f64) {
        self.checks += 1;
        // Written so that a NaN (every comparison false) is never "within".
        let within = (actual - expected).abs() <= FIXTURE_TOLERANCE;
        if !within {
            self.fail(
                case,
                what,
                format_args!(
                    "expected {} ± {FIXTURE_TOLERANCE:e}, got {}",
                    py_float_repr(expected),
                    py_float_repr(actual)
                ),
            );
        }
    }

    /// Panics with every mismatch if there is any; also fails if the data
    /// file did not hold the number of cases the spec says it has, so a
    /// truncated copy cannot pass quietly.
    fn finish(self, expected_cases: usize) {
        let Self {
            section,
            cases,
            checks,
            mismatches,
        } = self;
        if mismatches.is_empty() && cases == expected_cases {
            return;
        }
        let mut msg = format!(
            "{section}: {} mismatch(es) in {checks} checks over {cases} case(s) \
             (the spec lists {expected_cases})\n",
            mismatches.len()
        );
        for m in mismatches.iter().take(MAX_LISTED_MISMATCHES) {
            let _ = writeln!(msg, "  {m}");
        }
        if mismatches.len() > MAX_LISTED_MISMATCHES {
            let _ = writeln!(
                msg,
                "  ... and {} more",
                mismatches.len() - MAX_LISTED_MISMATCHES
            );
        }
        panic!("{msg}");
    }
}

fn factor<'a>(assessment: &'a RiskAssessment, name: &str) -> Option<&'a RiskFactor> {
    assessment.factors.iter().find(|f| f.name == name)
}

fn factor_names(assessment: &RiskAssessment) -> Vec<&str> {
    assessment.factors.iter().map(|f| f.name.as_ref()).collect()
}

// ---------------------------------------------------------------------------
// fixtures/test-vectors.json

#[derive(Deserialize)]
struct Fixture {
    risk_level_boundaries: Vec<BoundaryCase>,
    risk_scoring: ScoringSection,
    action_context_description: DescriptionSection,
}

#[derive(Deserialize)]
struct BoundaryCase {
    score: f64,
    expected_level: RiskLevel,
    note: String,
}

#[derive(Deserialize)]
struct ScoringSection {
    cases: Vec<ScoringCase>,
}

#[derive(Deserialize)]
struct ScoringCase {
    name: String,
    /// Kept as JSON so the test can score it with and without `environment`.
    input: serde_json::Map<String, serde_json::Value>,
    expected: ScoringExpected,
}

#[derive(Deserialize)]
struct ScoringExpected {
    factor_scores: IndexMap<String, f64>,
    weighted_contributions: IndexMap<String, f64>,
    risk_score: f64,
    risk_level: RiskLevel,
}

#[derive(Deserialize)]
struct DescriptionSection {
    cases: Vec<DescriptionCase>,
}

#[derive(Deserialize)]
struct DescriptionCase {
    input: ActionContext,
    expected: DescriptionExpected,
}

#[derive(Deserialize)]
struct DescriptionExpected {
    python: String,
}

fn fixture() -> Fixture {
    load_json("test-vectors.json")
}

#[test]
fn fixture_risk_level_boundaries() {
    let mut report = Report::new("test-vectors.json risk_level_boundaries");
    for case in fixture().risk_level_boundaries {
        let name = format!("score {} ({})", py_float_repr(case.score), case.note);
        report.eq(
            &name,
            "RiskLevel::from_score",
            &Ok(case.expected_level),
            &RiskLevel::from_score(case.score),
        );
        report.case_done();
    }
    report.finish(8);
}

fn context_from_json(
    input: &serde_json::Map<String, serde_json::Value>,
) -> Result<ActionContext, serde_json::Error> {
    serde_json::from_value(serde_json::Value::Object(input.clone()))
}

#[test]
fn fixture_risk_scoring_cases() {
    let exact_scores: IndexMap<&str, &str> = FIXTURE_EXACT_SCORES.into_iter().collect();
    let mut report = Report::new("test-vectors.json risk_scoring.cases");
    for case in fixture().risk_scoring.cases {
        let name = case.name.as_str();
        // The vectors are scorer-level: `environment` is part of the input
        // but must not change the score (spec §6). Score the context as
        // given, and again without the field, on fresh scorers.
        let ctx = match context_from_json(&case.input) {
            Ok(ctx) => ctx,
            Err(e) => {
                report.fail(name, "input", format_args!("not an ActionContext: {e}"));
                continue;
            }
        };
        let mut without_env = case.input.clone();
        without_env.shift_remove("environment");
        let risk = DefaultRiskScorer::new().assess(&ctx);
        match context_from_json(&without_env) {
            Ok(plain) => {
                let plain_risk = DefaultRiskScorer::new().assess(&plain);
                report.eq(
                    name,
                    "score is independent of `environment`",
                    &py_float_repr(plain_risk.score),
                    &py_float_repr(risk.score),
                );
            }
            Err(e) => report.fail(name, "input without environment", e),
        }

        let expected = &case.expected;
        let expected_names: Vec<&str> = expected.factor_scores.keys().map(String::as_str).collect();
        report.eq(name, "factor names", &expected_names, &factor_names(&risk));
        report.eq(
            name,
            "weighted_contributions names",
            &expected_names,
            &expected
                .weighted_contributions
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        for (factor_name, &raw) in &expected.factor_scores {
            let Some(f) = factor(&risk, factor_name) else {
                report.fail(name, factor_name, "factor missing");
                continue;
            };
            match f.score {
                Some(actual) => report.close(name, &format!("{factor_name}.score"), raw, actual),
                None => report.fail(name, &format!("{factor_name}.score"), "no raw score"),
            }
            match expected.weighted_contributions.get(factor_name) {
                Some(&c) => {
                    report.close(
                        name,
                        &format!("{factor_name}.contribution"),
                        c,
                        f.contribution,
                    );
                }
                None => report.fail(name, factor_name, "no expected contribution in the fixture"),
            }
        }
        report.close(name, "risk_score", expected.risk_score, risk.score);
        match exact_scores.get(name) {
            Some(exact) => report.exact(name, "risk_score (exact, spec §6)", exact, risk.score),
            None => report.fail(name, "risk_score (exact)", "case not listed in spec §6"),
        }
        report.eq(name, "risk_level", &expected.risk_level, &risk.level);
        report.eq(
            name,
            "level == RiskLevel::from_score(score)",
            &Ok(risk.level),
            &RiskLevel::from_score(risk.score),
        );
        report.case_done();
    }
    report.finish(FIXTURE_EXACT_SCORES.len());
}

#[test]
fn fixture_action_context_description() {
    let mut report = Report::new("test-vectors.json action_context_description");
    for case in fixture().action_context_description.cases {
        let name = case.expected.python.clone();
        report.eq(
            &name,
            "description()",
            case.expected.python.as_str(),
            case.input.description().as_str(),
        );
        report.case_done();
    }
    report.finish(4);
}

// ---------------------------------------------------------------------------
// Spec Appendix A (scorer_cases.json) and Appendix C (novelty_sequence.json)

#[derive(Deserialize)]
struct ScorerCases {
    cases: Vec<ScorerCase>,
}

#[derive(Deserialize)]
struct ScorerCase {
    id: String,
    name: String,
    input: ActionContext,
    expected: ScorerExpected,
}

#[derive(Deserialize)]
struct ScorerExpected {
    description: String,
    factors: Vec<ExpectedFactor>,
    score: String,
    level: RiskLevel,
}

#[derive(Deserialize)]
struct ExpectedFactor {
    name: String,
    raw: f64,
    contribution: String,
    evidence: String,
}

#[test]
fn appendix_a_scorer_cases() {
    let data: ScorerCases = load_json("scorer_cases.json");
    let mut report = Report::new("scorer_cases.json (spec Appendix A)");
    for case in data.cases {
        let name = format!("{} {}", case.id, case.name);
        let name = name.as_str();
        let expected = &case.expected;
        let risk = DefaultRiskScorer::new().assess(&case.input);

        let expected_names: Vec<&str> = expected.factors.iter().map(|f| f.name.as_ref()).collect();
        report.eq(name, "factor order", &FACTOR_ORDER[..], &expected_names[..]);
        report.eq(name, "factor names", &expected_names, &factor_names(&risk));
        for want in &expected.factors {
            let Some(got) = factor(&risk, &want.name) else {
                report.fail(name, &want.name, "factor missing");
                continue;
            };
            report.exact(
                name,
                &format!("{}.score", want.name),
                &py_float_repr(want.raw),
                got.score.unwrap_or(f64::NAN),
            );
            report.exact(
                name,
                &format!("{}.contribution", want.name),
                &want.contribution,
                got.contribution,
            );
            report.eq(
                name,
                &format!("{}.evidence", want.name),
                &Some(want.evidence.as_str()),
                &got.evidence.as_deref(),
            );
        }
        report.exact(name, "score", &expected.score, risk.score);
        report.eq(name, "level", &expected.level, &risk.level);
        // The pipeline calls `score`, not `assess`: both must agree.
        report.exact(
            name,
            "score() on a fresh scorer",
            &expected.score,
            DefaultRiskScorer::new().score(&case.input),
        );
        report.eq(
            name,
            "description()",
            expected.description.as_str(),
            case.input.description().as_str(),
        );
        report.case_done();
    }
    report.finish(12);
}

#[derive(Deserialize)]
struct NoveltySequence {
    input: ActionContext,
    calls: Vec<NoveltyCall>,
}

#[derive(Deserialize)]
struct NoveltyCall {
    call: usize,
    seen_before: u64,
    novelty_contribution: String,
    score: String,
}

#[test]
fn appendix_c_novelty_sequence() {
    let data: NoveltySequence = load_json("novelty_sequence.json");
    let mut report = Report::new("novelty_sequence.json (spec Appendix C)");
    let scorer = DefaultRiskScorer::new();
    for (index, want) in data.calls.iter().enumerate() {
        let name = format!("call {}", want.call);
        let name = name.as_str();
        // The sequence only means something if the calls are consecutive.
        report.eq(name, "call number in data file", &(index + 1), &want.call);
        let risk = scorer.assess(&data.input);
        match factor(&risk, "novelty") {
            Some(novelty) => {
                report.exact(
                    name,
                    "novelty.contribution",
                    &want.novelty_contribution,
                    novelty.contribution,
                );
                report.eq(
                    name,
                    "novelty.evidence",
                    &Some(format!("seen {} time(s) before", want.seen_before).as_str()),
                    &novelty.evidence.as_deref(),
                );
            }
            None => report.fail(name, "novelty", "factor missing"),
        }
        report.exact(name, "score", &want.score, risk.score);
        report.case_done();
    }
    report.finish(12);
}

// ---------------------------------------------------------------------------
// Python float repr corpus

#[test]
fn python_float_repr_corpus() {
    let text = read_data("python_float_repr_corpus.txt");
    let mut report = Report::new("python_float_repr_corpus.txt");
    for (index, line) in text.lines().enumerate() {
        // The file has no header today; tolerate comments and blank lines
        // should one be added.
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let name = format!("line {}", index + 1);
        let parsed = line
            .split_once(' ')
            .and_then(|(hex, repr)| Some((u64::from_str_radix(hex, 16).ok()?, repr)));
        let Some((bits, expected)) = parsed else {
            report.fail(
                &name,
                "format",
                format_args!("not `<hex bits> <repr>`: {line:?}"),
            );
            continue;
        };
        report.checks += 1;
        let actual = py_float_repr(f64::from_bits(bits));
        if actual != expected {
            report.fail(
                &name,
                &format!("py_float_repr(f64::from_bits({bits:#018x}))"),
                format_args!("expected {expected}, got {actual}"),
            );
        }
        report.case_done();
    }
    report.finish(11_963);
}
