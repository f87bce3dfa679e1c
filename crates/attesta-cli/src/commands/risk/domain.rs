//! The domain profiles' part of `attesta risk score`: adding `--domain`
//! profiles to the policy, the domain scorer's view of a context (factors,
//! matched patterns with their compliance references) and what the
//! profiles' escalation rules demand for it.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use attesta::domain::{
    CallText, DomainProfile, DomainRegistry, DomainRiskScorer, DomainVerdict, PatternTarget,
    is_profile_path, resolve_policy,
};
use attesta::policy::DomainSelection;
use attesta::risk::{AmplifiedScorer, Amplifier};
use attesta::{ActionContext, DefaultRiskScorer, Policy, RiskAssessment, RiskScorer};
use serde::Serialize;

use crate::commands::wrap::{self, WIDTH};

/// Factor names the domain scorer produces (so the text output does not
/// list them again among the gate's adjustments).
pub(super) const DOMAIN_FACTORS: [&str; 9] = [
    "base_score",
    "domain_patterns",
    "sensitive_terms",
    "critical_action_override",
    "critical_action_flag",
    "safe_action_override",
    "safe_action_flag",
    "domain_risk_floor",
    "production_multiplier",
];

/// The active profiles, merged, ready to score contexts as the gate does.
#[derive(Debug)]
pub(super) struct Domains {
    /// The merged profile.
    profile: DomainProfile,
    /// The members' names, in order.
    members: Vec<String>,
    /// The policy's amplifiers, which the gate's base scorer applies too.
    amplifiers: Vec<Amplifier>,
}

/// The domain part of one context's report.
#[derive(Debug, Serialize)]
pub(super) struct DomainReport {
    /// The merged profile's name (`devops`, `devops+healthcare`).
    profile: String,
    /// The profiles merged into it, in order.
    members: Vec<String>,
    /// The domain scorer's score for a first call, in the gate's
    /// environment.
    score: f64,
    level: &'static str,
    factors: Vec<DomainFactor>,
    /// The risk patterns that match, with their compliance references.
    patterns: Vec<MatchedPattern>,
    /// What the escalation rules that hold demand together.
    pub(super) verdict: DomainVerdict,
}

#[derive(Debug, Serialize)]
struct DomainFactor {
    name: String,
    contribution: f64,
    description: String,
    evidence: Option<String>,
}

#[derive(Debug, Serialize)]
struct MatchedPattern {
    name: String,
    target: PatternTarget,
    contribution: f64,
    description: String,
    compliance_refs: Vec<String>,
}

impl Domains {
    /// Adds the `extra` profiles (names, aliases or profile files, given on
    /// the command line) to the policy's own, then resolves them all as the
    /// gate will. `None` when no profile is active.
    ///
    /// A profile the policy (or an earlier `--domain`) already uses is not
    /// added again, with a warning; an unknown name or a broken file is an
    /// error naming the flag.
    pub(super) fn activate(policy: &mut Policy, extra: &[String]) -> anyhow::Result<Option<Self>> {
        if !extra.is_empty() {
            add_selections(policy, extra)?;
        }
        let resolved = resolve_policy(policy).context("the policy's domains cannot be used")?;
        Ok(resolved.profile.map(|profile| Self {
            profile,
            members: resolved.members,
            amplifiers: policy.risk_amplifiers.clone(),
        }))
    }

    /// The domain scorer's view of `ctx` (whose environment is the one the
    /// gate judges it in) and the rules that hold on that or on the gate's
    /// final assessment `effective`, as the gate evaluates them.
    pub(super) fn report(&self, ctx: &ActionContext, effective: &RiskAssessment) -> DomainReport {
        // A fresh base scorer per context: a first call, like `score`.
        let mut base: Arc<dyn RiskScorer> = Arc::new(DefaultRiskScorer::new());
        if !self.amplifiers.is_empty() {
            base = Arc::new(AmplifiedScorer::new(base, self.amplifiers.clone()));
        }
        let scorer = DomainRiskScorer::with_base(self.profile.clone(), base);
        let own = scorer.assess(ctx);
        let verdict = scorer.verdict_on_any(ctx, &[&own, effective]);
        let patterns = self
            .profile
            .matching_patterns(&CallText::of(ctx))
            .into_iter()
            .map(|p| MatchedPattern {
                name: p.name.clone(),
                target: p.target,
                contribution: p.risk_contribution,
                description: p.description.clone(),
                compliance_refs: p.compliance_refs.clone(),
            })
            .collect();
        DomainReport {
            profile: self.profile.name.clone(),
            members: self.members.clone(),
            score: own.score,
            level: own.level.as_str(),
            factors: own
                .factors
                .into_iter()
                .map(|f| DomainFactor {
                    name: f.name.into_owned(),
                    contribution: f.contribution,
                    description: f.description.into_owned(),
                    evidence: f.evidence,
                })
                .collect(),
            patterns,
            verdict,
        }
    }
}

