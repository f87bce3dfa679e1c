//! [`DefaultRiskScorer`]: the five-factor heuristic scorer.
//!
//! The numbers are a compatibility contract: for the same context this scorer
//! returns bit-for-bit the score of the reference implementation, so teams can
//! carry policies between the two. That fixes the verb tables, the patterns,
//! the weights and the order in which contributions are summed (plain
//! left-to-right `+`, starting from `0.0`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex, PoisonError};

use regex::{Regex, RegexSet};

use super::{RiskAssessment, RiskFactor, RiskScorer, clamp01};
use crate::context::ActionContext;
use crate::value::Value;

/// Weights of the five factors. The defaults sum to 1.0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScorerWeights {
    /// Weight of the verbs in the function name (default 0.30).
    pub function_name: f64,
    /// Weight of patterns found in argument values (default 0.25).
    pub arguments: f64,
    /// Weight of keywords in the documentation (default 0.20).
    pub docstring: f64,
    /// Weight of caller-supplied hints (default 0.15).
    pub hints: f64,
    /// Weight of how rarely this function has been seen (default 0.10).
    pub novelty: f64,
}

impl Default for ScorerWeights {
    fn default() -> Self {
        Self {
            function_name: 0.30,
            arguments: 0.25,
            docstring: 0.20,
            hints: 0.15,
            novelty: 0.10,
        }
    }
}

/// How many distinct function names the novelty table remembers before it
/// starts over. Starting over only makes names look new again, which raises
/// risk, so the bound can never make an action look safer than it is.
const NOVELTY_CAPACITY: usize = 65_536;
/// After this many sightings novelty stops decreasing.
const NOVELTY_SATURATION: u32 = 10;

/// The default scorer: function-name verbs, argument patterns, documentation
/// keywords, hints and novelty, weighted and summed.
///
/// Novelty is per scorer instance and thread-safe: the first call of a name
/// scores 0.9 for that factor, falling linearly to 0.1 by the tenth.
///
/// ```
/// use attesta::{ActionContext, DefaultRiskScorer, RiskLevel, RiskScorer};
/// let scorer = DefaultRiskScorer::new();
/// let risk = scorer.assess(&ActionContext::new("get_users"));
/// assert_eq!(risk.score, 0.14);
/// assert_eq!(risk.level, RiskLevel::Low);
/// ```
#[derive(Debug, Default)]
pub struct DefaultRiskScorer {
    weights: ScorerWeights,
    /// Times each function name has been scored. The full count is kept
    /// (not capped at the novelty saturation point) because the evidence
    /// reports it, as the reference does: `seen 11 time(s) before`.
    seen: Mutex<HashMap<String, u32>>,
}

impl DefaultRiskScorer {
    /// A scorer with the default weights and no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scorer with custom weights.
    pub fn with_weights(weights: ScorerWeights) -> Self {
        Self {
            weights,
            seen: Mutex::default(),
        }
    }

    /// The weights in use.
    pub fn weights(&self) -> ScorerWeights {
        self.weights
    }

    /// Forgets every function name, so all are novel again.
    pub fn reset_novelty(&self) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Records one sighting of `name` and returns how often it was seen before.
    fn next_sighting(&self, name: &str) -> u32 {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = seen.get_mut(name) {
            let before = *count;
            *count = count.saturating_add(1);
            return before;
        }
        if seen.len() >= NOVELTY_CAPACITY {
            seen.clear();
        }
        seen.insert(name.to_owned(), 1);
        0
    }
}

impl RiskScorer for DefaultRiskScorer {
    fn name(&self) -> String {
        "default".to_owned()
    }

    fn assess(&self, ctx: &ActionContext) -> RiskAssessment {
        let w = self.weights;
        let parts = [
            (
                "function_name",
                w.function_name,
                "Verbs in the function name.",
                score_function_name(&ctx.function_name),
            ),
            (
                "arguments",
                w.arguments,
                "Patterns in the argument values.",
                score_arguments(ctx),
            ),
            (
                "docstring",
                w.docstring,
                "Keywords in the function documentation.",
                score_docstring(ctx.function_doc.as_deref()),
            ),
            (
                "hints",
                w.hints,
                "Hints supplied by the caller.",
                score_hints(ctx),
            ),
            (
                "novelty",
                w.novelty,
                "How rarely this function has been called.",
                score_novelty(self.next_sighting(&ctx.function_name)),
            ),
        ];
        let mut total = 0.0;
        let mut factors = Vec::with_capacity(parts.len());
        for (name, weight, description, (raw, evidence)) in parts {
            let contribution = raw * weight;
            total += contribution;
            factors.push(RiskFactor {
                name: name.into(),
                score: Some(raw),
                weight: Some(weight),
                contribution,
                description: description.into(),
                evidence: Some(evidence),
            });
        }
        RiskAssessment::from_raw(clamp01(total), factors, "default")
    }
}

