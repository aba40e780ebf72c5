//! The chain rules (`relic_formats::chain`) over logs written by a real ledger: in order across a
//! key rotation, resumed, and every kind of wrong record named by its position.

use crate::chain::{Chain, ChainError, Step};
use crate::record::Actor;
use crate::test_support::numbered_draft;
use crate::Ledger;

fn log(n: usize) -> (tempfile::TempDir, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "chain.test/log", crate::policy::unchecked()).unwrap();
    for i in 0..n {
        let d = numbered_draft(i);
        if i == n / 2 {
            l.rotate_key_blocking(Actor { id: "o".into(), role: "owner".into() }).unwrap();
        }
        l.append_blocking(d).unwrap();
    }
    let records = l.records(0).map(|r| r.unwrap().1).collect();
    (dir, records)
}

#[test]
fn accepts_a_log_in_order_across_a_rotation_and_resumes() {
    let (_d, recs) = log(6);
    let mut c = Chain::new(None);
    for (i, b) in recs.iter().enumerate() {
        assert!(matches!(c.accept(b).unwrap(), Step::Next { .. }), "record {i}");
    }
    assert_eq!(c.size(), recs.len() as u64);
    assert_eq!(c.keys().len(), 2);
    assert!(matches!(c.accept(&recs[2]).unwrap(), Step::Earlier(r) if r.seq == 2));
    let mut again = Chain::resume(c.state().unwrap().clone(), None).unwrap();
    assert_eq!(again.size(), c.size());
    assert!(matches!(again.accept(&recs[3]).unwrap(), Step::Earlier(_)));
}

#[test]
fn names_the_position_of_what_is_wrong_and_does_not_move() {
    let (_d, recs) = log(4);
    let mut c = Chain::new(None);
    assert_eq!(c.accept(&recs[1]).unwrap_err().seq, 0, "record 0 missing");
    c.accept(&recs[0]).unwrap();
    c.accept(&recs[1]).unwrap();
    let e = c.accept(&recs[3]).unwrap_err();
    assert_eq!((e.seq, e.to_string().contains("missing")), (2, true), "{e}");
    let mut forged = recs[2].clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(c.accept(&forged).unwrap_err(), ChainError { seq: 2, reason: "signature does not verify".into() });
    let e = c.accept(&forged[..10]).unwrap_err();
    assert!(e.seq == 2 && e.reason.contains("malformed"), "{e}");
    assert_eq!(c.size(), 2);
    c.accept(&recs[2]).unwrap();
}

#[test]
fn a_pinned_key_must_be_the_one_record_0_introduces() {
    let (_d, recs) = log(1);
    let (_e, other) = log(1);
    let mut c = Chain::new(None);
    c.accept(&other[0]).unwrap();
    let foreign = c.keys()[0].key.clone();
    let mut pinned = Chain::new(Some(foreign));
    assert!(pinned.accept(&recs[0]).unwrap_err().reason.contains("pinned key"));
}

