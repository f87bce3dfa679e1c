//! Time, injected: a [`Clock`] gives wall-clock timestamps for records and a
//! monotonic reading for measuring review times, so tests can control both.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Local};

/// A source of time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current local wall-clock time (for timestamps in records).
    fn now(&self) -> DateTime<Local>;

    /// Time elapsed since an arbitrary fixed point; never goes backwards.
    fn monotonic(&self) -> Duration;
}

/// The real clock. Its monotonic reading follows Tokio's clock, so tests that
/// pause Tokio time (`start_paused = true`) see consistent elapsed times.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: tokio::time::Instant,
}

impl SystemClock {
    /// A clock whose monotonic reading starts now.
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Local> {
        Local::now()
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to; for tests.
///
/// ```
/// use attesta::clock::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::at("2025-01-15T12:00:00".parse().unwrap());
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.monotonic(), Duration::from_secs(90));
/// assert_eq!(clock.now().format("%H:%M:%S").to_string(), "12:01:30");
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<(DateTime<Local>, Duration)>>,
}

impl ManualClock {
    /// A clock reading the given local wall-clock time (naive, interpreted
    /// in the local time zone).
    pub fn at(start: chrono::NaiveDateTime) -> Self {
        let wall = start
            .and_local_timezone(Local)
            .earliest()
            .unwrap_or_else(Local::now);
        Self {
            state: Arc::new(Mutex::new((wall, Duration::ZERO))),
        }
    }

    /// Moves both readings forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 += by;
        state.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Local> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    fn monotonic(&self) -> Duration {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1
    }
}
