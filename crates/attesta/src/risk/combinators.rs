//! Scorers built from other scorers: weighted average, maximum, constant.

use std::sync::Arc;

use super::{RiskAssessment, RiskFactor, RiskScorer, ScoreOutOfRange, clamp01};
use crate::context::ActionContext;

/// Why a combined scorer could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CombinatorError {
    /// A composite or max scorer was given no children.
    #[error("{0} needs at least one scorer")]
    Empty(&'static str),
    /// The composite weights sum to zero or less, so no average exists.
    #[error("composite scorer weights must sum to more than zero, got {0}")]
    NonPositiveWeight(f64),
    /// A fixed score outside `0..=1`.
    #[error(transparent)]
    OutOfRange(#[from] ScoreOutOfRange),
}

/// Weighted average of several scorers: `clamp01(Σ score·w / Σ w)`.
#[derive(Debug)]
pub struct CompositeRiskScorer {
    children: Vec<(Arc<dyn RiskScorer>, f64)>,
    total_weight: f64,
}

impl CompositeRiskScorer {
    /// Fails when `children` is empty or the weights do not sum to more than
    /// zero. Individual negative weights are allowed.
    pub fn new(children: Vec<(Arc<dyn RiskScorer>, f64)>) -> Result<Self, CombinatorError> {
        if children.is_empty() {
            return Err(CombinatorError::Empty("a composite scorer"));
        }
        let mut total_weight = 0.0;
        for (_, w) in &children {
            total_weight += w;
        }
        if total_weight.is_nan() || total_weight <= 0.0 {
            return Err(CombinatorError::NonPositiveWeight(total_weight));
        }
        Ok(Self {
            children,
            total_weight,
        })
    }
}

impl RiskScorer for CompositeRiskScorer {
    fn name(&self) -> String {
        let names: Vec<String> = self.children.iter().map(|(s, _)| s.name()).collect();
        format!("composite({})", names.join("+"))
    }

    fn score(&self, ctx: &ActionContext) -> f64 {
        let mut weighted = 0.0;
        for (scorer, w) in &self.children {
            weighted += scorer.score(ctx) * w;
        }
        clamp01(weighted / self.total_weight)
    }

    fn assess(&self, ctx: &ActionContext) -> RiskAssessment {
        let mut total = 0.0;
        let mut factors = Vec::with_capacity(self.children.len());
        for (scorer, w) in &self.children {
            let normalised = w / self.total_weight;
            let child = scorer.score(ctx);
            let contribution = child * normalised;
            total += contribution;
            let name = scorer.name();
            factors.push(RiskFactor {
                score: Some(child),
                weight: Some(normalised),
                ..RiskFactor::new(
                    format!("scorer:{name}"),
                    contribution,
                    format!("Score {child:.3} from '{name}' (weight {normalised:.2})"),
                )
            });
        }
        RiskAssessment::from_raw(total, factors, self.name())
    }
}

/// The most cautious of several scorers: `clamp01(max(scores))`.
#[derive(Debug)]
pub struct MaxRiskScorer {
    children: Vec<Arc<dyn RiskScorer>>,
}

impl MaxRiskScorer {
    /// Fails when `children` is empty.
    pub fn new(children: Vec<Arc<dyn RiskScorer>>) -> Result<Self, CombinatorError> {
        if children.is_empty() {
            return Err(CombinatorError::Empty("a max scorer"));
        }
        Ok(Self { children })
    }
}

impl RiskScorer for MaxRiskScorer {
    fn name(&self) -> String {
        let names: Vec<String> = self.children.iter().map(RiskScorer::name).collect();
        format!("max({})", names.join(","))
    }

    fn score(&self, ctx: &ActionContext) -> f64 {
        let mut best = f64::NEG_INFINITY;
        for scorer in &self.children {
            // A NaN child wins outright: it clamps to 1.0, the cautious reading.
            let s = scorer.score(ctx);
            if s.is_nan() || s > best {
                best = s;
            }
            if best.is_nan() {
                break;
            }
        }
        clamp01(best)
    }

    fn assess(&self, ctx: &ActionContext) -> RiskAssessment {
        let mut best = 0.0;
        let mut winner = String::new();
        let mut factors = Vec::with_capacity(self.children.len());
        for scorer in &self.children {
            let child = scorer.score(ctx);
            let name = scorer.name();
            // `>=`: ties go to the later child, as in the reference.
            if child >= best || child.is_nan() {
                best = child;
                winner.clone_from(&name);
            }
            factors.push(RiskFactor {
                score: Some(child),
                ..RiskFactor::new(
                    format!("scorer:{name}"),
                    child,
                    format!("Score {child:.3} from '{name}'"),
                )
            });
        }
        RiskAssessment::from_raw(best, factors, format!("max(winner={winner})"))
    }
}

/// Always the same score; for tests and for tools whose risk is known.
#[derive(Debug, Clone, Copy)]
pub struct FixedRiskScorer {
    score: f64,
}

impl FixedRiskScorer {
    /// Fails unless `0 <= score <= 1`.
    pub fn new(score: f64) -> Result<Self, CombinatorError> {
        if !(0.0..=1.0).contains(&score) {
            return Err(ScoreOutOfRange(score).into());
        }
        Ok(Self { score })
    }
}

impl RiskScorer for FixedRiskScorer {
    fn name(&self) -> String {
        format!("fixed({:.2})", self.score)
    }

    fn score(&self, _ctx: &ActionContext) -> f64 {
        self.score
    }

    fn assess(&self, _ctx: &ActionContext) -> RiskAssessment {
        let s = self.score;
        let factor = RiskFactor {
            score: Some(s),
            ..RiskFactor::new("fixed", s, format!("Fixed risk score of {s:.2}."))
        };
        RiskAssessment::from_raw(s, vec![factor], self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RiskLevel;
    use crate::risk::DefaultRiskScorer;

    fn fixed(x: f64) -> Arc<dyn RiskScorer> {
        Arc::new(FixedRiskScorer::new(x).expect("in range"))
    }

    #[test]
    fn fixed_validates_and_names() {
        assert!(FixedRiskScorer::new(1.1).is_err());
        assert!(FixedRiskScorer::new(f64::NAN).is_err());
        let s = FixedRiskScorer::new(0.5).expect("in range");
        assert_eq!(s.name(), "fixed(0.50)");
        let a = s.assess(&ActionContext::new("anything"));
        assert_eq!(
            (a.score, a.level, a.factors.len()),
            (0.5, RiskLevel::Medium, 1)
        );
    }

    #[test]
    fn composite_is_a_weighted_average() {
        assert!(CompositeRiskScorer::new(vec![]).is_err());
        assert!(CompositeRiskScorer::new(vec![(fixed(0.5), 1.0), (fixed(0.5), -1.0)]).is_err());
        let c = CompositeRiskScorer::new(vec![(fixed(0.2), 1.0), (fixed(0.8), 3.0)])
            .expect("valid weights");
        let ctx = ActionContext::new("x");
        assert!((c.score(&ctx) - 0.65).abs() < 1e-12);
        let a = c.assess(&ctx);
        assert!((a.score - 0.65).abs() < 1e-12);
        assert_eq!(a.factors.len(), 2);
        assert_eq!(c.name(), "composite(fixed(0.20)+fixed(0.80))");
        assert_eq!(
            a.factors[1].description,
            "Score 0.800 from 'fixed(0.80)' (weight 0.75)"
        );
    }

    #[test]
    fn max_takes_the_riskiest_and_names_the_winner() {
        assert!(MaxRiskScorer::new(vec![]).is_err());
        let m = MaxRiskScorer::new(vec![fixed(0.2), fixed(0.9), fixed(0.9)]).expect("non-empty");
        let ctx = ActionContext::new("x");
        assert_eq!(m.score(&ctx), 0.9);
        let a = m.assess(&ctx);
        assert_eq!(a.level, RiskLevel::Critical);
        assert_eq!(a.scorer_name, "max(winner=fixed(0.90))");
        assert_eq!(m.name(), "max(fixed(0.20),fixed(0.90),fixed(0.90))");
    }

    #[test]
    fn max_is_never_below_any_child() {
        let default: Arc<dyn RiskScorer> = Arc::new(DefaultRiskScorer::new());
        let m = MaxRiskScorer::new(vec![default, fixed(0.1)]).expect("non-empty");
        let ctx = ActionContext::new("delete_database").with_arg("production");
        assert!(m.score(&ctx) >= 0.1);
        assert!(m.score(&ctx) >= DefaultRiskScorer::new().score(&ctx) - 0.1);
    }
}
