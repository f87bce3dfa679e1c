//! Domain profiles: what an industry considers risky, as data.
//!
//! A [`DomainProfile`] lists risk patterns, sensitive terms, critical and
//! safe actions, escalation rules and challenge templates. Profiles are
//! YAML files ([`DomainProfile::from_file`]); four ship built in
//! ([`presets::BUILTIN`]: `devops`, `data-pipeline`, `healthcare`,
//! `infrastructure`). A policy selects profiles with `domain:` or
//! `domains:` ([`resolve_policy`]); several are [`merge`]d into one.
//!
//! [`DomainRiskScorer`] scores actions with a profile (reference-exact
//! numbers, §8.5 of the spec) and [`DomainRiskScorer::verdict`] says what
//! the profile's escalation rules demand for one action: a block, more
//! approvers, a stronger challenge, roles to notify ([`DomainVerdict`]).
//!
//! Compared with the reference implementation (see `docs/domains.md`):
//! critical and safe entries match whole names; a safe name never hides a
//! risky pattern or term in the arguments; merging never lowers a score
//! (safe actions are intersected); a critical action stays CRITICAL;
//! aliases cannot take over another profile; conditions that could never
//! fire are load-time errors.
//!
//! ```
//! use attesta::domain::DomainRegistry;
//! use attesta::{ActionContext, RiskLevel, RiskScorer};
//!
//! let registry = DomainRegistry::with_presets()?;
//! let scorer = attesta::domain::DomainRiskScorer::new(registry.get("devops")?.clone());
//! let ctx = ActionContext::new("run_shell").with_arg("rm -rf /var/lib/app");
//! let risk = scorer.assess(&ctx);
//! assert_eq!(risk.level, RiskLevel::Critical);
//! assert_eq!(scorer.verdict(&ctx, &risk).required_approvers, Some(2));
//! # Ok::<(), attesta::domain::DomainError>(())
//! ```

mod error;
mod escalations;
mod load;
mod matcher;
mod merge;
pub mod presets;
mod profile;
mod registry;
mod resolve;
mod rule;
mod scorer;
mod template;
mod verdict;

pub use error::DomainError;
pub use escalations::{DomainEscalations, escalation_of};
pub use matcher::{ActionGlob, SensitiveTerm};
pub use merge::merge;
pub use profile::{CallText, DomainProfile, PatternTarget, RiskPattern};
pub use registry::DomainRegistry;
pub use resolve::{ResolvedDomains, is_profile_path, resolve_policy};
pub use rule::{Comparison, Condition, EscalationAction, EscalationRule};
pub use scorer::DomainRiskScorer;
pub use template::ChallengeTemplate;
pub use verdict::{DomainVerdict, RuleRef};

#[cfg(test)]
mod tests;
