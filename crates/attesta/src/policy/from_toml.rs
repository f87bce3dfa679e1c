//! TOML text → [`Node`] tree, through `toml`'s span-keeping `DeTable`.
//!
//! `DeTable` gives byte ranges; they are turned into line and column here.
//! Its tables iterate in key order, not file order, so entries are put back
//! in file order by the position of their keys (the order matters for
//! `risk.overrides` and escalation rules, and for YAML/TOML parity).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::load::SourceLocation;
use super::tree::{Entry, Kind, Node, ParseFailure, Problem, child_path, escape_controls};

/// Parses a TOML policy document. `Ok(None)` is an empty document.
pub(super) fn parse(text: &str) -> Result<Option<Node>, ParseFailure> {
    let lines = LineIndex::new(text);
    let table = DeTable::parse(text).map_err(|error| failure(text, &lines, &error))?;
    let span = table.span();
    let root = convert(&lines, span.start, &DeValue::Table(table.into_inner()))
        .map_err(ParseFailure::Invalid)?;
    Ok(match &root.kind {
        Kind::Map(entries) if entries.is_empty() => None,
        _ => Some(root),
    })
}

fn convert(lines: &LineIndex, offset: usize, value: &DeValue<'_>) -> Result<Node, Problem> {
    let at = lines.locate(offset);
    let kind = match value {
        DeValue::String(s) => Kind::Str(s.to_string()),
        DeValue::Boolean(b) => Kind::Bool(*b),
        DeValue::Datetime(d) => Kind::DateTime(d.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let parsed = i128::from_str_radix(&digits, i.radix())
                .map_err(|_| Problem::new(at, "", format!("the number {i} is too large")))?;
            Kind::Int(parsed)
        }
        DeValue::Float(f) => {
            // `inf`/`nan` parse to non-finite floats, which the validator
            // rejects with the key path.
            let parsed = f
                .as_str()
                .replace('_', "")
                .parse()
                .map_err(|_| Problem::new(at, "", format!("'{f}' is not a number")))?;
            Kind::Float(parsed)
        }
        DeValue::Array(items) => Kind::List(
            items
                .iter()
                .map(|item| convert(lines, item.span().start, item.get_ref()))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(table) => {
            let mut entries = table
                .iter()
                .map(|(key, value)| {
                    Ok(Entry {
                        key_at: lines.locate(key.span().start),
                        key: key.get_ref().to_string(),
                        value: convert(lines, value.span().start, value.get_ref())?,
                    })
                })
                .collect::<Result<Vec<_>, Problem>>()?;
            entries.sort_by_key(|e| (e.key_at.line, e.key_at.column));
            Kind::Map(entries)
        }
    };
    Ok(Node { at, kind })
}

/// Our wording for a `toml` parse error. A duplicate key becomes the same
/// "given twice" problem a YAML duplicate gives, with its key path.
fn failure(text: &str, lines: &LineIndex, error: &toml::de::Error) -> ParseFailure {
    let at = error.span().map(|span| lines.locate(span.start));
    if error.message() == "duplicate key"
        && let Some(span) = error.span()
        && let Some(problem) = duplicate_problem(text, lines, span)
    {
        return ParseFailure::Invalid(problem);
    }
    ParseFailure::Syntax {
        at,
        message: format!("invalid TOML: {}", escape_controls(error.message())),
    }
}

/// Names the key a TOML duplicate-key error is about. The parser reports
/// only the span of the second occurrence, so the first one is looked up in
/// the partial table the parser recovers: the nearest earlier key with the
/// same name. `None` (plain syntax error) if that cannot be found.
fn duplicate_problem(
    text: &str,
    lines: &LineIndex,
    span: std::ops::Range<usize>,
) -> Option<Problem> {
    let written = text.get(span.clone())?;
    let name = written.trim().trim_matches(|c| c == '"' || c == '\'');
    let (recovered, _) = DeTable::parse_recoverable(text);
    let mut best: Option<(usize, String)> = None;
    find_earlier_key(recovered.get_ref(), "", name, span.start, &mut best);
    let (first_offset, path) = best?;
    let at = lines.locate(span.start);
    Some(Problem::new(
        at,
        &path,
        format!(
            "this key is given twice (first at line {}); remove one of them",
            lines.locate(first_offset).line
        ),
    ))
}

fn find_earlier_key(
    table: &DeTable<'_>,
    path: &str,
    name: &str,
    before: usize,
    best: &mut Option<(usize, String)>,
) {
    for (key, value) in table {
        let key_path = child_path(path, key.get_ref());
        let start = key.span().start;
        if key.get_ref() == name && start < before && best.as_ref().is_none_or(|(b, _)| start > *b)
        {
            *best = Some((start, key_path.clone()));
        }
        find_in_value(value, &key_path, name, before, best);
    }
}

fn find_in_value(
    value: &Spanned<DeValue<'_>>,
    path: &str,
    name: &str,
    before: usize,
    best: &mut Option<(usize, String)>,
) {
    match value.get_ref() {
        DeValue::Table(table) => find_earlier_key(table, path, name, before, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_in_value(item, &format!("{path}[{i}]"), name, before, best);
            }
        }
        _ => {}
    }
}

