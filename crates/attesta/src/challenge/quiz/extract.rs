//! Facts a quiz can ask about, read from the action's real arguments.
//!
//! Only top-level arguments are read: they are what the prompt's call line
//! shows most plainly, and each fact remembers which argument it came from
//! so a question can say where to look ("argument 'replicas'").

use std::sync::LazyLock;

use regex::Regex;

use super::path::{self, SplitPath};
use super::sql::{self, Table};
use crate::challenge::words;
use crate::channel::sanitize_for_display;
use crate::context::ActionContext;
use crate::value::{Value, py_float_repr};

/// A path found in one argument.
#[derive(Debug, Clone)]
pub(super) struct PathFact {
    /// Index of the argument it came from (positional first, then keyword).
    pub(super) arg: usize,
    /// How a question names that argument.
    pub(super) label: String,
    /// The path, split.
    pub(super) path: SplitPath,
}

/// A number given as one argument.
#[derive(Debug, Clone)]
pub(super) struct NumberFact {
    /// How a question names the argument.
    pub(super) label: String,
    /// The number as the call line shows it (`5`, `3.5`, `1e+20`).
    pub(super) text: String,
}

/// The tables one SQL argument names.
#[derive(Debug, Clone)]
pub(super) struct SqlFact {
    /// How a question names the argument.
    pub(super) label: String,
    /// The tables, first occurrence first.
    pub(super) tables: Vec<Table>,
}

/// Everything a quiz can ask about one action.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts {
    /// Paths, in argument order.
    pub(super) paths: Vec<PathFact>,
    /// Numbers, in argument order.
    pub(super) numbers: Vec<NumberFact>,
    /// SQL arguments that name at least one table.
    pub(super) sql: Vec<SqlFact>,
    /// The environment, when it is known and no argument names a different
    /// one (a call with `env='staging'` approved in production would make
    /// "which environment?" a trick question).
    pub(super) environment: Option<String>,
    /// The function name's words (`deployService` -> deploy, service).
    pub(super) operation: Vec<String>,
}

/// Environment names the environment question offers, and that make an
/// argument "name an environment".
pub(super) const ENVIRONMENTS: [&str; 4] = ["production", "staging", "ci", "development"];

/// Other spellings people use for environments in arguments.
const ENVIRONMENT_ALIASES: [&str; 7] = ["prod", "dev", "stage", "test", "qa", "uat", "local"];

/// A string argument that is entirely a number.
static NUMERIC: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\A-?[0-9]+(?:\.[0-9]+)?\z").ok());

/// Reads the facts of an action.
pub(super) fn facts(ctx: &ActionContext) -> Facts {
    let mut facts = Facts {
        // The prompt shows the sanitized name; words hidden by escape codes
        // must not become answers nobody can see.
        operation: words::identifier_words(&sanitize_for_display(&ctx.function_name)),
        ..Facts::default()
    };
    let positional = ctx
        .args
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("the {} argument", ordinal(i + 1)), v));
    let keyword = ctx
        .kwargs
        .iter()
        .map(|(k, v)| (format!("argument '{}'", sanitize_for_display(k)), v));
    for (arg, (label, value)) in positional.chain(keyword).enumerate() {
        read_argument(&mut facts, arg, &label, value);
    }
    facts.environment = environment(ctx);
    facts
}

fn read_argument(facts: &mut Facts, arg: usize, label: &str, value: &Value) {
    if let Some(text) = number_text(value) {
        facts.numbers.push(NumberFact {
            label: label.to_owned(),
            text,
        });
    }
    let Value::Str(s) = value else { return };
    for path in path::paths_in(s) {
        // A path the prompt would show differently (bidi marks) cannot be
        // asked about fairly.
        if sanitize_for_display(&path.full) == path.full {
            facts.paths.push(PathFact {
                arg,
                label: label.to_owned(),
                path,
            });
        }
    }
    let tables = sql::tables_in(s);
    if !tables.is_empty() {
        facts.sql.push(SqlFact {
            label: label.to_owned(),
            tables,
        });
    }
}

/// The number a value holds, as the call line shows it. Booleans are not
/// numbers, and neither are `inf` and `nan`: no plausible distractors exist
/// for them.
fn number_text(value: &Value) -> Option<String> {
    match value {
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => Some(py_float_repr(*f)),
        Value::Str(s) if NUMERIC.as_ref().is_some_and(|re| re.is_match(s)) => Some(s.clone()),
        _ => None,
    }
}

fn environment(ctx: &ActionContext) -> Option<String> {
    let actual = sanitize_for_display(ctx.environment.trim());
    if actual.is_empty() {
        return None;
    }
    let names_other = |v: &Value| {
        v.as_str().is_some_and(|s| {
            let s = s.trim().to_lowercase();
            let is_env =
                ENVIRONMENTS.contains(&s.as_str()) || ENVIRONMENT_ALIASES.contains(&s.as_str());
            is_env && s != actual.to_lowercase()
        })
    };
    let ambiguous = ctx.args.iter().any(names_other) || ctx.kwargs.values().any(names_other);
    (!ambiguous).then_some(actual)
}

/// `1st`, `2nd`, `3rd`, `4th`, ... `11th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_exclude_bools_and_non_finite_floats() {
        assert_eq!(number_text(&Value::Int(5)).as_deref(), Some("5"));
        assert_eq!(number_text(&Value::Float(3.0)).as_deref(), Some("3.0"));
        assert_eq!(number_text(&Value::Float(1e20)).as_deref(), Some("1e+20"));
        assert_eq!(number_text(&"250".into()).as_deref(), Some("250"));
        assert_eq!(number_text(&"-0.25".into()).as_deref(), Some("-0.25"));
        for v in [
            Value::Bool(true),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NAN),
            "12a".into(),
            "250\n".into(),
            "1e5".into(),
        ] {
            assert_eq!(number_text(&v), None, "{v:?}");
        }
    }

    #[test]
    fn labels_name_the_argument() {
        let ctx = ActionContext::new("f")
            .with_arg(1)
            .with_arg(2)
            .with_kwarg("n", 3);
        let labels: Vec<_> = facts(&ctx).numbers.into_iter().map(|n| n.label).collect();
        assert_eq!(
            labels,
            ["the 1st argument", "the 2nd argument", "argument 'n'"]
        );
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
    }

    #[test]
    fn environment_is_skipped_when_unknown_or_contradicted() {
        let ctx = ActionContext::new("deploy").with_environment("production");
        assert_eq!(facts(&ctx).environment.as_deref(), Some("production"));
        assert_eq!(facts(&ActionContext::new("deploy")).environment, None);
        let ctx = ctx.with_kwarg("env", "staging");
        assert_eq!(facts(&ctx).environment, None);
        let ctx = ActionContext::new("deploy")
            .with_environment("Staging")
            .with_kwarg("env", "staging");
        assert_eq!(facts(&ctx).environment.as_deref(), Some("Staging"));
    }
}
