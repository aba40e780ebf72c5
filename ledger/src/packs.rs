//! Records in packs: how the store keeps the records themselves (`schemas/store-v3.md` §Packs).
//!
//! What this is: the mapping between a record's sequence number and where its exact bytes are
//! stored. Records `64·k … 64·k + 63` are kept together as pack `k`, one sled value, once all 64
//! exist; the records after the last complete pack are kept one per sled value (`r` ‖ seq) until
//! their pack completes. So which of the two holds record `s` follows from the log's size `n`
//! alone: pack `⌊s / 64⌋` if `⌊s / 64⌋ < ⌊n / 64⌋`, its own entry otherwise.
//!
//! Why: sled's cost on a sequential read is per value (every value of a leaf it loads is
//! deserialised into an allocation of its own), and replays read every record. Reading packs costs
//! a quarter of reading single records (`BENCHMARKS.md`). Appends stay cheap: a record is written
//! on its own once, and once more inside its pack when the pack completes.
//!
//! - [`encode`] / [`entries`]: a pack's value (§Pack value);
//! - [`OpenPack`]: what a writer (the sequencer, a mirror) keeps of the records after the last
//!   complete pack, so that completing a pack needs no read;
//! - [`Records`]: every record from a sequence number on, in order, from packs then single entries.
//!
//! What this is not: the rules a log must obey (checked by [`crate::verify`]). A malformed pack is
//! reported as corrupt; what it holds is checked like any other record.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::store::{self, Store};

/// Records per pack.
pub const WIDTH: u64 = 64;
/// The prefix of pack keys.
pub const PREFIX: u8 = b'p';

/// The key of pack `k` (records `64·k … 64·k + 63`): `p` ‖ k (u64 big-endian).
pub fn pack_key(k: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = PREFIX;
    key[1..].copy_from_slice(&k.to_be_bytes());
    key
}

/// How many complete packs a log of `size` records has; records from `packed(size) · 64` on are
/// stored one per entry.
pub fn packed(size: u64) -> u64 {
    size / WIDTH
}

/// A pack's value (§Pack value): each record as its length (u32 big-endian) then its bytes.
pub fn encode<R: AsRef<[u8]>>(records: &[R]) -> Vec<u8> {
    let len = records.iter().map(|r| 4 + r.as_ref().len()).sum();
    let mut out = Vec::with_capacity(len);
    for r in records {
        let r = r.as_ref();
        out.extend_from_slice(&(r.len() as u32).to_be_bytes());
        out.extend_from_slice(r);
    }
    out
}

