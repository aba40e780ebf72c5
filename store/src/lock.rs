//! The writer lock: one process at a time writes a log directory (or a view store).
//!
//! What this is: an exclusive advisory lock (`flock`) on a `lock` file, taken by writers only and
//! held while they are open; released by the kernel when the process ends, however it ends, so a
//! killed writer never leaves it held. Another writer waits for it up to [`LOCK_WAIT`], then is
//! told who holds it ([`Error::Locked`]).
//!
//! What this is not: anything a reader takes. Readers open files read-only and never wait.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{io, Error, Result};

/// How long a writer waits for another writer to finish before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

/// A held writer lock; dropping it releases it.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock on `path` (created if missing), waiting up to [`LOCK_WAIT`]; `owner` is the
    /// directory named in the error when another process keeps it.
    pub fn take(path: &Path, owner: &Path) -> Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io(path))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => std::thread::sleep(Duration::from_millis(20)),
                Err(TryLockError::WouldBlock) => return Err(Error::Locked(owner.to_path_buf())),
                Err(TryLockError::Error(e)) => return Err(io(path)(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_waits_then_is_refused_and_gets_it_once_released() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("lock");
        let held = WriterLock::take(&p, t.path()).unwrap();
        assert!(matches!(WriterLock::take(&p, t.path()), Err(Error::Locked(_))));
        drop(held);
        WriterLock::take(&p, t.path()).unwrap();
    }
}
