//! The domain events: one payload type per kind, the vocabulary of the log.
//!
//! Field names follow the reference Releases API (`tag_name`, `released_at`, `direct_asset_path`,
//! `link_type`, `freeze_start`, `cron_timezone`, …) so that its users recognise them. Every payload is
//! described by a JSON Schema in `schemas/events/<kind>.v<version>.json`; [`crate::schema`] checks
//! payloads against them when they are appended and when they are read back.

use serde::{Deserialize, Serialize};

/// Project roles, lowest first (the order is the permission order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Guest,
    Reporter,
    Developer,
    Maintainer,
    Owner,
}

impl Role {
    /// GitLab's numeric access level of the role (10 guest … 50 owner), as its API speaks it.
    pub fn access_level(self) -> u64 {
        match self {
            Role::Guest => 10,
            Role::Reporter => 20,
            Role::Developer => 30,
            Role::Maintainer => 40,
            Role::Owner => 50,
        }
    }

    /// The role of a GitLab access level (10, 20, 30, 40, 50).
    pub fn from_access_level(n: u64) -> Option<Self> {
        Some(match n {
            10 => Role::Guest,
            20 => Role::Reporter,
            30 => Role::Developer,
            40 => Role::Maintainer,
            50 => Role::Owner,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Reporter => "reporter",
            Role::Developer => "developer",
            Role::Maintainer => "maintainer",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "guest" => Role::Guest,
            "reporter" => Role::Reporter,
            "developer" => Role::Developer,
            "maintainer" => Role::Maintainer,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}

/// `token.issued`: an API token for `user`, by its id (the secret is never recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIssued {
    pub token_id: String,
    pub user: String,
    /// What the token is for (GitLab's token `name`); null when none was given (and in v1).
    pub name: Option<String>,
    pub expires_at: Option<String>,
    pub issued_at: String,
}

/// `report.issued`: a compliance report was issued; its exact bytes have this BLAKE3 digest, so
/// that `relic report verify FILE` proves later that a printed report is the one issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportIssued {
    /// BLAKE3 of the report file's bytes, lower-case hex.
    pub digest: String,
    /// json, md or html.
    pub format: String,
    /// The file's length in bytes.
    pub bytes: u64,
    /// The log's size the report reflects.
    pub tree_size: u64,
    /// The report's result: pass or fail.
    pub result: String,
    /// The scope: one project (or null: every project) and the period.
    pub project: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub issued_at: String,
}

/// `token.revoked`: the token is refused from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoked {
    pub token_id: String,
    pub user: String,
    pub revoked_at: String,
}

/// `hook.subscribed`: a project hook as it is from now on (added, or changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSubscribed {
    pub project: String,
    pub hook_id: u64,
    pub url: String,
    pub releases_events: bool,
    /// Whether deliveries carry a secret token (kept beside the log, never in it).
    pub has_token: bool,
}

