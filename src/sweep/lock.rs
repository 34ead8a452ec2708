//! One writer per result directory: `run`, `run --resume` and `merge` take
//! an exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows) on
//! `DIR/.poolsim.lock` before touching anything in `DIR`, and give it up when
//! they end, whatever way they end (the system drops the lock of a killed
//! process). The lock file holds the holder's process id and command line,
//! so that the second process can say who is in the way.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::SweepError;
use super::output::write_error;

/// The lock file in a result directory.
pub const LOCK_FILE: &str = ".poolsim.lock";

/// The lock on a result directory, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir` (which must exist), or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, SweepError> {
        let path = dir.join(LOCK_FILE);
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(write_error(&path))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    // The holder may not have written its name yet.
                    let _ = file.read_to_string(&mut holder);
                    return Err(SweepError::Locked {
                        dir: dir.display().to_string(),
                        holder: describe(&holder),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(write_error(&path)(e)),
            }
            // The previous holder removes the file as it lets go: if it did
            // so between our open and our lock, we hold a file nobody else
            // will open. Start again with the file now at `path`.
            if !still_at(&file, &path) {
                continue;
            }
            let me = format!(
                "pid {}: {}\n",
                std::process::id(),
                std::env::args().collect::<Vec<_>>().join(" ")
            );
            file.set_len(0).map_err(write_error(&path))?;
            file.rewind().map_err(write_error(&path))?;
            file.write_all(me.as_bytes()).map_err(write_error(&path))?;
            return Ok(DirLock { file, path });
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still locked (see `acquire`); a failure only leaves
        // an unlocked file behind, which the next run reuses.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// The holder as written in the lock file, printable on one line.
fn describe(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "another process".into();
    }
    let clean: String = line
        .chars()
        .take(300)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("another poolsim ({clean})")
}

#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}
