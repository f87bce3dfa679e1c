//! The relay loop: client ↔ proxy ↔ upstream, and the process lifecycle.
//!
//! Three tasks move bytes: one reads the client, one reads the upstream, and
//! one writer per destination owns the pipe so that writes never interleave.
//! The caller injects the shutdown trigger (signals in the CLI, a future in
//! tests).

use std::collections::HashSet;
use std::ffi::OsString;
use std::future::Future;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::ProxyError;
use crate::framing::{DEFAULT_MAX_LINE_BYTES, Frame, LineReader};
use crate::gate::ToolGate;
use crate::jsonrpc::{self, Message};
use crate::links::{Links, Watched};
use crate::outbound::Resolution;
use crate::pinning::Pinning;
use crate::{batch, call, pinning, upstream};

/// How many lines may queue for one destination before readers wait.
const QUEUE: usize = 256;
/// How long to keep reading the upstream's stdout after it exited (a
/// grandchild may still hold the pipe open).
const DRAIN: Duration = Duration::from_secs(1);

/// Tunables for [`run`].
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// After the client leaves or a signal arrives: how long the upstream
    /// gets to exit on its own after its stdin is closed, and again after
    /// SIGTERM, before SIGKILL.
    pub grace: Duration,
    /// Decides client `tools/call` requests; `None` relays them unchecked
    /// (for tests of the relay itself).
    pub gate: Option<Arc<ToolGate>>,
    /// How often a `tools/call` waiting for a human sends the client
    /// `notifications/progress` (when the call carried a progress token).
    pub keepalive: Duration,
    /// Where tool definitions are pinned; `None` turns pinning off.
    pub pinning: Option<Pinning>,
    /// The longest line (message) accepted from either side, newline
    /// included; a longer one is answered with an error and skipped
    /// without being held.
    pub max_line_bytes: usize,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(2),
            gate: None,
            keepalive: Duration::from_secs(10),
            pinning: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// Runs the upstream `argv` and relays between it and the client until the
/// client closes `client_in`, `shutdown` completes, or the upstream exits.
/// Returns the upstream's exit status.
pub async fn run<R, W, S>(
    argv: &[OsString],
    options: &RelayOptions,
    client_in: R,
    client_out: W,
    shutdown: S,
) -> Result<ExitStatus, ProxyError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    S: Future<Output = ()>,
{
    let mut child = upstream::spawn(argv)?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ProxyError::Io {
            doing: "connecting to the upstream MCP server's stdin/stdout",
            cause: std::io::Error::other("the pipes were not created"),
        });
    };
    let (close_upstream, upstream_closing) = watch::channel(false);
    let (close_client, client_closing) = watch::channel(false);
    let (to_client, client_queue) = mpsc::channel(QUEUE);
    let (to_upstream, upstream_queue) = mpsc::channel(QUEUE);
    let client_writer = tokio::spawn(write_lines(client_out, client_queue, client_closing));
    let upstream_writer = tokio::spawn(write_lines(stdin, upstream_queue, upstream_closing));
    let links = Arc::new(Links::new(
        to_client,
        to_upstream,
        options.gate.clone(),
        options.pinning.clone(),
        options.keepalive,
    ));
    let max = options.max_line_bytes;
    let mut upstream_reader = tokio::spawn(upstream_loop(stdout, Arc::clone(&links), max));

    let upstream_exit = {
        let client = client_loop(client_in, Arc::clone(&links), max);
        tokio::pin!(client, shutdown);
        tokio::select! {
            () = &mut client => None,
            () = &mut shutdown => None,
            status = child.wait() => Some(status),
        }
        // Dropping `client` here stops reading the client.
    };
    let status = if let Some(status) = upstream_exit {
        status.map_err(|source| ProxyError::Io {
            doing: "waiting for the upstream MCP server",
            cause: source,
        })?
    } else {
        // Close the upstream's stdin (after what is already queued), then
        // give it the grace period before signalling its process group.
        let _ = close_upstream.send(true);
        let _ = upstream_writer.await;
        upstream::stop(&mut child, options.grace).await?
    };
    let _ = close_upstream.send(true);
    if tokio::time::timeout(DRAIN, &mut upstream_reader)
        .await
        .is_err()
    {
        upstream_reader.abort();
    }
    links.fail_pending(status).await;
    drop(links);
    let _ = close_client.send(true);
    let _ = client_writer.await;
    Ok(status)
}

