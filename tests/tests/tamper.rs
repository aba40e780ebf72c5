//! Tamper test: flipping any single byte of a stored record, tree hash or checkpoint is detected by
//! `relic verify`, which names the first affected position. The flips are made the way an attacker
//! with write access to the store would make them: by rewriting the stored value in the database.

use std::path::{Path, PathBuf};

use relic_ledger::ledger::store_path;
use relic_ledger::packs;
use relic_ledger::store::{checkpoint_key, Store, META_HEAD};
use relic_ledger::tiles::{self, tile_key};
use relic_ledger::{merkle, Ledger};
use relic_tests::{draft, relic};

/// Records 0 to 63 end up in a pack, 64 to 70 under keys of their own (`schemas/store-v3.md` §Packs).
const RECORDS: u64 = 70;
const CHECKPOINTS: [u64; 3] = [9, 25, 41];

fn build(dir: &Path) {
    let l = Ledger::init(dir, "tamper.test/log", relic_ledger::policy::unchecked()).unwrap();
    for i in 1..RECORDS + 1 {
        l.append_blocking(draft(&format!("acme/app@v{i}"), serde_json::json!({"i": i}))).unwrap();
        if CHECKPOINTS.contains(&(i + 1)) {
            l.checkpoint(Some(i + 1)).unwrap();
        }
    }
    l.close();
}

/// Where stored bytes are: a database value, or the pack file.
enum Place {
    Key(Vec<u8>),
    File(PathBuf),
}

/// Rewrites the bytes of `place` in the ledger in `dir` as an attacker with write access would.
fn rewrite_place(dir: &Path, place: &Place, f: &dyn Fn(&mut Vec<u8>)) {
    match place {
        Place::Key(key) => rewrite(dir, key, f),
        Place::File(path) => {
            let mut v = std::fs::read(path).unwrap();
            f(&mut v);
            std::fs::write(path, v).unwrap();
        }
    }
}

/// Flips bit 0 of byte `at` of `place`, runs `relic verify`, restores the byte, and returns
/// verify's exit code and stderr.
fn flip_and_verify(dir: &Path, place: &Place, at: usize) -> (i32, String) {
    rewrite_place(dir, place, &|v| v[at] ^= 1);
    let out = relic(dir, &["verify"]);
    rewrite_place(dir, place, &|v| v[at] ^= 1);
    (out.code, out.stderr)
}

fn key(k: &[u8]) -> Place {
    Place::Key(k.to_vec())
}

/// Where the tree hash at stored hash index `index` lives: its tile's key and its offset in the tile.
fn hash_location(index: u64) -> ([u8; 10], usize) {
    let (level, n) = merkle::split_stored_hash_index(index);
    (tile_key(level, n / tiles::WIDTH), (n % tiles::WIDTH) as usize * 32)
}

/// Where record `seq` is stored: its database value or the pack file, and the record's byte range
/// there.
fn record_location(dir: &Path, seq: u64) -> (Place, std::ops::Range<usize>) {
    let s = Store::open(&store_path(dir), false).unwrap();
    let size = s.head().unwrap().size;
    match packs::location(&s, seq, size).unwrap().unwrap() {
        packs::Location::Own { key, len } => (Place::Key(key.to_vec()), 0..len),
        packs::Location::Packed { file, at, len } => (Place::File(file), at as usize..at as usize + len),
    }
}

/// Rewrites record `seq`'s bytes where they are stored, in the pack file or under its own key.
fn rewrite_record(dir: &Path, seq: u64, f: impl Fn(&mut [u8])) {
    let (place, range) = record_location(dir, seq);
    rewrite_place(dir, &place, &|v| f(&mut v[range.clone()]));
}

fn value_len(dir: &Path, key: &[u8]) -> usize {
    let s = Store::open(&store_path(dir), false).unwrap();
    let v = s.get(key).unwrap().unwrap();
    v.len()
}