/// The verb tables as the reference documents them; `verb_of` must agree
/// (checked by a test).
#[cfg(test)]
const DESTRUCTIVE_VERBS: &[&str] = &[
    "delete", "remove", "drop", "destroy", "purge", "truncate", "kill",
];
#[cfg(test)]
const MUTATING_VERBS: &[&str] = &[
    "write", "update", "modify", "set", "create", "send", "deploy", "push", "execute", "run",
];
#[cfg(test)]
const READ_VERBS: &[&str] = &["read", "get", "list", "fetch", "search", "find", "check"];

/// Splits a function name into lower-case words: camelCase boundaries
/// (lower-case letter or digit followed by an upper-case letter) become
/// separators, then the name splits on `_ . - /`.
#[cfg(test)]
pub(crate) fn function_name_tokens(name: &str) -> Vec<String> {
    name_pieces(name).map(str::to_lowercase).collect()
}

/// The words of a function name before lower-casing, as slices of `name`
/// (no allocation on the per-call path): split on runs of `_ . - /`, then
/// at every camelCase boundary, empty pieces dropped.
fn name_pieces(name: &str) -> impl Iterator<Item = &str> {
    name.split(['_', '.', '-', '/'])
        .flat_map(|piece| CamelPieces { rest: piece })
}

/// Splits a separator-free piece before every ASCII upper-case letter that
/// follows an ASCII lower-case letter or digit (`deleteUser` → `delete`,
/// `User`; `HTTPRequest` stays whole). Working on bytes is safe: ASCII bytes
/// never occur inside a multi-byte UTF-8 sequence, so every cut is a
/// character boundary and a non-ASCII neighbour never makes one.
struct CamelPieces<'a> {
    rest: &'a str,
}

impl<'a> Iterator for CamelPieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let cut = self
            .rest
            .as_bytes()
            .windows(2)
            .position(|pair| {
                (pair[0].is_ascii_lowercase() || pair[0].is_ascii_digit())
                    && pair[1].is_ascii_uppercase()
            })
            .map_or(self.rest.len(), |i| i + 1);
        let (head, tail) = self.rest.split_at(cut);
        self.rest = tail;
        Some(head)
    }
}

/// Verb tiers, most dangerous first: (label, score).
const TIERS: [(&str, f64); 3] = [("destructive", 0.95), ("mutating", 0.55), ("read", 0.10)];

/// The tier (index into [`TIERS`]) and verb that `piece` is, once
/// lower-cased, if it is one of the known verbs.
///
/// Lower-casing is Unicode-aware, as in the reference: the Kelvin sign in
/// `\u{212A}ill` lower-cases to an ASCII `k`, so that name is a `kill`. ASCII
/// pieces are lower-cased into a stack buffer; only non-ASCII pieces pay for
/// an allocated copy.
fn verb_of(piece: &str) -> Option<(usize, &'static str)> {
    let mut buf = [0u8; 8];
    let owned;
    let lower: &str = if piece.is_ascii() {
        // No verb is longer than 8 letters.
        let dst = buf.get_mut(..piece.len())?;
        dst.copy_from_slice(piece.as_bytes());
        dst.make_ascii_lowercase();
        std::str::from_utf8(dst).ok()?
    } else {
        owned = piece.to_lowercase();
        &owned
    };
    let found = match lower {
        "delete" => (0, "delete"),
        "remove" => (0, "remove"),
        "drop" => (0, "drop"),
        "destroy" => (0, "destroy"),
        "purge" => (0, "purge"),
        "truncate" => (0, "truncate"),
        "kill" => (0, "kill"),
        "write" => (1, "write"),
        "update" => (1, "update"),
        "modify" => (1, "modify"),
        "set" => (1, "set"),
        "create" => (1, "create"),
        "send" => (1, "send"),
        "deploy" => (1, "deploy"),
        "push" => (1, "push"),
        "execute" => (1, "execute"),
        "run" => (1, "run"),
        "read" => (2, "read"),
        "get" => (2, "get"),
        "list" => (2, "list"),
        "fetch" => (2, "fetch"),
        "search" => (2, "search"),
        "find" => (2, "find"),
        "check" => (2, "check"),
        _ => return None,
    };
    Some(found)
}

