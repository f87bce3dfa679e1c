//! Statistics over audit entries ([`Stats`]) and rubber-stamp detection
//! ([`RubberStampRule`]): approvals of risky actions that were waved through.

use std::collections::BTreeMap;

use serde::Serialize;

use super::query::StoredEntry;
use crate::risk::RiskLevel;

/// What counts as a rubber stamp: an approved entry at or above `min_risk`
/// whose review was shorter than `max_seconds`, or whose minimum review time
/// was not met.
///
/// Differences from the reference (§2.2): the time bound is strict (`<`,
/// the reference uses `<=`), and `min_review_met: false` also counts (the
/// reference's docs say so, its code ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RubberStampRule {
    /// Reviews shorter than this are suspicious.
    pub max_seconds: f64,
    /// Entries below this level are never rubber stamps.
    pub min_risk: RiskLevel,
}

impl Default for RubberStampRule {
    /// 5 seconds, high risk: the reference's defaults.
    fn default() -> Self {
        Self {
            max_seconds: 5.0,
            min_risk: RiskLevel::High,
        }
    }
}

impl RubberStampRule {
    /// Whether `entry` is a rubber stamp under this rule. Entries with an
    /// unknown risk level never are.
    ///
    /// ```
    /// use attesta::audit::{RubberStampRule, StoredEntry};
    /// let e = StoredEntry::from_line(
    ///     br#"{"verdict":"approved","risk_level":"high","review_duration_seconds":1.2}"#,
    /// ).unwrap();
    /// assert!(RubberStampRule::default().matches(&e));
    /// ```
    pub fn matches(&self, entry: &StoredEntry) -> bool {
        entry.verdict == "approved"
            && entry.level().is_some_and(|l| l >= self.min_risk)
            && (!entry.min_review_met || entry.review_duration_seconds < self.max_seconds)
    }
}

/// Number of bins of [`Stats::risk_histogram`].
pub const HISTOGRAM_BINS: usize = 10;

/// How long humans looked before deciding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReviewQuality {
    /// Entries with a positive review duration (a human looked); the median
    /// and p90 are over these, since auto-approved entries record 0.
    pub reviewed: usize,
    /// Median review time in seconds (mean of the two middle values for an
    /// even count); `None` when nothing was reviewed.
    pub median_seconds: Option<f64>,
    /// 90th percentile (nearest rank) in seconds; `None` when nothing was
    /// reviewed.
    pub p90_seconds: Option<f64>,
    /// Entries with `min_review_met: false`.
    pub min_review_not_met: usize,
    /// `min_review_not_met / total`, 0 for an empty log.
    pub min_review_not_met_share: f64,
}

/// Summary numbers over a set of entries. Empty strings are counted under
/// `unknown` (verdict, level) or `none` (challenge type), and every other
/// value under its own name, so nothing in the log is hidden.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Entries counted.
    pub total: usize,
    /// Count per verdict.
    pub by_verdict: BTreeMap<String, usize>,
    /// Count per risk level (the risk distribution).
    pub by_level: BTreeMap<String, usize>,
    /// Count per challenge type.
    pub by_challenge: BTreeMap<String, usize>,
    /// `approved / total`, 0 for an empty log.
    pub approval_rate: f64,
    /// Review times and minimum-review compliance.
    pub review: ReviewQuality,
    /// Risk scores in ten bins of width 0.1: bin `i` holds `[i/10, (i+1)/10)`,
    /// the last bin also holds 1.0.
    pub risk_histogram: [usize; HISTOGRAM_BINS],
    /// Scores outside `0..=1` or NaN, which no bin holds.
    pub risk_out_of_range: usize,
    /// Rubber stamps under the rule the stats were built with.
    pub rubber_stamps: usize,
    /// `rubber_stamps / approved`, 0 when nothing was approved.
    pub rubber_stamp_rate: f64,
    /// Count per agent id (`(none)` for empty).
    pub agents: BTreeMap<String, usize>,
    /// Count per action name (`(unnamed)` for empty).
    pub actions: BTreeMap<String, usize>,
}

impl Stats {
    /// The `n` most frequent keys of `counts`, most frequent first, ties by
    /// name, so the order is deterministic.
    pub fn top(counts: &BTreeMap<String, usize>, n: usize) -> Vec<(String, usize)> {
        let mut all: Vec<(String, usize)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    /// Count for `verdict`.
    pub fn verdict_count(&self, verdict: &str) -> usize {
        self.by_verdict.get(verdict).copied().unwrap_or(0)
    }
}

/// Accumulates [`Stats`] one entry at a time. Memory grows only with the
/// number of distinct agents/actions and one `f64` per reviewed entry (for
/// the median).
#[derive(Debug, Clone, Default)]
pub struct StatsBuilder {
    /// Counts so far.
    stats: Stats,
    /// Positive review durations, for median and p90.
    review_times: Vec<f64>,
    /// The rubber-stamp rule to count with.
    rule: RubberStampRule,
}

impl StatsBuilder {
    /// A builder counting rubber stamps with `rule`.
    pub fn new(rule: RubberStampRule) -> Self {
        Self {
            rule,
            ..Self::default()
        }
    }

