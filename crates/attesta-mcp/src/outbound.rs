//! Requests the proxy itself sends (an elicitation form to the client, a
//! `tools/list` to the upstream), and matching their answers.
//!
//! Each peer has its own table: an answer counts only if it comes from the
//! peer the request went to, so the upstream can never answer the form the
//! human was meant to fill in. Every id is `attesta-` and 128 random bits,
//! fresh per request: knowing one id (the upstream sees those of the
//! proxy's `tools/list`) says nothing about the next.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::jsonrpc::{self, OWN_ID_PREFIX};

/// An answer to one of the proxy's requests: the whole response object.
pub(crate) type Answer = Map<String, Value>;

/// What became of a response handed to [`Outbound::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// It answered a request sent to this peer that was still waiting.
    Answered,
    /// Its id is the proxy's, but no request to this peer waits for it
    /// (it went to the other peer, it was given up, or it was guessed):
    /// drop it.
    Unexpected,
    /// Not one of the proxy's ids: the message belongs to someone else.
    NotOurs,
}

/// The proxy's requests to one peer that still wait for an answer.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
}

impl Outbound {
    /// A new request line for `method` and the receiver of its answer.
    pub(crate) fn request(
        &self,
        method: &str,
        params: &Value,
    ) -> (Value, Vec<u8>, oneshot::Receiver<Answer>) {
        let id = Value::String(format!("{OWN_ID_PREFIX}{}", uuid::Uuid::new_v4().simple()));
        let (tx, rx) = oneshot::channel();
        self.lock().insert(jsonrpc::id_key(&id), tx);
        let line = jsonrpc::to_line(&json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": method,
            "params": params,
        }));
        (id, line, rx)
    }

    /// Whether a request with `id` to this peer still waits for its answer.
    pub(crate) fn waits_for(&self, id: &Value) -> bool {
        self.lock().contains_key(&jsonrpc::id_key(id))
    }

    /// Hands an answer from this table's peer to whoever waits for it.
    pub(crate) fn resolve(&self, id: &Value, answer: Answer) -> Resolution {
        if !jsonrpc::is_own_id(id) {
            return Resolution::NotOurs;
        }
        let Some(waiter) = self.lock().remove(&jsonrpc::id_key(id)) else {
            return Resolution::Unexpected;
        };
        // The asker may have stopped waiting (timeout, cancellation).
        let _ = waiter.send(answer);
        Resolution::Answered
    }

    /// Stops waiting for `id` (the asker gave up).
    pub(crate) fn forget(&self, id: &Value) {
        self.lock().remove(&jsonrpc::id_key(id));
    }

    /// How many requests wait (for tests of what is retained).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Answer>>> {
        // A poisoned map is still a valid map: every operation on it is a
        // single insert or remove.
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn ids_are_random_prefixed_and_answers_reach_the_asker_once() {
        let to_client = Outbound::default();
        let (a, line, rx) = to_client.request("elicitation/create", &json!({}));
        let (b, _, _) = to_client.request("elicitation/create", &json!({}));
        assert_ne!(a, b);
        let (a_text, b_text) = (a.as_str().unwrap(), b.as_str().unwrap());
        assert!(a_text.starts_with("attesta-") && a_text.len() == "attesta-".len() + 32);
        // Nothing is shared between two ids but the prefix.
        assert_ne!(a_text[8..16], b_text[8..16]);
        let sent: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(sent["id"], a);
        assert_eq!(sent["method"], "elicitation/create");
        assert!(to_client.waits_for(&a));
        let mut answer = Map::new();
        answer.insert("result".into(), json!({"action": "accept"}));
        assert_eq!(to_client.resolve(&a, answer.clone()), Resolution::Answered);
        assert_eq!(rx.await.unwrap(), answer);
        // A second answer to the same id is ours, but nobody waits for it.
        assert_eq!(
            to_client.resolve(&a, answer.clone()),
            Resolution::Unexpected
        );
        assert_eq!(to_client.resolve(&json!(7), answer), Resolution::NotOurs);
        to_client.forget(&b);
        assert_eq!(to_client.len(), 0, "nothing is retained");
    }

    #[test]
    fn an_answer_counts_only_from_the_peer_the_request_went_to() {
        let (to_client, to_upstream) = (Outbound::default(), Outbound::default());
        let (form, _, _) = to_client.request("elicitation/create", &json!({}));
        let forged = Map::new();
        assert_eq!(to_upstream.resolve(&form, forged), Resolution::Unexpected);
        assert!(
            to_client.waits_for(&form),
            "the form still waits for the client"
        );
    }
}
