//! The gate the ledger is opened with ([`relic_ledger::Policy`]): the domain's answer, for each
//! draft, to "does this kind exist, at this version, is the payload well formed, and may it come in
//! through this door?".
//!
//! - A kind is one of the catalogue's ([`crate::catalogue`], from `schemas/events/`) or one a
//!   deployment added with a schema file of its own in `<data>/kinds/<kind>.v<version>.json`.
//! - Its schema version is the kind's current one, and the payload validates against that schema.
//! - A kind with rules of its own ([`crate::catalogue::Rules::Command`]) comes in only through
//!   [`Door::Decided`], that is from [`crate::service::Service`] after its command was decided; a
//!   raw append of one is refused with a line naming the command to use.
//!
//! What this is not: the rules that need the log's state. Who may write (the role from the
//! project's membership as the log records it) is decided before a draft exists, by
//! [`crate::decide`]; the policy sees one draft at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use relic_ledger::{Door, Draft};

use crate::catalogue::{self, Rules};
use crate::schema::{self, SchemaError};

/// Where a deployment keeps the schemas of its own kinds, inside the data directory.
pub fn kinds_dir(data: &Path) -> PathBuf {
    data.join("kinds")
}

/// Why a deployment's kinds could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: a kind's schema file is named <kind>.v<version>.json, the kind words of lower-case letters, digits and '_' joined by '.' (cab.approved.v1.json)")]
    Name(PathBuf),
    #[error("{path}: {kind} is a built-in kind; a deployment adds only kinds of its own")]
    BuiltIn { path: PathBuf, kind: String },
    #[error("{path}: not a usable JSON Schema: {reason}")]
    Schema { path: PathBuf, reason: String },
}

/// A deployment's own kind: its current version and that version's schema.
struct Extra {
    version: u16,
    validator: jsonschema::Validator,
}

/// The release domain's policy.
pub struct DomainPolicy {
    extra: BTreeMap<String, Extra>,
}

impl DomainPolicy {
    /// The built-in kinds only.
    pub fn built_in() -> Self {
        Self { extra: BTreeMap::new() }
    }

    /// The built-in kinds and the deployment's own, from `<data>/kinds/` (absent: none).
    ///
    /// # Errors
    /// A file there that cannot be read, is misnamed, names a built-in kind or is not a JSON Schema.
    pub fn load(data: &Path) -> Result<Self, PolicyError> {
        let dir = kinds_dir(data);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::built_in()),
            Err(source) => return Err(PolicyError::Io { path: dir, source }),
        };
        let mut extra = BTreeMap::new();
        for entry in entries {
            let path = entry.map_err(|source| PolicyError::Io { path: dir.clone(), source })?.path();
            let (kind, version) = parse_name(&path).ok_or_else(|| PolicyError::Name(path.clone()))?;
            if catalogue::current_version(&kind).is_some() || catalogue::rules(&kind) != Rules::None {
                return Err(PolicyError::BuiltIn { path, kind });
            }
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io { path: path.clone(), source })?;
            let validator = schema::compile(&text).map_err(|reason| PolicyError::Schema { path: path.clone(), reason })?;
            let newer = extra.get(&kind).map_or(true, |e: &Extra| e.version < version);
            if newer {
                extra.insert(kind, Extra { version, validator });
            }
        }
        Ok(Self { extra })
    }

    /// [`DomainPolicy::load`], shared, as [`relic_ledger::Ledger::open`] takes it.
    pub fn for_data(data: &Path) -> Result<Arc<dyn relic_ledger::Policy>, PolicyError> {
        Ok(Arc::new(Self::load(data)?))
    }

    /// Every kind a raw append may write (built-in kinds without rules, then the deployment's),
    /// with its current version.
    pub fn raw_kinds(&self) -> Vec<(String, u16)> {
        let built_in = catalogue::kinds().filter(|(k, _)| catalogue::rules(k) == Rules::None).map(|(k, v)| (k.to_string(), v));
        built_in.chain(self.extra.iter().map(|(k, e)| (k.clone(), e.version))).collect()
    }

    /// The current version of `kind`, built-in or the deployment's.
    pub fn current_version(&self, kind: &str) -> Option<u16> {
        catalogue::current_version(kind).or_else(|| self.extra.get(kind).map(|e| e.version))
    }

    fn check_payload(&self, draft: &Draft) -> Result<(), SchemaError> {
        let invalid = |reason: String| SchemaError::Invalid { kind: draft.kind.clone(), version: draft.schema_version, pointer: String::new(), reason };
        let payload: serde_json::Value = serde_json::from_slice(&draft.payload).map_err(|e| invalid(e.to_string()))?;
        match self.extra.get(&draft.kind) {
            Some(e) => schema::check(&e.validator, &draft.kind, draft.schema_version, &payload),
            None => schema::validate(&draft.kind, draft.schema_version, &payload),
        }
    }
}

/// `<kind>.v<version>.json` → (kind, version), if the kind is well formed.
fn parse_name(path: &Path) -> Option<(String, u16)> {
    let name = path.file_name()?.to_str()?.strip_suffix(".json")?;
    let (kind, version) = name.rsplit_once(".v")?;
    let version: u16 = version.parse().ok().filter(|v| *v >= 1)?;
    relic_ledger::record::check_kind_syntax(kind).ok()?;
    Some((kind.to_string(), version))
}

impl relic_ledger::Policy for DomainPolicy {
    fn schema_version(&self, kind: &str) -> Option<u16> {
        self.current_version(kind)
    }

    fn admit(&self, draft: &Draft, door: Door) -> Result<(), String> {
        let kind = draft.kind.as_str();
        match (catalogue::rules(kind), door) {
            (Rules::Ledger, _) => return Err(format!("kind {kind:?} is written by the ledger itself and cannot be appended")),
            (Rules::Command(_), Door::Raw) if kind == crate::event::ACCESS_DENIED => {
                return Err(format!("kind {kind:?} is recorded by relic itself when it refuses a command; it cannot be appended"))
            }
            (Rules::Command(cmd), Door::Raw) => {
                return Err(format!("kind {kind:?} has rules of its own: write it with `{cmd}`, not `relic append`"))
            }
            _ => {}
        }
        let current = self
            .current_version(kind)
            .ok_or_else(|| format!("unknown kind {kind:?}; `relic kinds` lists the kinds the log accepts"))?;
        if draft.schema_version != current {
            return Err(format!("kind {kind:?} is written at schema version {current}, not {}", draft.schema_version));
        }
        self.check_payload(draft).map_err(|e| e.to_string())
    }
}