#[test]
fn every_flipped_byte_is_detected_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let ok = relic(d, &["verify"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout_text().contains("3 checkpoints"), "{}", ok.stdout_text());

    // Every byte of one record in the middle, of record 0 (both in the pack), and of the last
    // record (under its own key).
    for seq in [17, 0, RECORDS] {
        let (place, range) = record_location(d, seq);
        for at in range {
            let (code, err) = flip_and_verify(d, &place, at);
            assert_eq!(code, 1, "record {seq} byte {at}: not detected");
            assert!(err.contains(&format!("verification failed: record {seq}: ")), "record {seq} byte {at}: {err}");
            assert_eq!(err.lines().count(), 1, "one line per failure: {err}");
        }
    }
    // One byte of every other record.
    for seq in 1..RECORDS {
        let (place, range) = record_location(d, seq);
        let (code, err) = flip_and_verify(d, &place, range.start + 30 + seq as usize);
        assert_eq!(code, 1);
        assert!(err.contains(&format!("record {seq}: ")), "record {seq}: {err}");
    }
    // Every byte of the pack's first and last length prefixes: the pack no longer splits into its
    // records, or splits into records that do not decode.
    let (pack, last) = record_location(d, 63);
    for at in (0..4).chain(last.start - 4..last.start) {
        let (code, err) = flip_and_verify(d, &pack, at);
        assert_eq!(code, 1, "pack length byte {at}: not detected");
        assert!(err.contains("record pack 0 (records 0 to 63) is malformed") || err.contains("verification failed: record "), "pack byte {at}: {err}");
        assert_eq!(err.lines().count(), 1, "one line per failure: {err}");
    }
    // Every byte of a few tree hashes (leaf, interior, the last), one byte of every other one.
    let count = merkle::stored_hash_count(RECORDS + 1);
    for index in 0..count {
        let bytes: Vec<usize> = if [0, 2, 37, count - 1].contains(&index) { (0..32).collect() } else { vec![(index % 32) as usize] };
        for at in bytes {
            let (key, offset) = hash_location(index);
            let (code, err) = flip_and_verify(d, &Place::Key(key.to_vec()), offset + at);
            assert_eq!(code, 1, "tree hash {index} byte {at}: not detected");
            assert!(err.contains(&format!("tree hash {index} ")), "tree hash {index} byte {at}: {err}");
        }
    }
    // Every byte of one checkpoint note, every fifth byte of the others.
    for size in CHECKPOINTS {
        let stride = if size == 25 { 1 } else { 5 };
        for at in (0..value_len(d, &checkpoint_key(size))).step_by(stride) {
            let (code, err) = flip_and_verify(d, &key(&checkpoint_key(size)), at);
            assert_eq!(code, 1, "checkpoint {size} byte {at}: not detected");
            assert!(err.contains(&format!("checkpoint at size {size}: ")), "checkpoint {size} byte {at}: {err}");
        }
    }
    // The head.
    for at in 0..value_len(d, META_HEAD) {
        let (code, err) = flip_and_verify(d, &key(META_HEAD), at);
        assert_eq!(code, 1, "head byte {at}: not detected");
        assert!(err.contains("head"), "head byte {at}: {err}");
    }
    // Everything restored: the log verifies again.
    assert_eq!(relic(d, &["verify"]).code, 0);
}

