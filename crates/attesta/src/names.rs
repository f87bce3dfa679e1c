//! Comparison keys for action and tool names, so that a near-miss of a gated
//! name is gated at least as high as the name itself.
//!
//! An agent, or a server that wants its tool to slip through, can call
//! `DANGER`, `danger `, `dan\u{200b}ger`, `ｄanger` (fullwidth) or `dаnger`
//! (Cyrillic `а`) where the policy says `danger`. A lenient server may run
//! `danger` for any of them, so rules that raise risk compare names by
//! [`fold`]: two names that fold equal are treated as the same name for
//! raising, never for lowering (see `docs/configuration.md` and
//! `docs/domains.md`).
//!
//! ```
//! use attesta::names;
//! assert_eq!(names::fold("ＤＡＮ\u{200b}ＧＥＲ"), names::fold("danger"));
//! assert!(names::is_near_miss("dаnger", "danger")); // Cyrillic а
//! assert!(!names::is_near_miss("delete_note", "delete-note"));
//! ```

use std::sync::LazyLock;

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

/// Upper bound on fold passes. A pass can leave a character that the next
/// pass still changes (the skeleton of Cherokee `Ꮇ` is `M`, whose case fold
/// `m` has the skeleton `rn`), so [`fold`] repeats passes until one changes
/// nothing. Every single code point settles within three passes; the bound
/// only keeps a pathological input from looping.
const MAX_PASSES: usize = 8;

/// The comparison key of an action or tool name: two names with the same
/// key differ only in case, spacing, invisible characters, compatibility
/// forms or look-alike characters.
///
/// The key is for comparing, not for showing: it may look odd (`m` folds to
/// `rn`, `0` to `o`, `1` and `I` to `l`, because each pair looks alike).
/// Each pass of the fold applies these steps, and passes repeat until one
/// changes nothing, so `fold(fold(s)) == fold(s)`:
///
/// 1. **Drop invisible characters**: default-ignorable code points (zero
///    width space and joiners, word joiner, byte order mark, soft hyphen,
///    variation selectors, bidirectional controls, tag characters, ...), all
///    whitespace and all control characters. A display shows none of them,
///    and lenient servers often trim or ignore them.
/// 2. **NFKC**: compatibility forms become their plain equivalents
///    (fullwidth `ｄ` → `d`, ligature `ﬁ` → `fi`, `Ⅸ` → `IX`).
/// 3. **Full case folding** (Unicode `CaseFolding.txt`, statuses C and F):
///    `DANGER` → `danger`, `ß` → `ss`, final sigma like sigma.
/// 4. **Confusable skeleton** (UTS #39): each character becomes the
///    prototype of its set of look-alikes, so Cyrillic `а` and Greek `ο`
///    become Latin `a` and `o`.
/// 5. **Case fold, NFKC and drop invisibles again**: prototypes may be
///    upper case (`0` → `O`) or decomposed, and NFKC can produce spaces
///    (`¨` → space + combining diaeresis).
///
/// Punctuation is kept: `delete_note` and `delete-note` stay different
/// names. Never panics; a few microseconds for a short non-ASCII name, and
/// well under one for an ASCII name (which takes a table-driven path that
/// gives the same result).
///
/// ```
/// use attesta::names::fold;
/// assert_eq!(fold("Straße"), fold("STRASSE"));
/// assert_eq!(fold("danger\u{a0}"), "danger");
/// assert_ne!(fold("read"), fold("reads"));
/// ```
pub fn fold(name: &str) -> String {
    if name.is_ascii() {
        return fold_ascii(name);
    }
    fold_to_fixed_point(name)
}

/// Whether `a` and `b` are different names that [`fold`] to the same key:
/// one is a near-miss of the other.
///
/// ```
/// use attesta::names::is_near_miss;
/// assert!(is_near_miss("DANGER", "danger"));
/// assert!(!is_near_miss("danger", "danger"), "the same name is no near-miss");
/// assert!(!is_near_miss("danger", "dangers"));
/// ```
pub fn is_near_miss(a: &str, b: &str) -> bool {
    a != b && fold(a) == fold(b)
}

/// The full algorithm: passes until one changes nothing.
fn fold_to_fixed_point(name: &str) -> String {
    let mut current = fold_pass(name);
    for _ in 1..MAX_PASSES {
        let next = fold_pass(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// One pass of steps 1 to 5 (see [`fold`]).
fn fold_pass(text: &str) -> String {
    let normalised: String = text
        .chars()
        .filter(|c| !is_invisible(*c))
        .nfkc()
        .default_case_fold()
        .collect();
    unicode_security::skeleton(&normalised)
        .default_case_fold()
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .collect()
}

/// [`fold`] of each ASCII character, computed once by the full algorithm.
///
/// Folding an ASCII name character by character gives the same key as the
/// full algorithm: ASCII characters never compose with one another, and
/// their prototypes neither start with combining marks nor change again
/// next to each other (the tests compare the two on every pair and on
/// random ASCII strings). Most names are ASCII, and this path allocates
/// once instead of normalising twice per pass.
static ASCII_FOLDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0_u8..128)
        .map(|byte| fold_to_fixed_point(char::from(byte).encode_utf8(&mut [0; 4])))
        .collect()
});

/// [`fold`] for an ASCII name, from [`ASCII_FOLDS`].
fn fold_ascii(name: &str) -> String {
    let table = &*ASCII_FOLDS;
    let mut key = String::with_capacity(name.len() + 4);
    for byte in name.bytes() {
        match table.get(usize::from(byte)) {
            Some(folded) => key.push_str(folded),
            // Unreachable for ASCII input; falling back to the full
            // algorithm keeps the function total without a panic.
            None => return fold_to_fixed_point(name),
        }
    }
    key
}

