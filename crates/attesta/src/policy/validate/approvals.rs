//! `policy.approvals`: the approval server every human approval goes to.

use std::path::Path;
use std::time::Duration;

use super::read::{Field, Section};
use crate::policy::tree::Problem;
use crate::policy::{ApprovalRoute, ApprovalsSettings};
use crate::risk::RiskLevel;

/// Reads `policy.approvals` (`server`, `public_key`, `token_env` or
/// `token_file`, `order`, `levels`); relative paths are against `base_dir`.
pub(super) fn settings(field: &Field<'_>, base_dir: &Path) -> Result<ApprovalsSettings, Problem> {
    let section = Section::new(
        field,
        &[
            "server",
            "token_env",
            "token_file",
            "public_key",
            "order",
            "levels",
            "retry_seconds",
        ],
    )?;
    let Some(server) = section.get("server") else {
        return Err(field.problem(
            "approvals needs `server`, the approval server's URL (e.g. https://approvals.example.com)",
        ));
    };
    let url = server.non_empty_string()?.trim().to_owned();
    let loopback = ["http://127.", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p));
    if !(url.starts_with("https://") || loopback) {
        return Err(server.problem(format!(
            "`{url}` is not an https:// URL; tokens and decisions must travel over TLS (plain \
             http:// is accepted only for loopback addresses)"
        )));
    }
    let Some(public_key) = section.get("public_key") else {
        return Err(field.problem(
            "approvals needs `public_key`, the server's server-signing.pub: decisions are \
             trusted only when signed by it",
        ));
    };
    let token_env = match section.get("token_env") {
        Some(f) => f.non_empty_string()?.to_owned(),
        None => "ATTESTA_TOKEN".to_owned(),
    };
    let token_file = section
        .get("token_file")
        .map(|f| f.non_empty_string().map(|p| base_dir.join(p)))
        .transpose()?;
    if token_file.is_some() && section.get("token_env").is_some() {
        return Err(field.problem(
            "give either token_env or token_file, not both: the token must come from one place",
        ));
    }
    let order = match section.get("order") {
        Some(f) => order(f)?,
        None => vec![ApprovalRoute::Server],
    };
    let levels = match section.get("levels") {
        Some(f) => levels(f)?,
        None => RiskLevel::ALL.to_vec(),
    };
    let retry = match section.get("retry_seconds") {
        Some(f) => {
            let secs = f.whole_in(0, 3600, "a whole number of seconds from 0 to 3600")?;
            // In range, so it fits; the fallback is never taken.
            Duration::from_secs(u64::try_from(secs).unwrap_or(60))
        }
        None => Duration::from_mins(1),
    };
    Ok(ApprovalsSettings {
        server: url,
        token_env,
        token_file,
        public_key: base_dir.join(public_key.non_empty_string()?),
        order,
        levels,
        retry,
    })
}

/// `order: [server]`, `[server, local]` or `[local, server]`: the server
/// must be in it (the section names one), each route at most once.
fn order(field: &Field<'_>) -> Result<Vec<ApprovalRoute>, Problem> {
    const ROUTES: [(&str, ApprovalRoute); 2] = [
        ("server", ApprovalRoute::Server),
        ("local", ApprovalRoute::Local),
    ];
    let mut order = Vec::new();
    for item in field.items("a list of routes ([server], [server, local] or [local, server])")? {
        let route = item.choice("a route", &ROUTES)?;
        if order.contains(&route) {
            return Err(item.problem(format!(
                "{route} is listed twice; name each route once, in the order to try them"
            )));
        }
        order.push(route);
    }
    if !order.contains(&ApprovalRoute::Server) {
        return Err(field.problem(
            "order must include server (this section configures one); to ask only locally, \
             remove policy.approvals",
        ));
    }
    Ok(order)
}

/// `levels: [high, critical]`: the levels the server is used for, each once.
fn levels(field: &Field<'_>) -> Result<Vec<RiskLevel>, Problem> {
    let mut levels = Vec::new();
    for item in field.items("a list of risk levels (low, medium, high, critical)")? {
        let level = item.level()?;
        if levels.contains(&level) {
            return Err(item.problem(format!("{level} is listed twice; name each level once")));
        }
        levels.push(level);
    }
    if levels.is_empty() {
        return Err(field.problem(
            "levels is empty, so the server would never be asked; list the levels it approves \
             (e.g. [high, critical]) or remove policy.approvals",
        ));
    }
    levels.sort();
    Ok(levels)
}
