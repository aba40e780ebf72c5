//! Format 3 and older (`schemas/store-v1.md` … `store-v3.md`): the sled database in `<data>/store`
//! and the pack file beside it, as relic wrote them before format 4.
//!
//! What this is: the code that reads those stores, and converts formats 1 and 2 to 3 in place, so
//! that `relic migrate` ([`crate::migrate`]) can copy a format-3 store into format 4. Nothing else
//! opens them: readers and writers refuse an older store with a line saying to run `relic migrate`.
//!
//! What this is not: a store relic writes to in normal use. sled 0.34 is named only here (and in
//! [`crate::db`], which opens it, and the error conversion of [`crate::error`]).

pub mod group;
pub mod packs;
pub mod store;
pub mod tiles;

pub use group::{Group, LogStore};
pub use store::{Head, Store};

/// A stored value of the old layout: shares sled's buffer.
pub type Bytes = sled::IVec;

/// Helpers that write older layouts or count raw entries, for tests (here and in `relic-ledger`)
/// of conversions and of damage. relic's own code never calls them.
#[doc(hidden)]
pub mod testing {
    use crate::legacy::store::{record_key, v1_hash_key, Store, FORMAT_V1, FORMAT_V2, META_FORMAT};
    use crate::legacy::{packs, tiles};
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

    /// Rewrites the format-4 log of `data` as the format-3 store relic wrote before (sled in
    /// `<data>/store`, packs in `<data>/store.packs`), and removes the log: what a data directory
    /// written by an older relic looks like, for the tests of `relic migrate`.
    pub fn log_to_v3(data: &std::path::Path) {
        let log = crate::Store::open(data, crate::Mode::Read).expect("the log opens");
        let head = log.head().expect("a head");
        let store = Store::open(&crate::store::legacy_dir(data), true).expect("the old store opens");
        let (mut pack, mut tree) = (packs::OpenPack::default(), tiles::TreeWriter::default());
        let mut group = crate::legacy::Group::new();
        for item in log.records(0) {
            let (_, bytes) = item.expect("a record");
            pack.push(&mut group, &bytes);
            tree.push(&bytes);
        }
        tree.write(&mut group);
        pack.finish(&mut group);
        group.set_head(&crate::legacy::Head { size: head.size, link: head.link, last_time_us: head.last_time_us });
        group.set_keys(&log.keys());
        if log.is_mirror() {
            group.set_meta(b"mmirror", b"relic-mirror/v1");
        }
        group.set_origin_and_format(&log.origin());
        crate::legacy::LogStore::commit(&store, group).expect("commit");
        for (size, note) in log.checkpoints(0) {
            store.put_checkpoint(size, &note).expect("checkpoint");
        }
        let published = log.published().expect("cursor");
        if published > 0 {
            store.set_published(published).expect("cursor");
        }
        store.flush().expect("flush");
        drop((store, log));
        std::fs::remove_dir_all(crate::store::log_dir(data)).expect("the log is removed");
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
