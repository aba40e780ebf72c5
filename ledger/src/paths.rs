//! Which files outside relic's own code a command may touch inside a data directory.
//!
//! A data directory holds the log's store, its signing keys (`keys/`, [`crate::keys`]), evidence
//! documents and the views. Commands that take a path from the user must not become a way around
//! that: nothing is written anywhere inside the data directory through a user's path (`report
//! compliance --output <data>/keys/<id>.key` would destroy the signing key), and nothing under
//! `keys/` is read as a payload, a release's notes or a report artifact (it would put the private
//! key into the signed, mirrored log).
//!
//! Paths are compared after resolving symbolic links and `..` (of the path, or for a file that does
//! not exist yet, of its directory), so neither spelling nor a link gets around the check.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `path` made absolute with links resolved: itself if it exists, else its parent resolved and its
/// file name appended. `None` if neither can be resolved (the caller's own open then fails).
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    Some(parent.join(name))
}

/// `path` made absolute and with `.` and `..` taken away by spelling alone (`a/x/../b` is `a/b`
/// whether or not `x` exists).
fn lexical(path: &Path) -> Option<PathBuf> {
    let mut out = if path.is_absolute() { PathBuf::new() } else { std::env::current_dir().ok()? };
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Whether `path` lies inside `dir`, by its resolved links or by its spelling.
fn within(path: &Path, dir: &Path) -> bool {
    let by_links = matches!((resolve(path), dir.canonicalize()), (Some(p), Ok(d)) if p.starts_with(&d));
    let by_spelling = matches!((lexical(path), lexical(dir)), (Some(p), Some(d)) if p.starts_with(&d));
    by_links || by_spelling
}

/// Refuses `path` as a place to write a user's output (`flag` names the option) if it lies inside
/// the data directory `data`.
///
/// # Errors
/// [`Error::PathRefused`] naming the flag and the path.
pub fn check_output(data: &Path, flag: &str, path: &Path) -> Result<()> {
    if within(path, data) {
        return Err(Error::PathRefused {
            path: path.to_path_buf(),
            why: format!("{flag} may not write inside the data directory {}; choose a path outside it", data.display()),
        });
    }
    Ok(())
}

/// Refuses `path` as a file to read into the log or a report (`flag` names the option) if it lies
/// under the data directory's `keys/`.
///
/// # Errors
/// [`Error::PathRefused`] naming the flag and the path.
pub fn check_input(data: &Path, flag: &str, path: &Path) -> Result<()> {
    if within(path, &crate::keys::keys_dir(data)) {
        return Err(Error::PathRefused { path: path.to_path_buf(), why: format!("{flag} may not read the ledger's signing keys") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_the_data_directory_are_refused_however_spelled() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        std::fs::create_dir_all(data.join("keys")).unwrap();
        std::fs::write(data.join("keys/k.key"), b"secret").unwrap();
        std::os::unix::fs::symlink(data.join("keys"), t.path().join("link")).unwrap();
        for p in [data.join("keys/k.key"), data.join("x/../keys/k.key"), t.path().join("link/k.key"), data.join("report.json")] {
            assert!(check_output(&data, "--output", &p).is_err(), "{}", p.display());
        }
        for p in [data.join("keys/k.key"), data.join("keys/../keys/k.key"), t.path().join("link/k.key")] {
            let e = check_input(&data, "--notes-file", &p).unwrap_err().to_string();
            assert!(e.contains("--notes-file may not read the ledger's signing keys"), "{e}");
        }
        assert!(check_output(&data, "--output", &t.path().join("report.json")).is_ok());
        assert!(check_input(&data, "--payload", &data.join("payload.json")).is_ok());
        assert!(check_input(&data, "--payload", Path::new("-")).is_ok());
    }
}
