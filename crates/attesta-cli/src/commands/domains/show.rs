//! `attesta domains show`: one profile in full, as text for a terminal or
//! as the profile's JSON form.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use attesta::domain::{DomainProfile, EscalationAction, EscalationRule};

use super::{Origin, clean, lookup};
use crate::commands::wrap::{self, WIDTH};

pub(super) fn run(name_or_file: &str, json: bool) -> anyhow::Result<ExitCode> {
    let (profile, origin) = lookup(name_or_file)?;
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &profile)?;
        writeln!(out)?;
    } else {
        write_profile(&mut out, &profile, &origin)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `lines`, one per line.
fn put(out: &mut impl Write, lines: Vec<String>) -> io::Result<()> {
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `text` word-wrapped under `indent`.
fn para(out: &mut impl Write, text: &str, indent: &str) -> io::Result<()> {
    put(out, wrap::words(&clean(text), indent, indent, WIDTH))
}

/// `label: a, b, c`, wrapped between items, continuation lines indented;
/// `none` for no items.
fn listing(out: &mut impl Write, indent: &str, label: &str, items: &[String]) -> io::Result<()> {
    if items.is_empty() {
        return writeln!(out, "{indent}{label}none");
    }
    let first = format!("{indent}{label}");
    let rest = format!("{indent}  ");
    let items: Vec<String> = items.iter().map(|i| clean(i)).collect();
    put(out, wrap::items(&items, ", ", &first, &rest, WIDTH))
}

fn heading(out: &mut impl Write, title: &str, count: usize) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{title} ({count})")
}

fn write_profile(out: &mut impl Write, profile: &DomainProfile, origin: &Origin) -> io::Result<()> {
    writeln!(
        out,
        "{} — {}",
        clean(&profile.name),
        clean(&profile.display_name)
    )?;
    if !profile.description.is_empty() {
        para(out, &profile.description, "  ")?;
    }
    writeln!(out)?;
    match origin {
        Origin::Preset { aliases } => {
            writeln!(out, "  built-in preset")?;
            if !aliases.is_empty() {
                writeln!(out, "  aliases: {}", aliases.join(", "))?;
            }
        }
        Origin::File(path) => writeln!(out, "  file: {}", clean(&path.display().to_string()))?,
    }
    if !profile.compliance_frameworks.is_empty() {
        listing(
            out,
            "  ",
            "compliance frameworks: ",
            &profile.compliance_frameworks,
        )?;
    }
    writeln!(
        out,
        "  risk floor {}, production multiplier {}",
        profile.base_risk_floor, profile.production_multiplier
    )?;
    if !profile.min_review_overrides.is_empty() {
        let reviews: Vec<String> = profile
            .min_review_overrides
            .iter()
            .map(|(level, seconds)| format!("{level} {seconds} s"))
            .collect();
        writeln!(out, "  minimum review: {}", reviews.join(", "))?;
    }
    write_patterns(out, profile)?;
    write_terms(out, profile)?;
    write_actions(out, "Critical actions", &profile.critical_actions)?;
    write_actions(out, "Safe actions", &profile.safe_actions)?;
    write_rules(out, &profile.escalation_rules)?;
    write_templates(out, profile)?;
    if !profile.required_vocabulary.is_empty() {
        heading(
            out,
            "Required vocabulary",
            profile.required_vocabulary.len(),
        )?;
        listing(out, "  ", "", &profile.required_vocabulary)?;
    }
    Ok(())
}

fn write_patterns(out: &mut impl Write, profile: &DomainProfile) -> io::Result<()> {
    heading(out, "Risk patterns", profile.risk_patterns.len())?;
    for pattern in &profile.risk_patterns {
        writeln!(
            out,
            "  {}  +{}  target: {}",
            clean(&pattern.name),
            pattern.risk_contribution,
            pattern.target.as_str()
        )?;
        if !pattern.description.is_empty() {
            para(out, &pattern.description, "    ")?;
        }
        if !pattern.compliance_refs.is_empty() {
            let refs: Vec<String> = pattern.compliance_refs.iter().map(|r| clean(r)).collect();
            put(
                out,
                wrap::items(&refs, "; ", "    compliance: ", "      ", WIDTH),
            )?;
        }
        let source = clean(pattern.pattern.as_str());
        put(
            out,
            wrap::expression(&source, "    regex: ", "           ", WIDTH),
        )?;
    }
    Ok(())
}

fn write_terms(out: &mut impl Write, profile: &DomainProfile) -> io::Result<()> {
    heading(out, "Sensitive terms", profile.sensitive_terms.len())?;
    let terms: Vec<String> = profile
        .sensitive_terms
        .iter()
        .map(|t| format!("{} {}", t.term(), t.weight()))
        .collect();
    listing(out, "  ", "", &terms)
}

fn write_actions(
    out: &mut impl Write,
    title: &str,
    actions: &[attesta::domain::ActionGlob],
) -> io::Result<()> {
    heading(out, title, actions.len())?;
    let names: Vec<String> = actions.iter().map(|a| a.as_str().to_owned()).collect();
    listing(out, "  ", "", &names)
}

fn write_rules(out: &mut impl Write, rules: &[EscalationRule]) -> io::Result<()> {
    heading(out, "Escalation rules", rules.len())?;
    for rule in rules {
        let condition = rule.condition.to_string();
        let mut line = if rule.name == condition {
            format!("{condition} → {}", rule.action)
        } else {
            format!("{}: {condition} → {}", rule.name, rule.action)
        };
        if rule.action == EscalationAction::RequireMultiParty {
            let _ = write!(line, " ({} approvers)", rule.required_approvers);
        }
        put(out, wrap::words(&clean(&line), "  ", "      ", WIDTH))?;
        if !rule.notify_roles.is_empty() {
            listing(out, "    ", "notify: ", &rule.notify_roles)?;
        }
        if !rule.description.is_empty() {
            para(out, &rule.description, "    ")?;
        }
    }
    Ok(())
}

fn write_templates(out: &mut impl Write, profile: &DomainProfile) -> io::Result<()> {
    heading(
        out,
        "Challenge templates",
        profile.challenge_templates.len(),
    )?;
    for template in &profile.challenge_templates {
        let first = format!(
            "  [{}, from {}] ",
            template.challenge_type.as_str(),
            template.min_risk_level
        );
        put(
            out,
            wrap::words(&clean(&template.question_template), &first, "    ", WIDTH),
        )?;
        if !template.answer_hints.is_empty() {
            listing(out, "    ", "hints: ", &template.answer_hints)?;
        }
    }
    Ok(())
}
