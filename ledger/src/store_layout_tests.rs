//! The store's layout as the ledger writes it (`schemas/store-v3.md`): packs and single entries
//! across groups of every size and reopenings, damaged and cut packs named, an unreferenced tail
//! cut off, and stores of formats 1 and 2 converted when opened, also after an interrupted
//! conversion; every converted store verifies.

use crate::packs::{self, decode_index, location, pack_key, packed, Location, PREFIX, WIDTH};
use crate::store::{Store, FORMAT, FORMAT_V2, META_FORMAT};
use crate::test_support::numbered_draft;
use crate::{merkle, tiles, Ledger, Record};
use relic_store::{testing, Bytes};

/// What a reader's check of the format does to a store: nothing. It accepts the current format
/// (leftovers of an interrupted conversion included, never read) and refuses an older one.
fn reader_changes_nothing(s: &Store) {
    let counts = |s: &Store| [b'h', b'r', b'p', b't'].map(|p| testing::count(s, p));
    let (before, file) = (counts(s), s.pack_file().len().unwrap());
    match s.check_format() {
        Ok(()) | Err(relic_store::Error::Migrate { .. }) => {}
        Err(e) => panic!("{e}"),
    }
    assert_eq!((counts(s), s.pack_file().len().unwrap()), (before, file), "a reader changed the store");
}


/// A ledger of 701 records: 10 complete packs and 61 records after them.
fn ledger_of_701_records() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "upgrade.test/log", crate::policy::unchecked()).unwrap();
    l.append_all_blocking((0..700).map(numbered_draft).collect()).unwrap();
    (dir, l)
}

/// A format-1 store is converted by `migrate` (never by opening it), also after a conversion was
/// interrupted before or after its switch; the converted store verifies and serves the same tree.
#[test]
fn format_1_is_converted_also_after_an_interrupted_conversion() {
    let (dir, l) = ledger_of_701_records();
    let root = l.checkpoint(None).unwrap().checkpoint.root;
    l.close();
    let path = crate::ledger::store_path(dir.path());
    let (packs_of, loose_of) = (|s: &Store| testing::count(s, packs::PREFIX), |s: &Store| testing::count(s, b'r'));
    let has_h = |s: &Store| testing::count(s, b'h') > 0;

    // Interrupted before the switch: format 1 with some tiles written; converted from the start.
    let s = Store::open(&path, false).unwrap();
    testing::downgrade(&s);
    s.raw_put(&tiles::tile_key(0, 0), &[1u8; 64]).unwrap();
    reader_changes_nothing(&s);
    s.migrate().unwrap();
    s.check_format().unwrap();
    assert_eq!(s.get(META_FORMAT).unwrap().as_deref(), Some(FORMAT));
    assert!(!has_h(&s));
    assert_eq!((packs_of(&s), loose_of(&s)), (10, 61), "converted on to format 3");
    assert_eq!(merkle::tree_hash(701, &s).unwrap(), root);

    // Interrupted after the switch: format 2 with `h` entries left; removed by the next migration.
    testing::downgrade(&s);
    testing::convert_v1_tiles_only(&s);
    s.raw_put(META_FORMAT, FORMAT_V2).unwrap();
    assert_eq!(testing::count(&s, b'h') as u64, merkle::stored_hash_count(701));
    reader_changes_nothing(&s);
    s.migrate().unwrap();
    s.check_format().unwrap();
    assert!(!has_h(&s));
    assert_eq!(merkle::tree_hash(701, &s).unwrap(), root);
    drop(s);

    let report = crate::verify::verify_dir(dir.path(), &Default::default(), &mut |_, _| {}).unwrap().unwrap();
    assert_eq!((report.size, report.root), (701, root));
}

