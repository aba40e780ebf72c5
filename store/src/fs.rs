//! Durable file writes: the one implementation of write-then-rename that relic's stores use for
//! files beside the log (evidence documents, view segments, positions).
//!
//! A file written with [`write_durably`] is either absent or complete after a crash: the bytes go to
//! a temporary file in the same directory, which is synced, renamed over the target, and the
//! directory synced so that the rename itself is on disk.

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
