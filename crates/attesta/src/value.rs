//! Argument values and their Python-compatible text rendering.
//!
//! Agents pass arbitrary JSON-like data to tools. Attesta scores that data and
//! writes a one-line description of every call into the audit trail. The
//! reference implementation renders values with Python's `repr()`/`str()`, and
//! audit records must stay byte-compatible with it, so this module reproduces
//! those renderings exactly (see `docs/architecture.md`, "Python rendering").

use std::fmt::{self, Write as _};
use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// An ordered map of named values (keyword arguments, hints, metadata).
///
/// Insertion order is kept because it shows up in descriptions, evidence
/// strings and audit records.
pub type ValueMap = IndexMap<String, Value>;

/// A JSON-like argument value.
///
/// Integers and floats are kept apart (`1` and `1.0` render differently in
/// Python), and maps keep their insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// JSON `null` / Python `None`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer. JSON integers up to the unsigned 64-bit range are exact.
    Int(i128),
    /// A double-precision float.
    Float(f64),
    /// A string.
    Str(String),
    /// An ordered list.
    List(Vec<Value>),
    /// A string-keyed map in insertion order.
    Map(ValueMap),
}

impl Value {
    /// Python `repr(value)`: strings quoted, `None`/`True`/`False`, floats in
    /// Python's shortest round-trip layout.
    ///
    /// ```
    /// use attesta::Value;
    /// assert_eq!(Value::from("it's").py_repr(), "\"it's\"");
    /// assert_eq!(Value::Float(1e16).py_repr(), "1e+16");
    /// ```
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_py_repr(&mut out);
        out
    }

    /// Python `str(value)`: like [`Value::py_repr`] except that a top-level
    /// string is returned as is (containers still quote their strings).
    pub fn py_str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.py_repr(),
        }
    }

    /// Appends Python `str(value)` to `out` without an intermediate allocation.
    pub fn write_py_str(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(s),
            other => other.write_py_repr(out),
        }
    }

    /// Appends Python `repr(value)` to `out`.
    pub fn write_py_repr(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&py_float_repr(*f)),
            Value::Str(s) => write_py_str_literal(s, out),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_py_repr(out);
                }
                out.push(']');
            }
            Value::Map(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_py_str_literal(k, out);
                    out.push_str(": ");
                    v.write_py_repr(out);
                }
                out.push('}');
            }
        }
    }

    /// The value as a number, if it is one (booleans are not numbers here).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The string inside a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python truthiness (`None`, `False`, `0`, `0.0`, `""`, `[]`, `{}` are false).
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }
}

impl fmt::Display for Value {
    /// Displays Python `str(value)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            other => f.write_str(&other.py_repr()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i128::from(i))
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i128::from(i))
    }
}
impl From<u64> for Value {
    fn from(i: u64) -> Self {
        Value::Int(i128::from(i))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}
impl From<ValueMap> for Value {
    fn from(map: ValueMap) -> Self {
        Value::Map(map)
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Value::Int(i128::from(u))
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => Value::List(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => match i64::try_from(*i) {
                Ok(small) => serializer.serialize_i64(small),
                Err(_) => serializer.serialize_i128(*i),
            },
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::Str(s) => serializer.serialize_str(s),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(map) => {
                let mut m = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i128::from(i)))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Int(i128::from(u)))
    }
    fn visit_i128<E: de::Error>(self, i: i128) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = ValueMap::with_capacity(access.size_hint().unwrap_or(0).min(4096));
        while let Some((k, v)) = access.next_entry::<String, Value>()? {
            // Python dicts keep the last value for a repeated key, in the
            // position of the first occurrence; IndexMap::insert does the same.
            map.insert(k, v);
        }
        Ok(Value::Map(map))
    }
}

/// Python `repr(float)`: the shortest decimal string that round-trips, laid
/// out the way Python does it.
///
/// Fixed notation when the decimal exponent `e` of the first significant digit
/// is in `-4 <= e < 16` (always with a fractional part: `1.0`), otherwise
/// scientific with a sign and at least two exponent digits (`1e-05`, `1e+16`).
///
/// ```
/// use attesta::py_float_repr;
/// assert_eq!(py_float_repr(0.1 + 0.2), "0.30000000000000004");
/// assert_eq!(py_float_repr(1e-5), "1e-05");
/// assert_eq!(py_float_repr(123456789.0), "123456789.0");
/// assert_eq!(py_float_repr(f64::NAN), "nan");
/// ```
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let (digits, exp) = shortest_digits(x);
    let mut out = String::with_capacity(digits.len() + 8);
    if x.is_sign_negative() {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n(
                '0',
                usize::try_from(-exp - 1).unwrap_or(0),
            ));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

