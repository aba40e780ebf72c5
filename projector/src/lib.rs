//! Projections: everything a user reads is derived from the log by replaying its records in order.
//!
//! This crate holds the replay driver; the release views, time travel, scheduled evidence and
//! compliance reports are built on it. A projection sees each record exactly once, in sequence
//! order, and reports the sequence number it has applied, so that it can say which log state
//! (tree size) it reflects.

pub mod audit;
pub mod history;
pub mod report;
pub mod store;
pub mod views;

use relic_ledger::{Ledger, Record};

/// A view derived from the log.
pub trait Projection {
    type Error: From<relic_ledger::Error>;
    /// Applies one record. Called for every record, in sequence order, exactly once.
    fn apply(&mut self, record: &Record) -> Result<(), Self::Error>;
}

/// Feeds records `from..` of `ledger` (up to its committed size) to `p`, in order. Returns the
/// log size the projection now reflects.
pub fn replay<P: Projection>(ledger: &Ledger, from: u64, p: &mut P) -> Result<u64, P::Error> {
    let mut size = from;
    for item in ledger.records(from) {
        let (seq, bytes) = item?;
        let record = Record::decode(&bytes).map_err(|e| relic_ledger::Error::Corrupt(format!("record {seq}: {e}")))?;
        p.apply(&record)?;
        size = seq + 1;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts records per kind, remembering the order it saw them in.
    #[derive(Default)]
    struct Seen(Vec<(u64, String)>);

    impl Projection for Seen {
        type Error = relic_ledger::Error;
        fn apply(&mut self, r: &Record) -> Result<(), Self::Error> {
            self.0.push((r.seq, r.kind.clone()));
            Ok(())
        }
    }

    #[test]
    fn replay_applies_each_record_once_in_order_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "projector.test/log").unwrap();
        for i in 0..5 {
            let d = relic_ledger::Draft {
                actor: relic_ledger::Actor { id: "a".into(), role: "owner".into() },
                kind: "release.updated".into(),
                subject: "p@v1".into(),
                payload: format!("{{\"i\":{i}}}").into_bytes(),
                schema_version: 1,
            };
            l.append_blocking(d).unwrap();
        }
        let mut p = Seen::default();
        assert_eq!(replay(&l, 0, &mut p).unwrap(), 6);
        assert_eq!(p.0.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
        assert_eq!(p.0[0].1, "ledger.created");
        // Resuming from where it stopped applies nothing twice.
        assert_eq!(replay(&l, 6, &mut p).unwrap(), 6);
        assert_eq!(p.0.len(), 6);
    }
}
