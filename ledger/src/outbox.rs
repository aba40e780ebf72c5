//! The publish cursor: how many records of the log a broker has acknowledged (outbox semantics).
//!
//! What this is: one file beside the log, `log/published` (`schemas/store-v4.md` §Files), holding
//! a u64, replaced whole through a rename: records `0 .. cursor` were delivered to the broker and acknowledged by it. A
//! publisher advances it only after the broker's delivery reports, so a crash between delivery and
//! the cursor write leads to a re-send (an exact duplicate, which consumers drop by sequence number),
//! never to a gap.
//!
//! What this is not: the transport (`relic-relay`), and not part of the log: the cursor is not
//! signed, hashed or verified, and a store without it has published nothing.

use crate::error::{Error, Result};
use crate::Ledger;

/// Records acknowledged by the broker so far (0 if nothing was ever published).
pub fn published(ledger: &Ledger) -> Result<u64> {
    Ok(ledger.store().published()?)
}

/// Durably sets the publish cursor to `n` (at most the log's size): written, then flushed.
pub fn set_published(ledger: &Ledger, n: u64) -> Result<()> {
    let size = ledger.size();
    if n > size {
        return Err(Error::OutOfRange(format!("cannot mark {n} records published: the log holds {size}")));
    }
    Ok(ledger.store().set_published(n)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_is_durable_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "outbox.test/log", crate::policy::unchecked()).unwrap();
        assert_eq!(published(&l).unwrap(), 0);
        set_published(&l, 1).unwrap();
        assert!(set_published(&l, 2).is_err());
        drop(l);
        let l = Ledger::open_read_only(dir.path()).unwrap();
        assert_eq!(published(&l).unwrap(), 1);
        crate::verify::verify(l.store(), &Default::default(), &mut |_, _| {}).unwrap();
    }
}
