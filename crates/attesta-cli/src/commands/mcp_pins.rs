//! `attesta mcp pins list|accept|forget`: the MCP tool pins as an operator
//! sees them.

use std::io::{self, Write as _};
use std::path::Path;
use std::process::ExitCode;

use attesta::channel::sanitize_for_display;
use attesta_mcp::pins::{AcceptOutcome, PinStore, PinnedTool, short_fingerprint};
use chrono::{DateTime, Local, Utc};
use serde_json::{Value, json};

use crate::cli::{McpPinsArgs, McpPinsCommand, PinTarget};
use crate::config;

pub(crate) fn run(args: &McpPinsArgs) -> anyhow::Result<ExitCode> {
    let store = open(args.config.as_deref())?;
    match &args.command {
        McpPinsCommand::List { json } => list(&store, *json),
        McpPinsCommand::Accept(target) => accept(&store, target),
        McpPinsCommand::Forget(target) => forget(&store, target),
    }
}

/// The pins beside the audit log of the policy `wrap` would use, found the
/// same way (`--config`, else ./attesta.yaml, else the defaults).
fn open(config: Option<&Path>) -> anyhow::Result<PinStore> {
    let (policy, _) = config::load_policy(config)?;
    Ok(PinStore::beside_audit_log(&policy.audit.path))
}

fn list(store: &PinStore, json: bool) -> anyhow::Result<ExitCode> {
    let pins = store.pins()?;
    let mut out = io::stdout().lock();
    if json {
        let items: Vec<Value> = pins.iter().map(pin_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if pins.is_empty() {
        writeln!(
            out,
            "No tools pinned in {} yet; `attesta mcp wrap` pins each tool when its server first \
             lists it.",
            store.path().display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    // Names come from MCP servers: never let one reach the terminal raw.
    let rows: Vec<(String, String, &PinnedTool)> = pins
        .iter()
        .map(|p| {
            (
                sanitize_for_display(&p.server),
                sanitize_for_display(&p.tool),
                p,
            )
        })
        .collect();
    let widest = |header: &str, names: &mut dyn Iterator<Item = &String>| {
        names
            .map(|n| n.chars().count())
            .fold(header.len(), usize::max)
    };
    let server_width = widest("SERVER", &mut rows.iter().map(|row| &row.0));
    let tool_width = widest("TOOL", &mut rows.iter().map(|row| &row.1));
    writeln!(
        out,
        "{:<server_width$}  {:<tool_width$}  {:<7}  {:<19}  ACCEPTED",
        "SERVER", "TOOL", "STATUS", "FINGERPRINT"
    )?;
    for (server, tool, p) in &rows {
        write!(
            out,
            "{server:<server_width$}  {tool:<tool_width$}  {:<7}  {:<19}  {}",
            status(p),
            short_fingerprint(&p.pin.fingerprint),
            when(p.pin.accepted_at)
        )?;
        if let Some(pending) = &p.pin.pending {
            write!(
                out,
                "  now {} since {}",
                short_fingerprint(&pending.fingerprint),
                when(pending.seen_at)
            )?;
        }
        writeln!(out)?;
    }
    let changed = pins.iter().filter(|p| p.pin.pending.is_some()).count();
    if changed > 0 {
        writeln!(
            out,
            "\n{changed} changed: their calls are CRITICAL. Review each new definition, then run \
             `attesta mcp pins accept TOOL` (with --server NAME when several servers have the \
             tool)."
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn accept(store: &PinStore, target: &PinTarget) -> anyhow::Result<ExitCode> {
    let tool = sanitize_for_display(&target.tool);
    match store.accept(&target.tool, target.server.as_deref())? {
        AcceptOutcome::Accepted {
            server,
            previous,
            fingerprint,
        } => println!(
            "Accepted the new definition of tool '{tool}' of server '{}': {fingerprint} (was \
             {previous}). Its calls are scored normally again.",
            sanitize_for_display(&server)
        ),
        AcceptOutcome::NothingPending {
            server,
            fingerprint,
        } => println!(
            "Tool '{tool}' of server '{}' has no pending change; it stays pinned at \
             {fingerprint}. Nothing changed.",
            sanitize_for_display(&server)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn forget(store: &PinStore, target: &PinTarget) -> anyhow::Result<ExitCode> {
    let removed = store.forget(&target.tool, target.server.as_deref())?;
    println!(
        "Forgot the pin of tool '{}' of server '{}' (was {}). The server's next tools/list pins \
         whatever definition it then reports.",
        sanitize_for_display(&removed.tool),
        sanitize_for_display(&removed.server),
        removed.pin.fingerprint
    );
    Ok(ExitCode::SUCCESS)
}

fn pin_json(p: &PinnedTool) -> Value {
    json!({
        "server": p.server,
        "tool": p.tool,
        "status": status(p),
        "fingerprint": p.pin.fingerprint,
        "first_seen": p.pin.first_seen,
        "accepted_at": p.pin.accepted_at,
        "pending": p.pin.pending,
    })
}

fn status(p: &PinnedTool) -> &'static str {
    if p.pin.pending.is_some() {
        "changed"
    } else {
        "pinned"
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}