/// Whether step 1 drops `c`: whitespace, a control character, or a
/// default-ignorable code point.
fn is_invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_default_ignorable(c)
}

/// Unicode's `Default_Ignorable_Code_Point` property
/// (`DerivedCoreProperties.txt`, Unicode 18, the same table the skeleton
/// step uses): characters a renderer shows as nothing when it does not
/// support them. Kept here because the skeleton step drops them only after
/// NFKC and case folding, and its table is private to its crate.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The near-misses the security review found, and more of the same.
    const NEAR_MISSES_OF_DANGER: &[&str] = &[
        "DANGER",
        "Danger",
        "danger ",
        " danger",
        "danger\t",
        "danger\n",
        "danger\u{a0}",
        "danger\u{3000}",
        "danger\u{0}",
        "danger\u{7f}",
        "dan\u{200b}ger",
        "dan\u{200c}ger",
        "dan\u{200d}ger",
        "dan\u{2060}ger",
        "\u{feff}danger",
        "dan\u{ad}ger",
        "danger\u{fe0f}",
        "dan\u{e0041}ger",
        "d\u{202e}anger",
        "ｄanger",
        "ＤＡＮＧＥＲ",
        "dаnger", // Cyrillic а
        "dаngеr", // Cyrillic а and е
        "DАNGЕR", // Cyrillic А and Е
        "ⅾanger", // small roman numeral five hundred
        "𝐝𝐚𝐧𝐠𝐞𝐫", // mathematical bold
    ];

    #[test]
    fn every_near_miss_of_danger_folds_to_danger() {
        for name in NEAR_MISSES_OF_DANGER {
            assert_eq!(fold(name), fold("danger"), "{name:?}");
            assert!(is_near_miss(name, "danger"), "{name:?}");
        }
        assert_eq!(fold("danger"), "danger");
    }

    #[test]
    fn punctuation_and_letters_still_tell_names_apart() {
        for (a, b) in [
            ("delete_note", "delete-note"),
            ("delete_note", "deletenote"),
            ("delete.note", "delete_note"),
            ("read", "reads"),
            ("read", "raed"),
            ("danger", "dangerous"),
        ] {
            assert_ne!(fold(a), fold(b), "{a:?} vs {b:?}");
            assert!(!is_near_miss(a, b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn full_case_folding_and_compatibility_forms() {
        assert_eq!(fold("Straße"), fold("strasse"));
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), fold("σίσυφος"));
        assert_eq!(fold("ﬁle_read"), fold("file_read"));
        assert_eq!(fold("Service．deploy"), fold("service.deploy"));
    }

    #[test]
    fn empty_and_invisible_names_fold_to_nothing() {
        assert_eq!(fold(""), "");
        assert_eq!(fold(" \t\u{200b}\u{feff}\u{0}"), "");
        assert!(!is_near_miss("", ""));
        assert!(is_near_miss("", " "));
    }

    #[test]
    fn a_single_pass_is_not_always_enough() {
        // Cherokee Ꮇ: skeleton M, case fold m, skeleton of m is rn.
        assert_eq!(fold_pass("\u{13b7}"), "m");
        assert_eq!(fold("\u{13b7}"), "rn");
        assert_eq!(fold("\u{13b7}"), fold("m"));
    }

    #[test]
    fn the_ascii_path_agrees_with_the_full_algorithm_on_every_pair() {
        for a in 0_u8..128 {
            for b in 0_u8..128 {
                let name = String::from_utf8(vec![a, b]).unwrap();
                assert_eq!(fold_ascii(&name), fold_to_fixed_point(&name), "{name:?}");
            }
        }
    }

    #[test]
    fn fold_is_idempotent_on_every_bmp_code_point() {
        for c in '\0'..='\u{ffff}' {
            let name = c.to_string();
            let once = fold(&name);
            assert_eq!(fold(&once), once, "U+{:04X}", u32::from(c));
        }
    }

    /// Characters that fold interestingly, so random strings meet them
    /// often: confusables, combining marks, invisibles, case pairs.
    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                'a', 'm', 'r', 'n', 'l', '1', 'I', '0', 'O', '|', '%', '.', '_', '-', 'ß', 'ſ',
                'ﬁ', 'а', 'е', 'о', 'Ꮇ', 'Ϛ', '\u{301}', '\u{345}', '\u{308}', '¨', '\u{200b}',
                '\u{feff}', '\u{a0}', 'ｄ', 'Σ', 'ς', 'ǅ', 'İ', 'ı', '\u{1160}', '가', '\u{11a8}',
            ]),
        ]
    }

    proptest! {
        #[test]
        fn fold_never_panics_and_is_idempotent(name in any::<String>()) {
            let once = fold(&name);
            prop_assert_eq!(fold(&once), once);
        }

        #[test]
        fn fold_is_idempotent_on_tricky_text(chars in prop::collection::vec(tricky_char(), 0..24)) {
            let name: String = chars.into_iter().collect();
            let once = fold(&name);
            prop_assert_eq!(fold(&once), once.clone());
            prop_assert!(!once.chars().any(is_invisible));
        }

        #[test]
        fn the_ascii_path_agrees_with_the_full_algorithm(name in "[\\x00-\\x7f]{0,24}") {
            prop_assert_eq!(fold_ascii(&name), fold_to_fixed_point(&name));
        }
    }
}
