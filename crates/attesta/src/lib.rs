//! Attesta: an AI agent's risky action runs only after a human has shown
//! they understood it.
//!
//! One call flows through five stations:
//!
//! ```text
//! ActionContext -> score -> adjust -> challenge -> decide -> audit -> run or deny
//! ```
//!
//! | module | what it is for |
//! |---|---|
//! | [`context`] | [`ActionContext`]: the intercepted call |
//! | [`value`] | argument values and their Python-compatible rendering |
//! | [`names`] | comparison keys for action names, so near-misses are gated too |
//! | [`risk`] | [`RiskScorer`], [`DefaultRiskScorer`] (reference-exact numbers), combinators |
//! | [`domain`] | industry profiles: domain scoring, escalation rules, presets |
//! | [`environment`] | environment multipliers and detection |
//! | [`trust`] | per-agent trust ([`trust::TrustModel`]) |
//! | [`challenge`] | the [`Challenge`] seam and built-in challenges |
//! | [`channel`] | how prompts reach a human ([`channel::Channel`]) |
//! | [`policy`] | `attesta.yaml` / `attesta.toml` |
//! | [`gate`] | [`Attesta`]: the orchestrator |
//! | [`decision`] | [`Decision`], [`Verdict`], [`Denied`] |
//! | [`audit`] | [`audit::AuditSink`] and the v1 record |
//! | [`events`] | pipeline events |
//! | [`clock`] | injectable time |
//! | [`shared_file`] | files several processes rewrite: writers' lock, atomic replacement |
//!
//! ```
//! use attesta::{ActionContext, Attesta};
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let attesta = Attesta::builder().environment("ci").build().unwrap();
//! let ctx = ActionContext::new("list_files").with_arg("/tmp");
//! let files = attesta.gate(&ctx, || vec!["a.txt"]).await.unwrap();
//! assert_eq!(files, ["a.txt"]);
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod approval;
pub mod audit;
pub mod challenge;
pub mod channel;
pub mod clock;
pub mod context;
pub mod decision;
pub mod domain;
pub mod environment;
pub mod events;
pub mod gate;
pub mod names;
pub mod policy;
#[cfg(feature = "remote")]
pub mod remote;
pub mod risk;
pub mod shared_file;
pub mod trust;
pub mod value;

pub use challenge::{Challenge, ChallengeResult, ChallengeType};
pub use context::ActionContext;
pub use decision::{Decision, Denied, Verdict};
pub use gate::{
    ApprovalRequest, ApprovalRouting, ApprovalService, Attesta, AttestaBuilder, BuildError,
    Escalation, EscalationSource, GateError, Preview,
};
pub use policy::Policy;
pub use risk::{DefaultRiskScorer, RiskAssessment, RiskFactor, RiskLevel, RiskScorer};
pub use trust::{
    TrustEngine, TrustError, TrustModel, TrustOutcome, TrustProfile, TrustRecord, TrustSettings,
};
pub use value::{Value, ValueMap, py_float_repr};
