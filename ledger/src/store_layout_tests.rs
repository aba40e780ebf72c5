//! The ledger over the store's format-4 files (`schemas/store-v4.md`): appends in groups of every
//! size read back exactly, from any position, across reopenings; readers see the prefix their
//! opening acknowledged; stores of the older formats are converted by `relic migrate` only, also
//! after an interrupted conversion.

use crate::store::{Mode, Store};
use crate::test_support::numbered_draft;
use crate::{merkle, Ledger, Record};
use relic_store::legacy;

/// Appends in groups of every size, across reopenings, read back exactly what was appended, from
/// any starting point, one commit entry per group.
#[test]
fn appends_read_back_across_groups_and_reopenings() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::init(dir.path(), "groups.test/log", crate::policy::unchecked()).unwrap();
    let mut n = 1u64;
    let mut groups = 1;
    for (round, group) in [1usize, 62, 1, 64, 130, 3, 63, 200].into_iter().enumerate() {
        if group == 1 {
            l.append_blocking(numbered_draft(n as usize)).unwrap();
        } else {
            l.append_all_blocking((0..group).map(|i| numbered_draft(n as usize + i)).collect()).unwrap();
        }
        n += group as u64;
        groups += 1;
        if round % 3 == 2 {
            l.close();
            l = Ledger::open(dir.path(), crate::policy::unchecked()).unwrap();
        }
        let s = l.store();
        assert_eq!((s.size(), s.entries()), (n, groups), "one commit entry per group");
        let all: Vec<(u64, Vec<u8>)> = s.records(0).map(|r| r.unwrap()).collect();
        assert_eq!(all.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
        for (seq, bytes) in &all {
            assert_eq!(Record::decode(bytes).unwrap().seq, *seq);
            assert_eq!(&s.record_bytes(*seq).unwrap().unwrap(), bytes);
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

/// A reader opened while a writer appends reads exactly the records acknowledged when it opened,
/// the tree head of that size, and no more; it holds no lock, so the writer never waits for it.
#[test]
fn a_reader_sees_the_prefix_acknowledged_when_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "prefix.test/log", crate::policy::unchecked()).unwrap();
    l.append_all_blocking((0..40).map(numbered_draft).collect()).unwrap();
    let r = Ledger::open_read_only(dir.path()).unwrap();
    let root = r.root(41).unwrap();
    l.append_all_blocking((40..90).map(numbered_draft).collect()).unwrap();
    assert_eq!(r.size(), 41);
    assert_eq!(r.records(0).count(), 41);
    assert_eq!(merkle::tree_hash(41, r.store()).unwrap(), root);
    assert!(r.store().record_bytes(41).unwrap().is_none(), "nothing past the prefix");
    // A second writer is refused (after waiting) while the first holds the lock; readers are not.
    let refused = Store::open(dir.path(), Mode::Write).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("being written by another relic process"), "{refused}");
    assert_eq!(Ledger::open_read_only(dir.path()).unwrap().size(), 91);
}

/// Formats 1 and 2 are converted by `migrate`, never by opening them, also after a conversion was
/// interrupted; the converted log verifies and holds the same records and tree.
#[test]
fn formats_1_to_3_are_converted_also_after_an_interrupted_conversion() {
    for version in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "upgrade.test/log", crate::policy::unchecked()).unwrap();
        l.append_all_blocking((0..700).map(numbered_draft).collect()).unwrap();
        l.checkpoint(None).unwrap();
        let (root, records): (_, Vec<_>) = (l.root(701).unwrap(), l.records(0).map(|r| r.unwrap()).collect());
        l.close();
        legacy::testing::log_to_v3(dir.path());
        {
            let old = legacy::Store::open(&dir.path().join("store"), false).unwrap();
            match version {
                1 => {
                    legacy::testing::downgrade(&old);
                    // Interrupted in its first step: tiles written, marker still format 1.
                    legacy::testing::convert_v1_tiles_only(&old);
                }
                2 => legacy::testing::unpack(&old),
                _ => {}
            }
        }
        let refused = Ledger::open_read_only(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("run `relic migrate`"), "{refused}");
        // Interrupted while copying: a half-written copy is started again.
        std::fs::create_dir(dir.path().join("log.migrating")).unwrap();
        let from = relic_store::migrate::migrate(dir.path()).unwrap();
        assert_eq!(from.last().map(String::as_str), Some("relic-store/v3"), "format {version}: {from:?}");
        let l = Ledger::open_read_only(dir.path()).unwrap();
        assert_eq!(l.root(701).unwrap(), root);
        assert_eq!(l.records(0).map(|r| r.unwrap()).collect::<Vec<_>>(), records);
        assert_eq!(l.store().checkpoints(0).len(), 1);
        let report = crate::verify::verify_dir(dir.path(), &Default::default(), &mut |_, _| {}).unwrap().unwrap();
        assert_eq!((report.size, report.checkpoints), (701, 1));
        assert!(relic_store::migrate::migrate(dir.path()).unwrap().is_empty());
    }
}
