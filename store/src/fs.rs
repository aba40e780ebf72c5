//! Durable file writes: the one implementation of write-then-rename that relic's stores use for
//! files beside the log (evidence documents, view segments, positions).
//!
//! A file written with [`write_durably`] is either absent or complete after a crash: the bytes go to
//! a temporary file in the same directory, which is synced, renamed over the target, and the
//! directory synced so that the rename itself is on disk. [`write_unsynced`] does the same without
//! the syncs, for files that the commit acknowledging the records naming them makes durable, many
//! at once ([`sync_files`]: one `syncfs`; `schemas/store-v4.md` §Commits step 3).

use std::io::Write as _;
use std::path::Path;

use crate::error::{io, Result};

/// Writes `bytes` to `path` so that a crash leaves either the old file (or none) or the new one,
/// never a part of it. The temporary file is `<path>.tmp`; with `mode` (unix permissions) it is
/// created with it, so a secret is never readable by others, even briefly.
pub fn write_durably(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if let Some(m) = mode {
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, m);
    }
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path)
}

/// Writes `bytes` at `path` in place (created, or truncated and rewritten), without waiting for
/// the disk and without a temporary name: only for content-addressed files (evidence documents,
/// report artifacts), which no durable record names until [`sync_files`] has made them durable,
/// as a caller must before acknowledging anything that names them. A crash may leave such a file
/// missing, empty or cut short; no record names it then, and the next write of that content
/// finds different bytes there and writes it again. Lets many files share one sync, and costs one
/// directory entry per file instead of a temporary one and a rename.
pub fn write_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(io(path))
}

/// Makes the files [`write_unsynced`] wrote durable, with their directory entries, all at once:
/// one `syncfs(2)` of the file system `anchor` is on covers every one of them on that file system
/// (however many there are); any other is synced on its own, with its directory.
pub fn sync_files(anchor: &std::fs::File, anchor_path: &Path, paths: &[std::path::PathBuf]) -> Result<()> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::MetadataExt as _;
    if paths.is_empty() {
        return Ok(());
    }
    let dev = anchor.metadata().map_err(io(anchor_path))?.dev();
    let mut same = false;
    for p in paths {
        if std::fs::metadata(p).map_err(io(p))?.dev() == dev {
            same = true;
        } else {
            std::fs::File::open(p).and_then(|f| f.sync_all()).map_err(io(p))?;
            sync_dir(p)?;
        }
    }
    // SAFETY: syncfs takes a file descriptor, which `anchor` keeps open for the call.
    if same && unsafe { libc::syncfs(anchor.as_raw_fd()) } != 0 {
        return Err(io(anchor_path)(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Syncs the directory holding `path`, so that a file created or renamed there survives a crash.
pub fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        write_durably(&p, b"one", None).unwrap();
        write_durably(&p, b"two", Some(0o600)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!t.path().join("f.tmp").exists());
    }
}
