//! The pins file on disk: versioned JSON, read whole and written whole.
//!
//! ```json
//! {
//!   "version": 1,
//!   "servers": {
//!     "filesystem": {
//!       "write_file": {
//!         "fingerprint": "sha256:…",
//!         "first_seen": "2026-05-01T10:00:00Z",
//!         "accepted_at": "2026-05-01T10:00:00Z",
//!         "pending": {"fingerprint": "sha256:…", "seen_at": "2026-05-02T09:00:00Z"}
//!       }
//!     }
//!   }
//! }
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PinError;

/// The only format version this build reads and writes.
pub(super) const FORMAT_VERSION: u64 = 1;

/// One tool's pin: the definition an operator accepted (or that was trusted
/// on first use), and a different one seen since, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolPin {
    /// The accepted definition's [`tool_fingerprint`](super::tool_fingerprint).
    pub fingerprint: String,
    /// When the tool was first seen and pinned.
    pub first_seen: DateTime<Utc>,
    /// When `fingerprint` was accepted: `first_seen` for a pin trusted on
    /// first use, later once an operator accepted a change.
    pub accepted_at: DateTime<Utc>,
    /// A different definition the server reported since, waiting for
    /// `attesta mcp pins accept`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingChange>,
}

/// A definition seen that differs from the accepted one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    /// The new definition's fingerprint.
    pub fingerprint: String,
    /// When it was first seen.
    pub seen_at: DateTime<Utc>,
}

/// Tool name → pin, for one server (sorted, so the file diffs well).
pub(super) type ServerPins = BTreeMap<String, ToolPin>;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PinFile {
    /// Always [`FORMAT_VERSION`] when written; checked before anything else
    /// is read.
    version: u64,
    /// Server name (the upstream's `serverInfo.name`) → its tools' pins.
    pub(super) servers: BTreeMap<String, ServerPins>,
}

/// Just the version, read first so a newer file is reported as newer
/// rather than as damaged.
#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

impl PinFile {
    /// An empty file of the current version.
    fn empty() -> Self {
        Self {
            version: FORMAT_VERSION,
            servers: BTreeMap::new(),
        }
    }

    /// Reads the file at `path`; a file that does not exist is empty.
    pub(super) fn read(path: &Path) -> Result<Self, PinError> {
        let read_error = |io| PinError::Read {
            path: path.to_owned(),
            io,
        };
        let bytes = match read_bytes(path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(Self::empty()),
            Err(io) => return Err(read_error(io)),
        };
        let corrupt = |e: serde_json::Error| PinError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let VersionOnly { version } = serde_json::from_slice(&bytes).map_err(corrupt)?;
        if version != FORMAT_VERSION {
            return Err(PinError::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
            });
        }
        serde_json::from_slice(&bytes).map_err(corrupt)
    }

    /// The file's bytes: pretty JSON (people read and diff it), ending in a
    /// newline.
    pub(super) fn encode(&self) -> io::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The servers holding a pin for `tool`, sorted.
    pub(super) fn servers_with(&self, tool: &str) -> Vec<String> {
        self.servers
            .iter()
            .filter(|(_, pins)| pins.contains_key(tool))
            .map(|(server, _)| server.clone())
            .collect()
    }
}

/// The file's bytes, or `None` if it does not exist.
fn read_bytes(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<PinFile, PinError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp-pins.json");
        std::fs::write(&path, text).unwrap();
        PinFile::read(&path)
    }

    #[test]
    fn a_missing_file_is_empty_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp-pins.json");
        let file = PinFile::read(&path).unwrap();
        assert_eq!(file, PinFile::empty());
        std::fs::write(&path, file.encode().unwrap()).unwrap();
        assert_eq!(PinFile::read(&path).unwrap(), file);
    }

    #[test]
    fn damaged_files_are_errors_naming_the_file() {
        for text in [
            "",
            "{",
            "[]",
            r#"{"servers": {}}"#,
            r#"{"version": 1, "servers": {"s": {"t": {"fingerprint": "x"}}}}"#,
            r#"{"version": 1, "servers": {"s": {"t": {"fingerprint": "x",
                "first_seen": "yesterday", "accepted_at": "2026-01-01T00:00:00Z"}}}}"#,
        ] {
            let err = read_text(text).unwrap_err();
            assert!(matches!(err, PinError::Corrupt { .. }), "{text}: {err:?}");
            let message = err.to_string();
            assert!(message.contains("mcp-pins.json"), "{message}");
            assert!(message.contains("CRITICAL"), "{message}");
        }
    }

    #[test]
    fn a_newer_version_is_reported_as_newer() {
        let err = read_text(r#"{"version": 2, "servers": {}, "extra": true}"#).unwrap_err();
        assert!(
            matches!(err, PinError::UnsupportedVersion { found: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade attesta"), "{err}");
    }

    #[test]
    fn a_directory_is_unreadable_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let err = PinFile::read(dir.path()).unwrap_err();
        assert!(matches!(err, PinError::Read { .. }), "{err:?}");
    }
}
