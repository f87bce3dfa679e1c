//! [`DomainRiskScorer`]: a base scorer's number, adjusted by a profile
//! (§8.5), and the escalation rules that apply to the result.

use std::fmt::Write as _;
use std::sync::Arc;

use super::profile::{CallText, DomainProfile};
use super::rule::Facts;
use super::verdict::DomainVerdict;
use crate::context::ActionContext;
use crate::risk::{DefaultRiskScorer, RiskAssessment, RiskFactor, RiskScorer};

/// Scores an action with a base scorer, then applies a profile's patterns,
/// sensitive terms, critical and safe actions, floor and production
/// multiplier, in the reference's order and with its numbers (§8.5):
///
/// 1. `s` = base score (factor `base_score`).
/// 2. Patterns: `m` = the largest contribution of the matching patterns;
///    `s = s + m·(1 − s)` (factor `domain_patterns`, with compliance refs).
/// 3. Terms: `t` = the largest weight found; `s = s + t·(1 − s)`
///    (factor `sensitive_terms`).
/// 4. A critical action is raised to 0.8 (`critical_action_override`); a
///    safe one is capped at 0.15 (`safe_action_override`) — **unless** a
///    pattern or term above 0.15 matched, in which case the cap does not
///    apply (the reference let a safe name hide `rm -rf /` in its
///    arguments).
/// 5. The profile's floor (`domain_risk_floor`).
/// 6. In production, `s × production_multiplier` (≥ 1).
/// 7. Clamp to `0..=1`.
///
/// Unlike the reference, names match critical/safe entries as whole names
/// and a critical action stays CRITICAL whatever follows. A near-miss of a
/// critical action (see [`crate::names::fold`]) is critical too; a near-miss
/// of a safe action is not safe.
///
/// ```
/// use std::sync::Arc;
/// use attesta::domain::{DomainRegistry, DomainRiskScorer};
/// use attesta::risk::FixedRiskScorer;
/// use attesta::{ActionContext, RiskLevel, RiskScorer};
///
/// let devops = DomainRegistry::with_presets()?.get("devops")?.clone();
/// let scorer = DomainRiskScorer::with_base(devops, Arc::new(FixedRiskScorer::new(0.3).unwrap()));
/// let ctx = ActionContext::new("terraform_destroy").with_environment("development");
/// let risk = scorer.assess(&ctx);
/// assert_eq!(risk.level, RiskLevel::Critical);
/// let verdict = scorer.verdict(&ctx, &risk);
/// assert_eq!(verdict.blocked_by.unwrap().name, "terraform_destroy");
/// # Ok::<(), attesta::domain::DomainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DomainRiskScorer {
    /// The profile (possibly merged from several).
    profile: Arc<DomainProfile>,
    /// Produces step 1's score.
    base: Arc<dyn RiskScorer>,
}

impl DomainRiskScorer {
    /// A scorer over `profile` with a fresh [`DefaultRiskScorer`] as base.
    pub fn new(profile: DomainProfile) -> Self {
        Self::with_base(profile, Arc::new(DefaultRiskScorer::new()))
    }

    /// A scorer over `profile` with `base` for step 1.
    pub fn with_base(profile: DomainProfile, base: Arc<dyn RiskScorer>) -> Self {
        Self {
            profile: Arc::new(profile),
            base,
        }
    }

    /// The profile in use.
    pub fn profile(&self) -> &DomainProfile {
        &self.profile
    }

    /// The base scorer.
    pub fn base(&self) -> &Arc<dyn RiskScorer> {
        &self.base
    }

    /// The escalation outcome for `ctx` given `risk`: which rules fire and
    /// what they demand together (see [`DomainVerdict`]).
    ///
    /// Conditions read `risk`'s score and level and `ctx.environment`;
    /// pass the assessment this scorer produced (the domain's view of the
    /// action), with `ctx.environment` set to the environment the gate
    /// decided on. Rules are evaluated in profile order; every rule whose
    /// condition holds counts.
    pub fn verdict(&self, ctx: &ActionContext, risk: &RiskAssessment) -> DomainVerdict {
        self.verdict_on_any(ctx, &[risk])
    }

