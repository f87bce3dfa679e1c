//! Why the pins file could not be used, or a pin could not be found.

use std::io;
use std::path::PathBuf;

/// Why a [`PinStore`](super::PinStore) operation failed.
///
/// Every message names the file involved (when there is one) and says what
/// to do. While the file cannot be read, a caller that gates tool calls must
/// treat every tool as changed: a damaged file is never replaced by a fresh
/// one on its own, because that would silently re-pin whatever the servers
/// now report. The I/O error is kept in the `io` field, not exposed as
/// [`std::error::Error::source`], because the message already quotes it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The pins file exists but could not be opened or read (permissions,
    /// it is a directory, an I/O error).
    #[error(
        "cannot read the MCP tool pins {}: {io}; check that it is a regular file readable by \
         this user (until it can be read, every tool counts as changed)",
        path.display()
    )]
    Read {
        /// The pins file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },

    /// The pins file was read but is not valid: malformed JSON, a missing
    /// key, a value of the wrong type, or a timestamp that is not RFC 3339.
    #[error(
        "the MCP tool pins {} are damaged: {detail}; until the file is fixed every tool counts as \
         changed and its calls are CRITICAL. Repair it by hand or restore it from a backup; \
         deleting it pins every tool afresh on its server's next tools/list, so review the \
         servers' tools first",
        path.display()
    )]
    Corrupt {
        /// The pins file.
        path: PathBuf,
        /// What is wrong and where (line and column).
        detail: String,
    },

    /// The pins file has a format version this build does not know (it was
    /// written by a newer attesta).
    #[error(
        "the MCP tool pins {} have format version {found}, but this attesta reads only version \
         {}; upgrade attesta (until then every tool counts as changed)",
        path.display(),
        super::file::FORMAT_VERSION
    )]
    UnsupportedVersion {
        /// The pins file.
        path: PathBuf,
        /// The `version` the file declares.
        found: u64,
    },

    /// The sidecar lock file that serialises writers could not be created
    /// or locked.
    #[error(
        "cannot lock the MCP tool pins {} through {}: {io}; check that the directory is writable \
         by this user",
        path.display(),
        lock_path.display()
    )]
    Lock {
        /// The pins file.
        path: PathBuf,
        /// The sidecar lock file (`<pins>.lock`).
        lock_path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },

    /// Creating the directory, writing the temporary file, syncing it or
    /// renaming it over the pins file failed. The file on disk is unchanged.
    #[error(
        "cannot write the MCP tool pins {}: {io}; check that its directory is writable and the \
         disk is not full (the file on disk is unchanged)",
        path.display()
    )]
    Write {
        /// The pins file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },

    /// No pin for this tool (under this server, if one was named).
    #[error(
        "no pinned tool {tool:?}{} in {}; tool names are exact and case-sensitive, see them with \
         `attesta mcp pins list`",
        server.as_ref().map(|s| format!(" of server {s:?}")).unwrap_or_default(),
        path.display()
    )]
    UnknownTool {
        /// The tool asked for.
        tool: String,
        /// The server asked for, if any.
        server: Option<String>,
        /// The pins file.
        path: PathBuf,
    },

    /// A tool of this name is pinned under several servers and no server
    /// was named.
    #[error(
        "tool {tool:?} is pinned for several servers ({}); name one with --server",
        servers.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
    )]
    AmbiguousTool {
        /// The tool asked for.
        tool: String,
        /// Every server that has a pin for it, sorted.
        servers: Vec<String>,
    },
}
