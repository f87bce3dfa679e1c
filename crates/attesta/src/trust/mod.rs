//! Adaptive per-agent trust. (Engine: see `engine.rs`.)

mod model;

pub use model::{TrustModel, TrustRecordError};

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