/// Completes on SIGINT, SIGTERM or SIGHUP (on other platforms: Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let kinds = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ];
        let mut streams = Vec::new();
        for kind in kinds {
            match signal(kind) {
                Ok(stream) => streams.push(stream),
                Err(err) => eprintln!("attesta mcp: warning: cannot watch a signal: {err}"),
            }
        }
        let mut waits = JoinSet::new();
        for mut stream in streams {
            waits.spawn(async move { stream.recv().await });
        }
        let _ = waits.join_next().await;
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The process exit code that mirrors `status`: its code, or 128 + the
/// signal that killed it.
pub fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from((128 + signal) & 0xff).unwrap_or(1);
        }
    }
    1
}

/// Writes queued lines to `out`, flushing after each, until the queue ends
/// or `closing` turns true and nothing is left queued.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut out: W,
    mut queue: mpsc::Receiver<Vec<u8>>,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            biased;
            line = queue.recv() => {
                let Some(line) = line else { break };
                if out.write_all(&line).await.is_err() || out.flush().await.is_err() {
                    break;
                }
            }
            () = async {
                // The guard `wait_for` returns is not `Send`; drop it here.
                let _ = closing.wait_for(|closing| *closing).await;
            } => break,
        }
    }
    let _ = out.shutdown().await;
}

/// Client → upstream until the client's EOF. Decisions run in their own
/// tasks so other traffic keeps flowing while a human is asked; at EOF the
/// decisions in progress are finished (the upstream may still answer them).
async fn client_loop<R: AsyncRead + Unpin>(input: R, links: Arc<Links>, max: usize) {
    let mut reader = LineReader::new(input, max);
    let mut decisions = JoinSet::new();
    while let Some(frame) = reader.next().await {
        while decisions.try_join_next().is_some() {}
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong { id } => {
                let message = format!(
                    "invalid request: the message is longer than the Attesta gateway's limit \
                     of {max} bytes, so it was not read or forwarded; send a smaller message, \
                     or start the gateway with a larger --max-line-bytes"
                );
                eprintln!("attesta mcp: skipped a client message over {max} bytes (id {id})");
                let error = jsonrpc::error_line(&id, jsonrpc::INVALID_REQUEST, &message);
                links.send_client(error).await;
                continue;
            }
        };
        match jsonrpc::classify(&line) {
            Message::NotAnObject => batch(&links, &line, &mut decisions).await,
            message => from_client(&links, message, line, &mut decisions).await,
        }
    }
    // Nobody is left to answer a form or receive a result.
    links.withdraw_all().await;
    while decisions.join_next().await.is_some() {}
}

/// Handles one message from the client (alone or a batch member).
async fn from_client(
    links: &Arc<Links>,
    message: Message,
    line: Vec<u8>,
    decisions: &mut JoinSet<()>,
) {
    match message {
        Message::Blank => {}
        Message::Malformed => {
            let error = jsonrpc::error_line(
                &Value::Null,
                jsonrpc::PARSE_ERROR,
                "parse error: the line is not valid JSON; send one JSON-RPC message per line",
            );
            links.send_client(error).await;
        }
        Message::NotAnObject => {
            let error = jsonrpc::error_line(
                &Value::Null,
                jsonrpc::INVALID_REQUEST,
                "invalid request: a JSON-RPC message must be an object",
            );
            links.send_client(error).await;
        }
        Message::Request { id, method, body } => match method.as_str() {
            "tools/call" => {
                if let Some(task) = call::tools_call(links, id, &body, line).await {
                    decisions.spawn(task);
                }
            }
            "tools/list" => {
                let first = body
                    .get("params")
                    .and_then(|p| p.get("cursor"))
                    .is_none_or(Value::is_null);
                links.watch(&id, Watched::ToolsList { first }).await;
                links.send_upstream(line).await;
            }
            "initialize" | "server/discover" => {
                if method == "initialize" {
                    links
                        .facts
                        .lock()
                        .await
                        .client_initialize(body.get("params"));
                }
                links.watch(&id, Watched::Handshake).await;
                links.send_upstream(line).await;
            }
            _ => links.send_upstream(line).await,
        },
        Message::Notification { method, .. } if method == "tools/call" && links.gate.is_some() => {
            // A call nobody waits for cannot be denied to anyone; never
            // let it through unchecked, and never answer a notification.
            eprintln!(
                "attesta mcp: dropped a tools/call notification (no id); tools/call must be \
                 a request"
            );
        }
        Message::Notification { method, body } if method == "notifications/cancelled" => {
            if !withdraw(links, &body).await {
                links.send_upstream(line).await;
            }
        }
        Message::Response { id, body } => {
            // The answer to the proxy's own request (an approval form) is
            // the proxy's; everything else answers the upstream.
            match links.ask_client.resolve(&id, body) {
                Resolution::Answered => {}
                Resolution::Unexpected if links.ask_upstream.waits_for(&id) => eprintln!(
                    "attesta mcp: dropped an answer from the client to request {id}, which the \
                     gateway sent to the MCP server"
                ),
                Resolution::Unexpected => eprintln!(
                    "attesta mcp: dropped a late answer from the client to request {id} (the \
                     gateway no longer waits for it)"
                ),
                Resolution::NotOurs => links.send_upstream(line).await,
            }
        }
        Message::Rejected { id, reason } => {
            eprintln!("attesta mcp: rejected a client message, not forwarded: {reason}");
            let error = jsonrpc::error_line(&id, jsonrpc::INVALID_REQUEST, &reason);
            links.answer_client(&id, error).await;
        }
        Message::Notification { .. } | Message::Other => links.send_upstream(line).await,
    }
}

