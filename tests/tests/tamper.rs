//! Tamper test: flipping any single byte of a stored record, tree hash, commit entry or checkpoint
//! is detected by `relic verify`, which names the file or the first affected position. The flips
//! are made the way an attacker with write access to the data directory would make them: by
//! rewriting the log's files (`schemas/store-v4.md`).

use std::ops::Range;
use std::path::{Path, PathBuf};

use relic_ledger::layout::{self, Commit};
use relic_ledger::{merkle, Ledger};
use relic_tests::{draft, relic};

const RECORDS: u64 = 70;
const CHECKPOINTS: [u64; 3] = [9, 25, 41];

fn build(dir: &Path) {
    let l = Ledger::init(dir, "tamper.test/log", relic_ledger::policy::unchecked()).unwrap();
    for i in 1..RECORDS + 1 {
        l.append_blocking(draft(&format!("acme/app@v{i}"), serde_json::json!({"i": i}))).unwrap();
        if CHECKPOINTS.contains(&(i + 1)) {
            l.checkpoint(Some(i + 1)).unwrap();
        }
    }
    l.close();
}

fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(layout::DIR).join(name)
}

/// Rewrites the file at `path` as an attacker with write access would.
fn rewrite(path: &Path, f: &dyn Fn(&mut Vec<u8>)) {
    let mut v = std::fs::read(path).unwrap();
    f(&mut v);
    std::fs::write(path, v).unwrap();
}

/// Flips bit 0 of byte `at` of `path`, runs `relic verify`, restores the byte, and returns verify's
/// exit code and stderr.
fn flip_and_verify(dir: &Path, path: &Path, at: usize) -> (i32, String) {
    rewrite(path, &|v| v[at] ^= 1);
    let out = relic(dir, &["verify"]);
    rewrite(path, &|v| v[at] ^= 1);
    (out.code, out.stderr)
}

/// The byte ranges of the records in `log/records` (their bytes, without the length prefix).
fn record_ranges(dir: &Path) -> Vec<Range<usize>> {
    let b = std::fs::read(file(dir, layout::RECORDS)).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let len = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        out.push(at + 4..at + 4 + len);
        at += 4 + len;
    }
    out
}

/// Rewrites record `seq`'s bytes in place.
fn rewrite_record(dir: &Path, seq: u64, f: impl Fn(&mut [u8])) {
    let range = record_ranges(dir)[seq as usize].clone();
    rewrite(&file(dir, layout::RECORDS), &|v| f(&mut v[range.clone()]));
}