fn score_function_name(name: &str) -> (f64, String) {
    if name_pieces(name).next().is_none() {
        return (0.5, "no recognisable tokens".to_owned());
    }
    let Some(tier) = name_pieces(name)
        .filter_map(|piece| verb_of(piece).map(|(tier, _)| tier))
        .min()
    else {
        return (0.4, "no known verb category matched".to_owned());
    };
    let (label, score) = TIERS[tier];
    // Every token of the winning tier, in name order, duplicates kept. A
    // matching token lower-cases to the verb itself, so the evidence quotes
    // the verb.
    let mut evidence = format!("{label} verbs: ");
    let matched = name_pieces(name)
        .filter_map(verb_of)
        .filter(|(t, _)| *t == tier);
    for (i, (_, verb)) in matched.enumerate() {
        if i > 0 {
            evidence.push_str(", ");
        }
        evidence.push_str(verb);
    }
    (score, evidence)
}

/// One argument pattern: the evidence label, the score when it matches, and
/// the regular expression (Rust's engine is linear-time, so an adversarial
/// argument cannot stall scoring the way the reference's e-mail pattern can).
struct ArgPattern {
    label: &'static str,
    score: f64,
    source: &'static str,
}

/// Python's `\s` also matches the separators U+001C..U+001F; Rust's does not.
/// The shell patterns spell that out so both engines match the same text.
const ARG_PATTERNS: &[ArgPattern] = &[
    ArgPattern {
        label: "sensitive pattern",
        score: 0.9,
        source: r"(?i)prod(uction)?",
    },
    ArgPattern {
        label: "sensitive pattern",
        score: 0.9,
        source: r"(?i)\.env\b",
    },
    ArgPattern {
        label: "sensitive pattern",
        score: 0.9,
        source: r"(?i)secret",
    },
    ArgPattern {
        label: "sensitive pattern",
        score: 0.9,
        source: r"(?i)password",
    },
    ArgPattern {
        label: "sensitive pattern",
        score: 0.9,
        source: r"(?i)token",
    },
    ArgPattern {
        label: "sensitive pattern",
        score: 0.9,
        source: r"(?i)\bkey\b",
    },
    ArgPattern {
        label: "sensitive pattern",
        score: 0.9,
        source: r"(?i)credential",
    },
    ArgPattern {
        label: "SQL keyword",
        score: 0.9,
        source: r"(?i)\bDROP\b",
    },
    ArgPattern {
        label: "SQL keyword",
        score: 0.9,
        source: r"(?i)\bDELETE\b",
    },
    ArgPattern {
        label: "SQL keyword",
        score: 0.9,
        source: r"(?i)\bTRUNCATE\b",
    },
    ArgPattern {
        label: "SQL keyword",
        score: 0.9,
        source: r"(?i)\bALTER\b",
    },
    ArgPattern {
        label: "shell command",
        score: 0.9,
        source: r"rm[\s\x1C-\x1F]+-rf\b",
    },
    ArgPattern {
        label: "shell command",
        score: 0.9,
        source: r"\bsudo\b",
    },
    ArgPattern {
        label: "shell command",
        score: 0.9,
        source: r"chmod[\s\x1C-\x1F]+777\b",
    },
    ArgPattern {
        label: "network pattern",
        score: 0.5,
        source: r"(?i)https?://",
    },
    ArgPattern {
        label: "network pattern",
        score: 0.5,
        source: r"[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9.-]+",
    },
    ArgPattern {
        label: "network pattern",
        score: 0.5,
        source: r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b",
    },
];

/// The argument patterns, compiled once: a set to learn in one pass which
/// patterns match, and one regex each to find the first match for evidence.
struct CompiledArgPatterns {
    any: RegexSet,
    each: Vec<Regex>,
}

