//! Derives the kind catalogue from its one source, the schema files in `schemas/events/`: every
//! `<kind>.v<version>.json` there becomes an entry of `SCHEMAS` (kind, version, the file's text),
//! sorted by kind, then version. Nothing else lists kinds (`src/catalogue.rs`).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../schemas/events");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(stem) = name.strip_suffix(".json") else { continue };
        if !path.is_file() {
            continue;
        }
        let (kind, version) = stem
            .rsplit_once(".v")
            .and_then(|(k, v)| Some((k.to_string(), v.parse::<u16>().ok()?)))
            .unwrap_or_else(|| panic!("{name}: a schema file is named <kind>.v<version>.json"));
        println!("cargo:rerun-if-changed={}", path.display());
        let abs = path.canonicalize().expect("the schema file exists");
        entries.push((kind, version, abs));
    }
    entries.sort();
    let mut out = String::from("/// (kind, version, schema text): every file in `schemas/events/`, by kind then version.\npub const SCHEMAS: &[(&str, u16, &str)] = &[\n");
    for (kind, version, path) in &entries {
        let _ = writeln!(out, "    ({kind:?}, {version}, include_str!({:?})),", path.display().to_string());
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schemas.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
