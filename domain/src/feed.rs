//! The log read back as domain events: records are read, decoded and their payloads checked and
//! decoded on every core, and handed to one consumer strictly in sequence order.
//!
//! Replaying a log is mostly reading and decoding (the store's scan, the record layout, JSON, the schema
//! check); folding the events into state is cheap and must be sequential. So `W` reader threads
//! (one per core) take turns over fixed ranges of [`CHUNK`] records — reader `w` takes chunks `w`,
//! `w + W`, `w + 2W`, … — and the consumer takes the chunks back in the same rotation, which
//! restores sequence order without any sorting. Each reader has at most two chunks waiting, so
//! memory stays bounded whatever the log's size.
//!
//! What this is not: a verifier. Records are decoded strictly, but signatures, links and tree
//! hashes are `relic_ledger::verify`'s business.

use std::sync::mpsc;

use relic_ledger::{Ledger, Record};

use crate::event::{Event, Finding};
use crate::state;

/// Records per chunk handed from a reader to the consumer.
pub const CHUNK: u64 = 1024;

/// A record with the domain event it carries (`None` for kinds without rules and the ledger's
/// own), or, if it could not be read (its bytes are not a record, or its payload not its kind's
/// event), the finding that says why: a reader never stops at such a record.
#[derive(Debug)]
pub struct Item {
    pub seq: u64,
    /// `None` when the bytes are not a record at all (damage; `relic verify` names it too).
    pub record: Option<Record>,
    pub event: Option<Event>,
    pub finding: Option<Finding>,
}

/// Why reading stopped: the log itself could not be read (a record missing or not a record at
/// all; `relic verify` names the damage).
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Ledger(#[from] relic_ledger::Error),
}

type Chunk = Vec<Result<Item, FeedError>>;

fn read_chunk(ledger: &Ledger, start: u64, end: u64) -> Chunk {
    let mut out = Vec::with_capacity((end - start) as usize);
    for item in ledger.records(start).take((end - start) as usize) {
        let decoded = item.map_err(FeedError::from).and_then(|(seq, bytes)| {
            let record = match Record::decode(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    let finding = Finding { seq, kind: "?".into(), reason: format!("not a well-formed record: {e}") };
                    return Ok(Item { seq, record: None, event: None, finding: Some(finding) });
                }
            };
            Ok(match state::decode(&record, &ledger.texts()) {
                Ok(event) => Item { seq, record: Some(record), event, finding: None },
                Err(e) => Item { seq, record: Some(record), event: None, finding: Some(e.into()) },
            })
        });
        let failed = decoded.is_err();
        out.push(decoded);
        if failed {
            break;
        }
    }
    if out.len() < (end - start) as usize && !out.last().is_some_and(|r| r.is_err()) {
        out.push(Err(relic_ledger::Error::Corrupt(format!("record {} is missing", start + out.len() as u64)).into()));
    }
    out
}

