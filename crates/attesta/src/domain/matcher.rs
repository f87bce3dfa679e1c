//! Name and term matchers: critical/safe action globs and sensitive terms.

use std::fmt;

use regex::{Regex, RegexBuilder};
use serde::{Serialize, Serializer};

use crate::names::fold;

/// Characters that make an action entry a regular expression rather than a
/// glob (the reference's rule, kept so its profiles mean the same here).
const REGEX_CHARS: &[char] = &['(', ')', '[', ']', '{', '}', '+', '?', '^', '$', '|', '\\'];

/// Largest compiled program a profile's expression may produce; far above
/// any realistic pattern, low enough that a hostile file cannot make
/// loading eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A critical or safe action entry: a glob (`read_*`) or, if it contains
/// any of `( ) [ ] { } + ? ^ $ | \`, a regular expression.
///
/// Unlike the reference, an entry must match the **whole** action name
/// (case-insensitively): `terraform_plan` does not match
/// `terraform_plan_and_apply`, and `read_*` does not match `thread_pool`.
///
/// ```
/// use attesta::domain::ActionGlob;
/// let glob = ActionGlob::new("read_*").unwrap();
/// assert!(glob.matches("READ_file"));
/// assert!(!glob.matches("thread_pool"));
/// let regex = ActionGlob::new("drop_(table|db)").unwrap();
/// assert!(regex.matches("drop_db"));
/// assert!(!regex.matches("drop_db_backup"));
/// ```
///
/// Where a match only ever raises risk (critical actions, escalation rule
/// `action:` conditions), [`ActionGlob::matches_or_resembles`] also matches
/// near-misses of the entry: names whose [`fold`] the entry matches.
/// [`ActionGlob::matches`] stays exact, for safe actions: a look-alike must
/// never be capped as safe.
///
/// ```
/// use attesta::domain::ActionGlob;
/// let glob = ActionGlob::new("terraform_destroy").unwrap();
/// let cyrillic = "terraform_d\u{435}stroy";
/// assert!(!glob.matches(cyrillic));
/// assert!(glob.matches_or_resembles(cyrillic));
/// ```
#[derive(Clone)]
pub struct ActionGlob {
    /// The entry as written, for display and serialisation.
    source: String,
    /// The anchored, case-insensitive form.
    regex: Regex,
    /// For a glob, the same glob with each literal part folded, matched
    /// against folded names. `None` for a regular expression, which cannot
    /// be folded part by part and is matched against folded names as it
    /// is.
    folded: Option<Regex>,
}

impl ActionGlob {
    /// Compiles an entry. Fails with the regex crate's complaint (in our
    /// words) if it is an expression that does not compile.
    pub fn new(source: &str) -> Result<Self, String> {
        let trimmed = source.trim();
        if trimmed.is_empty() {
            return Err("the action name is empty; write a name or a glob such as get_*".into());
        }
        let is_regex = trimmed.contains(REGEX_CHARS);
        let anchored = if is_regex {
            format!("^(?:{trimmed})$")
        } else {
            glob_regex(trimmed, str::to_owned)
        };
        let regex = compile(&anchored).map_err(|e| explain_regex_error(trimmed, &e))?;
        let folded = if is_regex {
            None
        } else {
            // `*` survives folding's step of dropping invisibles and is no
            // confusable, but splitting first keeps it a wildcard whatever
            // the tables say.
            let folded = glob_regex(trimmed, fold);
            Some(compile(&folded).map_err(|e| explain_regex_error(trimmed, &e))?)
        };
        Ok(Self {
            source: trimmed.to_owned(),
            regex,
            folded,
        })
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `name` as a whole matches (case-insensitively, nothing
    /// else folded). The test for safe actions.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// Whether `name` matches, or is a near-miss of a name that does: the
    /// entry matches [`fold`]`(name)` (see [`ActionGlob::matches_folded`]).
    /// Only for matches that raise risk.
    pub fn matches_or_resembles(&self, name: &str) -> bool {
        self.matches(name) || self.matches_folded(&fold(name))
    }

    /// Whether a name already passed through [`fold`] matches the entry
    /// over folded text: a glob with its literal parts folded (`*` still a
    /// wildcard), or a regular expression as written. For callers that
    /// fold a name once and test it against many entries.
    pub fn matches_folded(&self, folded_name: &str) -> bool {
        self.folded
            .as_ref()
            .unwrap_or(&self.regex)
            .is_match(folded_name)
    }
}

/// The anchored expression for a glob: each part between `*`s mapped by
/// `part` and escaped, the `*`s as `.*`.
fn glob_regex(glob: &str, part: impl Fn(&str) -> String) -> String {
    let escaped: Vec<String> = glob.split('*').map(|p| regex::escape(&part(p))).collect();
    format!("^{}$", escaped.join(".*"))
}

impl fmt::Debug for ActionGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionGlob({:?})", self.source)
    }
}

