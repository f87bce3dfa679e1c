//! Words: splitting identifiers and free text into comparable words.
//!
//! Quiz and teach-back both need to turn a function name like
//! `dropUserTable` into words, and to compare a human's sentence with terms
//! on whole-word boundaries (teach-back's key terms, the answer hints of a
//! domain's quiz questions). Keeping one tokenizer means both challenges
//! agree on what "a word" is.

/// Splits an identifier into lower-case words: at any character that is
/// not a letter or digit (`_`, `-`, `.`, `:`, spaces), at a lower-to-upper
/// change (`deployService`) and at the end of an acronym (`HTTPServer`).
///
/// ```text
/// drop_table        -> drop, table
/// deployService     -> deploy, service
/// HTTPServer.reload -> http, server, reload
/// ```
pub(super) fn identifier_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (prev, cur) = (chars[i - 1], chars[i]);
            let next_is_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
            let camel = prev.is_lowercase() && cur.is_uppercase();
            let acronym_end = prev.is_uppercase() && cur.is_uppercase() && next_is_lower;
            if camel || acronym_end {
                words.push(chars[start..i].iter().collect::<String>().to_lowercase());
                start = i;
            }
        }
        if start < chars.len() {
            words.push(chars[start..].iter().collect::<String>().to_lowercase());
        }
    }
    words
}

/// Words that prove nothing about a specific action: grammar words, verbs
/// every explanation uses whatever the action ("run", "get", "execute"),
/// and nouns that name the code rather than what it touches ("function",
/// "handler", "data"). Matching one of these would let a vague explanation
/// pass, so they are never key terms.
const STOP_WORDS: &[&str] = &[
    // grammar
    "the", "and", "for", "with", "from", "into", "onto", "this", "that", "all", "any", "via", "per",
    "not", "new", "some", "its", "our", "your", "then", // verbs that fit every action
    "get", "set", "run", "runs", "do", "does", "make", "try", "call", "exec", "execute", "perform",
    "process", "handle", "invoke", "use", // nouns naming the code, not its target
    "function", "func", "tool", "action", "handler", "impl", "util", "utils", "helper", "method",
    "data", "info", "value", "item", "thing", "stuff",
];

/// Whether `word` (lower case) is on the stop-word list.
pub(super) fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// Characters that join two letters or digits into one word (`user_sessions`,
/// `q3.csv`, `prod-db`, `don't`) instead of separating them.
fn is_joiner(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '\'' | '\u{2019}')
}

/// Splits free text into lower-case words: runs of letters and digits,
/// joined by `_ . - '` when those sit between two letters or digits. Paths
/// fall apart into their segments (`/var/data` -> `var`, `data`), and
/// trailing punctuation is dropped (`2.5.` -> `2.5`).
pub(super) fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
            continue;
        }
        let joins = is_joiner(c)
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if joins {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether a token is a number (`3`, `2.5`), which must match exactly.
pub(super) fn is_number_token(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_digit())
        && token.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The parts of a token split at its joiners, each reduced by [`stem`]:
/// `user_sessions` -> `user`, `session`.
pub(super) fn stemmed_parts(token: &str) -> impl Iterator<Item = String> + '_ {
    token.split(is_joiner).filter(|p| !p.is_empty()).map(stem)
}

/// A deliberately small English stemmer so that "drops", "dropped" and
/// "dropping" all meet "drop", and "tables" meets "table", without letting
/// "unstable" meet "table". Only purely alphabetic words are changed, and
/// never below three letters.
pub(super) fn stem(word: &str) -> String {
    if !word.chars().all(char::is_alphabetic) {
        return word.to_owned();
    }
    let mut s = word.to_owned();
    for suffix in ["ing", "ed", "es", "s"] {
        let keep = s.chars().count().saturating_sub(suffix.chars().count());
        if !s.ends_with(suffix) || keep < 3 || (suffix == "s" && s.ends_with("ss")) {
            continue;
        }
        s.truncate(s.len() - suffix.len());
        if matches!(suffix, "ing" | "ed") {
            undouble(&mut s);
        }
        break;
    }
    if s.ends_with('e') && s.chars().count() > 3 {
        s.pop();
    }
    s
}

