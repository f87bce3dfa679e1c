//! The persistent trust store: one JSON file shared by every process that
//! opens it.
//!
//! Writers serialise on an exclusive lock on the sidecar `<store>.lock`,
//! re-read the file under that lock, apply their change and replace the file
//! atomically, so a change made by another process (an operator's
//! revocation) is never overwritten. Readers take no lock: the file is only
//! ever replaced whole, so a reader sees either the old or the new version.
//! Before every query the store checks the file's size, modification time
//! and identity (one `stat`) and reloads it when any of them changed.

mod format;
mod pyjson;

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use indexmap::IndexMap;

pub(super) use self::format::DecodeContext;
use super::TrustError;
use super::profile::TrustProfile;
use crate::shared_file::{WriteLock, lock_path_for, write_atomically};

/// Profiles keyed by agent id, in first-seen order.
pub(super) type Profiles = IndexMap<String, TrustProfile>;

/// A file-backed store and what is known about the file on disk.
#[derive(Debug)]
pub(super) struct Store {
    /// The store file (`settings.store_path`).
    path: PathBuf,
    /// The writers' lock file, `<path>.lock`.
    lock_path: PathBuf,
    /// How the in-memory profiles relate to the file.
    disk: DiskState,
}

/// How the in-memory profiles relate to the file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiskState {
    /// The profiles may differ from the file (a write failed half-way):
    /// reload before using them.
    Unknown,
    /// There was no file; the profiles are empty.
    Missing,
    /// The profiles are the file with this stamp and content digest.
    Loaded { stamp: Stamp, digest: u64 },
    /// The file could not be read or parsed (the stamp, if known, is the
    /// broken file's). Queries fail closed and writes are refused until the
    /// file changes and loads.
    Broken { stamp: Option<Stamp> },
}

/// Cheap evidence that a file changed, from one `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Device, inode and change time on Unix: every atomic replacement makes
    /// a new inode, which catches rewrites within one mtime tick.
    identity: (u64, u64, i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        };
        #[cfg(not(unix))]
        let identity = (0, 0, 0, 0);
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            identity,
        }
    }
}

impl Store {
    /// Opens the store at `path`, loading it if it exists (a missing file is
    /// an empty store and is not created until the first write).
    pub(super) fn open(path: PathBuf, ctx: DecodeContext) -> Result<(Self, Profiles), TrustError> {
        let mut store = Self {
            lock_path: lock_path_for(&path),
            path,
            disk: DiskState::Unknown,
        };
        let current = read_file(&store.path).map_err(|io| store.read_error(io))?;
        let mut profiles = Profiles::new();
        store.load(&mut profiles, ctx, current)?;
        Ok((store, profiles))
    }

    /// True while the file cannot be read or parsed; the engine then reports
    /// zero trust for every agent.
    pub(super) fn is_broken(&self) -> bool {
        matches!(self.disk, DiskState::Broken { .. })
    }

    /// Brings `profiles` up to date with the file if it changed since it was
    /// last read or written. Never fails: a file that cannot be loaded puts
    /// the store in the broken state, and the caller fails closed.
    pub(super) fn refresh(&mut self, profiles: &mut Profiles, ctx: DecodeContext) {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(Stamp::of(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(_) => {
                self.disk = DiskState::Broken { stamp: None };
                return;
            }
        };
        let unchanged = match (self.disk, stamp) {
            (DiskState::Missing, None) => true,
            (
                DiskState::Loaded { stamp: seen, .. } | DiskState::Broken { stamp: Some(seen) },
                Some(now),
            ) => seen == now,
            _ => false,
        };
        if unchanged {
            return;
        }
        match read_file(&self.path) {
            // A load failure is recorded in `self.disk`; the caller asks
            // `is_broken` and fails closed.
            Ok(current) => {
                let _ = self.load(profiles, ctx, current);
            }
            Err(_) => self.disk = DiskState::Broken { stamp },
        }
    }

    /// Applies `mutate` to the profiles as they are on disk and writes the
    /// result back, holding the writers' lock throughout so no other
    /// process's change is lost. If `mutate` fails nothing is written; if the
    /// write fails the file is unchanged and the profiles are reloaded from
    /// it on next use.
    pub(super) fn update<T>(
        &mut self,
        profiles: &mut Profiles,
        ctx: DecodeContext,
        mutate: impl FnOnce(&mut Profiles) -> Result<T, TrustError>,
    ) -> Result<T, TrustError> {
        let _lock = WriteLock::acquire(&self.lock_path).map_err(|io| TrustError::Lock {
            path: self.path.clone(),
            lock_path: self.lock_path.clone(),
            io,
        })?;
        // Always read under the lock (not just stat): a change by another
        // process within one timestamp tick must not be overwritten. The
        // digest spares the parse when the file is what we last saw.
        let current = read_file(&self.path).map_err(|io| {
            self.disk = DiskState::Broken { stamp: None };
            self.read_error(io)
        })?;
        self.load(profiles, ctx, current)?;
        let value = mutate(profiles)?;
        // Until the write is known to have landed, memory may be ahead of disk.
        self.disk = DiskState::Unknown;
        let bytes = format::encode(profiles).map_err(|e| self.write_error(io::Error::other(e)))?;
        write_atomically(&self.path, &bytes).map_err(|io| self.write_error(io))?;
        // Still under the lock, so the stamp is our file's, not a later one's.
        if let Ok(meta) = std::fs::metadata(&self.path) {
            self.disk = DiskState::Loaded {
                stamp: Stamp::of(&meta),
                digest: digest(&bytes),
            };
        }
        Ok(value)
    }

    /// Replaces `profiles` with the file's content (`None`: no file), unless
    /// the content is what they already hold.
    fn load(
        &mut self,
        profiles: &mut Profiles,
        ctx: DecodeContext,
        current: Option<(Stamp, Vec<u8>)>,
    ) -> Result<(), TrustError> {
        let Some((stamp, bytes)) = current else {
            profiles.clear();
            self.disk = DiskState::Missing;
            return Ok(());
        };
        let digest = digest(&bytes);
        if let DiskState::Loaded { digest: seen, .. } = self.disk
            && seen == digest
        {
            self.disk = DiskState::Loaded { stamp, digest };
            return Ok(());
        }
        match format::decode(&bytes, ctx) {
            Ok(loaded) => {
                *profiles = loaded;
                self.disk = DiskState::Loaded { stamp, digest };
                Ok(())
            }
            Err(detail) => {
                self.disk = DiskState::Broken { stamp: Some(stamp) };
                Err(TrustError::Corrupt {
                    path: self.path.clone(),
                    detail,
                })
            }
        }
    }

    fn read_error(&self, io: io::Error) -> TrustError {
        TrustError::Read {
            path: self.path.clone(),
            io,
        }
    }

    fn write_error(&self, io: io::Error) -> TrustError {
        TrustError::Write {
            path: self.path.clone(),
            io,
        }
    }
}

/// The file's stamp and bytes, or `None` if it does not exist. The stamp is
/// taken from the opened handle, so it describes exactly the bytes read even
/// if the file is replaced meanwhile.
fn read_file(path: &Path) -> io::Result<Option<(Stamp, Vec<u8>)>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(Some((Stamp::of(&meta), bytes)))
}

/// Identifies content cheaply; a collision would need two different stores
/// with equal 64-bit `SipHash` values, which accidental edits do not produce.
fn digest(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}
