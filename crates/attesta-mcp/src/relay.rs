//! The relay loop: client ↔ proxy ↔ upstream, and the process lifecycle.
//!
//! Three tasks move bytes: one reads the client, one reads the upstream, and
//! one writer per destination owns the pipe so that writes never interleave.
//! The caller injects the shutdown trigger (signals in the CLI, a future in
//! tests).

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::future::Future;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinSet;

use crate::ProxyError;
use crate::gate::{ToolCall, ToolGate, ToolHints, denial_result};
use crate::jsonrpc::{self, Message};
use crate::upstream;

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
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(2),
            gate: None,
        }
    }
}

/// What both readers share.
#[derive(Debug)]
struct Links {
    /// Lines for the client's stdout (one writer task owns the pipe).
    to_client: mpsc::Sender<Vec<u8>>,
    /// Lines for the upstream's stdin (one writer task owns the pipe).
    to_upstream: mpsc::Sender<Vec<u8>>,
    /// `tools/call` requests the upstream has not answered yet, by id key:
    /// they get an error if the upstream dies.
    pending: Mutex<HashMap<String, Value>>,
    /// Decides `tools/call` requests.
    gate: Option<Arc<ToolGate>>,
    /// The client's `initialize` `clientInfo.name`: the default agent id.
    client_name: Mutex<Option<String>>,
    /// Ids of client `tools/list` requests, to read their results.
    tools_list_ids: Mutex<HashSet<String>>,
    /// Annotations from `tools/list` results, by tool name.
    hints: Mutex<HashMap<String, ToolHints>>,
}

impl Links {
    async fn send_client(&self, line: Vec<u8>) {
        // A closed client stdout is not an error for the relay: the client
        // is gone and its EOF on stdin ends the session.
        let _ = self.to_client.send(line).await;
    }

    async fn send_upstream(&self, line: Vec<u8>) {
        // A dead upstream is noticed through its exit status.
        let _ = self.to_upstream.send(line).await;
    }