/// Where each of a pack's [`WIDTH`] records lies in its value; an error text if the value is not
/// exactly 64 length-prefixed records.
pub fn entries(value: &[u8]) -> std::result::Result<Vec<Range<usize>>, String> {
    let mut out = Vec::with_capacity(WIDTH as usize);
    let mut at = 0usize;
    while at < value.len() {
        let Some(len) = value.get(at..at + 4) else {
            return Err(format!("a record length is cut short at byte {at}"));
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let start = at + 4;
        let end = start.checked_add(len).filter(|&e| e <= value.len());
        let Some(end) = end else {
            return Err(format!("record {} of the pack runs past the end of the value", out.len()));
        };
        out.push(start..end);
        at = end;
    }
    if out.len() as u64 != WIDTH {
        return Err(format!("it holds {} records, not {WIDTH}", out.len()));
    }
    Ok(out)
}

/// The error for a malformed pack, naming the records it should hold.
pub(crate) fn malformed(k: u64, why: &str) -> Error {
    Error::Corrupt(format!("record pack {k} (records {} to {}) is malformed: {why}", k * WIDTH, k * WIDTH + WIDTH - 1))
}

/// The records after the last complete pack, as a writer keeps them.
#[derive(Debug, Clone, Default)]
pub struct OpenPack {
    size: u64,
    loose: Vec<Vec<u8>>,
}

impl OpenPack {
    /// The open pack of a log of `size` records, read from `store` (at most 63 reads).
    pub fn load(store: &Store, size: u64) -> Result<Self> {
        let first = packed(size) * WIDTH;
        let loose = (first..size)
            .map(|seq| {
                let v = store.get(&store::record_key(seq))?;
                v.map(|v| v.to_vec()).ok_or_else(|| Error::Corrupt(format!("record {seq} is missing")))
            })
            .collect::<Result<_>>()?;
        Ok(Self { size, loose })
    }

    /// Adds record `self.size` to `batch`: on its own, or, if it completes its pack, the pack in
    /// place of its records' own entries (this batch's and earlier ones').
    pub fn push(&mut self, batch: &mut sled::Batch, record: &[u8]) {
        let seq = self.size;
        self.size += 1;
        if self.size % WIDTH != 0 {
            batch.insert(&store::record_key(seq), record);
            self.loose.push(record.to_vec());
            return;
        }
        self.loose.push(record.to_vec());
        batch.insert(&pack_key(seq / WIDTH), encode(&self.loose));
        for s in seq + 1 - WIDTH..=seq {
            batch.remove(&store::record_key(s));
        }
        self.loose.clear();
    }
}

/// Every record from a sequence number on, in order, with its number: the packs first, then the
/// records stored on their own after the last pack. Values share sled's buffers. Ends at the first
/// error. A missing pack or record shows as a jump in the numbers, which readers check.
pub struct Records<'a> {
    store: &'a Store,
    from: u64,
    /// Where the single records start: after the last pack read.
    after_packs: u64,
    packs: Option<Box<dyn Iterator<Item = Result<(u64, sled::IVec)>> + 'a>>,
    current: Option<(u64, sled::IVec, Vec<Range<usize>>, usize)>,
    loose: Option<Box<dyn Iterator<Item = Result<(u64, sled::IVec)>> + 'a>>,
    failed: bool,
}

impl<'a> Records<'a> {
    pub(crate) fn new(store: &'a Store, from: u64) -> Self {
        let packs = Box::new(store.scan(PREFIX, from / WIDTH));
        Self { store, from, after_packs: from, packs: Some(packs), current: None, loose: None, failed: false }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<(u64, sled::IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if let Some((k, value, ranges, i)) = &mut self.current {
                if let Some(r) = ranges.get(*i) {
                    let seq = *k * WIDTH + *i as u64;
                    *i += 1;
                    if seq < self.from {
                        continue;
                    }
                    return Some(Ok((seq, value.subslice(r.start, r.len()))));
                }
                self.current = None;
            }
            if let Some(packs) = &mut self.packs {
                match packs.next() {
                    Some(Ok((k, value))) => match entries(&value) {
                        Ok(ranges) => {
                            self.after_packs = self.from.max((k + 1) * WIDTH);
                            self.current = Some((k, value, ranges, 0));
                            continue;
                        }
                        Err(why) => {
                            self.failed = true;
                            return Some(Err(malformed(k, &why)));
                        }
                    },
                    Some(Err(e)) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                    None => {
                        self.packs = None;
                        self.loose = Some(Box::new(self.store.scan(b'r', self.after_packs)));
                    }
                }
            }
            let item = self.loose.as_mut()?.next()?;
            self.failed = item.is_err();
            return Some(item);
        }
    }
}

