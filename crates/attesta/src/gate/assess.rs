//! The risk stage of the pipeline: overrides, scoring, environment, trust.

use crate::context::ActionContext;
use crate::environment::risk_multiplier;
use crate::policy::{OverrideMatch, Policy};
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
    /// The level a resembling `risk.overrides` entry holds the action at,
    /// when it did not decide the level itself: trust may still move a
    /// computed level above the floor, but not below it.
    pub(crate) floor: Option<Floor>,
}

/// A `risk.overrides` entry the action's name only resembles, and its
/// level: the least level the action may end up at.
#[derive(Debug, Clone)]
pub(crate) struct Floor {
    key: String,
    level: RiskLevel,
}

/// What the overrides say about an action before it is scored.
struct Claims {
    /// An absolute level (code's override, an exact policy entry) and its
    /// source as named in the factor.
    absolute: Option<(RiskLevel, &'static str)>,
    /// A resembling policy entry's level. Applies with or without an
    /// absolute level: code pinning a look-alike name low does not get past
    /// the entry it resembles.
    floor: Option<Floor>,
}

/// Override sources, strongest claim first in messages.
fn claims(ctx: &ActionContext, policy: &Policy) -> Claims {
    let code = ctx.trusted_risk_override.map(|l| (l, "the calling code"));
    let (config, floor) = match policy.override_for(&ctx.function_name) {
        Some(OverrideMatch::Exact(level)) => (Some((level, "risk.overrides in the policy")), None),
        Some(OverrideMatch::Resembles { key, level }) => (
            None,
            Some(Floor {
                key: key.to_owned(),
                level,
            }),
        ),
        None => (None, None),
    };
    // When code and configuration disagree, the higher level wins: an
    // explicit override is a floor that nobody else may lower.
    let absolute = match (code, config) {
        (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
        (a, b) => a.or(b),
    };
    Claims { absolute, floor }
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

/// Raises `risk` to `floor` if it is below it. Returns whether it did; a
/// level at or above the floor only gains a factor saying the resemblance
/// was noticed and changed nothing.
fn apply_floor(risk: &mut RiskAssessment, floor: &Floor) -> bool {
    let Floor { key, level } = floor;
    if risk.level >= *level {
        risk.factors.push(RiskFactor::new(
            "override_resemblance",
            0.0,
            format!(
                "This name resembles risk.overrides entry `{key}` ({level}) but is not it; \
                 the level {} stands: a look-alike name never lowers risk",
                risk.level
            ),
        ));
        return false;
    }
    let old = risk.score;
    let score = level.representative_score();
    risk.factors.push(RiskFactor::new(
        "override_floor",
        score - old,
        format!(
            "Risk level raised to {level} by risk.overrides entry `{key}`: this name differs \
             from it only in case, spacing or look-alike characters"
        ),
    ));
    risk.score = score;
    risk.level = *level;
    true
}

/// Scores `ctx` (or applies an override), then applies the environment
/// multiplier, a resembling override's floor and the opt-in hint override.
pub(crate) fn assess(
    ctx: &ActionContext,
    environment: &str,
    policy: &Policy,
    scorer: &dyn RiskScorer,
    keep_raw: bool,
) -> AssessedRisk {
    let mut warnings = Vec::new();
    let Claims { absolute, floor } = claims(ctx, policy);
    if let Some((level, source)) = absolute {
        let mut risk = override_assessment(level, source);
        if let Some(floor) = &floor {
            apply_floor(&mut risk, floor);
        }
        return AssessedRisk {
            risk,
            explicit: true,
            warnings,
            scored: None,
            floor: None,
        };
    }
    let mut risk = scorer.assess(ctx);
    // A custom scorer may return anything; normalise so the level always
    // matches the score and a NaN reads as the maximum.
    risk.score = clamp01(risk.score);
    risk.level = RiskLevel::from_clamped(risk.score);
    let before_environment = keep_raw.then(|| risk.clone());
    apply_environment(&mut risk, environment);
    // After the environment, so that no multiplier takes a look-alike name
    // below its entry's level. A floor that raised the level decides it, as
    // an exact entry would, so trust may not move it; one that did not stays
    // with the assessment to stop trust going below it.
    let raised = floor.as_ref().is_some_and(|f| apply_floor(&mut risk, f));
    let floor = if raised { None } else { floor };

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
                    floor: None,
                };
            }
            (true, Some(_)) => {}
        }
    }
    AssessedRisk {
        risk,
        explicit: raised,
        warnings,
        scored: before_environment,
        floor,
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
/// CRITICAL (trust may raise a level, never lower CRITICAL), and never below
/// the floor of a resembling `risk.overrides` entry. Returns the score
/// before adjustment when one was made.
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
    if let Some(floor) = assessed.floor.as_ref().filter(|f| risk.level < f.level) {
        // Trust judges the agent, not the name: it may not take a
        // look-alike below the level of the entry it resembles.
        apply_floor(risk, floor);
    }
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
