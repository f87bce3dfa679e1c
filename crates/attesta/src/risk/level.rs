//! [`RiskLevel`] and the score-to-level mapping.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How dangerous an action is; decides which challenge a human must pass.
///
/// Levels are ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Score below 0.3: runs without asking.
    Low,
    /// Score from 0.3: needs a confirmation.
    Medium,
    /// Score from 0.6: needs a quiz.
    High,
    /// Score from 0.8: needs several independent approvers. Never lowered.
    Critical,
}

/// A score outside `0..=1` was given where a level or assessment was expected.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("risk score must be between 0 and 1, got {0}")]
pub struct ScoreOutOfRange(pub f64);

/// A string that is not one of `low`, `medium`, `high`, `critical`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a risk level; use low, medium, high or critical")]
pub struct UnknownRiskLevel(pub String);

impl RiskLevel {
    /// All levels, lowest first.
    pub const ALL: [RiskLevel; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The level for a score. Lower bounds are inclusive: 0.3 is MEDIUM,
    /// 0.6 HIGH, 0.8 CRITICAL. A NaN is CRITICAL (the cautious reading).
    ///
    /// ```
    /// use attesta::RiskLevel;
    /// assert_eq!(RiskLevel::from_score(0.3).unwrap(), RiskLevel::Medium);
    /// assert!(RiskLevel::from_score(1.5).is_err());
    /// ```
    pub fn from_score(score: f64) -> Result<Self, ScoreOutOfRange> {
        if score.is_nan() {
            return Ok(Self::Critical);
        }
        if !(0.0..=1.0).contains(&score) {
            return Err(ScoreOutOfRange(score));
        }
        Ok(Self::from_clamped(score))
    }

    /// Like [`RiskLevel::from_score`] for a score already known to be in range.
    pub(crate) fn from_clamped(score: f64) -> Self {
        if score < 0.3 {
            Self::Low
        } else if score < 0.6 {
            Self::Medium
        } else if score < 0.8 {
            Self::High
        } else {
            // Also reached by NaN, since every comparison above is false.
            Self::Critical
        }
    }

    /// The score an explicit override to this level stands for.
    pub fn representative_score(self) -> f64 {
        match self {
            Self::Low => 0.15,
            Self::Medium => 0.45,
            Self::High => 0.70,
            Self::Critical => 0.90,
        }
    }

    /// The lowercase wire name (`low`, `medium`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RiskLevel {
    type Err = UnknownRiskLevel;

    /// Exact, case-sensitive parse of the wire name (`"HIGH"` is rejected).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            other => Err(UnknownRiskLevel(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(
        clippy::excessive_precision,
        reason = "a literal that rounds to 0.3 is the point of one case"
    )]
    fn boundaries_are_inclusive_below() {
        let cases = [
            (0.0, RiskLevel::Low),
            (0.29, RiskLevel::Low),
            (0.299_999_999_999_999_99, RiskLevel::Medium), // rounds to 0.3
            (0.3, RiskLevel::Medium),
            (0.59, RiskLevel::Medium),
            (0.6, RiskLevel::High),
            (0.79, RiskLevel::High),
            (0.8, RiskLevel::Critical),
            (1.0, RiskLevel::Critical),
            (0.6 * 1.5, RiskLevel::Critical),
            (0.400_000_000_000_000_1 * 1.5, RiskLevel::High),
        ];
        for (score, level) in cases {
            assert_eq!(RiskLevel::from_score(score), Ok(level), "score {score}");
        }
    }

    #[test]
    fn out_of_range_and_nan() {
        assert!(RiskLevel::from_score(-0.01).is_err());
        assert!(RiskLevel::from_score(1.01).is_err());
        assert!(RiskLevel::from_score(f64::INFINITY).is_err());
        assert_eq!(RiskLevel::from_score(f64::NAN), Ok(RiskLevel::Critical));
    }

    #[test]
    fn parse_is_exact() {
        assert_eq!("high".parse::<RiskLevel>(), Ok(RiskLevel::High));
        assert!("HIGH".parse::<RiskLevel>().is_err());
        assert!(" high".parse::<RiskLevel>().is_err());
    }

    #[test]
    fn ordering_follows_severity() {
        assert!(RiskLevel::Low < RiskLevel::Medium);
        assert!(RiskLevel::High < RiskLevel::Critical);
        assert_eq!(RiskLevel::ALL.iter().max(), Some(&RiskLevel::Critical));
    }
}