impl PartialEq for ActionGlob {
    fn eq(&self, other: &Self) -> bool {
        self.source.eq_ignore_ascii_case(&other.source)
    }
}

impl Serialize for ActionGlob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// A word or phrase whose presence raises risk, with its weight.
///
/// Matched on word boundaries, case-insensitively, as the reference does.
/// Because `_` is a word character, a term does not match inside a
/// snake_case identifier (`pii` is not found in `load_pii_records`); the
/// presets' risk patterns cover the snake_case spellings instead.
#[derive(Clone)]
pub struct SensitiveTerm {
    /// The term as written.
    term: String,
    /// How much its presence contributes, `0..=1`.
    weight: f64,
    /// `\bterm\b`, case-insensitive.
    regex: Regex,
}

impl SensitiveTerm {
    /// A term with its weight. Fails on an empty term or a weight outside
    /// `0..=1` (the reference accepted any weight; a weight above 1 only
    /// ever meant "certainly risky", which 1 already says).
    pub fn new(term: &str, weight: f64) -> Result<Self, String> {
        let term = term.trim();
        if term.is_empty() {
            return Err("the term is empty; write a word or phrase".into());
        }
        if !(0.0..=1.0).contains(&weight) {
            return Err(format!(
                "weight {weight} is out of range; use a number from 0 to 1"
            ));
        }
        let regex = compile(&format!(r"\b{}\b", regex::escape(term)))
            .map_err(|e| explain_regex_error(term, &e))?;
        Ok(Self {
            term: term.to_owned(),
            weight,
            regex,
        })
    }

    /// The term as written.
    pub fn term(&self) -> &str {
        &self.term
    }

    /// Its weight.
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// The expression used, as shown in evidence (`\bsudo\b`).
    pub fn regex_source(&self) -> &str {
        self.regex.as_str()
    }

    /// Whether the term occurs in `text`.
    pub fn is_found_in(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl fmt::Debug for SensitiveTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SensitiveTerm({:?}, {})", self.term, self.weight)
    }
}

impl PartialEq for SensitiveTerm {
    fn eq(&self, other: &Self) -> bool {
        self.term == other.term && self.weight == other.weight
    }
}

