//! The built-in profiles, shipped as YAML data (`presets/*.yaml`) and
//! loaded by the same strict loader as users' own profiles.

use std::path::Path;
use std::sync::OnceLock;

use super::error::DomainError;
use super::profile::DomainProfile;

/// A built-in profile: its name, aliases and YAML text.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The profile's name (as in its file).
    pub name: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
    /// The profile file's text.
    pub source: &'static str,
}

impl Preset {
    /// The profile, loaded from its text. Errors name `presets/NAME.yaml`.
    ///
    /// Built-ins are compiled once per process and cloned after that
    /// (compiling every pattern costs far more than a clone, which shares
    /// the compiled expressions).
    pub fn load(&self) -> Result<DomainProfile, DomainError> {
        let slot = BUILTIN
            .iter()
            .position(|p| p.name == self.name && p.source == self.source)
            .and_then(|i| LOADED.get(i));
        if let Some(profile) = slot.and_then(OnceLock::get) {
            return Ok(profile.clone());
        }
        let label = format!("presets/{}.yaml", self.name);
        let profile = DomainProfile::from_yaml(self.source, Path::new(&label))?;
        if let Some(slot) = slot {
            // Another thread may have filled it meanwhile; both are equal.
            let _ = slot.set(profile.clone());
        }
        Ok(profile)
    }
}

/// Every built-in profile, by name. Aliases are the reference's for
/// `devops` and `data-pipeline`.
pub const BUILTIN: &[Preset] = &[
    Preset {
        name: "data-pipeline",
        aliases: &["data_pipeline", "etl"],
        source: include_str!("presets/data-pipeline.yaml"),
    },
    Preset {
        name: "devops",
        aliases: &["ops"],
        source: include_str!("presets/devops.yaml"),
    },
    Preset {
        name: "healthcare",
        aliases: &["health"],
        source: include_str!("presets/healthcare.yaml"),
    },
    Preset {
        name: "infrastructure",
        aliases: &["infra"],
        source: include_str!("presets/infrastructure.yaml"),
    },
];

/// Compiled built-ins, by position in [`BUILTIN`].
static LOADED: [OnceLock<DomainProfile>; BUILTIN.len()] =
    [const { OnceLock::new() }; BUILTIN.len()];

/// The built-in preset a name or alias (any case, trimmed) refers to.
pub fn builtin(name: &str) -> Option<&'static Preset> {
    let key = name.trim().to_lowercase();
    BUILTIN
        .iter()
        .find(|p| p.name == key || p.aliases.contains(&key.as_str()))
}