/// "dropp" -> "drop", but "kill", "pass" and "buzz" keep their pair (as in
/// Porter's stemmer, l, s and z are commonly doubled in the base word).
fn undouble(s: &mut String) {
    let mut rev = s.chars().rev();
    if let (Some(a), Some(b)) = (rev.next(), rev.next())
        && a == b
        && a.is_alphabetic()
        && !matches!(a, 'a' | 'e' | 'i' | 'o' | 'u' | 'l' | 's' | 'z')
    {
        s.pop();
    }
}

/// Whether `term` occurs in any of `segments` (runs of lower-case words
/// from [`tokens`]) as whole words, in order.
///
/// A term matches exactly (`user_sessions`, `q3.csv`, `2.5`), or, unless it
/// is a number, part by part with simple inflections (`user sessions`,
/// `dropped` for `drop`, `tables` for `table`). `table` never matches
/// "unstable" and `3` never matches "13" or "3.5".
pub(super) fn term_matches(term: &str, segments: &[Vec<String>]) -> bool {
    let exact = tokens(term);
    if exact.is_empty() {
        return false;
    }
    if segments.iter().any(|s| contains(s, &exact)) {
        return true;
    }
    if exact.iter().all(|t| is_number_token(t)) {
        return false;
    }
    let loose: Vec<String> = exact.iter().flat_map(|t| stemmed_parts(t)).collect();
    segments.iter().any(|segment| {
        let parts: Vec<String> = segment.iter().flat_map(|t| stemmed_parts(t)).collect();
        contains(&parts, &loose)
    })
}

fn contains(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_on_separators_case_and_acronyms() {
        assert_eq!(identifier_words("drop_table"), ["drop", "table"]);
        assert_eq!(identifier_words("deployService"), ["deploy", "service"]);
        assert_eq!(
            identifier_words("HTTPServer.reload"),
            ["http", "server", "reload"]
        );
        assert_eq!(
            identifier_words("kebab-case-name"),
            ["kebab", "case", "name"]
        );
        assert_eq!(identifier_words("s3_upload"), ["s3", "upload"]);
        assert!(identifier_words("").is_empty());
        assert!(identifier_words("__").is_empty());
    }

    #[test]
    fn tokens_keep_compound_words_and_drop_punctuation() {
        assert_eq!(
            tokens("Drop user_sessions (prod-db), v2.5."),
            ["drop", "user_sessions", "prod-db", "v2.5"]
        );
        assert_eq!(tokens("/var/data/q3.csv"), ["var", "data", "q3.csv"]);
        assert_eq!(tokens("-5 and _x_"), ["5", "and", "x"]);
        assert!(tokens("  ... ").is_empty());
    }

    #[test]
    fn stems_meet_inflections_but_not_other_words() {
        for (a, b) in [
            ("drops", "drop"),
            ("dropped", "drop"),
            ("dropping", "drop"),
            ("tables", "table"),
            ("deleted", "delete"),
            ("deleting", "deletes"),
            ("killing", "kill"),
            ("processes", "process"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} / {b}");
        }
        assert_ne!(stem("unstable"), stem("table"));
        assert_eq!(stem("q3"), "q3");
        assert_eq!(stem("bus"), "bus");
    }

    fn segments(text: &str) -> Vec<Vec<String>> {
        vec![tokens(text)]
    }

    #[test]
    fn whole_words_only() {
        assert!(term_matches("table", &segments("it drops the table.")));
        assert!(term_matches("table", &segments("two Tables go")));
        assert!(!term_matches("table", &segments("an unstable system")));
        assert!(!term_matches("table", &segments("tablet")));
        assert!(term_matches("3", &segments("keeps 3 copies")));
        assert!(!term_matches("3", &segments("keeps 13 copies")));
        assert!(!term_matches("3", &segments("version 3.5")));
        assert!(term_matches(
            "user_sessions",
            &segments("clears user sessions")
        ));
        assert!(term_matches(
            "user_sessions",
            &segments("clears USER_SESSIONS")
        ));
        assert!(!term_matches(
            "user_sessions",
            &segments("users who have sessions")
        ));
        assert!(term_matches(
            "q3.csv",
            &segments("deletes /var/data/q3.csv now")
        ));
        assert!(term_matches("drop", &segments("it dropped everything")));
        assert!(term_matches(
            "point in time",
            &segments("a point in time restore")
        ));
        assert!(!term_matches("point in time", &segments("a point at time")));
        // A term never matches across a gap left by removed copied text.
        let split = vec![tokens("a point"), tokens("in time")];
        assert!(!term_matches("point in time", &split));
    }
}
