//! Naive local timestamps with the reference's microsecond precision.

use chrono::{NaiveDateTime, Timelike};

use crate::clock::Clock;

/// The clock's local wall-clock time, truncated to whole microseconds.
///
/// The reference (Python `datetime`) keeps microseconds; truncating here
/// makes a stored timestamp identical to the in-memory one, so trust is the
/// same before and after a restart.
pub(super) fn local_now(clock: &dyn Clock) -> NaiveDateTime {
    truncate_to_micros(clock.now().naive_local())
}

/// Drops sub-microsecond digits.
pub(super) fn truncate_to_micros(ts: NaiveDateTime) -> NaiveDateTime {
    let nanos = ts.nanosecond();
    // `with_nanosecond` only fails for values ≥ 2e9, which a truncation of a
    // valid value cannot produce; keeping `ts` is the harmless fallback.
    ts.with_nanosecond(nanos - nanos % 1_000).unwrap_or(ts)
}

/// `(later − earlier).total_seconds() / 86400` as Python computes it: whole
/// microseconds divided by 1e6, then by 86400. Negative when `earlier` is in
/// the future (a clock that went backwards), as in the reference.
pub(super) fn days_between(earlier: NaiveDateTime, later: NaiveDateTime) -> f64 {
    let delta = later - earlier;
    let seconds = match delta.num_microseconds() {
        Some(micros) => micros as f64 / 1e6,
        // Only spans beyond ±292,000 years overflow microseconds.
        None => delta.num_seconds() as f64,
    };
    seconds / 86_400.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop loudly
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    #[test]
    fn days_between_counts_fractional_days() {
        assert_eq!(
            days_between(ts("2025-01-14T00:00:00"), ts("2025-01-15T12:00:00")),
            1.5
        );
        assert_eq!(
            days_between(ts("2025-01-15T12:00:00"), ts("2025-01-14T12:00:00")),
            -1.0
        );
    }

    #[test]
    fn truncation_keeps_microseconds_only() {
        let t = ts("2025-01-15T12:00:00.123456789");
        assert_eq!(truncate_to_micros(t), ts("2025-01-15T12:00:00.123456"));
    }
}
