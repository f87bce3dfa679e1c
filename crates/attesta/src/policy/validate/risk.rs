//! The `risk:` section: absolute levels for named actions and score boosts
//! for function-name patterns.

use std::collections::HashMap;

use regex::Regex;

use super::read::{Field, Section};
use crate::policy::Policy;
use crate::policy::tree::{Problem, quote};
use crate::risk::Amplifier;

/// Applies `risk.overrides` and `risk.amplifiers` to `policy`.
pub(super) fn apply(policy: &mut Policy, risk: &Field<'_>) -> Result<(), Problem> {
    let section = Section::new(risk, &["overrides", "amplifiers"])?;
    if let Some(overrides) = section.get("overrides") {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (name, value) in overrides.entries("a mapping of action name to risk level")? {
            // The reference strips names; two spellings that strip to the
            // same name would silently collapse into one.
            let name = name.trim();
            if name.is_empty() {
                return Err(value.key_problem("the action name is empty; write the function name"));
            }
            if let Some(first) = seen.insert(name, value.key_at.line) {
                return Err(value.key_problem(format!(
                    "{} is already given at line {first}; remove one of them",
                    quote(name)
                )));
            }
            policy
                .risk_overrides
                .insert(name.to_owned(), value.level()?);
        }
    }
    if let Some(amplifiers) = section.get("amplifiers") {
        for item in amplifiers.items("a list of {pattern, boost} mappings")? {
            policy.risk_amplifiers.push(amplifier(&item)?);
        }
    }
    Ok(())
}

fn amplifier(item: &Field<'_>) -> Result<Amplifier, Problem> {
    let entry = Section::new(item, &["pattern", "boost"])?;
    let missing = |key: &str| {
        item.problem(format!(
            "this amplifier has no {key}; each one needs a pattern (a regular expression \
             matched against the function name) and a boost (a number from 0 to 1)"
        ))
    };
    let pattern_field = entry.get("pattern").ok_or_else(|| missing("pattern"))?;
    let boost_field = entry.get("boost").ok_or_else(|| missing("boost"))?;

    let source = pattern_field.string()?;
    if source.is_empty() {
        return Err(pattern_field.problem(
            "the pattern is empty and would match every action; write a regular expression",
        ));
    }
    let pattern = Regex::new(source).map_err(|e| {
        pattern_field.problem(format!(
            "{} is not a valid regular expression: {}; patterns use the Rust regex syntax, \
             which has no look-around or back-references",
            quote(source),
            regex_reason(&e)
        ))
    })?;
    // A negative boost would lower risk, which a boost is not for.
    let boost = boost_field.number_in(0.0, 1.0, "a number from 0 to 1")?;
    Ok(Amplifier { pattern, boost })
}

/// The regex crate's explanation on one line: its messages draw the
/// pattern and a caret over several lines, then end with `error: why`.
fn regex_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map_or_else(
            || text.split_whitespace().collect::<Vec<_>>().join(" "),
            str::to_owned,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_reasons_fit_on_one_line() {
        // Built at run time: clippy checks literal patterns and would reject these.
        let look_behind = String::from("(?<=a)b");
        let error = Regex::new(&look_behind).expect_err("look-behind is unsupported");
        let reason = regex_reason(&error);
        assert!(reason.contains("look-around"), "{reason}");
        assert!(!reason.contains('\n'));
        let unclosed = String::from("(a");
        let error = Regex::new(&unclosed).expect_err("unclosed group");
        assert!(regex_reason(&error).contains("unclosed group"));
    }
}