    /// The rules that hold on any of `risks`, combined: the call's patterns
    /// are matched once, then each rule's condition is read against each
    /// assessment (the gate passes the scorer's own and the final one).
    pub fn verdict_on_any(&self, ctx: &ActionContext, risks: &[&RiskAssessment]) -> DomainVerdict {
        let text = CallText::of(ctx);
        let matched = self.profile.matching_patterns(&text);
        let matched_patterns: Vec<&str> = matched.iter().map(|p| p.name.as_str()).collect();
        let folded_action = crate::names::fold(&ctx.function_name);
        let facts: Vec<Facts<'_>> = risks
            .iter()
            .map(|risk| Facts {
                action: &ctx.function_name,
                folded_action: &folded_action,
                environment: &ctx.environment,
                score: risk.score,
                level: risk.level,
                matched_patterns: matched_patterns.clone(),
            })
            .collect();
        DomainVerdict::from_rules(
            self.profile
                .escalation_rules
                .iter()
                .filter(|rule| facts.iter().any(|f| rule.condition.holds(f))),
        )
    }
}

impl RiskScorer for DomainRiskScorer {
    fn name(&self) -> String {
        format!("domain:{}", self.profile.name)
    }

    fn assess(&self, ctx: &ActionContext) -> RiskAssessment {
        let profile = &*self.profile;
        let base = self.base.score(ctx);
        let mut run = Run {
            profile,
            s: base,
            factors: vec![
                RiskFactor::new(
                    "base_score",
                    base,
                    format!("Base risk score from '{}' scorer.", self.base.name()),
                )
                .with_evidence(format!("raw_score={base:.4}")),
            ],
        };
        let text = CallText::of(ctx);
        let m = run.patterns(&text);
        let t = run.terms(&text);
        let critical = profile.is_critical_action(&ctx.function_name);
        if critical {
            run.critical(&ctx.function_name);
        } else if profile.is_safe_action(&ctx.function_name) {
            run.safe(&ctx.function_name, m.max(t));
        }
        run.floor();
        if ctx.environment.to_lowercase() == "production" {
            run.production();
        }
        // The loader keeps multipliers at 1 or more, so this never lowers;
        // it is here so that no later step can take a critical action
        // below CRITICAL even if that changes.
        if critical {
            run.s = run.s.max(DomainProfile::CRITICAL_FLOOR);
        }
        RiskAssessment::from_raw(run.s, run.factors, self.name())
    }
}

/// One assessment in progress: the running score and its factors.
struct Run<'a> {
    profile: &'a DomainProfile,
    s: f64,
    factors: Vec<RiskFactor>,
}