#[test]
fn every_flipped_byte_is_detected_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let ok = relic(d, &["verify"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout_text().contains("3 checkpoints"), "{}", ok.stdout_text());
    let records = file(d, layout::RECORDS);
    let ranges = record_ranges(d);

    // Every byte of one record in the middle, of record 0, and of the last record.
    for seq in [17, 0, RECORDS] {
        for at in ranges[seq as usize].clone() {
            let (code, err) = flip_and_verify(d, &records, at);
            assert_eq!(code, 1, "record {seq} byte {at}: not detected");
            assert!(err.contains(&format!("verification failed: record {seq}: ")), "record {seq} byte {at}: {err}");
            // Where its bytes are: the file and the byte its frame starts at.
            assert!(err.contains(&format!("log/records, byte {})", ranges[seq as usize].start - 4)), "record {seq} byte {at}: {err}");
            assert_eq!(err.lines().count(), 1, "one line per failure: {err}");
        }
    }
    // One byte of every other record.
    for seq in 1..RECORDS {
        let (code, err) = flip_and_verify(d, &records, ranges[seq as usize].start + 30 + seq as usize);
        assert_eq!(code, 1);
        assert!(err.contains(&format!("record {seq}: ")), "record {seq}: {err}");
    }
    // Every byte of the first and the last length prefix: the file no longer splits into the
    // records the commit entries acknowledge.
    for seq in [0, RECORDS] {
        let start = ranges[seq as usize].start - 4;
        for at in start..start + 4 {
            let (code, err) = flip_and_verify(d, &records, at);
            assert_eq!(code, 1, "length of record {seq}, byte {at}: not detected");
            assert!(err.contains("verification failed: record ") || err.contains("log/records: record "), "length of record {seq}, byte {at}: {err}");
            assert_eq!(err.lines().count(), 1, "one line per failure: {err}");
        }
    }
    // Every byte of a few tree hashes (leaf, interior, the last), one byte of every other one.
    let hashes = file(d, layout::HASHES);
    let count = merkle::stored_hash_count(RECORDS + 1);
    for index in 0..count {
        let bytes: Vec<usize> = if [0, 2, 37, count - 1].contains(&index) { (0..32).collect() } else { vec![(index % 32) as usize] };
        for at in bytes {
            let (code, err) = flip_and_verify(d, &hashes, index as usize * 32 + at);
            assert_eq!(code, 1, "tree hash {index} byte {at}: not detected");
            assert!(err.contains(&format!("tree hash {index} ")), "tree hash {index} byte {at}: {err}");
        }
    }
    // Every byte of the first, a middle and the last commit entry, every seventh of the others.
    let commits = file(d, layout::COMMITS);
    let entries = std::fs::metadata(&commits).unwrap().len() as usize / layout::COMMIT_LEN;
    assert!(entries as u64 >= RECORDS + 1, "one entry per group commit at least");
    let whole = [0, entries / 2, entries - 1];
    for at in (0..entries * layout::COMMIT_LEN).filter(|at| whole.contains(&(at / 64)) || at % 7 == 0) {
        let (code, err) = flip_and_verify(d, &commits, at);
        assert_eq!(code, 1, "commit entry {} byte {at}: not detected", at / 64);
        assert!(err.contains(&format!("commit entry {} ", at / 64)), "commit byte {at}: {err}");
    }
    // Every byte of one checkpoint frame, every fifth byte of the others: the note is checked by
    // verification, its length and size by every reader.
    let checkpoints = file(d, layout::CHECKPOINTS);
    let frames = layout::checkpoint_frames(&std::fs::read(&checkpoints).unwrap()).unwrap();
    let total = std::fs::metadata(&checkpoints).unwrap().len() as usize;
    for (i, (start, size, _)) in frames.iter().enumerate() {
        let end = frames.get(i + 1).map_or(total, |f| f.0 as usize);
        let stride = if *size == 25 { 1 } else { 5 };
        for at in (*start as usize..end).step_by(stride) {
            let (code, err) = flip_and_verify(d, &checkpoints, at);
            assert_eq!(code, 1, "checkpoint {size} byte {at}: not detected");
            assert!(err.contains("checkpoint"), "checkpoint {size} byte {at}: {err}");
            assert_eq!(err.lines().count(), 1, "one line per failure: {err}");
        }
    }
    // Everything restored: the log verifies again.
    assert_eq!(relic(d, &["verify"]).code, 0);
}

