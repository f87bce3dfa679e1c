//! Strict loading of `attesta.yaml` / `attesta.yml` / `attesta.toml`.
//!
//! Loading takes two steps so that YAML and TOML share every rule and every
//! message: the text is parsed into a small tree whose nodes keep their line
//! and column (`from_yaml`, `from_toml`), then one validator walks that tree
//! into a [`Policy`] (`validate`). The extension alone decides the format.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::Policy;
use super::tree::{self, ParseFailure, Problem};
use super::{from_toml, from_yaml, validate};

/// A 1-based line and column in a policy file (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceLocation {
    /// Line number, from 1.
    pub line: usize,
    /// Column number, from 1.
    pub column: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a policy file could not be used.
///
/// Every variant names the file; the ones about content also name the line
/// and column and, for a bad value, the dotted key path. `Display` renders
/// `file:line:column: key.path: message`, and the message says what to
/// change:
///
/// ```text
/// attesta.yaml:12:14: policy.fail_mode: 'sometimes' is not a fail mode; use deny, allow or escalate
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read: it does not exist, is not readable, is a
    /// directory, or is not UTF-8 text.
    Io {
        /// The file as it was given.
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },
    /// The file name does not end in `.yaml`, `.yml` or `.toml` (in any
    /// case), so there is no telling which format it is in.
    UnsupportedExtension {
        /// The file as it was given.
        path: PathBuf,
    },
    /// The text is not well-formed YAML or TOML, holds several YAML
    /// documents, or exceeds the YAML resource limits (a file that expands
    /// through anchors and aliases into too much data).
    Syntax {
        /// The file as it was given.
        path: PathBuf,
        /// Where the parser stopped, when it reports a position.
        location: Option<SourceLocation>,
        /// The parser's complaint in our wording.
        message: String,
    },
    /// The file is well-formed but a key or value is not acceptable: an
    /// unknown key, a wrong type, a value out of range, an unknown level,
    /// challenge, mode or domain, a duplicate key, or two keys that say the
    /// same thing.
    Invalid {
        /// The file as it was given.
        path: PathBuf,
        /// Where the offending key or value is written.
        location: SourceLocation,
        /// Dotted path of the key (`policy.challenge_map.critical`,
        /// `risk.amplifiers[1].pattern`); empty when the problem is the
        /// document itself.
        key: String,
        /// What is wrong and what to do about it.
        message: String,
    },
}

impl PolicyError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::UnsupportedExtension { path }
            | Self::Syntax { path, .. }
            | Self::Invalid { path, .. } => path,
        }
    }

    /// Where in the file, when known.
    pub fn location(&self) -> Option<SourceLocation> {
        match self {
            Self::Syntax { location, .. } => *location,
            Self::Invalid { location, .. } => Some(*location),
            Self::Io { .. } | Self::UnsupportedExtension { .. } => None,
        }
    }

    fn from_problem(path: &Path, problem: Problem) -> Self {
        Self::Invalid {
            path: path.to_owned(),
            location: problem.at,
            key: problem.key,
            message: problem.message,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "{}: cannot read the policy file: ", path.display())?;
                match source.kind() {
                    io::ErrorKind::NotFound => {
                        f.write_str("no such file; check the path (or create the file)")
                    }
                    _ => write_read_failure(f, source),
                }
            }
            Self::UnsupportedExtension { path } => {
                let found = match path.extension() {
                    Some(ext) => format!(
                        "'.{}' is not a policy file extension",
                        ext.to_string_lossy()
                    ),
                    None => "the file name has no extension".to_owned(),
                };
                write!(
                    f,
                    "{}: {found}; name the file with .yaml, .yml or .toml so its format is known",
                    path.display()
                )
            }
            Self::Syntax {
                path,
                location,
                message,
            } => match location {
                Some(at) => write!(f, "{}:{at}: {message}", path.display()),
                None => write!(f, "{}: {message}", path.display()),
            },
            Self::Invalid {
                path,
                location,
                key,
                message,
            } => render_problem(f, path, *location, key, message),
        }
    }
}

impl std::error::Error for PolicyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a file could not be read, with what to do about it; shared with
/// domain profile files.
pub(crate) fn write_read_failure(f: &mut fmt::Formatter<'_>, source: &io::Error) -> fmt::Result {
    match source.kind() {
        io::ErrorKind::NotFound => f.write_str("no such file; check the path"),
        io::ErrorKind::PermissionDenied => {
            f.write_str("permission denied; make the file readable for this user")
        }
        io::ErrorKind::InvalidData => f.write_str("the file is not UTF-8 text; save it as UTF-8"),
        _ => write!(f, "{source}"),
    }
}

/// `file:line:column: key: message`, shared by errors and warnings.
pub(crate) fn render_problem(
    f: &mut impl fmt::Write,
    path: &Path,
    at: SourceLocation,
    key: &str,
    message: &str,
) -> fmt::Result {
    write!(f, "{}:{at}: ", path.display())?;
    if !key.is_empty() {
        write!(f, "{key}: ")?;
    }
    f.write_str(message)
}

/// The two formats a policy file can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Yaml,
    Toml,
}

