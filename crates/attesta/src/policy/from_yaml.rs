//! YAML text → [`Node`] tree, through serde-saphyr with its resource budget
//! on.
//!
//! Every node is read as a `Spanned<_>`, which is how serde-saphyr hands out
//! the line and column of a value (for an alias: where the alias is used).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{
    DuplicateKeyPolicy, MessageFormatter as _, NonFiniteFloatPolicy, Spanned, UserMessageFormatter,
};

use super::load::SourceLocation;
// The parser's messages can quote the file (a key), so they are escaped
// like every other quoted text.
use super::tree::{Entry, Kind, Node, ParseFailure, escape_controls};

/// How many events alias expansion may replay in one file. serde-saphyr's
/// default (a million) lets a billion-laughs file run for about a second
/// before it is stopped; a policy file has no use for more than a few
/// hundred replayed events, so the cap is far lower.
const MAX_REPLAYED_ALIAS_EVENTS: usize = 10_000;

/// Parses a YAML policy document. `Ok(None)` is an empty document (nothing,
/// only comments, or an explicit `~`).
pub(crate) fn parse(text: &str) -> Result<Option<Node>, ParseFailure> {
    let options = serde_saphyr::options! {
        // Keys given twice are passed through and reported by
        // `tree::find_duplicate_key`, which can name the full key path.
        duplicate_keys: DuplicateKeyPolicy::LastWins,
        // YAML 1.2 booleans only: `yes`, `no`, `on`, `off` and `y` stay
        // strings, so `domain: no` is not `false` and a mistyped boolean
        // gets a message saying to write true or false.
        strict_booleans: true,
        // `.nan` / `.inf` reach the validator, which rejects them with the
        // key path; the parser's own rejection could not name the key.
        non_finite_float_policy: NonFiniteFloatPolicy::PassThrough,
        // A tag such as `!env` would otherwise be dropped silently.
        reject_unsupported_tags: true,
        // Messages are rendered in our own one-line format.
        with_snippet: false,
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED_ALIAS_EVENTS,
        },
    };
    match serde_saphyr::from_str_with_options::<Option<YamlNode>>(text, options) {
        Ok(root) => Ok(root.map(|n| n.0).filter(|n| n.kind != Kind::Null)),
        Err(error) => Err(syntax_failure(&error)),
    }
}

/// Our wording for a serde-saphyr error.
fn syntax_failure(error: &serde_saphyr::Error) -> ParseFailure {
    let at = error.location().and_then(|l| location(&l));
    let inner = innermost(error);
    let detail = escape_controls(&UserMessageFormatter.format_message(inner));
    let message = match inner {
        serde_saphyr::Error::Budget { .. }
        | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => format!(
            "the YAML is too large or expands too far through anchors and aliases ({detail}); \
             write the values out instead of nesting aliases"
        ),
        serde_saphyr::Error::MultipleDocuments { .. } => {
            "the file holds more than one YAML document; keep a single document (remove the \
             `---` separators)"
                .to_owned()
        }
        serde_saphyr::Error::UnsupportedTag { .. } => {
            format!("invalid YAML: {detail}; remove the tag (policy files use plain values)")
        }
        _ => format!("invalid YAML: {detail}"),
    };
    ParseFailure::Syntax { at, message }
}

/// The error that actually happened, under any snippet or alias wrapper.
fn innermost(error: &serde_saphyr::Error) -> &serde_saphyr::Error {
    let mut current = error.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = current {
        current = error.without_snippet();
    }
    current
}

/// serde-saphyr's 1-based position, `None` when it does not know one.
fn location(l: &serde_saphyr::Location) -> Option<SourceLocation> {
    let line = usize::try_from(l.line()).ok().filter(|&n| n > 0)?;
    let column = usize::try_from(l.column()).ok().filter(|&n| n > 0)?;
    Some(SourceLocation { line, column })
}

fn located(spanned: &Spanned<impl Sized>) -> SourceLocation {
    location(&spanned.referenced).unwrap_or(SourceLocation { line: 1, column: 1 })
}

/// A YAML node with its position.
struct YamlNode(Node);

impl<'de> Deserialize<'de> for YamlNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<YamlKind>::deserialize(deserializer)?;
        let at = located(&spanned);
        Ok(YamlNode(Node {
            at,
            kind: spanned.value.0,
        }))
    }
}

