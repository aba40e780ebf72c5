//! JSON Schema validation of event payloads, and upcasting of older payload versions.
//!
//! Every payload version of every built-in kind (those with rules, [`crate::event`], those without,
//! and the ledger's own `ledger.created` and `key.rotated`) is described by a JSON Schema (draft
//! 2020-12) in `schemas/events/<kind>.v<version>.json` ([`crate::catalogue`]). The files are embedded at compile time and compiled once,
//! on first use; format assertions (`date-time`, `date`) are on, as in most standalone validators.
//!
//! Evolution (`schemas/events/README.md`): adding an optional field keeps a kind's version; any
//! other change adds a version, with its own schema file and an upcaster here from the version
//! before. Records are never rewritten: an old record is read at the version it was written at,
//! checked against that version's schema, then [`upcast`] step by step to the current version
//! (its highest schema file, [`crate::catalogue`]), which is the only version appended.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::catalogue::{current_version, SCHEMAS};

/// A conversion of a payload of `(kind, version)` to `version + 1`. Its input has been validated
/// against the older schema; its output is validated against the newer one.
type Upcaster = fn(Value) -> Result<Value, String>;

/// (kind, from version, upcaster to from + 1). Every version below a kind's current one needs one.
const UPCASTERS: &[(&str, u16, Upcaster)] = &[
    ("link.added", 1, link_added_v1_to_v2),
    ("internal.released", 1, internal_released_v1_to_v2),
    ("token.issued", 1, token_issued_v1_to_v2),
    ("internal.detected", 1, internal_detected_v1_to_v2),
    ("internal.disclosed", 1, internal_disclosed_v1_to_v2),
];

/// `internal.detected` v1 → v2: v1 wrote the title in clear, and committed to nothing (v2 allows
/// that shape only for such records: relic writes a commitment instead).
fn internal_detected_v1_to_v2(mut payload: Value) -> Result<Value, String> {
    let o = payload.as_object_mut().ok_or("the payload is not an object")?;
    o.insert("title_commitment".into(), Value::Null);
    Ok(payload)
}

/// `internal.disclosed` v1 → v2: nothing was committed to, so nothing is revealed.
fn internal_disclosed_v1_to_v2(mut payload: Value) -> Result<Value, String> {
    let o = payload.as_object_mut().ok_or("the payload is not an object")?;
    o.insert("title".into(), Value::Null);
    o.insert("title_salt".into(), Value::Null);
    Ok(payload)
}

/// `token.issued` v1 → v2: v1 tokens had no name; it reads as none given.
fn token_issued_v1_to_v2(mut payload: Value) -> Result<Value, String> {
    let o = payload.as_object_mut().ok_or("the payload is not an object")?;
    o.insert("name".into(), Value::Null);
    Ok(payload)
}

/// `internal.released` v1 → v2: v1 did not record the version scheme; it reads as not recorded.
fn internal_released_v1_to_v2(mut payload: Value) -> Result<Value, String> {
    let o = payload.as_object_mut().ok_or("the payload is not an object")?;
    o.insert("version_scheme".into(), Value::Null);
    Ok(payload)
}

/// `link.added` v1 → v2: the link's `filepath` (the reference API's older name) is now
/// `direct_asset_path`.
fn link_added_v1_to_v2(mut payload: Value) -> Result<Value, String> {
    let link = payload.get_mut("link").and_then(Value::as_object_mut).ok_or("`link` is not an object")?;
    let path = link.remove("filepath").ok_or("`link.filepath` is missing")?;
    link.insert("direct_asset_path".into(), path);
    Ok(payload)
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// There is no schema for this kind at this version.
    #[error("{kind} v{version}: {}", unknown_text(*.latest))]
    Unknown {
        kind: String,
        version: u16,
        /// The kind's current version, if the kind is known.
        latest: Option<u16>,
    },
    /// The payload does not match its schema; `pointer` is the JSON pointer of the first failure
    /// (empty for the payload itself).
    #[error("{kind} v{version}: payload does not match its schema at {}: {reason}", pointer_text(.pointer))]
    Invalid { kind: String, version: u16, pointer: String, reason: String },
    /// An older payload could not be converted (a bug in relic, not in the record).
    #[error("{kind} v{version}: cannot upcast to v{target}: {reason}")]
    Upcast { kind: String, version: u16, target: u16, reason: String },
    /// An embedded schema does not compile (a bug in relic, caught by the tests).
    #[error("{kind} v{version}: the embedded schema is invalid: {reason}")]
    Schema { kind: String, version: u16, reason: String },
}

fn unknown_text(latest: Option<u16>) -> String {
    match latest {
        None => "unknown event kind".into(),
        Some(v) => format!("no schema for this version (the kind's versions are 1 to {v})"),
    }
}

fn pointer_text(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the top level"
    } else {
        pointer
    }
}

/// Longest `reason` in an [`SchemaError::Invalid`], in characters: the validator quotes the
/// offending value, which can be a whole release description.
const MAX_REASON: usize = 200;

fn one_line(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() <= MAX_REASON {
        flat
    } else {
        let mut cut: String = flat.chars().take(MAX_REASON - 1).collect();
        cut.push('…');
        cut
    }
}

type Compiled<F = jsonschema::json::SerdeJson> = Result<jsonschema::Validator<F>, String>;

/// Every schema, compiled with the same options for the instance representation `F`.
fn compile_all<F: jsonschema::json::Json>() -> HashMap<(&'static str, u16), Compiled<F>> {
    SCHEMAS
        .iter()
        .map(|&(kind, version, text)| ((kind, version), compile(text)))
        .collect()
}

/// Compiles one schema's text with relic's options (draft 2020-12, formats asserted).
pub(crate) fn compile<F: jsonschema::json::Json>(text: &str) -> Compiled<F> {
    serde_json::from_str::<Value>(text).map_err(|e| e.to_string()).and_then(|schema| {
        jsonschema::options_for::<F>()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(false)
            .build(&schema)
            .map_err(|e| one_line(&e.to_string()))
    })
}

