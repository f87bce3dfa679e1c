//! `attesta domains list`: the built-in profiles at a glance.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use serde::Serialize;

use super::{Counts, presets};

/// One preset, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    name: &'a str,
    display_name: &'a str,
    description: &'a str,
    aliases: Vec<&'a str>,
    counts: Counts,
    compliance_frameworks: &'a [String],
    production_multiplier: f64,
    base_risk_floor: f64,
}

pub(super) fn run(json: bool) -> anyhow::Result<ExitCode> {
    let registry = presets()?;
    let listed: Vec<Listed<'_>> = registry
        .iter()
        .map(|profile| Listed {
            name: &profile.name,
            display_name: &profile.display_name,
            description: &profile.description,
            aliases: registry.aliases_of(&profile.name),
            counts: Counts::of(profile),
            compliance_frameworks: &profile.compliance_frameworks,
            production_multiplier: profile.production_multiplier,
            base_risk_floor: profile.base_risk_floor,
        })
        .collect();
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &listed)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &listed)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, listed: &[Listed<'_>]) -> io::Result<()> {
    for preset in listed {
        let aliases = match preset.aliases.as_slice() {
            [] => String::new(),
            [one] => format!(" (alias {one})"),
            many => format!(" (aliases {})", many.join(", ")),
        };
        writeln!(out, "{} — {}{aliases}", preset.name, preset.display_name)?;
        writeln!(out, "  {}", preset.counts.summary())?;
        writeln!(
            out,
            "  production multiplier {}, risk floor {}",
            preset.production_multiplier, preset.base_risk_floor
        )?;
        writeln!(out)?;
    }
    writeln!(out, "Show one in full: attesta domains show NAME")
}
