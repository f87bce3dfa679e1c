//! Asking the human where the human is: through the MCP client when it can
//! show a form, else at the proxy's terminal, else nowhere (deny).
//!
//! The engine is built once with an [`McpChannel`]; each `tools/call` runs
//! its decision inside [`CallRoute::scope`], so the channel knows which
//! client request it is asking for, how that client can be reached, and
//! whether the call has been cancelled meanwhile. Outside a call (no route
//! set) the channel is just its fallback.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use attesta::channel::{Channel, ChannelError, Principal, Prompt, Response};
use serde_json::{Map, Value, json};
use tokio::sync::{oneshot, watch};

use crate::elicit;
use crate::gate::ToolCall;
use crate::jsonrpc;
use crate::links::{Links, MAX_AWAITING_HUMAN};
use crate::peers::{CallPeer, Reach};

tokio::task_local! {
    static ROUTE: Arc<CallRoute>;
}

/// The key of the proxy's form in an `input_required` result.
pub(crate) const INPUT_KEY: &str = "attesta_approval";
/// What every `requestState` the proxy issues starts with.
pub(crate) const STATE_PREFIX: &str = "attesta:";

/// The channel the gateway's engine uses: the calling client's form when it
/// has one, else `fallback` (the policy's terminal channel), else nothing.
#[derive(Debug)]
pub struct McpChannel {
    fallback: Option<Arc<dyn Channel>>,
}

impl McpChannel {
    /// A channel that falls back to `fallback` when the client cannot be
    /// asked (typically the terminal channel; `None` denies instead).
    pub fn new(fallback: Option<Arc<dyn Channel>>) -> Self {
        Self { fallback }
    }

    async fn ask_fallback(
        &self,
        prompt: &Prompt,
        why_not_client: &str,
    ) -> Result<Response, ChannelError> {
        let Some(fallback) = &self.fallback else {
            return Err(ChannelError::Unavailable(format!(
                "{why_not_client}, and no other approval channel is configured"
            )));
        };
        fallback.ask(prompt).await.map_err(|err| match err {
            ChannelError::Unavailable(reason) => {
                ChannelError::Unavailable(format!("{why_not_client}; {reason}"))
            }
            other => other,
        })
    }
}

#[async_trait]
impl Channel for McpChannel {
    fn name(&self) -> &'static str {
        "mcp"
    }

    async fn ask(&self, prompt: &Prompt) -> Result<Response, ChannelError> {
        let Ok(route) = ROUTE.try_with(Arc::clone) else {
            return self
                .ask_fallback(prompt, "this prompt does not belong to an MCP call")
                .await;
        };
        if route.is_cancelled() {
            return Err(ChannelError::Cancelled);
        }
        // Waiting for a human holds no deciding capacity (answers to the
        // form must still be read), but only so many calls may wait.
        route.release_permit();
        let Some(_counted) = route.links.begin_awaiting_human() else {
            return Err(ChannelError::Unavailable(format!(
                "{MAX_AWAITING_HUMAN} tool calls are already waiting for a human through this \
                 gateway; answer or cancel some of them, then call the tool again"
            )));
        };
        // Whichever way the human is asked, a cancellation (the client's,
        // or the client going away) stops the asking.
        tokio::select! {
            answer = self.ask_for(&route, prompt) => answer,
            () = route.until_cancelled() => Err(ChannelError::Cancelled),
        }
    }
}

impl McpChannel {
    async fn ask_for(&self, route: &CallRoute, prompt: &Prompt) -> Result<Response, ChannelError> {
        let approvers = prompt.approver.as_ref().map_or(1, |slot| slot.of);
        if approvers > 1 {
            // One MCP client is one user: it cannot supply independent
            // approvers. A terminal with configured approvers can.
            let why = format!(
                "this call needs {approvers} distinct approvers, and the MCP client can only \
                 reach its one user (an approval server that reaches several people is planned)"
            );
            return self.ask_fallback(prompt, &why).await;
        }
        match route.peer.reach {
            Reach::Request { form_mode } => route.elicit(prompt, form_mode).await,
            Reach::InputRequired => route.input_required(prompt).await,
            Reach::None => {
                self.ask_fallback(
                    prompt,
                    "the MCP client did not declare form elicitation, so it cannot show an \
                     approval form",
                )
                .await
            }
        }
    }
}

/// A client's retry of a call answered with `input_required`.
#[derive(Debug)]
pub(crate) struct Retry {
    /// The retry's request id (a new one, as the protocol requires).
    pub(crate) id: Value,
    /// The retry message.
    pub(crate) body: Map<String, Value>,
}