    /// Answers every request the upstream will never answer.
    async fn fail_pending(&self, status: ExitStatus) {
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
            self.send_client(jsonrpc::error_line(&id, jsonrpc::INTERNAL_ERROR, &message))
                .await;
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
    let links = Arc::new(Links {
        to_client,
        to_upstream,
        pending: Mutex::new(HashMap::new()),
        gate: options.gate.clone(),
        client_name: Mutex::new(None),
        tools_list_ids: Mutex::new(HashSet::new()),
        hints: Mutex::new(HashMap::new()),
    });
    let mut upstream_reader = tokio::spawn(upstream_loop(stdout, Arc::clone(&links)));

    let upstream_exit = {
        let client = client_loop(client_in, Arc::clone(&links));
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

/// Reads one line at a time (bytes up to and including `\n`); `None` at EOF
/// or on a read error. A last line without `\n` gets one, so the peer can
/// frame it.
async fn next_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    match reader.read_until(b'\n', &mut line).await {
        Ok(0) => None,
        Ok(_) => {
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            Some(line)
        }
        Err(err) => {
            eprintln!("attesta mcp: reading failed, treating it as end of input: {err}");
            None
        }
    }
}

/// Client → upstream until the client's EOF. Decisions run in their own
/// tasks so other traffic keeps flowing while a human is asked; at EOF the
/// decisions in progress are finished (the upstream may still answer them).
async fn client_loop<R: AsyncRead + Unpin>(input: R, links: Arc<Links>) {
    let mut reader = BufReader::new(input);
    let mut decisions = JoinSet::new();
    while let Some(line) = next_line(&mut reader).await {
        while decisions.try_join_next().is_some() {}
        match jsonrpc::classify(&line) {
            Message::Blank => {}
            Message::Malformed => {
                links
                    .send_client(jsonrpc::error_line(
                        &Value::Null,
                        jsonrpc::PARSE_ERROR,
                        "parse error: the line is not valid JSON; send one JSON-RPC message per line",
                    ))
                    .await;
            }
            Message::NotAnObject => {
                links
                    .send_client(jsonrpc::error_line(
                        &Value::Null,
                        jsonrpc::INVALID_REQUEST,
                        "invalid request: send one JSON-RPC object per line (MCP has no batches)",
                    ))
                    .await;
            }
            Message::Request { id, method, body } => match method.as_str() {
                "tools/call" => {
                    if let Some(task) = tools_call(&links, id, &body, line).await {
                        decisions.spawn(task);
                    }
                }
                "tools/list" => {
                    links
                        .tools_list_ids
                        .lock()
                        .await
                        .insert(jsonrpc::id_key(&id));
                    links.send_upstream(line).await;
                }
                "initialize" => {
                    let name = body
                        .get("params")
                        .and_then(|p| p.get("clientInfo"))
                        .and_then(|c| c.get("name"))
                        .and_then(Value::as_str);
                    if let Some(name) = name {
                        *links.client_name.lock().await = Some(name.to_owned());
                    }
                    links.send_upstream(line).await;
                }
                _ => links.send_upstream(line).await,
            },
            Message::Notification { method } if method == "tools/call" && links.gate.is_some() => {
                // A call nobody waits for cannot be denied to anyone; never
                // let it through unchecked, and never answer a notification.
                eprintln!(
                    "attesta mcp: dropped a tools/call notification (no id); tools/call must be \
                     a request"
                );
            }
            Message::Notification { .. } | Message::Response { .. } | Message::Other => {
                links.send_upstream(line).await;
            }
        }
    }
    while decisions.join_next().await.is_some() {}
}

/// Handles one client `tools/call` request: forwards it at once without a
/// gate, answers `-32602` for bad params, and otherwise returns the task
/// that decides it.
async fn tools_call(
    links: &Arc<Links>,
    id: Value,
    body: &serde_json::Map<String, Value>,
    line: Vec<u8>,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let Some(gate) = links.gate.clone() else {
        links.pending.lock().await.insert(jsonrpc::id_key(&id), id);
        links.send_upstream(line).await;
        return None;
    };
    let call = match ToolCall::from_params(body.get("params")) {
        Ok(call) => call,
        Err(message) => {
            links
                .send_client(jsonrpc::error_line(&id, jsonrpc::INVALID_PARAMS, &message))
                .await;
            return None;
        }
    };
    let key = jsonrpc::id_key(&id);
    links.pending.lock().await.insert(key.clone(), id.clone());
    let links = Arc::clone(links);
    Some(async move {
        let hints = links
            .hints
            .lock()
            .await
            .get(&call.name)
            .copied()
            .unwrap_or_default();
        let client_name = links.client_name.lock().await.clone();
        let decision = gate.decide(&call, hints, client_name.as_deref()).await;
        if decision.is_approved() {
            // Still pending unless the upstream died meanwhile (then the
            // client already has its error).
            if links.pending.lock().await.contains_key(&key) {
                links.send_upstream(line).await;
            }
        } else if links.pending.lock().await.remove(&key).is_some() {
            eprintln!(
                "attesta mcp: [{verdict}] {tool} (risk: {level}, score: {score:.2})",
                verdict = decision.verdict,
                tool = call.name,
                level = decision.risk.level,
                score = decision.risk.score,
            );
            let result = denial_result(&call.name, &decision);
            links.send_client(jsonrpc::result_line(&id, &result)).await;
        }
    })
}

/// Upstream → client until the upstream's EOF.
async fn upstream_loop<R: AsyncRead + Unpin>(output: R, links: Arc<Links>) {
    let mut reader = BufReader::new(output);
    while let Some(line) = next_line(&mut reader).await {
        if let Message::Response { id, body } = jsonrpc::classify(&line) {
            let key = jsonrpc::id_key(&id);
            links.pending.lock().await.remove(&key);
            if links.tools_list_ids.lock().await.remove(&key) {
                remember_hints(&links, &body).await;
            }
        }
        links.send_client(line).await;
    }
}

/// Records the annotations of every tool in a `tools/list` result (pages
/// add up; a tool listed again replaces its old hints).
async fn remember_hints(links: &Links, body: &serde_json::Map<String, Value>) {
    let Some(tools) = body
        .get("result")
        .and_then(|r| r.get("tools"))
        .and_then(Value::as_array)
    else {
        return;
    };
    let mut hints = links.hints.lock().await;
    for (name, tool_hints) in tools.iter().filter_map(ToolHints::from_tool) {
        hints.insert(name, tool_hints);
    }
}
