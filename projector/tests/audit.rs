//! Mutations by actor over a period: the block counts kept by the audit trail, plus a re-read of the
//! blocks the period cuts, give exactly what counting every record in the period gives.

use relic_ledger::{Actor, Draft, Ledger, Record};
use relic_projector::audit::{is_counted, project_of, BLOCK};
use relic_projector::views::{snapshot, AsOf};

#[test]
fn period_counts_equal_a_count_of_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::init(dir.path(), "audit.test/log", relic_ledger::policy::unchecked()).unwrap();
    let n = 30 * 300; // more than two blocks
    let actors = [("ann", "owner"), ("bob", "developer"), ("cy", "maintainer"), ("bob", "maintainer")];
    for group in 0..n / 300 {
        let drafts = (0..300)
            .map(|i| {
                let k = group * 300 + i;
                let (id, role) = actors[(k % 7 % 4) as usize];
                let project = if k % 3 == 0 { "q" } else { "p" };
                Draft {
                    actor: Actor { id: id.into(), role: role.into() },
                    kind: "release.deleted".into(),
                    subject: format!("{project}@v{k}"),
                    payload: format!("{{\"project\":\"{project}\",\"tag_name\":\"v{k}\"}}").into_bytes(),
                    schema_version: 1,
                }
            })
            .collect();
        l.append_all_blocking(drafts).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let records: Vec<Record> = l.records(0).map(|r| Record::decode(&r.unwrap().1).unwrap()).collect();
    let snap = snapshot(&l, AsOf::Now).unwrap();
    assert!(snap.audit.blocks.len() >= 3);

    let brute = |project: Option<&str>, from: i64, to: i64| {
        let mut out = std::collections::BTreeMap::new();
        for r in records.iter().filter(|r| is_counted(r) && (from..=to).contains(&r.time_us) && project.is_none_or(|p| p == project_of(&r.subject))) {
            *out.entry((r.actor.id.clone(), r.actor.role.clone())).or_insert(0u64) += 1;
        }
        out
    };
    let t = |seq: u64| records[seq as usize].time_us;
    let periods = [(0, n), (100, BLOCK + 5), (BLOCK - 1, BLOCK), (BLOCK + 17, 2 * BLOCK + 300), (2 * BLOCK, 2 * BLOCK), (1, n)];
    for (a, b) in periods {
        for project in [None, Some("p"), Some("q")] {
            let (from, to) = (chrono::DateTime::from_timestamp_micros(t(a)), chrono::DateTime::from_timestamp_micros(t(b)));
            let got = snap.audit.mutations_by_actor(&l, snap.size, project, from, to).unwrap();
            assert_eq!(got, brute(project, t(a), t(b)), "records {a}..={b}, project {project:?}");
        }
    }
    // No period at all: every counted record.
    let all = snap.audit.mutations_by_actor(&l, snap.size, None, None, None).unwrap();
    assert_eq!(all.values().sum::<u64>(), n);
}