/// The shortest decimal digits that round-trip to `|x|` (finite, non-zero),
/// without leading or trailing zeros, and the decimal exponent of the first
/// digit: `1234.5` gives `("12345", 3)`.
///
/// `CPython` picks, among the shortest candidates, the one closest to the
/// binary value and breaks exact ties to an even last digit. Rust's `{:e}`
/// breaks those ties upwards (`74966336324624.125` prints as `...13` where
/// Python prints `...12`); Ryu breaks them like `CPython`, so its digits are
/// used and only its layout is discarded.
fn shortest_digits(x: f64) -> (String, i32) {
    let mut buffer = ryu::Buffer::new();
    // Ryu writes `123.45`, `0.0001`, `1e16` or `1.5e-7`; read any of them.
    let text = buffer.format_finite(x.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int_part}{frac_part}");
    let significant = all.trim_start_matches('0');
    let leading_zeros = all.len() - significant.len();
    let point =
        i32::try_from(int_part.len()).unwrap_or(0) - i32::try_from(leading_zeros).unwrap_or(0);
    (
        significant.trim_end_matches('0').to_owned(),
        point - 1 + exp,
    )
}

/// Characters Python's `str.isprintable()` rejects: categories Cc, Cf, Cs,
/// Co, Cn, Zl, Zp and Zs other than the ASCII space.
static NON_PRINTABLE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"^[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$")
        .expect("static character-class pattern compiles")
});

/// Whether Python's `str.isprintable()` holds for this character.
pub fn is_python_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let mut buf = [0u8; 4];
    !NON_PRINTABLE.is_match(c.encode_utf8(&mut buf))
}

/// Appends a Python string literal for `s`, quoted and escaped the way
/// `repr(str)` does it.
fn write_py_str_literal(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_python_printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02x}")
                } else if code <= 0xffff {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_layout_matches_python() {
        let cases = [
            (1.0, "1.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (9_999_999_999_999_998.0, "9999999999999998.0"),
            (999_999_999_999_999.9, "999999999999999.9"),
            (1.234_567_890_123_456_8e17, "1.2345678901234568e+17"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-0.0, "-0.0"),
            (-1.5, "-1.5"),
            (0.179_999_999_999_999_94, "0.17999999999999994"),
            (1e22, "1e+22"),
            (1.5e-7, "1.5e-07"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float_repr(x), want, "repr of {x:e}");
        }
    }

    #[test]
    fn float_digit_ties_round_to_even_like_python() {
        // Exactly halfway between two shortest candidates: Python keeps the
        // even digit, Rust's `{:e}` would round up. Written as bits because
        // clippy's literal checks format with `{}` and so round the other way.
        let tie = f64::from_bits(0x42d1_0b9d_7631_0408); // 74966336324624.125
        assert_eq!(py_float_repr(tie), "74966336324624.12");
        let tie = f64::from_bits(0xc2b1_4485_7b38_7190); // -18985994893425.5625
        assert_eq!(py_float_repr(tie), "-18985994893425.562");
        assert_eq!(shortest_digits(1234.5), ("12345".to_owned(), 3));
        assert_eq!(shortest_digits(0.000_12), ("12".to_owned(), -4));
        assert_eq!(shortest_digits(1e16), ("1".to_owned(), 16));
        assert_eq!(shortest_digits(1.5e-7), ("15".to_owned(), -7));
    }

    #[test]
    fn string_quoting_follows_python() {
        assert_eq!(Value::from("plain").py_repr(), "'plain'");
        assert_eq!(Value::from("it's").py_repr(), "\"it's\"");
        assert_eq!(Value::from("both ' and \"").py_repr(), "'both \\' and \"'");
        assert_eq!(Value::from("say \"hi\"").py_repr(), "'say \"hi\"'");
        assert_eq!(
            Value::from("a\\b\tc\nd\re").py_repr(),
            "'a\\\\b\\tc\\nd\\re'"
        );
        assert_eq!(Value::from("\u{7f}\u{0}").py_repr(), "'\\x7f\\x00'");
        assert_eq!(Value::from("é☃").py_repr(), "'é☃'");
        assert_eq!(Value::from("\u{a0}").py_repr(), "'\\xa0'");
        assert_eq!(Value::from("\u{200b}").py_repr(), "'\\u200b'");
        assert_eq!(Value::from("\u{e0001}").py_repr(), "'\\U000e0001'");
        assert_eq!(Value::from("😀").py_repr(), "'😀'");
    }

    #[test]
    fn containers_render_like_python() {
        let mut map = ValueMap::new();
        map.insert("password".into(), "x".into());
        map.insert("n".into(), Value::Int(3));
        let v = Value::List(vec![
            Value::Map(map),
            Value::Null,
            Value::Bool(true),
            Value::Float(3.0),
            Value::List(vec![]),
        ]);
        assert_eq!(
            v.py_repr(),
            "[{'password': 'x', 'n': 3}, None, True, 3.0, []]"
        );
        assert_eq!(v.py_str(), v.py_repr());
        assert_eq!(Value::from("raw").py_str(), "raw");
    }

    #[test]
    fn json_round_trip_keeps_int_float_distinction() {
        let v: Value = serde_json::from_str(r#"{"a":1,"b":1.0,"c":18446744073709551615}"#)
            .expect("valid json");
        assert_eq!(v.py_repr(), "{'a': 1, 'b': 1.0, 'c': 18446744073709551615}");
        assert_eq!(
            serde_json::to_string(&v).expect("serialises"),
            r#"{"a":1,"b":1.0,"c":18446744073709551615}"#
        );
    }
}
