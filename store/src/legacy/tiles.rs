//! Tree hashes in tiles: how the store keeps the RFC 6962 tree (`schemas/store-v2.md` §Tiles).
//!
//! What this is: the mapping between the hashes the tree math produces and reads (addressed by
//! (level, n), or by Go's stored hash index, see `relic_formats::merkle`) and sled values holding 256 of
//! them each. Tile `(L, k)` holds the hashes of the complete subtrees `(L, 256·k) … (L, 256·k + 255)`
//! of height `L`, concatenated, 32 bytes each; the last tile of a level holds only those that exist.
//! One sled entry per 256 hashes instead of one per hash: sled's cost is per entry, and a record
//! adds two hashes on average.
//!
//! - [`TreeWriter`]: what a writer (the sequencer, a mirror) keeps of the tree to append to it: its
//!   right edge, which computes the new hashes, and [`OpenTiles`], the last, partial tile of every
//!   level, so that a batch of records rewrites the tiles it extends without reading the store;
//! - [`TileReader`]: reads hashes by (level, n), keeping the tile it read last per level, so a
//!   sequential pass (verification) reads each tile once.
//!
//! What this is not: the tree math (that is `relic_formats::merkle`) or the rules a store must obey
//! (checked by `relic_ledger::verify`).

use std::collections::BTreeMap;

use relic_formats::merkle::{self, Frontier, Hash};

use crate::error::{Error, Result};
use crate::legacy::store::Store;
use crate::legacy::{Bytes, Group};

/// Hashes per tile.
pub const WIDTH: u64 = 256;
/// The prefix of tile keys.
pub const PREFIX: u8 = b't';
/// Levels a tree of `u64` leaves can have.
const LEVELS: usize = 64;

/// The key of tile `k` of `level`: `t` ‖ level (one byte) ‖ k (u64 big-endian).
pub fn tile_key(level: u32, k: u64) -> [u8; 10] {
    let mut key = [0u8; 10];
    key[0] = PREFIX;
    key[1] = level as u8;
    key[2..].copy_from_slice(&k.to_be_bytes());
    key
}

/// How many hashes of `level` a tree of `size` leaves has: its complete subtrees of that height.
pub fn level_count(size: u64, level: u32) -> u64 {
    if level as usize >= LEVELS {
        0
    } else {
        size >> level
    }
}

/// The exact length, in bytes, of tile `k` of `level` in a tree of `size` leaves (0: no such tile).
pub fn tile_len(size: u64, level: u32, k: u64) -> usize {
    let count = level_count(size, level);
    let start = k.saturating_mul(WIDTH);
    (count.saturating_sub(start).min(WIDTH) * 32) as usize
}

/// The partial last tile of each level, and the tiles a batch completed or extended.
#[derive(Debug, Clone, Default)]
pub struct OpenTiles {
    size: u64,
    /// Per level, the hashes of its last, partial tile (empty if the level's count is a multiple of 256).
    open: Vec<Vec<u8>>,
    /// Tiles completed since the last [`OpenTiles::write`], with their contents.
    full: Vec<(u32, u64, Vec<u8>)>,
    /// Levels whose open tile grew since the last write.
    touched: u64,
}

impl OpenTiles {
    /// The open tiles of a tree of `size` leaves, read from `store` (one read per level that has one).
    pub fn load(store: &Store, size: u64) -> Result<Self> {
        let mut open = vec![Vec::new(); LEVELS];
        for (level, tile) in open.iter_mut().enumerate() {
            let level = level as u32;
            let count = level_count(size, level);
            if count % WIDTH == 0 {
                continue;
            }
            let k = count / WIDTH;
            let want = tile_len(size, level, k);
            let v = store.get(&tile_key(level, k))?.ok_or_else(|| missing(level, k))?;
            if v.len() < want {
                return Err(Error::Corrupt(format!("tree hash tile {level}/{k} holds {} bytes, want {want}", v.len())));
            }
            *tile = v[..want].to_vec();
        }
        Ok(Self { size, open, full: Vec::new(), touched: 0 })
    }

