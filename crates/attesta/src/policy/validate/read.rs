//! Typed reads from the tree, each failing with a [`Problem`] that names the
//! key path and says what to write instead.

use std::collections::BTreeMap;

use crate::policy::load::SourceLocation;
use crate::policy::tree::{Entry, Kind, Node, Problem, child_path, index_path, quote};
use crate::risk::RiskLevel;

/// Most approvers any setting may ask for. Beyond this a multi-party
/// approval is a typo or a policy nobody can satisfy.
const MAX_APPROVERS: u32 = 16;

/// A value in the tree together with its key path, so every read can report
/// where it went wrong.
#[derive(Debug, Clone)]
pub(crate) struct Field<'a> {
    /// The value.
    pub(crate) node: &'a Node,
    /// Dotted key path of the value.
    pub(crate) path: String,
    /// Where the key is written (the value's own position for list items
    /// and the document root); errors about the key point here.
    pub(crate) key_at: SourceLocation,
}

impl<'a> Field<'a> {
    /// The document itself.
    pub(crate) fn root(node: &'a Node) -> Self {
        Self {
            node,
            path: String::new(),
            key_at: node.at,
        }
    }

    fn of_entry(parent: &str, entry: &'a Entry) -> Self {
        Self {
            node: &entry.value,
            path: child_path(parent, &entry.key),
            key_at: entry.key_at,
        }
    }

    /// A problem with the value.
    pub(crate) fn problem(&self, message: impl Into<String>) -> Problem {
        Problem::new(self.node.at, &self.path, message)
    }

    /// A problem with the key itself (unknown, duplicate, ill-formed).
    pub(crate) fn key_problem(&self, message: impl Into<String>) -> Problem {
        Problem::new(self.key_at, &self.path, message)
    }

    /// "expected WHAT, found …" for a value of the wrong shape.
    pub(crate) fn expected(&self, what: &str) -> Problem {
        self.problem(format!(
            "expected {what}, found {}",
            self.node.kind.describe()
        ))
    }

    /// The entries of a mapping as `(key, value)`; no value (`key:` with
    /// nothing after it) reads as an empty mapping.
    pub(crate) fn entries(&self, what: &str) -> Result<Vec<(&'a str, Field<'a>)>, Problem> {
        match &self.node.kind {
            Kind::Null => Ok(Vec::new()),
            Kind::Map(entries) => Ok(entries
                .iter()
                .map(|e| (e.key.as_str(), Self::of_entry(&self.path, e)))
                .collect()),
            _ => Err(self.expected(what)),
        }
    }