/// Appends the `--domain` profiles to `policy.domains`, skipping those
/// already in use. Files are recorded by absolute path, because the policy
/// reads relative paths from its own directory.
fn add_selections(policy: &mut Policy, extra: &[String]) -> anyhow::Result<()> {
    let registry = DomainRegistry::with_presets().context("the built-in domain profiles")?;
    let mut in_use = resolve_policy(policy)
        .context("the policy's domains cannot be used")?
        .members;
    for given in extra.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        let (name, entry) = if is_profile_path(given) {
            let profile = DomainProfile::from_file(Path::new(given))
                .with_context(|| format!("--domain {given}"))?;
            if in_use.contains(&profile.name) {
                // Another profile of that name: dropping this one would
                // silently score without the user's file.
                anyhow::bail!(
                    "--domain {given}: the file's profile is named '{}', like a profile already \
                     in use; profiles need distinct names, so rename it in the file",
                    profile.name
                );
            }
            let absolute = std::path::absolute(given)
                .with_context(|| format!("--domain {given}: cannot resolve the path"))?;
            let entry = absolute
                .to_str()
                .with_context(|| {
                    format!("--domain {given}: the path is not valid UTF-8; rename it")
                })?
                .to_owned();
            (profile.name, entry)
        } else {
            let profile = registry.get(given).map_err(|e| {
                anyhow::anyhow!("--domain {given}: {e}; or give the path of a profile file")
            })?;
            (profile.name.clone(), profile.name.clone())
        };
        if in_use.contains(&name) {
            eprintln!(
                "attesta: warning: --domain {given}: the profile '{name}' is already in use; it counts once"
            );
            continue;
        }
        in_use.push(name);
        policy.domains.push(DomainSelection {
            name: entry,
            // No rules of its own: the profile's rules apply as written.
            escalation_rules: std::iter::empty().collect(),
        });
    }
    Ok(())
}

/// The domain section of the text output.
pub(super) fn write_text(out: &mut impl Write, report: &DomainReport) -> io::Result<()> {
    let clean = attesta::channel::sanitize_for_display;
    writeln!(out)?;
    writeln!(
        out,
        "  domain {}: {:.2} → {} (domain scorer, first call)",
        clean(&report.profile),
        report.score,
        report.level.to_uppercase()
    )?;
    let indent = " ".repeat(4 + 24 + 1 + 7 + 2);
    for f in &report.factors {
        let first = format!("    {:<24} {:>+7.3}  ", f.name, f.contribution);
        let why = f.evidence.as_deref().unwrap_or(&f.description);
        for line in wrap::words(&clean(why), &first, &indent, WIDTH) {
            writeln!(out, "{line}")?;
        }
    }
    if !report.patterns.is_empty() {
        writeln!(out, "  patterns that match:")?;
        for p in &report.patterns {
            let line = format!(
                "{} (+{}, target {}): {}",
                p.name,
                p.contribution,
                p.target.as_str(),
                p.description
            );
            for line in wrap::words(&clean(&line), "    ", "      ", WIDTH) {
                writeln!(out, "{line}")?;
            }
            if !p.compliance_refs.is_empty() {
                let refs: Vec<String> = p.compliance_refs.iter().map(|r| clean(r)).collect();
                for line in wrap::items(&refs, "; ", "      compliance: ", "        ", WIDTH) {
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    write_verdict(out, &report.verdict)
}

fn write_verdict(out: &mut impl Write, verdict: &DomainVerdict) -> io::Result<()> {
    let clean = attesta::channel::sanitize_for_display;
    if verdict.is_empty() {
        return writeln!(out, "  escalation rules: none apply");
    }
    writeln!(out, "  escalation rules that apply:")?;
    for rule in &verdict.matched_rules {
        for line in wrap::words(&clean(&rule.to_string()), "    ", "      ", WIDTH) {
            writeln!(out, "{line}")?;
        }
    }
    if let Some(rule) = &verdict.blocked_by {
        let line = format!(
            "blocked by {}/{}: the gate denies it without asking anyone",
            rule.profile, rule.name
        );
        for line in wrap::words(&clean(&line), "    → ", "      ", WIDTH) {
            writeln!(out, "{line}")?;
        }
    }
    if let Some(n) = verdict.required_approvers {
        writeln!(out, "    → at least {n} distinct approvers")?;
    }
    if let Some(challenge) = verdict.required_challenge {
        writeln!(out, "    → at least a {} challenge", challenge.as_str())?;
    }
    if !verdict.notify.is_empty() {
        let roles: Vec<String> = verdict.notify.iter().map(|r| clean(r)).collect();
        for line in wrap::items(&roles, ", ", "    → notify: ", "      ", WIDTH) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
