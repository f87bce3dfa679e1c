//! [`DomainRegistry`]: profiles by name and alias (§8.7, §8.8).

use std::collections::BTreeMap;

use super::error::DomainError;
use super::presets;
use super::profile::DomainProfile;

/// Profiles by name, with aliases.
///
/// Names and aliases are looked up trimmed and case-insensitively, and they
/// share one namespace: an alias can never shadow another profile's name
/// or alias (the reference let a later registration with alias `devops`
/// take over `devops`), and a name or alias may be registered once.
/// There is no process-wide registry: each holder builds its own, usually
/// from [`DomainRegistry::with_presets`].
///
/// ```
/// use attesta::domain::DomainRegistry;
/// let registry = DomainRegistry::with_presets()?;
/// assert_eq!(registry.get(" OPS ")?.name, "devops");
/// assert!(registry.get("finance").is_err());
/// # Ok::<(), attesta::domain::DomainError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DomainRegistry {
    /// Profiles by (lower-case) name.
    profiles: BTreeMap<String, DomainProfile>,
    /// Alias (lower-case) → profile name.
    aliases: BTreeMap<String, String>,
}

/// The lookup form of a name or alias.
fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl DomainRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the built-in presets (`devops`, `data-pipeline`,
    /// `healthcare`, `infrastructure`) with their aliases.
    ///
    /// Fails only if a preset does not load, which the test suite rules
    /// out.
    pub fn with_presets() -> Result<Self, DomainError> {
        let mut registry = Self::new();
        for preset in presets::BUILTIN {
            registry.register(preset.load()?, preset.aliases)?;
        }
        Ok(registry)
    }

    /// Adds `profile` under its name and `aliases`. Fails if the name or
    /// an alias is already taken (as a name or an alias); nothing is added
    /// then.
    pub fn register(
        &mut self,
        profile: DomainProfile,
        aliases: &[&str],
    ) -> Result<(), DomainError> {
        let name = key(&profile.name);
        if self.owner(&name).is_some() {
            return Err(DomainError::AlreadyRegistered { name });
        }
        let mut new_aliases: Vec<String> = Vec::new();
        for alias in aliases.iter().map(|a| key(a)) {
            if alias == name || new_aliases.contains(&alias) {
                continue;
            }
            if let Some(owner) = self.owner(&alias) {
                return Err(DomainError::AliasTaken {
                    alias,
                    owner: owner.to_owned(),
                });
            }
            new_aliases.push(alias);
        }
        for alias in new_aliases {
            self.aliases.insert(alias, name.clone());
        }
        self.profiles.insert(name, profile);
        Ok(())
    }

    /// Puts `profile` in place of the profile with the same name (keeping
    /// its aliases), or adds it. Fails if the name is another profile's
    /// alias.
    pub fn replace(&mut self, profile: DomainProfile) -> Result<(), DomainError> {
        let name = key(&profile.name);
        if let Some(owner) = self.aliases.get(&name) {
            return Err(DomainError::AliasTaken {
                alias: name,
                owner: owner.clone(),
            });
        }
        self.profiles.insert(name, profile);
        Ok(())
    }

    /// The profile a name or alias refers to.
    pub fn get(&self, name: &str) -> Result<&DomainProfile, DomainError> {
        self.owner(&key(name))
            .and_then(|canonical| self.profiles.get(canonical))
            .ok_or_else(|| DomainError::UnknownProfile {
                name: name.trim().to_owned(),
                available: self.known_names(),
            })
    }

    /// The canonical name a name or alias refers to, if any.
    pub fn canonical_name(&self, name: &str) -> Option<&str> {
        self.owner(&key(name))
    }

    fn owner(&self, key: &str) -> Option<&str> {
        if let Some((name, _)) = self.profiles.get_key_value(key) {
            return Some(name);
        }
        self.aliases.get(key).map(String::as_str)
    }

    /// Whether a name or alias is known.
    pub fn contains(&self, name: &str) -> bool {
        self.owner(&key(name)).is_some()
    }

    /// Profile names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }

    /// The aliases of the profile `name`, sorted.
    pub fn aliases_of(&self, name: &str) -> Vec<&str> {
        let name = key(name);
        self.aliases
            .iter()
            .filter(|(_, owner)| **owner == name)
            .map(|(alias, _)| alias.as_str())
            .collect()
    }

    /// Names and aliases, for messages: `data-pipeline (aliases
    /// data_pipeline, etl)`, sorted by name.
    pub fn known_names(&self) -> Vec<String> {
        self.names()
            .into_iter()
            .map(|name| match self.aliases_of(name).as_slice() {
                [] => name.to_owned(),
                [one] => format!("{name} (alias {one})"),
                many => format!("{name} (aliases {})", many.join(", ")),
            })
            .collect()
    }

    /// Number of profiles (aliases not counted).
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether no profile is registered.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The profiles, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &DomainProfile> {
        self.profiles.values()
    }
}
