//! Attesta: an AI agent's risky action runs only after a human has shown
//! they understood it.
#![forbid(unsafe_code)]

pub mod challenge;
pub mod channel;
pub mod clock;
pub mod context;
pub mod policy;
pub mod risk;
pub mod trust;
pub mod value;

pub use challenge::{Challenge, ChallengeResult, ChallengeType};
pub use context::ActionContext;
pub use risk::{DefaultRiskScorer, RiskAssessment, RiskFactor, RiskLevel, RiskScorer};
pub use value::{Value, ValueMap, py_float_repr};