    /// The items of a list; no value reads as an empty list.
    pub(crate) fn items(&self, what: &str) -> Result<Vec<Field<'a>>, Problem> {
        match &self.node.kind {
            Kind::Null => Ok(Vec::new()),
            Kind::List(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, node)| Field {
                    node,
                    path: index_path(&self.path, i),
                    key_at: node.at,
                })
                .collect()),
            _ => Err(self.expected(what)),
        }
    }

    /// A string, as written.
    pub(crate) fn string(&self) -> Result<&'a str, Problem> {
        match &self.node.kind {
            Kind::Str(s) => Ok(s),
            Kind::Null => Err(self.problem("no value given; write a string or remove the key")),
            _ => Err(self.expected("a string")),
        }
    }

    /// A string with surrounding whitespace removed, which must not be empty.
    pub(crate) fn non_empty_string(&self) -> Result<&'a str, Problem> {
        let text = self.string()?.trim();
        if text.is_empty() {
            return Err(self.problem("the value is empty; write a value or remove the key"));
        }
        Ok(text)
    }

    /// A name from a fixed set: trimmed and lower-cased, as the reference
    /// reads `fail_mode`.
    pub(crate) fn token(&self) -> Result<String, Problem> {
        Ok(self.string()?.trim().to_ascii_lowercase())
    }

    /// One of a fixed set of names, matched after trimming, lower-casing and
    /// reading `-` as `_` (so `audit-only` is `audit_only`). `what` names the
    /// set for the message ("a fail mode").
    pub(crate) fn choice<T: Copy>(&self, what: &str, options: &[(&str, T)]) -> Result<T, Problem> {
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        let written = match &self.node.kind {
            Kind::Str(s) => s,
            Kind::Null => {
                return Err(self.problem(format!("no value given; use {}", either(&names))));
            }
            _ => return Err(self.expected(&format!("{what} ({})", either(&names)))),
        };
        let wanted = written.trim().to_ascii_lowercase().replace('-', "_");
        options
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                self.problem(format!(
                    "{} is not {what}; use {}",
                    quote(written.trim()),
                    either(&names)
                ))
            })
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&self) -> Result<bool, Problem> {
        match &self.node.kind {
            Kind::Bool(b) => Ok(*b),
            Kind::Str(s)
                if matches!(
                    s.trim().to_ascii_lowercase().as_str(),
                    "yes" | "no" | "on" | "off" | "y" | "n" | "true" | "false"
                ) =>
            {
                Err(self.problem(format!(
                    "expected true or false, found the string {}; write true or false without \
                     quotes (words such as yes, no, on and off are not booleans here)",
                    quote(s)
                )))
            }
            Kind::Null => Err(self.problem("no value given; write true or false")),
            _ => Err(self.expected("true or false")),
        }
    }

    /// A finite number (whole or not).
    pub(crate) fn number(&self) -> Result<f64, Problem> {
        let value = match &self.node.kind {
            Kind::Int(i) => *i as f64,
            Kind::Float(f) => *f,
            Kind::Str(s) if s.trim().parse::<f64>().is_ok() => {
                return Err(self.problem(format!(
                    "expected a number, found the string {}; write the number without quotes",
                    quote(s)
                )));
            }
            Kind::Null => return Err(self.problem("no value given; write a number")),
            _ => return Err(self.expected("a number")),
        };
        if !value.is_finite() {
            return Err(self.problem(format!("{value} is not a finite number; write a number")));
        }
        Ok(value)
    }

    /// A finite number in `min..=max`; `range` words the allowed values for
    /// the message ("a number from 0 to 1").
    pub(crate) fn number_in(&self, min: f64, max: f64, range: &str) -> Result<f64, Problem> {
        let value = self.number()?;
        if value < min || value > max {
            return Err(self.problem(format!("{value} is out of range; use {range}")));
        }
        Ok(value)
    }

    /// A whole number in `min..=max`; `range` words the allowed values.
    pub(crate) fn whole_in(&self, min: i128, max: i128, range: &str) -> Result<i128, Problem> {
        let value = match &self.node.kind {
            Kind::Int(i) => *i,
            Kind::Float(f) if f.fract() == 0.0 && f.is_finite() => {
                return Err(self.problem(format!(
                    "expected a whole number, found {f:?}; write it without a decimal point"
                )));
            }
            Kind::Str(s) if s.trim().parse::<i128>().is_ok() => {
                return Err(self.problem(format!(
                    "expected a whole number, found the string {}; write the number without quotes",
                    quote(s)
                )));
            }
            Kind::Null => return Err(self.problem(format!("no value given; use {range}"))),
            _ => return Err(self.expected("a whole number")),
        };
        if value < min || value > max {
            return Err(self.problem(format!("{value} is out of range; use {range}")));
        }
        Ok(value)
    }

    /// A number of approvers, from `min` to [`MAX_APPROVERS`].
    pub(crate) fn approvers(&self, min: u32) -> Result<u32, Problem> {
        let range = format!("a whole number of approvers from {min} to {MAX_APPROVERS}");
        let count = self.whole_in(i128::from(min), i128::from(MAX_APPROVERS), &range)?;
        // In range, so it fits; the fallback is never taken.
        Ok(u32::try_from(count).unwrap_or(MAX_APPROVERS))
    }

    /// A risk level written as a value (`risk.overrides`), case-insensitive.
    pub(crate) fn level(&self) -> Result<RiskLevel, Problem> {
        match &self.node.kind {
            Kind::Str(s) => parse_level(s).map_err(|message| self.problem(message)),
            Kind::Null => Err(self.problem("no value given; use low, medium, high or critical")),
            _ => Err(self.expected("a risk level (low, medium, high or critical)")),
        }
    }

    /// A mapping whose keys are risk levels (case-insensitive, so `HIGH`
    /// and `high` are the same level and may not both appear).
    pub(crate) fn level_entries(&self, what: &str) -> Result<Vec<(RiskLevel, Field<'a>)>, Problem> {
        let mut seen: BTreeMap<RiskLevel, SourceLocation> = BTreeMap::new();
        let mut levels = Vec::new();
        for (key, value) in self.entries(what)? {
            let level = parse_level(key).map_err(|message| value.key_problem(message))?;
            if let Some(first) = seen.insert(level, value.key_at) {
                return Err(value.key_problem(format!(
                    "level {level} is already set at line {}; remove one of them",
                    first.line
                )));
            }
            levels.push((level, value));
        }
        Ok(levels)
    }
}

