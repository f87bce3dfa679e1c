//! JSON text exactly as Python's `json.dumps(data, indent=2)` writes it, so
//! a store written by either implementation looks the same byte for byte.
//!
//! `serde_json`'s pretty printer already matches Python's layout (two-space
//! indent, `": "`, `{}` / `[]` for empty containers, no trailing newline) and
//! its escapes for `"`, `\` and control characters. Two things differ and are
//! overridden here: floats use Python's `repr` (`1e-05`, not `1e-5`), and
//! every non-ASCII character (and DEL) is escaped as `\uXXXX`, as
//! `ensure_ascii=True` does.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::value::py_float_repr;

/// Serialises `value` as Python's `json.dumps(value, indent=2)` would.
pub(super) fn to_python_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter::new());
    value.serialize(&mut serializer)?;
    Ok(out)
}

/// `serde_json`'s pretty printer with Python's float and string conventions.
struct PythonFormatter {
    /// Handles indentation and separators, which already match Python's.
    pretty: PrettyFormatter<'static>,
}

impl PythonFormatter {
    fn new() -> Self {
        Self {
            pretty: PrettyFormatter::with_indent(b"  "),
        }
    }
}

impl Formatter for PythonFormatter {
    // serde_json only calls this for finite values (NaN and infinities
    // become `null` before reaching the formatter).
    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(py_float_repr(value).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut units = [0_u16; 2];
        for ch in fragment.chars() {
            if (' '..='~').contains(&ch) {
                writer.write_all(&[ch as u8])?;
            } else {
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(writer)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop loudly
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn text<T: Serialize>(value: &T) -> String {
        String::from_utf8(to_python_json(value).unwrap()).unwrap()
    }

    #[test]
    fn matches_python_layout_floats_and_escapes() {
        // Expected text produced by CPython 3.11:
        // json.dumps({'a\x7fé😀': [1e16, 1e-5, 0.1, 1.0, {}, []]}, indent=2)
        let mut map = IndexMap::new();
        map.insert(
            "a\u{7f}é😀",
            serde_json::json!([1e16, 1e-5, 0.1, 1.0, {}, []]),
        );
        assert_eq!(
            text(&map),
            "{\n  \"a\\u007f\\u00e9\\ud83d\\ude00\": [\n    1e+16,\n    1e-05,\n    0.1,\n    1.0,\n    {},\n    []\n  ]\n}"
        );
    }

    #[test]
    fn control_characters_and_quotes_use_json_escapes() {
        assert_eq!(text(&"q\"b\\n\n\u{1}\t"), r#""q\"b\\n\n\u0001\t""#);
    }

    #[test]
    fn empty_object_is_compact() {
        assert_eq!(text(&IndexMap::<String, f64>::new()), "{}");
    }
}
