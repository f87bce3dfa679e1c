//! `attesta risk score`: score contexts and explain what the gate would do.

mod domain;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use attesta::{
    ActionContext, Attesta, ChallengeType, DefaultRiskScorer, RiskAssessment, RiskScorer,
};
use serde::Serialize;

use self::domain::{DOMAIN_FACTORS, DomainReport, Domains};
use crate::cli::ScoreArgs;
use crate::commands::wrap;
use crate::config::{PolicySource, engine, load_policy};

/// The default scorer's own factor names; anything else in an assessment is
/// an adjustment made by the gate.
const SCORER_FACTORS: [&str; 5] = [
    "function_name",
    "arguments",
    "docstring",
    "hints",
    "novelty",
];

#[derive(Debug, Serialize)]
struct Report {
    /// The default scorer's score for a first call (fresh novelty).
    score: f64,
    level: &'static str,
    scorer: String,
    factors: Vec<FactorOut>,
    /// What the gate would do under the policy.
    effective: Effective,
    /// The domain profiles' view, when any is active (`--domain`, or the
    /// policy's `domain:`/`domains:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<DomainReport>,
}

#[derive(Debug, Serialize)]
struct FactorOut {
    name: Cow<'static, str>,
    score: Option<f64>,
    weight: Option<f64>,
    contribution: f64,
    evidence: Option<String>,
}

#[derive(Debug, Serialize)]
struct Effective {
    score: f64,
    level: &'static str,
    challenge: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    approvers_required: Option<u32>,
    environment: String,
    adjustments: Vec<Adjustment>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    /// The escalation rule that blocks the action: the gate then denies it
    /// without asking anyone (`challenge` is what it would ask otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked_by: Option<String>,
    /// Roles the escalation rules notify.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notify: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Adjustment {
    name: Cow<'static, str>,
    contribution: f64,
    description: Cow<'static, str>,
}

pub(crate) fn score(args: &ScoreArgs) -> anyhow::Result<ExitCode> {
    let (mut policy, source) = load_policy(args.config.as_deref())?;
    let domains = Domains::activate(&mut policy, &args.domains)?;
    let engine = engine(policy)?;
    let label = input_label(&args.input);
    let mut input = open_input(&args.input)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.jsonl {
        replay_lines(&engine, domains.as_ref(), &mut input, &label, &mut out)?;
    } else {
        let mut text = String::new();
        input
            .read_to_string(&mut text)
            .with_context(|| format!("could not read {label}"))?;
        let ctx: ActionContext = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{label}:{}:{}: not a valid action context: {e}",
                e.line(),
                e.column()
            )
        })?;
        let report = report_for(&engine, domains.as_ref(), &ctx);
        if args.json {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        } else {
            write_explanation(&mut out, &ctx, &report, &source)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// One JSON result per input line. The gate's view (`effective`) uses one
/// engine for the whole trace, so novelty builds up as it would in a real
/// session; `score` is always the first-call score.
fn replay_lines(
    engine: &Attesta,
    domains: Option<&Domains>,
    input: &mut dyn BufRead,
    label: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut line = String::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let read = input
            .read_line(&mut line)
            .with_context(|| format!("could not read {label}"))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let ctx: ActionContext = serde_json::from_str(&line).map_err(|e| {
            anyhow::anyhow!(
                "{label}: line {number}, column {}: not a valid action context: {e}",
                e.column()
            )
        })?;
        serde_json::to_writer(&mut *out, &report_for(engine, domains, &ctx))?;
        out.write_all(b"\n")?;
    }
}

