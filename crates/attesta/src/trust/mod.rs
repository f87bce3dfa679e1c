//! Adaptive per-agent trust: [`TrustEngine`] learns from the outcomes of an
//! agent's actions how far to trust it, and adjusts the risk of its next
//! action accordingly.
//!
//! The formula is the reference implementation's (see
//! [`TrustEngine::compute_trust`]); the engine fixes the reference's
//! defects: queries never create profiles, history is bounded and persisted,
//! revocation means zero trust and survives restarts, and several processes
//! can share one store without losing each other's changes. `docs/trust.md`
//! has the full account.

mod engine;
mod error;
mod model;
mod profile;
mod score;
mod store;
mod time;

pub use engine::TrustEngine;
pub use error::TrustError;
pub use model::{TrustModel, TrustRecordError};
pub use profile::{TrustOutcome, TrustProfile, TrustRecord};

/// Trust engine settings (`trust:` section of `attesta.yaml`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrustSettings {
    /// How strongly trust moves risk: `risk × (1 − (trust − 0.5) × influence)`.
    pub influence: f64,
    /// Trust never exceeds this.
    pub ceiling: f64,
    /// Trust of an agent with no history.
    pub initial_score: f64,
    /// Per-day decay of trust since the agent's last action.
    pub decay_rate: f64,
    /// Multiplier applied per recorded incident.
    pub incident_penalty: f64,
    /// How many outcomes per agent are kept (oldest dropped first).
    pub history_limit: usize,
    /// Where the store is persisted; `None` keeps it in memory only.
    pub store_path: Option<std::path::PathBuf>,
}

impl Default for TrustSettings {
    fn default() -> Self {
        Self {
            influence: 0.3,
            ceiling: 0.9,
            initial_score: 0.3,
            decay_rate: 0.01,
            incident_penalty: 0.7,
            history_limit: 1000,
            store_path: None,
        }
    }
}
