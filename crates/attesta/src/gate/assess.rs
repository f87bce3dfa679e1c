//! The risk stage of the pipeline: overrides, scoring, environment, trust.

use crate::context::ActionContext;
use crate::environment::risk_multiplier;
use crate::policy::Policy;
use crate::risk::{RiskAssessment, RiskFactor, RiskLevel, RiskScorer, clamp01};
use crate::trust::TrustModel;
use crate::value::{Value, py_float_repr};

/// The risk of an action and whether it was set explicitly (an explicit
/// level is never scaled by the environment or moved by trust).
#[derive(Debug)]
pub(crate) struct AssessedRisk {
    pub(crate) risk: RiskAssessment,
    pub(crate) explicit: bool,
    pub(crate) warnings: Vec<String>,
    /// The scorer's own assessment, before the environment (kept only when
    /// asked for: escalation rules are judged on it too).
    pub(crate) scored: Option<RiskAssessment>,
}

/// Override sources, strongest claim first in messages.
fn explicit_level(ctx: &ActionContext, policy: &Policy) -> Option<(RiskLevel, &'static str)> {
    let code = ctx.trusted_risk_override.map(|l| (l, "the calling code"));
    let config = policy
        .override_for(&ctx.function_name)
        .map(|l| (l, "risk.overrides in the policy"));
    // When code and configuration disagree, the higher level wins: an
    // explicit override is a floor that nobody else may lower.
    match (code, config) {
        (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn override_assessment(level: RiskLevel, source: &str) -> RiskAssessment {
    let score = level.representative_score();
    let factor = RiskFactor::new(
        "manual_override",
        score,
        format!("Risk level set to {level} by {source}"),
    );
    RiskAssessment {
        score,
        level,
        factors: vec![factor],
        scorer_name: "override".to_owned(),
    }
}

/// Scores `ctx` (or applies an override), then applies the environment
/// multiplier and the opt-in hint override.
pub(crate) fn assess(
    ctx: &ActionContext,
    environment: &str,
    policy: &Policy,
    scorer: &dyn RiskScorer,
    keep_raw: bool,
) -> AssessedRisk {
    let mut warnings = Vec::new();
    if let Some((level, source)) = explicit_level(ctx, policy) {
        return AssessedRisk {
            risk: override_assessment(level, source),
            explicit: true,
            warnings,
            scored: None,
        };
    }
    let mut risk = scorer.assess(ctx);
    // A custom scorer may return anything; normalise so the level always
    // matches the score and a NaN reads as the maximum.
    risk.score = clamp01(risk.score);
    risk.level = RiskLevel::from_clamped(risk.score);
    let before_environment = keep_raw.then(|| risk.clone());
    apply_environment(&mut risk, environment);

    if let Some(hint) = ctx
        .hints
        .get("risk_override")
        .filter(|v| **v != Value::Null)
    {
        let parsed = hint.as_str().and_then(|s| s.parse::<RiskLevel>().ok());
        match (policy.allow_hint_override, parsed) {
            (false, _) => warnings.push(
                "ignored hints.risk_override: the policy does not set allow_hint_override".into(),
            ),
            (true, None) => warnings.push(format!(
                "ignored hints.risk_override {}: not one of low, medium, high, critical",
                hint.py_repr()
            )),
            // Hints come from callers, so they may only raise the level.
            (true, Some(level)) if level > risk.level => {
                return AssessedRisk {
                    risk: override_assessment(level, "hints.risk_override"),
                    explicit: true,
                    warnings,
                    scored: before_environment,
                };
            }
            (true, Some(_)) => {}
        }
    }
    AssessedRisk {
        risk,
        explicit: false,
        warnings,
        scored: before_environment,
    }
}

/// Multiplies the score by the environment's factor, except that a CRITICAL
/// action is never taken below CRITICAL.
fn apply_environment(risk: &mut RiskAssessment, environment: &str) {
    let m = risk_multiplier(environment);
    if m == 1.0 {
        return;
    }
    let old = risk.score;
    let adjusted = 1.0_f64.min(0.0_f64.max(old * m));
    let adjusted_level = RiskLevel::from_clamped(adjusted);
    if risk.level == RiskLevel::Critical && adjusted_level < RiskLevel::Critical {
        risk.factors.push(RiskFactor::new(
            "environment_multiplier",
            0.0,
            format!(
                "Environment '{environment}' multiplier {}x not applied: CRITICAL is never lowered",
                py_float_repr(m)
            ),
        ));
        return;
    }
    risk.factors.push(RiskFactor::new(
        "environment_multiplier",
        adjusted - old,
        format!(
            "Environment '{environment}' multiplier {}x adjusted risk from {old:.2} to {adjusted:.2}",
            py_float_repr(m)
        ),
    ));
    risk.score = adjusted;
    risk.level = adjusted_level;
}

/// Applies trust for `agent_id`, unless the level is explicit or already
/// CRITICAL (trust may raise a level, never lower CRITICAL). Returns the
/// score before adjustment when one was made.
pub(crate) fn apply_trust(
    assessed: &mut AssessedRisk,
    trust: &dyn TrustModel,
    agent_id: &str,
    domain: &str,
) -> Option<f64> {
    let risk = &mut assessed.risk;
    if assessed.explicit || risk.level == RiskLevel::Critical {
        return None;
    }
    let old = risk.score;
    let adjusted = clamp01(trust.effective_risk(old, agent_id, Some(domain)));
    risk.factors.push(RiskFactor::new(
        "trust_adjustment",
        adjusted - old,
        format!("Trust in agent '{agent_id}' adjusted risk from {old:.2} to {adjusted:.2}"),
    ));
    risk.score = adjusted;
    risk.level = RiskLevel::from_clamped(adjusted);
    Some(old)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::domain::{DomainProfile, DomainRegistry, DomainRiskScorer};
    use crate::risk::FixedRiskScorer;

    fn domain_scorer(profile: DomainProfile, base: f64) -> DomainRiskScorer {
        DomainRiskScorer::with_base(profile, Arc::new(FixedRiskScorer::new(base).unwrap()))
    }

    /// challenges.md §8.6 / Appendix G, pinned: in the reference the gate's
    /// development multiplier (0.8) took devops' `terraform_destroy` from
    /// 0.97 CRITICAL to 0.7763 HIGH, so a quiz approved it. A domain's
    /// critical action stays CRITICAL here.
    #[test]
    fn a_domain_critical_action_stays_critical_in_development() {
        let devops = DomainRegistry::with_presets()
            .unwrap()
            .get("devops")
            .unwrap()
            .clone();
        let scorer = domain_scorer(devops, 0.4075);
        let ctx = ActionContext::new("terraform_destroy")
            .with_arg("ws")
            .with_environment("development");
        let assessed = assess(&ctx, "development", &Policy::default(), &scorer, false);
        assert_eq!(assessed.risk.level, RiskLevel::Critical);
        assert_eq!(assessed.risk.score, 0.970375);

        // Exactly at the floor (0.8 × 0.8 would be 0.64, HIGH).
        let wipe =
            DomainProfile::from_yaml("name: w\ncritical_actions: [wipe]\n", Path::new("w.yaml"))
                .unwrap();
        let scorer = domain_scorer(wipe, 0.1);
        let ctx = ActionContext::new("wipe").with_environment("development");
        let assessed = assess(&ctx, "development", &Policy::default(), &scorer, false);
        assert_eq!(
            (assessed.risk.score, assessed.risk.level),
            (0.8, RiskLevel::Critical)
        );
        let names: Vec<&str> = assessed
            .risk
            .factors
            .iter()
            .map(|f| f.name.as_ref())
            .collect();
        assert_eq!(
            names,
            [
                "base_score",
                "critical_action_override",
                "environment_multiplier"
            ]
        );
        assert_eq!(assessed.risk.factors[2].contribution, 0.0);

        // Actions that are not critical are still scaled.
        let ctx = ActionContext::new("other").with_environment("development");
        let assessed = assess(&ctx, "development", &Policy::default(), &scorer, false);
        assert_eq!(assessed.risk.score, 0.1 * 0.8);
    }
}