#[allow(clippy::expect_used)]
static ARG_REGEXES: LazyLock<CompiledArgPatterns> = LazyLock::new(|| CompiledArgPatterns {
    any: RegexSet::new(ARG_PATTERNS.iter().map(|p| p.source))
        .expect("built-in argument patterns compile"),
    each: ARG_PATTERNS
        .iter()
        .map(|p| Regex::new(p.source).expect("built-in argument pattern compiles"))
        .collect(),
});

fn score_arguments(ctx: &ActionContext) -> (f64, String) {
    if ctx.args.is_empty() && ctx.kwargs.is_empty() {
        return (0.0, "no arguments".to_owned());
    }
    // Positional values then keyword values (not names), rendered with
    // Python's str() and joined by single spaces.
    let mut text = String::new();
    let values = ctx.args.iter().chain(ctx.kwargs.values());
    for (i, value) in values.enumerate() {
        if i > 0 {
            text.push(' ');
        }
        value.write_py_str(&mut text);
    }
    let compiled = &*ARG_REGEXES;
    let hits = compiled.any.matches(&text);
    if !hits.matched_any() {
        return (0.05, "arguments appear benign".to_owned());
    }
    let mut best = 0.0_f64;
    let mut evidence = String::new();
    for index in &hits {
        let (Some(pattern), Some(regex)) = (ARG_PATTERNS.get(index), compiled.each.get(index))
        else {
            continue;
        };
        if let Some(m) = regex.find(&text) {
            if !evidence.is_empty() {
                evidence.push_str("; ");
            }
            let _ = write!(evidence, "{} '{}'", pattern.label, m.as_str());
            best = best.max(pattern.score);
        }
    }
    (best, evidence)
}

const HIGH_RISK_DOC_KEYWORDS: &[&str] = &[
    "irreversible",
    "permanent",
    "destructive",
    "dangerous",
    "production",
    "critical",
];
const CAUTION_DOC_KEYWORDS: &[&str] = &["careful", "warning", "caution"];