fn report_for(engine: &Attesta, domains: Option<&Domains>, ctx: &ActionContext) -> Report {
    let own = DefaultRiskScorer::new().assess(ctx);
    let preview = engine.preview_decision(ctx);
    let effective = preview.risk;
    let challenge = preview.challenge;
    let environment = if ctx.environment.is_empty() {
        engine.default_environment().to_owned()
    } else {
        ctx.environment.clone()
    };
    // Judged in the gate's environment, as the gate judges it.
    let domain = domains.map(|d| {
        let judged = ctx.clone().with_environment(environment.clone());
        d.report(&judged, &effective)
    });
    Report {
        score: own.score,
        level: own.level.as_str(),
        scorer: own.scorer_name.clone(),
        factors: own
            .factors
            .into_iter()
            .map(|f| FactorOut {
                name: f.name,
                score: f.score,
                weight: f.weight,
                contribution: f.contribution,
                evidence: f.evidence,
            })
            .collect(),
        effective: Effective {
            score: effective.score,
            level: effective.level.as_str(),
            challenge: challenge.as_str(),
            // The gate's own reckoning, not a recomputation that could drift.
            approvers_required: (challenge == ChallengeType::MultiParty)
                .then_some(preview.required_approvers),
            environment,
            adjustments: adjustments(&effective),
            warnings: preview.warnings,
            blocked_by: preview.escalation.blocked_by,
            notify: preview.escalation.notify,
        },
        domain,
    }
}

fn adjustments(risk: &RiskAssessment) -> Vec<Adjustment> {
    risk.factors
        .iter()
        .filter(|f| !SCORER_FACTORS.contains(&&*f.name))
        .map(|f| Adjustment {
            name: f.name.clone(),
            contribution: f.contribution,
            description: f.description.clone(),
        })
        .collect()
}

fn write_explanation(
    out: &mut impl Write,
    ctx: &ActionContext,
    report: &Report,
    source: &PolicySource,
) -> io::Result<()> {
    let description = attesta::channel::sanitize_for_display(&ctx.description());
    writeln!(out, "{description}")?;
    writeln!(
        out,
        "  score {:.2} → {} (default scorer, first call)",
        report.score,
        report.level.to_uppercase()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  {:<14} {:>5} {:>6} {:>8}  why",
        "factor", "raw", "weight", "adds"
    )?;
    for f in &report.factors {
        writeln!(
            out,
            "  {:<14} {:>5.2} {:>6.2} {:>8.3}  {}",
            f.name,
            f.score.unwrap_or(0.0),
            f.weight.unwrap_or(0.0),
            f.contribution,
            attesta::channel::sanitize_for_display(f.evidence.as_deref().unwrap_or(""))
        )?;
    }
    if let Some(domain) = &report.domain {
        domain::write_text(out, domain)?;
    }
    let eff = &report.effective;
    writeln!(out)?;
    writeln!(
        out,
        "  under policy {source}, environment '{}':",
        eff.environment
    )?;
    // The domain section above already shows the domain scorer's factors.
    let shown_above = |name: &str| report.domain.is_some() && DOMAIN_FACTORS.contains(&name);
    for adj in eff.adjustments.iter().filter(|a| !shown_above(&a.name)) {
        writeln!(out, "    {:+.2}  {}", adj.contribution, adj.description)?;
    }
    if let Some(rule) = &eff.blocked_by {
        let line = format!(
            "{:.2} {}: BLOCKED by {}; nobody is asked",
            eff.score,
            eff.level.to_uppercase(),
            attesta::channel::sanitize_for_display(rule)
        );
        for line in wrap::words(&line, "  → ", "    ", wrap::WIDTH) {
            writeln!(out, "{line}")?;
        }
    } else {
        let who = match eff.approvers_required {
            Some(n) => format!(" ({n} distinct approvers)"),
            None => String::new(),
        };
        writeln!(
            out,
            "  → {:.2} {}: the gate asks for {}{who}",
            eff.score,
            eff.level.to_uppercase(),
            eff.challenge
        )?;
    }
    if !eff.notify.is_empty() {
        writeln!(
            out,
            "  → notifies {}",
            attesta::channel::sanitize_for_display(&eff.notify.join(", "))
        )?;
    }
    for warning in &eff.warnings {
        writeln!(out, "  note: {warning}")?;
    }
    Ok(())
}

fn input_label(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

fn open_input(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::new(io::stdin())));
    }
    if path.is_dir() {
        bail!(
            "{} is a directory; give a JSON file or - for standard input",
            path.display()
        );
    }
    let file = File::open(path).with_context(|| format!("could not open {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
}