/// Where a call's answer goes and what it is waiting for.
#[derive(Debug)]
struct Reply {
    /// The request id the final answer goes to (changes on a retry).
    id: Value,
    /// The line sent upstream if the call is approved.
    forward: Vec<u8>,
    /// The progress token of the request being answered, if it sent one.
    progress_token: Option<Value>,
}

/// One `tools/call` while it is being decided.
#[derive(Debug)]
pub(crate) struct CallRoute {
    links: Arc<Links>,
    call: ToolCall,
    peer: CallPeer,
    reply: Mutex<Reply>,
    cancelled: watch::Sender<bool>,
    /// Whether the call went to the upstream; held while it is being sent,
    /// so a cancellation is either consumed here or relayed after the call.
    forwarded: tokio::sync::Mutex<bool>,
    /// The call's share of the proxy's deciding capacity, given back when
    /// it starts waiting for a human (or when it is done).
    permit: Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

impl CallRoute {
    pub(crate) fn new(
        links: Arc<Links>,
        call: ToolCall,
        peer: CallPeer,
        id: Value,
        body: &Map<String, Value>,
        line: Vec<u8>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            permit: Mutex::new(permit),
            links,
            call,
            peer,
            reply: Mutex::new(Reply {
                id,
                forward: line,
                progress_token: progress_token(body),
            }),
            cancelled: watch::Sender::new(false),
            forwarded: tokio::sync::Mutex::new(false),
        }
    }