/// Byte offset → 1-based line and column (in characters).
struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        // A byte-order mark is not a column anyone can see.
        let first = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let starts = std::iter::once(first)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    fn locate(&self, offset: usize) -> SourceLocation {
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset.max(start))
            .map_or(0, |prefix| prefix.chars().count())
            + 1;
        SourceLocation { line, column }
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
            other => panic!("expected a table, got {other:?}"),
        }
    }

    #[test]
    fn entries_keep_file_order_and_positions() {
        let entries = root_entries("zeta = 1\n[policy]\nfail_mode = \"deny\"\n");
        assert_eq!(entries[0].key, "zeta");
        assert_eq!(entries[1].key, "policy");
        assert_eq!(entries[1].key_at, at(2, 2));
        let Kind::Map(inner) = &entries[1].value.kind else {
            panic!("policy is a table")
        };
        assert_eq!(inner[0].key_at, at(3, 1));
        assert_eq!(
            inner[0].value,
            Node {
                at: at(3, 13),
                kind: Kind::Str("deny".into())
            }
        );
    }

    #[test]
    fn numbers_keep_their_kind() {
        let entries = root_entries("a = 0x1F\nb = 1_000\nc = 2.5\nd = nan\ne = 1979-05-27\n");
        assert_eq!(entries[0].value.kind, Kind::Int(31));
        assert_eq!(entries[1].value.kind, Kind::Int(1000));
        assert_eq!(entries[2].value.kind, Kind::Float(2.5));
        assert!(matches!(entries[3].value.kind, Kind::Float(f) if f.is_nan()));
        assert_eq!(entries[4].value.kind, Kind::DateTime("1979-05-27".into()));
    }

    #[test]
    fn empty_documents_are_none() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("# nothing\n"), Ok(None));
    }

    #[test]
    fn duplicate_keys_name_their_path() {
        let text = "[b]\nfail_mode = 1\n[policy]\nfail_mode = \"deny\"\nfail_mode = \"allow\"\n";
        match parse(text) {
            Err(ParseFailure::Invalid(problem)) => {
                assert_eq!(problem.key, "policy.fail_mode");
                assert_eq!(problem.at, at(5, 1));
                assert!(
                    problem.message.contains("first at line 4"),
                    "{}",
                    problem.message
                );
            }
            other => panic!("expected a duplicate-key problem, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_have_a_position() {
        match parse("[policy]\nx = \n") {
            Err(ParseFailure::Syntax { at: loc, message }) => {
                assert_eq!(loc, Some(at(2, 5)));
                assert!(message.starts_with("invalid TOML: "), "{message}");
            }
            other => panic!("expected a syntax failure, got {other:?}"),
        }
    }

    #[test]
    fn columns_count_characters_and_skip_a_bom() {
        let index = LineIndex::new("\u{feff}a = 1\né = 2\n");
        assert_eq!(index.locate(3), at(1, 1));
        let e_value = "\u{feff}a = 1\né = ".len();
        assert_eq!(index.locate(e_value), at(2, 5));
    }
}
