//! JSON-RPC batches, which only protocol revision 2025-03-26 allows.
//!
//! The proxy splits a batch into its messages and handles each as if it had
//! come alone (so every `tools/call` in it is gated), then sends the client
//! one array with the answers to the batch's requests, as JSON-RPC requires.
//! In every other revision a batch is an invalid request.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use serde_json::value::RawValue;

/// What happened to an answer handed to [`Batches::collect`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Collected {
    /// It answers no batched request: send it as it is.
    Alone(Vec<u8>),
    /// Kept until the rest of its batch is answered.
    Held,
    /// It completed its batch: send this array.
    Complete(Vec<u8>),
}

#[derive(Debug)]
struct Batch {
    /// Id keys of the requests not answered yet.
    waiting: HashSet<String>,
    /// Answers so far, each one JSON value without its newline.
    answers: Vec<Vec<u8>>,
}

/// Batches whose answers are being collected.
#[derive(Debug, Default)]
pub(crate) struct Batches {
    open: Mutex<Vec<Batch>>,
}

impl Batches {
    /// Starts collecting for a batch whose requests have ids `keys`, with
    /// `ready` answers already made (errors for invalid members). Returns the
    /// array to send now if nothing else will be answered.
    pub(crate) fn open(&self, keys: HashSet<String>, ready: Vec<Vec<u8>>) -> Option<Vec<u8>> {
        let answers: Vec<Vec<u8>> = ready.into_iter().map(trim_newline).collect();
        if keys.is_empty() {
            // Only notifications (no answer at all) or only invalid members.
            return (!answers.is_empty()).then(|| array(&answers));
        }
        self.lock().push(Batch {
            waiting: keys,
            answers,
        });
        None
    }

    pub(crate) fn collect(&self, key: &str, line: Vec<u8>) -> Collected {
        let mut open = self.lock();
        let Some(index) = open.iter().position(|b| b.waiting.contains(key)) else {
            return Collected::Alone(line);
        };
        let batch = &mut open[index];
        batch.waiting.remove(key);
        batch.answers.push(trim_newline(line));
        if !batch.waiting.is_empty() {
            return Collected::Held;
        }
        let batch = open.swap_remove(index);
        Collected::Complete(array(&batch.answers))
    }

    /// Request `key` will never be answered (the client cancelled it).
    /// Returns the array to send if that completes its batch.
    pub(crate) fn skip(&self, key: &str) -> Option<Vec<u8>> {
        let mut open = self.lock();
        let index = open.iter().position(|b| b.waiting.contains(key))?;
        open[index].waiting.remove(key);
        if !open[index].waiting.is_empty() {
            return None;
        }
        let batch = open.swap_remove(index);
        (!batch.answers.is_empty()).then(|| array(&batch.answers))
    }

    /// Everything collected so far, for when no more answers can come.
    pub(crate) fn drain(&self) -> Vec<Vec<u8>> {
        self.lock()
            .drain(..)
            .filter(|b| !b.answers.is_empty())
            .map(|b| array(&b.answers))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Batch>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The members of a batch line as their original bytes; `None` if the line
/// is not a JSON array.
pub(crate) fn members(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let members: Vec<&RawValue> = serde_json::from_slice(line).ok()?;
    Some(
        members
            .into_iter()
            .map(|m| {
                let mut bytes = m.get().as_bytes().to_vec();
                bytes.push(b'\n');
                bytes
            })
            .collect(),
    )
}

fn trim_newline(mut line: Vec<u8>) -> Vec<u8> {
    while line.last().is_some_and(u8::is_ascii_whitespace) {
        line.pop();
    }
    line
}

fn array(answers: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![b'['];
    for (i, answer) in answers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(answer);
    }
    out.extend_from_slice(b"]\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_are_held_until_the_batch_is_complete() {
        let batches = Batches::default();
        let keys: HashSet<String> = ["1".to_owned(), "\"b\"".to_owned()].into();
        assert_eq!(batches.open(keys, vec![b"{\"e\":0}\n".to_vec()]), None);
        assert_eq!(
            batches.collect("9", b"x\n".to_vec()),
            Collected::Alone(b"x\n".to_vec())
        );
        assert_eq!(
            batches.collect("1", b"{\"id\":1}\n".to_vec()),
            Collected::Held
        );
        assert_eq!(
            batches.collect("\"b\"", b"{\"id\":\"b\"}\n".to_vec()),
            Collected::Complete(b"[{\"e\":0},{\"id\":1},{\"id\":\"b\"}]\n".to_vec())
        );
        assert!(batches.drain().is_empty());
    }

    #[test]
    fn a_batch_without_requests_is_answered_at_once_or_not_at_all() {
        let batches = Batches::default();
        assert_eq!(batches.open(HashSet::new(), Vec::new()), None);
        assert_eq!(
            batches.open(HashSet::new(), vec![b"{\"e\":1}\n".to_vec()]),
            Some(b"[{\"e\":1}]\n".to_vec())
        );
    }

    #[test]
    fn members_keep_their_bytes() {
        let members = members(b"[ {\"id\": 1,  \"method\":\"ping\"} , 3 ]\n").unwrap();
        assert_eq!(
            members,
            [
                b"{\"id\": 1,  \"method\":\"ping\"}\n".to_vec(),
                b"3\n".to_vec()
            ]
        );
        assert!(super::members(b"{}").is_none());
    }
}
