//! The state the relay's tasks share: the two outgoing queues, requests
//! waiting for answers, and what the proxy has learned about its peers.

use std::collections::HashMap;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::batch::{Batches, Collected};
use crate::continuation::Continuations;
use crate::gate::ToolGate;
use crate::jsonrpc;
use crate::outbound::Outbound;
use crate::peers::PeerFacts;
use crate::pinning::Pinning;
use crate::route::{CallRoute, Retry};
use crate::tools::ToolBook;

/// Which client requests' answers the proxy reads on their way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watched {
    /// `initialize` or `server/discover`: the version and server name.
    Handshake,
    /// `tools/list`: tool definitions, annotations and pins; `first` when
    /// the request had no cursor (a new listing starts).
    ToolsList {
        /// The request started a listing.
        first: bool,
    },
}

/// Shared by the client reader, the upstream reader and the decision tasks.
#[derive(Debug)]
pub(crate) struct Links {
    /// Lines for the client's stdout (one writer task owns the pipe).
    pub(crate) to_client: mpsc::Sender<Vec<u8>>,
    /// Lines for the upstream's stdin (one writer task owns the pipe).
    pub(crate) to_upstream: mpsc::Sender<Vec<u8>>,
    /// Client requests not answered yet whose answer the proxy owes if the
    /// upstream dies (`tools/call`s being decided or relayed), by id key.
    pending: Mutex<HashMap<String, Value>>,
    /// Decides `tools/call` requests; `None` relays them unchecked.
    pub(crate) gate: Option<Arc<ToolGate>>,
    /// What the handshake said.
    pub(crate) facts: Mutex<PeerFacts>,
    /// Client requests whose answers the proxy reads, by id key.
    watched: Mutex<HashMap<String, Watched>>,
    /// Tool definitions and pin state.
    pub(crate) tools: ToolBook,
    /// Where tool definitions are pinned, if anywhere.
    pub(crate) pinning: Option<Pinning>,
    /// Requests the proxy itself sent to the client (approval forms).
    pub(crate) ask_client: Outbound,
    /// Requests the proxy itself sent to the upstream (its own listing).
    pub(crate) ask_upstream: Outbound,
    /// Approved calls the server may continue with its own rounds.
    pub(crate) continuations: Continuations,
    /// Calls being decided, by the id their answer goes to.
    calls: Mutex<HashMap<String, Arc<CallRoute>>>,
    /// `requestState`s of `input_required` answers awaiting the retry.
    retries: SyncMutex<HashMap<String, oneshot::Sender<Retry>>>,
    /// Batches (protocol 2025-03-26) whose answers are being collected.
    pub(crate) batches: Batches,
    /// How often a call waiting for a human sends `notifications/progress`.
    pub(crate) keepalive: Duration,
    /// Permits for calls being scored and audited. When all are taken the
    /// client reader waits (backpressure), so a flood of calls cannot pile
    /// up unbounded work; a call gives its permit back while it waits for a
    /// human, so answers to approval forms are always read.
    deciding: Arc<Semaphore>,
    /// Calls waiting for a human right now; past [`MAX_AWAITING_HUMAN`]
    /// further ones are denied instead of queued.
    awaiting_human: std::sync::atomic::AtomicUsize,
}

/// How many calls may be scored and audited at once.
pub(crate) const MAX_DECIDING: usize = 64;
/// How many calls may wait for a human at once.
pub(crate) const MAX_AWAITING_HUMAN: usize = 64;

