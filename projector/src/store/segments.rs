//! The segment format: how the entities a batch of records changed are written to one file, and
//! read back (postcard, one entry per entity, `None` for a deleted one), where segment files live,
//! and the length and BLAKE3 that the store's database keeps of each, so that a damaged file is
//! refused. What this is not: when segments are written (the updater) or how durably (the writer).

use std::path::{Path, PathBuf};

use relic_domain::event::Finding;
use relic_domain::state::{Internal, Project, Release};
use relic_store::kv::Bytes;

use super::{storage, Views};
use crate::audit::{Block, FrozenChange, Refused};
use crate::views::ViewError;

/// One entry of a segment, as written (borrowing the state).
#[derive(serde::Serialize)]
pub(super) enum EntryRef<'a> {
    P { k: &'a str, v: Option<&'a Project> },
    R { p: &'a str, k: &'a str, v: Option<&'a Release> },
    I { k: &'a str, v: Option<&'a Internal> },
    F { v: &'a FrozenChange },
    D { v: &'a Refused },
    B { k: u64, v: &'a Block },
    U { v: &'a Finding },
}

/// One entry of a segment, as read.
#[derive(serde::Deserialize)]
pub(super) enum Entry {
    P { k: String, v: Option<Project> },
    R { p: String, k: String, v: Option<Release> },
    I { k: String, v: Option<Box<Internal>> },
    F { v: FrozenChange },
    D { v: Refused },
    B { k: u64, v: Block },
    U { v: Finding },
}

pub(super) fn push_entry(out: &mut Vec<u8>, e: &EntryRef) -> Result<(), ViewError> {
    let bytes = std::mem::take(out);
    *out = postcard::to_extend(e, bytes).map_err(storage)?;
    Ok(())
}

pub(super) fn segment_dir(dir: &Path) -> PathBuf {
    dir.join("segments")
}

pub(super) fn segment_path(dir: &Path, applied: u64) -> PathBuf {
    segment_dir(dir).join(format!("{applied:020}.seg"))
}

/// The applied count a segment file is named after (`None` for any other file name).
pub(super) fn segment_number(name: &std::ffi::OsStr) -> Option<u64> {
    let name = name.to_str()?.strip_suffix(".seg")?;
    (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit())).then(|| name.parse().ok()).flatten()
}

/// The applied count in a segment's database key (`s` + u64 BE).
pub(super) fn segment_key_number(key: &[u8]) -> Result<u64, ViewError> {
    key.get(1..).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).ok_or_else(|| storage("a segment key of the wrong length"))
}

/// What the database keeps of a segment: its length and BLAKE3.
pub(super) fn segment_meta(bytes: &[u8]) -> Vec<u8> {
    let mut meta = Vec::with_capacity(40);
    meta.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    meta.extend_from_slice(blake3::hash(bytes).as_bytes());
    meta
}

/// A stored segment: its file's bytes, and what the database says they are.
pub(super) struct Segment {
    pub(super) applied: u64,
    pub(super) meta: Bytes,
    pub(super) bytes: Vec<u8>,
}

/// Checks a segment against its length and BLAKE3 and decodes its entries.
pub(super) fn parse_segment(s: &Segment) -> Result<Vec<Entry>, ViewError> {
    let bad = |why: String| storage(format!("segment at {} records {why}; run `relic projections rebuild`", s.applied));
    if s.meta.len() != 40 || s.meta[..8] != (s.bytes.len() as u64).to_be_bytes() || s.meta[8..] != *blake3::hash(&s.bytes).as_bytes() {
        return Err(bad(format!("is damaged: its file is not the {} bytes that were written", s.meta.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes))));
    }
    let mut entries = Vec::new();
    let mut rest = &s.bytes[..];
    while !rest.is_empty() {
        let (entry, tail) = postcard::take_from_bytes::<Entry>(rest).map_err(|e| bad(format!("is unreadable at byte {}: {e}", s.bytes.len() - rest.len())))?;
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}

/// Parses segments on every core, keeping their order.
pub(super) fn parse_segments(segments: &[Segment]) -> Result<Vec<Vec<Entry>>, ViewError> {
    let parse = parse_segment;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    if threads == 1 || segments.len() < 2 {
        return segments.iter().map(parse).collect();
    }
    // Segments vary in size (a compacted one holds everything): split them by bytes.
    let total: usize = segments.iter().map(|s| s.bytes.len()).sum::<usize>().max(1);
    let mut parts: Vec<&[Segment]> = Vec::new();
    let (mut start, mut acc) = (0, 0);
    for (i, s) in segments.iter().enumerate() {
        acc += s.bytes.len();
        if acc * threads >= total * (parts.len() + 1) {
            parts.push(&segments[start..=i]);
            start = i + 1;
        }
    }
    if start < segments.len() {
        parts.push(&segments[start..]);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = parts.iter().map(|part| s.spawn(move || part.iter().map(parse).collect::<Result<Vec<_>, _>>())).collect();
        let mut out = Vec::with_capacity(segments.len());
        for h in handles {
            out.extend(h.join().map_err(|_| storage("a segment parser panicked"))??);
        }
        Ok(out)
    })
}

/// Every live entity, one line each.
pub(super) fn write_all(seg: &mut Vec<u8>, v: &Views) -> Result<(), ViewError> {
    for (k, p) in &v.state.projects {
        push_entry(seg, &EntryRef::P { k, v: Some(p) })?;
        for (t, r) in &p.releases {
            push_entry(seg, &EntryRef::R { p: k, k: t, v: Some(r) })?;
        }
    }
    for (k, i) in &v.state.internal {
        push_entry(seg, &EntryRef::I { k, v: Some(i) })?;
    }
    for f in &v.audit.frozen {
        push_entry(seg, &EntryRef::F { v: f })?;
    }
    for r in &v.audit.refused {
        push_entry(seg, &EntryRef::D { v: r })?;
    }
    for f in &v.audit.findings {
        push_entry(seg, &EntryRef::U { v: f })?;
    }
    for (k, b) in &v.audit.blocks {
        push_entry(seg, &EntryRef::B { k: *k, v: b })?;
    }
    Ok(())
}
