//! The trust formula, as pure functions of a profile, the time and the
//! settings. The engine's rustdoc on `compute_trust` is the reference text.

use chrono::NaiveDateTime;

use super::TrustSettings;
use super::profile::{TrustOutcome, TrustProfile};
use super::time::days_between;
use crate::risk::clamp01;

/// The reference's weight decays by this much per day of a record's age.
/// A constant, not `decay_rate`: the reference hard-codes it.
const RECORD_AGE_DECAY_PER_DAY: f64 = 0.1;

/// Trust of `profile` at `now`, restricted to records of `domain` when one
/// is given (see `TrustEngine::compute_trust` for the formula).
pub(super) fn trust_of(
    profile: &TrustProfile,
    domain: Option<&str>,
    now: NaiveDateTime,
    settings: &TrustSettings,
) -> f64 {
    if profile.revoked_at.is_some() {
        return 0.0;
    }
    let mut any_record = false;
    // Plain left-to-right sums in history order, as the reference does, so
    // results agree to the last bit.
    let mut total_weight = 0.0;
    let mut success_weight = 0.0;
    for record in &profile.history {
        if domain.is_some_and(|d| record.domain != d) {
            continue;
        }
        any_record = true;
        let weight = (-RECORD_AGE_DECAY_PER_DAY * days_between(record.timestamp, now)).exp();
        total_weight += weight;
        if record.outcome == TrustOutcome::Success {
            success_weight += weight;
        }
    }
    if !any_record {
        return settings.initial_score;
    }
    let rate = if total_weight > 0.0 {
        success_weight / total_weight
    } else {
        0.5
    };
    let recency = match profile.last_action_at {
        Some(last) => (-settings.decay_rate * days_between(last, now)).exp(),
        None => 1.0,
    };
    // `powf`, not `powi`: Python's float `**` is C `pow`, and `powi` may
    // differ in the last bit.
    let penalty = settings.incident_penalty.powf(f64::from(profile.incidents));
    py_min(rate * recency * penalty, settings.ceiling)
}

/// Trust-adjusted risk: `clamp01(raw × (1 − (trust − 0.5) × influence))`.
pub(super) fn adjust_risk(raw_risk: f64, trust: f64, influence: f64) -> f64 {
    let discount = (trust - 0.5) * influence;
    clamp01(raw_risk * (1.0 - discount))
}

/// Python's `min(a, b)`: `b` only if it is strictly smaller, so a NaN `a`
/// stays NaN (and is later clamped to 1.0, the cautious reading).
fn py_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

#[cfg(test)]
// Tests unwrap so a failure stops loudly, and write the spec's numbers as the
// spec does, so they can be searched for.
#[allow(clippy::unwrap_used, clippy::unreadable_literal)]
mod tests {
    use super::*;
    use crate::trust::profile::TrustRecord;

    fn ts(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    fn record(at: &str, domain: &str, outcome: TrustOutcome) -> TrustRecord {
        TrustRecord {
            timestamp: ts(at),
            action_name: "act".to_owned(),
            domain: domain.to_owned(),
            outcome,
            risk_score: 0.5,
            severity: None,
            description: None,
        }
    }

    /// core.md §4.3's worked example.
    fn worked_example() -> TrustProfile {
        let mut p = TrustProfile::new("bot", 0.3, ts("2025-01-01T00:00:00"));
        p.history = vec![
            record("2025-01-13T12:00:00", "ci", TrustOutcome::Success),
            record("2025-01-14T12:00:00", "ci", TrustOutcome::Success),
            record("2025-01-15T00:00:00", "ci", TrustOutcome::Denied),
            record("2025-01-15T12:00:00", "ci", TrustOutcome::Success),
        ];
        p.last_action_at = Some(ts("2025-01-12T12:00:00"));
        p.incidents = 1;
        p
    }

    const NOW: &str = "2025-01-15T12:00:00";

    #[test]
    fn worked_example_matches_the_reference_bit_for_bit() {
        let s = TrustSettings::default();
        let p = worked_example();
        let trust = trust_of(&p, Some("ci"), ts(NOW), &s);
        assert_eq!(trust, 0.5034705038145704);
        assert_eq!(trust_of(&p, None, ts(NOW), &s), trust);
        assert_eq!(adjust_risk(0.7, trust, s.influence), 0.6992711941989402);
        let unknown_domain = trust_of(&p, Some("x"), ts(NOW), &s);
        assert_eq!(unknown_domain, 0.3);
        assert_eq!(adjust_risk(0.7, unknown_domain, s.influence), 0.742);
    }

    #[test]
    fn worked_example_rate_is_the_reference_rate() {
        // With recency and penalty neutralised, trust is the rate itself.
        let s = TrustSettings {
            decay_rate: 0.0,
            incident_penalty: 1.0,
            ceiling: 1.0,
            ..TrustSettings::default()
        };
        assert_eq!(
            trust_of(&worked_example(), None, ts(NOW), &s),
            0.7411478048108364
        );
    }

    #[test]
    fn revoked_profile_has_zero_trust_even_without_history() {
        let s = TrustSettings::default();
        let mut p = worked_example();
        p.revoked_at = Some(ts(NOW));
        assert_eq!(trust_of(&p, None, ts(NOW), &s), 0.0);
        p.history.clear();
        assert_eq!(trust_of(&p, Some("x"), ts(NOW), &s), 0.0);
    }

    #[test]
    fn empty_domain_is_a_real_filter() {
        let s = TrustSettings::default();
        let mut p = TrustProfile::new("bot", 0.3, ts(NOW));
        p.history = vec![
            record(NOW, "", TrustOutcome::Denied),
            record(NOW, "ci", TrustOutcome::Success),
        ];
        p.last_action_at = Some(ts(NOW));
        assert_eq!(trust_of(&p, Some(""), ts(NOW), &s), 0.0);
        assert_eq!(trust_of(&p, Some("ci"), ts(NOW), &s), 0.9);
        assert_eq!(trust_of(&p, None, ts(NOW), &s), 0.5);
    }

    #[test]
    fn adjustment_multipliers_and_clamping() {
        assert_eq!(adjust_risk(0.5, 0.3, 0.3), 0.5 * 1.06);
        assert_eq!(adjust_risk(0.5, 0.9, 0.3), 0.5 * 0.88);
        assert_eq!(adjust_risk(0.5, 0.0, 0.3), 0.5 * 1.15);
        assert_eq!(adjust_risk(0.95, 0.0, 0.3), 1.0);
        assert_eq!(adjust_risk(-0.2, 0.9, 0.3), 0.0);
        assert_eq!(adjust_risk(f64::NAN, 0.9, 0.3), 1.0);
    }
}
