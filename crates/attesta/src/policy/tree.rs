//! The format-neutral document tree both parsers produce.
//!
//! YAML and TOML are parsed into this one small tree, and every node keeps the
//! line and column it came from. The validator only ever sees this tree, so a
//! rule (and its error message) is written once and holds for both formats.

use std::fmt::Write as _;

use super::load::SourceLocation;

/// One value in the document and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Where the value starts (for an alias: where the alias is used).
    pub(crate) at: SourceLocation,
    /// The value itself.
    pub(crate) kind: Kind,
}

/// The shapes a value can take in either format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// YAML `~`, `null` or a key with nothing after it (TOML has none).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number, kept apart from floats so `2` and `2.0` can be told
    /// apart where only whole numbers make sense.
    Int(i128),
    /// Any other number, possibly NaN or infinite (the validator rejects
    /// those with a message of its own, rather than the parser's).
    Float(f64),
    /// A string.
    Str(String),
    /// A TOML date-time, as written; no policy key accepts one, but the
    /// message must say what was found.
    DateTime(String),
    /// A list, in file order.
    List(Vec<Node>),
    /// A mapping / table, in file order. Duplicate keys are kept here so that
    /// [`find_duplicate_key`] can report them with both positions.
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key as text (YAML keys that are numbers or booleans are rendered).
    pub(crate) key: String,
    /// Where the key is written; errors about the key itself point here.
    pub(crate) key_at: SourceLocation,
    /// The value.
    pub(crate) value: Node,
}

/// A validation failure before the file name is known: the loader adds the
/// file when turning it into a [`super::PolicyError`]. Also used for
/// warnings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    /// Where in the file.
    pub(crate) at: SourceLocation,
    /// Dotted key path (`policy.fail_mode`, `domains[0].devops`), empty for
    /// the document itself.
    pub(crate) key: String,
    /// What is wrong and what to do about it.
    pub(crate) message: String,
}

impl Problem {
    /// A problem at `at` under `key`.
    pub(crate) fn new(at: SourceLocation, key: &str, message: impl Into<String>) -> Self {
        Self {
            at,
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a text could not be turned into a tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParseFailure {
    /// Not well-formed YAML/TOML (or over the YAML resource budget).
    Syntax {
        /// Where the parser stopped, when it says.
        at: Option<SourceLocation>,
        /// The parser's message, with our advice where we have some.
        message: String,
    },
    /// Well-formed enough to name the key at fault (a TOML duplicate key).
    Invalid(Problem),
}

impl Kind {
    /// What was found, for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Kind::Null => "no value".to_owned(),
            Kind::Bool(b) => format!("a boolean ({b})"),
            Kind::Int(i) => format!("a whole number ({i})"),
            Kind::Float(f) => format!("a number ({f})"),
            Kind::Str(s) => format!("a string ({})", quote(s)),
            Kind::DateTime(d) => format!("a date-time ({d})"),
            Kind::List(_) => "a list".to_owned(),
            Kind::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// The path of `key` inside `parent`. Keys that are not plain identifiers
/// are double-quoted, so `risk.overrides."Service.deploy"` stays readable
/// and unambiguous.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let mut path = String::with_capacity(parent.len() + key.len() + 3);
    path.push_str(parent);
    if !parent.is_empty() {
        path.push('.');
    }
    if plain {
        path.push_str(key);
    } else {
        path.push('"');
        for c in key.chars() {
            match c {
                '"' => path.push_str("\\\""),
                c if c.is_control() => {
                    let _ = write!(path, "{}", c.escape_default());
                }
                c => path.push(c),
            }
        }
        path.push('"');
    }
    path
}

/// The path of the `index`-th item of the list at `parent`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// `text` in single quotes for a message, with control characters escaped.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", escape_controls(text))
}

/// `text` with control characters escaped, so a hostile file cannot move
/// the cursor or recolour the terminal that prints a message quoting it.
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first key given twice in one mapping anywhere in the tree, reported
/// at its second occurrence.
///
/// YAML duplicates reach the tree (the parser is told to pass them through)
/// so that this check can name the full key path; TOML's parser rejects them
/// itself.
pub(crate) fn find_duplicate_key(node: &Node, path: &str) -> Option<Problem> {
    match &node.kind {
        Kind::Map(entries) => {
            for (i, entry) in entries.iter().enumerate() {
                let entry_path = child_path(path, &entry.key);
                if let Some(first) = entries[..i].iter().find(|e| e.key == entry.key) {
                    return Some(Problem::new(
                        entry.key_at,
                        &entry_path,
                        format!(
                            "this key is given twice (first at line {}); remove one of them",
                            first.key_at.line
                        ),
                    ));
                }
                if let Some(problem) = find_duplicate_key(&entry.value, &entry_path) {
                    return Some(problem);
                }
            }
            None
        }
        Kind::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_duplicate_key(item, &index_path(path, i))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> SourceLocation {
        SourceLocation { line, column }
    }

    fn scalar(line: usize, kind: Kind) -> Node {
        Node {
            at: at(line, 5),
            kind,
        }
    }

    fn entry(key: &str, line: usize, value: Node) -> Entry {
        Entry {
            key: key.to_owned(),
            key_at: at(line, 1),
            value,
        }
    }

    #[test]
    fn paths_quote_keys_that_are_not_identifiers() {
        assert_eq!(child_path("", "policy"), "policy");
        assert_eq!(child_path("policy", "fail_mode"), "policy.fail_mode");
        assert_eq!(
            child_path("risk.overrides", "Service.deploy"),
            "risk.overrides.\"Service.deploy\""
        );
        assert_eq!(child_path("a", "say \"hi\"\n"), "a.\"say \\\"hi\\\"\\n\"");
        assert_eq!(child_path("a", ""), "a.\"\"");
        assert_eq!(index_path("domains", 2), "domains[2]");
    }

    #[test]
    fn quoting_escapes_control_characters() {
        assert_eq!(quote("deny"), "'deny'");
        assert_eq!(quote("\u{1b}[31mred"), "'\\u{1b}[31mred'");
    }

    #[test]
    fn duplicate_keys_are_found_at_depth_with_their_path() {
        let inner = Node {
            at: at(2, 3),
            kind: Kind::Map(vec![
                entry("fail_mode", 2, scalar(2, Kind::Str("deny".into()))),
                entry("fail_mode", 4, scalar(4, Kind::Str("allow".into()))),
            ]),
        };
        let root = Node {
            at: at(1, 1),
            kind: Kind::Map(vec![entry("policy", 1, inner)]),
        };
        let problem = find_duplicate_key(&root, "").expect("duplicate reported");
        assert_eq!(problem.key, "policy.fail_mode");
        assert_eq!(problem.at, at(4, 1));
        assert!(
            problem.message.contains("first at line 2"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn distinct_keys_and_lists_pass() {
        let list = Node {
            at: at(1, 1),
            kind: Kind::List(vec![Node {
                at: at(2, 3),
                kind: Kind::Map(vec![entry("a", 2, scalar(2, Kind::Int(1)))]),
            }]),
        };
        let root = Node {
            at: at(1, 1),
            kind: Kind::Map(vec![entry("x", 1, list)]),
        };
        assert_eq!(find_duplicate_key(&root, ""), None);
    }
}
