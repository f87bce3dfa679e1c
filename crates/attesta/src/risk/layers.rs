//! Configuration layers over a base scorer: name-pattern amplifiers.
//!
//! Explicit per-action overrides (`risk.overrides` in `attesta.yaml`) are not
//! a scorer layer here: the gate applies them as absolute levels, so neither
//! the environment multiplier nor trust can move them.

use std::sync::Arc;

use regex::Regex;

use super::{RiskAssessment, RiskFactor, RiskScorer, clamp01};
use crate::context::ActionContext;

/// Adds `boost` to the score of any action whose function name matches
/// `pattern` (an unanchored search).
#[derive(Debug, Clone)]
pub struct Amplifier {
    /// Matched against the function name.
    pub pattern: Regex,
    /// Added to the base score when the pattern matches; `0..=1`.
    pub boost: f64,
}

/// A base scorer plus amplifiers, applied in list order.
#[derive(Debug)]
pub struct AmplifiedScorer {
    base: Arc<dyn RiskScorer>,
    amplifiers: Vec<Amplifier>,
}

impl AmplifiedScorer {
    /// Wraps `base` with `amplifiers`.
    pub fn new(base: Arc<dyn RiskScorer>, amplifiers: Vec<Amplifier>) -> Self {
        Self { base, amplifiers }
    }
}

impl RiskScorer for AmplifiedScorer {
    fn name(&self) -> String {
        format!("{}+amplifiers", self.base.name())
    }

    fn assess(&self, ctx: &ActionContext) -> RiskAssessment {
        let mut assessment = self.base.assess(ctx);
        let mut total = assessment.score;
        for amp in &self.amplifiers {
            if amp.pattern.is_match(&ctx.function_name) {
                total += amp.boost;
                assessment.factors.push(
                    RiskFactor::new(
                        "amplifier",
                        amp.boost,
                        format!("Configured amplifier adds {:.2}", amp.boost),
                    )
                    .with_evidence(format!("function name matches /{}/", amp.pattern.as_str())),
                );
            }
        }
        RiskAssessment::from_raw(clamp01(total), assessment.factors, self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::FixedRiskScorer;

    #[test]
    fn boosts_add_for_matching_names_and_cap_at_one() {
        let base = Arc::new(FixedRiskScorer::new(0.5).expect("in range"));
        let amps = vec![
            Amplifier {
                pattern: Regex::new("deploy").expect("valid"),
                boost: 0.2,
            },
            Amplifier {
                pattern: Regex::new("^prod_").expect("valid"),
                boost: 0.4,
            },
        ];
        let scorer = AmplifiedScorer::new(base, amps);
        assert!((scorer.score(&ActionContext::new("deploy_app")) - 0.7).abs() < 1e-12);
        assert_eq!(scorer.score(&ActionContext::new("prod_deploy")), 1.0);
        assert_eq!(scorer.score(&ActionContext::new("read")), 0.5);
        assert_eq!(scorer.name(), "fixed(0.50)+amplifiers");
    }
}
