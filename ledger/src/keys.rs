//! Private key files: `<data>/keys/<key id hex>.key`, mode 0600 in a directory of mode 0700.
//!
//! A key file holds one line, Go's `PRIVATE+KEY+<name>+<key id>+<base64>` form. It is created with
//! `O_CREAT|O_EXCL` and mode 0600 from the start (never widened after writing), synced, and never
//! printed or logged. A key file readable by group or others is refused, as ssh refuses one.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{io, Error, Result};
use crate::note::{key_id_hex, SignerKey};

pub fn keys_dir(data: &Path) -> PathBuf {
    data.join("keys")
}

pub fn key_path(data: &Path, key_id: &[u8; 4]) -> PathBuf {
    keys_dir(data).join(format!("{}.key", key_id_hex(key_id)))
}

/// Writes a new key file; fails if one with that ID exists.
pub fn write_key(data: &Path, key: &SignerKey) -> Result<PathBuf> {
    let dir = keys_dir(data);
    fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io(&dir))?;
    let path = key_path(data, &key.key_id());
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io(&path))?;
    f.write_all(key.to_private_text().as_bytes()).map_err(io(&path))?;
    f.write_all(b"\n").map_err(io(&path))?;
    f.sync_all().map_err(io(&path))?;
    fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io(&dir))?;
    Ok(path)
}

/// Reads the key file for `key_id`, checking its mode and that it holds that key.
pub fn read_key(data: &Path, key_id: &[u8; 4]) -> Result<SignerKey> {
    let path = key_path(data, key_id);
    let meta = fs::metadata(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Key(format!("{} is missing; the ledger's current key is {}", path.display(), key_id_hex(key_id)))
        } else {
            Error::Io { path: path.clone(), source: e }
        }
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Key(format!(
            "{} is accessible by others (mode {mode:o}); run `chmod 600` on it",
            path.display()
        )));
    }
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let key = SignerKey::parse(text.trim_end()).map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
    if &key.key_id() != key_id {
        return Err(Error::Key(format!(
            "{} holds key {}, not the ledger's current key {}",
            path.display(),
            key_id_hex(&key.key_id()),
            key_id_hex(key_id)
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let k = SignerKey::generate("example.test/log").unwrap();
        let p = write_key(dir.path(), &k).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(keys_dir(dir.path())).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(read_key(dir.path(), &k.key_id()).unwrap().verifier(), k.verifier());
        assert!(write_key(dir.path(), &k).is_err(), "never overwrites a key");

        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_key(dir.path(), &k.key_id()).unwrap_err().to_string().contains("chmod 600"));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();

        let other = SignerKey::generate("example.test/log").unwrap();
        fs::copy(&p, key_path(dir.path(), &other.key_id())).unwrap();
        fs::set_permissions(key_path(dir.path(), &other.key_id()), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_key(dir.path(), &other.key_id()).unwrap_err().to_string().contains("not the ledger's current key"));
        fs::remove_file(&p).unwrap();
        assert!(read_key(dir.path(), &k.key_id()).unwrap_err().to_string().contains("missing"));
    }
}
