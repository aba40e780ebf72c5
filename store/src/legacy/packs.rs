//! Records in packs: how the store keeps the records themselves (`schemas/store-v3.md` §Packs).
//!
//! What this is: the mapping between a record's sequence number and where its exact bytes are
//! stored. Records `64·k … 64·k + 63` are kept together as pack `k` once all 64 exist: packs lie
//! back to back in one append-only file beside the sled database (`<data>/store.packs`), and sled
//! holds where each one is (`p` ‖ k → offset, length). The records after the last complete pack
//! are kept one per sled value (`r` ‖ seq) until their pack completes. So which of the two holds
//! record `s` follows from the log's size `n` alone: pack `⌊s / 64⌋` if `⌊s / 64⌋ < ⌊n / 64⌋`, its
//! own entry otherwise.
//!
//! Why: sled's cost on a sequential read is per value (every value of a leaf it loads becomes an
//! allocation of its own), and replays read every record; larger sled values are cheaper to read
//! but sled's cache lets memory grow with their size (`BENCHMARKS.md`, `sled_values`). A file read
//! in order costs neither. Appends stay cheap: a record is written on its own once, and once more
//! inside its pack, with one extra `fsync` of the pack file, when the pack completes.
//!
//! The pack file is written before the sled batch that names its new packs, and synced: a pack
//! is durable before anything refers to it. Bytes past the last pack sled names (an append that
//! failed or was cut off) are not part of the log; they are cut off when the store is opened.
//!
//! - [`encode`] / [`entries`]: a pack's value (§Pack value);
//! - [`PackFile`]: the file, read and written at explicit offsets;
//! - [`OpenPack`]: what a writer (the sequencer, a mirror) keeps of the records after the last
//!   complete pack, so that completing a pack needs no read;
//! - [`Records`]: every record from a sequence number on, in order, from packs then single entries.
//!
//! What this is not: the rules a log must obey (checked by `relic_ledger::verify`). A malformed pack is
//! reported as corrupt; what it holds is checked like any other record.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{self, Error, Result};
use crate::legacy::store::{self, Store};
use crate::legacy::{Bytes, Group};

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

/// A pack's sled entry: where it lies in the pack file, offset (u64 big-endian) then length (u32
/// big-endian).
pub fn encode_index(at: u64, len: u32) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..8].copy_from_slice(&at.to_be_bytes());
    v[8..].copy_from_slice(&len.to_be_bytes());
    v
}

/// The offset and length in a pack's sled entry, `None` if it is not 12 bytes.
pub fn decode_index(v: &[u8]) -> Option<(u64, u32)> {
    let v: &[u8; 12] = v.try_into().ok()?;
    let mut at = [0u8; 8];
    at.copy_from_slice(&v[..8]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&v[8..]);
    Some((u64::from_be_bytes(at), u32::from_be_bytes(len)))
}

/// The append-only file holding the packs, shared by the store's readers and its writer.
#[derive(Debug, Clone)]
pub struct PackFile {
    path: PathBuf,
    file: Arc<File>,
}

impl PackFile {
    /// Opens the pack file at `path`, creating it empty if it does not exist.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(error::io(path))?;
        Ok(Self { path: path.to_path_buf(), file: Arc::new(file) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes.
    pub fn len(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(error::io(&self.path))?.len())
    }

    /// Pack `k`'s bytes, `len` of them at offset `at`.
    pub fn read(&self, k: u64, at: u64, len: u32) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        self.file.read_exact_at(&mut buf, at).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                malformed(k, &format!("the pack file ends before its {len} bytes at offset {at}"))
            } else {
                Error::Io { path: self.path.clone(), source: e }
            }
        })?;
        Ok(buf)
    }

    /// Writes `bytes` at offset `at` and syncs them to disk.
    pub fn write(&self, at: u64, bytes: &[u8]) -> Result<()> {
        self.file.write_all_at(bytes, at).map_err(error::io(&self.path))?;
        self.file.sync_data().map_err(error::io(&self.path))
    }

    /// Cuts the file back to `len` bytes if it is longer (bytes no pack entry refers to).
    pub fn cut(&self, len: u64) -> Result<()> {
        if self.len()? > len {
            self.file.set_len(len).map_err(error::io(&self.path))?;
            self.file.sync_all().map_err(error::io(&self.path))?;
        }
        Ok(())
    }
}

/// Packs completed by a batch, back to back, with their offset in the pack file.
pub type Completed = Option<(u64, Vec<u8>)>;

