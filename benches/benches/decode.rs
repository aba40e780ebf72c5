//! Reading one payload back into its typed event (schema check included), in place and through a
//! `serde_json::Value`, next to parsing the same bytes into a `Value` and nothing else.
//!
//! `cargo bench -p relic-benches --bench decode`
//!
//! The records: the projections benchmark's mix (a release created with a link, updated, given a
//! second link; every tenth deleted; an access refusal now and then), 1,000 of them, decoded from
//! memory on one thread, so that the figures are per payload and free of storage.
//!
//! - `in_place_1000`: `relic_domain::state::decode`, which every replay uses: the payload parsed
//!   into a tree that borrows from its bytes, checked against its schema through jsonschema's
//!   custom-representation traits, decoded to the typed event from that tree.
//! - `value_path_1000`: the same through a `serde_json::Value` (parse, schema check, upcast,
//!   `from_value`): what `decode` did before the in-place path, and still does for older versions
//!   and for the error text of a payload that fails.
//! - `value_parse_only_1000`: `serde_json::from_slice::<Value>` alone, the first step of the
//!   `Value` path.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use relic_domain::event::*;
use relic_ledger::{Actor, Record};

const N: u64 = 1000;

fn record(seq: u64, e: &Event) -> Record {
    Record {
        seq,
        time_us: 1_780_000_000_000_000 + seq as i64,
        schema_version: relic_domain::catalogue::current_version(e.kind()).expect("kind"),
        key_id: [0; 4],
        prev: [0; 32],
        actor: Actor { id: "bob".into(), role: "maintainer".into() },
        kind: e.kind().into(),
        subject: e.subject(),
        payload: relic_ledger::record::canonical_json(&e.payload()),
        signature: [0; 64],
    }
}

/// The projections benchmark's mix of events, as records.
fn records() -> Vec<Record> {
    let p = || "acme/payments".to_string();
    let ts = |i: u64| format!("2026-{:02}-{:02}T10:00:00Z", 1 + (i / 28) % 12, 1 + i % 28);
    let link = |id: u64, i: u64| Link { id, name: format!("pkg-{id}"), url: format!("https://dl.example/{i}/{id}"), direct_asset_path: Some(format!("/bin/pkg-{id}")), link_type: LinkType::Package };
    let mut out = Vec::new();
    for i in 0.. {
        let tag = format!("v{}.{}.{}", i / 10_000, (i / 100) % 100, i % 100);
        let mut events = vec![
            Event::ReleaseCreated(ReleaseCreated {
                project: p(), id: i + 1, tag_name: tag.clone(), name: tag.clone(), description: Some("A release of the payments service with refunds and FX fixes.".into()),
                git_ref: Some("main".into()), commit: None, created_at: ts(i), released_at: ts(i), milestones: vec![], links: vec![link(2 * i + 1, i)], report_artifacts: vec![],
            }),
            Event::ReleaseUpdated(ReleaseUpdated { project: p(), tag_name: tag.clone(), description: Some("Updated notes.".into()), ..Default::default() }),
            Event::LinkAdded(LinkAdded { project: p(), tag_name: tag.clone(), link: link(2 * i + 2, i) }),
        ];
        if i % 10 == 9 {
            events.push(Event::ReleaseDeleted(ReleaseDeleted { project: p(), tag_name: tag.clone() }));
        }
        if i % 100 == 0 {
            events.push(Event::AccessDenied(AccessDenied { project: p(), command: "release delete".into(), target: tag, reason: "Access Denied".into(), actor_role: "guest".into(), required_role: Role::Developer }));
        }
        for e in events {
            out.push(record(out.len() as u64 + 1, &e));
            if out.len() as u64 == N {
                return out;
            }
        }
    }
    out
}

/// `state::decode`'s `Value` path, from its public parts.
fn value_path(rec: &Record) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_slice(&rec.payload).ok()?;
    let v = relic_domain::schema::upcast(&rec.kind, rec.schema_version, v).ok()?;
    Event::from_payload(&rec.kind, v)?.ok()
}

fn decode_bench(c: &mut Criterion) {
    let recs = records();
    // No record here refers to a text kept beside the log.
    let texts = relic_ledger::text_store::TextStore::new(std::path::Path::new("/nonexistent"));
    // Both paths read every record, and read it the same.
    for r in &recs {
        assert_eq!(relic_domain::state::decode(r, &texts).expect("decode"), value_path(r), "record {}", r.seq);
    }
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(N));
    g.bench_function("in_place_1000", |b| b.iter(|| recs.iter().filter(|r| black_box(relic_domain::state::decode(r, &texts)).is_ok()).count()));
    g.bench_function("value_path_1000", |b| b.iter(|| recs.iter().filter(|r| black_box(value_path(r)).is_some()).count()));
    g.bench_function("value_parse_only_1000", |b| {
        b.iter(|| recs.iter().filter(|r| black_box(serde_json::from_slice::<serde_json::Value>(&r.payload)).is_ok()).count())
    });
    g.finish();
}

criterion_group!(benches, decode_bench);
criterion_main!(benches);
