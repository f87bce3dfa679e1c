//! Reading a JSON line so that every peer must read it the same way.
//!
//! The gateway forwards original bytes, so whatever it decides about a
//! message must hold for the parser at the other end too. JSON leaves room
//! for disagreement: serde_json keeps the *last* of two equal keys, Python's
//! `json` too, but other parsers keep the first, and Go's `encoding/json`
//! matches keys case-insensitively (with Unicode simple folding, so `ſ` is
//! `s` and the Kelvin sign is `k`). A message that one parser reads as
//! `ping` and another as `tools/call` must never be forwarded.
//!
//! [`parse`] builds the [`Value`] in one pass and notes the first
//! ambiguity it finds:
//! * two keys of one object that are equal after NFKC and lower-casing
//!   (which covers exact duplicates);
//! * a key that is not one of the JSON-RPC envelope's (or a known `params`
//!   key) but is a near-miss of one under [`attesta::names::fold`]
//!   (`Method`, `paramſ`, `meth\u{200b}od`);
//!
//! Where the checks apply is the caller's choice ([`Depth`]): everywhere
//! for client messages (the gated direction), only the envelope for the
//! upstream's messages the proxy merely relays (a tool's result may hold
//! any data).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// Keys of a JSON-RPC message.
const ENVELOPE_KEYS: &[&str] = &["jsonrpc", "id", "method", "params", "result", "error"];
/// `params` keys the gateway reads (or strips) itself.
const PARAMS_KEYS: &[&str] = &[
    "name",
    "arguments",
    "_meta",
    "cursor",
    "requestId",
    "requestState",
    "inputResponses",
];

/// The known key that `key` is a near-miss of, if any. Exact keys (nearly
/// every key) cost one comparison each; only an unknown key is folded.
fn near_miss_of(key: &str, known: &[&'static str]) -> Option<&'static str> {
    if known.is_empty() || known.contains(&key) {
        return None;
    }
    let folded = attesta::names::fold(key);
    known
        .iter()
        .find(|k| attesta::names::fold(k) == folded)
        .copied()
}

/// Where ambiguity is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// In every object of the message.
    Everywhere,
    /// In the message object and its `params` only.
    Envelope,
}

/// A line read by [`parse`].
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Not JSON (or nested deeper than serde_json allows).
    Malformed,
    /// JSON; `ambiguity` says why peers could read it differently, if they
    /// could.
    Json {
        /// The value, with the last of equal keys (serde_json's reading).
        value: Value,
        /// The first ambiguity found, in words, naming where.
        ambiguity: Option<String>,
        /// Whether the message's own `id` is among the ambiguous keys (so
        /// nobody can tell whom an answer is for).
        id_ambiguous: bool,
    },
}

/// Parses `line` and looks for ambiguity down to `depth`.
pub(crate) fn parse(line: &[u8], depth: Depth) -> Parsed {
    let reader = Reader {
        depth,
        path: RefCell::new(Vec::new()),
        ambiguity: RefCell::new(None),
        id_ambiguous: Cell::new(false),
    };
    let mut de = serde_json::Deserializer::from_slice(line);
    let Ok(value) = (Node { reader: &reader }).deserialize(&mut de) else {
        return Parsed::Malformed;
    };
    if de.end().is_err() {
        return Parsed::Malformed;
    }
    Parsed::Json {
        value,
        ambiguity: reader.ambiguity.into_inner(),
        id_ambiguous: reader.id_ambiguous.get(),
    }
}

/// How two keys compare for a lenient parser: NFKC, then lower case. ASCII
/// (nearly every key) takes the short way.
pub(crate) fn fold_key(key: &str) -> Cow<'_, str> {
    if key.is_ascii() {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            return Cow::Owned(key.to_ascii_lowercase());
        }
        return Cow::Borrowed(key);
    }
    Cow::Owned(key.nfkc().flat_map(char::to_lowercase).collect())
}

/// The state of one parse, shared by the nodes of the tree.
struct Reader {
    depth: Depth,
    /// Keys and indexes from the root to the value being read.
    path: RefCell<Vec<String>>,
    ambiguity: RefCell<Option<String>>,
    id_ambiguous: Cell<bool>,
}

impl Reader {
    fn checks_here(&self) -> bool {
        let path = self.path.borrow();
        match self.depth {
            Depth::Everywhere => true,
            Depth::Envelope => path.is_empty() || (path.len() == 1 && path[0] == "params"),
        }
    }

    /// The keys a lenient parser could mistake a key here for.
    fn known_keys(&self) -> &'static [&'static str] {
        let path = self.path.borrow();
        match path.as_slice() {
            [] => ENVELOPE_KEYS,
            [params] if params == "params" => PARAMS_KEYS,
            _ => &[],
        }
    }

    fn where_(&self) -> String {
        let path = self.path.borrow();
        if path.is_empty() {
            "the message".to_owned()
        } else {
            format!("`{}`", path.join("."))
        }
    }

    fn note(&self, why: impl FnOnce() -> String) {
        let mut ambiguity = self.ambiguity.borrow_mut();
        if ambiguity.is_none() {
            *ambiguity = Some(why());
        }
    }
}