/// A risk level, case-insensitive and trimmed (the reference lower-cases
/// level keys, and files move between the two).
fn parse_level(text: &str) -> Result<RiskLevel, String> {
    text.trim().to_ascii_lowercase().parse().map_err(|_| {
        // The wording of `risk::level::UnknownRiskLevel`, which the risk
        // module does not export.
        format!(
            "{} is not a risk level; use low, medium, high or critical",
            quote(text)
        )
    })
}

/// `a, b or c`.
pub(crate) fn either(options: &[&str]) -> String {
    match options {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A mapping with a fixed set of keys: unknown keys are refused when the
/// section is opened, so a typo never goes unnoticed.
#[derive(Debug)]
pub(crate) struct Section<'a> {
    fields: Vec<(&'a str, Field<'a>)>,
}

impl<'a> Section<'a> {
    /// Opens `field` as a mapping whose keys must be among `allowed`.
    pub(crate) fn new(field: &Field<'a>, allowed: &[&str]) -> Result<Self, Problem> {
        let fields = field.entries(&format!("a mapping with the keys {}", allowed.join(", ")))?;
        for (key, value) in &fields {
            if !allowed.contains(key) {
                return Err(value.key_problem(unknown_key_message(key, &value.path, allowed)));
            }
        }
        Ok(Self { fields })
    }

    /// The value of `key`, if the file gives it.
    pub(crate) fn get(&self, key: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, f)| f)
    }

    /// The keys the file gives, in file order, with their values.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, &Field<'a>)> {
        self.fields.iter().map(|(k, f)| (*k, f))
    }
}

/// Keys people plausibly write that are spelled differently here; the
/// unknown-key message points at the right one.
const RENAMED_KEYS: &[(&str, &str)] = &[
    (
        "trust.storage_path",
        "the trust store location is trust.store",
    ),
    ("trust.initial", "the starting trust is trust.initial_score"),
    (
        "policy.required_approvers",
        "the approver count is policy.multi_party.required_approvers",
    ),
    ("audit.tenant", "the tenant is audit.tenant_id"),
];

fn unknown_key_message(key: &str, path: &str, allowed: &[&str]) -> String {
    let allowed_list = allowed.join(", ");
    let advice = RENAMED_KEYS
        .iter()
        .find(|(renamed, _)| *renamed == path)
        .map(|(_, hint)| (*hint).to_owned())
        .or_else(|| closest(key, allowed).map(|k| format!("did you mean '{k}'?")));
    match advice {
        Some(advice) => format!(
            "unknown key {}; {advice} (keys allowed here: {allowed_list})",
            quote(key)
        ),
        None => format!(
            "unknown key {}; remove it or use one of the keys allowed here: {allowed_list}",
            quote(key)
        ),
    }
}

