//! Why a trust operation failed.

use std::io;
use std::path::PathBuf;

/// Why the trust engine could not read, lock or write its store, or refused
/// an input.
///
/// Every message names the file involved (when there is one) and says what to
/// do about it. The underlying I/O error is kept in the `io` field rather than
/// exposed as [`std::error::Error::source`], because the message already
/// quotes it and error reporters would otherwise print it twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The store file exists but could not be opened or read (permissions,
    /// it is a directory, an I/O error).
    #[error(
        "cannot read trust store {}: {io}; check that the file is a regular file readable by this user",
        path.display()
    )]
    Read {
        /// The store file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },

    /// The store file was read but is not a valid trust store: malformed
    /// JSON, a value of the wrong type, an unknown key, or a timestamp that is
    /// not ISO 8601. The engine never replaces such a file on its own.
    #[error(
        "trust store {} is corrupt: {detail}; repair the file by hand, or move it aside to start \
         empty (that forgets every agent's history and every revocation)",
        path.display()
    )]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What is wrong and where (line and column, or agent and key).
        detail: String,
    },

    /// Creating the store's directory, writing the temporary file, syncing
    /// it to disk or renaming it over the store failed. The store on disk is
    /// unchanged.
    #[error(
        "cannot write trust store {}: {io}; check that its directory is writable and the disk is \
         not full (the store on disk is unchanged)",
        path.display()
    )]
    Write {
        /// The store file.
        path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },

    /// The sidecar lock file that serialises writers could not be created
    /// or locked.
    #[error(
        "cannot lock trust store {} through {}: {io}; check that the directory is writable by \
         this user",
        path.display(),
        lock_path.display()
    )]
    Lock {
        /// The store file.
        path: PathBuf,
        /// The sidecar lock file (`<store>.lock`).
        lock_path: PathBuf,
        /// What the operating system reported.
        io: io::Error,
    },

    /// [`TrustEngine::reinstate`](super::TrustEngine::reinstate) was asked
    /// about an agent the store has never seen.
    #[error(
        "no trust profile for agent {agent_id:?}; check the agent id (it is case-sensitive and \
         must match exactly)"
    )]
    UnknownAgent {
        /// The agent id as given.
        agent_id: String,
    },

    /// A risk score passed to a `record_*` method was NaN or infinite, which
    /// the JSON store cannot represent.
    #[error(
        "risk score {risk_score} recorded for agent {agent_id:?} is not a finite number; pass the \
         action's risk score (between 0 and 1)"
    )]
    InvalidRiskScore {
        /// The agent the outcome was for.
        agent_id: String,
        /// The rejected score.
        risk_score: f64,
    },

    /// A numeric setting of a persistent engine was NaN or infinite; it would
    /// make every stored score unreadable.
    #[error("trust setting `{name}` is {value}; set it to a finite number in the `trust:` section")]
    InvalidSettings {
        /// The setting's configuration key (`influence`, `ceiling`, ...).
        name: &'static str,
        /// The rejected value.
        value: f64,
    },
}