impl Run<'_> {
    /// Step 2: `s + m·(1 − s)` with `m` the largest matching pattern
    /// contribution. Returns `m` (0 when none matched).
    fn patterns(&mut self, text: &CallText) -> f64 {
        let patterns = self.profile.matching_patterns(text);
        if patterns.is_empty() {
            return 0.0;
        }
        let m = patterns
            .iter()
            .map(|p| p.risk_contribution)
            .fold(0.0, f64::max);
        let names: Vec<&str> = patterns.iter().map(|p| p.name.as_str()).collect();
        let mut refs: Vec<&str> = Vec::new();
        for r in patterns.iter().flat_map(|p| &p.compliance_refs) {
            if !refs.contains(&r.as_str()) {
                refs.push(r);
            }
        }
        let mut description = format!("Domain patterns matched: {}.", names.join(", "));
        if !refs.is_empty() {
            let _ = write!(description, " Compliance: {}", refs.join(", "));
        }
        let evidence: Vec<String> = patterns
            .iter()
            .map(|p| {
                format!(
                    "{} ({}, +{:.3})",
                    p.name, p.description, p.risk_contribution
                )
            })
            .collect();
        self.factors.push(
            RiskFactor::new("domain_patterns", m, description).with_evidence(evidence.join("; ")),
        );
        self.s += m * (1.0 - self.s);
        m
    }

    /// Step 3: `s + t·(1 − s)` with `t` the largest weight of the terms
    /// found anywhere in the call. Returns `t`.
    fn terms(&mut self, text: &CallText) -> f64 {
        let terms = self.profile.matching_terms(&text.full());
        let t = terms.iter().map(|t| t.weight()).fold(0.0, f64::max);
        if t > 0.0 {
            let evidence: Vec<String> = terms
                .iter()
                .map(|t| format!("'{}' weight={:.2}", t.regex_source(), t.weight()))
                .collect();
            self.factors.push(
                RiskFactor::new(
                    "sensitive_terms",
                    t,
                    "Domain-sensitive terminology detected.",
                )
                .with_evidence(evidence.join("; ")),
            );
            self.s += t * (1.0 - self.s);
        }
        t
    }

    /// Step 4a: a critical action is at least 0.8.
    fn critical(&mut self, name: &str) {
        let floor = DomainProfile::CRITICAL_FLOOR;
        let factor = if self.s < floor {
            let raised = RiskFactor::new(
                "critical_action_override",
                floor - self.s,
                format!("'{name}' is a critical action; score raised to at least {floor}."),
            );
            self.s = floor;
            raised
        } else {
            RiskFactor::new(
                "critical_action_flag",
                0.0,
                format!("'{name}' is a critical action (score already at least {floor})."),
            )
        };
        self.factors.push(factor.with_evidence(format!(
            "matched critical_actions in domain '{}'",
            self.profile.name
        )));
    }

    /// Step 4b: a safe action is capped at 0.15, unless a pattern or term
    /// (`evidence`, the larger of `m` and `t`) scored above the cap.
    fn safe(&mut self, name: &str, evidence: f64) {
        let cap = DomainProfile::SAFE_CAP;
        let factor = if evidence > cap {
            // The name being "safe" must not hide what the arguments do.
            RiskFactor::new(
                "safe_action_flag",
                0.0,
                format!(
                    "'{name}' is a safe action, but the cap of {cap} was not applied: a domain \
                     pattern or term scored {evidence:.2}."
                ),
            )
        } else if self.s > cap {
            let capped = RiskFactor::new(
                "safe_action_override",
                -(self.s - cap),
                format!("'{name}' is a safe action; score capped at {cap}."),
            );
            self.s = cap;
            capped
        } else {
            RiskFactor::new(
                "safe_action_flag",
                0.0,
                format!("'{name}' is a safe action (score already at most {cap})."),
            )
        };
        self.factors.push(factor.with_evidence(format!(
            "matched safe_actions in domain '{}'",
            self.profile.name
        )));
    }

    /// Step 5: the profile's floor.
    fn floor(&mut self) {
        let floor = self.profile.base_risk_floor;
        if floor > 0.0 && self.s < floor {
            self.factors.push(
                RiskFactor::new(
                    "domain_risk_floor",
                    floor - self.s,
                    format!("Domain '{}' risk floor applied.", self.profile.name),
                )
                .with_evidence(format!("score {:.4} raised to {floor:.4}", self.s)),
            );
            self.s = floor;
        }
    }

    /// Step 6: the production multiplier (unclamped; step 7 clamps).
    fn production(&mut self) {
        let multiplier = self.profile.production_multiplier;
        if multiplier == 1.0 {
            return;
        }
        let pre = self.s;
        self.s *= multiplier;
        self.factors.push(
            RiskFactor::new(
                "production_multiplier",
                self.s - pre,
                format!(
                    "Production environment multiplier {multiplier:.2} for domain '{}'.",
                    self.profile.name
                ),
            )
            .with_evidence(format!("pre={pre:.4} * {multiplier:.2} = {:.4}", self.s)),
        );
    }
}
