//! Deployment environments: their risk multipliers and detection.

use std::fmt;

/// A known deployment environment. Other names are allowed in contexts and
/// get a neutral multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// Live systems: risk × 1.5.
    Production,
    /// Pre-production: risk × 1.2.
    Staging,
    /// Continuous integration: risk × 1.0.
    Ci,
    /// A developer's machine: risk × 0.8.
    Development,
}

impl Environment {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Staging => "staging",
            Self::Ci => "ci",
            Self::Development => "development",
        }
    }

    /// Parses a name case-insensitively, ignoring surrounding space.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        [Self::Production, Self::Staging, Self::Ci, Self::Development]
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name))
    }

    /// The factor scored risk is multiplied by in this environment.
    pub fn risk_multiplier(self) -> f64 {
        match self {
            Self::Production => 1.5,
            Self::Staging => 1.2,
            Self::Ci => 1.0,
            Self::Development => 0.8,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The multiplier for an environment name; 1.0 for names that are not one of
/// the four known environments. Unlike the reference, `Production` and
/// `production` are the same environment.
pub fn risk_multiplier(environment: &str) -> f64 {
    Environment::parse(environment).map_or(1.0, Environment::risk_multiplier)
}

/// Works out where this process runs, from the real environment variables and
/// host name. See [`detect_environment_from`] for the rules.
pub fn detect_environment() -> Environment {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    detect_environment_from(|name| std::env::var(name).ok(), hostname.trim())
}

/// Detection rules, first match wins:
/// 1. `ATTESTA_ENV` naming a known environment;
/// 2. a CI marker (`CI`, `GITHUB_ACTIONS`, `GITLAB_CI`, `JENKINS_URL`,
///    `CIRCLECI`, `TRAVIS`, `BUILDKITE`) set to something other than empty,
///    `0` or `false` (the reference treats `CI=false` as CI);
/// 3. `NODE_ENV`, `FLASK_ENV` or `RAILS_ENV` equal to `production`, or a
///    `DJANGO_SETTINGS_MODULE` with a `prod`/`production` component (the
///    reference matches any module containing "prod", such as `myproduct`);
/// 4. a host name starting with `prod-`/`prod.` (production) or
///    `stg-`/`stg.`/`staging-`/`staging.` (staging);
/// 5. otherwise development.
pub fn detect_environment_from(
    var: impl Fn(&str) -> Option<String>,
    hostname: &str,
) -> Environment {
    if let Some(explicit) = var("ATTESTA_ENV").as_deref().and_then(Environment::parse) {
        return explicit;
    }
    const CI_MARKERS: [&str; 7] = [
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "JENKINS_URL",
        "CIRCLECI",
        "TRAVIS",
        "BUILDKITE",
    ];
    let is_set = |value: &str| {
        let v = value.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    };
    if CI_MARKERS
        .iter()
        .any(|name| var(name).is_some_and(|v| is_set(&v)))
    {
        return Environment::Ci;
    }
    let says_production =
        |name: &str| var(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("production"));
    if says_production("NODE_ENV") || says_production("FLASK_ENV") || says_production("RAILS_ENV") {
        return Environment::Production;
    }
    if let Some(module) = var("DJANGO_SETTINGS_MODULE") {
        let lower = module.to_ascii_lowercase();
        if lower
            .split(['.', '_', '-'])
            .any(|part| part == "prod" || part == "production")
        {
            return Environment::Production;
        }
    }
    let host = hostname.to_ascii_lowercase();
    if ["prod-", "prod."].iter().any(|p| host.starts_with(p)) {
        return Environment::Production;
    }
    if ["stg-", "stg.", "staging-", "staging."]
        .iter()
        .any(|p| host.starts_with(p))
    {
        return Environment::Staging;
    }
    Environment::Development
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect(vars: &[(&str, &str)], host: &str) -> Environment {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        detect_environment_from(|k| map.get(k).cloned(), host)
    }

    #[test]
    fn explicit_wins_and_invalid_falls_through() {
        assert_eq!(
            detect(&[("ATTESTA_ENV", " Staging "), ("CI", "1")], ""),
            Environment::Staging
        );
        assert_eq!(
            detect(&[("ATTESTA_ENV", "qa"), ("CI", "1")], ""),
            Environment::Ci
        );
    }

    #[test]
    fn ci_false_is_not_ci() {
        assert_eq!(detect(&[("CI", "false")], ""), Environment::Development);
        assert_eq!(detect(&[("CI", "0")], ""), Environment::Development);
        assert_eq!(detect(&[("GITHUB_ACTIONS", "true")], ""), Environment::Ci);
    }

    #[test]
    fn framework_markers() {
        assert_eq!(
            detect(&[("NODE_ENV", "production")], ""),
            Environment::Production
        );
        assert_eq!(
            detect(&[("DJANGO_SETTINGS_MODULE", "site.settings.prod")], ""),
            Environment::Production
        );
        assert_eq!(
            detect(&[("DJANGO_SETTINGS_MODULE", "myproduct.settings")], ""),
            Environment::Development
        );
    }

    #[test]
    fn hostnames() {
        assert_eq!(detect(&[], "prod-db-1"), Environment::Production);
        assert_eq!(detect(&[], "staging.example"), Environment::Staging);
        assert_eq!(detect(&[], "producer"), Environment::Development);
    }

    #[test]
    fn multipliers_are_case_insensitive() {
        assert_eq!(risk_multiplier("Production"), 1.5);
        assert_eq!(risk_multiplier("staging"), 1.2);
        assert_eq!(risk_multiplier("ci"), 1.0);
        assert_eq!(risk_multiplier("development"), 0.8);
        assert_eq!(risk_multiplier("testing"), 1.0);
    }
}