/// The docstring keywords, compiled once: all of them in one alternation to
/// learn in one pass whether any occurs (usually none does), and one regex
/// each to quote the first occurrence. Case-insensitive with Unicode case
/// folding, like the reference's `re.IGNORECASE`.
struct CompiledDocKeywords {
    any: Regex,
    each: Vec<(Regex, &'static str, f64)>,
}

#[allow(clippy::expect_used)]
static DOC_REGEXES: LazyLock<CompiledDocKeywords> = LazyLock::new(|| {
    let high = HIGH_RISK_DOC_KEYWORDS
        .iter()
        .map(|k| (k, "high-risk keyword", 0.85));
    let caution = CAUTION_DOC_KEYWORDS
        .iter()
        .map(|k| (k, "caution keyword", 0.5));
    let keywords: Vec<_> = high.chain(caution).collect();
    let sources: Vec<String> = keywords
        .iter()
        .map(|(k, _, _)| format!("(?i){k}"))
        .collect();
    CompiledDocKeywords {
        any: Regex::new(&sources.join("|")).expect("keyword patterns compile"),
        each: keywords
            .iter()
            .zip(&sources)
            .map(|((_, label, score), source)| {
                let regex = Regex::new(source).expect("keyword pattern compiles");
                (regex, *label, *score)
            })
            .collect(),
    }
});

fn score_docstring(doc: Option<&str>) -> (f64, String) {
    let Some(doc) = doc.filter(|d| !d.is_empty()) else {
        return (0.1, "no docstring available".to_owned());
    };
    let compiled = &*DOC_REGEXES;
    let mut best: Option<f64> = None;
    let mut evidence = String::new();
    if !compiled.any.is_match(doc) {
        return (0.05, "docstring contains no risk keywords".to_owned());
    }
    // In keyword order: high-risk keywords first.
    for (regex, label, score) in &compiled.each {
        if let Some(m) = regex.find(doc) {
            if !evidence.is_empty() {
                evidence.push_str("; ");
            }
            let _ = write!(evidence, "{label} '{}'", m.as_str());
            best = Some(best.map_or(*score, |b| b.max(*score)));
        }
    }
    match best {
        Some(score) => (score, evidence),
        None => (0.05, "docstring contains no risk keywords".to_owned()),
    }
}

fn score_hints(ctx: &ActionContext) -> (f64, String) {
    if ctx.hints.is_empty() {
        return (0.0, "no hints provided".to_owned());
    }
    let mut total = 0.0;
    let mut evidence = String::new();
    for (key, value) in &ctx.hints {
        let item = match value {
            Value::Bool(true) => {
                total += 0.3;
                format!("{key}=True (+0.30)")
            }
            Value::Int(_) | Value::Float(_) => {
                let number = value.as_f64().unwrap_or(f64::NAN);
                // Unbounded below on purpose: the compatibility vectors
                // include a negative hint. NaN propagates and clamps to 1.0.
                // Python's `min(x, 1.0)` keeps a NaN `x`; `f64::min` would not.
                let ratio = number / 10_000.0;
                let contribution = if 1.0 < ratio { 1.0 } else { ratio } * 0.8;
                total += contribution;
                format!("{key}={} (+{})", value.py_str(), py_fixed(contribution, 2))
            }
            _ => continue,
        };
        if !evidence.is_empty() {
            evidence.push_str("; ");
        }
        evidence.push_str(&item);
    }
    if evidence.is_empty() {
        return (0.0, "hints contained no scorable values".to_owned());
    }
    (clamp01(total), evidence)
}

fn score_novelty(seen_before: u32) -> (f64, String) {
    let score = if seen_before == 0 {
        0.9
    } else if seen_before >= NOVELTY_SATURATION {
        0.1
    } else {
        0.9 - (f64::from(seen_before) / 10.0) * 0.8
    };
    (score, format!("seen {seen_before} time(s) before"))
}

/// Python's `format(x, '.Nf')`: like Rust's `{:.N}` except for the spelling
/// of the non-finite values.
pub(crate) fn py_fixed(x: f64, precision: usize) -> String {
    if x.is_nan() {
        "nan".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{x:.precision$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_camel_case_and_separators() {
        assert_eq!(
            function_name_tokens("deleteUserAccount"),
            ["delete", "user", "account"]
        );
        assert_eq!(function_name_tokens("HTTPRequest"), ["httprequest"]);
        assert_eq!(function_name_tokens("v2Deploy"), ["v2", "deploy"]);
        assert_eq!(
            function_name_tokens("Service.<locals>.purge_cache"),
            ["service", "<locals>", "purge", "cache"]
        );
        assert!(function_name_tokens("___").is_empty());
        assert_eq!(function_name_tokens("a//b--c"), ["a", "b", "c"]);
    }

    #[test]
    fn verb_match_agrees_with_the_verb_tables() {
        for (tier, verbs) in [DESTRUCTIVE_VERBS, MUTATING_VERBS, READ_VERBS]
            .iter()
            .enumerate()
        {
            for verb in *verbs {
                assert_eq!(verb_of(verb), Some((tier, *verb)));
                assert_eq!(verb_of(&verb.to_uppercase()), Some((tier, *verb)));
            }
        }
        assert_eq!(verb_of("deleted"), None);
        assert_eq!(verb_of("\u{212A}ill"), Some((0, "kill")));
        assert_eq!(verb_of("truncated"), None, "longer than any verb");
    }

    #[test]
    fn verbs_match_whole_tokens_only() {
        assert_eq!(score_function_name("deleted_rows").0, 0.4);
        assert_eq!(score_function_name("runner").0, 0.4);
        assert_eq!(score_function_name("getter").0, 0.4);
        assert_eq!(score_function_name("get_and_delete").0, 0.95);
        assert_eq!(
            score_function_name("get_and_delete").1,
            "destructive verbs: delete"
        );
        assert_eq!(
            score_function_name("drop_drop").1,
            "destructive verbs: drop, drop"
        );
        assert_eq!(score_function_name("deploy").1, "mutating verbs: deploy");
        assert_eq!(score_function_name("search").1, "read verbs: search");
    }

    /// The tokenisation exactly as spec §3.2 states it: insert `_` at
    /// camelCase boundaries, split on the separators, lower-case.
    fn spec_tokens(name: &str) -> Vec<String> {
        let mut spaced = String::new();
        let mut prev: Option<char> = None;
        for c in name.chars() {
            if let Some(p) = prev
                && (p.is_ascii_lowercase() || p.is_ascii_digit())
                && c.is_ascii_uppercase()
            {
                spaced.push('_');
            }
            spaced.push(c);
            prev = Some(c);
        }
        spaced
            .split(['_', '.', '-', '/'])
            .filter(|piece| !piece.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn tokens_follow_the_spec(name in "([a-zA-Z0-9_./-]|\\PC){0,24}") {
            proptest::prop_assert_eq!(function_name_tokens(&name), spec_tokens(&name));
        }
    }

    #[test]
    fn verbs_lower_case_with_unicode_rules() {
        // U+212A KELVIN SIGN lower-cases to an ASCII `k`, in Python too.
        assert_eq!(
            score_function_name("\u{212A}ILL_it"),
            (0.95, "destructive verbs: kill".to_owned())
        );
        assert_eq!(
            score_function_name("DELETE_RunGet"),
            (0.95, "destructive verbs: delete".to_owned())
        );
        assert_eq!(
            score_function_name("Größe_Run"),
            (0.55, "mutating verbs: run".to_owned())
        );
        assert_eq!(function_name_tokens("éDelete"), ["édelete"]);
        assert_eq!(function_name_tokens("aÉ9Get"), ["aé9", "get"]);
    }

    #[test]
    fn docstring_keywords_in_order_high_risk_first() {
        assert_eq!(
            score_docstring(Some("CAUTION: Critical and PERMANENTLY irreversible")),
            (
                0.85,
                "high-risk keyword 'irreversible'; high-risk keyword 'PERMANENT'; \
                 high-risk keyword 'Critical'; caution keyword 'CAUTION'"
                    .to_owned()
            )
        );
        assert_eq!(
            score_docstring(Some("Reads rows.")),
            (0.05, "docstring contains no risk keywords".to_owned())
        );
    }

    #[test]
    fn shell_patterns_are_case_sensitive_like_the_reference() {
        let ctx = ActionContext::new("x").with_arg("SUDO RM -RF /");
        assert_eq!(score_arguments(&ctx).0, 0.05);
        let ctx = ActionContext::new("x").with_arg("rm\u{1c}-rf /");
        assert_eq!(score_arguments(&ctx).1, "shell command 'rm\u{1c}-rf'");
    }

    #[test]
    fn non_finite_hints() {
        let nan = ActionContext::new("x").with_hint("n", f64::NAN);
        let (score, evidence) = score_hints(&nan);
        assert_eq!(score, 1.0);
        assert_eq!(evidence, "n=nan (+nan)");
        let inf = ActionContext::new("x").with_hint("n", f64::INFINITY);
        assert_eq!(score_hints(&inf), (0.8, "n=inf (+0.80)".to_owned()));
        let neg = ActionContext::new("x").with_hint("n", f64::NEG_INFINITY);
        assert_eq!(score_hints(&neg).0, 0.0);
    }

    #[test]
    fn novelty_saturates_and_resets() {
        let scorer = DefaultRiskScorer::new();
        let ctx = ActionContext::new("get_x");
        let novelty = |s: &DefaultRiskScorer| {
            s.assess(&ctx)
                .factors
                .iter()
                .find(|f| f.name == "novelty")
                .and_then(|f| f.score)
        };
        assert_eq!(novelty(&scorer), Some(0.9));
        for _ in 0..20 {
            novelty(&scorer);
        }
        assert_eq!(novelty(&scorer), Some(0.1));
        let evidence = scorer
            .assess(&ctx)
            .factors
            .into_iter()
            .find(|f| f.name == "novelty");
        assert_eq!(
            evidence.and_then(|f| f.evidence).as_deref(),
            Some("seen 22 time(s) before"),
            "the evidence counts every call, past the saturation point"
        );
        scorer.reset_novelty();
        assert_eq!(novelty(&scorer), Some(0.9));
    }

    #[test]
    fn py_fixed_rounds_half_even_on_binary_value() {
        assert_eq!(py_fixed(0.125, 2), "0.12");
        assert_eq!(py_fixed(0.375, 2), "0.38");
        assert_eq!(py_fixed(2.5, 0), "2");
        assert_eq!(py_fixed(-0.4, 2), "-0.40");
    }
}
