//! Risk scoring: levels, assessments and the [`RiskScorer`] seam.
//!
//! A scorer turns an [`ActionContext`] into a score in `0..=1` with the
//! factors that explain it. [`DefaultRiskScorer`] reproduces the reference
//! implementation's numbers exactly; [`CompositeRiskScorer`],
//! [`MaxRiskScorer`] and [`FixedRiskScorer`] combine or replace scorers.

mod combinators;
mod default;
mod layers;
mod level;

pub use combinators::{CompositeRiskScorer, FixedRiskScorer, MaxRiskScorer};
pub use default::{DefaultRiskScorer, ScorerWeights};
pub use layers::{AmplifiedScorer, Amplifier};
pub use level::{RiskLevel, ScoreOutOfRange};

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::context::ActionContext;

/// Clamps to `0..=1` the way the reference does (`max(0, min(1, x))`): a NaN
/// becomes `1.0`, the most cautious reading. Never use `f64::clamp` here, which
/// would propagate the NaN.
pub fn clamp01(x: f64) -> f64 {
    0.0_f64.max(1.0_f64.min(x))
}

/// One reason a score is what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskFactor {
    /// Stable identifier (`function_name`, `arguments`, `environment_multiplier`, ...).
    /// Borrowed when static, so scoring does not allocate for fixed names.
    pub name: Cow<'static, str>,
    /// Raw factor score before weighting, when the factor has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score: Option<f64>,
    /// Weight applied to `score`, when the factor has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weight: Option<f64>,
    /// What this factor added to the total (may be negative).
    pub contribution: f64,
    /// A sentence describing the factor.
    pub description: Cow<'static, str>,
    /// What in the action triggered it (matched text, hint values, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub evidence: Option<String>,
}

impl RiskFactor {
    /// A factor with a contribution and description only.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        contribution: f64,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            name: name.into(),
            score: None,
            weight: None,
            contribution,
            description: description.into(),
            evidence: None,
        }
    }

    /// Attaches evidence.
    #[must_use]
    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(evidence.into());
        self
    }
}

/// A scored action: the number, its level and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAssessment {
    /// Score in `0..=1`.
    pub score: f64,
    /// Level derived from the score (or set by an override).
    pub level: RiskLevel,
    /// Contributing factors, in the order they were applied.
    pub factors: Vec<RiskFactor>,
    /// Which scorer produced it (`default`, `override`, `composite(...)`, ...).
    pub scorer_name: String,
}

impl RiskAssessment {
    /// An assessment whose level is derived from `score`.
    ///
    /// Fails unless `0 <= score <= 1` (NaN fails too).
    pub fn from_score(
        score: f64,
        factors: Vec<RiskFactor>,
        scorer_name: impl Into<String>,
    ) -> Result<Self, ScoreOutOfRange> {
        let level = RiskLevel::from_score(score)?;
        if score.is_nan() {
            return Err(ScoreOutOfRange(score));
        }
        Ok(Self {
            score,
            level,
            factors,
            scorer_name: scorer_name.into(),
        })
    }

    /// An assessment from a raw scorer output: clamped to `0..=1` (NaN reads
    /// as 1.0), so it can never fail.
    pub fn from_raw(raw: f64, factors: Vec<RiskFactor>, scorer_name: impl Into<String>) -> Self {
        let score = clamp01(raw);
        Self {
            score,
            level: RiskLevel::from_clamped(score),
            factors,
            scorer_name: scorer_name.into(),
        }
    }
}

/// Turns an action into a risk assessment.
///
/// Implementations must be cheap and thread-safe: the gate calls them on
/// every action, possibly from many tasks at once.
pub trait RiskScorer: Send + Sync + fmt::Debug {
    /// A short name recorded in assessments (`default`, `fixed(0.50)`, ...).
    fn name(&self) -> String;

    /// Scores the action and explains the score.
    fn assess(&self, ctx: &ActionContext) -> RiskAssessment;

    /// Just the score. Defaults to `assess(ctx).score`; implementations may
    /// compute it more cheaply but must agree with `assess` to within float
    /// rounding.
    fn score(&self, ctx: &ActionContext) -> f64 {
        self.assess(ctx).score
    }
}

impl<T: RiskScorer + ?Sized> RiskScorer for std::sync::Arc<T> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn assess(&self, ctx: &ActionContext) -> RiskAssessment {
        (**self).assess(ctx)
    }
    fn score(&self, ctx: &ActionContext) -> f64 {
        (**self).score(ctx)
    }
}

impl<T: RiskScorer + ?Sized> RiskScorer for Box<T> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn assess(&self, ctx: &ActionContext) -> RiskAssessment {
        (**self).assess(ctx)
    }
    fn score(&self, ctx: &ActionContext) -> f64 {
        (**self).score(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp01_sends_nan_to_one() {
        assert_eq!(clamp01(f64::NAN), 1.0);
        assert_eq!(clamp01(-0.5), 0.0);
        assert_eq!(clamp01(1.5), 1.0);
        assert_eq!(clamp01(0.25), 0.25);
    }

    #[test]
    fn assessment_rejects_out_of_range_scores() {
        assert!(RiskAssessment::from_score(1.01, vec![], "t").is_err());
        assert!(RiskAssessment::from_score(-0.01, vec![], "t").is_err());
        assert!(RiskAssessment::from_score(f64::NAN, vec![], "t").is_err());
        assert!(RiskAssessment::from_score(0.0, vec![], "t").is_ok());
        assert!(RiskAssessment::from_score(1.0, vec![], "t").is_ok());
        let raw = RiskAssessment::from_raw(f64::NAN, vec![], "t");
        assert_eq!((raw.score, raw.level), (1.0, RiskLevel::Critical));
    }
}
