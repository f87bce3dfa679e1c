//! Requests the proxy itself sends (an elicitation form to the client, a
//! `tools/list` to the upstream), and matching their answers.
//!
//! Their ids are strings with a per-process random prefix, so they cannot
//! collide with the client's or the upstream's own ids in practice, and a
//! stray answer to one is recognised and never relayed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::jsonrpc;

/// An answer to one of the proxy's requests: the whole response object.
pub(crate) type Answer = Map<String, Value>;

/// Id allocation and the requests still waiting for an answer.
#[derive(Debug)]
pub(crate) struct Outbound {
    /// `attesta-<random>-`: what every id this proxy sends starts with.
    prefix: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
}

impl Outbound {
    pub(crate) fn new() -> Self {
        Self {
            prefix: format!("attesta-{}-", uuid::Uuid::new_v4().simple()),
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// A new request line for `method` and the receiver of its answer.
    pub(crate) fn request(
        &self,
        method: &str,
        params: &Value,
    ) -> (Value, Vec<u8>, oneshot::Receiver<Answer>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = Value::String(format!("{}{n}", self.prefix));
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

    /// Whether `id` has this proxy's prefix (answered or not).
    pub(crate) fn owns(&self, id: &Value) -> bool {
        id.as_str().is_some_and(|s| s.starts_with(&self.prefix))
    }

    /// Hands an answer to whoever waits for it. Returns `false` when `id` is
    /// not one of this proxy's ids (the message belongs to someone else).
    pub(crate) fn resolve(&self, id: &Value, answer: Answer) -> bool {
        if !self.owns(id) {
            return false;
        }
        if let Some(waiter) = self.lock().remove(&jsonrpc::id_key(id)) {
            // The asker may have stopped waiting (timeout, cancellation).
            let _ = waiter.send(answer);
        }
        true
    }

    /// Stops waiting for `id` (the asker gave up).
    pub(crate) fn forget(&self, id: &Value) {
        self.lock().remove(&jsonrpc::id_key(id));
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
    async fn ids_are_unique_prefixed_and_answers_reach_the_asker() {
        let outbound = Outbound::new();
        let (a, line, rx) = outbound.request("elicitation/create", &json!({}));
        let (b, _, _) = outbound.request("tools/list", &json!({}));
        assert_ne!(a, b);
        assert!(outbound.owns(&a));
        assert!(!outbound.owns(&json!(1)));
        assert!(!outbound.owns(&json!("attesta-1")));
        let sent: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(sent["id"], a);
        assert_eq!(sent["method"], "elicitation/create");
        let mut answer = Map::new();
        answer.insert("result".into(), json!({"action": "accept"}));
        assert!(outbound.resolve(&a, answer.clone()));
        assert_eq!(rx.await.unwrap(), answer);
        // A second answer to the same id is still recognised as ours.
        assert!(outbound.resolve(&a, answer.clone()));
        assert!(!outbound.resolve(&json!(7), answer));
    }
}