impl Links {
    pub(crate) fn new(
        to_client: mpsc::Sender<Vec<u8>>,
        to_upstream: mpsc::Sender<Vec<u8>>,
        gate: Option<Arc<ToolGate>>,
        pinning: Option<Pinning>,
        keepalive: Duration,
    ) -> Self {
        Self {
            to_client,
            to_upstream,
            pending: Mutex::new(HashMap::new()),
            gate,
            facts: Mutex::new(PeerFacts::default()),
            watched: Mutex::new(HashMap::new()),
            tools: ToolBook::default(),
            pinning,
            ask_client: Outbound::default(),
            ask_upstream: Outbound::default(),
            continuations: Continuations::default(),
            calls: Mutex::new(HashMap::new()),
            retries: SyncMutex::new(HashMap::new()),
            batches: Batches::default(),
            keepalive,
            deciding: Arc::new(Semaphore::new(MAX_DECIDING)),
            awaiting_human: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A permit to decide one call; waits while [`MAX_DECIDING`] are busy.
    pub(crate) async fn permit_to_decide(&self) -> Option<OwnedSemaphorePermit> {
        // The semaphore is never closed, so this only fails if it were.
        Arc::clone(&self.deciding).acquire_owned().await.ok()
    }

    /// Counts one more call waiting for a human, unless
    /// [`MAX_AWAITING_HUMAN`] already are; the guard counts it out again.
    pub(crate) fn begin_awaiting_human(&self) -> Option<AwaitingHuman<'_>> {
        use std::sync::atomic::Ordering;
        self.awaiting_human
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_AWAITING_HUMAN).then_some(n + 1)
            })
            .ok()
            .map(|_| AwaitingHuman { links: self })
    }

    /// Sends a line to the client as it is (requests, notifications, and
    /// answers that are not part of a batch).
    pub(crate) async fn send_client(&self, line: Vec<u8>) {
        // A closed client stdout is not an error for the relay: the client
        // is gone and its EOF on stdin ends the session.
        let _ = self.to_client.send(line).await;
    }

    /// Sends the answer to request `id` to the client, inside its batch if
    /// it came in one.
    pub(crate) async fn answer_client(&self, id: &Value, line: Vec<u8>) {
        match self.batches.collect(&jsonrpc::id_key(id), line) {
            Collected::Alone(line) | Collected::Complete(line) => self.send_client(line).await,
            Collected::Held => {}
        }
    }

    /// Request `id` gets no answer (the client cancelled it): its batch,
    /// if any, must not wait for one.
    pub(crate) async fn never_answer(&self, id: &Value) {
        self.answered(id).await;
        if let Some(batch) = self.batches.skip(&jsonrpc::id_key(id)) {
            self.send_client(batch).await;
        }
    }

    pub(crate) async fn send_upstream(&self, line: Vec<u8>) {
        // A dead upstream is noticed through its exit status.
        let _ = self.to_upstream.send(line).await;
    }

    /// Owes the client an answer to `id` if the upstream dies.
    pub(crate) async fn owe(&self, id: &Value) {
        self.pending
            .lock()
            .await
            .insert(jsonrpc::id_key(id), id.clone());
    }

    /// `id` has its answer; returns whether it was still owed.
    pub(crate) async fn answered(&self, id: &Value) -> bool {
        self.pending
            .lock()
            .await
            .remove(&jsonrpc::id_key(id))
            .is_some()
    }

    /// Whether an answer to `id` is still owed.
    pub(crate) async fn owes(&self, id: &Value) -> bool {
        self.pending.lock().await.contains_key(&jsonrpc::id_key(id))
    }

    /// Answers every request the upstream will never answer.
    pub(crate) async fn fail_pending(&self, status: ExitStatus) {
        let pending: Vec<Value> = self
            .pending
            .lock()
            .await
            .drain()
            .map(|(_, id)| id)
            .collect();
        let message = format!(
            "the upstream MCP server exited ({status}) before answering this request; \
             restart the MCP server and retry"
        );
        for id in pending {
            let line = jsonrpc::error_line(&id, jsonrpc::INTERNAL_ERROR, &message);
            self.answer_client(&id, line).await;
        }
        // Nothing more will come: send what partial batches hold.
        for batch in self.batches.drain() {
            self.send_client(batch).await;
        }
    }

    /// Reads the answer to client request `id` on its way back.
    pub(crate) async fn watch(&self, id: &Value, what: Watched) {
        self.watched.lock().await.insert(jsonrpc::id_key(id), what);
    }

    /// Whether (and why) the answer to `id` is read; forgets it.
    pub(crate) async fn unwatch(&self, id: &Value) -> Option<Watched> {
        self.watched.lock().await.remove(&jsonrpc::id_key(id))
    }

    pub(crate) async fn register_call(&self, route: Arc<CallRoute>) {
        let key = jsonrpc::id_key(&route.reply_id());
        self.calls.lock().await.insert(key, route);
    }

    pub(crate) async fn call(&self, id: &Value) -> Option<Arc<CallRoute>> {
        self.calls.lock().await.get(&jsonrpc::id_key(id)).cloned()
    }

    pub(crate) async fn unregister_call(&self, id: &Value) {
        self.calls.lock().await.remove(&jsonrpc::id_key(id));
    }

    /// The client is gone: every call still being decided is withdrawn
    /// (nobody could receive its answer), those already sent upstream stay.
    pub(crate) async fn withdraw_all(&self) {
        let routes: Vec<Arc<CallRoute>> = self.calls.lock().await.values().cloned().collect();
        for route in routes {
            route.cancel_unless_forwarded().await;
        }
    }

    /// A call now answers a retry with a new id.
    pub(crate) async fn rekey_call(&self, old: &Value, new: &Value) {
        {
            let mut calls = self.calls.lock().await;
            if let Some(route) = calls.remove(&jsonrpc::id_key(old)) {
                calls.insert(jsonrpc::id_key(new), route);
            }
        }
        self.owe(new).await;
    }

    pub(crate) fn await_retry(&self, state: String, waiter: oneshot::Sender<Retry>) {
        self.lock_retries().insert(state, waiter);
    }

    pub(crate) fn forget_retry(&self, state: &str) {
        self.lock_retries().remove(state);
    }

    /// The call waiting for the retry that carries `state`, if any.
    pub(crate) fn take_retry(&self, state: &str) -> Option<oneshot::Sender<Retry>> {
        self.lock_retries().remove(state)
    }

    fn lock_retries(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Retry>>> {
        self.retries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One call counted as waiting for a human (see
/// [`Links::begin_awaiting_human`]).
#[derive(Debug)]
pub(crate) struct AwaitingHuman<'a> {
    links: &'a Links,
}

impl Drop for AwaitingHuman<'_> {
    fn drop(&mut self) {
        self.links
            .awaiting_human
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}