/// The error for a malformed pack, naming the records it should hold.
pub(crate) fn malformed(k: u64, why: &str) -> Error {
    Error::Corrupt(format!("record pack {k} (records {} to {}) is malformed: {why}", k * WIDTH, k * WIDTH + WIDTH - 1))
}

/// The records after the last complete pack, as a writer keeps them, and the packs completed
/// since the writer last took them for the pack file.
#[derive(Debug, Clone, Default)]
pub struct OpenPack {
    size: u64,
    loose: Vec<Vec<u8>>,
    /// Where the next pack goes in the pack file.
    file_end: u64,
    /// Packs completed and not yet taken ([`OpenPack::take_completed`]), with their offset.
    completed: Vec<u8>,
    completed_at: u64,
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
        let file_end = store.packs_end()?;
        Ok(Self { size, loose, file_end, completed: Vec::new(), completed_at: file_end })
    }

    /// Adds record `self.size` to `batch`: on its own, or, if it completes its pack, the pack's
    /// entry in place of its records' own entries (this batch's and earlier ones'). The pack's
    /// bytes are kept for [`OpenPack::finish`].
    pub fn push(&mut self, batch: &mut Group, record: &[u8]) {
        let seq = self.size;
        self.size += 1;
        self.loose.push(record.to_vec());
        if self.size % WIDTH != 0 {
            batch.insert(&store::record_key(seq), record);
            return;
        }
        let pack = encode(&self.loose);
        batch.insert(&pack_key(seq / WIDTH), &encode_index(self.file_end, pack.len() as u32)[..]);
        for s in seq + 1 - WIDTH..=seq {
            batch.remove(&store::record_key(s));
        }
        self.file_end += pack.len() as u64;
        self.completed.extend_from_slice(&pack);
        self.loose.clear();
    }

    /// Hands `group` the packs completed since the last call, back to back, with the offset they
    /// go to in the pack file: [`Store::commit`] writes (and syncs) them before the entries that
    /// name them.
    pub fn finish(&mut self, group: &mut Group) {
        let at = self.completed_at;
        self.completed_at = self.file_end;
        group.packs = (!self.completed.is_empty()).then(|| (at, std::mem::take(&mut self.completed)));
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
    packs: Option<Box<dyn Iterator<Item = Result<(u64, Bytes)>> + 'a>>,
    current: Option<(u64, Bytes, Vec<Range<usize>>, usize)>,
    loose: Option<Box<dyn Iterator<Item = Result<(u64, Bytes)>> + 'a>>,
    failed: bool,
}

impl<'a> Records<'a> {
    pub(crate) fn new(store: &'a Store, from: u64) -> Self {
        let packs = Box::new(store.scan(PREFIX, from / WIDTH));
        Self { store, from, after_packs: from, packs: Some(packs), current: None, loose: None, failed: false }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<(u64, Bytes)>;

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
                    Some(Ok((k, index))) => match self.store.read_pack(k, &index).and_then(|v| {
                        let r = entries(&v).map_err(|why| malformed(k, &why))?;
                        Ok((v, r))
                    }) {
                        Ok((value, ranges)) => {
                            self.after_packs = self.from.max((k + 1) * WIDTH);
                            self.current = Some((k, value, ranges, 0));
                            continue;
                        }
                        Err(e) => {
                            self.failed = true;
                            return Some(Err(e));
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

/// Where a record's bytes are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Under its own sled key, the whole value.
    Own { key: [u8; 9], len: usize },
    /// In its pack, at this offset of the pack file.
    Packed { file: PathBuf, at: u64, len: usize },
}

/// Where record `seq` is stored in a log of `size` records. For tools that inspect a store;
/// readers use [`Store::record_bytes`] and [`Store::records`].
pub fn location(store: &Store, seq: u64, size: u64) -> Result<Option<Location>> {
    let k = seq / WIDTH;
    if k < packed(size) {
        let Some(index) = store.get(&pack_key(k))? else { return Ok(None) };
        let (at, _) = decode_index(&index).ok_or_else(|| malformed(k, "its entry is not 12 bytes"))?;
        let v = store.read_pack(k, &index)?;
        let ranges = entries(&v).map_err(|why| malformed(k, &why))?;
        let r = &ranges[(seq % WIDTH) as usize];
        return Ok(Some(Location::Packed { file: store.packs.path().to_path_buf(), at: at + r.start as u64, len: r.len() }));
    }
    let key = store::record_key(seq);
    Ok(store.get(&key)?.map(|v| Location::Own { key, len: v.len() }))
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
}
