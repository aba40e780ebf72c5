//! A small key-value store for what other parts of relic keep beside the log (the view store,
//! `relic-projector`): derived data that can be rebuilt from the log.
//!
//! What this is: ordered byte keys and values held in memory and kept in one file, `manifest`,
//! rewritten whole through a rename on every change ([`crate::fs::write_durably`]), so that a crash
//! leaves the old file or the new one. The file is the entries (key length and value length as
//! u32 big-endian, then the key and the value, in key order) followed by the BLAKE3 hash of all of
//! them: a damaged file is noticed, and a caller that can rebuild starts afresh. A writer holds the
//! directory's lock ([`crate::lock`]); a reader ([`Kv::open_read`]) takes none and writes nothing.
//! Meant for small maps (the view store keeps a few dozen entries; its bulk is in files of its own).
//!
//! What this is not: the log's layout ([`crate::store`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{io, Error, Result};
use crate::lock::WriterLock;

/// A value as stored.
pub type Bytes = Vec<u8>;

/// The file holding the entries.
pub const MANIFEST: &str = "manifest";

/// An open key-value store. Cloning gives another handle on the same store.
#[derive(Clone)]
pub struct Kv {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Held by a writer; `None` for a reader.
    lock: Option<WriterLock>,
}

/// Changes applied all together or not at all ([`Kv::apply`]).
#[derive(Default)]
pub struct Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>);

impl Batch {
    pub fn insert(&mut self, key: &[u8], value: impl Into<Vec<u8>>) {
        self.0.push((key.to_vec(), Some(value.into())));
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.0.push((key.to_vec(), None));
    }
}

/// How opening went: a store, or why its file cannot be used (damaged, or of another program),
/// which a caller that can rebuild answers by starting afresh.
pub enum Opened {
    Ready(Kv),
    Unusable(String),
}

fn encode(map: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in map {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    let hash = blake3::hash(&out);
    out.extend_from_slice(hash.as_bytes());
    out
}

fn decode(b: &[u8]) -> std::result::Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
    let (body, hash) = b.split_at_checked(b.len().saturating_sub(32)).ok_or("too short")?;
    if hash.len() != 32 || blake3::hash(body).as_bytes() != hash {
        return Err("its hash does not match: the file is damaged".into());
    }
    let mut map = BTreeMap::new();
    let mut at = 0usize;
    while at < body.len() {
        let u = |at: usize| body.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize);
        let (Some(kl), Some(vl)) = (u(at), u(at + 4)) else { return Err("an entry is cut short".into()) };
        let k = body.get(at + 8..at + 8 + kl).ok_or("an entry is cut short")?;
        let v = body.get(at + 8 + kl..at + 8 + kl + vl).ok_or("an entry is cut short")?;
        map.insert(k.to_vec(), v.to_vec());
        at += 8 + kl + vl;
    }
    Ok(map)
}

fn load(path: &Path) -> Result<std::result::Result<BTreeMap<Vec<u8>, Vec<u8>>, String>> {
    match std::fs::read(path) {
        Ok(b) => Ok(decode(&b).map_err(|why| format!("{}: {why}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ok(BTreeMap::new())),
        Err(e) => Err(io(path)(e)),
    }
}

impl Kv {
    /// Opens (creating) the store in `dir` for writing, waiting for another writer up to
    /// [`crate::lock::LOCK_WAIT`].
    ///
    /// # Errors
    /// [`Error::Locked`] if the lock is still held after the wait.
    pub fn open(dir: &Path) -> Result<Opened> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = WriterLock::take(&dir.join(crate::layout::LOCK), dir)?;
        let path = dir.join(MANIFEST);
        Ok(match load(&path)? {
            Ok(map) => Opened::Ready(Kv { inner: Arc::new(Inner { path, map: Mutex::new(map), lock: Some(lock) }) }),
            Err(why) => Opened::Unusable(why),
        })
    }

    /// Opens the store in `dir` for reading: no lock, nothing written. A missing store is empty.
    pub fn open_read(dir: &Path) -> Result<Opened> {
        let path = dir.join(MANIFEST);
        Ok(match load(&path)? {
            Ok(map) => Opened::Ready(Kv { inner: Arc::new(Inner { path, map: Mutex::new(map), lock: None }) }),
            Err(why) => Opened::Unusable(why),
        })
    }

    /// An empty store kept nowhere, for a reader that found none it could use: reads find nothing,
    /// writes are refused.
    pub fn empty() -> Self {
        Kv { inner: Arc::new(Inner { path: PathBuf::new(), map: Mutex::new(BTreeMap::new()), lock: None }) }
    }

    /// True if opened for writing.
    pub fn writable(&self) -> bool {
        self.inner.lock.is_some()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.inner.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.map().get(key).cloned())
    }

    /// Writes one entry durably.
    pub fn put_durably(&self, key: &[u8], value: impl Into<Vec<u8>>) -> Result<()> {
        let mut b = Batch::default();
        b.insert(key, value);
        self.apply(b)
    }

    /// Every (key, value) whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> impl DoubleEndedIterator<Item = Result<(Bytes, Bytes)>> {
        let items: Vec<Result<(Bytes, Bytes)>> =
            self.map().iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| Ok((k.clone(), v.clone()))).collect();
        items.into_iter()
    }

    /// Applies `batch` atomically and durably: when this returns, the new file is in place.
    pub fn apply(&self, batch: Batch) -> Result<()> {
        if !self.writable() {
            return Err(Error::Storage(format!("{} was opened for reading", self.inner.path.display())));
        }
        let mut map = self.map();
        let mut next = map.clone();
        for (k, v) in batch.0 {
            match v {
                Some(v) => next.insert(k, v),
                None => next.remove(&k),
            };
        }
        crate::fs::write_durably(&self.inner.path, &encode(&next), None)?;
        *map = next;
        Ok(())
    }

    /// Everything applied is durable already.
    pub fn flush(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopening_and_a_damaged_file_is_unusable() {
        let t = tempfile::tempdir().unwrap();
        let Opened::Ready(kv) = Kv::open(t.path()).unwrap() else { panic!("opens") };
        let mut b = Batch::default();
        b.insert(b"sa", b"1".to_vec());
        b.insert(b"sb", b"2".to_vec());
        b.insert(b"m", b"3".to_vec());
        kv.apply(b).unwrap();
        let Opened::Ready(r) = Kv::open_read(t.path()).unwrap() else { panic!("opens") };
        assert_eq!(r.scan_prefix(b"s").map(|e| e.unwrap().1).collect::<Vec<_>>(), vec![b"1".to_vec(), b"2".to_vec()]);
        assert!(r.put_durably(b"x", b"y".to_vec()).is_err(), "a reader writes nothing");
        drop(kv);
        let p = t.path().join(MANIFEST);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[3] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        assert!(matches!(Kv::open_read(t.path()).unwrap(), Opened::Unusable(_)));
    }
}
