//! `attesta mcp wrap`: run an MCP server behind the gate.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use attesta::audit::JsonlAuditLog;
#[cfg(unix)]
use attesta::channel::{TerminalChannel, TerminalConfig};
use attesta::{Attesta, AttestaBuilder, Policy};
use attesta_mcp::pins::PinStore;
use attesta_mcp::{McpChannel, Pinning, ProxyError, RelayOptions, ToolGate, exit_code};

use crate::cli::McpWrapArgs;
use crate::config;

pub(crate) fn wrap(args: &McpWrapArgs) -> anyhow::Result<ExitCode> {
    if args.command.is_empty() {
        return Err(ProxyError::NoCommand.into());
    }
    let (engine, source) = engine(args.config.as_deref())?;
    let audit_log = engine.policy().audit.path.clone();
    let mut gate = ToolGate::new(engine);
    if let Some(agent) = &args.agent_id {
        gate = gate.with_agent_id(agent.clone());
    }
    if let Some(environment) = &args.environment {
        gate = gate.with_environment(environment.clone());
    }
    for (tool, level) in &args.risk_overrides {
        gate = gate.with_risk_override(tool.clone(), *level);
    }
    let shown: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "attesta mcp: policy: {source}; session {}; wrapping: {}",
        gate.session_id(),
        shown.join(" ")
    );
    let pins = PinStore::beside_audit_log(&audit_log);
    eprintln!("attesta mcp: tool pins: {}", pins.path().display());
    let options = RelayOptions {
        gate: Some(Arc::new(gate)),
        pinning: Some(Pinning {
            store: Arc::new(pins),
            fallback_server: server_label(&args.command),
        }),
        max_line_bytes: args.max_line_bytes,
        ..RelayOptions::default()
    };
    let runtime = super::two_worker_runtime()?;
    let result = runtime.block_on(attesta_mcp::run(
        &args.command,
        &options,
        tokio::io::stdin(),
        tokio::io::stdout(),
        attesta_mcp::shutdown_signal(),
    ));
    // The stdin reader may still be blocked in a read that never returns;
    // do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let status = result?;
    Ok(ExitCode::from(exit_code(status)))
}

/// The upstream's name in the pins file when it does not name itself: its
/// command's file name (`npx` is skipped for the package it runs).
fn server_label(command: &[std::ffi::OsString]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|w| {
            Path::new(w)
                .file_name()
                .map_or_else(|| w.to_string_lossy(), |n| n.to_string_lossy())
                .into_owned()
        })
        .collect();
    let runners = [
        "npx", "uvx", "pipx", "bunx", "node", "python", "python3", "deno",
    ];
    words
        .iter()
        .skip_while(|w| runners.contains(&w.as_str()) || w.starts_with('-'))
        .find(|w| !w.starts_with('-'))
        .or(words.first())
        .cloned()
        .unwrap_or_else(|| "upstream".to_owned())
}

/// The explicit policy (which must load), else a policy file in the current
/// directory, else built-in defaults that audit to `.attesta/audit.jsonl`.
/// Either way humans are asked through the MCP client's forms when it has
/// them, else at the controlling terminal, else the call is denied.
fn engine(explicit: Option<&Path>) -> anyhow::Result<(Attesta, String)> {
    let (builder, source) = if let Some(path) = config::policy_file(explicit) {
        let builder = Attesta::config_builder(&path).with_context(|| {
            format!(
                "cannot use the policy {}: fix it, or run without --config (and without \
                 ./attesta.yaml) to use the built-in defaults",
                path.display()
            )
        })?;
        (builder, path.display().to_string())
    } else {
        default_builder()
    };
    let engine = builder
        .map_channel(|fallback| Arc::new(McpChannel::new(fallback)))
        .build()
        .context("the policy cannot be used")?;
    for warning in &engine.policy().warnings {
        eprintln!("attesta: warning: {warning}");
    }
    config::print_startup_warnings(&engine);
    Ok((engine, source))
}

/// Built-in defaults: audit log `.attesta/audit.jsonl`, the terminal as the
/// fallback channel (none off Unix, which denies when the client has no
/// forms).
fn default_builder() -> (AttestaBuilder, String) {
    let policy = Policy::default();
    let audit =
        Arc::new(JsonlAuditLog::new(policy.audit.path.clone()).with_fsync(policy.audit.fsync));
    let source = format!(
        "built-in defaults (no attesta.yaml found), audit log {}",
        policy.audit.path.display()
    );
    let builder = Attesta::builder().audit(audit);
    #[cfg(unix)]
    let builder = builder.channel(Arc::new(TerminalChannel::new(TerminalConfig::from_policy(
        &policy,
    ))));
    (builder.policy(policy), source)
}
