//! Finding text an explanation copied from the prompt.
//!
//! Rule: any run of [`MIN_COPIED_RUN`] or more consecutive words that also
//! appears, in the same order, in one of the prompt's texts (the call, the
//! function's documentation, the instructions, the question) is copied.
//! Copied words are removed before the explanation is counted and searched
//! for key terms. Five words is long enough that ordinary phrases shared by
//! chance ("this action will delete the") stay below it, and short enough
//! that pasting any real part of the prompt is caught.

use std::collections::HashMap;

/// The shortest run of words that counts as copied.
pub(super) const MIN_COPIED_RUN: usize = 5;

/// Words beyond this many (in an explanation or a source) are not compared,
/// which bounds the work on hostile input; nobody needs thousands of words
/// of their own before copying.
const MAX_COMPARED: usize = 4_000;

/// An explanation with copied runs taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stripped {
    /// The remaining words, split where copied text was removed, so a term
    /// never matches across the gap.
    pub(super) segments: Vec<Vec<String>>,
    /// How many words were copied.
    pub(super) copied: usize,
}

impl Stripped {
    /// How many words remain.
    pub(super) fn kept(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }
}

/// Removes from `words` every run of at least [`MIN_COPIED_RUN`] words that
/// also occurs in one of `sources`. All inputs are lower-case word lists
/// from `words::tokens`.
pub(super) fn strip_copies(words: &[String], sources: &[Vec<String>]) -> Stripped {
    let mut ids = HashMap::new();
    let own = intern(&mut ids, words);
    let mut copied = vec![false; words.len()];
    for source in sources {
        let theirs = intern(&mut ids, source);
        mark_common_runs(&own, &theirs, &mut copied);
    }
    let mut segments = vec![Vec::new()];
    for (word, is_copied) in words.iter().zip(&copied) {
        match (*is_copied, segments.last_mut()) {
            (false, Some(segment)) => segment.push(word.clone()),
            (true, Some(segment)) if !segment.is_empty() => segments.push(Vec::new()),
            _ => {}
        }
    }
    segments.retain(|s| !s.is_empty());
    Stripped {
        segments,
        copied: copied.iter().filter(|c| **c).count(),
    }
}

/// Words as small integers, so the quadratic comparison is cheap.
fn intern<'a>(ids: &mut HashMap<&'a str, u32>, list: &'a [String]) -> Vec<u32> {
    list.iter()
        .take(MAX_COMPARED)
        .map(|w| {
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            *ids.entry(w.as_str()).or_insert(next)
        })
        .collect()
}

/// Marks in `copied` every word of `own` inside a run of at least
/// [`MIN_COPIED_RUN`] words shared with `theirs`. `run[j]` holds the length
/// of the common run ending at the current word of `own` and word `j - 1`
/// of `theirs` (the classic longest-common-substring table, one row kept).
fn mark_common_runs(own: &[u32], theirs: &[u32], copied: &mut [bool]) {
    let mut prev = vec![0usize; theirs.len() + 1];
    let mut cur = vec![0usize; theirs.len() + 1];
    for (i, word) in own.iter().enumerate() {
        for (j, other) in theirs.iter().enumerate() {
            let len = if word == other { prev[j] + 1 } else { 0 };
            cur[j + 1] = len;
            if len == MIN_COPIED_RUN {
                copied[i + 1 - MIN_COPIED_RUN..=i].fill(true);
            } else if len > MIN_COPIED_RUN {
                copied[i] = true;
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::words::tokens;

    fn strip(text: &str, sources: &[&str]) -> Stripped {
        let sources: Vec<Vec<String>> = sources.iter().map(|s| tokens(s)).collect();
        strip_copies(&tokens(text), &sources)
    }

    #[test]
    fn runs_of_five_shared_words_are_removed() {
        let s = strip(
            "I think delete the old report files now please",
            &["Delete the old report files from disk"],
        );
        assert_eq!(s.copied, 5);
        assert_eq!(s.segments, [tokens("I think"), tokens("now please")]);
        assert_eq!(s.kept(), 4);
    }

    #[test]
    fn shorter_shared_phrases_stay() {
        let s = strip(
            "this action will delete the table",
            &["What will this action do, and what will it change?"],
        );
        assert_eq!(s.copied, 0);
        assert_eq!(s.kept(), 6);
    }

    #[test]
    fn a_whole_copy_leaves_nothing() {
        let call = "drop_table(table='user_sessions', database='prod')";
        let s = strip(call, &[call]);
        assert_eq!((s.copied, s.kept()), (5, 0));
        assert!(s.segments.is_empty());
    }

    #[test]
    fn repeated_words_do_not_blow_up() {
        let text = "x ".repeat(10_000);
        let s = strip(&text, &[&"x ".repeat(5_000)]);
        assert_eq!(s.copied, 4_000, "only the compared prefix can be marked");
    }
}
