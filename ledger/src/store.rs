//! The on-disk layout of a ledger in sled (`schemas/store-v3.md`).
//!
//! One sled tree holds everything, under one-byte key prefixes, so that records, their tree hashes
//! and the new head go to disk in one atomic batch:
//!
//! | key                             | value                                              |
//! |---------------------------------|----------------------------------------------------|
//! | `p` + k (u64 BE)                | a pack: records 64·k … 64·k + 63 ([`crate::packs`]) |
//! | `r` + seq (u64 BE)              | a record after the last complete pack, its exact bytes |
//! | `t` + level (u8) + k (u64 BE)   | a tile: up to 256 tree hashes of one level ([`crate::tiles`]) |
//! | `c` + size (u64 BE)             | the signed checkpoint note issued at that size     |
//! | `m` + name                      | metadata: `format`, `origin`, `head`, `keys`       |
//!
//! Stores of older formats are converted when opened ([`Store::check_format`]), in bounded steps,
//! each safe to interrupt: format 1 (`schemas/store-v1.md`: one `h` entry per tree hash) to format 2
//! (`schemas/store-v2.md`: tiles, one `r` entry per record), and format 2 to format 3 (packs).
//!
//! What this is not: the rules. Everything read from here is untrusted by [`crate::verify`].

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::merkle::{self, Hash, HashReader, ReadError};
use crate::tiles::{self, OpenTiles, TileReader};
use crate::note::VerifierKey;
use crate::packs;

pub const FORMAT: &[u8] = b"relic-store/v3";
/// The format before packs: one `r` entry per record.
pub const FORMAT_V2: &[u8] = b"relic-store/v2";
/// The format before tiles: one `h` entry per tree hash.
pub const FORMAT_V1: &[u8] = b"relic-store/v1";
pub const META_FORMAT: &[u8] = b"mformat";
pub const META_ORIGIN: &[u8] = b"morigin";
pub const META_HEAD: &[u8] = b"mhead";
pub const META_KEYS: &[u8] = b"mkeys";

/// Records converted per batch when a store of an older format is upgraded (and entries removed per
/// batch).
const UPGRADE_LEAVES: u64 = 8_192;
/// sled's page cache; kept small so that a full verification runs in bounded memory.
const CACHE_BYTES: u64 = 64 << 20;
/// How long to wait for another process to release the store before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(3);

pub fn record_key(seq: u64) -> [u8; 9] {
    prefixed(b'r', seq)
}
/// The key of a tree hash in a format-1 store (by stored hash index); format 2 keeps tiles.
pub fn v1_hash_key(index: u64) -> [u8; 9] {
    prefixed(b'h', index)
}
pub fn checkpoint_key(size: u64) -> [u8; 9] {
    prefixed(b'c', size)
}
fn prefixed(p: u8, n: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = p;
    k[1..].copy_from_slice(&n.to_be_bytes());
    k
}
/// The number in a prefixed key, if it has the right shape.
pub fn key_number(k: &[u8]) -> Option<u64> {
    (k.len() == 9).then(|| u64::from_be_bytes(k[1..].try_into().unwrap_or_default()))
}

/// The head: how many records the log holds, the link its next record must carry, and the time of
/// its last record (record times never go backwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub link: [u8; 32],
    pub last_time_us: i64,
}

impl Head {
    pub fn encode(&self) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..40].copy_from_slice(&self.link);
        b[40..].copy_from_slice(&self.last_time_us.to_be_bytes());
        b
    }
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 48 {
            return None;
        }
        Some(Self {
            size: u64::from_be_bytes(b[..8].try_into().ok()?),
            link: b[8..40].try_into().ok()?,
            last_time_us: i64::from_be_bytes(b[40..].try_into().ok()?),
        })
    }
}

pub use crate::chain::KeyEntry;

pub fn encode_keys(keys: &[KeyEntry]) -> Vec<u8> {
    let v: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| serde_json::json!({"key": k.key.to_string(), "from_seq": k.from_seq}))
        .collect();
    // A Vec of json! objects of strings and integers always serialises.
    serde_json::Value::Array(v).to_string().into_bytes()
}

