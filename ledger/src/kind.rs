//! The catalogue of event kinds the log accepts, with the schema version each is written at.
//!
//! A kind outside this list is refused at append time, so a typo never becomes a permanent record.
//! Two kinds are reserved to the ledger itself and cannot be appended through [`crate::Ledger::append`]:
//! [`LEDGER_CREATED`] (always record 0) and [`KEY_ROTATED`].

/// Record 0 of every log: names the origin and introduces the first signing key.
pub const LEDGER_CREATED: &str = "ledger.created";
/// Introduces a new signing key; signed by the outgoing key. Records after it are signed by the new key.
pub const KEY_ROTATED: &str = "key.rotated";

/// (kind, current schema version). Kept sorted by domain area.
pub const CATALOGUE: &[(&str, u16)] = &[
    (LEDGER_CREATED, 1),
    (KEY_ROTATED, 1),
    ("project.registered", 1),
    ("member.role_set", 1),
    ("protected_tag.set", 1),
    ("protected_tag.removed", 1),
    ("tag.recorded", 1),
    ("milestone.recorded", 1),
    ("release.created", 1),
    ("release.updated", 1),
    ("release.deleted", 1),
    ("link.added", 2),
    ("link.updated", 1),
    ("link.deleted", 1),
    ("evidence.collected", 1),
    ("freeze.created", 1),
    ("freeze.updated", 1),
    ("freeze.deleted", 1),
    ("access.denied", 1),
    ("internal.detected", 1),
    ("internal.prepared", 1),
    ("internal.remediated", 1),
    ("internal.backported", 1),
    ("internal.released", 1),
    ("internal.finalized", 1),
    ("internal.disclosed", 1),
];

/// The current schema version of `kind`, or `None` if the kind is unknown.
pub fn schema_version(kind: &str) -> Option<u16> {
    CATALOGUE.iter().find(|(k, _)| *k == kind).map(|&(_, v)| v)
}

/// True for the kinds only the ledger writes.
pub fn is_reserved(kind: &str) -> bool {
    kind == LEDGER_CREATED || kind == KEY_ROTATED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_well_formed_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in CATALOGUE {
            crate::record::check_kind_syntax(k).unwrap();
            assert!(*v >= 1);
            assert!(seen.insert(*k), "{k} listed twice");
        }
        assert_eq!(schema_version("release.created"), Some(1));
        assert_eq!(schema_version("release.exploded"), None);
    }
}
