//! One client `tools/call`, from arrival to its answer: validated, decided
//! while other traffic flows, then forwarded to the upstream or answered
//! with a denial (or, if the client cancelled it, neither).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::gate::{ToolCall, ToolGate, denial_result};
use crate::jsonrpc;
use crate::links::Links;
use crate::peers::CallPeer;
use crate::route::{CallRoute, Retry, STATE_PREFIX};

/// The most `tools/list` pages the proxy reads when it lists tools itself.
const MAX_LIST_PAGES: usize = 100;
/// How long the proxy waits for each page of its own `tools/list`.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles one client `tools/call` request. Without a gate it is relayed at
/// once; bad params get `-32602`; a retry carrying the proxy's
/// `requestState` goes to the call waiting for it; otherwise the returned
/// task decides the call.
pub(crate) async fn tools_call(
    links: &Arc<Links>,
    id: Value,
    body: &Map<String, Value>,
    line: Vec<u8>,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let Some(gate) = links.gate.clone() else {
        links.owe(&id).await;
        links.send_upstream(line).await;
        return None;
    };
    let params = body.get("params");
    if let Some(state) = params
        .and_then(|p| p.get("requestState"))
        .and_then(Value::as_str)
        .filter(|s| s.starts_with(STATE_PREFIX))
    {
        deliver_retry(links, state, id, body).await;
        return None;
    }
    let call = match ToolCall::from_params(params) {
        Ok(call) => call,
        Err(message) => {
            let line = jsonrpc::error_line(&id, jsonrpc::INVALID_PARAMS, &message);
            links.answer_client(&id, line).await;
            return None;
        }
    };
    if links.continuations.take(params, &call) {
        // The server's own next round of a call the human approved.
        eprintln!(
            "attesta mcp: `{}` continues an approved call (the server asked the client for \
             input); relayed without asking again",
            call.name
        );
        links.owe(&id).await;
        links.continuations.sent(&id, call);
        links.send_upstream(line).await;
        return None;
    }
    let peer = CallPeer::of(params, &*links.facts.lock().await);
    // Backpressure: the client reader waits here while the proxy is busy
    // deciding as many calls as it decides at once.
    let permit = links.permit_to_decide().await;
    links.owe(&id).await;
    let route = Arc::new(CallRoute::new(
        Arc::clone(links),
        call,
        peer,
        id,
        body,
        line,
        permit,
    ));
    links.register_call(Arc::clone(&route)).await;
    Some(decide(Arc::clone(links), gate, route))
}

/// Hands a retry to the call that answered `input_required` with `state`.
async fn deliver_retry(links: &Links, state: &str, id: Value, body: &Map<String, Value>) {
    let retry = Retry {
        id: id.clone(),
        body: body.clone(),
    };
    let delivered = match links.take_retry(state) {
        Some(waiter) => waiter.send(retry).is_ok(),
        None => false,
    };
    if !delivered {
        let line = jsonrpc::error_line(
            &id,
            jsonrpc::INVALID_PARAMS,
            "invalid params: this `requestState` is not one the Attesta proxy is waiting for \
             (the approval expired, was cancelled or was already answered); call the tool \
             again without `requestState` and `inputResponses`",
        );
        links.answer_client(&id, line).await;
    }
}

async fn decide(links: Arc<Links>, gate: Arc<ToolGate>, route: Arc<CallRoute>) {
    let call = route.call();
    list_tools_if_unseen(&links, &route).await;
    let hints = crate::pinning::hints(&links, &call.name).await;
    let client = route.peer().client_name.clone();
    let mut ctx = gate.context(call, hints, client.as_deref());
    if !links.tools.lists(&call.name).await {
        // Never forwarded: a server that matches names loosely (trimming,
        // folding case, normalising) could run a tool the gate never saw.
        ctx = ctx.with_trusted_refusal(unlisted(&call.name, &links.tools.names().await));
    }
    let deciding = gate.engine().evaluate(&ctx);
    let decision = route.scope(keep_alive(&links, &route, deciding)).await;
    let id = route.reply_id();
    if decision.is_approved() {
        if links.owes(&id).await && !route.forward_unless_cancelled(&links).await {
            links.never_answer(&id).await;
            eprintln!(
                "attesta mcp: `{tool}` was approved, but the client had cancelled it; it was \
                 not run",
                tool = call.name
            );
        }
    } else if route.is_cancelled() {
        // The client gave up on it: no answer (cancellation rules), and the
        // audit record already says the approval was cancelled.
        links.never_answer(&id).await;
        eprintln!(
            "attesta mcp: the client cancelled `{tool}` while a human was asked; it was not \
             run (audit entry {audit})",
            tool = call.name,
            audit = decision.audit_entry_id.as_deref().unwrap_or("none"),
        );
    } else if links.answered(&id).await {
        eprintln!(
            "attesta mcp: [{verdict}] {tool} (risk: {level}, score: {score:.2})",
            verdict = decision.verdict,
            tool = call.name,
            level = decision.risk.level,
            score = decision.risk.score,
        );
        let mut result = denial_result(&call.name, &decision);
        if route.peer().modern_meta.is_some() {
            // 2026-07-28 results say which kind they are.
            result["resultType"] = json!("complete");
        }
        links
            .answer_client(&id, jsonrpc::result_line(&id, &result))
            .await;
    }
    links.unregister_call(&id).await;
    route.release_permit();
}

