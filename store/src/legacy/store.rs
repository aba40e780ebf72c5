//! The on-disk layout of a ledger in sled (`schemas/store-v3.md`).
//!
//! One sled tree holds everything, under one-byte key prefixes, so that records, their tree hashes
//! and the new head go to disk in one atomic batch:
//!
//! | key                             | value                                              |
//! |---------------------------------|----------------------------------------------------|
//! | `p` + k (u64 BE)                | a pack: records 64·k … 64·k + 63 ([`crate::legacy::packs`]) |
//! | `r` + seq (u64 BE)              | a record after the last complete pack, its exact bytes |
//! | `t` + level (u8) + k (u64 BE)   | a tile: up to 256 tree hashes of one level ([`crate::legacy::tiles`]) |
//! | `c` + size (u64 BE)             | the signed checkpoint note issued at that size     |
//! | `m` + name                      | metadata: `format`, `origin`, `head`, `keys`       |
//!
//! Stores of older formats are converted by an explicit migration ([`Store::migrate`], `relic
//! migrate`), never by opening them ([`Store::check_format`] only says so), in bounded steps,
//! each safe to interrupt: format 1 (`schemas/store-v1.md`: one `h` entry per tree hash) to format 2
//! (`schemas/store-v2.md`: tiles, one `r` entry per record), and format 2 to format 3 (packs).
//!
//! What this is not: the rules. Everything read from here is untrusted by `relic_ledger::verify`.

use std::path::Path;

use relic_formats::merkle::{self, Hash, HashReader, ReadError};
use relic_formats::note::VerifierKey;

use crate::error::{Error, Result};
use crate::legacy::packs;
use crate::legacy::tiles::{self, OpenTiles, TileReader};
pub use crate::legacy::{Bytes, Group, LogStore};

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
    let n: [u8; 8] = k.get(1..)?.try_into().ok()?;
    (k.len() == 9).then(|| u64::from_be_bytes(n))
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

pub use relic_formats::chain::KeyEntry;

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