    /// Counts one entry.
    pub fn add(&mut self, e: &StoredEntry) {
        let s = &mut self.stats;
        s.total += 1;
        bump(&mut s.by_verdict, or_label(&e.verdict, "unknown"));
        bump(&mut s.by_level, or_label(&e.risk_level, "unknown"));
        bump(&mut s.by_challenge, or_label(&e.challenge_type, "none"));
        bump(&mut s.agents, or_label(&e.agent_id, "(none)"));
        bump(&mut s.actions, or_label(&e.action_name, "(unnamed)"));
        if e.review_duration_seconds > 0.0 {
            self.review_times.push(e.review_duration_seconds);
        }
        if !e.min_review_met {
            s.review.min_review_not_met += 1;
        }
        if (0.0..=1.0).contains(&e.risk_score) {
            // Truncation is the binning; the range check bounds it to 0..=10.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let bin = ((e.risk_score * 10.0).floor() as usize).min(HISTOGRAM_BINS - 1);
            s.risk_histogram[bin] += 1;
        } else {
            s.risk_out_of_range += 1;
        }
        if self.rule.matches(e) {
            s.rubber_stamps += 1;
        }
    }

    /// The finished statistics.
    pub fn finish(mut self) -> Stats {
        let mut s = self.stats;
        let total = s.total as f64;
        let approved = s.verdict_count("approved") as f64;
        if s.total > 0 {
            s.approval_rate = approved / total;
            s.review.min_review_not_met_share = s.review.min_review_not_met as f64 / total;
        }
        if approved > 0.0 {
            s.rubber_stamp_rate = s.rubber_stamps as f64 / approved;
        }
        self.review_times.sort_by(f64::total_cmp);
        let times = &self.review_times;
        s.review.reviewed = times.len();
        if !times.is_empty() {
            let mid = times.len() / 2;
            s.review.median_seconds = Some(if times.len().is_multiple_of(2) {
                f64::midpoint(times[mid - 1], times[mid])
            } else {
                times[mid]
            });
            // Nearest rank: the smallest value with at least 90 % at or below it.
            let rank = (times.len() * 9).div_ceil(10).max(1);
            s.review.p90_seconds = Some(times[rank - 1]);
        }
        s
    }
}

fn or_label<'a>(value: &'a str, label: &'a str) -> &'a str {
    if value.is_empty() { label } else { value }
}

fn bump(map: &mut BTreeMap<String, usize>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else {
        map.insert(key.to_owned(), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: &str) -> StoredEntry {
        StoredEntry::from_line(json.as_bytes()).unwrap()
    }

    #[test]
    fn empty_stats_are_zero_not_nan() {
        let s = StatsBuilder::default().finish();
        assert_eq!(s.total, 0);
        assert_eq!(s.approval_rate, 0.0);
        assert_eq!(s.review.median_seconds, None);
    }

    #[test]
    fn median_of_even_count_and_p90() {
        let mut b = StatsBuilder::default();
        for t in [4.0, 1.0, 3.0, 2.0, 0.0] {
            b.add(&entry(&format!(r#"{{"review_duration_seconds":{t}}}"#)));
        }
        let s = b.finish();
        assert_eq!(s.review.reviewed, 4);
        assert_eq!(s.review.median_seconds, Some(2.5));
        assert_eq!(s.review.p90_seconds, Some(4.0));
    }

    #[test]
    fn rubber_stamp_rule_edges() {
        let rule = RubberStampRule::default();
        let fast_high =
            r#"{"verdict":"approved","risk_level":"high","review_duration_seconds":4.9}"#;
        assert!(rule.matches(&entry(fast_high)));
        // Strictly below the bound.
        assert!(!rule.matches(&entry(
            r#"{"verdict":"approved","risk_level":"high","review_duration_seconds":5.0}"#
        )));
        // Slow but minimum review not met.
        assert!(rule.matches(&entry(
            r#"{"verdict":"approved","risk_level":"CRITICAL","review_duration_seconds":50,"min_review_met":false}"#
        )));
        assert!(!rule.matches(&entry(
            r#"{"verdict":"denied","risk_level":"high","review_duration_seconds":1}"#
        )));
        assert!(!rule.matches(&entry(
            r#"{"verdict":"approved","risk_level":"medium","review_duration_seconds":1}"#
        )));
        assert!(!rule.matches(&entry(
            r#"{"verdict":"approved","risk_level":"severe","review_duration_seconds":1}"#
        )));
    }

    #[test]
    fn odd_scores_and_levels_are_counted_not_hidden() {
        let mut b = StatsBuilder::default();
        b.add(&entry(r#"{"risk_score":1.0,"risk_level":"severe"}"#));
        b.add(&entry(r#"{"risk_score":1.5}"#));
        b.add(&entry(r#"{"risk_score":NaN}"#));
        let s = b.finish();
        assert_eq!(s.risk_histogram[9], 1);
        assert_eq!(s.risk_out_of_range, 2);
        assert_eq!(s.by_level["severe"], 1);
        assert_eq!(s.by_level["unknown"], 2);
    }
}