fn decode_keys(b: &[u8]) -> Option<Vec<KeyEntry>> {
    let v: Vec<serde_json::Value> = serde_json::from_slice(b).ok()?;
    v.iter()
        .map(|e| {
            Some(KeyEntry {
                key: VerifierKey::parse(e.get("key")?.as_str()?).ok()?,
                from_seq: e.get("from_seq")?.as_u64()?,
            })
        })
        .collect()
}

/// A checkpoint note with the tree size it was issued at.
pub type SizedNote = (u64, String);

/// An open sled database holding one ledger.
pub struct Store {
    pub db: sled::Db,
    /// The complete packs of records (`<store dir>.packs`, [`crate::packs`]).
    pub packs: packs::PackFile,
}

/// The pack file of the store whose sled database is in `path`: `<path>.packs`, beside it.
pub fn packs_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("packs")
}

impl Store {
    /// Opens (creating if `create`) the sled database in `path`.
    pub fn open(path: &Path, create: bool) -> Result<Self> {
        if !create && !path.exists() {
            return Err(Error::NotFound(path.parent().unwrap_or(path).to_path_buf()));
        }
        let cfg = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(None);
        let start = Instant::now();
        loop {
            match cfg.open() {
                Ok(db) => return Ok(Self { db, packs: packs::PackFile::open(&packs_path(path))? }),
                // sled reports a held lock as an io error wrapping EWOULDBLOCK.
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock") =>
                {
                    if start.elapsed() > LOCK_WAIT {
                        return Err(Error::Locked(path.to_path_buf()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(sled::Error::Corruption { at, .. }) => {
                    return Err(Error::Corrupt(format!("sled reports corruption at {at:?} in {}", path.display())))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>> {
        Ok(self.db.get(key)?)
    }

    pub fn origin(&self) -> Result<String> {
        let o = self.get(META_ORIGIN)?.ok_or_else(|| Error::Corrupt("the origin is missing".into()))?;
        String::from_utf8(o.to_vec()).map_err(|_| Error::Corrupt("the origin is not UTF-8".into()))
    }

    pub fn head(&self) -> Result<Head> {
        let h = self.get(META_HEAD)?.ok_or_else(|| Error::Corrupt("the head is missing".into()))?;
        Head::decode(&h).ok_or_else(|| Error::Corrupt("the head is malformed".into()))
    }

    pub fn keys(&self) -> Result<Vec<KeyEntry>> {
        let k = self.get(META_KEYS)?.ok_or_else(|| Error::Corrupt("the key list is missing".into()))?;
        decode_keys(&k).filter(|k| !k.is_empty()).ok_or_else(|| Error::Corrupt("the key list is malformed".into()))
    }

    /// Checks the format marker: this directory holds a relic store of a version this code reads.
    /// A store of an older format is converted first, one format at a time.
    pub fn check_format(&self) -> Result<()> {
        loop {
            match self.get(META_FORMAT)? {
                Some(f) if f.as_ref() == FORMAT => {
                    // A conversion interrupted after its switch left entries behind.
                    if self.db.scan_prefix([b'h']).next().is_some() {
                        self.remove_v1_hashes()?;
                    }
                    let packed = packs::packed(self.head()?.size) * packs::WIDTH;
                    if self.db.range(record_key(0)..record_key(packed)).next().is_some() {
                        self.remove_packed_records(packed)?;
                    }
                    // Bytes past the last pack sled names were never part of the log.
                    self.packs.cut(self.packs_end()?)?;
                    return Ok(());
                }
                Some(f) if f.as_ref() == FORMAT_V2 => {
                    if self.db.scan_prefix([b'h']).next().is_some() {
                        self.remove_v1_hashes()?;
                    }
                    self.upgrade_v2()?;
                }
                Some(f) if f.as_ref() == FORMAT_V1 => self.upgrade_v1()?,
                Some(f) => return Err(Error::Corrupt(format!("unknown store format {:?}", String::from_utf8_lossy(&f)))),
                None => return Err(Error::Corrupt("no format marker (was `relic init` interrupted?)".into())),
            }
        }
    }

    /// Record `seq`'s exact bytes, from its pack or its own entry ([`crate::packs`]).
    pub fn record_bytes(&self, seq: u64) -> Result<Option<sled::IVec>> {
        let k = seq / packs::WIDTH;
        if let Some(index) = self.get(&packs::pack_key(k))? {
            let pack = self.read_pack(k, &index)?;
            let ranges = packs::entries(&pack).map_err(|why| packs::malformed(k, &why))?;
            let r = &ranges[(seq % packs::WIDTH) as usize];
            return Ok(Some(pack.subslice(r.start, r.len())));
        }
        self.get(&record_key(seq))
    }

    /// Pack `k`'s bytes, from the pack file, where its sled entry `index` says they are.
    pub fn read_pack(&self, k: u64, index: &[u8]) -> Result<sled::IVec> {
        let (at, len) = packs::decode_index(index).ok_or_else(|| packs::malformed(k, "its entry is not 12 bytes"))?;
        Ok(sled::IVec::from(self.packs.read(k, at, len)?))
    }

    /// Where the last pack sled names ends in the pack file (0 without packs).
    pub fn packs_end(&self) -> Result<u64> {
        match self.db.scan_prefix([packs::PREFIX]).next_back() {
            None => Ok(0),
            Some(kv) => {
                let (k, v) = kv?;
                let k = key_number(&k).unwrap_or_default();
                let (at, len) = packs::decode_index(&v).ok_or_else(|| packs::malformed(k, "its entry is not 12 bytes"))?;
                Ok(at + len as u64)
            }
        }
    }

    /// Every record from `from` on, in order, with its number ([`packs::Records`]).
    pub fn records(&self, from: u64) -> packs::Records<'_> {
        packs::Records::new(self, from)
    }

    pub fn checkpoint_note(&self, size: u64) -> Result<Option<String>> {
        match self.get(&checkpoint_key(size))? {
            None => Ok(None),
            Some(b) => String::from_utf8(b.to_vec())
                .map(Some)
                .map_err(|_| Error::Corrupt(format!("checkpoint at size {size} is not UTF-8"))),
        }
    }

    /// Iterates over the values under one prefix, from `from` on, with their numbers.
    pub fn scan(&self, prefix: u8, from: u64) -> impl Iterator<Item = Result<(u64, sled::IVec)>> {
        let start = prefixed(prefix, from);
        self.db.range(start..).take_while(move |kv| kv.as_ref().map_or(true, |(k, _)| k.first() == Some(&prefix))).map(
            |kv| {
                let (k, v) = kv?;
                let n = key_number(&k).ok_or_else(|| Error::Corrupt(format!("malformed key {k:?}")))?;
                Ok((n, v))
            },
        )
    }

    /// The issued checkpoint with the largest size `<= size`, and the one with the smallest size `>= size`.
    pub fn checkpoint_neighbours(&self, size: u64) -> Result<(Option<SizedNote>, Option<SizedNote>)> {
        let decode = |kv: Option<sled::Result<(sled::IVec, sled::IVec)>>| -> Result<Option<(u64, String)>> {
            match kv {
                Some(kv) => {
                    let (k, v) = kv?;
                    if k.first() != Some(&b'c') {
                        return Ok(None);
                    }
                    let n = key_number(&k).ok_or_else(|| Error::Corrupt("malformed checkpoint key".into()))?;
                    let s = String::from_utf8(v.to_vec()).map_err(|_| Error::Corrupt(format!("checkpoint at size {n} is not UTF-8")))?;
                    Ok(Some((n, s)))
                }
                None => Ok(None),
            }
        };
        let below = decode(self.db.range(checkpoint_key(0)..=checkpoint_key(size)).next_back())?;
        let above = decode(self.db.range(checkpoint_key(size)..=checkpoint_key(u64::MAX)).next())?;
        Ok((below, above))
    }

    /// Format 1 → 2 (`schemas/store-v2.md` §Upgrade from version 1), in three steps, each safe to
    /// interrupt:
    /// 1. the `h` entries (one per tree hash, by stored hash index) are copied into tiles as stored,
    ///    not recomputed (verification checks them against the records as before), in batches of
    ///    [`UPGRADE_LEAVES`] records, while the marker still says format 1 (format 1 ignores `t`
    ///    keys): interrupted, the store is still format 1 and is converted again from the start;
    /// 2. the marker becomes format 2, in one insert and a flush: the switch;
    /// 3. the `h` entries are removed, in batches; interrupted, format 2 finishes it when the store
    ///    is next opened ([`Store::check_format`]).
    /// Records, checkpoints and the other metadata are not touched. Memory stays bounded by a batch.
    fn upgrade_v1(&self) -> Result<()> {
        self.tiles_from_v1()?;
        self.db.insert(META_FORMAT, FORMAT_V2)?;
        self.flush()?;
        self.remove_v1_hashes()
    }

    /// Step 1 of [`Store::upgrade_v1`]: the tiles, from the `h` entries, flushed.
    fn tiles_from_v1(&self) -> Result<()> {
        let size = self.head()?.size;
        let mut tiles = OpenTiles::default();
        let mut hashes = self.scan(b'h', 0);
        for leaf in 0..size {
            let mut pushed = Vec::new();
            for level in 0..=leaf.trailing_ones() {
                let index = merkle::stored_hash_index(level, leaf >> level);
                let h = match hashes.next() {
                    Some(Ok((i, v))) if i == index => v,
                    Some(Err(e)) => return Err(e),
                    _ => return Err(Error::Corrupt(format!("format-1 store: stored hash {index} is missing"))),
                };
                pushed.push(<Hash>::try_from(h.as_ref()).map_err(|_| Error::Corrupt(format!("format-1 store: stored hash {index} is not 32 bytes")))?);
            }
            tiles.push(&pushed);
            if (leaf + 1) % UPGRADE_LEAVES == 0 || leaf + 1 == size {
                let mut batch = sled::Batch::default();
                tiles.write(&mut batch);
                self.db.apply_batch(batch)?;
            }
        }
        self.flush()
    }

    /// Removes the `h` entries a format-1 store kept, in batches (step 3 of [`Store::upgrade_v1`]).
    fn remove_v1_hashes(&self) -> Result<()> {
        loop {
            let keys: Vec<sled::IVec> = self.db.scan_prefix([b'h']).keys().take(UPGRADE_LEAVES as usize).collect::<sled::Result<_>>()?;
            if keys.is_empty() {
                return self.flush();
            }
            let mut batch = sled::Batch::default();
            for k in keys {
                batch.remove(k);
            }
            self.db.apply_batch(batch)?;
        }
    }

    /// Format 2 → 3 (`schemas/store-v3.md` §Upgrade from version 2), in three steps, each safe to
    /// interrupt, as [`Store::upgrade_v1`]:
    /// 1. every complete pack is written to the pack file from the records' own entries, copied
    ///    byte for byte, and synced, then its `p` entry, in batches of [`UPGRADE_LEAVES`] records,
    ///    then flushed, while the marker still says format 2 (which ignores `p` keys and the pack
    ///    file): interrupted, the next open converts again from the start, over an emptied file;
    /// 2. the marker becomes format 3, in one insert and a flush: the switch;
    /// 3. the packed records' own entries are removed, in batches; interrupted, format 3 finishes
    ///    it when the store is next opened ([`Store::check_format`]).
    fn upgrade_v2(&self) -> Result<()> {
        let size = self.head()?.size;
        let packed = packs::packed(size);
        let per_batch = UPGRADE_LEAVES / packs::WIDTH;
        let mut records = self.scan(b'r', 0);
        let (mut batch, mut bytes, mut at) = (sled::Batch::default(), Vec::new(), 0u64);
        let mut file_end = 0u64;
        self.packs.cut(0)?;
        for k in 0..packed {
            let mut pack = Vec::with_capacity(packs::WIDTH as usize);
            for seq in k * packs::WIDTH..(k + 1) * packs::WIDTH {
                match records.next() {
                    Some(Ok((s, v))) if s == seq => pack.push(v),
                    Some(Err(e)) => return Err(e),
                    _ => return Err(Error::Corrupt(format!("format-2 store: record {seq} is missing"))),
                }
            }
            let encoded = packs::encode(&pack);
            batch.insert(&packs::pack_key(k), &packs::encode_index(file_end, encoded.len() as u32)[..]);
            file_end += encoded.len() as u64;
            bytes.extend_from_slice(&encoded);
            if (k + 1) % per_batch == 0 || k + 1 == packed {
                // The packs are on disk before the entries that name them.
                self.packs.write(at, &bytes)?;
                at = file_end;
                bytes.clear();
                self.db.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.flush()?;
        self.db.insert(META_FORMAT, FORMAT)?;
        self.flush()?;
        self.remove_packed_records(packed * packs::WIDTH)
    }

    /// Removes the own entries of records `0 … packed − 1` whose pack is stored (step 3 of
    /// [`Store::upgrade_v2`]), in batches. An entry whose pack is missing is left alone: nothing
    /// is removed that is not held elsewhere.
    fn remove_packed_records(&self, packed: u64) -> Result<()> {
        let mut from = 0;
        let mut pack_stored = (u64::MAX, false);
        loop {
            let keys: Vec<sled::IVec> =
                self.db.range(record_key(from)..record_key(packed)).keys().take(UPGRADE_LEAVES as usize).collect::<sled::Result<_>>()?;
            let Some(last) = keys.last().and_then(|k| key_number(k)) else { return self.flush() };
            from = last + 1;
            let mut batch = sled::Batch::default();
            for key in keys {
                let Some(k) = key_number(&key).map(|seq| seq / packs::WIDTH) else { continue };
                if pack_stored.0 != k {
                    pack_stored = (k, self.db.contains_key(packs::pack_key(k))?);
                }
                if pack_stored.1 {
                    batch.remove(key);
                }
            }
            self.db.apply_batch(batch)?;
        }
    }

    /// Durably writes everything applied so far.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

impl HashReader for Store {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ReadError> {
        let mut reader = TileReader::new(self);
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = merkle::split_stored_hash_index(i);
                let found = reader.get(level, n).map_err(|e| e.to_string())?;
                found.ok_or_else(|| {
                    format!("stored hash {i} (tile {level}/{}) is missing", n / tiles::WIDTH).into()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ledger;

    /// Rewrites a format-3 store as format 2 (one `r` entry per record, no packs), as relic wrote
    /// it before packs.
    pub(crate) fn unpack(store: &Store) {
        let mut batch = sled::Batch::default();
        for r in store.records(0) {
            let (seq, v) = r.unwrap();
            batch.insert(&record_key(seq), v);
        }
        for k in store.db.scan_prefix([packs::PREFIX]).keys() {
            batch.remove(k.unwrap());
        }
        batch.insert(META_FORMAT, FORMAT_V2);
        store.db.apply_batch(batch).unwrap();
        store.packs.cut(0).unwrap();
    }

    /// Rewrites a format-3 store as format 1 (one `h` entry per hash, no tiles, no packs), as an
    /// older relic wrote it.
    fn downgrade(store: &Store) {
        unpack(store);
        let size = store.head().unwrap().size;
        let count = merkle::stored_hash_count(size);
        let hashes = store.read_hashes(&(0..count).collect::<Vec<_>>()).unwrap();
        let mut batch = sled::Batch::default();
        for k in store.db.scan_prefix([tiles::PREFIX]).keys() {
            batch.remove(k.unwrap());
        }
        for (i, h) in hashes.iter().enumerate() {
            batch.insert(&v1_hash_key(i as u64), &h[..]);
        }
        batch.insert(META_FORMAT, FORMAT_V1);
        store.db.apply_batch(batch).unwrap();
    }

    /// A ledger of 701 records: 10 complete packs and 61 records after them.
    fn ledger_of_701_records() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "upgrade.test/log", crate::policy::unchecked()).unwrap();
        l.append_all_blocking((0..700).map(crate::test_support::numbered_draft).collect()).unwrap();
        (dir, l)
    }

    /// A format-1 store is converted when opened, also after a conversion was interrupted before
    /// or after its switch; the converted store verifies and serves the same tree.
    #[test]
    fn format_1_is_converted_also_after_an_interrupted_conversion() {
        let (dir, l) = ledger_of_701_records();
        let root = l.checkpoint(None).unwrap().checkpoint.root;
        l.close();
        let path = crate::ledger::store_path(dir.path());
        let (packs_of, loose_of) = (|s: &Store| s.db.scan_prefix([packs::PREFIX]).count(), |s: &Store| s.db.scan_prefix([b'r']).count());
        let has_h = |s: &Store| s.db.scan_prefix([b'h']).next().is_some();

        // Interrupted before the switch: format 1 with some tiles written; converted from the start.
        let s = Store::open(&path, false).unwrap();
        downgrade(&s);
        s.db.insert(tiles::tile_key(0, 0), &[1u8; 64][..]).unwrap();
        s.check_format().unwrap();
        assert_eq!(s.get(META_FORMAT).unwrap().as_deref(), Some(FORMAT));
        assert!(!has_h(&s));
        assert_eq!((packs_of(&s), loose_of(&s)), (10, 61), "converted on to format 3");
        assert_eq!(merkle::tree_hash(701, &s).unwrap(), root);

        // Interrupted after the switch: format 2 with `h` entries left; removed on the next open.
        downgrade(&s);
        s.tiles_from_v1().unwrap();
        s.db.insert(META_FORMAT, FORMAT_V2).unwrap();
        assert_eq!(s.db.scan_prefix([b'h']).count() as u64, merkle::stored_hash_count(701));
        s.check_format().unwrap();
        assert!(!has_h(&s));
        assert_eq!(merkle::tree_hash(701, &s).unwrap(), root);
        drop(s);

        let report = crate::verify::verify_dir(dir.path(), &Default::default(), &mut |_, _| {}).unwrap().unwrap();
        assert_eq!((report.size, report.root), (701, root));
    }

    /// A format-2 store is converted to packs when opened, also after a conversion was interrupted
    /// before or after its switch; every record reads back the same; a record's own entry whose
    /// pack is missing is never removed.
    #[test]
    fn format_2_is_converted_also_after_an_interrupted_conversion() {
        let (dir, l) = ledger_of_701_records();
        l.close();
        let path = crate::ledger::store_path(dir.path());
        let s = Store::open(&path, false).unwrap();
        let records: Vec<sled::IVec> = s.records(0).map(|r| r.unwrap().1).collect();
        assert_eq!(records.len(), 701);
        let layout = |s: &Store| {
            let p: Vec<u64> = s.scan(packs::PREFIX, 0).map(|r| r.unwrap().0).collect();
            let r: Vec<u64> = s.scan(b'r', 0).map(|r| r.unwrap().0).collect();
            (p, r)
        };
        let packed = ((0..10).collect::<Vec<u64>>(), (640..701).collect::<Vec<u64>>());
        assert_eq!(layout(&s), packed);
        let reads_back = |s: &Store| {
            let again: Vec<sled::IVec> = s.records(0).map(|r| r.unwrap().1).collect();
            assert_eq!(again, records);
            for seq in [0, 63, 64, 639, 640, 700] {
                assert_eq!(s.record_bytes(seq).unwrap().unwrap(), records[seq as usize]);
            }
        };

        // Not converted at all, or interrupted before the switch (a pack written, maybe wrongly):
        // converted from the start.
        unpack(&s);
        assert_eq!(layout(&s).0, Vec::<u64>::new());
        s.packs.write(0, b"half-written").unwrap();
        s.db.insert(packs::pack_key(3), &packs::encode_index(0, 12)[..]).unwrap();
        s.check_format().unwrap();
        assert_eq!(s.get(META_FORMAT).unwrap().as_deref(), Some(FORMAT));
        assert_eq!(layout(&s), packed);
        reads_back(&s);

        // Interrupted after the switch: the packed records' own entries are removed on the next
        // open, except those of a pack that is missing.
        unpack(&s);
        let mut at = 0u64;
        let mut entries = Vec::new();
        for k in 0..10 {
            let pack = packs::encode(&records[k * 64..(k + 1) * 64]);
            s.packs.write(at, &pack).unwrap();
            entries.push(packs::encode_index(at, pack.len() as u32));
            s.db.insert(packs::pack_key(k as u64), &entries[k][..]).unwrap();
            at += pack.len() as u64;
        }
        s.db.insert(META_FORMAT, FORMAT).unwrap();
        s.db.remove(packs::pack_key(4)).unwrap();
        s.check_format().unwrap();
        let (p, r) = layout(&s);
        assert_eq!(p, [0, 1, 2, 3, 5, 6, 7, 8, 9]);
        assert_eq!(r, (256..320).chain(640..701).collect::<Vec<u64>>());
        let err = s.records(0).map(|r| r.map(|(seq, _)| seq)).enumerate().find(|(i, seq)| seq.as_ref().ok() != Some(&(*i as u64)));
        assert_eq!(err.map(|(i, seq)| (i, seq.unwrap())), Some((256, 320)), "the missing pack shows as a jump");
        s.db.insert(packs::pack_key(4), &entries[4][..]).unwrap();
        s.check_format().unwrap();
        assert_eq!(layout(&s), packed);
        reads_back(&s);
        drop(s);

        let report = crate::verify::verify_dir(dir.path(), &Default::default(), &mut |_, _| {}).unwrap().unwrap();
        assert_eq!(report.size, 701);
    }
}