/// An open sled database holding one ledger. Cloning gives another handle on the same store (the
/// writer thread's).
#[derive(Clone)]
pub struct Store {
    pub(crate) db: sled::Db,
    /// The complete packs of records (`<store dir>.packs`, [`crate::legacy::packs`]).
    pub(crate) packs: packs::PackFile,
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
        Self::open_cached(path, CACHE_BYTES)
    }

    /// Opens an existing store with a page cache of `cache_bytes` instead of the default 64 MiB
    /// (benchmarks: what a larger cache would buy).
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Self> {
        if !path.exists() {
            return Err(Error::NotFound(path.parent().unwrap_or(path).to_path_buf()));
        }
        Self::open_cached(path, cache_bytes)
    }

    fn open_cached(path: &Path, cache_bytes: u64) -> Result<Self> {
        match crate::db::open(path, cache_bytes)? {
            Ok(db) => Ok(Self { db, packs: packs::PackFile::open(&packs_path(path))? }),
            Err(sled::Error::Corruption { at, .. }) => {
                Err(Error::Corrupt(format!("sled reports corruption at {at:?} in {}", path.display())))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
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

    /// Checks, changing nothing, that this directory holds a store of the current format. A store
    /// of an older format is [`Error::Migrate`]: readers never convert; `relic migrate` does
    /// ([`Store::migrate`]). What an interrupted conversion left behind in a current-format store
    /// (`h` entries, packed records' own entries) is never read, and stays until the next migration.
    pub fn check_format(&self) -> Result<()> {
        match self.get(META_FORMAT)? {
            Some(f) if f.as_ref() == FORMAT => Ok(()),
            Some(f) if f.as_ref() == FORMAT_V2 || f.as_ref() == FORMAT_V1 => {
                Err(Error::Migrate { found: String::from_utf8_lossy(&f).into_owned() })
            }
            Some(f) => Err(Error::Corrupt(format!("unknown store format {:?}", String::from_utf8_lossy(&f)))),
            None => Err(Error::Corrupt("no format marker (was `relic init` interrupted?)".into())),
        }
    }

    /// What a writer does when it opens the store: bytes past the last pack the database names were
    /// never part of the log (a pack write whose commit did not follow) and are cut off. Readers
    /// never call it: they read packs only where the database says they are.
    pub fn recover_for_writing(&self) -> Result<()> {
        self.packs.cut(self.packs_end()?)
    }

    /// Converts a store of an older format to the current one, one format at a time, and finishes
    /// a conversion that was interrupted (`relic migrate`). Returns the formats it converted from,
    /// oldest first (empty if there was nothing to do).
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut from = Vec::new();
        loop {
            match self.get(META_FORMAT)? {
                Some(f) if f.as_ref() == FORMAT => {
                    // A conversion interrupted after its switch left entries behind.
                    let mut finished = false;
                    if self.db.scan_prefix([b'h']).next().is_some() {
                        self.remove_v1_hashes()?;
                        finished = true;
                    }
                    let packed = packs::packed(self.head()?.size) * packs::WIDTH;
                    if self.db.range(record_key(0)..record_key(packed)).next().is_some() {
                        self.remove_packed_records(packed)?;
                        finished = true;
                    }
                    if finished && from.is_empty() {
                        from.push("an interrupted conversion".to_string());
                    }
                    return Ok(from);
                }
                Some(f) if f.as_ref() == FORMAT_V2 => {
                    from.push(String::from_utf8_lossy(&f).into_owned());
                    if self.db.scan_prefix([b'h']).next().is_some() {
                        self.remove_v1_hashes()?;
                    }
                    self.upgrade_v2()?;
                }
                Some(f) if f.as_ref() == FORMAT_V1 => {
                    from.push(String::from_utf8_lossy(&f).into_owned());
                    self.upgrade_v1()?;
                }
                Some(f) => return Err(Error::Corrupt(format!("unknown store format {:?}", String::from_utf8_lossy(&f)))),
                None => return Err(Error::Corrupt("no format marker (was `relic init` interrupted?)".into())),
            }
        }
    }

    /// Record `seq`'s exact bytes, from its pack or its own entry ([`crate::legacy::packs`]).
    pub fn record_bytes(&self, seq: u64) -> Result<Option<Bytes>> {
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
    pub fn read_pack(&self, k: u64, index: &[u8]) -> Result<Bytes> {
        let (at, len) = packs::decode_index(index).ok_or_else(|| packs::malformed(k, "its entry is not 12 bytes"))?;
        Ok(Bytes::from(self.packs.read(k, at, len)?))
    }

    /// Where the last pack sled names ends in the pack file (0 without packs).
    pub fn packs_end(&self) -> Result<u64> {
        match self.db.scan_prefix([packs::PREFIX]).next_back() {
            None => Ok(0),
            Some(kv) => {
                let (k, v) = kv?;
                let k = key_number(&k).ok_or_else(|| Error::Corrupt(format!("malformed pack key {k:?}")))?;
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
    pub fn scan(&self, prefix: u8, from: u64) -> impl Iterator<Item = Result<(u64, Bytes)>> {
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
        let decode = |kv: Option<sled::Result<(Bytes, Bytes)>>| -> Result<Option<(u64, String)>> {
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
    ///    is next migrated ([`Store::migrate`]).
    /// Records, checkpoints and the other metadata are not touched. Memory stays bounded by a batch.
    fn upgrade_v1(&self) -> Result<()> {
        self.tiles_from_v1()?;
        self.db.insert(META_FORMAT, FORMAT_V2)?;
        self.flush()?;
        self.remove_v1_hashes()
    }

    /// Step 1 of [`Store::upgrade_v1`]: the tiles, from the `h` entries, flushed.
    pub(crate) fn tiles_from_v1(&self) -> Result<()> {
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
                let mut group = crate::legacy::Group::new();
                tiles.write(&mut group);
                crate::legacy::LogStore::commit(self, group)?;
            }
        }
        self.flush()
    }

    /// Removes the `h` entries a format-1 store kept, in batches (step 3 of [`Store::upgrade_v1`]).
    fn remove_v1_hashes(&self) -> Result<()> {
        loop {
            let keys: Vec<Bytes> = self.db.scan_prefix([b'h']).keys().take(UPGRADE_LEAVES as usize).collect::<sled::Result<_>>()?;
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
    ///    it when the store is next migrated ([`Store::migrate`]).
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
            let keys: Vec<Bytes> =
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

    /// True if nothing at all is stored (a database an interrupted init left empty).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.db.iter().next().transpose()?.is_none())
    }

    /// The pack file ([`crate::legacy::packs`]).
    pub fn pack_file(&self) -> &packs::PackFile {
        &self.packs
    }

    /// Stores the signed checkpoint note issued at `size`, durably.
    pub fn put_checkpoint(&self, size: u64, note: &str) -> Result<()> {
        self.db.insert(checkpoint_key(size), note.as_bytes())?;
        self.flush()
    }

    /// Every stored checkpoint note from size `from` on, with its size, in order of size.
    pub fn checkpoints(&self, from: u64) -> impl Iterator<Item = Result<(u64, Bytes)>> {
        self.scan(b'c', from)
    }

    /// The publish cursor (`mpublished`): records a broker acknowledged, 0 if never set.
    pub fn published(&self) -> Result<u64> {
        match self.get(META_PUBLISHED)? {
            None => Ok(0),
            Some(v) => {
                let b: [u8; 8] = v.as_ref().try_into().map_err(|_| Error::Corrupt("the publish cursor is not 8 bytes".into()))?;
                Ok(u64::from_be_bytes(b))
            }
        }
    }

    /// Durably sets the publish cursor.
    pub fn set_published(&self, n: u64) -> Result<()> {
        self.db.insert(META_PUBLISHED, &n.to_be_bytes())?;
        self.flush()
    }

    /// The stored hash index of the first tree hash stored beyond a tree of `size` leaves, if any:
    /// a last tile longer than its level's count, or a tile after it.
    pub fn hash_past_end(&self, size: u64) -> Result<Option<u64>> {
        for level in 0..64u32 {
            let count = tiles::level_count(size, level);
            let k = count / tiles::WIDTH;
            let beyond = self.db.range(tiles::tile_key(level, k + 1)..=tiles::tile_key(level, u64::MAX)).next().transpose()?;
            let longer = match self.get(&tiles::tile_key(level, k))? {
                Some(v) => v.len() > tiles::tile_len(size, level, k),
                None => false,
            };
            if longer || beyond.is_some() {
                return Ok(Some(merkle::stored_hash_index(level, count)));
            }
        }
        Ok(None)
    }

    /// Raw access for tools and tests that inspect or alter a store's bytes on purpose (the tamper
    /// and corruption tests): the value under `key`, whatever it is.
    pub fn raw_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    /// Raw access (see [`Store::raw_get`]): writes `value` under `key` and flushes. relic's own
    /// code never calls it.
    pub fn raw_put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.insert(key, value)?;
        self.flush()
    }

    /// Raw access (see [`Store::raw_get`]): removes `key` and flushes.
    pub fn raw_remove(&self, key: &[u8]) -> Result<()> {
        self.db.remove(key)?;
        self.flush()
    }
}

/// The metadata key of the publish cursor (`relic_ledger::outbox`).
pub const META_PUBLISHED: &[u8] = b"mpublished";

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
