//! `policy.approvals`: the approval server every human approval goes to.

use std::path::Path;

use super::read::{Field, Section};
use crate::policy::ApprovalsSettings;
use crate::policy::tree::Problem;

/// Reads `policy.approvals` (`server`, `public_key`, `token_env` or
/// `token_file`); relative paths are against `base_dir`.
pub(super) fn settings(field: &Field<'_>, base_dir: &Path) -> Result<ApprovalsSettings, Problem> {
    let section = Section::new(field, &["server", "token_env", "token_file", "public_key"])?;
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
    Ok(ApprovalsSettings {
        server: url,
        token_env,
        token_file,
        public_key: base_dir.join(public_key.non_empty_string()?),
    })
}
