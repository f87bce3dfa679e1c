//! The built-in profiles, shipped as YAML data (`presets/*.yaml`) and
//! loaded by the same strict loader as users' own profiles.

use std::path::Path;

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
    pub fn load(&self) -> Result<DomainProfile, DomainError> {
        let label = format!("presets/{}.yaml", self.name);
        DomainProfile::from_yaml(self.source, Path::new(&label))
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

/// The built-in preset a name or alias (any case, trimmed) refers to.
pub fn builtin(name: &str) -> Option<&'static Preset> {
    let key = name.trim().to_lowercase();
    BUILTIN
        .iter()
        .find(|p| p.name == key || p.aliases.contains(&key.as_str()))
}