/// One value of the tree being read.
#[derive(Clone, Copy)]
struct Node<'r> {
    reader: &'r Reader,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite float from JSON text.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.reader.path.borrow_mut().push(items.len().to_string());
            let item = seq.next_element_seed(self);
            self.reader.path.borrow_mut().pop();
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let reader = self.reader;
        let checks = reader.checks_here();
        let known = reader.known_keys();
        let mut object = Map::new();
        let mut folded: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if checks {
                let fold = fold_key(&key);
                let at_root = reader.path.borrow().is_empty();
                // Near-misses are judged broadly (invisible characters and
                // look-alikes too): these few keys have no legitimate
                // variants.
                if let Some(meant) = near_miss_of(&key, known) {
                    reader
                        .id_ambiguous
                        .set(reader.id_ambiguous.get() || (at_root && meant == "id"));
                    reader.note(|| {
                        format!(
                            "{} has the key `{}`, which lenient parsers read as `{meant}`; \
                             write `{meant}` exactly",
                            reader.where_(),
                            key.escape_debug()
                        )
                    });
                }
                if folded.contains(fold.as_ref()) {
                    reader
                        .id_ambiguous
                        .set(reader.id_ambiguous.get() || (at_root && fold == "id"));
                    reader.note(|| {
                        format!(
                            "{} has the key `{}` more than once (comparing keys without \
                             case, as some parsers do); parsers disagree on which one counts, \
                             so send each key once",
                            reader.where_(),
                            key.escape_debug()
                        )
                    });
                } else {
                    folded.insert(fold.into_owned());
                }
            }
            reader.path.borrow_mut().push(key.clone());
            let value = map.next_value_seed(self);
            reader.path.borrow_mut().pop();
            object.insert(key, value?);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn ambiguity(line: &str, depth: Depth) -> Option<String> {
        match parse(line.as_bytes(), depth) {
            Parsed::Json { ambiguity, .. } => ambiguity,
            Parsed::Malformed => panic!("malformed: {line}"),
        }
    }

    #[test]
    fn values_read_as_serde_json_reads_them() {
        let line = r#"{"a":[1,-2,3.5,"x\u00e9",true,null,{"b":{}}],"c":18446744073709551615}"#;
        let Parsed::Json {
            value, ambiguity, ..
        } = parse(line.as_bytes(), Depth::Everywhere)
        else {
            panic!()
        };
        assert_eq!(value, serde_json::from_str::<Value>(line).unwrap());
        assert_eq!(ambiguity, None);
        assert!(matches!(
            parse(b"{nope", Depth::Everywhere),
            Parsed::Malformed
        ));
        assert!(matches!(
            parse(b"{} {}", Depth::Everywhere),
            Parsed::Malformed
        ));
        assert!(matches!(
            parse(b"{}\n", Depth::Everywhere),
            Parsed::Json { .. }
        ));
    }

    #[test]
    fn equal_keys_are_ambiguous_at_any_depth_and_the_last_is_kept() {
        let line = r#"{"method":"tools/call","method":"ping"}"#;
        let Parsed::Json {
            value,
            ambiguity: first,
            id_ambiguous,
        } = parse(line.as_bytes(), Depth::Everywhere)
        else {
            panic!()
        };
        assert!(!id_ambiguous);
        assert_eq!(value["method"], "ping", "serde_json's reading");
        let why = first.unwrap();
        assert!(why.contains("`method` more than once"), "{why}");
        let deep = r#"{"params":{"arguments":{"path":"/a","Path":"/b"}}}"#;
        let why = ambiguity(deep, Depth::Everywhere).unwrap();
        assert!(
            why.contains("`params.arguments`") && why.contains("Path"),
            "{why}"
        );
        assert_eq!(
            ambiguity(deep, Depth::Envelope),
            None,
            "a result's data is not checked"
        );
        let listed = r#"{"result":{"tools":[{"name":"a","name":"b"}]}}"#;
        let why = ambiguity(listed, Depth::Everywhere).unwrap();
        assert!(why.contains("`result.tools.0`"), "{why}");
        for line in [r#"{"id":1,"id":2}"#, r#"{"id":1,"ID":2}"#, r#"{"Id":1}"#] {
            let Parsed::Json { id_ambiguous, .. } = parse(line.as_bytes(), Depth::Envelope) else {
                panic!()
            };
            assert!(id_ambiguous, "{line}");
        }
    }

    #[test]
    fn near_misses_of_envelope_and_params_keys_are_ambiguous() {
        for line in [
            r#"{"id":1,"Method":"tools/call"}"#,
            r#"{"id":1,"method":"x","paramſ":{}}"#,
            r#"{"ID":1,"method":"x"}"#,
            r#"{"id":1,"method":"tools/call","params":{"name":"a","Arguments":{}}}"#,
            r#"{"id":1,"method":"tools/call","params":{"NAME":"a"}}"#,
            "{\"id\":1,\"meth\u{200b}od\":\"tools/call\"}",
        ] {
            assert!(ambiguity(line, Depth::Envelope).is_some(), "{line}");
        }
        // Keys nobody mistakes are fine, at any depth.
        let fine = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"Name":"x","path":"p"}}}"#;
        assert_eq!(ambiguity(fine, Depth::Everywhere), None);
    }

    #[test]
    fn keys_fold_by_nfkc_and_case() {
        assert_eq!(fold_key("method"), "method");
        assert_eq!(fold_key("Method"), "method");
        assert_eq!(fold_key("\u{212a}ey"), "key", "Kelvin sign");
        assert_eq!(fold_key("\u{ff4d}ethod"), "method", "fullwidth m");
        assert!(matches!(fold_key("plain"), Cow::Borrowed(_)));
    }
}
