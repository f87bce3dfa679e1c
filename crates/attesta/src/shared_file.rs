//! Files that several processes share and rewrite whole (the trust store,
//! the MCP tool pins): an exclusive writers' lock on a sidecar file, and
//! atomic, owner-only replacement of the file itself.
//!
//! A writer takes the lock, re-reads the file *under the lock*, applies its
//! change and replaces the file with [`write_atomically`]; readers take no
//! lock, because they only ever see a whole old or a whole new file.
//!
//! ```
//! use attesta::shared_file::{WriteLock, lock_path_for, write_atomically};
//! let dir = tempfile::tempdir().unwrap();
//! let store = dir.path().join("state.json");
//! let _lock = WriteLock::acquire(&lock_path_for(&store)).unwrap();
//! write_atomically(&store, b"{}").unwrap();
//! assert_eq!(std::fs::read(&store).unwrap(), b"{}");
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Owner-only permissions: the stores reveal which agents exist and how far
/// they are trusted, and which tools an operator has approved.
#[cfg(unix)]
const PRIVATE_FILE_MODE: u32 = 0o600;
#[cfg(unix)]
const PRIVATE_DIR_MODE: u32 = 0o700;

/// Makes temporary names unique among writers of one process; the process id
/// makes them unique among processes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The sidecar lock file of a store: `<store>.lock`.
///
/// A separate file because the store itself is replaced by rename on every
/// write, and a lock on a replaced file protects nothing. The lock file is
/// never deleted: removing it while another process waits on it would let two
/// writers in at once.
///
/// ```
/// # use std::path::{Path, PathBuf};
/// use attesta::shared_file::lock_path_for;
/// assert_eq!(lock_path_for(Path::new("a/pins.json")), PathBuf::from("a/pins.json.lock"));
/// ```
pub fn lock_path_for(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Holds the exclusive writers' lock until dropped. The lock is advisory:
/// it keeps out every writer that takes it, which all of Attesta's writers
/// do.
#[derive(Debug)]
pub struct WriteLock {
    /// The open lock file; the OS releases the lock when it is closed.
    file: File,
}

impl WriteLock {
    /// Blocks until this process holds the exclusive lock on `lock_path`,
    /// creating it (and its directory) if needed.
    pub fn acquire(lock_path: &Path) -> io::Result<Self> {
        if let Some(dir) = lock_path.parent() {
            create_private_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(PRIVATE_FILE_MODE);
        }
        let file = options.open(lock_path)?;
        file.lock()?;
        Ok(Self { file })
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first just
        // makes the release independent of when the descriptor is closed.
        let _ = self.file.unlock();
    }
}

/// Replaces `path` with `contents` so that readers see either the old or
/// the new file, never a mix: write a temporary file in the same directory,
/// sync it, rename it over `path`, then sync the directory so the rename
/// itself survives a crash. The new file is owner-only on Unix.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir_all(&dir)?;
    let temp = dir.join(temp_name(path));
    let result = write_new_file(&temp, contents).and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        // Best effort: the error being reported is the write's, and a
        // leftover temporary file is harmless (it is never read).
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(&dir);
    Ok(())
}

/// `.<file name>.tmp-<pid>-<n>`: hidden, and never the name of a store.
fn temp_name(path: &Path) -> String {
    let base = path
        .file_name()
        .map_or_else(|| "store".into(), |n| n.to_string_lossy());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{base}.tmp-{}-{n}", std::process::id())
}

fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Syncs a directory's entries to disk where the platform allows it.
fn sync_dir(dir: &Path) {
    // Errors are ignored: the rename has already happened and is visible to
    // every process; only crash durability is at stake, and several file
    // systems (and all of Windows) refuse to sync a directory handle.
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// `create_dir_all`, making new directories owner-only on Unix (existing
/// ones are left as they are).
fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop loudly
mod tests {
    use super::*;

    #[test]
    fn lock_path_appends_lock_suffix() {
        assert_eq!(
            lock_path_for(Path::new("/x/.attesta/trust.json")),
            PathBuf::from("/x/.attesta/trust.json.lock")
        );
    }

    #[test]
    fn atomic_write_replaces_content_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/trust.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["trust.json"]);
    }

    #[test]
    fn failed_rename_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file.
        let path = dir.path().join("trust.json");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"").unwrap();
        assert!(write_atomically(&path, b"x").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["trust.json"]);
    }
}