/// `hook.unsubscribed`: the hook is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookUnsubscribed {
    pub project: String,
    pub hook_id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRegistered {
    pub project: String,
    pub id: u64,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleSet {
    pub project: String,
    pub user: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectedTagSet {
    pub project: String,
    /// A tag name or a wildcard pattern (`v*`, `*`).
    pub pattern: String,
    /// The lowest role allowed to create matching tags (and so their releases).
    pub create_access_level: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectedTagRemoved {
    pub project: String,
    pub pattern: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRecorded {
    pub project: String,
    pub name: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit the tag points at, when known (a tag created by a release from a branch name
    /// records the ref only).
    pub commit: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    /// `opened` or `closed`.
    pub state: String,
    pub confidential: bool,
    pub created_at: String,
    pub due_date: Option<String>,
}

/// A milestone as the source system knew it when it was recorded, with its issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRecorded {
    pub project: String,
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    /// `active` or `closed`.
    pub state: String,
    pub created_at: String,
    pub due_date: Option<String>,
    pub issues: Vec<Issue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkType {
    Other,
    Runbook,
    Package,
    Image,
}

impl LinkType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "other" => LinkType::Other,
            "runbook" => LinkType::Runbook,
            "package" => LinkType::Package,
            "image" => LinkType::Image,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub id: u64,
    pub name: String,
    pub url: String,
    pub direct_asset_path: Option<String>,
    pub link_type: LinkType,
}

/// A report artifact (for example a JUnit XML file), kept content-addressed beside the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub name: String,
    /// BLAKE3 of the artifact's bytes, lower-case hex.
    pub blake3: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseCreated {
    pub project: String,
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub description: Option<String>,
    /// The ref the tag was created from, when the release created its tag.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    pub created_at: String,
    pub released_at: String,
    pub milestones: Vec<String>,
    pub links: Vec<Link>,
    pub report_artifacts: Vec<Artifact>,
}

/// `release.imported`: a release that existed before the log, read from its source system's API
/// (`relic import releases`), with its original times and author; recorded by the importer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseImported {
    pub project: String,
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub description: Option<String>,
    pub commit: Option<String>,
    /// As the source system recorded them.
    pub created_at: String,
    pub released_at: String,
    /// The source system's author of the release (its username), if it said.
    pub author: Option<String>,
    pub milestones: Vec<String>,
    pub links: Vec<Link>,
    /// Where it was imported from: `gitlab`.
    pub source: String,
}

/// Only the fields that changed are present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseUpdated {
    pub project: String,
    pub tag_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestones: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseDeleted {
    pub project: String,
    pub tag_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkAdded {
    pub project: String,
    pub tag_name: String,
    pub link: Link,
}

/// The link as it is after the update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkUpdated {
    pub project: String,
    pub tag_name: String,
    pub link: Link,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDeleted {
    pub project: String,
    pub tag_name: String,
    pub id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceReason {
    /// Collected when the release was created.
    Create,
    /// Asked for by a user.
    OnDemand,
    /// Collected by the scheduler when an upcoming release's `released_at` arrived.
    Scheduled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceCollected {
    pub project: String,
    pub tag_name: String,
    pub release_id: u64,
    pub id: u64,
    /// BLAKE3 of the evidence document's canonical bytes, lower-case hex.
    pub sha: String,
    /// Where the document is kept, relative to the data directory.
    pub filepath: String,
    pub collected_at: String,
    pub reason: EvidenceReason,
    pub scheduled_at: Option<String>,
    pub report_artifacts: Vec<Artifact>,
    /// How many confidential issues the document redacts.
    pub redacted_issues: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeCreated {
    pub project: String,
    pub id: u64,
    pub freeze_start: String,
    pub freeze_end: String,
    pub cron_timezone: String,
}

/// The period as it is after the update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeUpdated {
    pub project: String,
    pub id: u64,
    pub freeze_start: String,
    pub freeze_end: String,
    pub cron_timezone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeDeleted {
    pub project: String,
    pub id: u64,
}

/// A refused command: who tried what, and why. Part of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDenied {
    pub project: String,
    /// The command that was refused, e.g. `release create`.
    pub command: String,
    /// What it was about: a tag, a freeze period id, an internal release id.
    pub target: String,
    /// The error the actor was given.
    pub reason: String,
    /// The actor's role in the project (`none` if not a member).
    pub actor_role: String,
    /// The lowest role the command needs.
    pub required_role: Role,
}

/// An internal release's kind of fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InternalKind {
    Vulnerability,
    Bug,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalDetected {
    pub id: String,
    pub project: String,
    pub kind: InternalKind,
    pub severity: u8,
    /// The title in clear: only in records written as v1, before titles were confidential.
    pub title: Option<String>,
    /// The commitment to the confidential title (`crate::confidential`), revealed at disclosure.
    pub title_commitment: Option<String>,
    pub detected_at: String,
    /// Who triaged it: the security incident team for a vulnerability, the single-tenant team for a bug.
    pub reported_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalPrepared {
    pub id: String,
    pub release_issue: String,
    pub notified: Vec<String>,
    /// The N-1 and N-2 minor versions the backports target, e.g. `["17.2", "17.1"]`.
    pub targets: Vec<String>,
    pub prepared_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalRemediated {
    pub id: String,
    pub default_branch_commit: String,
    pub multi_tenant_deployed_at: String,
    /// Required for a vulnerability: the application security team's verification on the multi-tenant site.
    pub security_verified_by: Option<String>,
    pub remediated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalBackported {
    pub id: String,
    /// One of the prepared targets.
    pub target: String,
    pub merge_request: String,
    pub approved: bool,
    /// `success` is the only status that lets a backport count.
    pub pipeline: String,
    pub merged_commit: String,
    pub merged_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalPackage {
    /// e.g. `17.2.4-internal.1`
    pub version: String,
    pub name: String,
    /// `sha256:<hex>` or `blake3:<hex>` of the package.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalReleased {
    pub id: String,
    pub packages: Vec<InternalPackage>,
    pub released_at: String,
    /// The scheme the versions were checked against when they were recorded (`None`: recorded by
    /// v1, which did not say).
    pub version_scheme: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalFinalized {
    pub id: String,
    pub rollout_completed_at: String,
    pub notified: Vec<String>,
    pub emergency_maintenance: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalDisclosed {
    pub id: String,
    /// The public patch versions that carry the fix.
    pub public_versions: Vec<String>,
    pub disclosed_at: String,
    /// The confidential title the detection committed to, revealed (null if it was written in clear).
    pub title: Option<String>,
    /// The commitment's salt, lower-case hex.
    pub title_salt: Option<String>,
}

/// Every domain event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ProjectRegistered(ProjectRegistered),
    MemberRoleSet(MemberRoleSet),
    ProtectedTagSet(ProtectedTagSet),
    ProtectedTagRemoved(ProtectedTagRemoved),
    TagRecorded(TagRecorded),
    MilestoneRecorded(MilestoneRecorded),
    ReleaseCreated(ReleaseCreated),
    ReleaseUpdated(ReleaseUpdated),
    ReleaseDeleted(ReleaseDeleted),
    LinkAdded(LinkAdded),
    LinkUpdated(LinkUpdated),
    LinkDeleted(LinkDeleted),
    EvidenceCollected(EvidenceCollected),
    FreezeCreated(FreezeCreated),
    FreezeUpdated(FreezeUpdated),
    FreezeDeleted(FreezeDeleted),
    AccessDenied(AccessDenied),
    InternalDetected(InternalDetected),
    InternalPrepared(InternalPrepared),
    InternalRemediated(InternalRemediated),
    InternalBackported(InternalBackported),
    InternalReleased(InternalReleased),
    InternalFinalized(InternalFinalized),
    InternalDisclosed(InternalDisclosed),
    TokenIssued(TokenIssued),
    TokenRevoked(TokenRevoked),
    HookSubscribed(HookSubscribed),
    HookUnsubscribed(HookUnsubscribed),
    ReleaseImported(ReleaseImported),
    ReportIssued(ReportIssued),
}

/// Why a record could not be read as a domain event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("record {seq} ({kind}): payload does not match its schema: {reason}")]
    Payload { seq: u64, kind: String, reason: String },
}

/// A record a reader could not read as its kind's event (written below the gate by an older relic,
/// at a schema version newer than this relic knows, or damaged): readers skip it, carry on, and
/// show it as `record N (kind): why` in views, histories and reports. The record itself stays in
/// the log, signed and verifiable; only its meaning is unknown to this reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub seq: u64,
    pub kind: String,
    pub reason: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {} ({}): {}", self.seq, self.kind, self.reason)
    }
}

impl From<EventError> for Finding {
    fn from(e: EventError) -> Self {
        match e {
            EventError::Payload { seq, kind, reason } => Finding { seq, kind, reason },
        }
    }
}

macro_rules! kinds {
    ($($variant:ident => $kind:literal by $command:literal),* $(,)?) => {
        impl Event {
            /// The record kind this event is written as.
            pub fn kind(&self) -> &'static str {
                match self { $(Event::$variant(_) => $kind,)* }
            }

            /// The payload as JSON.
            pub fn payload(&self) -> serde_json::Value {
                let v = match self { $(Event::$variant(p) => serde_json::to_value(p),)* };
                // Serialising these plain structs cannot fail.
                v.unwrap_or(serde_json::Value::Null)
            }

            /// Reads a payload of `kind`; `None` for kinds that are not domain events.
            pub fn from_payload(kind: &str, payload: serde_json::Value) -> Option<Result<Self, serde_json::Error>> {
                Some(match kind {
                    $($kind => serde_json::from_value(payload).map(Event::$variant),)*
                    _ => return None,
                })
            }

            /// Reads a payload of `kind` from the payload read in place; `None` for kinds that
            /// are not domain events. The same event as [`Event::from_payload`] of the same JSON
            /// as a `Value`.
            pub fn from_tree(kind: &str, payload: &crate::payload::Tree<'_>) -> Option<Result<Self, serde_json::Error>> {
                Some(match kind {
                    $($kind => crate::payload::from_tree(payload).map(Event::$variant),)*
                    _ => return None,
                })
            }
        }

        /// Every kind with rules of its own (a typed event), in the order of [`Event`]'s variants.
        pub const DOMAIN_KINDS: &[&str] = &[$($kind),*];

        /// The command that writes `kind`, as a user types it; `None` for a kind without rules.
        pub fn command_for(kind: &str) -> Option<&'static str> {
            match kind {
                $($kind => Some($command),)*
                _ => None,
            }
        }
    };
}

kinds! {
    ProjectRegistered => "project.registered" by "relic project register",
    MemberRoleSet => "member.role_set" by "relic project member",
    ProtectedTagSet => "protected_tag.set" by "relic project protect-tag",
    ProtectedTagRemoved => "protected_tag.removed" by "relic project unprotect-tag",
    TagRecorded => "tag.recorded" by "relic tag record",
    MilestoneRecorded => "milestone.recorded" by "relic milestone record",
    ReleaseCreated => "release.created" by "relic release create",
    ReleaseUpdated => "release.updated" by "relic release update",
    ReleaseDeleted => "release.deleted" by "relic release delete",
    LinkAdded => "link.added" by "relic link add",
    LinkUpdated => "link.updated" by "relic link update",
    LinkDeleted => "link.deleted" by "relic link delete",
    EvidenceCollected => "evidence.collected" by "relic evidence collect",
    FreezeCreated => "freeze.created" by "relic freeze create",
    FreezeUpdated => "freeze.updated" by "relic freeze update",
    FreezeDeleted => "freeze.deleted" by "relic freeze delete",
    AccessDenied => "access.denied" by "relic itself, when it refuses a command",
    InternalDetected => "internal.detected" by "relic internal detect",
    InternalPrepared => "internal.prepared" by "relic internal prepare",
    InternalRemediated => "internal.remediated" by "relic internal remediate",
    InternalBackported => "internal.backported" by "relic internal backport",
    InternalReleased => "internal.released" by "relic internal release",
    InternalFinalized => "internal.finalized" by "relic internal finalize",
    InternalDisclosed => "internal.disclosed" by "relic internal disclose",
    TokenIssued => "token.issued" by "relic token create",
    TokenRevoked => "token.revoked" by "relic token revoke",
    HookSubscribed => "hook.subscribed" by "relic serve: POST or PUT /projects/:id/hooks",
    HookUnsubscribed => "hook.unsubscribed" by "relic serve: DELETE /projects/:id/hooks/:hook_id",
    ReleaseImported => "release.imported" by "relic import releases",
    ReportIssued => "report.issued" by "relic report compliance --output",
}

/// `access.denied`: the record of a refused command.
pub const ACCESS_DENIED: &str = "access.denied";
/// `evidence.collected`: names an evidence document (and its report artifacts) by digest.
pub const EVIDENCE_COLLECTED: &str = "evidence.collected";
/// The kinds that change a release: what a deploy freeze is about.
pub const RELEASE_MUTATIONS: [&str; 6] = ["release.created", "release.updated", "release.deleted", "link.added", "link.updated", "link.deleted"];

impl Event {
    /// The subject the event is recorded under: `<project>` for project-wide facts,
    /// `<project>@<tag>` for a release, `internal/<id>` for an internal release.
    pub fn subject(&self) -> String {
        let rel = |p: &str, t: &str| format!("{p}@{t}");
        match self {
            Event::ProjectRegistered(e) => e.project.clone(),
            Event::TokenIssued(e) => format!("tokens/{}", e.token_id),
            Event::TokenRevoked(e) => format!("tokens/{}", e.token_id),
            Event::ReportIssued(e) => format!("reports/{}", e.digest),
            Event::HookSubscribed(e) => e.project.clone(),
            Event::HookUnsubscribed(e) => e.project.clone(),
            Event::MemberRoleSet(e) => e.project.clone(),
            Event::ProtectedTagSet(e) => e.project.clone(),
            Event::ProtectedTagRemoved(e) => e.project.clone(),
            Event::TagRecorded(e) => rel(&e.project, &e.name),
            Event::MilestoneRecorded(e) => e.project.clone(),
            Event::ReleaseCreated(e) => rel(&e.project, &e.tag_name),
            Event::ReleaseImported(e) => rel(&e.project, &e.tag_name),
            Event::ReleaseUpdated(e) => rel(&e.project, &e.tag_name),
            Event::ReleaseDeleted(e) => rel(&e.project, &e.tag_name),
            Event::LinkAdded(e) => rel(&e.project, &e.tag_name),
            Event::LinkUpdated(e) => rel(&e.project, &e.tag_name),
            Event::LinkDeleted(e) => rel(&e.project, &e.tag_name),
            Event::EvidenceCollected(e) => rel(&e.project, &e.tag_name),
            Event::FreezeCreated(e) => e.project.clone(),
            Event::FreezeUpdated(e) => e.project.clone(),
            Event::FreezeDeleted(e) => e.project.clone(),
            Event::AccessDenied(e) => e.project.clone(),
            Event::InternalDetected(e) => format!("internal/{}", e.id),
            Event::InternalPrepared(e) => format!("internal/{}", e.id),
            Event::InternalRemediated(e) => format!("internal/{}", e.id),
            Event::InternalBackported(e) => format!("internal/{}", e.id),
            Event::InternalReleased(e) => format!("internal/{}", e.id),
            Event::InternalFinalized(e) => format!("internal/{}", e.id),
            Event::InternalDisclosed(e) => format!("internal/{}", e.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_kinds_are_typed_events() {
        for k in RELEASE_MUTATIONS.iter().chain([&ACCESS_DENIED, &EVIDENCE_COLLECTED]) {
            assert!(DOMAIN_KINDS.contains(k), "{k}");
        }
    }

    #[test]
    fn payloads_round_trip_and_refuse_unknown_fields() {
        let e = Event::FreezeCreated(FreezeCreated {
            project: "acme/app".into(),
            id: 1,
            freeze_start: "0 23 * * 5".into(),
            freeze_end: "0 7 * * 1".into(),
            cron_timezone: "UTC".into(),
        });
        let back = Event::from_payload(e.kind(), e.payload()).unwrap().unwrap();
        assert_eq!(back, e);
        let mut p = e.payload();
        p["surprise"] = serde_json::json!(1);
        assert!(Event::from_payload(e.kind(), p).unwrap().is_err());
        assert!(Event::from_payload("key.rotated", serde_json::json!({})).is_none());
    }
}