impl Format {
    /// The format named by the file's extension (case-insensitive).
    fn of(path: &Path) -> Result<Self, PolicyError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("yaml" | "yml") => Ok(Self::Yaml),
            Some("toml") => Ok(Self::Toml),
            _ => Err(PolicyError::UnsupportedExtension {
                path: path.to_owned(),
            }),
        }
    }
}

/// Reads and validates the policy file at `path`. A missing file is an
/// error: choosing a fallback is the caller's decision.
pub(super) fn from_file(path: &Path) -> Result<Policy, PolicyError> {
    // The extension is checked first so a wrong name is reported even when
    // the file is also missing.
    let format = Format::of(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, format)
}

/// Validates policy `text` as if it had been read from `path` (which picks
/// the format, labels messages and anchors relative paths).
pub(super) fn from_text(text: &str, path: &Path) -> Result<Policy, PolicyError> {
    parse(text, path, Format::of(path)?)
}

fn parse(text: &str, path: &Path, format: Format) -> Result<Policy, PolicyError> {
    let parsed = match format {
        Format::Yaml => from_yaml::parse(text),
        Format::Toml => from_toml::parse(text),
    };
    let root = parsed.map_err(|failure| match failure {
        ParseFailure::Syntax { at, message } => PolicyError::Syntax {
            path: path.to_owned(),
            location: at,
            message,
        },
        ParseFailure::Invalid(problem) => PolicyError::from_problem(path, problem),
    })?;
    if let Some(problem) = root.as_ref().and_then(|r| tree::find_duplicate_key(r, "")) {
        return Err(PolicyError::from_problem(path, problem));
    }

    let base_dir = path.parent().unwrap_or_else(|| Path::new(""));
    let (mut policy, warnings) = validate::policy(root.as_ref(), base_dir)
        .map_err(|problem| PolicyError::from_problem(path, problem))?;
    policy.source = Some(path.to_owned());
    policy.warnings = warnings
        .into_iter()
        .map(|w| {
            let mut line = String::new();
            // Writing to a String cannot fail.
            let _ = render_problem(&mut line, path, w.at, &w.key, &w.message);
            line
        })
        .collect();
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_text(text: &str, name: &str) -> String {
        match from_text(text, Path::new(name)) {
            Ok(_) => panic!("expected {name} to be rejected"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn extension_picks_the_format_case_insensitively() {
        assert_eq!(
            Format::of(Path::new("a/attesta.YAML")).ok(),
            Some(Format::Yaml)
        );
        assert_eq!(
            Format::of(Path::new("attesta.yml")).ok(),
            Some(Format::Yaml)
        );
        assert_eq!(
            Format::of(Path::new("attesta.Toml")).ok(),
            Some(Format::Toml)
        );
        let message = error_text("", "attesta.json");
        assert!(
            message.contains("'.json' is not a policy file extension"),
            "{message}"
        );
        assert!(message.contains(".yaml, .yml or .toml"), "{message}");
        let message = error_text("", "attesta");
        assert!(message.contains("no extension"), "{message}");
    }

    #[test]
    fn empty_documents_give_the_default_policy_with_its_source() {
        for (text, name) in [("", "a.yaml"), ("{}\n", "a.yml"), ("# none\n", "a.toml")] {
            let policy = from_text(text, Path::new(name)).expect("empty is valid");
            assert_eq!(policy.source.as_deref(), Some(Path::new(name)));
            let expected = Policy {
                source: Some(PathBuf::from(name)),
                ..Policy::default()
            };
            assert_eq!(policy, expected);
        }
    }

    #[test]
    fn invalid_values_render_file_line_column_key_and_advice() {
        let message = error_text("policy:\n  fail_mode: sometimes\n", "attesta.yaml");
        assert_eq!(
            message,
            "attesta.yaml:2:14: policy.fail_mode: 'sometimes' is not a fail mode; \
             use deny, allow or escalate"
        );
    }

    #[test]
    fn syntax_errors_render_file_and_position() {
        let message = error_text("a: b: c\n", "attesta.yaml");
        assert!(
            message.starts_with("attesta.yaml:1:5: invalid YAML: "),
            "{message}"
        );
        let message = error_text("[policy\n", "attesta.toml");
        assert!(message.starts_with("attesta.toml:1:"), "{message}");
        assert!(message.contains("invalid TOML: "), "{message}");
    }

    #[test]
    fn yaml_duplicates_are_reported_with_their_path() {
        let message = error_text("policy:\n  mode: shadow\n  mode: enforce\n", "attesta.yaml");
        assert_eq!(
            message,
            "attesta.yaml:3:3: policy.mode: this key is given twice (first at line 2); \
             remove one of them"
        );
    }

    #[test]
    fn missing_files_name_the_file() {
        let error = from_file(Path::new("/nonexistent/dir/attesta.yaml")).expect_err("missing");
        assert!(matches!(error, PolicyError::Io { .. }));
        let message = error.to_string();
        assert!(
            message.starts_with("/nonexistent/dir/attesta.yaml: "),
            "{message}"
        );
        assert!(message.contains("no such file"), "{message}");
    }
}