/// Where record `seq` is stored in a log of `size` records: the sled key and the byte range of the
/// record in that key's value (the whole value for a record stored on its own). For tools that
/// inspect a store; readers use [`Store::record_bytes`] and [`Store::records`].
pub fn location(store: &Store, seq: u64, size: u64) -> Result<Option<(Vec<u8>, Range<usize>)>> {
    let k = seq / WIDTH;
    if k < packed(size) {
        let Some(v) = store.get(&pack_key(k))? else { return Ok(None) };
        let ranges = entries(&v).map_err(|why| malformed(k, &why))?;
        return Ok(Some((pack_key(k).to_vec(), ranges[(seq % WIDTH) as usize].clone())));
    }
    Ok(store.get(&store::record_key(seq))?.map(|v| (store::record_key(seq).to_vec(), 0..v.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_value_round_trips_and_a_malformed_one_is_named() {
        let records: Vec<Vec<u8>> = (0..WIDTH).map(|i| vec![i as u8; i as usize]).collect();
        let v = encode(&records);
        let ranges = entries(&v).unwrap();
        for (i, r) in ranges.iter().enumerate() {
            assert_eq!(&v[r.clone()], &records[i][..]);
        }
        assert!(entries(&encode(&records[..63])).unwrap_err().contains("holds 63 records"));
        assert!(entries(&v[..v.len() - 1]).unwrap_err().contains("record 63 of the pack runs past the end"));
        let mut extra = v.clone();
        extra.extend_from_slice(&[0, 0]);
        assert!(entries(&extra).unwrap_err().contains("cut short"));
        assert!(malformed(2, "x").to_string().contains("record pack 2 (records 128 to 191)"));
    }

    /// Appends in groups of every size, across reopenings and pack boundaries, keep the layout
    /// (packs `0 … ⌊n/64⌋ − 1`, own entries for the rest) and read back exactly what was appended,
    /// from any starting point.
    #[test]
    fn appends_keep_the_layout_across_groups_and_reopenings() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = crate::Ledger::init(dir.path(), "packs.test/log").unwrap();
        let mut n = 1u64;
        for (round, group) in [1usize, 62, 1, 64, 130, 3, 63, 200].into_iter().enumerate() {
            if group == 1 {
                l.append_blocking(crate::record::numbered_draft(n as usize)).unwrap();
            } else {
                l.append_all_blocking((0..group).map(|i| crate::record::numbered_draft(n as usize + i)).collect()).unwrap();
            }
            n += group as u64;
            if round % 3 == 2 {
                l.close();
                l = crate::Ledger::open(dir.path()).unwrap();
            }
            let s = l.store();
            let p: Vec<u64> = s.scan(PREFIX, 0).map(|r| r.unwrap().0).collect();
            let r: Vec<u64> = s.scan(b'r', 0).map(|r| r.unwrap().0).collect();
            assert_eq!(p, (0..packed(n)).collect::<Vec<_>>(), "after {n} records");
            assert_eq!(r, (packed(n) * WIDTH..n).collect::<Vec<_>>(), "after {n} records");
            let all: Vec<(u64, sled::IVec)> = s.records(0).map(|r| r.unwrap()).collect();
            assert_eq!(all.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
            for (seq, bytes) in &all {
                assert_eq!(crate::Record::decode(bytes).unwrap().seq, *seq);
                assert_eq!(&s.record_bytes(*seq).unwrap().unwrap(), bytes);
                let (key, range) = location(s, *seq, n).unwrap().unwrap();
                assert_eq!(&s.get(&key).unwrap().unwrap()[range], &bytes[..]);
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

    /// A damaged pack is reported by number, with the records it should hold, by every reader.
    #[test]
    fn a_damaged_pack_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let l = crate::Ledger::init(dir.path(), "packs.test/log").unwrap();
        l.append_all_blocking((1..200).map(crate::record::numbered_draft).collect()).unwrap();
        let s = l.store();
        let mut v = s.get(&pack_key(1)).unwrap().unwrap().to_vec();
        v.truncate(v.len() - 3);
        s.db.insert(pack_key(1), v).unwrap();
        let want = "record pack 1 (records 64 to 127) is malformed";
        let items: Vec<_> = s.records(10).collect();
        assert_eq!(items.len(), 55, "records 10 to 63, then the error, then nothing");
        assert!(items[54].as_ref().unwrap_err().to_string().contains(want));
        assert!(s.record_bytes(100).unwrap_err().to_string().contains(want));
        assert_eq!(s.record_bytes(5).unwrap().unwrap(), l.store().records(5).next().unwrap().unwrap().1);
    }
}