    /// The number of leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the hashes [`crate::merkle::Frontier::push`] returned for leaf `self.size()`: the leaf's
    /// hash at level 0, then the hash of each subtree it completes, one level up each.
    pub fn push(&mut self, hashes: &[Hash]) {
        if self.open.is_empty() {
            self.open = vec![Vec::new(); LEVELS];
        }
        let leaf = self.size;
        for (level, h) in hashes.iter().enumerate().take(LEVELS) {
            let n = leaf >> level;
            let tile = &mut self.open[level];
            tile.extend_from_slice(h);
            if n % WIDTH == WIDTH - 1 {
                self.full.push((level as u32, n / WIDTH, std::mem::take(tile)));
                self.touched &= !(1u64 << level);
            } else {
                self.touched |= 1u64 << level;
            }
        }
        self.size += 1;
    }

    /// Adds to `batch` every tile changed since the last call: the ones completed, and the open tile
    /// of each level that grew.
    pub fn write(&mut self, batch: &mut Group) {
        for (level, k, bytes) in self.full.drain(..) {
            batch.insert(&tile_key(level, k), &bytes);
        }
        for level in 0..LEVELS as u32 {
            if self.touched >> level & 1 == 1 {
                let k = level_count(self.size, level) / WIDTH;
                batch.insert(&tile_key(level, k), self.open[level as usize].as_slice());
            }
        }
        self.touched = 0;
    }
}

/// The tree as a writer appends to it: the right edge computes each record's new hashes, the open
/// tiles collect them for the next batch.
#[derive(Debug, Clone, Default)]
pub struct TreeWriter {
    frontier: Frontier,
    tiles: OpenTiles,
}

impl TreeWriter {
    /// The writer of a stored tree of `size` leaves: O(log n) hash reads and one tile per level.
    pub fn load(store: &Store, size: u64) -> Result<Self> {
        Ok(Self { frontier: Frontier::load(size, store)?, tiles: OpenTiles::load(store, size)? })
    }

    /// Appends a record (its exact bytes: the leaf).
    pub fn push(&mut self, record: &[u8]) {
        self.tiles.push(&self.frontier.push(merkle::leaf_hash(record)));
    }

    /// Adds to `batch` the tiles changed since the last call ([`OpenTiles::write`]).
    pub fn write(&mut self, batch: &mut Group) {
        self.tiles.write(batch);
    }

    /// The tree head.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

fn missing(level: u32, k: u64) -> Error {
    Error::Corrupt(format!("tree hash tile {level}/{k} is missing"))
}

/// Reads tree hashes by (level, n), keeping the last tile read of each level.
pub struct TileReader<'a> {
    store: &'a dyn crate::legacy::LogStore,
    cache: BTreeMap<u32, (u64, Bytes)>,
}

impl<'a> TileReader<'a> {
    pub fn new(store: &'a dyn crate::legacy::LogStore) -> Self {
        Self { store, cache: BTreeMap::new() }
    }

    /// The hash of subtree `(level, n)`, `None` if its tile is missing or too short.
    pub fn get(&mut self, level: u32, n: u64) -> Result<Option<Hash>> {
        let k = n / WIDTH;
        let fresh = !matches!(self.cache.get(&level), Some((cached, _)) if *cached == k);
        if fresh {
            match self.store.tile(level, k)? {
                Some(v) => {
                    self.cache.insert(level, (k, v));
                }
                None => return Ok(None),
            }
        }
        let Some((_, tile)) = self.cache.get(&level) else { return Ok(None) };
        let at = ((n % WIDTH) * 32) as usize;
        Ok(tile.get(at..at + 32).and_then(|b| b.try_into().ok()))
    }