/// Calls `f` with records `from..to` of `ledger` (`to` capped at its size when called), in order,
/// until `f` returns `Ok(false)` or fails. Returns the sequence number after the last record `f`
/// accepted. Errors reading or decoding a record are returned when its turn comes, so that every
/// record before it has been handed to `f`. `f` may take the event out of the item (the rest is
/// freed by the reader thread that allocated it).
pub fn replay<E>(ledger: &Ledger, from: u64, to: u64, mut f: impl FnMut(&mut Item) -> Result<bool, E>) -> Result<u64, E>
where
    E: From<FeedError>,
{
    let to = to.min(ledger.size());
    if from >= to {
        return Ok(from);
    }
    let chunks = (to - from).div_ceil(CHUNK);
    let readers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8).min(chunks as usize);
    let bounds = |c: u64| (from + c * CHUNK, (from + (c + 1) * CHUNK).min(to));
    if readers <= 1 {
        let mut next = from;
        for c in 0..chunks {
            if !consume(&mut next, &mut read_chunk(ledger, bounds(c).0, bounds(c).1), &mut f)? {
                break;
            }
        }
        return Ok(next);
    }
    std::thread::scope(|s| {
        let mut inboxes = Vec::with_capacity(readers);
        let mut returns = Vec::with_capacity(readers);
        for w in 0..readers {
            let (tx, rx) = mpsc::sync_channel::<Chunk>(2);
            // Chunks come back to the thread that allocated them, to be freed there: freeing
            // memory another thread allocated costs the allocator more.
            let (back_tx, back_rx) = mpsc::channel::<Chunk>();
            inboxes.push(rx);
            returns.push(back_tx);
            s.spawn(move || {
                let mut c = w as u64;
                while c < chunks {
                    while let Ok(done) = back_rx.try_recv() {
                        drop(done);
                    }
                    let (a, b) = bounds(c);
                    let chunk = read_chunk(ledger, a, b);
                    let failed = chunk.last().is_some_and(|r| r.is_err());
                    if tx.send(chunk).is_err() || failed {
                        return;
                    }
                    c += readers as u64;
                }
                drop(tx);
                while let Ok(done) = back_rx.recv() {
                    drop(done);
                }
            });
        }
        // Chunk c comes from reader c % readers; a reader that stopped leaves its channel closed.
        let mut next = from;
        let mut result = Ok(());
        for c in 0..chunks {
            let r = (c % readers as u64) as usize;
            let Ok(mut chunk) = inboxes[r].recv() else { break };
            let go_on = consume(&mut next, &mut chunk, &mut f);
            let _ = returns[r].send(chunk);
            match go_on {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(inboxes);
        drop(returns);
        result.map(|()| next)
    })
}

/// Hands a chunk's items to `f`; false once `f` asked to stop. A failed item (always the last of
/// its chunk) is taken out of the chunk and returned.
fn consume<E: From<FeedError>>(next: &mut u64, chunk: &mut Chunk, f: &mut impl FnMut(&mut Item) -> Result<bool, E>) -> Result<bool, E> {
    for i in 0..chunk.len() {
        match &mut chunk[i] {
            Ok(item) => {
                if !f(item)? {
                    return Ok(false);
                }
                *next += 1;
            }
            Err(_) => {
                return match chunk.split_off(i).into_iter().next() {
                    Some(Err(e)) => Err(e.into()),
                    _ => Ok(false),
                }
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use relic_ledger::{Actor, Draft};

    fn ledger(n: u64) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "feed.test/log", relic_ledger::policy::unchecked()).unwrap();
        let drafts = (0..n)
            .map(|i| Draft {
                actor: Actor { id: "a".into(), role: "owner".into() },
                kind: "release.deleted".into(),
                subject: format!("p@v{i}"),
                payload: format!("{{\"project\":\"p\",\"tag_name\":\"v{i}\"}}").into_bytes(),
                schema_version: 1,
            })
            .collect();
        l.append_all_blocking(drafts).unwrap();
        (dir, l)
    }

    #[test]
    fn hands_out_every_record_once_in_order_across_chunks() {
        let (_d, l) = ledger(3 * CHUNK + 7);
        let mut seen = Vec::new();
        let end = replay::<FeedError>(&l, 5, u64::MAX, |it| {
            seen.push(it.seq);
            assert_eq!(it.event.is_some(), it.seq > 0);
            Ok(true)
        })
        .unwrap();
        assert_eq!(end, 3 * CHUNK + 8);
        assert_eq!(seen, (5..3 * CHUNK + 8).collect::<Vec<_>>());
    }

    #[test]
    fn stops_when_asked_and_reports_where() {
        let (_d, l) = ledger(2 * CHUNK);
        let end = replay::<FeedError>(&l, 0, u64::MAX, |it| Ok(it.seq < CHUNK + 3)).unwrap();
        assert_eq!(end, CHUNK + 3);
        assert_eq!(replay::<FeedError>(&l, 0, 10, |_| Ok(true)).unwrap(), 10);
        assert_eq!(replay::<FeedError>(&l, 10, 10, |_| Ok(true)).unwrap(), 10);
    }

    #[test]
    fn a_payload_that_breaks_its_schema_is_a_finding_and_reading_goes_on() {
        let (_d, l) = ledger(CHUNK + 10);
        let bad = Draft {
            actor: Actor { id: "a".into(), role: "owner".into() },
            kind: "release.deleted".into(),
            subject: "p@x".into(),
            payload: b"{\"project\":\"p\"}".to_vec(),
            schema_version: 1,
        };
        l.append_blocking(bad.clone()).unwrap();
        l.append_blocking(Draft { payload: b"{\"project\":\"p\",\"tag_name\":\"x\"}".to_vec(), ..bad }).unwrap();
        let (mut findings, mut events) = (Vec::new(), 0);
        let end = replay::<FeedError>(&l, 0, u64::MAX, |it| {
            findings.extend(it.finding.take());
            events += it.event.is_some() as u64;
            Ok(true)
        })
        .unwrap();
        assert_eq!(end, CHUNK + 13);
        assert_eq!(events, CHUNK + 11, "every readable record, including the one after the unreadable one");
        assert_eq!(findings.len(), 1);
        let text = findings[0].to_string();
        assert!(text.starts_with(&format!("record {} (release.deleted): ", CHUNK + 11)) && text.contains("tag_name"), "{text}");
    }
}