/// The allowed key nearest to a misspelt one, if any is close enough to be
/// a likely typo (same letters in another case, or at most two edits).
pub(crate) fn closest<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    allowed
        .iter()
        .map(|candidate| (edit_distance(&lower, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// At most one of `candidates` (keys that mean the same thing, such as a
/// legacy flat key and its `policy.*` form) may be given.
pub(crate) fn one_of<'f, 'a>(
    candidates: &[Option<&'f Field<'a>>],
) -> Result<Option<&'f Field<'a>>, Problem> {
    let mut given: Vec<&Field<'a>> = candidates.iter().flatten().copied().collect();
    given.sort_by_key(|f| f.key_at);
    match given.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(only)),
        [first, second, ..] => Err(second.key_problem(format!(
            "{} (line {}) already sets this; keep only one of the two",
            first.path, first.key_at.line
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: Kind) -> Node {
        Node {
            at: SourceLocation { line: 3, column: 7 },
            kind,
        }
    }

    fn field(node: &Node) -> Field<'_> {
        Field {
            node,
            path: "policy.x".into(),
            key_at: SourceLocation { line: 3, column: 3 },
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(
            closest("fail_mod", &["fail_mode", "mode"]),
            Some("fail_mode")
        );
        assert_eq!(closest("POLICY", &["policy", "risk"]), Some("policy"));
        assert_eq!(closest("colour", &["policy", "risk"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn numbers_must_be_finite_and_unquoted() {
        let n = node(Kind::Float(f64::NAN));
        assert!(
            field(&n)
                .number()
                .unwrap_err()
                .message
                .contains("not a finite number")
        );
        let n = node(Kind::Str("300".into()));
        let p = field(&n).number().unwrap_err();
        assert!(p.message.contains("without quotes"), "{}", p.message);
        assert_eq!((p.at.line, p.at.column, p.key.as_str()), (3, 7, "policy.x"));
        let n = node(Kind::Int(5));
        assert_eq!(field(&n).number_in(0.0, 10.0, "0 to 10"), Ok(5.0));
        let p = field(&n)
            .number_in(0.0, 1.0, "a number from 0 to 1")
            .unwrap_err();
        assert_eq!(p.message, "5 is out of range; use a number from 0 to 1");
    }

    #[test]
    fn whole_numbers_refuse_fractions_and_decimals() {
        let n = node(Kind::Float(2.0));
        assert!(
            field(&n)
                .whole_in(1, 5, "1 to 5")
                .unwrap_err()
                .message
                .contains("decimal point")
        );
        let n = node(Kind::Float(2.5));
        assert!(
            field(&n)
                .whole_in(1, 5, "1 to 5")
                .unwrap_err()
                .message
                .contains("expected a whole number")
        );
        let n = node(Kind::Int(0));
        assert_eq!(
            field(&n).whole_in(1, 5, "1 to 5").unwrap_err().message,
            "0 is out of range; use 1 to 5"
        );
    }

    #[test]
    fn booleans_refuse_yaml_1_1_words_with_advice() {
        let n = node(Kind::Str("yes".into()));
        assert!(
            field(&n)
                .boolean()
                .unwrap_err()
                .message
                .contains("write true or false")
        );
        let n = node(Kind::Int(1));
        assert_eq!(
            field(&n).boolean().unwrap_err().message,
            "expected true or false, found a whole number (1)"
        );
    }

    #[test]
    fn levels_are_case_insensitive_but_not_repeated() {
        let at = SourceLocation { line: 1, column: 1 };
        let entry = |key: &str, line| Entry {
            key: key.into(),
            key_at: SourceLocation { line, column: 3 },
            value: Node {
                at,
                kind: Kind::Str("quiz".into()),
            },
        };
        let map = node(Kind::Map(vec![entry("HIGH", 1), entry("low", 2)]));
        let levels = field(&map).level_entries("a map").expect("valid");
        assert_eq!(
            levels.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [RiskLevel::High, RiskLevel::Low]
        );
        let map = node(Kind::Map(vec![entry("HIGH", 1), entry("high", 2)]));
        let p = field(&map).level_entries("a map").unwrap_err();
        assert_eq!(p.at.line, 2);
        assert!(p.message.contains("already set at line 1"), "{}", p.message);
        let map = node(Kind::Map(vec![entry("urgent", 4)]));
        let p = field(&map).level_entries("a map").unwrap_err();
        assert_eq!(
            p.message,
            "'urgent' is not a risk level; use low, medium, high or critical"
        );
        assert_eq!(p.key, "policy.x.urgent");
    }

    #[test]
    fn sections_refuse_unknown_keys_with_a_hint() {
        let at = SourceLocation { line: 2, column: 3 };
        let map = node(Kind::Map(vec![Entry {
            key: "storage_path".into(),
            key_at: at,
            value: Node {
                at,
                kind: Kind::Str("x".into()),
            },
        }]));
        let trust = Field {
            node: &map,
            path: "trust".into(),
            key_at: at,
        };
        let p = Section::new(&trust, &["store", "ceiling"]).unwrap_err();
        assert_eq!(p.key, "trust.storage_path");
        assert!(p.message.contains("trust.store"), "{}", p.message);
        assert!(
            p.message.ends_with("(keys allowed here: store, ceiling)"),
            "{}",
            p.message
        );
    }
}
