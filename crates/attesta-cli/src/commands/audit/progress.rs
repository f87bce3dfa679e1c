//! A one-line progress bar on stderr for long scans of big logs.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Logs smaller than this finish before a bar would be readable.
pub(super) const MIN_BYTES: u64 = 64 << 20;

/// Draws `[#####.....]  45%  320/715 MB` on stderr, redrawing only when the
/// percentage changes.
#[derive(Debug)]
pub(super) struct ProgressBar {
    last_percent: Mutex<Option<u64>>,
}

impl ProgressBar {
    /// A bar, if stderr is a terminal and the file is big enough to need one.
    pub(super) fn for_file(size: u64) -> Option<Self> {
        (size >= MIN_BYTES && std::io::stderr().is_terminal()).then(|| ProgressBar {
            last_percent: Mutex::new(None),
        })
    }

    pub(super) fn update(&self, done: u64, total: u64) {
        if total == 0 {
            return;
        }
        let percent = done.saturating_mul(100) / total;
        let Ok(mut last) = self.last_percent.lock() else {
            return;
        };
        if *last == Some(percent) {
            return;
        }
        *last = Some(percent);
        const WIDTH: u64 = 30;
        let filled = usize::try_from(percent * WIDTH / 100).unwrap_or(0);
        let empty = usize::try_from(WIDTH).unwrap_or(0).saturating_sub(filled);
        let _ = write!(
            std::io::stderr(),
            "\r[{}{}] {percent:>3}%  {}/{} MB",
            "#".repeat(filled),
            ".".repeat(empty),
            done >> 20,
            total >> 20
        );
    }

    /// Erases the bar so the summary starts on a clean line.
    pub(super) fn finish(&self) {
        if let Ok(mut last) = self.last_percent.lock() {
            *last = None;
        }
        let _ = write!(std::io::stderr(), "\r{:60}\r", "");
    }
}
