//! [`DomainError`]: why a profile could not be loaded, registered or
//! resolved.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::policy::SourceLocation;

/// Why a domain profile could not be used.
///
/// Errors about a file name it; errors about content also name the line,
/// the column and the dotted key path, and `Display` renders them as
/// `file:line:column: key.path: what is wrong; what to do`:
///
/// ```text
/// profiles/acme.yaml:7:14: risk_patterns[0].pattern: the pattern uses look-around ...
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DomainError {
    /// A profile file could not be read: missing, unreadable, a directory
    /// or not UTF-8.
    Io {
        /// The file as given.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file is not well-formed YAML (or expands too far through
    /// aliases, or holds several documents).
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where the parser stopped, when it says.
        location: Option<SourceLocation>,
        /// What is wrong.
        message: String,
    },
    /// A key or value of a profile is not acceptable: an unknown key, a
    /// missing required key, a wrong type, an out-of-range number, a
    /// pattern the regex engine refuses, an unknown target, action, level
    /// or condition.
    Invalid {
        /// The file (or `presets/NAME.yaml` for a built-in).
        path: PathBuf,
        /// Where the offending key or value is.
        location: SourceLocation,
        /// Dotted key path (`risk_patterns[2].risk_contribution`).
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// No profile or alias has this name.
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The names and aliases that exist, sorted.
        available: Vec<String>,
    },
    /// A profile with this name (or an alias spelled so) is already
    /// registered.
    AlreadyRegistered {
        /// The name.
        name: String,
    },
    /// An alias would shadow another profile's name or alias (the
    /// reference let it, so a plug-in could take over `devops`).
    AliasTaken {
        /// The alias asked for.
        alias: String,
        /// The profile that already answers to it.
        owner: String,
    },
    /// One selection names the same profile twice (directly or through an
    /// alias).
    ListedTwice {
        /// The profile.
        name: String,
    },
    /// `merge` was given no profiles.
    NothingToMerge,
    /// A `domains:` entry in the policy cannot be applied to its profile
    /// (for example a rule that would never fire).
    Selection {
        /// The profile the entry is for.
        domain: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "{}: cannot read the domain profile: ", path.display())?;
                crate::policy::load::write_read_failure(f, source)
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
            } => crate::policy::load::render_problem(f, path, *location, key, message),
            Self::UnknownProfile { name, available } => {
                write!(f, "no domain profile named '{name}'; ")?;
                if available.is_empty() {
                    f.write_str("none is registered")
                } else {
                    write!(f, "the known names are {}", available.join(", "))
                }
            }
            Self::AlreadyRegistered { name } => write!(
                f,
                "a domain profile named '{name}' is already registered; pick another name, or \
                 replace it explicitly"
            ),
            Self::AliasTaken { alias, owner } => write!(
                f,
                "the alias '{alias}' already refers to the profile '{owner}'; an alias may not \
                 take over another profile's name, so pick another alias"
            ),
            Self::ListedTwice { name } => write!(
                f,
                "the domain profile '{name}' is listed twice; list each profile once"
            ),
            Self::NothingToMerge => f.write_str("no domain profiles to merge; give at least one"),
            Self::Selection { domain, message } => write!(f, "domains: {domain}: {message}"),
        }
    }
}

impl std::error::Error for DomainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