/// A tile cut short loses hashes the records need; a tile with an extra hash, or a tile past the
/// last one, holds hashes of records that do not exist. Each is named by the first hash concerned.
#[test]
fn tiles_that_are_cut_short_or_extended_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let size = RECORDS + 1;
    let key = tile_key(0, 0);
    let original = Store::open(&store_path(d), false).unwrap().get(&key).unwrap().unwrap().to_vec();
    assert_eq!(original.len() as u64, size * 32, "one level-0 tile holds every leaf hash");
    let cases: [(Vec<u8>, Option<[u8; 10]>, String); 3] = [
        (original[..original.len() - 32].to_vec(), None, format!("tree hash {} ", merkle::stored_hash_index(0, size - 1))),
        ([&original[..], &[9u8; 32]].concat(), None, format!("tree hash {} ", merkle::stored_hash_index(0, size))),
        (original.clone(), Some(tile_key(2, 1)), format!("tree hash {} ", merkle::stored_hash_index(2, size >> 2))),
    ];
    for (value, extra, named) in cases {
        let s = Store::open(&store_path(d), false).unwrap();
        s.raw_put(&key, &value).unwrap();
        if let Some(k) = extra {
            s.raw_put(&k, &[1u8; 32]).unwrap();
        }
        s.flush().unwrap();
        drop(s);
        let out = relic(d, &["verify"]);
        assert_eq!(out.code, 1, "{named}: not detected");
        assert!(out.stderr.contains(&named), "want {named:?}: {}", out.stderr);
        let s = Store::open(&store_path(d), false).unwrap();
        s.raw_put(&key, &original).unwrap();
        if let Some(k) = extra {
            s.raw_remove(&k).unwrap();
        }
        s.flush().unwrap();
    }
    assert_eq!(relic(d, &["verify"]).code, 0);
}

#[test]
fn removed_and_reordered_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let own_key = |seq| match record_location(d, seq).0 {
        Place::Key(k) => k,
        Place::File(_) => panic!("record {seq} is in the pack file"),
    };
    let (k65, k66) = (own_key(65), own_key(66));
    let s = Store::open(&store_path(d), false).unwrap();
    let (r65, r66) = (s.record_bytes(65).unwrap().unwrap(), s.record_bytes(66).unwrap().unwrap());
    // Swap two records stored under their own keys.
    s.raw_put(&k65, &r66).unwrap();
    s.raw_put(&k66, &r65).unwrap();
    s.flush().unwrap();
    drop(s);
    let out = relic(d, &["verify"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("record 65: carries sequence number 66"), "{}", out.stderr);

    // Remove one.
    let s = Store::open(&store_path(d), false).unwrap();
    s.raw_put(&k65, &r65).unwrap();
    s.raw_remove(&k66).unwrap();
    s.flush().unwrap();
    drop(s);
    let out = relic(d, &["verify"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("record 66: is missing"), "{}", out.stderr);

    // Swap two records inside the pack: they are checked like any other.
    let s = Store::open(&store_path(d), false).unwrap();
    s.raw_put(&k66, &r66).unwrap();
    let mut records: Vec<relic_ledger::store::Bytes> = s.records(0).take(64).map(|r| r.unwrap().1).collect();
    records.swap(5, 6);
    s.pack_file().write(0, &packs::encode(&records)).unwrap();
    s.flush().unwrap();
    drop(s);
    let out = relic(d, &["verify"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("record 5: carries sequence number 6"), "{}", out.stderr);
}

/// An attacker who re-signs nothing but recomputes the whole tree: a record with a bad signature
/// followed by a gap. The bad signature comes first and is the one named, with or without --strict.
#[test]
fn a_bad_signature_is_named_before_a_later_structural_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    rewrite_record(d, 67, |r| {
        let last = r.len() - 1;
        r[last] ^= 1; // inside the signature
    });
    let Place::Key(k68) = record_location(d, 68).0 else { panic!("record 68 is in the pack file") };
    let s = Store::open(&store_path(d), false).unwrap();
    s.raw_remove(&k68).unwrap();
    // Recompute every tree hash over the records as they now are, so only the signature and the
    // gap give the tampering away.
    let mut f = merkle::Frontier::new();
    let mut t = tiles::OpenTiles::default();
    for seq in 0..=RECORDS {
        let Some(b) = s.record_bytes(seq).unwrap() else { continue };
        t.push(&f.push(merkle::leaf_hash(&b)));
    }
    let mut group = relic_ledger::store::Group::new();
    t.write(&mut group);
    relic_ledger::store::LogStore::commit(&s, group).unwrap();
    s.flush().unwrap();
    drop(s);
    for args in [&["verify"][..], &["verify", "--strict"]] {
        let out = relic(d, args);
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("record 67: signature does not verify"), "{args:?}: {}", out.stderr);
    }
}

