//! The `trust:` section. Its presence turns the trust engine on (even an
//! empty `trust: {}`), unless it says `enabled: false`.

use std::path::Path;

use super::read::{Field, Section};
use crate::policy::tree::Problem;
use crate::trust::TrustSettings;

const TRUST_KEYS: &[&str] = &[
    "enabled",
    "influence",
    "ceiling",
    "initial_score",
    "decay_rate",
    "incident_penalty",
    "history_limit",
    "store",
];

/// Where the trust store lives unless `trust.store` says otherwise,
/// relative to the policy file's directory.
const DEFAULT_STORE: &str = ".attesta/trust.json";

/// Most outcomes kept per agent; the history is held in memory and
/// rewritten on every save.
const MAX_HISTORY: i128 = 1_000_000;

/// The trust settings the section describes; `None` when it disables trust.
/// Every key is validated even then, so a typo does not wait until trust is
/// switched on to surface.
pub(super) fn settings(
    trust: &Field<'_>,
    base_dir: &Path,
) -> Result<Option<TrustSettings>, Problem> {
    let section = Section::new(trust, TRUST_KEYS)?;
    let mut settings = TrustSettings::default();
    let fraction = |key: &str, target: &mut f64| -> Result<(), Problem> {
        if let Some(f) = section.get(key) {
            *target = f.number_in(0.0, 1.0, "a number from 0 to 1")?;
        }
        Ok(())
    };
    fraction("influence", &mut settings.influence)?;
    fraction("ceiling", &mut settings.ceiling)?;
    fraction("initial_score", &mut settings.initial_score)?;
    fraction("incident_penalty", &mut settings.incident_penalty)?;
    if let Some(f) = section.get("decay_rate") {
        settings.decay_rate =
            f.number_in(0.0, f64::MAX, "a number, 0 or more (trust lost per day)")?;
    }
    if settings.initial_score > settings.ceiling {
        // Reported at whichever of the two the file gives (initial_score
        // first): that is the line to change.
        let at = section
            .get("initial_score")
            .or_else(|| section.get("ceiling"))
            .unwrap_or(trust);
        return Err(at.problem(format!(
            "initial_score {} is above ceiling {}; trust can never exceed the ceiling, so lower \
             initial_score or raise ceiling",
            settings.initial_score, settings.ceiling
        )));
    }
    if let Some(f) = section.get("history_limit") {
        let limit = f.whole_in(1, MAX_HISTORY, "a whole number from 1 to 1000000")?;
        // Range-checked above, so it fits.
        settings.history_limit = usize::try_from(limit).unwrap_or(usize::MAX);
    }
    let store = match section.get("store") {
        Some(f) => f.non_empty_string()?,
        None => DEFAULT_STORE,
    };
    settings.store_path = Some(base_dir.join(store));

    let enabled = section
        .get("enabled")
        .map(Field::boolean)
        .transpose()?
        .unwrap_or(true);
    Ok(enabled.then_some(settings))
}