    /// The stored length of tile `k` of `level`, `None` if it does not exist.
    pub fn tile_len(&self, level: u32, k: u64) -> Result<Option<usize>> {
        Ok(self.store.tile(level, k)?.map(|v| v.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relic_formats::merkle::{self, Frontier};

    fn hashes_of(n: u64) -> (Frontier, Vec<Vec<Hash>>) {
        let mut f = Frontier::new();
        let out = (0..n).map(|i| f.push(merkle::leaf_hash(&i.to_be_bytes()))).collect();
        (f, out)
    }

    /// Tiles written in batches of any size hold exactly the hashes of each level, in order, and
    /// every hash the tree math asks for by stored index is found in them.
    #[test]
    fn batches_of_any_size_write_the_same_tiles() {
        // Crosses tile boundaries on levels 0 to 2 (3,077 leaf hashes: 13 tiles on level 0).
        let n = 12 * WIDTH + 5;
        let (f, pushed) = hashes_of(n);
        let mut per_level: Vec<Vec<u8>> = vec![Vec::new(); LEVELS];
        for (leaf, hs) in pushed.iter().enumerate() {
            for (level, h) in hs.iter().enumerate() {
                assert_eq!(per_level[level].len() as u64, ((leaf as u64) >> level) * 32);
                per_level[level].extend_from_slice(h);
            }
        }
        for batch_size in [1usize, 7, 256, 1000] {
            // (Each batch size writes its own store; the stores are flushed and dropped one after
            // the other. sled 0.34 was seen to deadlock once, when this test wrote ~400 MB of
            // tiles through four stores in a row without flushing: spacejam/sled#1412.)
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("s"), true).unwrap();
            let mut tiles = OpenTiles::default();
            for (i, chunk) in pushed.chunks(batch_size).enumerate() {
                let mut group = Group::new();
                for hs in chunk {
                    tiles.push(hs);
                }
                tiles.write(&mut group);
                crate::legacy::LogStore::commit(&store, group).unwrap();
                if i == 3 {
                    // Reloading from the store gives the same open tiles.
                    let reloaded = OpenTiles::load(&store, tiles.size()).unwrap();
                    assert_eq!(reloaded.open, tiles.open);
                }
            }
            for (level, bytes) in per_level.iter().enumerate() {
                let level = level as u32;
                for k in 0..=(level_count(n, level) / WIDTH) {
                    let want = &bytes[(k * WIDTH * 32) as usize..][..tile_len(n, level, k)];
                    let got = store.get(&tile_key(level, k)).unwrap().map(|v| v.to_vec()).unwrap_or_default();
                    assert_eq!(got, want, "batch {batch_size}: tile {level}/{k}");
                }
                assert!(store.get(&tile_key(level, level_count(n, level) / WIDTH + 1)).unwrap().is_none());
            }
            assert_eq!(merkle::tree_hash(n, &store).unwrap(), f.root());
            store.flush().unwrap();
            assert_eq!(Frontier::load(n, &store).unwrap(), f);
            let proof = merkle::prove_inclusion(1234, n, &store).unwrap();
            merkle::verify_inclusion(1234, n, &merkle::leaf_hash(&1234u64.to_be_bytes()), &proof, &f.root()).unwrap();
        }
    }

    #[test]
    fn tile_lengths() {
        assert_eq!(tile_len(0, 0, 0), 0);
        assert_eq!(tile_len(300, 0, 0), 256 * 32);
        assert_eq!(tile_len(300, 0, 1), 44 * 32);
        assert_eq!(tile_len(300, 0, 2), 0);
        assert_eq!(tile_len(300, 1, 0), 150 * 32);
        assert_eq!(tile_len(300, 8, 0), 32);
        assert_eq!(tile_len(300, 9, 0), 0);
        assert_eq!(tile_key(3, 258), [b't', 3, 0, 0, 0, 0, 0, 0, 1, 2]);
    }
}
