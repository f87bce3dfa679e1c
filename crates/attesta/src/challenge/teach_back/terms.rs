//! Key terms: the words an explanation of one particular action should use
//! (matched by `words::term_matches`).

use crate::challenge::quiz::{path, sql};
use crate::challenge::words;
use crate::channel::sanitize_for_display;
use crate::context::ActionContext;
use crate::value::{Value, py_float_repr};

/// Strings longer than this are not terms themselves (nobody retypes a
/// paragraph); their paths and tables still are.
const MAX_TERM_CHARS: usize = 40;

/// The key terms of an action, first occurrence first, lower case, never
/// empty:
///
/// * the function name's words, minus words of two letters or fewer and
///   stop words (`run_shell` -> `shell`);
/// * for each argument value (positional, then keyword values): numbers as
///   the call shows them; for strings with `/` or `\`, the last part of each
///   path (`/var/data/` -> `data`); the tables a SQL string names; other
///   strings of 3 to 40 characters whole;
/// * the domain vocabulary, as given.
pub(super) fn key_terms(ctx: &ActionContext, vocabulary: &[String]) -> Vec<String> {
    let mut terms = Vec::new();
    let name_words = words::identifier_words(&sanitize_for_display(&ctx.function_name));
    terms.extend(
        name_words
            .into_iter()
            .filter(|w| w.chars().count() > 2 && !words::is_stop_word(w)),
    );
    let mut from_values = Vec::new();
    for value in ctx.args.iter().chain(ctx.kwargs.values()) {
        value_terms(value, &mut from_values);
    }
    terms.extend(from_values.into_iter().filter(|t| is_specific(t)));
    terms.extend(vocabulary.iter().map(|t| normalise(t)));

    let mut out: Vec<String> = Vec::new();
    for term in terms {
        if !words::tokens(&term).is_empty() && !out.contains(&term) {
            out.push(term);
        }
    }
    out
}

fn value_terms(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Int(i) => out.push(i.to_string()),
        Value::Float(f) if f.is_finite() => out.push(py_float_repr(*f)),
        Value::Str(s) => string_terms(s, out),
        _ => {}
    }
}

fn string_terms(s: &str, out: &mut Vec<String>) {
    let text = s.trim();
    if text.is_empty() {
        return;
    }
    if words::is_number_token(text.trim_start_matches('-')) {
        out.push(text.to_owned());
        return;
    }
    let tables = sql::tables_in(text);
    out.extend(tables.iter().map(|t| normalise(&t.name)));
    if text.contains(['/', '\\']) {
        let paths = path::paths_in(text);
        if paths.is_empty() {
            // Not a path we parse (a URL, `bucket/key`): its last part still
            // names what is touched.
            let last = text
                .trim_end_matches(['/', '\\'])
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or_default();
            out.push(normalise(last));
        }
        out.extend(paths.iter().map(|p| normalise(&p.name)));
    } else if tables.is_empty() && text.chars().count() <= MAX_TERM_CHARS {
        out.push(normalise(text));
    }
}

/// Whether a term from an argument is specific enough to count: numbers
/// always; otherwise at least three characters and not a stop word.
fn is_specific(term: &str) -> bool {
    if words::is_number_token(term.trim_start_matches('-')) {
        return true;
    }
    term.chars().count() >= 3 && !words::is_stop_word(term)
}

/// Lower case, trimmed, inner whitespace collapsed, and made displayable.
fn normalise(term: &str) -> String {
    sanitize_for_display(term)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_of_the_reference_examples() {
        let ctx = ActionContext::new("drop_table")
            .with_kwarg("table", "user_sessions")
            .with_kwarg("database", "prod");
        assert_eq!(
            key_terms(&ctx, &[]),
            ["drop", "table", "user_sessions", "prod"]
        );

        let ctx = ActionContext::new("scaleUp")
            .with_arg(3)
            .with_arg(true)
            .with_arg(Value::Null)
            .with_arg(2.5)
            .with_arg(vec!["a", "b"])
            .with_arg("ab")
            .with_arg("x".repeat(81))
            .with_arg("C:\\dir\\f.txt")
            .with_kwarg("name", " Prod-DB ");
        assert_eq!(
            key_terms(&ctx, &[]),
            ["scale", "3", "2.5", "f.txt", "prod-db"]
        );
        assert!(key_terms(&ActionContext::new("rm"), &[]).is_empty());
    }

    #[test]
    fn no_term_is_ever_empty_or_a_stop_word() {
        let ctx = ActionContext::new("run_the_get")
            .with_arg("/var/reports/")
            .with_arg("/var/data/")
            .with_arg("/")
            .with_arg("   ")
            .with_arg("the")
            .with_arg("s3://bucket/")
            .with_arg("DELETE FROM orders WHERE id < 100")
            .with_arg("rm -rf /var/lib/app")
            .with_arg(f64::NAN)
            .with_arg("-5");
        let terms = key_terms(&ctx, &[" ".into(), String::new(), "Point In  Time".into()]);
        assert_eq!(
            terms,
            ["reports", "bucket", "orders", "app", "-5", "point in time"]
        );
    }
}