/// The first failure of `payload` against `validator`, as [`SchemaError::Invalid`].
pub(crate) fn check(validator: &jsonschema::Validator, kind: &str, version: u16, payload: &Value) -> Result<(), SchemaError> {
    // The boolean check is the fast path (no error values are built); only a payload that fails
    // it is validated again for the first error's location and text.
    if validator.is_valid(payload) {
        return Ok(());
    }
    validator.validate(payload).map_err(|e| SchemaError::Invalid {
        kind: kind.into(),
        version,
        pointer: e.instance_path().as_str().to_string(),
        reason: one_line(&e.to_string()),
    })
}

fn validators() -> &'static HashMap<(&'static str, u16), Compiled> {
    static VALIDATORS: OnceLock<HashMap<(&'static str, u16), Compiled>> = OnceLock::new();
    VALIDATORS.get_or_init(compile_all)
}

/// Whether `payload`, read in place, matches the schema of `kind` at `version`: the same verdict as
/// [`validate`] on the same JSON as a `Value`, without the error. False for an unknown kind or
/// version, so that the caller's fallback to [`validate`] names the problem.
pub(crate) fn is_valid_in_place(kind: &str, version: u16, payload: &crate::payload::Tree<'_>) -> bool {
    static VALIDATORS: OnceLock<HashMap<(&'static str, u16), Compiled<crate::payload::PayloadJson>>> = OnceLock::new();
    let compiled = VALIDATORS.get_or_init(compile_all).get(&(kind, version));
    compiled.is_some_and(|c| c.as_ref().is_ok_and(|v| v.is_valid(payload)))
}

fn unknown(kind: &str, version: u16) -> SchemaError {
    SchemaError::Unknown { kind: kind.into(), version, latest: current_version(kind) }
}

/// Checks `payload` against the schema of `kind` at `version`.
pub fn validate(kind: &str, version: u16, payload: &Value) -> Result<(), SchemaError> {
    let compiled = validators().get(&(kind, version)).ok_or_else(|| unknown(kind, version))?;
    let validator = compiled
        .as_ref()
        .map_err(|reason| SchemaError::Schema { kind: kind.into(), version, reason: reason.clone() })?;
    check(validator, kind, version, payload)
}

/// Reads a payload written at `version`: checks it against that version's schema, then converts it
/// step by step to the kind's current version, checking each step's result. A payload already at
/// the current version is returned unchanged.
pub fn upcast(kind: &str, version: u16, payload: Value) -> Result<Value, SchemaError> {
    validate(kind, version, &payload)?;
    let current = current_version(kind).ok_or_else(|| unknown(kind, version))?;
    if version > current {
        return Err(unknown(kind, version));
    }
    let (mut v, mut p) = (version, payload);
    while v < current {
        let step = UPCASTERS.iter().find(|(k, from, _)| *k == kind && *from == v).map(|&(_, _, f)| f);
        let fail = |reason: String| SchemaError::Upcast { kind: kind.into(), version, target: v + 1, reason };
        let step = step.ok_or_else(|| fail("no upcaster from this version".into()))?;
        p = step(p).map_err(fail)?;
        v += 1;
        validate(kind, v, &p)?;
    }
    Ok(p)
}

/// The schema of `kind` at `version`, as shipped in `schemas/events/`.
pub fn schema_text(kind: &str, version: u16) -> Option<&'static str> {
    SCHEMAS.iter().find(|(k, v, _)| *k == kind && *v == version).map(|&(_, _, text)| text)
}

/// Every (kind, version) that has a schema, oldest version of each kind first.
pub fn versions() -> impl Iterator<Item = (&'static str, u16)> {
    SCHEMAS.iter().map(|&(k, v, _)| (k, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the tests' records (which refer to no text kept beside the log) would find texts.
    fn no_texts() -> relic_ledger::text_store::TextStore {
        relic_ledger::text_store::TextStore::new(std::path::Path::new("/nonexistent"))
    }
    use crate::event::*;
    use serde_json::json;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    fn events_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/events")
    }

    fn current(kind: &str) -> u16 {
        current_version(kind).unwrap_or_else(|| panic!("{kind} has no schema"))
    }

    fn schema_json(kind: &str, version: u16) -> Value {
        serde_json::from_str(schema_text(kind, version).unwrap()).unwrap()
    }

    const DIGEST: &str = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4";

    fn artifact() -> Artifact {
        Artifact { name: "junit.xml".into(), blake3: DIGEST.into(), size: 48213 }
    }

    fn link(id: u64, path: Option<&str>, link_type: LinkType) -> Link {
        Link {
            id,
            name: format!("asset {id}"),
            url: format!("https://downloads.acme.test/payments/4.0.0/asset-{id}"),
            direct_asset_path: path.map(str::to_string),
            link_type,
        }
    }

    /// One realistic instance of every payload struct, all optional fields set.
    fn full() -> Vec<Event> {
        let p = || "acme/payments".to_string();
        let t = |s: &str| s.to_string();
        vec![
            Event::ProjectRegistered(ProjectRegistered {
                project: p(),
                id: 7,
                name: t("Payments"),
                description: Some(t("Card and ledger services")),
                created_at: t("2026-01-12T09:00:00Z"),
            }),
            Event::MemberRoleSet(MemberRoleSet { project: p(), user: t("bob"), role: Role::Maintainer }),
            Event::ProtectedTagSet(ProtectedTagSet { project: p(), pattern: t("v*"), create_access_level: Role::Maintainer }),
            Event::ProtectedTagRemoved(ProtectedTagRemoved { project: p(), pattern: t("v*") }),
            Event::TagRecorded(TagRecorded {
                project: p(),
                name: t("v4.0.0"),
                git_ref: t("main"),
                commit: Some(t("3f2a9c1e8b7d6054a1f2e3d4c5b6a7980f1e2d3c")),
                message: Some(t("Payments 4.0.0")),
            }),
            Event::MilestoneRecorded(MilestoneRecorded {
                project: p(),
                id: 31,
                iid: 4,
                title: t("v4.0"),
                description: Some(t("The 4.0 release")),
                state: t("active"),
                created_at: t("2026-03-02T08:30:00Z"),
                due_date: Some(t("2026-06-01")),
                issues: vec![Issue {
                    id: 902,
                    iid: 119,
                    title: t("Card number in logs"),
                    description: Some(t("PAN visible in debug logs")),
                    state: t("closed"),
                    confidential: true,
                    created_at: t("2026-03-04T11:00:00.250+01:00"),
                    due_date: Some(t("2026-05-15")),
                }],
            }),
            Event::ReleaseCreated(ReleaseCreated {
                project: p(),
                id: 3,
                tag_name: t("v4.0.0"),
                name: t("Payments 4.0.0"),
                description: Some(t("Refunds API and FX fixes.")),
                git_ref: Some(t("main")),
                commit: Some(t("3f2a9c1e8b7d6054a1f2e3d4c5b6a7980f1e2d3c")),
                created_at: t("2026-06-01T10:00:00Z"),
                released_at: t("2026-06-01T10:00:00Z"),
                milestones: vec![t("v4.0")],
                links: vec![link(11, Some("/binaries/payments-linux-amd64"), LinkType::Package), link(12, None, LinkType::Runbook)],
                report_artifacts: vec![artifact()],
            }),
            Event::ReleaseUpdated(ReleaseUpdated {
                project: p(),
                tag_name: t("v4.0.0"),
                name: Some(t("Payments 4.0.0 (LTS)")),
                description: Some(t("Refunds API, FX fixes.")),
                released_at: Some(t("2026-06-02T10:00:00Z")),
                milestones: Some(vec![t("v4.0"), t("v4.0-hardening")]),
            }),
            Event::ReleaseDeleted(ReleaseDeleted { project: p(), tag_name: t("v4.0.0-rc1") }),
            Event::LinkAdded(LinkAdded {
                project: p(),
                tag_name: t("v4.0.0"),
                link: link(13, Some("/docs/runbook.md"), LinkType::Runbook),
            }),
            Event::LinkUpdated(LinkUpdated {
                project: p(),
                tag_name: t("v4.0.0"),
                link: link(13, Some("/images/payments.oci"), LinkType::Image),
            }),
            Event::LinkDeleted(LinkDeleted { project: p(), tag_name: t("v4.0.0"), id: 13 }),
            Event::EvidenceCollected(EvidenceCollected {
                project: p(),
                tag_name: t("v4.0.0"),
                release_id: 3,
                id: 5,
                sha: DIGEST.into(),
                filepath: crate::evidence::document_path(DIGEST),
                collected_at: t("2026-06-01T10:00:00Z"),
                reason: EvidenceReason::Scheduled,
                scheduled_at: Some(t("2026-06-01T10:00:00Z")),
                report_artifacts: vec![artifact()],
                redacted_issues: 1,
            }),
            Event::FreezeCreated(FreezeCreated {
                project: p(),
                id: 2,
                freeze_start: t("0 23 * * 5"),
                freeze_end: t("0 7 * * 1"),
                cron_timezone: t("Europe/Berlin"),
            }),
            Event::FreezeUpdated(FreezeUpdated {
                project: p(),
                id: 2,
                freeze_start: t("0 22 * * 5"),
                freeze_end: t("0 7 * * 1"),
                cron_timezone: t("UTC"),
            }),
            Event::FreezeDeleted(FreezeDeleted { project: p(), id: 2 }),
            Event::AccessDenied(AccessDenied {
                project: p(),
                command: t("release create"),
                target: t("v4.0.0"),
                reason: t("You are not allowed to create this tag as it is protected."),
                actor_role: Role::Developer.as_str().into(),
                required_role: Role::Maintainer,
            }),
            Event::InternalDetected(InternalDetected {
                id: t("INT-2026-004"),
                project: p(),
                kind: InternalKind::Vulnerability,
                severity: 1,
                title: None,
                title_commitment: Some(crate::confidential::Secret::new("Refund amount not bounded by capture", [0x11; 32]).commitment),
                detected_at: t("2026-06-10T14:05:00Z"),
                reported_by: t("security-incident-response"),
            }),
            Event::InternalPrepared(InternalPrepared {
                id: t("INT-2026-004"),
                release_issue: t("acme/release-tasks#512"),
                notified: vec![t("single-tenant-ops")],
                targets: vec![t("3.9"), t("3.8")],
                prepared_at: t("2026-06-10T16:00:00Z"),
            }),
            Event::InternalRemediated(InternalRemediated {
                id: t("INT-2026-004"),
                default_branch_commit: t("9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c"),
                multi_tenant_deployed_at: t("2026-06-11T09:30:00+02:00"),
                security_verified_by: Some(t("appsec:carol")),
                remediated_at: t("2026-06-11T11:00:00Z"),
            }),
            Event::InternalBackported(InternalBackported {
                id: t("INT-2026-004"),
                target: t("3.9"),
                merge_request: t("acme/payments!2231"),
                approved: true,
                pipeline: t("success"),
                merged_commit: t("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"),
                merged_at: t("2026-06-12T08:00:00Z"),
            }),
            Event::InternalReleased(InternalReleased {
                id: t("INT-2026-004"),
                packages: vec![
                    InternalPackage { version: t("3.9.5-internal.1"), name: t("payments.tar.gz"), digest: format!("sha256:{DIGEST}") },
                    InternalPackage { version: t("3.8.12-internal.1"), name: t("payments.tar.gz"), digest: format!("blake3:{DIGEST}") },
                ],
                released_at: t("2026-06-12T12:00:00Z"),
                version_scheme: Some(t(crate::internal::DEFAULT_SCHEME)),
            }),
            Event::InternalFinalized(InternalFinalized {
                id: t("INT-2026-004"),
                rollout_completed_at: t("2026-06-13T06:00:00Z"),
                notified: vec![t("single-tenant-customers")],
                emergency_maintenance: t("acme/ops#7781"),
            }),
            Event::InternalDisclosed(InternalDisclosed {
                id: t("INT-2026-004"),
                public_versions: vec![t("3.9.5"), t("3.8.12")],
                disclosed_at: t("2026-06-24T10:00:00Z"),
                title: Some(t("Refund amount not bounded by capture")),
                title_salt: Some("11".repeat(32)),
            }),
            Event::TokenIssued(crate::event::TokenIssued {
                token_id: t("3f2a9c0d5e6b7a18"),
                user: t("ci-bot"),
                name: Some(t("release pipeline")),
                expires_at: Some(t("2027-01-01T00:00:00Z")),
                issued_at: t("2026-11-30T09:00:00Z"),
            }),
            Event::TokenRevoked(crate::event::TokenRevoked { token_id: t("3f2a9c0d5e6b7a18"), user: t("ci-bot"), revoked_at: t("2026-12-01T09:00:00Z") }),
            Event::HookSubscribed(crate::event::HookSubscribed {
                project: t("acme/payments"),
                hook_id: 1,
                url: t("https://hooks.example.com/relic"),
                releases_events: true,
                has_token: true,
            }),
            Event::HookUnsubscribed(crate::event::HookUnsubscribed { project: t("acme/payments"), hook_id: 1 }),
            Event::ReleaseImported(crate::event::ReleaseImported {
                project: p(),
                id: 1,
                tag_name: t("v3.9.0"),
                name: t("Payments 3.9.0"),
                description: Some(t("Imported from GitLab.")),
                commit: Some(t("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567")),
                created_at: t("2025-11-02T09:15:00Z"),
                released_at: t("2025-11-03T08:00:00Z"),
                author: Some(t("carol")),
                milestones: vec![t("3.9")],
                links: vec![Link {
                    id: 1,
                    name: t("Linux amd64 binary"),
                    url: t("https://downloads.acme.test/payments/3.9.0/payments-linux-amd64"),
                    direct_asset_path: Some(t("/binaries/payments-linux-amd64")),
                    link_type: LinkType::Package,
                }],
                source: t("gitlab"),
            }),
            Event::ReportIssued(crate::event::ReportIssued {
                digest: t(DIGEST),
                format: t("html"),
                bytes: 48213,
                tree_size: 39,
                result: t("pass"),
                project: Some(t("acme/payments")),
                from: Some(t("2026-06-01T00:00:00Z")),
                to: Some(t("2026-06-30T23:59:59Z")),
                issued_at: t("2026-07-01T09:00:00Z"),
            }),
        ]
    }

    /// The same events with every `Option` that can be `None` set to `None` (and empty lists).
    fn sparse() -> Vec<Event> {
        full()
            .into_iter()
            .map(|e| match e {
                Event::ProjectRegistered(x) => Event::ProjectRegistered(ProjectRegistered { description: None, ..x }),
                Event::TokenIssued(x) => Event::TokenIssued(crate::event::TokenIssued { expires_at: None, ..x }),
                Event::ReleaseImported(x) => Event::ReleaseImported(crate::event::ReleaseImported { description: None, commit: None, author: None, milestones: vec![], links: vec![], ..x }),
                Event::ReportIssued(x) => Event::ReportIssued(crate::event::ReportIssued { project: None, from: None, to: None, ..x }),
                Event::TagRecorded(x) => Event::TagRecorded(TagRecorded { commit: None, message: None, ..x }),
                Event::MilestoneRecorded(x) => Event::MilestoneRecorded(MilestoneRecorded {
                    description: None,
                    due_date: None,
                    issues: x.issues.iter().map(|i| Issue { description: None, due_date: None, ..i.clone() }).collect(),
                    ..x
                }),
                Event::ReleaseCreated(x) => Event::ReleaseCreated(ReleaseCreated {
                    description: None,
                    git_ref: None,
                    commit: None,
                    milestones: vec![],
                    links: vec![],
                    report_artifacts: vec![],
                    ..x
                }),
                Event::ReleaseUpdated(x) => {
                    Event::ReleaseUpdated(ReleaseUpdated { project: x.project, tag_name: x.tag_name, ..Default::default() })
                }
                Event::LinkAdded(x) => Event::LinkAdded(LinkAdded { link: Link { direct_asset_path: None, ..x.link }, ..x }),
                Event::LinkUpdated(x) => Event::LinkUpdated(LinkUpdated { link: Link { direct_asset_path: None, ..x.link }, ..x }),
                Event::EvidenceCollected(x) => Event::EvidenceCollected(EvidenceCollected {
                    reason: EvidenceReason::OnDemand,
                    scheduled_at: None,
                    report_artifacts: vec![],
                    ..x
                }),
                Event::AccessDenied(x) => Event::AccessDenied(AccessDenied { actor_role: "none".into(), ..x }),
                Event::InternalRemediated(x) => Event::InternalRemediated(InternalRemediated { security_verified_by: None, ..x }),
                Event::InternalReleased(x) => Event::InternalReleased(InternalReleased { version_scheme: None, ..x }),
                other => other,
            })
            .collect()
    }

    fn sample(kind: &str) -> Event {
        full().into_iter().find(|e| e.kind() == kind).unwrap_or_else(|| panic!("no sample of {kind}"))
    }

    fn is_invalid(kind: &str, version: u16, payload: &Value) -> bool {
        matches!(validate(kind, version, payload), Err(SchemaError::Invalid { .. }))
    }

    #[test]
    fn samples_cover_every_domain_kind() {
        let kinds: Vec<&str> = full().iter().map(Event::kind).collect();
        assert_eq!(kinds, DOMAIN_KINDS, "add a sample for every new kind");
    }

    #[test]
    fn payloads_built_from_the_structs_validate() {
        for e in full().into_iter().chain(sparse()) {
            let (kind, payload) = (e.kind(), e.payload());
            if let Err(err) = validate(kind, current(kind), &payload) {
                panic!("{err}\n{payload:#}");
            }
            assert_eq!(upcast(kind, current(kind), payload.clone()).unwrap(), payload, "{kind}: current version is unchanged");
        }
    }

    fn record(kind: &str, payload: Vec<u8>) -> relic_ledger::Record {
        relic_ledger::Record {
            seq: 1,
            time_us: 0,
            schema_version: current(kind),
            key_id: [0; 4],
            prev: [0; 32],
            actor: relic_ledger::Actor { id: "bob".into(), role: "maintainer".into() },
            kind: kind.into(),
            subject: "acme/payments@v4.0.0".into(),
            payload,
            signature: [0; 64],
        }
    }

    /// Every way to spoil one member of an object: the member removed, its value replaced by one of
    /// each JSON type (integers written several ways included), a member added.
    fn spoiled(v: &Value) -> Vec<Value> {
        let replacements = [
            json!(null), json!(true), json!(0), json!(7), json!(-1), json!("x"), json!(""), json!([]), json!({}), json!(["x"]),
            serde_json::from_str("1.0").unwrap(), serde_json::from_str("-0").unwrap(), serde_json::from_str("1e2").unwrap(),
            serde_json::from_str("123456789012345678901234567890").unwrap(), json!("2026-06-01T10:00:00Z"), json!("package"),
        ];
        let mut out = Vec::new();
        match v {
            Value::Object(m) => {
                for (k, member) in m {
                    let mut without = m.clone();
                    without.remove(k);
                    out.push(Value::Object(without));
                    for r in &replacements {
                        let mut with = m.clone();
                        with.insert(k.clone(), r.clone());
                        out.push(Value::Object(with));
                    }
                    for inner in spoiled(member) {
                        let mut with = m.clone();
                        with.insert(k.clone(), inner);
                        out.push(Value::Object(with));
                    }
                }
                let mut extra = m.clone();
                extra.insert("zz_extra".into(), json!(1));
                out.push(Value::Object(extra));
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    for inner in spoiled(item) {
                        let mut with = items.clone();
                        with[i] = inner;
                        out.push(Value::Array(with));
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// The read-back fast path (payload read in place, schema checked on that tree, event decoded
    /// from it) reads every payload exactly as the `Value` path does: the same schema verdict, and
    /// when it accepts, the same event. Payloads: every sample, and every sample with one member
    /// (at any depth) spoiled, in relic's canonical form and with members in reverse order.
    #[test]
    fn the_fast_read_path_agrees_with_the_value_path() {
        let (mut accepted, mut refused) = (0, 0);
        for e in full().into_iter().chain(sparse()) {
            let kind = e.kind();
            let payload = e.payload();
            for v in std::iter::once(payload.clone()).chain(spoiled(&payload)) {
                let canonical = relic_ledger::record::canonical_json(&v);
                let reversed = match &v {
                    Value::Object(m) => {
                        let members: Vec<String> = m.iter().rev().map(|(k, x)| format!("{}: {}", json!(k), x)).collect();
                        format!("{{ {} }}", members.join(", ")).into_bytes()
                    }
                    _ => unreachable!(),
                };
                for bytes in [canonical, reversed] {
                    let tree = crate::payload::parse(&bytes).unwrap();
                    let value: Value = serde_json::from_slice(&bytes).unwrap();
                    let verdict = validate(kind, current(kind), &value).is_ok();
                    assert_eq!(is_valid_in_place(kind, current(kind), &tree), verdict, "{kind}: {}", String::from_utf8_lossy(&bytes));
                    let rec = record(kind, bytes);
                    let slow = crate::state::decode_value(&rec, &no_texts());
                    match crate::state::decode_in_place(&rec) {
                        Some(fast) => {
                            accepted += 1;
                            assert_eq!(slow.as_ref().ok(), Some(&Some(fast)), "{kind}: {}", String::from_utf8_lossy(&rec.payload));
                        }
                        None => {
                            refused += 1;
                            assert!(slow.is_err() || !verdict, "{kind}: the fast path refused what the Value path reads: {}", String::from_utf8_lossy(&rec.payload));
                        }
                    }
                    assert_eq!(crate::state::decode(&rec, &no_texts()).map_err(|e| e.to_string()), slow.map_err(|e| e.to_string()));
                }
            }
        }
        assert!(accepted >= 2 * full().len() * 2, "{accepted} accepted");
        assert!(refused > 1000, "{refused} refused");
    }

    /// A repeated key is refused by the fast path (a `Value` keeps the last one); `decode` then
    /// reads it as the `Value` path does.
    #[test]
    fn a_repeated_key_is_read_by_the_value_path() {
        let bytes = br#"{"project":"acme/payments","tag_name":"v1","tag_name":"v2"}"#.to_vec();
        let rec = record("release.deleted", bytes);
        assert!(crate::state::decode_in_place(&rec).is_none());
        let Ok(Some(Event::ReleaseDeleted(e))) = crate::state::decode(&rec, &no_texts()) else { panic!("not read") };
        assert_eq!(e.tag_name, "v2");
    }

    /// Resolves a local `$ref` (`#/$defs/…`).
    fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => root.pointer(r.strip_prefix('#').unwrap()).unwrap_or_else(|| panic!("dangling $ref {r}")),
            None => node,
        }
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }

    fn strings(v: Option<&Value>) -> BTreeSet<String> {
        v.and_then(Value::as_array).map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
    }

    /// Walks a fully populated payload and its schema together: every object the struct writes is a
    /// closed schema object whose properties are exactly the fields written. Nested structs have no
    /// skipped fields, so there every property is required.
    fn check_shape(root: &Value, node: &Value, value: &Value, at: &str, top: bool) {
        let node = resolve(root, node);
        match value {
            Value::Object(o) => {
                assert_eq!(node["type"], "object", "{at}");
                assert_eq!(node["additionalProperties"], false, "{at}: must be closed (deny_unknown_fields)");
                assert_eq!(keys(&node["properties"]), keys(value), "{at}: properties differ from the struct's fields");
                if !top {
                    assert_eq!(strings(node.get("required")), keys(value), "{at}: all fields are required");
                }
                for (k, v) in o {
                    check_shape(root, &node["properties"][k], v, &format!("{at}/{k}"), false);
                }
            }
            Value::Array(a) => {
                assert_eq!(node["type"], "array", "{at}");
                for (i, v) in a.iter().enumerate() {
                    check_shape(root, &node["items"], v, &format!("{at}/{i}"), false);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn schemas_match_the_structs_field_for_field() {
        for (f, s) in full().into_iter().zip(sparse()) {
            let kind = f.kind();
            let schema = schema_json(kind, current(kind));
            check_shape(&schema, &schema, &f.payload(), kind, true);
            // Required: exactly what serde always writes (skip_serializing_if fields are optional).
            assert_eq!(strings(schema.get("required")), keys(&s.payload()), "{kind}: required fields");
        }
    }

    #[test]
    fn every_object_in_every_schema_is_closed() {
        fn walk(v: &Value, at: &str) {
            match v {
                Value::Object(o) => {
                    if o.get("type") == Some(&json!("object")) || o.contains_key("properties") {
                        assert_eq!(o.get("additionalProperties"), Some(&json!(false)), "{at}");
                    }
                    for (k, c) in o {
                        walk(c, &format!("{at}/{k}"));
                    }
                }
                Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| walk(c, &format!("{at}/{i}"))),
                _ => {}
            }
        }
        for (kind, version) in versions() {
            walk(&schema_json(kind, version), &format!("{kind}.v{version}"));
        }
    }

    #[test]
    fn extra_properties_are_rejected_at_every_level() {
        for e in full() {
            let (kind, payload) = (e.kind(), e.payload());
            let v = current(kind);
            let mut p = payload.clone();
            p["surprise"] = json!(1);
            assert!(is_invalid(kind, v, &p), "{kind}: extra top-level property accepted");
            assert!(Event::from_payload(kind, p).unwrap().is_err(), "{kind}: serde agrees");
            // Every nested object, too.
            let mut nested = Vec::new();
            collect_objects(&payload, String::new(), &mut nested);
            for ptr in nested.into_iter().filter(|p| !p.is_empty()) {
                let mut p = payload.clone();
                p.pointer_mut(&ptr).unwrap()["surprise"] = json!(1);
                let err = validate(kind, v, &p).unwrap_err();
                assert!(matches!(&err, SchemaError::Invalid { pointer, .. } if *pointer == ptr), "{kind} {ptr}: {err}");
                assert!(Event::from_payload(kind, p).unwrap().is_err(), "{kind} {ptr}: serde agrees");
            }
        }
    }

    fn collect_objects(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                out.push(at.clone());
                o.iter().for_each(|(k, c)| collect_objects(c, format!("{at}/{k}"), out));
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| collect_objects(c, format!("{at}/{i}"), out)),
            _ => {}
        }
    }

    #[test]
    fn missing_required_fields_are_rejected() {
        for e in full() {
            let (kind, payload) = (e.kind(), e.payload());
            let v = current(kind);
            let schema = schema_json(kind, v);
            let required = strings(schema.get("required"));
            assert!(!required.is_empty(), "{kind}");
            for field in keys(&payload) {
                let mut p = payload.clone();
                p.as_object_mut().unwrap().remove(&field);
                let rejected = is_invalid(kind, v, &p);
                assert_eq!(rejected, required.contains(&field), "{kind}: without {field}");
                if rejected {
                    let err = validate(kind, v, &p).unwrap_err().to_string();
                    assert!(err.contains(&format!("\"{field}\"")), "{err}");
                }
                // serde tolerates an absent Option field (it reads None); the schema requires every
                // field relic writes. A non-Option field is required by both.
                if Event::from_payload(kind, p).unwrap().is_err() {
                    assert!(rejected, "{kind}: serde requires {field} but the schema does not");
                }
            }
        }
    }

    /// Replaces every string that the schema constrains with an `enum` by an unknown value.
    fn enum_paths(root: &Value, node: &Value, value: &Value, at: String, out: &mut Vec<String>) {
        let node = resolve(root, node);
        match value {
            Value::Object(o) => o.iter().for_each(|(k, c)| enum_paths(root, &node["properties"][k], c, format!("{at}/{k}"), out)),
            Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| enum_paths(root, &node["items"], c, format!("{at}/{i}"), out)),
            Value::String(_) if node.get("enum").is_some() => out.push(at),
            _ => {}
        }
    }

    #[test]
    fn wrong_enum_values_are_rejected() {
        let mut kinds_with_enums = BTreeSet::new();
        for e in full() {
            let (kind, payload) = (e.kind(), e.payload());
            let v = current(kind);
            let schema = schema_json(kind, v);
            let mut paths = Vec::new();
            enum_paths(&schema, &schema, &payload, String::new(), &mut paths);
            for ptr in paths {
                kinds_with_enums.insert(kind);
                let mut p = payload.clone();
                *p.pointer_mut(&ptr).unwrap() = json!("superuser");
                let err = validate(kind, v, &p).unwrap_err();
                assert!(matches!(&err, SchemaError::Invalid { pointer, .. } if *pointer == ptr), "{kind} {ptr}: {err}");
                // Upper case is not the serialised form either.
                let mut p = payload.clone();
                let upper = p.pointer(&ptr).unwrap().as_str().unwrap().to_uppercase();
                *p.pointer_mut(&ptr).unwrap() = json!(upper);
                assert!(is_invalid(kind, v, &p), "{kind} {ptr}");
            }
        }
        let expected = [
            "member.role_set",
            "protected_tag.set",
            "release.created",
            "link.added",
            "link.updated",
            "evidence.collected",
            "access.denied",
            "internal.detected",
            "release.imported",
        ];
        assert_eq!(kinds_with_enums, expected.into_iter().collect(), "Role, LinkType, EvidenceReason, InternalKind");
    }

    #[test]
    fn enums_list_exactly_the_serialised_variants() {
        let roles = [Role::Guest, Role::Reporter, Role::Developer, Role::Maintainer, Role::Owner];
        let link_types = [LinkType::Other, LinkType::Runbook, LinkType::Package, LinkType::Image];
        let reasons = [EvidenceReason::Create, EvidenceReason::OnDemand, EvidenceReason::Scheduled];
        let internal = [InternalKind::Vulnerability, InternalKind::Bug];
        let ser = |v: Vec<Value>| v.into_iter().map(|s| s.as_str().unwrap().to_string()).collect::<BTreeSet<_>>();
        let en = |kind: &str, ptr: &str| strings(schema_json(kind, current(kind)).pointer(ptr));
        let roles = ser(roles.iter().map(|r| serde_json::to_value(r).unwrap()).collect());
        assert_eq!(en("member.role_set", "/properties/role/enum"), roles);
        assert_eq!(en("protected_tag.set", "/properties/create_access_level/enum"), roles);
        assert_eq!(en("access.denied", "/properties/required_role/enum"), roles);
        let mut actor = roles.clone();
        actor.insert("none".into());
        assert_eq!(en("access.denied", "/properties/actor_role/enum"), actor);
        let link_types = ser(link_types.iter().map(|r| serde_json::to_value(r).unwrap()).collect());
        for k in ["release.created", "link.added", "link.updated"] {
            assert_eq!(en(k, "/$defs/link/properties/link_type/enum"), link_types, "{k}");
        }
        let v1 = schema_json("link.added", 1);
        assert_eq!(strings(v1.pointer("/$defs/link/properties/link_type/enum")), link_types, "link.added v1");
        let reasons = ser(reasons.iter().map(|r| serde_json::to_value(r).unwrap()).collect());
        assert_eq!(en("evidence.collected", "/properties/reason/enum"), reasons);
        let internal = ser(internal.iter().map(|r| serde_json::to_value(r).unwrap()).collect());
        assert_eq!(en("internal.detected", "/properties/kind/enum"), internal);
    }

    #[test]
    fn formats_and_patterns_are_checked() {
        let at = |e: &Event, ptr: &str, v: Value| {
            let mut p = e.payload();
            *p.pointer_mut(ptr).unwrap() = v;
            validate(e.kind(), current(e.kind()), &p)
        };
        let detected = sample("internal.detected");
        for s in 1..=4 {
            at(&detected, "/severity", json!(s)).unwrap();
        }
        for s in [json!(0), json!(5), json!(-1), json!(1.5), json!("1")] {
            assert!(at(&detected, "/severity", s.clone()).is_err(), "severity {s}");
        }
        // Times are RFC 3339 date-times; due dates are dates.
        for bad in ["2026-06-10", "2026-06-10 14:05:00Z", "2026-06-10T14:05:00", "yesterday", "2026-13-10T14:05:00Z"] {
            assert!(at(&detected, "/detected_at", json!(bad)).is_err(), "{bad}");
        }
        at(&detected, "/detected_at", json!("2026-06-10T14:05:00.123456-07:00")).unwrap();
        let milestone = sample("milestone.recorded");
        assert!(at(&milestone, "/due_date", json!("2026-06-01T00:00:00Z")).is_err());
        assert!(at(&milestone, "/issues/0/due_date", json!("June 1st")).is_err());
        at(&milestone, "/issues/0/due_date", Value::Null).unwrap();
        // BLAKE3 digests: 64 lower-case hex digits.
        let evidence = sample("evidence.collected");
        for bad in [DIGEST.to_uppercase(), DIGEST[..63].to_string(), format!("{DIGEST}0"), format!("blake3:{DIGEST}")] {
            assert!(at(&evidence, "/sha", json!(bad)).is_err(), "sha {bad}");
            assert!(at(&evidence, "/report_artifacts/0/blake3", json!(bad)).is_err(), "artifact blake3 {bad}");
        }
        assert!(at(&evidence, "/filepath", json!("evidence/../../etc/passwd")).is_err());
        // Unsigned integers.
        assert!(at(&evidence, "/id", json!(-1)).is_err());
        assert!(at(&evidence, "/id", json!(u64::MAX)).is_ok());
        // Link asset paths: the reference's format.
        let created = sample("release.created");
        // (`//app` is refused by the reference's format, `\A/(?:[-.\w]+/?)*[\da-zA-Z]+\z`.)
        for bad in ["binaries/app", "/binaries/", "//app", "/a//b", "/app!", &format!("/{}", "a".repeat(128))] {
            assert!(at(&created, "/links/0/direct_asset_path", json!(bad)).is_err(), "{bad}");
        }
        for good in ["/a", "/binaries/app-linux_amd64.tar.gz", "/x/y/z9"] {
            assert!(crate::decide::valid_asset_path(good), "{good}");
            at(&created, "/links/0/direct_asset_path", json!(good)).unwrap();
        }
        // Package digests.
        let released = sample("internal.released");
        assert!(at(&released, "/packages/0/digest", json!(DIGEST)).is_err());
        assert!(at(&released, "/packages/0/digest", json!(format!("md5:{DIGEST}"))).is_err());
        // Nullability: a required Option field may be null, a plain field may not.
        assert!(at(&created, "/description", Value::Null).is_ok());
        assert!(at(&created, "/name", Value::Null).is_err());
    }

    #[test]
    fn ledger_kinds_have_schemas() {
        let k1 = "example.test/relic+49317e98+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
        let k2 = "example.test/relic+290dbfe6+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU";
        validate("ledger.created", 1, &json!({"origin": "example.test/relic", "key": k1})).unwrap();
        validate("key.rotated", 1, &json!({"previous_key": k1, "new_key": k2})).unwrap();
        assert!(validate("ledger.created", 1, &json!({"origin": "example.test/relic"})).is_err());
        assert!(validate("ledger.created", 1, &json!({"origin": "a b", "key": k1})).is_err());
        assert!(validate("ledger.created", 1, &json!({"origin": "example.test/relic", "key": "not a key"})).is_err());
        assert!(validate("key.rotated", 1, &json!({"previous_key": k1, "new_key": k2, "extra": 1})).is_err());
    }

    fn link_added_v1() -> Value {
        json!({
            "project": "acme/payments",
            "tag_name": "v4.0.0",
            "link": {"id": 13, "name": "Runbook", "url": "https://docs.acme.test/runbook",
                     "filepath": "/docs/runbook.md", "link_type": "runbook"}
        })
    }

    #[test]
    fn token_issued_v1_upcasts_to_a_token_without_a_name() {
        assert_eq!(current("token.issued"), 2);
        let v1 = json!({"token_id": "3f2a9c0d5e6b7a18", "user": "ci-bot", "expires_at": null, "issued_at": "2026-11-30T09:00:00Z"});
        validate("token.issued", 1, &v1).unwrap();
        assert!(is_invalid("token.issued", 2, &v1), "v2 requires the name");
        let issued: TokenIssued = serde_json::from_value(upcast("token.issued", 1, v1).unwrap()).unwrap();
        assert_eq!((issued.user.as_str(), issued.name), ("ci-bot", None));
        let mut v2 = json!({"token_id": "3f2a9c0d5e6b7a18", "user": "ci-bot", "name": "deploy", "expires_at": null, "issued_at": "2026-11-30T09:00:00Z"});
        validate("token.issued", 2, &v2).unwrap();
        assert!(is_invalid("token.issued", 1, &v2), "v1 has no name");
        v2["name"] = json!("");
        assert!(is_invalid("token.issued", 2, &v2), "an empty name is not a name");
    }

    #[test]
    fn link_added_v1_upcasts_to_the_current_shape() {
        assert_eq!(current("link.added"), 2);
        let v1 = link_added_v1();
        validate("link.added", 1, &v1).unwrap();
        assert!(is_invalid("link.added", 2, &v1), "v1 is not v2");
        assert!(Event::from_payload("link.added", v1.clone()).unwrap().is_err(), "the struct is v2");

        let v2 = upcast("link.added", 1, v1).unwrap();
        assert_eq!(v2["link"]["direct_asset_path"], "/docs/runbook.md");
        assert!(v2["link"].get("filepath").is_none());
        validate("link.added", 2, &v2).unwrap();
        let added: LinkAdded = serde_json::from_value(v2).unwrap();
        assert_eq!(added.link.direct_asset_path.as_deref(), Some("/docs/runbook.md"));
        assert_eq!(added.link.link_type, LinkType::Runbook);

        let mut no_path = link_added_v1();
        no_path["link"]["filepath"] = Value::Null;
        let added: LinkAdded = serde_json::from_value(upcast("link.added", 1, no_path).unwrap()).unwrap();
        assert_eq!(added.link.direct_asset_path, None);

        // A v2 payload labelled v1 is refused, not silently passed through.
        let current_shape = sample("link.added").payload();
        let err = upcast("link.added", 1, current_shape.clone()).unwrap_err();
        assert!(matches!(err, SchemaError::Invalid { version: 1, .. }), "{err}");
        assert_eq!(upcast("link.added", 2, current_shape.clone()).unwrap(), current_shape);
    }

    #[test]
    fn unknown_kinds_and_versions_are_errors() {
        let p = json!({});
        for (kind, version) in [("release.exploded", 1), ("link.added", 3), ("link.added", 0), ("release.created", 2)] {
            let err = validate(kind, version, &p).unwrap_err();
            assert!(matches!(err, SchemaError::Unknown { .. }), "{kind} v{version}: {err}");
            assert!(matches!(upcast(kind, version, p.clone()), Err(SchemaError::Unknown { .. })));
            assert_eq!(schema_text(kind, version), None);
        }
        assert_eq!(validate("release.exploded", 1, &p).unwrap_err().to_string(), "release.exploded v1: unknown event kind");
        assert_eq!(
            validate("link.added", 3, &p).unwrap_err().to_string(),
            "link.added v3: no schema for this version (the kind's versions are 1 to 2)"
        );
    }

    #[test]
    fn errors_are_one_line_and_name_the_failure() {
        let mut p = sample("link.added").payload();
        p["link"]["link_type"] = json!("binary");
        let msg = validate("link.added", 2, &p).unwrap_err().to_string();
        assert!(msg.starts_with("link.added v2: payload does not match its schema at /link/link_type: "), "{msg}");
        assert!(msg.contains("binary"), "{msg}");

        let mut p = sample("release.created").payload();
        p["description"] = json!(7);
        p["tag_name"] = json!("line one\nline two ".repeat(100));
        p["id"] = json!({"nested": "x".repeat(1000)});
        let err = validate("release.created", 1, &p).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains('\n') && msg.chars().count() < 400, "{msg}");
        assert!(msg.starts_with("release.created v1: payload does not match its schema at /"), "{msg}");

        let msg = validate("release.deleted", 1, &json!({"project": "acme/payments"})).unwrap_err().to_string();
        assert!(msg.starts_with("release.deleted v1: payload does not match its schema at the top level: "), "{msg}");
        assert!(msg.contains("tag_name"), "{msg}");
    }

    /// (kind, version) from a file name `<kind>.v<version>.json`.
    fn parse_name(name: &str) -> (String, u16) {
        let stem = name.strip_suffix(".json").unwrap_or_else(|| panic!("{name}: not .json"));
        let (kind, v) = stem.rsplit_once(".v").unwrap_or_else(|| panic!("{name}: not <kind>.v<version>.json"));
        (kind.to_string(), v.parse().unwrap_or_else(|_| panic!("{name}: bad version")))
    }

    fn json_files(dir: &std::path::Path) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
            .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn schema_files_are_valid_named_by_their_id_and_all_used() {
        let files = json_files(&events_dir());
        assert_eq!(files.len(), SCHEMAS.len(), "a schema file is not embedded, or an embedded schema has no file");
        for (name, text) in &files {
            let schema: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(schema["$id"], format!("https://relic.example/schemas/events/{name}"), "{name}");
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
            let (kind, version) = parse_name(name);
            assert_eq!(schema["title"], format!("{kind} v{version}"), "{name}");
            assert_eq!(schema_text(&kind, version), Some(text.as_str()), "{name} is not embedded as ({kind}, {version})");
            jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Compiles (a broken schema would make every validation of the kind fail).
            match validate(&kind, version, &json!(null)) {
                Err(SchemaError::Invalid { .. }) => {}
                other => panic!("{name}: {other:?}"),
            }
            let current = current_version(&kind).unwrap_or_else(|| panic!("{name}: kind not in the catalogue"));
            assert!(version >= 1 && version <= current, "{name}: newer than the catalogue's v{current}");
        }
    }

    #[test]
    fn every_catalogue_version_has_a_schema_and_every_older_one_an_upcaster() {
        for (kind, current) in crate::catalogue::kinds() {
            for v in 1..=current {
                assert!(schema_text(kind, v).is_some(), "{kind} v{v} has no schema file in schemas/events/");
                assert!(events_dir().join(format!("{kind}.v{v}.json")).is_file(), "{kind}.v{v}.json");
            }
            for v in 1..current {
                assert!(UPCASTERS.iter().any(|(k, from, _)| *k == kind && *from == v), "{kind}: no upcaster from v{v}");
            }
        }
        for (kind, from, _) in UPCASTERS {
            assert!(current_version(kind).is_some_and(|c| *from < c), "{kind}: stray upcaster from v{from}");
        }
    }

    #[test]
    fn every_example_validates_and_reads_as_its_event() {
        let files = json_files(&events_dir().join("examples"));
        let names: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let schemas: BTreeSet<String> = versions().map(|(k, v)| format!("{k}.v{v}.json")).collect();
        assert_eq!(names, schemas, "one example per schema, named like it");
        for (name, text) in files {
            let (kind, version) = parse_name(&name);
            let payload: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("examples/{name}: {e}"));
            validate(&kind, version, &payload).unwrap_or_else(|e| panic!("examples/{name}: {e}"));
            let now = upcast(&kind, version, payload).unwrap();
            if let Some(read) = Event::from_payload(&kind, now.clone()) {
                let event = read.unwrap_or_else(|e| panic!("examples/{name}: {e}"));
                assert_eq!(event.payload(), now, "examples/{name}: round trip");
            }
        }
    }
}
