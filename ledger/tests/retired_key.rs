//! A retired signing key alone cannot forge a log (`schemas/record-v1.md` §Which key signs a
//! checkpoint, §Verification steps 14, 18 and 20).
//!
//! The attack: someone holding only the old key K1 writes record 0 (K1), a `key.rotated` K1 → K2
//! (which only K1 signs, and which names the public K2) and a checkpoint signed by K1. Before, that
//! passed a verifier pinning only the current key K2. Now K1 may not sign a checkpoint of a tree
//! that holds its own retirement, and a log that ends with a rotation needs a checkpoint of the
//! whole log signed by the new key, which the forger does not have.


use relic_ledger::checkpoint::Checkpoint;
use relic_ledger::mirror::Mirror;
use relic_ledger::note::{self, VerifierKey};
use relic_ledger::verify::{self, Options, VerifyError};
use relic_ledger::{Actor, Ledger};

const ORIGIN: &str = "forge.test/log";

fn verify(dir: &std::path::Path, trusted: Option<&str>, pinned: &[VerifierKey]) -> Result<verify::Report, VerifyError> {
    verify::verify_dir(dir, &Options { trusted, pinned, ..Options::default() }, &mut |_, _| ()).expect("the store opens")
}

#[test]
fn a_retired_key_alone_cannot_forge_a_log() {
    let t = tempfile::tempdir().expect("tempdir");
    let honest = t.path().join("honest");
    let l = Ledger::init(&honest, ORIGIN, relic_ledger::policy::unchecked()).expect("init");
    let k1_public = l.keys()[0].key.clone();
    // What the forger holds: K1's private key (a copy of an old key file).
    let k1 = relic_ledger::keys::read_key(&honest, &k1_public.key_id).expect("K1");
    let (_, k2) = l.rotate_key_blocking(Actor { id: "ops".into(), role: "system".into() }).expect("rotate");
    assert_eq!(l.size(), 2);
    // The new key vouched for the tree holding its rotation at once.
    let honest_cp = l.checkpoint(Some(2)).expect("checkpoint").note;
    assert!(honest_cp.contains(&format!("— {ORIGIN} ")));
    let records: Vec<Vec<u8>> = (0..2).map(|s| l.record_bytes(s).expect("record")).collect();
    let root = l.root(2).expect("root");
    drop(l);
    assert!(verify(&honest, None, &[k2.clone()]).is_ok(), "the honest log verifies pinned to its current key");

    // The forgery: the same two records (K1 signed both) and a checkpoint of them signed by K1.
    let forged_cp = note::sign(&Checkpoint::new(ORIGIN, 2, root).body(), &k1).expect("sign");
    let err = verify(&honest, Some(&forged_cp), &[k2.clone()]).expect_err("a trusted checkpoint by the retired key");
    assert!(err.to_string().contains("retired at size 2"), "{err}");
    // A checkpoint of size 1 (before the rotation) is K1's to sign.
    let early = note::sign(&Checkpoint::new(ORIGIN, 1, relic_ledger::merkle::leaf_hash(&records[0])).body(), &k1).expect("sign");
    assert!(verify(&honest, Some(&early), &[k2.clone()]).is_ok());

    // The forger's own log, built as a mirror of the forged records: its K1 checkpoint is refused,
    // and without a checkpoint by K2 the log does not verify pinned to K2.
    let forged = t.path().join("forged");
    let mut m = Mirror::open(&forged, None).expect("mirror");
    m.import(records.iter().map(Vec::as_slice)).expect("the records themselves are well formed");
    let refused = m.import_checkpoint(&forged_cp).expect_err("a checkpoint by the retired key");
    assert!(refused.to_string().contains("retired at size 2"), "{refused}");
    drop(m);
    let err = verify(&forged, None, &[k2.clone()]).expect_err("a log ending with a rotation its new key never signed for");
    assert!(matches!(&err, VerifyError::Checkpoint { size: 2, reason } if reason.contains("has signed nothing")), "{err}");
    let err = verify(&forged, Some(&forged_cp), &[k2.clone()]).expect_err("nor with the forged checkpoint as trusted");
    assert!(err.to_string().contains("retired at size 2"), "{err}");

    // Given the honest checkpoint (which only K2's holder can make), the same records verify.
    let mut m = Mirror::open(&forged, None).expect("mirror");
    m.import_checkpoint(&honest_cp).expect("K2's checkpoint");
    drop(m);
    assert!(verify(&forged, None, &[k2]).is_ok());
}
