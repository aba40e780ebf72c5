//! The ledger API under concurrency, and proofs served from the store for every (leaf, size) and
//! (old, new) pair of a 70-record log, checked offline against signed checkpoints.

use std::collections::BTreeSet;
use std::sync::Arc;

use relic_ledger::checkpoint::{verify_consistency_offline, Checkpoint, InclusionBundle};
use relic_ledger::{merkle, verify, Ledger};
use relic_tests::draft;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_get_one_total_order_in_few_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::init(dir.path(), "concurrency.test/log", relic_ledger::policy::unchecked()).unwrap());
    let groups_before = ledger.groups_committed();
    let (tasks, per_task) = (64u64, 40u64);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let l = ledger.clone();
        handles.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..per_task {
                let r = l.append(draft("acme/app@v1", serde_json::json!({"task": t, "n": n}))).await.unwrap();
                seqs.push(r.seq);
            }
            seqs
        }));
    }
    let mut all = BTreeSet::new();
    for (t, h) in handles.into_iter().enumerate() {
        let seqs = h.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "task {t}'s appends were reordered");
        for s in seqs {
            assert!(all.insert(s), "sequence number {s} given twice");
        }
    }
    let total = tasks * per_task;
    assert_eq!(all, (1..=total).collect::<BTreeSet<_>>(), "sequence numbers are not exactly 1..={total}");
    assert_eq!(ledger.size(), total + 1);
    let groups = ledger.groups_committed() - groups_before;
    assert!(groups < total / 2, "{groups} flushes for {total} appends: appends were not grouped");
    // Each record is the one its receipt named.
    for seq in [1, total / 2, total] {
        let p = ledger.record(seq).unwrap().payload_json();
        assert!(p["task"].is_u64() && p["n"].is_u64());
    }
    let report = verify::verify(ledger.store(), &verify::Options::default(), &mut |_, _| {}).unwrap();
    assert_eq!(report.size, total + 1);
}

#[test]
fn appends_survive_reopen_and_continue_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "reopen.test/log", relic_ledger::policy::unchecked()).unwrap();
    for i in 0..10 {
        l.append_blocking(draft("acme/app@v1", serde_json::json!({"i": i}))).unwrap();
    }
    let root = l.root(11).unwrap();
    l.close();
    let l = Ledger::open(dir.path(), relic_ledger::policy::unchecked()).unwrap();
    assert_eq!(l.size(), 11);
    assert_eq!(l.root(11).unwrap(), root);
    let r = l.append_blocking(draft("acme/app@v1", serde_json::json!({"i": 10}))).unwrap();
    assert_eq!(r.seq, 11);
    assert!(r.time_us >= l.record(10).unwrap().time_us, "time went backwards across a reopen");
    verify::verify(l.store(), &verify::Options::default(), &mut |_, _| {}).unwrap();
    // A read-only handle reads but does not append.
    drop(l);
    let ro = Ledger::open_read_only(dir.path()).unwrap();
    assert!(matches!(ro.append_blocking(draft("a@b", serde_json::json!({}))), Err(relic_ledger::Error::ReadOnly)));
}

#[test]
fn every_inclusion_and_consistency_proof_of_a_70_record_log_verifies_offline() {
    const N: u64 = 70;
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "proofs.test/log", relic_ledger::policy::unchecked()).unwrap();
    for i in 1..N {
        l.append_blocking(draft("acme/app@v1", serde_json::json!({"i": i}))).unwrap();
    }
    let keys = vec![l.verifier_key().unwrap()];
    let notes: Vec<String> = (0..=N).map(|n| l.checkpoint(Some(n)).unwrap().note).collect();
    let records: Vec<Vec<u8>> = (0..N).map(|s| l.record_bytes(s).unwrap()).collect();
    for n in 1..=N {
        let (cp, _) = Checkpoint::open(&notes[n as usize], &keys).unwrap();
        assert_eq!(cp.size, n);
        for i in 0..n {
            let bundle = l.prove_inclusion(i, Some(n)).unwrap();
            assert_eq!(bundle.checkpoint, notes[n as usize], "the issued checkpoint is reused, not re-signed");
            let parsed = InclusionBundle::parse(&bundle.to_text()).unwrap();
            parsed.verify(&records[i as usize], &keys).unwrap();
            // Altered proofs fail: another record, another index, a changed hash.
            assert!(parsed.verify(&records[((i + 1) % n) as usize], &keys).is_err() || n == 1);
            let mut wrong_index = parsed.clone();
            wrong_index.index = (i + 1) % n;
            assert!(n == 1 || wrong_index.verify(&records[i as usize], &keys).is_err());
            if let Some(h) = parsed.proof.first() {
                let mut altered = parsed.clone();
                altered.proof[0] = merkle::node_hash(h, h);
                assert!(altered.verify(&records[i as usize], &keys).is_err());
            }
        }
        for m in 0..=n {
            let proof = l.prove_consistency(m, n).unwrap();
            verify_consistency_offline(&notes[m as usize], &notes[n as usize], &proof, &keys)
                .unwrap_or_else(|e| panic!("consistency {m} -> {n}: {e}"));
            if m > 0 && m < n {
                let mut altered = proof.clone();
                altered[0][0] ^= 1;
                assert!(verify_consistency_offline(&notes[m as usize], &notes[n as usize], &altered, &keys).is_err());
                assert!(verify_consistency_offline(&notes[n as usize], &notes[m as usize], &proof, &keys).is_err());
            }
        }
    }
    // Every checkpoint issued is kept, and all of them verify against the log.
    let report = verify::verify(l.store(), &verify::Options::default(), &mut |_, _| {}).unwrap();
    assert_eq!(report.checkpoints, N + 1);
}
