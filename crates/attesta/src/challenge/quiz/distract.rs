//! Wrong options that look right.
//!
//! A distractor is only useful if someone who did not read the action could
//! pick it. So distractors come first from the action itself (another
//! argument's directory, another number of the same size, another table the
//! SQL reads), then from the same pattern as the answer (a sibling folder,
//! the same number with one digit changed, the same target with another
//! verb), and always keep the answer's format: an answer must not stand out
//! as the only `3.5` among `7.00`s.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::extract::{ENVIRONMENTS, Facts, PathFact};
use super::path::{self, Style};
use super::sql::Table;
use crate::channel::sanitize_for_display;

/// Options shown per question: the answer and up to this many distractors.
const DISTRACTORS: usize = 3;

/// The options for a question: the answer plus up to three distractors
/// taken from `tiers` in order (each tier shuffled), none equal to the
/// answer or to anything in `exclude` (case-insensitively), no two equal;
/// then shuffled. Empty when no distractor survives, so the caller asks the
/// question as free text instead of offering a single option.
pub(super) fn options(
    answer: &str,
    tiers: Vec<Vec<String>>,
    exclude: &[String],
    rng: &mut StdRng,
) -> Vec<String> {
    let mut seen: Vec<String> = exclude.iter().map(|e| e.trim().to_lowercase()).collect();
    seen.push(answer.trim().to_lowercase());
    let mut picked = Vec::new();
    'tiers: for mut tier in tiers {
        tier.shuffle(rng);
        for candidate in tier {
            let candidate = sanitize_for_display(candidate.trim());
            let key = candidate.to_lowercase();
            if candidate.is_empty() || seen.contains(&key) {
                continue;
            }
            seen.push(key);
            picked.push(candidate);
            if picked.len() == DISTRACTORS {
                break 'tiers;
            }
        }
    }
    if picked.is_empty() {
        return picked;
    }
    picked.push(answer.to_owned());
    picked.shuffle(rng);
    picked
}

/// Folder names that plausibly sit next to any folder.
const COMMON_DIRS: &[&str] = &[
    "archive", "backup", "backups", "cache", "config", "data", "exports", "logs", "old", "shared",
    "reports", "uploads", "tmp", "releases",
];

/// Folders that plausibly sit at the top of a POSIX file system.
const POSIX_TOP: &[&str] = &["tmp", "var", "home", "opt", "srv", "usr", "etc", "root"];

/// Folders that plausibly sit at the top of a Windows drive.
const WINDOWS_TOP: &[&str] = &["Windows", "Users", "Temp", "Program Files", "ProgramData"];

/// Candidates for "which directory holds this path": other arguments'
/// directories, then the directory above, then siblings (or, under a root,
/// other top-level folders).
pub(super) fn directory_tiers(subject: &PathFact, facts: &Facts) -> Vec<Vec<String>> {
    let p = &subject.path;
    let others: Vec<&PathFact> = facts
        .paths
        .iter()
        .filter(|o| o.arg != subject.arg)
        .collect();
    let context: Vec<String> = others.iter().map(|o| o.path.dir.clone()).collect();
    let above: Vec<String> = path::parent(&p.dir).into_iter().collect();

    // Names used nowhere on the subject path, so a sibling can never be the
    // path itself or give away its file name.
    let own: Vec<String> = segments(&p.full, p.style).map(str::to_lowercase).collect();
    let fresh = |name: &str| !own.contains(&name.to_lowercase());
    let siblings: Vec<String> = match path::parent(&p.dir) {
        Some(up) => others
            .iter()
            .flat_map(|o| segments(&o.path.dir, o.path.style))
            .chain(COMMON_DIRS.iter().copied())
            .filter(|name| fresh(name))
            .map(|name| path::join(&up, name, p.style))
            .collect(),
        None => top_level(&p.dir, p.style)
            .iter()
            .filter(|name| fresh(name))
            .map(|name| path::join(&p.dir, name, p.style))
            .chain(p.dir.eq(".").then(|| "..".to_owned()))
            .collect(),
    };
    vec![context, above, siblings]
}

fn top_level(root: &str, style: Style) -> &'static [&'static str] {
    match style {
        Style::Posix if root == "/" => POSIX_TOP,
        Style::Windows if root.len() <= 3 => WINDOWS_TOP,
        _ => COMMON_DIRS,
    }
}

/// The folder names of a path (no root, no `.`/`..`/`~` markers, no drive).
fn segments(text: &str, style: Style) -> impl Iterator<Item = &str> {
    let seps: &[char] = match style {
        Style::Posix => &['/'],
        Style::Windows => &['\\', '/'],
    };
    text.split(seps)
        .filter(|s| !s.is_empty() && !matches!(*s, "." | ".." | "~") && !s.ends_with(':'))
}