/// Rewrites the value under `key` in the store of the ledger in `dir`.
fn rewrite(dir: &Path, key: &[u8], f: impl Fn(&mut Vec<u8>)) {
    let s = Store::open(&store_path(dir), false).unwrap();
    let mut v = s.get(key).unwrap().unwrap().to_vec();
    f(&mut v);
    s.raw_put(key, &v).unwrap();
}

fn verify_from(dir: &Path, resume: Option<&relic_ledger::verify::Resume>) -> Result<relic_ledger::verify::Report, relic_ledger::verify::VerifyError> {
    let opts = relic_ledger::verify::Options { resume, ..Default::default() };
    relic_ledger::verify::verify_dir(dir, &opts, &mut |_, _| {}).unwrap()
}

/// A verification resumed from a saved position reads only the records after it, reaches the same
/// result as a full one, and still catches what changed after the position; a log rewritten at the
/// position is refused; only a full verification sees a record altered behind the position with
/// its tree hashes left alone.
#[test]
fn a_resumed_verification_checks_what_is_new_and_that_the_log_still_ends_where_it_was_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let first = verify_from(d, None).unwrap();
    assert_eq!((first.resumed_from, first.size), (0, RECORDS + 1));
    let saved = relic_ledger::verify::Resume::decode(&first.resume.encode()).unwrap();
    assert_eq!(saved, first.resume);

    let l = Ledger::open(d, relic_ledger::policy::unchecked()).unwrap();
    for i in 0..30 {
        l.append_blocking(draft(&format!("acme/app@w{i}"), serde_json::json!({"w": i}))).unwrap();
    }
    l.checkpoint(None).unwrap();
    l.close();
    let full = verify_from(d, None).unwrap();
    let resumed = verify_from(d, Some(&saved)).unwrap();
    assert_eq!((resumed.resumed_from, resumed.size, resumed.root), (RECORDS + 1, full.size, full.root));
    assert_eq!((resumed.checkpoints, resumed.keys.clone()), (full.checkpoints, full.keys.clone()));
    assert_eq!(resumed.resume, full.resume);

    // A record after the position: found, and named.
    let after = RECORDS + 5;
    rewrite_record(d, after, |v| v[20] ^= 1);
    let err = verify_from(d, Some(&saved)).unwrap_err().to_string();
    assert!(err.starts_with(&format!("record {after}:")), "{err}");
    rewrite_record(d, after, |v| v[20] ^= 1);

    // The last record before the position, or a tree hash under it: the log no longer ends where
    // it was verified.
    rewrite_record(d, RECORDS, |v| v[20] ^= 1);
    let err = verify_from(d, Some(&saved)).unwrap_err().to_string();
    assert!(err.contains("saved verification position") && err.contains(&format!("record {RECORDS}")), "{err}");
    rewrite_record(d, RECORDS, |v| v[20] ^= 1);
    // The first subtree of the tree at the position (its largest power of two): part of its head.
    let (top, at) = hash_location(merkle::stored_hash_index((RECORDS + 1).ilog2(), 0));
    rewrite(d, &top, |v| v[at] ^= 1);
    let err = verify_from(d, Some(&saved)).unwrap_err().to_string();
    assert!(err.contains("saved verification position") && err.contains("another root"), "{err}");
    rewrite(d, &top, |v| v[at] ^= 1);

    // A record well behind the position, its tree hashes untouched: invisible to the resumed
    // verification (it reads nothing there), found by a full one.
    rewrite_record(d, 10, |v| v[20] ^= 1);
    assert!(verify_from(d, Some(&saved)).is_ok());
    let err = verify_from(d, None).unwrap_err().to_string();
    assert!(err.starts_with("record 10:"), "{err}");
    rewrite_record(d, 10, |v| v[20] ^= 1);

    // A position saved from another log is refused.
    let other = tempfile::tempdir().unwrap();
    build(other.path());
    let foreign = verify_from(other.path(), None).unwrap().resume;
    let err = verify_from(d, Some(&foreign)).unwrap_err().to_string();
    assert!(err.contains("saved verification position"), "{err}");
}
