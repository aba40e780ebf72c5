//! Durability of the view store: each save writes its segment file durably (write, sync, rename,
//! sync the directory), then commits the database batch that names it, then removes the files it
//! replaced, on a thread of its own so that applying the next records overlaps the flush. Each
//! step is safe to interrupt (the module doc of [`super`]).

use std::path::Path;

use relic_store::kv::{Batch, Kv};

use super::segments::{segment_dir, segment_meta, segment_path};
use super::{seq_key, storage, ViewStore};
use crate::views::ViewError;

/// One save, for the writer thread: the segment file it adds (if the batch changed anything), the
/// database batch that commits it, and the segments it replaces (their keys are already removed in
/// `batch`; their files go once the batch is on disk).
pub(super) struct Save {
    pub(super) segment: Option<(u64, Vec<u8>)>,
    pub(super) batch: Batch,
    pub(super) obsolete: Vec<u64>,
}

/// Writes a save in the order that makes each step safe to interrupt (module doc).
pub(super) fn write_save(db: &Kv, dir: &Path, save: Save) -> Result<(), String> {
    let Save { segment, mut batch, obsolete } = save;
    let io = |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
    if let Some((applied, bytes)) = segment {
        let segments = segment_dir(dir);
        std::fs::create_dir_all(&segments).map_err(|e| io("cannot create", &segments, e))?;
        let path = segment_path(dir, applied);
        relic_store::fs::write_durably(&path, &bytes, None).map_err(|e| e.to_string())?;
        batch.insert(&seq_key(b's', applied), segment_meta(&bytes));
    }
    db.apply(batch).map_err(|e| e.to_string())?;
    for applied in obsolete {
        let path = segment_path(dir, applied);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot remove", &path, e)),
        }
    }
    Ok(())
}

/// Writes saved batches on a thread of its own, in order, so that applying the next records
/// overlaps the flush of the last batches. At most two batches wait.
#[derive(Default)]
pub(super) struct Writer {
    tx: Option<std::sync::mpsc::SyncSender<Save>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Writer {
    pub(super) fn send(&mut self, store: &ViewStore, save: Save) -> Result<(), ViewError> {
        if self.tx.is_none() {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Save>(2);
            let (db, dir) = (store.db.clone(), store.dir.clone());
            self.thread = Some(std::thread::spawn(move || {
                for save in rx {
                    write_save(&db, &dir, save)?;
                }
                Ok(())
            }));
            self.tx = Some(tx);
        }
        match self.tx.as_ref().map(|tx| tx.send(save)) {
            Some(Ok(())) => Ok(()),
            // The writer stopped: its error says why.
            _ => self.wait(),
        }
    }

    /// Waits until everything sent is on disk.
    pub(super) fn wait(&mut self) -> Result<(), ViewError> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(storage(e)),
            Some(Err(_)) => Err(storage("the writer thread panicked")),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.wait();
    }
}