/// Candidates for "what number": the same-shaped numbers of other
/// arguments, then the answer with its leading digit (or the next one)
/// changed, which keeps its length, sign and notation.
pub(super) fn number_tiers(answer: &str, facts: &Facts) -> Vec<Vec<String>> {
    let context = facts
        .numbers
        .iter()
        .map(|n| n.text.clone())
        .filter(|t| shape(t) == shape(answer))
        .collect();
    vec![context, digit_variants(answer)]
}

/// Sign, notation and count of integer digits: numbers of the same shape
/// look alike in a list of options.
fn shape(text: &str) -> (bool, bool, bool, usize) {
    let body = text.trim_start_matches('-');
    let mantissa = body.split(['e', 'E']).next().unwrap_or(body);
    let int_digits = mantissa.split('.').next().map_or(0, str::len);
    (
        text.starts_with('-'),
        mantissa.contains('.'),
        body.len() != mantissa.len(),
        int_digits,
    )
}

/// The number with its first significant digit moved by up to 3 (never to
/// 0 unless it is the units digit), or its second significant digit moved
/// by up to 2. All variants have the answer's exact format.
fn digit_variants(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let end = chars
        .iter()
        .position(|c| matches!(c, 'e' | 'E'))
        .unwrap_or(chars.len());
    let digits: Vec<usize> = (0..end).filter(|&i| chars[i].is_ascii_digit()).collect();
    let point = chars[..end].iter().position(|&c| c == '.').unwrap_or(end);
    let Some(&units) = digits.iter().rev().find(|&&i| i < point) else {
        return Vec::new();
    };
    let lead = digits
        .iter()
        .copied()
        .find(|&i| chars[i] != '0')
        .unwrap_or(units);
    let mut out = Vec::new();
    let mut vary = |at: usize, deltas: &[i32], lowest: u32| {
        let Some(d) = chars[at].to_digit(10) else {
            return;
        };
        for delta in deltas {
            let Some(n) = d
                .checked_add_signed(*delta)
                .filter(|n| (lowest..=9).contains(n))
            else {
                continue;
            };
            let Some(c) = char::from_digit(n, 10) else {
                continue;
            };
            let mut variant = chars.clone();
            variant[at] = c;
            out.push(variant.into_iter().collect());
        }
    };
    let lead_lowest = u32::from(lead != units || end != chars.len());
    vary(lead, &[-3, -2, -1, 1, 2, 3], lead_lowest);
    if let Some(&next) = digits.iter().find(|&&i| i > lead) {
        vary(next, &[-2, -1, 1, 2], 0);
    }
    out
}

/// Table names that plausibly appear in any database.
const COMMON_TABLES: &[&str] = &[
    "users",
    "orders",
    "sessions",
    "accounts",
    "payments",
    "customers",
    "events",
    "audit_log",
    "products",
    "invoices",
];

