//! The bytes of a log directory in format 4 (`schemas/store-v4.md`): file names, record and
//! checkpoint frames, commit entries, the key list's lines.
//!
//! What this is: pure encoding and decoding, one function per structure of the specification,
//! each naming its section. No file is opened here ([`crate::store`] does that).
//!
//! What this is not: the rules a log must obey (checked by `relic_ledger::verify`); a commit
//! entry's check value detects damage, not forgery (the records' signatures and the signed
//! checkpoints do that).

use relic_formats::chain::KeyEntry;
use relic_formats::merkle::Hash;
use relic_formats::note::VerifierKey;

/// The directory of the log inside a data directory.
pub const DIR: &str = "log";
/// The contents of the format file (§Files).
pub const FORMAT: &[u8] = b"relic-log/4\n";
pub const FORMAT_FILE: &str = "format";
pub const RECORDS: &str = "records";
pub const HASHES: &str = "hashes";
pub const COMMITS: &str = "commits";
pub const CHECKPOINTS: &str = "checkpoints";
pub const KEYS: &str = "keys";
pub const PUBLISHED: &str = "published";
pub const LOCK: &str = "lock";

/// The length of a commit entry (§Commit entries).
pub const COMMIT_LEN: usize = 64;
/// What a commit entry's check value is computed over, before its first 56 bytes.
pub const COMMIT_CONTEXT: &[u8] = b"relic/commit/v4\n";
/// The largest record frame a reader accepts (§Record frames): a record's limits (1 MiB payload,
/// short header fields) keep every valid record well under it.
pub const MAX_RECORD: u32 = 2 << 20;
/// The largest checkpoint frame (§Checkpoint frames).
pub const MAX_CHECKPOINT: u32 = 1 << 16;

/// A commit entry (§Commit entries): what a writer acknowledged. Every file's acknowledged length
/// follows from it: `records` and `checkpoints` hold `records_end` and `checkpoints_end` bytes of
/// the log, `hashes` holds `stored_hash_count(size)` hashes; anything after is a write that was
/// never acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Records in the log.
    pub size: u64,
    /// Bytes of `records` holding those records.
    pub records_end: u64,
    /// Bytes of `checkpoints` holding the stored checkpoints.
    pub checkpoints_end: u64,
    /// The RFC 6962 tree head at `size`.
    pub root: Hash,
}

/// Why the bytes of a complete commit entry are not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// All 64 bytes are zero: space a crash left allocated but never written (a torn write).
    Zero,
    /// The check value does not match: the entry is damaged.
    Damaged,
}

impl Commit {
    /// §Commit entries: size, records_end, checkpoints_end (u64 big-endian each), root (32
    /// bytes), then the first 8 bytes of BLAKE3(`COMMIT_CONTEXT` ‖ the 56 bytes before).
    pub fn encode(&self) -> [u8; COMMIT_LEN] {
        let mut b = [0u8; COMMIT_LEN];
        b[..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..16].copy_from_slice(&self.records_end.to_be_bytes());
        b[16..24].copy_from_slice(&self.checkpoints_end.to_be_bytes());
        b[24..56].copy_from_slice(&self.root);
        let check = commit_check(&b[..56]);
        b[56..].copy_from_slice(&check);
        b
    }

    /// Decodes one entry (§Commit entries).
    pub fn decode(b: &[u8; COMMIT_LEN]) -> Result<Self, EntryError> {
        if b.iter().all(|&x| x == 0) {
            return Err(EntryError::Zero);
        }
        if commit_check(&b[..56]) != b[56..] {
            return Err(EntryError::Damaged);
        }
        let u = |r: std::ops::Range<usize>| u64::from_be_bytes(b[r].try_into().unwrap_or([0; 8]));
        let mut root = [0u8; 32];
        root.copy_from_slice(&b[24..56]);
        Ok(Self { size: u(0..8), records_end: u(8..16), checkpoints_end: u(16..24), root })
    }
}

fn commit_check(body: &[u8]) -> [u8; 8] {
    let mut h = blake3::Hasher::new();
    h.update(COMMIT_CONTEXT);
    h.update(body);
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    out
}

/// §Record frames: the record's length (u32 big-endian), then its exact bytes.
pub fn record_frame(out: &mut Vec<u8>, record: &[u8]) {
    out.extend_from_slice(&(record.len() as u32).to_be_bytes());
    out.extend_from_slice(record);
}

/// §Checkpoint frames: the length of what follows (u32 big-endian), the tree size the note was
/// issued at (u64 big-endian), the note's UTF-8 text.
pub fn checkpoint_frame(size: u64, note: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + note.len());
    out.extend_from_slice(&((8 + note.len()) as u32).to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(note.as_bytes());
    out
}

/// Parses the checkpoint frames of `bytes` (the acknowledged part of `checkpoints`), with the
/// byte offset of each; an error names the offset of the first frame that is not one.
pub fn checkpoint_frames(bytes: &[u8]) -> Result<Vec<(u64, u64, String)>, (u64, String)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let err = |why: &str| (at as u64, why.to_string());
        let len = bytes.get(at..at + 4).ok_or_else(|| err("its length is cut short"))?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        if !(8..=MAX_CHECKPOINT).contains(&len) {
            return Err(err(&format!("its length {len} is out of range")));
        }
        let body = bytes.get(at + 4..at + 4 + len as usize).ok_or_else(|| err("it is cut short"))?;
        let size = u64::from_be_bytes(body[..8].try_into().unwrap_or([0; 8]));
        let note = std::str::from_utf8(&body[8..]).map_err(|_| err("its note is not UTF-8"))?;
        out.push((at as u64, size, note.to_string()));
        at += 4 + len as usize;
    }
    Ok(out)
}

/// §Key list: one line per key, `<first record it signs> <verifier key>\n`.
pub fn key_line(k: &KeyEntry) -> String {
    format!("{} {}\n", k.from_seq, k.key)
}

/// Parses the key list; `None` if any complete line is malformed. A last line without its newline
/// (a write cut short) is left out.
pub fn parse_keys(text: &str) -> Option<Vec<KeyEntry>> {
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|l| {
            let (n, k) = l.split_once(' ')?;
            Some(KeyEntry { from_seq: n.parse().ok()?, key: VerifierKey::parse(k).ok()? })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_entry_round_trips_and_any_flipped_bit_is_damage() {
        let c = Commit { size: 3, records_end: 900, checkpoints_end: 0, root: [7; 32] };
        let b = c.encode();
        assert_eq!(Commit::decode(&b), Ok(c));
        for bit in 0..COMMIT_LEN * 8 {
            let mut d = b;
            d[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Commit::decode(&d), Err(EntryError::Damaged), "bit {bit}");
        }
        assert_eq!(Commit::decode(&[0; COMMIT_LEN]), Err(EntryError::Zero));
    }

    #[test]
    fn checkpoint_frames_parse_and_name_the_first_bad_one() {
        let mut b = checkpoint_frame(5, "note a\n");
        let second = b.len() as u64;
        b.extend(checkpoint_frame(9, "note b\n"));
        let frames = checkpoint_frames(&b).unwrap();
        assert_eq!(frames, vec![(0, 5, "note a\n".into()), (second, 9, "note b\n".into())]);
        b.truncate(b.len() - 1);
        assert_eq!(checkpoint_frames(&b).unwrap_err().0, second);
    }
}