/// A format-2 store is converted to packs by `migrate`, also after a conversion was interrupted
/// before or after its switch; every record reads back the same; a record's own entry whose
/// pack is missing is never removed.
#[test]
fn format_2_is_converted_also_after_an_interrupted_conversion() {
    let (dir, l) = ledger_of_701_records();
    l.close();
    let path = crate::ledger::store_path(dir.path());
    let s = Store::open(&path, false).unwrap();
    let records: Vec<Bytes> = s.records(0).map(|r| r.unwrap().1).collect();
    assert_eq!(records.len(), 701);
    let layout = |s: &Store| {
        let p: Vec<u64> = s.scan(packs::PREFIX, 0).map(|r| r.unwrap().0).collect();
        let r: Vec<u64> = s.scan(b'r', 0).map(|r| r.unwrap().0).collect();
        (p, r)
    };
    let packed = ((0..10).collect::<Vec<u64>>(), (640..701).collect::<Vec<u64>>());
    assert_eq!(layout(&s), packed);
    let reads_back = |s: &Store| {
        let again: Vec<Bytes> = s.records(0).map(|r| r.unwrap().1).collect();
        assert_eq!(again, records);
        for seq in [0, 63, 64, 639, 640, 700] {
            assert_eq!(s.record_bytes(seq).unwrap().unwrap(), records[seq as usize]);
        }
    };

    // Not converted at all, or interrupted before the switch (a pack written, maybe wrongly):
    // converted from the start.
    testing::unpack(&s);
    assert_eq!(layout(&s).0, Vec::<u64>::new());
    s.pack_file().write(0, b"half-written").unwrap();
    s.raw_put(&packs::pack_key(3), &packs::encode_index(0, 12)).unwrap();
    reader_changes_nothing(&s);
    s.migrate().unwrap();
    s.check_format().unwrap();
    assert_eq!(s.get(META_FORMAT).unwrap().as_deref(), Some(FORMAT));
    assert_eq!(layout(&s), packed);
    reads_back(&s);

    // Interrupted after the switch: the packed records' own entries are removed by the next
    // migration, except those of a pack that is missing.
    testing::unpack(&s);
    let mut at = 0u64;
    let mut entries = Vec::new();
    for k in 0..10 {
        let pack = packs::encode(&records[k * 64..(k + 1) * 64]);
        s.pack_file().write(at, &pack).unwrap();
        entries.push(packs::encode_index(at, pack.len() as u32));
        s.raw_put(&packs::pack_key(k as u64), &entries[k]).unwrap();
        at += pack.len() as u64;
    }
    s.raw_put(META_FORMAT, FORMAT).unwrap();
    s.raw_remove(&packs::pack_key(4)).unwrap();
    reader_changes_nothing(&s);
    s.migrate().unwrap();
    reader_changes_nothing(&s);
    let (p, r) = layout(&s);
    assert_eq!(p, [0, 1, 2, 3, 5, 6, 7, 8, 9]);
    assert_eq!(r, (256..320).chain(640..701).collect::<Vec<u64>>());
    let err = s.records(0).map(|r| r.map(|(seq, _)| seq)).enumerate().find(|(i, seq)| seq.as_ref().ok() != Some(&(*i as u64)));
    assert_eq!(err.map(|(i, seq)| (i, seq.unwrap())), Some((256, 320)), "the missing pack shows as a jump");
    s.raw_put(&packs::pack_key(4), &entries[4]).unwrap();
    reader_changes_nothing(&s);
    s.migrate().unwrap();
    s.check_format().unwrap();
    assert_eq!(layout(&s), packed);
    reads_back(&s);
    drop(s);

    let report = crate::verify::verify_dir(dir.path(), &Default::default(), &mut |_, _| {}).unwrap().unwrap();
    assert_eq!(report.size, 701);
}



