//! Opening an embedded database (sled) for the stores of formats 1 to 3 ([`crate::legacy`]), which
//! only `relic migrate` reads: one helper that waits for a lock, reports corruption and sizes the
//! cache.
//!
//! sled holds an exclusive lock on its directory while open. Another relic process that has it open
//! is waited for (polling every 50 ms) up to a limit, then reported as [`Error::Locked`]; sled's own
//! verdict on its files is passed back as it is, so that a caller that can rebuild (the view store)
//! decides what to do with it.

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for another process to release a store before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

thread_local! {
    /// Set while this thread opens a database: a panic then is sled's verdict on damaged files,
    /// caught and reported as an error ([`guarded`]), not a crash.
    static OPENING: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread is inside [`guarded`]: a program's panic hook stays silent then, since the
/// panic is caught and reported as one error line.
pub fn panic_is_caught() -> bool {
    OPENING.with(Cell::get)
}

/// Runs `f` (opening a database), turning a panic inside it into [`Error::Corrupt`] naming `dir`.
/// sled 0.34 panics on some damaged files instead of returning an error; a damaged file must give
/// one line and a non-zero exit, never a panic.
fn guarded<T>(dir: &Path, f: impl FnOnce() -> T) -> Result<T> {
    OPENING.with(|o| o.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    OPENING.with(|o| o.set(false));
    result.map_err(|payload| {
        let why = panic_message(payload.as_ref());
        Error::Corrupt(format!("the database files in {} are damaged (sled gave up reading them: {why})", dir.display()))
    })
}

/// The text a panic carried (`panic!("…")` gives a `&str` or a `String`), on one line.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    text.replace('\n', " ")
}

/// Opens the sled database in `dir` with a page cache of `cache_bytes`, flushing only when asked.
/// The outer error is a lock held past [`LOCK_WAIT`], or damage sled panicked on; the inner result
/// is sled's own verdict.
pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Result<sled::Db, sled::Error>> {
    let cfg = sled::Config::new().path(dir).cache_capacity(cache_bytes).mode(sled::Mode::HighThroughput).flush_every_ms(None);
    let start = Instant::now();
    loop {
        match guarded(dir, || cfg.open())? {
            // sled reports a held lock as an io error wrapping EWOULDBLOCK.
            Err(sled::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock") => {
                if start.elapsed() > LOCK_WAIT {
                    return Err(Error::Locked(dir.to_path_buf()));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_opening_is_an_error_naming_the_directory() {
        let e = guarded(Path::new("/data/store"), || -> u8 { panic!("segment accountant out of sync") }).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("corrupt store: the database files in /data/store are damaged"), "{text}");
        assert!(text.contains("segment accountant out of sync"), "{text}");
        assert!(!panic_is_caught(), "the flag is cleared after the panic");
        assert_eq!(guarded(Path::new("/x"), || 7).unwrap(), 7);
    }
}
