//! A call the human approved that the *server* answers with
//! `input_required` (its own 2026-07-28 multi-round request): the client's
//! retry carries the server's `requestState` and the same call, and is the
//! same approved action, not a new one to ask about again.
//!
//! Only states the upstream issued in answer to an approved call are
//! remembered, and only a retry of exactly that call (tool and arguments)
//! continues it, once. Anything else is decided as a new call.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::gate::ToolCall;
use crate::jsonrpc;

/// How many unanswered server rounds are remembered; the oldest goes first.
const REMEMBERED: usize = 1024;

#[derive(Debug, Default)]
struct State {
    /// Approved calls sent upstream and not answered yet, by id key.
    in_flight: HashMap<String, ToolCall>,
    /// Server `requestState`s of approved calls, awaiting the retry.
    rounds: HashMap<String, ToolCall>,
    /// Insertion order of `rounds`, for the bound.
    order: VecDeque<String>,
}

/// Approved calls the server may continue.
#[derive(Debug, Default)]
pub(crate) struct Continuations {
    state: Mutex<State>,
}

impl Continuations {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `call`, approved, was sent upstream as request `id`.
    pub(crate) fn sent(&self, id: &Value, call: ToolCall) {
        self.lock().in_flight.insert(jsonrpc::id_key(id), call);
    }

    /// The upstream answered request `id`; remembers its `requestState` if
    /// it answered an approved call with `input_required`.
    pub(crate) fn answered(&self, id: &Value, body: &Map<String, Value>) {
        let mut state = self.lock();
        let Some(call) = state.in_flight.remove(&jsonrpc::id_key(id)) else {
            return;
        };
        let result = body.get("result");
        let input_required = result
            .and_then(|r| r.get("resultType"))
            .and_then(Value::as_str)
            == Some("input_required");
        let Some(request_state) = result
            .filter(|_| input_required)
            .and_then(|r| r.get("requestState"))
            .and_then(Value::as_str)
        else {
            return;
        };
        if state.order.len() >= REMEMBERED
            && let Some(oldest) = state.order.pop_front()
        {
            state.rounds.remove(&oldest);
        }
        state.order.push_back(request_state.to_owned());
        state.rounds.insert(request_state.to_owned(), call);
    }

    /// Whether `params` continue an approved call: its `requestState` was
    /// issued by the upstream for that call and the tool and arguments are
    /// the same. Each state continues once.
    pub(crate) fn take(&self, params: Option<&Value>, call: &ToolCall) -> bool {
        let Some(request_state) = params
            .and_then(|p| p.get("requestState"))
            .and_then(Value::as_str)
        else {
            return false;
        };
        let mut state = self.lock();
        match state.rounds.get(request_state) {
            Some(approved) if approved == call => {
                state.rounds.remove(request_state);
                state.order.retain(|s| s != request_state);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use serde_json::json;

    use super::*;

    fn call(path: &str) -> ToolCall {
        ToolCall::from_params(Some(&json!({"name": "write", "arguments": {"path": path}}))).unwrap()
    }

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn only_the_same_call_continues_a_round_the_server_opened_and_only_once() {
        let c = Continuations::default();
        c.sent(&json!(1), call("/a"));
        c.answered(
            &json!(1),
            &body(json!({"result": {"resultType": "input_required", "requestState": "s1"}})),
        );
        let retry = json!({"requestState": "s1"});
        assert!(!c.take(Some(&retry), &call("/b")), "other arguments");
        assert!(
            !c.take(Some(&json!({"requestState": "s2"})), &call("/a")),
            "unknown state"
        );
        assert!(c.take(Some(&retry), &call("/a")));
        assert!(!c.take(Some(&retry), &call("/a")), "used up");
    }

    #[test]
    fn complete_answers_and_unapproved_ids_open_nothing() {
        let c = Continuations::default();
        c.sent(&json!(1), call("/a"));
        c.answered(&json!(1), &body(json!({"result": {"content": []}})));
        c.answered(
            &json!(2),
            &body(json!({"result": {"resultType": "input_required", "requestState": "s"}})),
        );
        assert!(!c.take(Some(&json!({"requestState": "s"})), &call("/a")));
    }
}