/// Appends in groups of every size, across reopenings and pack boundaries, keep the layout
/// (packs `0 … ⌊n/64⌋ − 1`, own entries for the rest) and read back exactly what was appended,
/// from any starting point.
#[test]
fn appends_keep_the_layout_across_groups_and_reopenings() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::init(dir.path(), "packs.test/log", crate::policy::unchecked()).unwrap();
    let mut n = 1u64;
    for (round, group) in [1usize, 62, 1, 64, 130, 3, 63, 200].into_iter().enumerate() {
        if group == 1 {
            l.append_blocking(numbered_draft(n as usize)).unwrap();
        } else {
            l.append_all_blocking((0..group).map(|i| numbered_draft(n as usize + i)).collect()).unwrap();
        }
        n += group as u64;
        if round % 3 == 2 {
            l.close();
            l = Ledger::open(dir.path(), crate::policy::unchecked()).unwrap();
        }
        let s = l.store();
        let p: Vec<(u64, Bytes)> = s.scan(PREFIX, 0).map(|r| r.unwrap()).collect();
        let r: Vec<u64> = s.scan(b'r', 0).map(|r| r.unwrap().0).collect();
        assert_eq!(p.iter().map(|(k, _)| *k).collect::<Vec<_>>(), (0..packed(n)).collect::<Vec<_>>(), "after {n} records");
        // Packs lie back to back from offset 0, and the file ends with the last one.
        let mut end = 0;
        for (_, index) in &p {
            let (at, len) = decode_index(index).unwrap();
            assert_eq!(at, end);
            end += len as u64;
        }
        assert_eq!(s.pack_file().len().unwrap(), end);
        assert_eq!(r, (packed(n) * WIDTH..n).collect::<Vec<_>>(), "after {n} records");
        let all: Vec<(u64, Bytes)> = s.records(0).map(|r| r.unwrap()).collect();
        assert_eq!(all.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
        for (seq, bytes) in &all {
            assert_eq!(Record::decode(bytes).unwrap().seq, *seq);
            assert_eq!(&s.record_bytes(*seq).unwrap().unwrap(), bytes);
            match location(s, *seq, n).unwrap().unwrap() {
                Location::Own { key, len } => {
                    assert!(*seq >= packed(n) * WIDTH);
                    assert_eq!(&s.get(&key).unwrap().unwrap()[..], &bytes[..]);
                    assert_eq!(len, bytes.len());
                }
                Location::Packed { file, at, len } => {
                    assert!(*seq < packed(n) * WIDTH);
                    let f = std::fs::read(file).unwrap();
                    assert_eq!(&f[at as usize..at as usize + len], &bytes[..]);
                }
            }
        }
        for from in [0, 1, 63, 64, 65, n - 1, n] {
            let tail: Vec<u64> = s.records(from).map(|r| r.unwrap().0).collect();
            assert_eq!(tail, (from..n).collect::<Vec<_>>());
        }
    }
    l.close();
    let report = crate::verify::verify_dir(dir.path(), &Default::default(), &mut |_, _| {}).unwrap().unwrap();
    assert_eq!(report.size, n);
}

/// A damaged pack is reported by number, with the records it should hold, by every reader; a
/// pack file cut short likewise.
#[test]
fn a_damaged_pack_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "packs.test/log", crate::policy::unchecked()).unwrap();
    l.append_all_blocking((1..200).map(numbered_draft).collect()).unwrap();
    let s = l.store();
    let (at, len) = decode_index(&s.get(&pack_key(1)).unwrap().unwrap()).unwrap();
    let original = s.pack_file().read(1, at, len).unwrap();
    let mut v = original.clone();
    v[3] ^= 0x40; // the first record's length now runs past the pack
    s.pack_file().write(at, &v).unwrap();
    let want = "record pack 1 (records 64 to 127) is malformed";
    let items: Vec<_> = s.records(10).collect();
    assert_eq!(items.len(), 55, "records 10 to 63, then the error, then nothing");
    assert!(items[54].as_ref().unwrap_err().to_string().contains(want));
    assert!(s.record_bytes(100).unwrap_err().to_string().contains(want));
    assert_eq!(s.record_bytes(5).unwrap().unwrap(), l.store().records(5).next().unwrap().unwrap().1);
    s.pack_file().write(at, &original).unwrap();
    assert_eq!(s.records(0).count(), 200);

    // Cut short: pack 2 (the last) is missing its end.
    let (at2, len2) = decode_index(&s.get(&pack_key(2)).unwrap().unwrap()).unwrap();
    std::fs::OpenOptions::new().write(true).open(s.pack_file().path()).unwrap().set_len(at2 + len2 as u64 - 1).unwrap();
    let err = s.records(0).find_map(|r| r.err()).unwrap().to_string();
    assert!(err.contains("record pack 2 (records 128 to 191) is malformed: the pack file ends before"), "{err}");
}

/// Bytes past the last pack that the database names (a write that was not followed by its batch) are
/// cut off when the store is opened, and the next pack is written where they were.
#[test]
fn an_unreferenced_tail_of_the_pack_file_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "packs.test/log", crate::policy::unchecked()).unwrap();
    l.append_all_blocking((1..100).map(numbered_draft).collect()).unwrap();
    let path = l.store().pack_file().path().to_path_buf();
    let end = l.store().pack_file().len().unwrap();
    l.close();
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, &[7u8; 1000]).unwrap();
    drop(f);
    let l = Ledger::open(dir.path(), crate::policy::unchecked()).unwrap();
    assert_eq!(l.store().pack_file().len().unwrap(), end);
    l.append_all_blocking((100..200).map(numbered_draft).collect()).unwrap();
    l.close();
    let report = crate::verify::verify_dir(dir.path(), &Default::default(), &mut |_, _| {}).unwrap().unwrap();
    assert_eq!(report.size, 200);
}