/// A client's `notifications/cancelled` for a call still being decided
/// withdraws the approval (the channel stops asking; the audit record says
/// so). Returns whether the proxy took it; otherwise it is the upstream's.
async fn withdraw(links: &Links, body: &serde_json::Map<String, Value>) -> bool {
    let Some(request_id) = body.get("params").and_then(|p| p.get("requestId")) else {
        return false;
    };
    match links.call(request_id).await {
        Some(route) => route.cancel_unless_forwarded().await,
        None => false,
    }
}

/// A JSON array from the client: a batch in protocol 2025-03-26, an invalid
/// request otherwise.
async fn batch(links: &Arc<Links>, line: &[u8], decisions: &mut JoinSet<()>) {
    let allowed = links.facts.lock().await.batches_allowed();
    let members = if allowed { batch::members(line) } else { None };
    let Some(members) = members.filter(|m| !m.is_empty()) else {
        let message = if allowed {
            "invalid request: a batch must be a non-empty array of JSON-RPC messages"
        } else {
            "invalid request: send one JSON-RPC object per line; JSON-RPC batches exist only in \
             MCP protocol version 2025-03-26, and this session did not negotiate it"
        };
        let error = jsonrpc::error_line(&Value::Null, jsonrpc::INVALID_REQUEST, message);
        links.send_client(error).await;
        return;
    };
    let classified: Vec<(Message, Vec<u8>)> = members
        .into_iter()
        .map(|member| (jsonrpc::classify(&member), member))
        .collect();
    let mut keys = HashSet::new();
    let mut ready = Vec::new();
    for (message, _) in &classified {
        match message {
            Message::Request { id, .. } => {
                keys.insert(jsonrpc::id_key(id));
            }
            Message::NotAnObject | Message::Malformed => ready.push(jsonrpc::error_line(
                &Value::Null,
                jsonrpc::INVALID_REQUEST,
                "invalid request: each batch member must be a JSON-RPC object",
            )),
            _ => {}
        }
    }
    if let Some(answer) = links.batches.open(keys, ready) {
        links.send_client(answer).await;
    }
    for (message, member) in classified {
        if !matches!(message, Message::NotAnObject | Message::Malformed) {
            Box::pin(from_client(links, message, member, decisions)).await;
        }
    }
}

/// Upstream → client until the upstream's EOF.
async fn upstream_loop<R: AsyncRead + Unpin>(output: R, links: Arc<Links>, max: usize) {
    let mut reader = LineReader::new(output, max);
    while let Some(frame) = reader.next().await {
        match frame {
            Frame::Line(line) => from_upstream(&links, line).await,
            Frame::TooLong { id } => {
                eprintln!("attesta mcp: skipped an MCP server message over {max} bytes (id {id})");
                let why = format!(
                    "the MCP server's answer is longer than the Attesta gateway's limit of {max} \
                     bytes, so it was not relayed; ask for less, or start the gateway with a \
                     larger --max-line-bytes"
                );
                fail_upstream_answer(&links, &id, &why).await;
            }
        }
    }
}

