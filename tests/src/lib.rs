//! Helpers shared by relic's cross-crate tests: running the CLI in-process, building ledgers.

use std::path::Path;

pub mod tansu;

use relic_ledger::{Actor, Draft};

/// What one CLI invocation produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `relic --data DIR ARGS…` in-process, exactly as `main` does.
pub fn relic(data: &Path, args: &[&str]) -> Output {
    let mut full: Vec<std::ffi::OsString> = vec!["relic".into(), "--data".into(), data.into()];
    full.extend(args.iter().map(Into::into));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = relic_cli::run(full, &mut out, &mut err);
    Output { code, stdout: out, stderr: String::from_utf8_lossy(&err).into_owned() }
}

/// A draft of the made-up kind `test.updated` with a small JSON payload, for tests of the log
/// itself (ledgers opened with `relic_ledger::policy::Unchecked`).
pub fn draft(subject: &str, payload: serde_json::Value) -> Draft {
    Draft {
        actor: Actor { id: "tester".into(), role: "maintainer".into() },
        kind: "test.updated".into(),
        subject: subject.into(),
        payload: payload.to_string().into_bytes(),
        schema_version: 1,
    }
}

/// Every file under `dir` with its exact bytes (directories by their paths): a data directory's
/// state, to show that a command changed no byte of it.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Option<Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.insert(p.clone(), None);
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).ok());
            }
        }
    }
    out
}

/// Copies the directory `from` to `to`, recursively (a data directory, as an attacker or a backup
/// would copy it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
