//! relic's storage: where a log's bytes live on disk, and the one door through which they are
//! written.
//!
//! What this is: the layout of `schemas/store-v3.md` (older formats converted on open), on an
//! embedded sled database plus an append-only pack file beside it:
//! - [`store`]: [`Store`], the layout: records, tiles, checkpoints, head, keys, metadata; reads;
//!   format conversions; implements `relic_formats::merkle::HashReader`;
//! - [`packs`]: records 64 to a pack in the pack file, and reading them back in order;
//! - [`tiles`]: tree hashes 256 to a tile; what a writer keeps of the tree to append to it;
//! - [`group`]: [`LogStore`], the small trait the log sees storage through (read a record, read a
//!   tile, commit a group); [`Group`], one atomic commit, as plain data; and [`GroupWriter`], the
//!   writer thread every log writer (the ledger's sequencer, a mirror) commits through;
//! - [`kv`]: [`kv::Kv`], a small embedded key-value store for derived data kept beside the log (the
//!   view store);
//! - [`db`]: opening sled with a wait for another process's lock, for both;
//! - [`fs`]: durable file writes (write, sync, rename, sync the directory).
//!
//! What this is not: the rules. Nothing here signs, verifies or decides; everything read from here
//! is untrusted by `relic_ledger::verify`. No other crate of relic touches sled or the pack file.

pub mod db;
pub mod error;
pub mod fs;
pub mod group;
pub mod kv;
pub mod packs;
pub mod store;
pub mod tiles;

pub use error::{Error, Result};
pub use group::{Group, GroupWriter, LogStore, Then};
pub use store::{Head, Store};

/// A stored value (a record, a tile, a note): shares the database's buffer, so that reading a log
/// in order copies nothing.
pub type Bytes = sled::IVec;

/// Helpers that write older layouts or count raw entries, for tests (here and in `relic-ledger`)
/// of conversions and of damage. relic's own code never calls them.
#[doc(hidden)]
pub mod testing {
    use crate::store::{record_key, v1_hash_key, Store, FORMAT_V1, FORMAT_V2, META_FORMAT};
    use crate::{packs, tiles};
    use relic_formats::merkle::{self, HashReader as _};

    /// Rewrites a format-3 store as format 2 (one `r` entry per record, no packs), as relic wrote
    /// it before packs.
    pub fn unpack(store: &Store) {
        let mut batch = sled::Batch::default();
        for r in store.records(0) {
            let (seq, v) = r.expect("readable records");
            batch.insert(&record_key(seq), v);
        }
        for k in store.db.scan_prefix([packs::PREFIX]).keys() {
            batch.remove(k.expect("readable keys"));
        }
        batch.insert(META_FORMAT, FORMAT_V2);
        store.db.apply_batch(batch).expect("applied");
        store.packs.cut(0).expect("cut");
    }

    /// Rewrites a format-3 store as format 1 (one `h` entry per hash, no tiles, no packs), as an
    /// older relic wrote it.
    pub fn downgrade(store: &Store) {
        unpack(store);
        let size = store.head().expect("a head").size;
        let count = merkle::stored_hash_count(size);
        let hashes = store.read_hashes(&(0..count).collect::<Vec<_>>()).expect("hashes");
        let mut batch = sled::Batch::default();
        for k in store.db.scan_prefix([tiles::PREFIX]).keys() {
            batch.remove(k.expect("readable keys"));
        }
        for (i, h) in hashes.iter().enumerate() {
            batch.insert(&v1_hash_key(i as u64), &h[..]);
        }
        batch.insert(META_FORMAT, FORMAT_V1);
        store.db.apply_batch(batch).expect("applied");
    }

    /// Step 1 of the format-1 conversion alone (the tiles written from the `h` entries), as an
    /// interrupted conversion leaves it.
    pub fn convert_v1_tiles_only(store: &Store) {
        store.tiles_from_v1().expect("tiles written");
    }

    /// How many entries have keys starting with `prefix`.
    pub fn count(store: &Store, prefix: u8) -> usize {
        store.db.scan_prefix([prefix]).count()
    }

    /// The database under a store's directory, entry by entry, for tests that write or read a
    /// layout by hand, as its specification says, without relic's code in between.
    pub struct RawDb(sled::Db);

    impl RawDb {
        pub fn open(dir: &std::path::Path) -> Self {
            RawDb(sled::open(dir).expect("the database opens"))
        }

        pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
            self.0.insert(key.as_ref(), value.as_ref()).expect("insert");
        }

        pub fn get(&self, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
            self.0.get(key.as_ref()).expect("get").map(|v| v.to_vec())
        }

        pub fn count(&self, prefix: u8) -> usize {
            self.0.scan_prefix([prefix]).count()
        }

        pub fn flush(&self) {
            self.0.flush().expect("flush");
        }
    }
}