/// Handles one line from the upstream: answers the proxy reads, then
/// relays the rest.
async fn from_upstream(links: &Links, line: Vec<u8>) {
    let (id, body) = match jsonrpc::classify_upstream(&line) {
        Message::Response { id, body } => (id, body),
        Message::Request { id, .. } if jsonrpc::is_own_id(&id) => {
            eprintln!(
                "attesta mcp: refused a request from the MCP server with id {id}: ids starting \
                 with `{}` are the gateway's own",
                jsonrpc::OWN_ID_PREFIX
            );
            let error = jsonrpc::error_line(
                &id,
                jsonrpc::INVALID_REQUEST,
                "invalid request: request ids starting with `attesta-` are reserved for the \
                 Attesta gateway; use another id",
            );
            links.send_upstream(error).await;
            return;
        }
        Message::Notification { method, .. } if method == "notifications/tools/list_changed" => {
            // The next call waits for a fresh listing (the proxy lists the
            // tools itself if the client does not).
            links.tools.mark_stale().await;
            links.send_client(line).await;
            return;
        }
        Message::Rejected { id, reason } => {
            eprintln!("attesta mcp: dropped an ambiguous message from the MCP server: {reason}");
            let why = format!("the MCP server sent an ambiguous answer ({reason})");
            fail_upstream_answer(links, &id, &why).await;
            return;
        }
        _ => {
            links.send_client(line).await;
            return;
        }
    };
    if jsonrpc::is_own_id(&id) {
        // The proxy's own `tools/list` is answered here; anything else in
        // its namespace (an answer to a form the proxy sent the client,
        // guessed or leaked) is not the upstream's to answer.
        let body = match jsonrpc::is_unambiguous(&line) {
            Ok(()) => body,
            Err(why) => error_answer(&format!("ambiguous answer: {why}")),
        };
        if links.ask_upstream.resolve(&id, body) != Resolution::Answered {
            eprintln!(
                "attesta mcp: dropped an answer from the upstream MCP server to request {id}: \
                 the gateway did not send it that request (the server cannot answer for the \
                 client or the human)"
            );
        }
        return;
    }
    let watched = links.unwatch(&id).await;
    if watched.is_some()
        && let Err(why) = jsonrpc::is_unambiguous(&line)
    {
        // The proxy would read one thing and the client another.
        eprintln!("attesta mcp: refused an ambiguous answer from the MCP server: {why}");
        let why = format!("the MCP server sent an ambiguous answer ({why})");
        fail_upstream_answer(links, &id, &why).await;
        return;
    }
    links.answered(&id).await;
    links.continuations.answered(&id, &body);
    match watched {
        Some(Watched::Handshake) => {
            links.facts.lock().await.server_answer(body.get("result"));
        }
        Some(Watched::ToolsList { first }) => {
            if let Some(result) = body.get("result") {
                pinning::read_tools_list(links, result, first).await;
            }
        }
        None => {}
    }
    links.answer_client(&id, line).await;
}

/// The upstream's answer to `id` could not be relayed: the client gets an
/// error for that id instead. (The upstream could send any answer to any
/// id anyway, so this gives it no new power; the proxy does not track
/// every relayed request, and a client ignores answers it does not await.)
async fn fail_upstream_answer(links: &Links, id: &Value, why: &str) {
    if id.is_null() {
        return;
    }
    if jsonrpc::is_own_id(id) {
        // The proxy's own listing: it stops waiting and scores without it.
        let _ = links.ask_upstream.resolve(id, error_answer(why));
        return;
    }
    links.unwatch(id).await;
    links.continuations.answered(id, &serde_json::Map::new());
    links.answered(id).await;
    let line = jsonrpc::error_line(id, jsonrpc::INTERNAL_ERROR, why);
    links.answer_client(id, line).await;
}

/// A JSON-RPC error answer object, for the proxy's own waiters.
fn error_answer(message: &str) -> serde_json::Map<String, Value> {
    let mut answer = serde_json::Map::new();
    answer.insert(
        "error".to_owned(),
        serde_json::json!({"code": jsonrpc::INTERNAL_ERROR, "message": message}),
    );
    answer
}
