//! `relic migrate`: converts a store of an older format to format 4 (`schemas/store-v4.md`
//! §Migration), and finishes a conversion that was interrupted.
//!
//! What this is: formats 1 and 2 are first converted to format 3 in place ([`legacy::Store::migrate`]);
//! a format-3 store (sled in `<data>/store`, packs in `<data>/store.packs`) is then copied into
//! `<data>/log.migrating`, records byte for byte, tree hashes recomputed from them, one commit entry
//! per [`ENTRY_EVERY`] records, then every checkpoint, the key list, the publish cursor and a
//! mirror's marker; everything is synced and the directory renamed to `<data>/log` (the switch);
//! then the old store is removed. Interrupted before the switch, the next migration starts again
//! from the old store (which was only read); after it, the log is format 4 and the next migration
//! only removes the old store.
//!
//! What this is not: a check of the old store's signatures (`relic verify` does that, after).

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;

use relic_formats::merkle::{self, Frontier};

use crate::error::{io, Error, Result};
use crate::layout::{self, Commit};
use crate::legacy;
use crate::store::{legacy_dir, log_dir, MIRROR, ORIGIN};

/// Records between two commit entries of a converted log (each entry is a point from which a
/// record can be found without reading the records before it).
pub const ENTRY_EVERY: u64 = 1024;

/// The old store's mirror marker (`mmirror`).
const LEGACY_MIRROR: &[u8] = b"mmirror";

/// Converts the store of `data` to format 4; returns what it converted from, oldest first (empty if
/// there was nothing to do).
pub fn migrate(data: &Path) -> Result<Vec<String>> {
    let old_dir = legacy_dir(data);
    let packs = legacy::store::packs_path(&old_dir);
    if log_dir(data).is_dir() {
        if old_dir.exists() || packs.exists() {
            remove_old(&old_dir, &packs)?;
            return Ok(vec!["an interrupted conversion".into()]);
        }
        return Ok(Vec::new());
    }
    if !old_dir.exists() {
        return Err(Error::NotFound(data.to_path_buf()));
    }
    let old = legacy::Store::open(&old_dir, false)?;
    let mut from = old.migrate()?;
    old.check_format()?;
    from.push(String::from_utf8_lossy(legacy::store::FORMAT).into_owned());
    copy(&old, data)?;
    drop(old);
    remove_old(&old_dir, &packs)?;
    Ok(from)
}

fn remove_old(dir: &Path, packs: &Path) -> Result<()> {
    if packs.exists() {
        std::fs::remove_file(packs).map_err(io(packs))?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    crate::fs::sync_dir(dir)
}

struct Out {
    file: BufWriter<File>,
    path: std::path::PathBuf,
    len: u64,
}

impl Out {
    fn create(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(name);
        let f = File::create(&path).map_err(io(&path))?;
        Ok(Self { file: BufWriter::with_capacity(1 << 20, f), path, len: 0 })
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.len += b.len() as u64;
        self.file.write_all(b).map_err(io(&self.path))
    }

    fn finish(self) -> Result<()> {
        let f = self.file.into_inner().map_err(|e| io(&self.path)(e.into_error()))?;
        f.sync_all().map_err(io(&self.path))
    }
}

/// Copies a format-3 store into `<data>/log.migrating`, then renames it to `<data>/log`.
fn copy(old: &legacy::Store, data: &Path) -> Result<()> {
    let tmp = data.join("log.migrating");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir(&tmp).map_err(io(&tmp))?;
    let head = old.head()?;
    let (mut records, mut hashes, mut commits) = (Out::create(&tmp, layout::RECORDS)?, Out::create(&tmp, layout::HASHES)?, Out::create(&tmp, layout::COMMITS)?);
    let mut frontier = Frontier::new();
    let mut frame = Vec::new();
    let mut last_link = None;
    for item in old.records(0) {
        let (seq, bytes) = item?;
        if seq != frontier.size() {
            return Err(Error::Corrupt(format!("the old store: record {} is missing", frontier.size())));
        }
        if seq >= head.size {
            break;
        }
        frame.clear();
        layout::record_frame(&mut frame, &bytes);
        records.write(&frame)?;
        for h in frontier.push(merkle::leaf_hash(&bytes)) {
            hashes.write(&h)?;
        }
        last_link = Some(relic_formats::record::link_of(&bytes));
        if frontier.size() % ENTRY_EVERY == 0 || frontier.size() == head.size {
            commits.write(&Commit { size: frontier.size(), records_end: records.len, checkpoints_end: 0, root: frontier.root() }.encode())?;
        }
    }
    if frontier.size() != head.size || last_link != Some(head.link) {
        return Err(Error::Corrupt(format!("the old store's head says {} records, but its records end at {}", head.size, frontier.size())));
    }
    let mut checkpoints = Out::create(&tmp, layout::CHECKPOINTS)?;
    for item in old.checkpoints(0) {
        let (size, note) = item?;
        let note = std::str::from_utf8(&note).map_err(|_| Error::Corrupt(format!("the old store: checkpoint at size {size} is not UTF-8")))?;
        checkpoints.write(&layout::checkpoint_frame(size, note))?;
    }
    if checkpoints.len > 0 {
        commits.write(&Commit { size: head.size, records_end: records.len, checkpoints_end: checkpoints.len, root: frontier.root() }.encode())?;
    }
    for out in [records, hashes, commits, checkpoints] {
        out.finish()?;
    }
    let keys: String = old.keys()?.iter().map(layout::key_line).collect();
    let mut small: Vec<(&str, Vec<u8>)> = vec![(layout::KEYS, keys.into_bytes()), (ORIGIN, old.origin()?.into_bytes())];
    let published = old.published()?;
    if published > 0 {
        small.push((layout::PUBLISHED, published.to_be_bytes().to_vec()));
    }
    if old.get(LEGACY_MIRROR)?.is_some() {
        small.push((MIRROR, b"relic mirror\n".to_vec()));
    }
    // The format file last: a log directory without it was never completed.
    small.push((layout::FORMAT_FILE, layout::FORMAT.to_vec()));
    for (name, bytes) in small {
        let mut out = Out::create(&tmp, name)?;
        out.write(&bytes)?;
        out.finish()?;
    }
    File::open(&tmp).and_then(|d| d.sync_all()).map_err(io(&tmp))?;
    let dir = log_dir(data);
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    crate::fs::sync_dir(&dir)
}
