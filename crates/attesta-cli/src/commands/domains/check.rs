//! `attesta domains check`: validate profile files with the loader the
//! policy uses, so a mistake is found before the gate refuses to start.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use attesta::domain::{DomainError, DomainProfile};
use serde::Serialize;

use super::{Counts, clean, plural, presets};

/// Exit status when a file is invalid (a check that failed).
const EXIT_INVALID_PROFILE: u8 = 1;
/// Exit status when a file cannot be read (an input error, as for a
/// missing audit log).
const EXIT_UNREADABLE: u8 = 2;

/// What checking one file found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    Invalid,
    Unreadable,
}

/// One file's result, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Checked {
    file: PathBuf,
    valid: bool,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<Counts>,
    /// `file:line:column: key: what is wrong; what to do`.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Dotted path of the offending key, when the loader names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    /// Things worth knowing about a valid file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

pub(super) fn run(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let registry = presets()?;
    let checked: Vec<Checked> = files
        .iter()
        .map(|file| {
            check(file, |name| {
                registry.canonical_name(name).map(str::to_owned)
            })
        })
        .collect();
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &checked)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &checked)?;
    }
    out.flush()?;
    let code = if checked
        .iter()
        .any(|c| matches!(c.status, Status::Unreadable))
    {
        EXIT_UNREADABLE
    } else if checked.iter().any(|c| !c.valid) {
        EXIT_INVALID_PROFILE
    } else {
        0
    };
    Ok(ExitCode::from(code))
}

/// Loads `file`; `builtin` gives the built-in profile a name refers to.
fn check(file: &Path, builtin: impl Fn(&str) -> Option<String>) -> Checked {
    let mut checked = Checked {
        file: file.to_path_buf(),
        valid: false,
        status: Status::Invalid,
        name: None,
        display_name: None,
        counts: None,
        error: None,
        key: None,
        line: None,
        column: None,
        notes: Vec::new(),
    };
    match DomainProfile::from_file(file) {
        Ok(profile) => {
            if let Some(preset) = builtin(&profile.name) {
                checked.notes.push(format!(
                    "the name '{}' is also the built-in profile {preset}: a policy cannot use \
                     both; rename this profile to use them together",
                    profile.name
                ));
            }
            checked.valid = true;
            checked.status = Status::Ok;
            checked.counts = Some(Counts::of(&profile));
            checked.name = Some(profile.name);
            checked.display_name = Some(profile.display_name);
        }
        Err(error) => {
            match &error {
                DomainError::Io { .. } => checked.status = Status::Unreadable,
                DomainError::Invalid { location, key, .. } => {
                    checked.key = Some(key.clone());
                    checked.line = Some(location.line);
                    checked.column = Some(location.column);
                }
                DomainError::Syntax {
                    location: Some(location),
                    ..
                } => {
                    checked.line = Some(location.line);
                    checked.column = Some(location.column);
                }
                _ => {}
            }
            checked.error = Some(error.to_string());
        }
    }
    checked
}

fn write_text(out: &mut impl Write, checked: &[Checked]) -> io::Result<()> {
    for c in checked {
        let file = clean(&c.file.display().to_string());
        match (&c.error, &c.name, &c.counts) {
            (Some(error), _, _) => writeln!(out, "{}", clean(error))?,
            (None, Some(name), Some(counts)) => {
                let display = c.display_name.as_deref().unwrap_or_default();
                writeln!(
                    out,
                    "{file}: OK: {} ({}): {}",
                    clean(name),
                    clean(display),
                    counts.summary()
                )?;
            }
            _ => writeln!(out, "{file}: OK")?,
        }
        for note in &c.notes {
            writeln!(out, "{file}: note: {}", clean(note))?;
        }
    }
    if checked.len() > 1 {
        let valid = checked.iter().filter(|c| c.valid).count();
        writeln!(
            out,
            "{}: {valid} valid, {} not",
            plural(checked.len(), "file"),
            checked.len() - valid
        )?;
    }
    Ok(())
}