/// Why a call to `name` is refused when the upstream lists only `listed`.
fn unlisted(name: &str, listed: &[String]) -> String {
    let shown = name.escape_debug();
    if listed.is_empty() {
        return format!(
            "the MCP server did not list any tools (or did not answer tools/list), so the call \
             to `{shown}` was not sent; a tool call must name a tool the server lists"
        );
    }
    let key = attesta::names::fold(name);
    let resembles = listed.iter().find(|l| attesta::names::fold(l) == key);
    let mut reason = format!(
        "the MCP server did not list a tool named exactly `{shown}`, so the call was not sent \
         (a server that matches names loosely could run a different tool than the one judged)"
    );
    match resembles {
        Some(listed) => {
            let _ = write!(
                reason,
                "; it resembles the listed tool `{listed}`: call that name exactly"
            );
        }
        None => reason.push_str("; call one of the tools the server lists, by its exact name"),
    }
    reason
}

/// Runs `work`, sending `notifications/progress` every keep-alive period
/// while the call's request carries a progress token, so the client does not
/// time out while a human reads the prompt.
async fn keep_alive<F: Future>(links: &Links, route: &CallRoute, work: F) -> F::Output {
    tokio::pin!(work);
    let period = links.keepalive;
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    let mut progress: u64 = 0;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticks.tick() => {
                let Some(token) = route.progress_token() else { continue };
                progress += 1;
                let params = json!({
                    "progressToken": token,
                    "progress": progress,
                    "message": format!(
                        "waiting for a human to approve the tool call `{}`",
                        route.call().name
                    ),
                });
                links
                    .send_client(jsonrpc::notification_line("notifications/progress", &params))
                    .await;
            }
        }
    }
}

/// Before the first call is scored, the proxy needs the tool definitions
/// (annotations raise risk; pins catch changed tools). If the client has
/// not listed the tools yet, the proxy lists them itself, once.
async fn list_tools_if_unseen(links: &Links, route: &CallRoute) {
    if links.tools.fresh().await {
        return;
    }
    let _one_at_a_time = links.tools.listing.lock().await;
    if links.tools.fresh().await || !links.tools.first_listing_attempt() {
        return;
    }
    let mut cursor: Option<Value> = None;
    for page in 0..MAX_LIST_PAGES {
        let mut params = Map::new();
        if let Some(cursor) = cursor.take() {
            params.insert("cursor".to_owned(), cursor);
        }
        if let Some(meta) = &route.peer().modern_meta {
            params.insert("_meta".to_owned(), Value::Object(meta.clone()));
        }
        let (id, line, answer) = links
            .ask_upstream
            .request("tools/list", &Value::Object(params));
        links.send_upstream(line).await;
        let result = match tokio::time::timeout(LIST_TIMEOUT, answer).await {
            Ok(Ok(mut answer)) => answer.remove("result"),
            _ => None,
        };
        links.ask_upstream.forget(&id);
        let Some(result) = result else {
            eprintln!(
                "attesta mcp: warning: the upstream did not list its tools; `{}` is scored \
                 without its annotations or pin",
                route.call().name
            );
            return;
        };
        crate::pinning::read_tools_list(links, &result, page == 0).await;
        cursor = result.get("nextCursor").filter(|c| !c.is_null()).cloned();
        if cursor.is_none() {
            return;
        }
    }
}
