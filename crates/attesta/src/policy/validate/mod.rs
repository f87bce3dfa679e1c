//! The one validator: walks the format-neutral tree into a [`Policy`].
//!
//! Each section has its own module; they share the typed reads in `read`,
//! so a rule and its message exist once for YAML and TOML alike. Nothing is
//! skipped or defaulted silently: an unknown key, a wrong type or an
//! out-of-range value stops loading with a [`Problem`].

mod approvals;
mod audit;
mod challenges;
mod domains;
mod gate;
pub(crate) mod read;
mod risk;
mod trust;

use std::path::Path;

use super::Policy;
use super::tree::{Kind, Node, Problem};
use read::{Field, Section};

/// Sections, plus the reference's legacy flat keys (`fail_mode` and friends
/// written at the top level instead of under `policy:`).
const TOP_LEVEL_KEYS: &[&str] = &[
    "policy",
    "risk",
    "trust",
    "domain",
    "domains",
    "domain_strict",
    "audit",
    "approvers",
    "min_review_seconds",
    "challenge_map",
    "challenges",
    "fail_mode",
    "timeout_seconds",
    "allow_hint_override",
    "default_environment",
];

/// Builds the policy a document describes, with any warnings. `root` is
/// `None` for an empty document. Relative paths in the file are resolved
/// against `base_dir`, the directory of the file.
pub(super) fn policy(
    root: Option<&Node>,
    base_dir: &Path,
) -> Result<(Policy, Vec<Problem>), Problem> {
    let mut policy = Policy::default();
    audit::anchor_defaults(&mut policy.audit, base_dir);
    let mut warnings = Vec::new();
    let Some(root) = root else {
        return Ok((policy, warnings));
    };
    let root = Field::root(root);
    if !matches!(root.node.kind, Kind::Map(_)) {
        return Err(root.problem(format!(
            "the file must be a mapping of sections (policy, risk, trust, domains, audit), \
             found {}",
            root.node.kind.describe()
        )));
    }
    let top = Section::new(&root, TOP_LEVEL_KEYS)?;

    gate::apply(&mut policy, &top)?;
    if let Some(section) = top.get("policy") {
        let section = Section::new(section, gate::POLICY_KEYS)?;
        if let Some(approvals) = section.get("approvals") {
            policy.approvals = Some(approvals::settings(approvals, base_dir)?);
        }
    }
    if let Some(risk) = top.get("risk") {
        risk::apply(&mut policy, risk)?;
    }
    if let Some(trust) = top.get("trust") {
        policy.trust = trust::settings(trust, base_dir)?;
    }
    domains::apply(&mut policy, &top, &mut warnings)?;
    if let Some(approvers) = top.get("approvers") {
        challenges::approvers(&mut policy, approvers, base_dir)?;
    }
    if let Some(audit) = top.get("audit") {
        audit::apply(&mut policy.audit, audit, base_dir)?;
    }
    Ok((policy, warnings))
}