    /// Gives the call's deciding permit back (it waits for a human now, or
    /// is done).
    pub(crate) fn release_permit(&self) {
        drop(
            self.permit
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// The call being decided.
    pub(crate) fn call(&self) -> &ToolCall {
        &self.call
    }

    /// Sends the call upstream unless the client cancelled it; returns
    /// whether it was sent.
    pub(crate) async fn forward_unless_cancelled(&self, links: &Links) -> bool {
        let mut forwarded = self.forwarded.lock().await;
        if self.is_cancelled() {
            return false;
        }
        *forwarded = true;
        links
            .continuations
            .sent(&self.reply_id(), self.call.clone());
        links.send_upstream(self.forward_line()).await;
        true
    }

    /// Withdraws the call unless it already went upstream (then the
    /// cancellation is the upstream's to handle). Returns whether the proxy
    /// took it.
    pub(crate) async fn cancel_unless_forwarded(&self) -> bool {
        let forwarded = self.forwarded.lock().await;
        if *forwarded {
            return false;
        }
        self.cancel();
        true
    }

    /// Runs `decide` with this route visible to [`McpChannel`].
    pub(crate) async fn scope<F: Future>(self: &Arc<Self>, decide: F) -> F::Output {
        ROUTE.scope(Arc::clone(self), decide).await
    }

    pub(crate) fn peer(&self) -> &CallPeer {
        &self.peer
    }

    fn reply(&self) -> std::sync::MutexGuard<'_, Reply> {
        self.reply.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The id the final answer goes to.
    pub(crate) fn reply_id(&self) -> Value {
        self.reply().id.clone()
    }

    /// The line to send upstream if approved.
    pub(crate) fn forward_line(&self) -> Vec<u8> {
        self.reply().forward.clone()
    }

    /// The progress token of the request currently waiting, if any.
    pub(crate) fn progress_token(&self) -> Option<Value> {
        self.reply().progress_token.clone()
    }

    /// The client withdrew the call (`notifications/cancelled`).
    fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    async fn until_cancelled(&self) {
        let mut watch = self.cancelled.subscribe();
        // An error means the sender is gone, which cannot happen while
        // `self` is alive; treat it as "never cancelled".
        if watch.wait_for(|cancelled| *cancelled).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Who answers a form: the client's user, as far as the proxy can tell.
    fn principal(&self) -> Principal {
        let client = self.peer.client_name.as_deref().unwrap_or("unknown-client");
        Principal {
            id: format!("mcp-user@{client}"),
            verified_by: "mcp_elicitation".to_owned(),
            weakness: Some(
                "the MCP client vouches for whoever filled in its form; the proxy cannot tell \
                 who that was"
                    .to_owned(),
            ),
        }
    }

    /// Legacy era: an `elicitation/create` request to the client while the
    /// call waits.
    async fn elicit(&self, prompt: &Prompt, form_mode: bool) -> Result<Response, ChannelError> {
        let params = elicit::form_params(prompt, form_mode);
        let (id, line, answer) = self.links.ask_client.request("elicitation/create", &params);
        let mut outstanding = Outstanding {
            links: &self.links,
            id,
            answered: false,
        };
        let started = Instant::now();
        self.links.send_client(line).await;
        let answer = tokio::select! {
            answer = answer => answer.map_err(|_| {
                ChannelError::Failed("the proxy stopped before the client answered".to_owned())
            })?,
            () = self.until_cancelled() => return Err(ChannelError::Cancelled),
        };
        outstanding.answered = true;
        let review_time = started.elapsed();
        if let Some(error) = answer.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(ChannelError::Failed(format!(
                "the MCP client could not show the approval form ({message})"
            )));
        }
        let result = answer.get("result").cloned().unwrap_or(Value::Null);
        elicit::response_from_result(prompt, &result, self.principal(), review_time)
    }

    /// Modern era: answer the call with `input_required` and wait for the
    /// client's retry carrying the form's answer.
    async fn input_required(&self, prompt: &Prompt) -> Result<Response, ChannelError> {
        let state = format!("{STATE_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let (tx, retry) = oneshot::channel();
        self.links.await_retry(state.clone(), tx);
        let _waiting = AwaitedRetry {
            links: &self.links,
            state: state.clone(),
        };
        let result = json!({
            "resultType": "input_required",
            "inputRequests": {INPUT_KEY: {
                "method": "elicitation/create",
                "params": elicit::form_params(prompt, true),
            }},
            "requestState": state,
        });
        let id = {
            let mut reply = self.reply();
            // The request is answered; no progress can be sent for it now.
            reply.progress_token = None;
            reply.id.clone()
        };
        self.links.answered(&id).await;
        let started = Instant::now();
        self.links
            .send_client(jsonrpc::result_line(&id, &result))
            .await;
        let retry = tokio::select! {
            retry = retry => retry.map_err(|_| {
                ChannelError::Failed("the proxy stopped before the client retried".to_owned())
            })?,
            () = self.until_cancelled() => return Err(ChannelError::Cancelled),
        };
        let review_time = started.elapsed();
        self.adopt(&retry).await;
        let params = retry.body.get("params");
        if ToolCall::from_params(params).as_ref() != Ok(&self.call) {
            return Err(ChannelError::Failed(
                "the retried tools/call names a different tool or arguments than the call the \
                 human was asked about; call the tool again"
                    .to_owned(),
            ));
        }
        let Some(answer) = params
            .and_then(|p| p.get("inputResponses"))
            .and_then(|r| r.get(INPUT_KEY))
        else {
            return Err(ChannelError::Failed(format!(
                "the retried tools/call carries no `inputResponses.{INPUT_KEY}`"
            )));
        };
        elicit::response_from_result(prompt, answer, self.principal(), review_time)
    }

    /// Makes the retry the request this call answers.
    async fn adopt(&self, retry: &Retry) {
        let mut forward = retry.body.clone();
        if let Some(Value::Object(params)) = forward.get_mut("params") {
            // Answers meant for the proxy, not for the upstream.
            params.remove("inputResponses");
            params.remove("requestState");
        }
        let old = {
            let mut reply = self.reply();
            reply.progress_token = progress_token(&retry.body);
            reply.forward = jsonrpc::to_line(&Value::Object(forward));
            std::mem::replace(&mut reply.id, retry.id.clone())
        };
        self.links.rekey_call(&old, &retry.id).await;
    }
}

fn progress_token(body: &Map<String, Value>) -> Option<Value> {
    body.get("params")
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get("progressToken"))
        .filter(|t| t.is_string() || t.is_number())
        .cloned()
}

/// An elicitation request sent to the client. If the asker stops waiting
/// (timeout, cancellation, shutdown) the client is told to close its form.
struct Outstanding<'a> {
    links: &'a Links,
    id: Value,
    answered: bool,
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        self.links.ask_client.forget(&self.id);
        let line = jsonrpc::notification_line(
            "notifications/cancelled",
            &json!({"requestId": self.id, "reason": "the approval is no longer needed"}),
        );
        // Best effort: a full queue or a gone client needs no notice.
        let _ = self.links.to_client.try_send(line);
    }
}

/// A `requestState` the proxy waits for; forgotten when it stops waiting.
struct AwaitedRetry<'a> {
    links: &'a Links,
    state: String,
}

impl Drop for AwaitedRetry<'_> {
    fn drop(&mut self) {
        self.links.forget_retry(&self.state);
    }
}