/// `log/hashes` cut short loses hashes the records need: verification names the first one missing
/// (and every other reader computes them from the records meanwhile). Bytes past the acknowledged
/// end are a write that was never acknowledged: not part of the log, removed by the next writer.
#[test]
fn hashes_cut_short_are_named_and_bytes_past_the_end_are_not_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let hashes = file(d, layout::HASHES);
    let original = std::fs::read(&hashes).unwrap();
    let count = merkle::stored_hash_count(RECORDS + 1);
    assert_eq!(original.len() as u64, count * 32);
    std::fs::write(&hashes, &original[..original.len() - 32]).unwrap();
    let out = relic(d, &["verify"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains(&format!("tree hash {} ", count - 1)), "{}", out.stderr);
    let log = relic(d, &["--json", "log"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(log.stderr.contains("log/hashes") && log.stderr.contains("computed from the records"), "{}", log.stderr);
    assert_eq!(std::fs::read(&hashes).unwrap().len(), original.len() - 32, "a reader changes nothing");

    for name in [layout::HASHES, layout::RECORDS, layout::CHECKPOINTS, layout::COMMITS] {
        let p = file(d, name);
        let before = if name == layout::HASHES { original.clone() } else { std::fs::read(&p).unwrap() };
        std::fs::write(&p, [&before[..], &[7u8; 40][..]].concat()).unwrap();
        let out = relic(d, &["verify"]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert!(out.stdout_text().contains(&format!("{} records", RECORDS + 1)), "{}", out.stdout_text());
        // The next writer cuts the unacknowledged bytes off and says so.
        let l = Ledger::open(d, relic_ledger::policy::unchecked()).unwrap();
        if name != layout::HASHES {
            assert!(l.notes().iter().any(|n| n.contains(name) && n.contains("never acknowledged")), "{name}: {:?}", l.notes());
        }
        drop(l);
        assert_eq!(std::fs::read(&p).unwrap(), before, "{name}");
    }
    assert_eq!(relic(d, &["verify"]).code, 0);
}

#[test]
fn removed_and_reordered_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let records = file(d, layout::RECORDS);
    let original = std::fs::read(&records).unwrap();
    let ranges = record_ranges(d);
    let frame = |seq: usize| original[ranges[seq].start - 4..ranges[seq].end].to_vec();
    let rebuilt = |order: &[usize]| order.iter().flat_map(|&s| frame(s)).collect::<Vec<u8>>();
    let all: Vec<usize> = (0..=RECORDS as usize).collect();

    // Swap two records of the same length.
    let mut swapped = all.clone();
    swapped.swap(5, 6);
    std::fs::write(&records, rebuilt(&swapped)).unwrap();
    let out = relic(d, &["verify"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("record 5: carries sequence number 6"), "{}", out.stderr);

    // Remove one: the file is shorter than what was acknowledged.
    let removed: Vec<usize> = all.iter().copied().filter(|&s| s != 66).collect();
    std::fs::write(&records, rebuilt(&removed)).unwrap();
    let out = relic(d, &["verify"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("log/records") && out.stderr.contains("acknowledged data is missing"), "{}", out.stderr);

    std::fs::write(&records, &original).unwrap();
    assert_eq!(relic(d, &["verify"]).code, 0);
}

/// An attacker who re-signs nothing but rewrites every derived byte: a record with a bad signature
/// followed by a gap, with the tree hashes and the commit entry recomputed over the records as they
/// now are. The bad signature comes first and is the one named, with or without --strict.
#[test]
fn a_bad_signature_is_named_before_a_later_structural_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    rewrite_record(d, 67, |r| {
        let last = r.len() - 1;
        r[last] ^= 1; // inside the signature
    });
    let original = std::fs::read(file(d, layout::RECORDS)).unwrap();
    let ranges = record_ranges(d);
    let mut records = Vec::new();
    let (mut f, mut hashes) = (merkle::Frontier::new(), Vec::new());
    for (seq, r) in ranges.iter().enumerate() {
        if seq == 68 {
            continue;
        }
        records.extend_from_slice(&original[r.start - 4..r.end]);
        hashes.extend(f.push(merkle::leaf_hash(&original[r.clone()])).into_iter().flatten());
    }
    std::fs::write(file(d, layout::RECORDS), &records).unwrap();
    std::fs::write(file(d, layout::HASHES), &hashes).unwrap();
    std::fs::write(file(d, layout::CHECKPOINTS), b"").unwrap();
    let entry = Commit { size: f.size(), records_end: records.len() as u64, checkpoints_end: 0, root: f.root() };
    std::fs::write(file(d, layout::COMMITS), entry.encode()).unwrap();
    for args in [&["verify"][..], &["verify", "--strict"]] {
        let out = relic(d, args);
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("record 67: signature does not verify"), "{args:?}: {}", out.stderr);
    }
}

fn verify_from(dir: &Path, resume: Option<&relic_ledger::verify::Resume>) -> Result<relic_ledger::verify::Report, relic_ledger::verify::VerifyError> {
    let opts = relic_ledger::verify::Options { resume, ..Default::default() };
    relic_ledger::verify::verify_dir(dir, &opts, &mut |_, _| {}).unwrap()
}

/// A verification resumed from a saved position reads only the records after it, reaches the same
/// result as a full one, and still catches what changed after the position; a log rewritten at the
/// position is refused; only a full verification sees a record altered behind the position with
/// its tree hashes left alone.
#[test]
fn a_resumed_verification_checks_what_is_new_and_that_the_log_still_ends_where_it_was_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d);
    let first = verify_from(d, None).unwrap();
    assert_eq!((first.resumed_from, first.size), (0, RECORDS + 1));
    let saved = relic_ledger::verify::Resume::decode(&first.resume.encode()).unwrap();
    assert_eq!(saved, first.resume);

    let l = Ledger::open(d, relic_ledger::policy::unchecked()).unwrap();
    for i in 0..30 {
        l.append_blocking(draft(&format!("acme/app@w{i}"), serde_json::json!({"w": i}))).unwrap();
    }
    l.checkpoint(None).unwrap();
    l.close();
    let full = verify_from(d, None).unwrap();
    let resumed = verify_from(d, Some(&saved)).unwrap();
    assert_eq!((resumed.resumed_from, resumed.size, resumed.root), (RECORDS + 1, full.size, full.root));
    assert_eq!((resumed.checkpoints, resumed.keys.clone()), (full.checkpoints, full.keys.clone()));
    assert_eq!(resumed.resume, full.resume);

    // A record after the position: found, and named.
    let after = RECORDS + 5;
    rewrite_record(d, after, |v| v[20] ^= 1);
    let err = verify_from(d, Some(&saved)).unwrap_err().to_string();
    assert!(err.starts_with(&format!("record {after}:")), "{err}");
    rewrite_record(d, after, |v| v[20] ^= 1);

    // The last record before the position, or a tree hash under it: the log no longer ends where
    // it was verified.
    rewrite_record(d, RECORDS, |v| v[20] ^= 1);
    let err = verify_from(d, Some(&saved)).unwrap_err().to_string();
    assert!(err.contains("saved verification position") && err.contains(&format!("record {RECORDS}")), "{err}");
    rewrite_record(d, RECORDS, |v| v[20] ^= 1);
    // A stored tree hash under the position (the first subtree of the tree there, part of its
    // head): derived data. Opening finds it does not give the acknowledged tree head and computes
    // the hashes from the records, so the resumed verification still sees the log it verified; a
    // full verification names the damaged hash.
    let index = merkle::stored_hash_index((RECORDS + 1).ilog2(), 0);
    let hashes = file(d, layout::HASHES);
    rewrite(&hashes, &|v| v[index as usize * 32] ^= 1);
    assert!(verify_from(d, Some(&saved)).is_ok());
    let err = verify_from(d, None).unwrap_err().to_string();
    assert!(err.contains(&format!("tree hash {index} ")), "{err}");
    rewrite(&hashes, &|v| v[index as usize * 32] ^= 1);

    // A record well behind the position, its tree hashes untouched: invisible to the resumed
    // verification (it reads nothing there), found by a full one.
    rewrite_record(d, 10, |v| v[20] ^= 1);
    assert!(verify_from(d, Some(&saved)).is_ok());
    let err = verify_from(d, None).unwrap_err().to_string();
    assert!(err.starts_with("record 10:"), "{err}");
    rewrite_record(d, 10, |v| v[20] ^= 1);

    // A position saved from another log is refused.
    let other = tempfile::tempdir().unwrap();
    build(other.path());
    let foreign = verify_from(other.path(), None).unwrap().resume;
    let err = verify_from(d, Some(&foreign)).unwrap_err().to_string();
    assert!(err.contains("saved verification position"), "{err}");
}