/// A YAML value without its position (the `Spanned` around it has that).
struct YamlKind(Kind);

impl<'de> Deserialize<'de> for YamlKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor).map(YamlKind)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(i128::from(v)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        i128::try_from(v)
            .map(Kind::Int)
            .map_err(|_| E::custom("this number is too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kind, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(YamlNode(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Kind::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<YamlKey>>()? {
            let YamlNode(value) = map.next_value()?;
            entries.push(Entry {
                key_at: located(&key),
                key: key.value.0,
                value,
            });
        }
        Ok(Kind::Map(entries))
    }
}

/// A mapping key as text. Scalar keys that YAML reads as numbers, booleans
/// or null (`1:`, `true:`) are rendered, so the validator can report them
/// as the unknown or ill-formed names they are; a list or mapping as a key
/// is refused here.
struct YamlKey(String);

impl<'de> Deserialize<'de> for YamlKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor).map(YamlKey)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a plain key (a list or mapping cannot be a key in a policy file)")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> SourceLocation {
        SourceLocation { line, column }
    }

    fn root_entries(text: &str) -> Vec<Entry> {
        match parse(text) {
            Ok(Some(Node {
                kind: Kind::Map(entries),
                ..
            })) => entries,
            other => panic!("expected a mapping, got {other:?}"),
        }
    }

    fn syntax_message(text: &str) -> (Option<SourceLocation>, String) {
        match parse(text) {
            Err(ParseFailure::Syntax { at, message }) => (at, message),
            other => panic!("expected a syntax failure, got {other:?}"),
        }
    }

    #[test]
    fn nodes_carry_line_and_column() {
        let entries = root_entries("policy:\n  fail_mode: deny\n  timeout_seconds: 30\n");
        assert_eq!(entries[0].key, "policy");
        assert_eq!(entries[0].key_at, at(1, 1));
        let Kind::Map(inner) = &entries[0].value.kind else {
            panic!("policy is a mapping")
        };
        assert_eq!(inner[0].key_at, at(2, 3));
        assert_eq!(
            inner[0].value,
            Node {
                at: at(2, 14),
                kind: Kind::Str("deny".into())
            }
        );
        assert_eq!(
            inner[1].value,
            Node {
                at: at(3, 20),
                kind: Kind::Int(30)
            }
        );
    }

    #[test]
    fn empty_documents_are_none() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("# only a comment\n"), Ok(None));
        assert_eq!(parse("~\n"), Ok(None));
    }

    #[test]
    fn duplicates_reach_the_tree() {
        let entries = root_entries("a: 1\na: 2\n");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].key_at, at(2, 1));
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings_and_odd_keys_are_rendered() {
        let entries = root_entries("a: yes\nb: true\n1: x\nc: .nan\n");
        assert_eq!(entries[0].value.kind, Kind::Str("yes".into()));
        assert_eq!(entries[1].value.kind, Kind::Bool(true));
        assert_eq!(entries[2].key, "1");
        assert!(matches!(entries[3].value.kind, Kind::Float(f) if f.is_nan()));
    }

    #[test]
    fn aliases_point_at_their_use() {
        let entries = root_entries("a: &x [1]\nb: *x\n");
        assert_eq!(entries[1].value.at, at(2, 4));
        let Kind::List(items) = &entries[1].value.kind else {
            panic!("the alias is a list")
        };
        assert_eq!(items[0].kind, Kind::Int(1));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let (loc, message) = syntax_message("a: b: c\n");
        assert_eq!(loc, Some(at(1, 5)));
        assert!(message.starts_with("invalid YAML: "), "{message}");
    }

    #[test]
    fn several_documents_and_unknown_tags_are_refused() {
        let (_, message) = syntax_message("a: 1\n---\nb: 2\n");
        assert!(message.contains("more than one YAML document"), "{message}");
        let (loc, message) = syntax_message("a: !env HOME\n");
        assert_eq!(loc.map(|l| l.line), Some(1));
        assert!(message.contains("remove the tag"), "{message}");
    }

    #[test]
    fn collection_keys_are_refused() {
        let (loc, _) = syntax_message("? [1]\n: x\n");
        assert_eq!(loc.map(|l| l.line), Some(1));
    }
}
