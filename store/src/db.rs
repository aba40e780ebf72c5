//! Opening an embedded database (sled) the way every relic store does: one helper, so that the
//! log's store and the view store wait for a lock, report corruption and size their caches alike.
//!
//! sled holds an exclusive lock on its directory while open. Another relic process that has it open
//! is waited for (polling every 50 ms) up to a limit, then reported as [`Error::Locked`]; sled's own
//! verdict on its files is passed back as it is, so that a caller that can rebuild (the view store)
//! decides what to do with it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for another process to release a store before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Opens the sled database in `dir` with a page cache of `cache_bytes`, flushing only when asked.
/// The outer error is a lock held past [`LOCK_WAIT`]; the inner result is sled's own verdict.
pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Result<sled::Db, sled::Error>> {
    let cfg = sled::Config::new().path(dir).cache_capacity(cache_bytes).mode(sled::Mode::HighThroughput).flush_every_ms(None);
    let start = Instant::now();
    loop {
        match cfg.open() {
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
