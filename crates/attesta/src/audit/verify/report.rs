//! What verification found.

use std::fmt;

use serde::Serialize;

/// The result of verifying a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Non-blank lines (each is an entry, readable or not), as the
    /// reference's `total_entries`.
    pub entries: u64,
    /// Every broken line, in file order.
    pub broken: Vec<BrokenEntry>,
    /// The running hash after the last entry: the stored `chain_hash` of the
    /// last readable entry (genesis, or the anchor, for an empty log). This
    /// is what the next appended entry chains from.
    pub head_hash: String,
    /// `Some(hash)` when the log was verified as an anchored segment starting
    /// from this hash instead of genesis. Entries before the anchor were not
    /// checked, so an intact anchored segment proves less than an intact log.
    pub anchor: Option<String>,
}

impl VerifyReport {
    /// Whether no entry is broken.
    pub fn intact(&self) -> bool {
        self.broken.is_empty()
    }

    /// The first broken entry: the one to show prominently (later breaks are
    /// often consequences of it).
    pub fn first_broken(&self) -> Option<&BrokenEntry> {
        self.broken.first()
    }

    /// The broken physical line indices (0-based), as the reference's
    /// `broken_link_indices`.
    pub fn broken_lines(&self) -> Vec<u64> {
        self.broken.iter().map(|b| b.line).collect()
    }
}

/// One entry that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenEntry {
    /// Physical line index, 0-based, counting blank lines (the reference's
    /// index; an editor shows it as `line + 1`).
    pub line: u64,
    /// 1-based position among the entries (non-blank lines).
    pub entry_number: u64,
    /// The entry's `entry_id`, when the line could be read and has one.
    pub entry_id: Option<String>,
    /// Why the entry failed.
    pub reason: BreakReason,
}

/// Why an entry failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakReason {
    /// The entry chains from the right hash but its contents do not match
    /// its `chain_hash`: it was changed after it was written.
    HashMismatch,
    /// The entry's `previous_hash` is not the `chain_hash` of the entry
    /// before it: entries were removed, reordered or inserted here, or the
    /// `previous_hash` field itself was edited.
    BrokenLink {
        /// The running hash (the previous entry's stored `chain_hash`).
        expected: String,
        /// The entry's `previous_hash` (empty if absent or not a string).
        found: String,
    },
    /// The line is not JSON (e.g. truncated by a crash mid-write).
    BadJson {
        /// What the parser found wrong.
        message: String,
    },
    /// The line is JSON but not an object (the reference crashes here).
    NotAnObject {
        /// What it is instead (`"an array"`, `"a number"`, …).
        found: &'static str,
    },
    /// The line is not valid UTF-8 (the reference crashes here).
    InvalidUtf8 {
        /// Byte offset of the first invalid byte within the line.
        offset: usize,
    },
    /// `chain_hash` is present but not a string (the reference crashes on
    /// the next line).
    ChainHashNotString,
    /// There is no `chain_hash` key.
    MissingChainHash,
    /// There is no `entry_id` key (the reference substitutes a random id,
    /// so such an entry can never verify).
    MissingEntryId,
}

impl BreakReason {
    /// Whether the line was unusable for the chain (the running hash did not
    /// advance past it).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            BreakReason::BadJson { .. }
                | BreakReason::NotAnObject { .. }
                | BreakReason::InvalidUtf8 { .. }
                | BreakReason::ChainHashNotString
        )
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::HashMismatch => f.write_str(
                "contents do not match the entry's chain_hash (the entry was edited after it was written)",
            ),
            BreakReason::BrokenLink { expected, found } => write!(
                f,
                "previous_hash {}… is not the chain_hash {}… of the entry before (entries were removed, reordered or inserted here)",
                short(found),
                short(expected)
            ),
            BreakReason::BadJson { message } => {
                write!(f, "not valid JSON ({message}); a crash mid-write leaves such a line")
            }
            BreakReason::NotAnObject { found } => {
                write!(f, "the line is {found}, not an audit entry object")
            }
            BreakReason::InvalidUtf8 { offset } => {
                write!(f, "invalid UTF-8 at byte {offset} of the line")
            }
            BreakReason::ChainHashNotString => f.write_str("chain_hash is not a string"),
            BreakReason::MissingChainHash => f.write_str("the entry has no chain_hash"),
            BreakReason::MissingEntryId => f.write_str("the entry has no entry_id"),
        }
    }
}
