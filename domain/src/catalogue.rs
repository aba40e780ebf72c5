//! The kind catalogue, derived from its one source: the schema files in `schemas/events/`.
//!
//! `build.rs` turns every `<kind>.v<version>.json` there into an entry of [`SCHEMAS`]; a kind's
//! current version is its highest. Which kinds have rules of their own is said by the typed events
//! ([`crate::event::Event`], each naming the command that writes it); the ledger's own two kinds
//! are the ledger's ([`relic_ledger::kind`]); every other kind with a schema has no rules and is
//! written with `relic append`, checked against its schema. Adding a kind with rules is one schema
//! file and one typed event; adding one without is one schema file (here, or in a deployment's
//! `<data>/kinds/`, [`crate::policy`]).

include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// Who writes a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// The ledger itself (`ledger.created`, `key.rotated`).
    Ledger,
    /// A domain command, named as a user types it (`relic release create`).
    Command(&'static str),
    /// Nobody in particular: `relic append`, by a member of the subject's project.
    None,
}

/// The current (highest) schema version of a built-in kind, or `None` for a kind without a schema.
pub fn current_version(kind: &str) -> Option<u16> {
    SCHEMAS.iter().filter(|(k, _, _)| *k == kind).map(|&(_, v, _)| v).max()
}

/// Every built-in kind with its current version, sorted by kind.
pub fn kinds() -> impl Iterator<Item = (&'static str, u16)> {
    SCHEMAS.iter().enumerate().filter(|(i, (k, _, _))| SCHEMAS.get(i + 1).map_or(true, |n| n.0 != *k)).map(|(_, &(k, v, _))| (k, v))
}

/// Who writes `kind` (a built-in kind or not).
pub fn rules(kind: &str) -> Rules {
    if relic_ledger::kind::is_reserved(kind) {
        Rules::Ledger
    } else if let Some(command) = crate::event::command_for(kind) {
        Rules::Command(command)
    } else {
        Rules::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DOMAIN_KINDS;

    #[test]
    fn every_typed_event_and_ledger_kind_has_a_schema_and_versions_have_no_gaps() {
        for k in DOMAIN_KINDS.iter().chain(relic_ledger::kind::OWN.iter().map(|(k, _)| k)) {
            let v = current_version(k).unwrap_or_else(|| panic!("{k} has no schema file in schemas/events/"));
            for n in 1..=v {
                assert!(SCHEMAS.iter().any(|(x, y, _)| x == k && *y == n), "{k} v{n} is missing");
            }
        }
        for (k, v) in relic_ledger::kind::OWN {
            assert_eq!(current_version(k), Some(v), "the ledger writes {k} at v{v}");
        }
        let listed: Vec<&str> = kinds().map(|(k, _)| k).collect();
        let mut sorted = listed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(listed, sorted);
        assert_eq!(current_version("link.added"), Some(2));
        assert_eq!(current_version("release.exploded"), None);
    }

    #[test]
    fn who_writes_each_kind() {
        assert_eq!(rules("key.rotated"), Rules::Ledger);
        assert_eq!(rules("release.created"), Rules::Command("relic release create"));
        assert_eq!(rules("deployment.recorded"), Rules::None);
        for (k, _) in kinds() {
            relic_ledger::record::check_kind_syntax(k).unwrap();
        }
    }
}
