//! `relic export --tiles DIR`: the log as static C2SP tlog-tiles files (`schemas/tiles-v1.md`
//! §Static files), so that any web server or bucket can serve it to tools that are not relic's.
//!
//! What this is: the latest checkpoint the log has signed (with a witness policy, the latest a
//! quorum of witnesses cosigned: `crate::witnesses`), and every tile and entry bundle its
//! size implies, written under `DIR` with the specification's paths (`DIR/checkpoint`,
//! `DIR/tile/<L>/<N>[.p/<W>]`, `DIR/tile/entries/<N>[.p/<W>]`). Incremental: a file already there
//! is kept (tiles are immutable, and a partial tile's width is in its path), so a second run
//! writes only what is new; a hash tile already there that is not this log's is refused. The checkpoint is replaced last, once every tile it implies is on
//! disk, so a reader of `DIR` never finds a checkpoint whose tiles are missing.
//!
//! What this is not: a writer of the log. It reads a read-only handle, signs nothing (the
//! checkpoint is one the log signed before: `relic checkpoint`, or `relic serve`'s
//! `/tlog/checkpoint`), and changes nothing in the data directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::tiles;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The size of the checkpoint exported.
    pub size: u64,
    /// Files written by this run (tiles and entry bundles), and those already there.
    pub written: u64,
    pub kept: u64,
    /// Entry bundles that could not be written: a record in them is over 65,535 bytes. The first
    /// such record's number and length.
    pub too_large: Option<(u64, usize)>,
}

/// Writes the tiles of the log's latest signed checkpoint under `dir`.
///
/// # Errors
/// [`Error::OutOfRange`] if the log has no signed checkpoint yet; I/O and store errors.
pub fn export_tiles(ledger: &Ledger, dir: &Path) -> Result<Exported> {
    // With a witness policy, only a checkpoint a quorum cosigned is published.
    let (size, note) = match crate::witnesses::Policy::load(ledger.dir())? {
        Some(policy) => {
            let (size, note) = crate::witnesses::latest_cosigned(ledger.dir(), Some(ledger.size()))?
                .filter(|(_, note)| policy.accepts(note))
                .ok_or_else(|| Error::OutOfRange("the log has a witness policy and no cosigned checkpoint yet: `relic checkpoint` asks the witnesses".into()))?;
            // Checked against the tree and the log's keys, as a stored one is.
            ledger.checkpoint(Some(size))?;
            (size, note)
        }
        None => {
            let (size, _) = ledger
                .store()
                .checkpoint_neighbours(ledger.size())?
                .0
                .ok_or_else(|| Error::OutOfRange("the log has no signed checkpoint yet: `relic checkpoint` signs one".into()))?;
            // The stored note, checked against the tree and the log's keys.
            (size, ledger.checkpoint(Some(size))?.note)
        }
    };
    let mut out = Exported { size, written: 0, kept: 0, too_large: None };
    for t in tiles::tiles_of(size) {
        let path = dir.join(t.path());
        let bytes = ledger.tile(&t)?;
        // A tile already there must be this log's (hashes are cheap to compare; the entry
        // bundles they authenticate are not read again).
        match std::fs::read(&path) {
            Ok(there) if there == bytes => out.kept += 1,
            Ok(_) => return Err(Error::Corrupt(format!("{} is not this log's tile: {} holds another log's export?", path.display(), dir.display()))),
            Err(_) => {
                write(&path, &bytes)?;
                out.written += 1;
            }
        }
    }
    for t in tiles::tiles_of(size).into_iter().filter(|t| t.level == 0) {
        let path = dir.join(tiles::entries_path(t.index, t.width));
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            out.kept += 1;
            continue;
        }
        match ledger.entry_bundle(t.index, t.width) {
            Ok(bundle) => {
                write(&path, &bundle)?;
                out.written += 1;
            }
            Err(Error::Tiles(tiles::TileError::EntryTooLarge { index, len })) => {
                out.too_large.get_or_insert((index, len));
            }
            Err(e) => return Err(e),
        }
    }
    write(&dir.join("checkpoint"), note.as_bytes())?;
    Ok(out)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |p: &Path| {
        let p: PathBuf = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    Ok(relic_store::fs::write_durably(path, bytes, None)?)
}