/// Compiles `source` case-insensitively, with a size cap.
pub(crate) fn compile(source: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A message for a pattern the `regex` crate refused, pointing out the
/// Python-only syntax people bring from the reference.
pub(crate) fn explain_regex_error(source: &str, error: &regex::Error) -> String {
    let python_only = ["(?=", "(?!", "(?<=", "(?<!"]
        .iter()
        .any(|lookaround| source.contains(lookaround))
        || has_backreference(source);
    if python_only {
        return "the pattern uses look-around or a back-reference, which Python's re supports \
                but Attesta's regex engine does not (it guarantees linear-time matching); \
                rewrite it without them, for example as an alternation"
            .to_owned();
    }
    match error {
        regex::Error::CompiledTooBig(limit) => format!(
            "the pattern compiles to more than {limit} bytes; split it into several smaller \
             patterns"
        ),
        // The syntax error's last line says what is wrong; the lines above
        // repeat the pattern with a caret, which does not fit one line.
        other => {
            let text = other.to_string();
            let reason = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("not a valid regular expression")
                .trim()
                .trim_start_matches("error: ");
            format!("not a valid regular expression ({reason}); fix the pattern")
        }
    }
}

/// `\1`..`\9` outside a character class, roughly: enough to explain the
/// error, which the regex crate reports anyway.
fn has_backreference(source: &str) -> bool {
    let bytes = source.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1].is_ascii_digit() && bytes[i + 1] != b'0' {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_only() {
        let g = ActionGlob::new("terraform_plan").unwrap();
        assert!(g.matches("terraform_plan"));
        assert!(g.matches("Terraform_Plan"));
        assert!(!g.matches("terraform_plan_and_apply"));
        let g = ActionGlob::new("delete_patient").unwrap();
        assert!(!g.matches("undelete_patient"));
        let g = ActionGlob::new("read_*").unwrap();
        assert!(g.matches("read_"));
        assert!(g.matches("read_file"));
        assert!(!g.matches("thread_pool"));
        let g = ActionGlob::new("a.b").unwrap();
        assert!(g.matches("a.b"));
        assert!(!g.matches("axb"), "a dot in a glob is literal");
    }

    #[test]
    fn near_misses_match_only_through_matches_or_resembles() {
        let g = ActionGlob::new("terraform_destroy").unwrap();
        for name in [
            "TERRAFORM_DESTROY",
            "terraform_destroy\u{200b}",
            "terraform_d\u{435}stroy",
            "\u{ff54}erraform_destroy",
            " terraform_destroy",
        ] {
            assert!(g.matches_or_resembles(name), "{name:?}");
        }
        for name in ["terraform_destroy\u{200b}", "terraform_d\u{435}stroy"] {
            assert!(!g.matches(name), "{name:?}: matches stays exact");
        }
        assert!(!g.matches_or_resembles("terraform-destroy"));
        assert!(!g.matches_or_resembles("terraform_destroy_plan"));
    }

    #[test]
    fn folded_globs_keep_their_wildcards() {
        let g = ActionGlob::new("drop_*_now").unwrap();
        assert!(g.matches_or_resembles("DR\u{41e}P_everything_N\u{41e}W"));
        assert!(!g.matches_or_resembles("drop_everything_later"));
        // An entry written with look-alikes matches the plain name too.
        let g = ActionGlob::new("\u{ff52}m_*").unwrap();
        assert!(g.matches_or_resembles("rm_tree"));
        assert!(!g.matches("rm_tree"));
    }

    #[test]
    fn regex_entries_match_folded_names_as_written() {
        let g = ActionGlob::new("drop_(table|db)").unwrap();
        assert!(g.matches_or_resembles("DR\u{41e}P_DB"));
        assert!(g.matches_or_resembles("drop_\u{200b}table"));
        assert!(!g.matches_or_resembles("drop_index"));
        assert!(!g.matches("dr\u{43e}p_db"));
    }

    #[test]
    fn regex_entries_are_anchored() {
        let g = ActionGlob::new("drop_(table|db)").unwrap();
        assert!(g.matches("drop_db"));
        assert!(g.matches("DROP_TABLE"));
        assert!(!g.matches("undrop_db"));
        assert!(!g.matches("drop_dbx"));
        assert!(ActionGlob::new("drop_(table").is_err());
    }

    #[test]
    fn terms_match_on_word_boundaries() {
        let t = SensitiveTerm::new("patient", 0.7).unwrap();
        assert!(t.is_found_in("the Patient record"));
        assert!(!t.is_found_in("patience"));
        let t = SensitiveTerm::new("prod", 0.6).unwrap();
        assert!(!t.is_found_in("delete_prod_db"));
        assert_eq!(t.regex_source(), r"\bprod\b");
        assert!(SensitiveTerm::new("x", 1.5).is_err());
        assert!(SensitiveTerm::new(" ", 0.5).is_err());
    }

    #[test]
    fn python_only_syntax_gets_its_own_message() {
        for source in [r"foo(?=bar)", r"(?<!un)delete", r"(a)\1"] {
            let error = compile(source).unwrap_err();
            let message = explain_regex_error(source, &error);
            assert!(
                message.contains("look-around or a back-reference"),
                "{message}"
            );
        }
        let error = compile("a(").unwrap_err();
        let message = explain_regex_error("a(", &error);
        assert!(
            message.starts_with("not a valid regular expression ("),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }
}
