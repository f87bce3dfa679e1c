//! Reading `tools/list` answers: tool definitions for the gate, and (with a
//! pin store) whether a tool changed since it was first seen.
//!
//! A changed tool is reported on stderr every time it is listed and in the
//! audit log once per change; its calls are CRITICAL until an operator
//! accepts the new definition (`attesta mcp pins accept TOOL`), which takes
//! effect at the next call because the store is read again then. If the
//! store cannot be read or written, every tool counts as changed.

use std::sync::Arc;

use serde_json::Value;

use crate::gate::ToolHints;
use crate::links::Links;
use crate::pins::{PinChange, PinStore, pin_change_message, pin_change_record};
use crate::tools::Page;

/// The pin store and the name the upstream goes by in it.
#[derive(Debug, Clone)]
pub struct Pinning {
    /// Where pins live (beside the audit log).
    pub store: Arc<PinStore>,
    /// The server's key when it does not name itself (`serverInfo.name`):
    /// typically the upstream command's file name.
    pub fallback_server: String,
}

/// Reads one `tools/list` result (one page), whoever asked for it;
/// `first` says whether the request started a listing (had no cursor).
pub(crate) async fn read_tools_list(links: &Links, result: &Value, first: bool) {
    let Some(tools) = result.get("tools").and_then(Value::as_array) else {
        return;
    };
    let last = result.get("nextCursor").is_none_or(Value::is_null);
    let names = links.tools.learn(tools, Page { first, last }).await;
    let Some(pinning) = &links.pinning else {
        return;
    };
    let server = server_name(links, pinning).await;
    let store = Arc::clone(&pinning.store);
    let observed = {
        let (server, tools) = (server.clone(), tools.clone());
        tokio::task::spawn_blocking(move || store.observe(&server, &tools)).await
    };
    let changes = match observed {
        Ok(Ok(changes)) => changes,
        Ok(Err(err)) => return pins_unusable(links, &err).await,
        Err(_) => return pins_unusable(links, &"the pin check stopped unexpectedly").await,
    };
    for name in &names {
        let change = changes.iter().find(|c| &c.tool == name);
        links
            .tools
            .set_changed(name, change.map(|c| c.seen.clone()))
            .await;
    }
    for change in &changes {
        report(links, change).await;
    }
}

async fn server_name(links: &Links, pinning: &Pinning) -> String {
    links
        .facts
        .lock()
        .await
        .server_name
        .clone()
        .unwrap_or_else(|| pinning.fallback_server.clone())
}

async fn report(links: &Links, change: &PinChange) {
    eprintln!("attesta mcp: {}", pin_change_message(change));
    if !change.newly_pending {
        return;
    }
    let Some(gate) = &links.gate else { return };
    let mut record = pin_change_record(change, gate.session_id());
    record.agent_id = links
        .facts
        .lock()
        .await
        .client_name
        .clone()
        .unwrap_or_default();
    if let Err(err) = gate.engine().audit_sink().append(record).await {
        // The call is CRITICAL either way; the operator must still hear.
        eprintln!(
            "attesta mcp: error: could not audit the change of `{}`: {err}",
            change.tool
        );
    }
}

async fn pins_unusable(links: &Links, err: &(dyn std::fmt::Display + Sync)) {
    eprintln!(
        "attesta mcp: error: tool pins unusable, so every tool call is treated as CRITICAL: {err}"
    );
    links.tools.set_all_changed().await;
}

/// The hints for `tool` at call time. A tool listed as changed is checked
/// against the store again, so an `accept` made meanwhile counts.
pub(crate) async fn hints(links: &Links, tool: &str) -> ToolHints {
    let (mut hints, seen) = links.tools.hints(tool).await;
    let (Some(seen), Some(pinning)) = (seen, &links.pinning) else {
        return hints;
    };
    let server = server_name(links, pinning).await;
    let store = Arc::clone(&pinning.store);
    let name = tool.to_owned();
    let still = tokio::task::spawn_blocking(move || store.is_changed(&server, &name, &seen)).await;
    match still {
        Ok(Ok(false)) => {
            links.tools.set_changed(tool, None).await;
            hints.definition_changed = false;
        }
        // Still changed, or the check stopped: it stays changed.
        Ok(Ok(true)) | Err(_) => {}
        Ok(Err(err)) => {
            eprintln!(
                "attesta mcp: error: cannot read the tool pins, treating `{tool}` as changed: {err}"
            );
        }
    }
    hints
}