/// Candidates for "which table": tables this SQL only reads (when the
/// question is about the one it changes) and tables of other SQL arguments,
/// then common table names.
pub(super) fn table_tiers(
    answer: &Table,
    same_arg: &[Table],
    other_args: &[Table],
) -> Vec<Vec<String>> {
    let read_only: Vec<String> = if answer.writes {
        same_arg
            .iter()
            .filter(|t| !t.writes)
            .map(|t| t.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let context = read_only
        .into_iter()
        .chain(other_args.iter().map(|t| t.name.clone()))
        .collect();
    vec![
        context,
        COMMON_TABLES.iter().map(|&t| t.to_owned()).collect(),
    ]
}

/// The other standard environments.
pub(super) fn environment_tiers() -> Vec<Vec<String>> {
    vec![ENVIRONMENTS.iter().map(|&e| e.to_owned()).collect()]
}

/// Verbs that mean the same thing: never offered against each other, or
/// "remove users" would be a wrong answer to "delete users".
const SYNONYMS: &[&[&str]] = &[
    &[
        "delete", "remove", "drop", "purge", "destroy", "wipe", "erase", "truncate", "rm", "del",
    ],
    &[
        "read", "get", "fetch", "load", "show", "view", "list", "describe", "query", "find",
        "search",
    ],
    &[
        "create",
        "add",
        "insert",
        "new",
        "make",
        "register",
        "provision",
    ],
    &[
        "update", "modify", "set", "change", "edit", "patch", "alter", "put",
    ],
    &["copy", "duplicate", "clone", "cp"],
    &["move", "rename", "mv", "relocate"],
    &[
        "send", "notify", "email", "publish", "post", "message", "mail",
    ],
    &[
        "run", "execute", "exec", "invoke", "start", "launch", "trigger", "call",
    ],
    &[
        "stop",
        "kill",
        "terminate",
        "halt",
        "shutdown",
        "abort",
        "cancel",
    ],
    &["export", "dump", "download", "extract"],
    &["import", "upload", "ingest"],
    &["backup", "snapshot", "archive"],
    &["restore", "recover", "rollback", "revert", "undo"],
    &["deploy", "release", "ship", "rollout", "promote"],
    &["disable", "deactivate", "suspend", "lock", "block", "ban"],
    &["enable", "activate", "unlock", "unblock", "resume"],
    &["validate", "check", "verify", "test", "lint"],
    &["grant", "allow", "share", "invite"],
    &["revoke", "deny", "unshare"],
    &["reset", "clear", "flush", "clean", "cleanup"],
    &["scale", "resize"],
    &["restart", "reboot", "reload"],
];

/// The verbs a distractor may use: one per meaning, destructive and benign
/// alike, so the right answer is not "the only dangerous one".
const DISTRACTOR_VERBS: &[&str] = &[
    "delete", "read", "create", "update", "copy", "move", "send", "run", "stop", "export",
    "import", "archive", "restore", "deploy", "disable", "enable", "validate", "grant", "revoke",
    "reset", "scale", "restart",
];

fn meaning(verb: &str) -> Option<&'static [&'static str]> {
    SYNONYMS.iter().copied().find(|group| group.contains(&verb))
}

/// Whether `word` is a verb we know, so it can be put first in the answer
/// (`user_delete` -> "delete user").
pub(super) fn is_known_verb(word: &str) -> bool {
    meaning(word).is_some()
}

/// Candidates for "what will this action do": other verbs with the same
/// target.
pub(super) fn operation_tiers(verb: &str, target: &str) -> Vec<Vec<String>> {
    let own = meaning(verb);
    let phrase = |v: &str| {
        if target.is_empty() {
            v.to_owned()
        } else {
            format!("{v} {target}")
        }
    };
    let verbs = DISTRACTOR_VERBS
        .iter()
        .filter(|v| **v != verb && own.is_none_or(|group| !group.contains(v)))
        .map(|v| phrase(v))
        .collect();
    vec![verbs]
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn set(v: &[String]) -> std::collections::BTreeSet<String> {
        v.iter().cloned().collect()
    }

    #[test]
    fn options_keep_the_answer_and_drop_duplicates_and_exclusions() {
        let mut rng = StdRng::seed_from_u64(7);
        let tiers = vec![
            vec!["ORDERS".into(), "logs".into(), " ".into()],
            vec!["Logs".into(), "users".into(), "secret".into()],
        ];
        let got = options("orders", tiers, &["secret".into()], &mut rng);
        assert_eq!(
            set(&got),
            set(&["orders".into(), "logs".into(), "users".into()])
        );
    }

    #[test]
    fn no_surviving_distractor_means_no_options() {
        let mut rng = StdRng::seed_from_u64(7);
        assert!(options("a", vec![vec!["A".into(), " a ".into()]], &[], &mut rng).is_empty());
    }

    #[test]
    fn digit_variants_keep_format_and_magnitude() {
        assert_eq!(digit_variants("5"), ["2", "3", "4", "6", "7", "8"]);
        assert_eq!(digit_variants("1"), ["0", "2", "3", "4"]);
        assert_eq!(digit_variants("0"), ["1", "2", "3"]);
        let v = digit_variants("250");
        assert!(v.contains(&"150".to_owned()) && v.contains(&"270".to_owned()));
        assert!(
            v.iter().all(|x| x.len() == 3 && !x.starts_with('0')),
            "{v:?}"
        );
        let v = digit_variants("3.5");
        assert!(v.contains(&"2.5".to_owned()) && v.contains(&"3.7".to_owned()));
        assert!(v.iter().all(|x| x.len() == 3 && x.contains('.')), "{v:?}");
        let v = digit_variants("1e+20");
        assert_eq!(v, ["2e+20", "3e+20", "4e+20"]);
        let v = digit_variants("-0.25");
        assert!(
            v.iter().all(|x| x.starts_with("-0.") && x.len() == 5),
            "{v:?}"
        );
        assert!(v.contains(&"-0.15".to_owned()));
        assert_eq!(digit_variants("10"), ["20", "30", "40", "11", "12"]);
    }

    #[test]
    fn number_shapes_compare_sign_notation_and_size() {
        assert_eq!(shape("250"), shape("999"));
        assert_ne!(shape("250"), shape("25"));
        assert_ne!(shape("2.5"), shape("25"));
        assert_ne!(shape("-5"), shape("5"));
        assert_ne!(shape("1e+20"), shape("1"));
    }

    #[test]
    fn operation_distractors_avoid_synonyms() {
        let tiers = operation_tiers("drop", "table");
        let all = &tiers[0];
        assert!(all.contains(&"read table".to_owned()));
        assert!(!all.iter().any(|o| o == "delete table" || o == "drop table"));
        assert!(is_known_verb("purge") && !is_known_verb("frobnicate"));
    }
}
