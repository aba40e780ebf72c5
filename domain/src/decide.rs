//! Commands, and the rules that turn a command into events or refuse it.
//!
//! [`decide`] is pure: given the state, the acting identity, a command and the time, it returns the
//! events to append (and any evidence documents to store first), or a [`Refusal`] carrying the
//! reference's exact error text. A refusal for lack of permission also carries the `access.denied`
//! event to record, because failed attempts are part of the audit trail. Checks run in the order
//! of the reference Releases API (`../shared/reference/domain.md`).

use chrono::{DateTime, Utc};

use crate::event::*;
use crate::evidence;
use crate::freeze;
use crate::timing;
use crate::state::{Phase, Project, Release, State};

/// Longest release description accepted, in bytes (the record's payload limit is 1 MiB).
pub const MAX_DESCRIPTION: usize = 512 * 1024;
/// Longest `direct_asset_path`, in characters.
pub const MAX_ASSET_PATH: usize = 128;

/// A link as given by a user (`--assets-link '{"name": …, "url": …}'`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub name: Option<String>,
    pub url: Option<String>,
    #[serde(alias = "filepath")]
    pub direct_asset_path: Option<String>,
    pub link_type: Option<String>,
}

/// What a user asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    RegisterProject { project: String, name: String, description: Option<String> },
    SetMemberRole { project: String, user: String, role: Role },
    ProtectTag { project: String, pattern: String, create_access_level: Role },
    UnprotectTag { project: String, pattern: String },
    RecordTag { project: String, name: String, git_ref: String, commit: Option<String>, message: Option<String> },
    RecordMilestone(MilestoneRecorded),
    CreateRelease {
        project: String,
        tag_name: String,
        name: Option<String>,
        description: Option<String>,
        git_ref: Option<String>,
        tag_message: Option<String>,
        released_at: Option<String>,
        milestones: Vec<String>,
        links: Vec<LinkInput>,
        /// Report artifacts with their bytes: stored if, and only if, the release is created.
        report_artifacts: Vec<evidence::ArtifactFile>,
    },
    UpdateRelease {
        project: String,
        tag_name: String,
        name: Option<String>,
        description: Option<String>,
        released_at: Option<String>,
        milestones: Option<Vec<String>>,
    },
    DeleteRelease { project: String, tag_name: String },
    AddLink { project: String, tag_name: String, link: LinkInput },
    UpdateLink { project: String, tag_name: String, id: u64, link: LinkInput },
    DeleteLink { project: String, tag_name: String, id: u64 },
    CollectEvidence { project: String, tag_name: String, reason: EvidenceReason, scheduled_at: Option<String> },
    CreateFreeze { project: String, freeze_start: String, freeze_end: String, cron_timezone: Option<String> },
    UpdateFreeze {
        project: String,
        id: u64,
        freeze_start: Option<String>,
        freeze_end: Option<String>,
        cron_timezone: Option<String>,
    },
    DeleteFreeze { project: String, id: u64 },
    /// Phase 1. The title is confidential until disclosure: the record commits to it with
    /// `title_salt` (32 random bytes, `crate::confidential::new_salt`), and the decision carries it
    /// to the store beside the log.
    InternalDetect { id: String, project: String, kind: InternalKind, severity: u8, title: String, title_salt: [u8; 32], reported_by: String, detected_at: Option<String> },
    InternalPrepare { id: String, release_issue: String, notified: Vec<String>, targets: Vec<String> },
    InternalRemediate { id: String, default_branch_commit: String, multi_tenant_deployed_at: String, security_verified_by: Option<String> },
    InternalBackport { id: String, target: String, merge_request: String, approved: bool, pipeline: String, merged_commit: String },
    /// `scheme`: the internal version scheme (default [`crate::internal::DEFAULT_SCHEME`]).
    InternalRelease { id: String, packages: Vec<InternalPackage>, scheme: Option<String> },
    InternalFinalize { id: String, rollout_completed_at: String, notified: Vec<String>, emergency_maintenance: String },
    /// The last phase. `reveal`: the confidential title and salt the detection committed to, from
    /// the store beside the log (the service fills it in; `None` when the store lacks it).
    InternalDisclose { id: String, public_versions: Vec<String>, reveal: Option<crate::confidential::Secret> },
    /// An API token for `user` (`relic token create`): the operator's act on the data directory,
    /// recorded with role `system`, like a key rotation. Its secret never reaches the log.
    IssueToken { token_id: String, user: String, name: Option<String>, expires_at: Option<String> },
    /// Record that a compliance report was issued (`relic report compliance --output`): the
    /// operator's act, recorded with role `system`, once per digest.
    IssueReport(crate::event::ReportIssued),
    /// Record a release that existed before the log (`relic import releases`), as its source
    /// system's API returned it.
    ImportRelease { project: String, release: crate::import::ImportedRelease, source: String },
    RevokeToken { token_id: String },
    /// Revokes `token_id` and issues `new_token_id` to the same user with the same name, in one
    /// decision (GitLab's `POST /personal_access_tokens/:id/rotate`).
    RotateToken { token_id: String, new_token_id: String, expires_at: Option<String> },
    /// A project hook (`relic serve`'s `POST /projects/:id/hooks`): maintainers and above.
    AddHook { project: String, url: String, releases_events: bool, has_token: bool },
    /// Changes what is given of hook `id`.
    UpdateHook { project: String, id: u64, url: Option<String>, releases_events: Option<bool>, has_token: Option<bool> },
    DeleteHook { project: String, id: u64 },
}

impl Command {
    /// `release create` of `tag_name` in `project` from `main`, released at `released_at` (now if
    /// `None`), every other option left out.
    pub fn create_release(project: &str, tag_name: &str, released_at: Option<String>) -> Self {
        Command::CreateRelease {
            project: project.into(),
            tag_name: tag_name.into(),
            name: None,
            description: None,
            git_ref: Some("main".into()),
            tag_message: None,
            released_at,
            milestones: vec![],
            links: vec![],
            report_artifacts: vec![],
        }
    }

    /// The command's name as a user typed it, for access-denied records.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RegisterProject { .. } => "project register",
            Command::SetMemberRole { .. } => "project member",
            Command::ProtectTag { .. } => "project protect-tag",
            Command::UnprotectTag { .. } => "project unprotect-tag",
            Command::RecordTag { .. } => "tag record",
            Command::RecordMilestone(_) => "milestone record",
            Command::CreateRelease { .. } => "release create",
            Command::UpdateRelease { .. } => "release update",
            Command::DeleteRelease { .. } => "release delete",
            Command::AddLink { .. } => "link add",
            Command::UpdateLink { .. } => "link update",
            Command::DeleteLink { .. } => "link delete",
            Command::CollectEvidence { .. } => "evidence collect",
            Command::CreateFreeze { .. } => "freeze create",
            Command::UpdateFreeze { .. } => "freeze update",
            Command::DeleteFreeze { .. } => "freeze delete",
            Command::InternalDetect { .. } => "internal detect",
            Command::InternalPrepare { .. } => "internal prepare",
            Command::InternalRemediate { .. } => "internal remediate",
            Command::InternalBackport { .. } => "internal backport",
            Command::InternalRelease { .. } => "internal release",
            Command::InternalFinalize { .. } => "internal finalize",
            Command::InternalDisclose { .. } => "internal disclose",
            Command::IssueToken { .. } => "token create",
            Command::IssueReport(_) => "report compliance",
            Command::ImportRelease { .. } => "import releases",
            Command::RevokeToken { .. } => "token revoke",
            Command::RotateToken { .. } => "token rotate",
            Command::AddHook { .. } => "hook add",
            Command::UpdateHook { .. } => "hook update",
            Command::DeleteHook { .. } => "hook delete",
        }
    }
}

/// What a valid command produces: documents to store first, then events to append in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub documents: Vec<evidence::Document>,
    /// Report artifacts to store (content-addressed) before the events that name them.
    pub artifacts: Vec<evidence::ArtifactFile>,
    pub events: Vec<Event>,
    /// Confidential texts to keep beside the log (0600) before the events that commit to them.
    pub secrets: Vec<crate::confidential::Secret>,
    /// The role the actor acted with (recorded in each record's actor field); `None` when relic
    /// itself acts (the scheduler), recorded as role `system`.
    pub role: Option<Role>,
}

/// A refused command: the reference's error text, its HTTP-like status, and, when the actor lacked
/// permission, the `access.denied` event that records the attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub message: String,
    pub status: u16,
    pub denied: Option<AccessDenied>,
    /// The actor's role, if a member, for the access-denied record's actor field.
    pub role: Option<Role>,
}

/// The `token.issued` event for a new token, or why it cannot be issued.
fn issue_token(st: &State, token_id: &str, user: &str, name: Option<&str>, expires_at: Option<&str>, now: DateTime<Utc>) -> Result<crate::event::TokenIssued, Refusal> {
    if token_id.len() != 16 || !token_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(refuse(400, "token id is invalid: it must be 16 lower-case hex digits"));
    }
    if user.is_empty() || user.len() > 255 || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse(400, "user is invalid: it must be non-empty, at most 255 bytes, without spaces or control characters"));
    }
    if let Some(n) = name {
        if n.trim().is_empty() || n.len() > 255 || n.chars().any(char::is_control) {
            return Err(refuse(400, "name is invalid: it must be non-blank, at most 255 bytes, without control characters"));
        }
    }
    if st.tokens.contains_key(token_id) {
        return Err(refuse(409, "Token already exists"));
    }
    let expires_at = match expires_at {
        None => None,
        Some(t) => match crate::timing::parse(t) {
            Some(at) if at > now => Some(ts(at)),
            Some(_) => return Err(refuse(400, "expires_at must be in the future")),
            None => return Err(refuse(400, "expires_at is invalid: use an RFC 3339 time such as 2027-01-01T00:00:00Z")),
        },
    };
    Ok(crate::event::TokenIssued { token_id: token_id.into(), user: user.into(), name: name.map(str::to_string), expires_at, issued_at: ts(now) })
}

/// The `token.revoked` event for a token, or why it cannot be revoked.
fn revoke_token(st: &State, token_id: &str, now: DateTime<Utc>) -> Result<crate::event::TokenRevoked, Refusal> {
    let Some(t) = st.tokens.get(token_id) else { return Err(refuse(404, "Token Not Found")) };
    if t.revoked_at.is_some() {
        return Err(refuse(409, "Token already revoked"));
    }
    Ok(crate::event::TokenRevoked { token_id: token_id.into(), user: t.user.clone(), revoked_at: ts(now) })
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal { message: message.into(), status, denied: None, role: None }
}

pub use crate::timing::ts;

fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, Refusal> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| refuse(400, format!("{field} is invalid: expected an RFC 3339 time such as 2026-06-01T10:00:00Z")))
}

struct Ctx<'a> {
    st: &'a State,
    actor: &'a str,
    command: &'static str,
}

impl Ctx<'_> {
    fn project(&self, path: &str) -> Result<&Project, Refusal> {
        self.st.projects.get(path).ok_or_else(|| refuse(404, format!("Project {path} not found")))
    }

    /// Requires `need` in `project`; otherwise a refusal carrying the access-denied event.
    fn require(&self, project: &str, need: Role, target: &str, message: &str) -> Result<Role, Refusal> {
        let role = self.st.role(project, self.actor);
        match role {
            Some(r) if r >= need => Ok(r),
            _ => Err(Refusal {
                message: message.to_string(),
                status: 403,
                role,
                denied: Some(AccessDenied {
                    project: project.to_string(),
                    command: self.command.to_string(),
                    target: target.to_string(),
                    reason: message.to_string(),
                    actor_role: role.map_or("none", Role::as_str).to_string(),
                    required_role: need,
                }),
            }),
        }
    }

    /// The release permission: developer and above, and allowed to create the tag if it is protected.
    fn release_access(&self, p: &Project, tag: &str) -> Result<Role, Refusal> {
        let role = self.require(&p.path, Role::Developer, tag, "Access Denied")?;
        if let Some(need) = protected_level(p, tag) {
            if role < need {
                return Err(self
                    .require(&p.path, need, tag, "You are not allowed to create this tag as it is protected.")
                    .err()
                    .unwrap_or_else(|| refuse(403, "You are not allowed to create this tag as it is protected.")));
            }
        }
        Ok(role)
    }
}

/// A hook's URL: http or https, with a host, at most 2,048 bytes.
fn check_hook_url(url: &str) -> Result<(), Refusal> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if url.len() > 2048 || host.is_none_or(str::is_empty) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse(422, "Invalid url given"));
    }
    Ok(())
}

/// Whether `c` changes how text reads without being seen: a bidirectional control (U+202A–U+202E,
/// U+2066–U+2069, U+200E, U+200F, U+061C) or a zero-width character (U+200B–U+200D, U+2060,
/// U+FEFF). No tag, project or milestone name holds one, so two names never look alike.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{061C}')
}

/// Refuses a project or milestone name (`what`) holding a control or invisible character.
fn visible_name(what: &str, name: &str) -> Result<(), Refusal> {
    match name.chars().find(|c| c.is_control() || is_invisible(*c)) {
        Some(c) => Err(refuse(400, format!("{what} is invalid: it contains U+{:04X}, an invisible or control character (two names must not look alike)", c as u32))),
        None => Ok(()),
    }
}

/// Whether `name` may name a tag: Git's rules for a ref name (`git check-ref-format`, applied to
/// `refs/tags/<name>`), and no invisible or direction-changing characters, so that two tags never
/// look alike. Not `HEAD`, not empty; no `..`, `@{`, `//`, control characters, space or any of
/// `~^:?*[\`; no part starting with `.` or ending in `.lock`; not starting or ending with `/`,
/// not ending with `.`; no bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
/// U+061C) and no zero-width characters (U+200B–U+200D, U+2060, U+FEFF).
pub fn valid_tag_name(name: &str) -> bool {
    let bad_char = |c: char| c.is_control() || " ~^:?*[\\".contains(c) || is_invisible(c);
    !(name.is_empty()
        || name == "HEAD"
        || name == "@"
        || name.contains("..")
        || name.contains("@{")
        || name.contains("//")
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with('.')
        || name.chars().any(bad_char)
        || name.split('/').any(|part| part.starts_with('.') || part.ends_with(".lock")))
}

/// The lowest role allowed to create `tag`, if a protected pattern matches it (the strictest wins).
pub fn protected_level(p: &Project, tag: &str) -> Option<Role> {
    p.protected_tags.iter().filter(|(pat, _)| wildcard_match(pat, tag)).map(|(_, r)| *r).max()
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The reference's `direct_asset_path` format: starts with `/`, segments of letters, digits,
/// `-`, `.`, `_` separated by single slashes, ends in a letter or digit.
pub fn valid_asset_path(p: &str) -> bool {
    let Some(rest) = p.strip_prefix('/') else { return false };
    !rest.is_empty()
        && !rest.starts_with('/')
        && !rest.contains("//")
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/'))
        && rest.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn check_link(l: &LinkInput, id: u64) -> Result<Link, Refusal> {
    let name = l.name.clone().unwrap_or_default();
    if name.trim().is_empty() {
        return Err(refuse(400, "Name can't be blank"));
    }
    let url = l.url.clone().unwrap_or_default();
    if url.trim().is_empty() {
        return Err(refuse(400, "Url can't be blank"));
    }
    let scheme_ok = url.split_once("://").is_some_and(|(s, rest)| {
        matches!(s.to_ascii_lowercase().as_str(), "http" | "https" | "ftp") && !rest.is_empty()
    });
    if !scheme_ok {
        return Err(refuse(400, "Url is blocked: Only allowed schemes are http, https, ftp"));
    }
    if let Some(p) = &l.direct_asset_path {
        if p.chars().count() > MAX_ASSET_PATH {
            return Err(refuse(400, format!("Direct asset path is too long (maximum is {MAX_ASSET_PATH} characters)")));
        }
        if !valid_asset_path(p) {
            return Err(refuse(400, "Direct asset path is in an invalid format"));
        }
    }
    let link_type = match &l.link_type {
        None => LinkType::Other,
        Some(t) => LinkType::parse(t).ok_or_else(|| refuse(400, "link_type does not have a valid value"))?,
    };
    Ok(Link { id, name, url, direct_asset_path: l.direct_asset_path.clone(), link_type })
}

/// A new release's links, checked, with the next link ids, none named or pointing twice.
fn new_links(st: &State, inputs: &[LinkInput]) -> Result<Vec<Link>, Refusal> {
    let links: Vec<Link> = inputs.iter().zip(st.last_link_id + 1..).map(|(l, id)| check_link(l, id)).collect::<Result<_, _>>()?;
    if let Some(d) = duplicate(&links) {
        return Err(refuse(400, format!("Validation failed: Links have duplicate values ({d})")));
    }
    Ok(links)
}

/// The first name or url that appears twice among `links`.
fn duplicate(links: &[Link]) -> Option<String> {
    for (i, a) in links.iter().enumerate() {
        for b in &links[..i] {
            if a.name == b.name {
                return Some(a.name.clone());
            }
            if a.url == b.url {
                return Some(a.url.clone());
            }
        }
    }
    None
}

fn missing_milestones(p: &Project, titles: &[String]) -> Result<(), Refusal> {
    let missing: Vec<&str> = titles.iter().filter(|t| !p.milestones.contains_key(*t)).map(String::as_str).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(refuse(400, format!("Milestone(s) not found: {}", missing.join(", "))))
    }
}

/// Decides a raw record (`relic append`) of a kind without rules: its subject names a project
/// (`<project>` or `<project>@<anything>`) that exists, a `project` member of the payload, if
/// any, names the same one, and the actor is a member of it with developer or above. Returns the
/// role the record is written with, taken from the membership the log records.
pub fn decide_record(st: &State, actor: &str, subject: &str, payload: &serde_json::Value) -> Result<Role, Refusal> {
    let cx = Ctx { st, actor, command: "append" };
    let project = subject.split_once('@').map_or(subject, |(p, _)| p);
    let p = cx.project(project)?;
    if let Some(named) = payload.get("project") {
        if named.as_str() != Some(project) {
            return Err(refuse(400, format!("The payload's project must be the subject's project, {project}")));
        }
    }
    cx.require(&p.path, Role::Developer, subject, "Access Denied")
}

/// Decides a command. `now` is the time the command is decided at (the records' time will be this
/// or slightly later).
pub fn decide(st: &State, actor: &str, cmd: &Command, now: DateTime<Utc>) -> Result<Decision, Refusal> {
    let cx = Ctx { st, actor, command: cmd.name() };
    let one = |role: Role, e: Event| Ok(Decision { events: vec![e], role: Some(role), ..Decision::default() });
    match cmd {
        Command::RegisterProject { project, name, description } => {
            if project.is_empty() || project.contains(['@', ' ']) || project.starts_with("internal/") {
                return Err(refuse(400, "Project path is invalid: it must be non-empty, without spaces or '@'"));
            }
            visible_name("Project path", project)?;
            visible_name("Name", name)?;
            if st.projects.contains_key(project) {
                return Err(refuse(409, "Project already exists"));
            }
            let e = ProjectRegistered {
                project: project.clone(),
                id: st.last_project_id + 1,
                name: name.clone(),
                description: description.clone(),
                created_at: ts(now),
            };
            one(Role::Owner, Event::ProjectRegistered(e))
        }
        Command::SetMemberRole { project, user, role } => {
            cx.project(project)?;
            let need = if *role == Role::Owner { Role::Owner } else { Role::Maintainer };
            let r = cx.require(project, need, user, "Access Denied")?;
            if user.trim().is_empty() {
                return Err(refuse(400, "User can't be blank"));
            }
            one(r, Event::MemberRoleSet(MemberRoleSet { project: project.clone(), user: user.clone(), role: *role }))
        }
        Command::ProtectTag { project, pattern, create_access_level } => {
            cx.project(project)?;
            let r = cx.require(project, Role::Maintainer, pattern, "Access Denied")?;
            if pattern.trim().is_empty() {
                return Err(refuse(400, "Name can't be blank"));
            }
            let e = ProtectedTagSet { project: project.clone(), pattern: pattern.clone(), create_access_level: *create_access_level };
            one(r, Event::ProtectedTagSet(e))
        }
        Command::UnprotectTag { project, pattern } => {
            let p = cx.project(project)?;
            let r = cx.require(project, Role::Maintainer, pattern, "Access Denied")?;
            if !p.protected_tags.contains_key(pattern) {
                return Err(refuse(404, "Protected tag not found"));
            }
            one(r, Event::ProtectedTagRemoved(ProtectedTagRemoved { project: project.clone(), pattern: pattern.clone() }))
        }
        Command::RecordTag { project, name, git_ref, commit, message } => {
            let p = cx.project(project)?;
            let r = cx.release_access(p, name)?;
            if !valid_tag_name(name) {
                return Err(refuse(400, "Tag name invalid"));
            }
            if p.tags.contains_key(name) {
                return Err(refuse(400, "Tag already exists"));
            }
            let e = TagRecorded { project: project.clone(), name: name.clone(), git_ref: git_ref.clone(), commit: commit.clone(), message: message.clone() };
            one(r, Event::TagRecorded(e))
        }
        Command::RecordMilestone(m) => {
            cx.project(&m.project)?;
            let r = cx.require(&m.project, Role::Developer, &m.title, "Access Denied")?;
            if m.title.trim().is_empty() {
                return Err(refuse(400, "Title can't be blank"));
            }
            visible_name("Title", &m.title)?;
            one(r, Event::MilestoneRecorded(m.clone()))
        }
        Command::CreateRelease { project, tag_name, name, description, git_ref, tag_message, released_at, milestones, links, report_artifacts } => {
            let p = cx.project(project)?;
            let role = cx.release_access(p, tag_name)?;
            if !valid_tag_name(tag_name) {
                return Err(refuse(400, "Tag name invalid"));
            }
            if p.releases.contains_key(tag_name) {
                return Err(refuse(409, "Release already exists"));
            }
            missing_milestones(p, milestones)?;
            let tag = p.tags.get(tag_name);
            if tag.is_none() && git_ref.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(refuse(422, "Ref is not specified"));
            }
            let links = new_links(st, links)?;
            if description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
                return Err(refuse(400, format!("Description is too long (maximum is {MAX_DESCRIPTION} characters)")));
            }
            let released = match released_at {
                Some(s) => parse_time("released_at", s)?,
                None => now,
            };
            let mut events = Vec::new();
            if tag.is_none() {
                let commit = git_ref.clone().filter(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()));
                events.push(Event::TagRecorded(TagRecorded {
                    project: project.clone(),
                    name: tag_name.clone(),
                    git_ref: git_ref.clone().unwrap_or_default(),
                    commit,
                    message: tag_message.clone(),
                }));
            }
            let created = ReleaseCreated {
                project: project.clone(),
                id: st.last_release_id + 1,
                tag_name: tag_name.clone(),
                name: name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| tag_name.clone()),
                description: description.clone(),
                git_ref: git_ref.clone(),
                commit: tag.and_then(|t| t.commit.clone()).or_else(|| events.first().and_then(tag_commit)),
                created_at: ts(now),
                released_at: ts(released),
                milestones: milestones.clone(),
                links,
                report_artifacts: report_artifacts.iter().map(|f| f.artifact.clone()).collect(),
            };
            events.push(Event::ReleaseCreated(created.clone()));
            let mut documents = Vec::new();
            // Evidence on create, unless the release is upcoming or historical.
            if timing::evidence_expected(released, now, now) {
                let release = release_from(&created, actor);
                let (doc, ev) = collect(st, p, &release, now, EvidenceReason::Create, None);
                documents.push(doc);
                events.push(Event::EvidenceCollected(ev));
            }
            Ok(Decision { documents, artifacts: report_artifacts.clone(), events, role: Some(role), secrets: Vec::new() })
        }
        Command::UpdateRelease { project, tag_name, name, description, released_at, milestones } => {
            let p = cx.project(project)?;
            let r = p.releases.get(tag_name).ok_or_else(|| refuse(404, "Release does not exist"))?;
            let role = cx.release_access(p, tag_name)?;
            if name.is_none() && description.is_none() && released_at.is_none() && milestones.is_none() {
                return Err(refuse(400, "params is empty"));
            }
            if let Some(m) = milestones {
                missing_milestones(p, m)?;
            }
            if description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
                return Err(refuse(400, format!("Description is too long (maximum is {MAX_DESCRIPTION} characters)")));
            }
            let released_at = released_at.as_ref().map(|s| parse_time("released_at", s).map(ts)).transpose()?;
            // Only what changes is recorded.
            let e = ReleaseUpdated {
                project: project.clone(),
                tag_name: tag_name.clone(),
                name: name.clone().filter(|n| n != &r.name),
                description: description.clone().filter(|d| Some(d) != r.description.as_ref()),
                released_at: released_at.filter(|t| *t != ts(r.released_at)),
                milestones: milestones.clone().filter(|m| m != &r.milestones),
            };
            Ok(Decision { events: vec![Event::ReleaseUpdated(e)], role: Some(role), ..Decision::default() })
        }
        Command::DeleteRelease { project, tag_name } => {
            let p = cx.project(project)?;
            p.releases.get(tag_name).ok_or_else(|| refuse(404, "Release does not exist"))?;
            let role = cx.release_access(p, tag_name)?;
            one(role, Event::ReleaseDeleted(ReleaseDeleted { project: project.clone(), tag_name: tag_name.clone() }))
        }
        Command::AddLink { project, tag_name, link } => {
            let p = cx.project(project)?;
            let r = p.releases.get(tag_name).ok_or_else(|| refuse(404, "Release does not exist"))?;
            let role = cx.release_access(p, tag_name)?;
            let l = check_link(link, st.last_link_id + 1)?;
            unique_in_release(r, &l)?;
            one(role, Event::LinkAdded(LinkAdded { project: project.clone(), tag_name: tag_name.clone(), link: l }))
        }
        Command::UpdateLink { project, tag_name, id, link } => {
            let p = cx.project(project)?;
            let r = p.releases.get(tag_name).ok_or_else(|| refuse(404, "Release does not exist"))?;
            let role = cx.release_access(p, tag_name)?;
            let old = r.links.get(id).ok_or_else(|| refuse(404, "Link does not exist"))?;
            let merged = LinkInput {
                name: link.name.clone().or_else(|| Some(old.name.clone())),
                url: link.url.clone().or_else(|| Some(old.url.clone())),
                direct_asset_path: link.direct_asset_path.clone().or_else(|| old.direct_asset_path.clone()),
                link_type: link.link_type.clone().or_else(|| Some(format!("{:?}", old.link_type).to_lowercase())),
            };
            let l = check_link(&merged, *id)?;
            unique_in_release(r, &l)?;
            one(role, Event::LinkUpdated(LinkUpdated { project: project.clone(), tag_name: tag_name.clone(), link: l }))
        }
        Command::DeleteLink { project, tag_name, id } => {
            let p = cx.project(project)?;
            let r = p.releases.get(tag_name).ok_or_else(|| refuse(404, "Release does not exist"))?;
            let role = cx.release_access(p, tag_name)?;
            r.links.get(id).ok_or_else(|| refuse(404, "Link does not exist"))?;
            one(role, Event::LinkDeleted(LinkDeleted { project: project.clone(), tag_name: tag_name.clone(), id: *id }))
        }
        Command::CollectEvidence { project, tag_name, reason, scheduled_at } => {
            let p = cx.project(project)?;
            let r = p.releases.get(tag_name).ok_or_else(|| refuse(404, "Release does not exist"))?;
            // The scheduler collects as the system itself, exactly once per scheduled time; people
            // need the release permission.
            let role = if *reason == EvidenceReason::Scheduled {
                let at = scheduled_at.as_deref().ok_or_else(|| refuse(400, "scheduled_at is missing"))?;
                if let Some(why) = crate::schedule::not_due(r, at, now) {
                    return Err(refuse(409, why));
                }
                None
            } else {
                let role = cx.release_access(p, tag_name)?;
                if crate::timing::is_upcoming(r.released_at, now) {
                    return Err(refuse(
                        422,
                        format!("Release is upcoming: its evidence is collected at its released_at ({}). You cannot collect release evidence before then.", ts(r.released_at)),
                    ));
                }
                Some(role)
            };
            let (doc, ev) = collect(st, p, r, now, *reason, scheduled_at.clone());
            Ok(Decision { documents: vec![doc], events: vec![Event::EvidenceCollected(ev)], role, ..Decision::default() })
        }
        Command::CreateFreeze { project, freeze_start, freeze_end, cron_timezone } => {
            cx.project(project)?;
            let role = cx.require(project, Role::Maintainer, "freeze period", "Access Denied")?;
            let tz = cron_timezone.clone().unwrap_or_else(|| "UTC".to_string());
            let v = freeze::validate(freeze_start, freeze_end, Some(&tz)).map_err(|e| refuse(400, e.to_string()))?;
            let e = FreezeCreated {
                project: project.clone(),
                id: st.last_freeze_id + 1,
                freeze_start: v.freeze_start().to_string(),
                freeze_end: v.freeze_end().to_string(),
                cron_timezone: v.cron_timezone().to_string(),
            };
            one(role, Event::FreezeCreated(e))
        }
        Command::UpdateFreeze { project, id, freeze_start, freeze_end, cron_timezone } => {
            let p = cx.project(project)?;
            let role = cx.require(project, Role::Maintainer, &format!("freeze period {id}"), "Access Denied")?;
            let old = p.freezes.get(id).ok_or_else(|| refuse(404, "Freeze period not found"))?;
            if freeze_start.is_none() && freeze_end.is_none() && cron_timezone.is_none() {
                return Err(refuse(400, "params is empty"));
            }
            let (s, e, tz) = (
                freeze_start.clone().unwrap_or_else(|| old.freeze_start.clone()),
                freeze_end.clone().unwrap_or_else(|| old.freeze_end.clone()),
                cron_timezone.clone().unwrap_or_else(|| old.cron_timezone.clone()),
            );
            let v = freeze::validate(&s, &e, Some(&tz)).map_err(|err| refuse(400, err.to_string()))?;
            let e = FreezeUpdated {
                project: project.clone(),
                id: *id,
                freeze_start: v.freeze_start().to_string(),
                freeze_end: v.freeze_end().to_string(),
                cron_timezone: v.cron_timezone().to_string(),
            };
            one(role, Event::FreezeUpdated(e))
        }
        Command::DeleteFreeze { project, id } => {
            let p = cx.project(project)?;
            let role = cx.require(project, Role::Maintainer, &format!("freeze period {id}"), "Access Denied")?;
            p.freezes.get(id).ok_or_else(|| refuse(404, "Freeze period not found"))?;
            one(role, Event::FreezeDeleted(FreezeDeleted { project: project.clone(), id: *id }))
        }
        Command::IssueToken { token_id, user, name, expires_at } => {
            let e = issue_token(st, token_id, user, name.as_deref(), expires_at.as_deref(), now)?;
            Ok(Decision { events: vec![Event::TokenIssued(e)], role: None, ..Decision::default() })
        }
        Command::ImportRelease { project, release: r, source } => {
            let p = cx.project(project)?;
            let role = cx.release_access(p, &r.tag_name)?;
            if !valid_tag_name(&r.tag_name) {
                return Err(refuse(400, "Tag name invalid"));
            }
            if p.releases.contains_key(&r.tag_name) {
                return Err(refuse(409, "Release already exists"));
            }
            let created_at = parse_time("created_at", &r.created_at)?;
            let released_at = parse_time("released_at", &r.released_at)?;
            let links = new_links(st, &r.links)?;
            if r.description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
                return Err(refuse(400, format!("Description is too long (maximum is {MAX_DESCRIPTION} characters)")));
            }
            let e = crate::event::ReleaseImported {
                project: project.clone(),
                id: st.last_release_id + 1,
                tag_name: r.tag_name.clone(),
                name: r.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| r.tag_name.clone()),
                description: r.description.clone(),
                commit: r.commit.clone(),
                created_at: ts(created_at),
                released_at: ts(released_at),
                author: r.author.clone(),
                milestones: r.milestones.clone(),
                links,
                source: source.clone(),
            };
            one(role, Event::ReleaseImported(e))
        }
        Command::IssueReport(r) => {
            if r.digest.len() != 64 || !r.digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(refuse(400, "digest is invalid: it must be 64 lower-case hex digits (BLAKE3)"));
            }
            if !matches!(r.format.as_str(), "json" | "md" | "html") || !matches!(r.result.as_str(), "pass" | "fail") {
                return Err(refuse(400, "format must be json, md or html, and result pass or fail"));
            }
            if let Some(earlier) = st.reports.get(&r.digest) {
                return Err(refuse(409, format!("This report was already issued (record {})", earlier.seq)));
            }
            let e = crate::event::ReportIssued { issued_at: ts(now), ..r.clone() };
            Ok(Decision { events: vec![Event::ReportIssued(e)], role: None, ..Decision::default() })
        }
        Command::RevokeToken { token_id } => {
            let e = revoke_token(st, token_id, now)?;
            Ok(Decision { events: vec![Event::TokenRevoked(e)], role: None, ..Decision::default() })
        }
        Command::RotateToken { token_id, new_token_id, expires_at } => {
            let revoked = revoke_token(st, token_id, now)?;
            let Some(old) = st.tokens.get(token_id) else { return Err(refuse(404, "Token Not Found")) };
            let issued = issue_token(st, new_token_id, &old.user, old.name.as_deref(), expires_at.as_deref(), now)?;
            Ok(Decision { events: vec![Event::TokenRevoked(revoked), Event::TokenIssued(issued)], role: None, ..Decision::default() })
        }
        Command::AddHook { project, url, releases_events, has_token } => {
            cx.project(project)?;
            let role = cx.require(project, Role::Maintainer, url, "Access Denied")?;
            check_hook_url(url)?;
            let e = HookSubscribed { project: project.clone(), hook_id: st.last_hook_id + 1, url: url.clone(), releases_events: *releases_events, has_token: *has_token };
            one(role, Event::HookSubscribed(e))
        }
        Command::UpdateHook { project, id, url, releases_events, has_token } => {
            let p = cx.project(project)?;
            let role = cx.require(project, Role::Maintainer, &id.to_string(), "Access Denied")?;
            let old = &p.hooks.get(id).ok_or_else(|| refuse(404, "404 Not found"))?.hook;
            if url.is_none() && releases_events.is_none() && has_token.is_none() {
                return Err(refuse(400, "params is empty"));
            }
            if let Some(u) = url {
                check_hook_url(u)?;
            }
            let e = HookSubscribed {
                project: project.clone(),
                hook_id: *id,
                url: url.clone().unwrap_or_else(|| old.url.clone()),
                releases_events: releases_events.unwrap_or(old.releases_events),
                has_token: has_token.unwrap_or(old.has_token),
            };
            one(role, Event::HookSubscribed(e))
        }
        Command::DeleteHook { project, id } => {
            let p = cx.project(project)?;
            let role = cx.require(project, Role::Maintainer, &id.to_string(), "Access Denied")?;
            p.hooks.get(id).ok_or_else(|| refuse(404, "404 Not found"))?;
            one(role, Event::HookUnsubscribed(HookUnsubscribed { project: project.clone(), hook_id: *id }))
        }
        _ => crate::internal::decide(&cx_parts(&cx), cmd, now),
    }
}

/// What the internal-release rules need from the context.
pub(crate) struct Parts<'a> {
    pub st: &'a State,
    pub actor: &'a str,
    pub command: &'static str,
}

impl Parts<'_> {
    pub fn require(&self, project: &str, need: Role, target: &str) -> Result<Role, Refusal> {
        Ctx { st: self.st, actor: self.actor, command: self.command }.require(project, need, target, "Access Denied")
    }
    pub fn project(&self, path: &str) -> Result<&Project, Refusal> {
        self.st.projects.get(path).ok_or_else(|| refuse(404, format!("Project {path} not found")))
    }
}

fn cx_parts<'a>(cx: &Ctx<'a>) -> Parts<'a> {
    Parts { st: cx.st, actor: cx.actor, command: cx.command }
}

pub(crate) fn refusal(status: u16, message: impl Into<String>) -> Refusal {
    refuse(status, message)
}

pub(crate) fn phase_error(id: &str, want: Phase, missing: &str) -> Refusal {
    refuse(409, format!("Internal release {id} cannot enter {}: {missing}", want.name()))
}

fn tag_commit(e: &Event) -> Option<String> {
    match e {
        Event::TagRecorded(t) => t.commit.clone(),
        _ => None,
    }
}

fn unique_in_release(r: &Release, l: &Link) -> Result<(), Refusal> {
    for other in r.links.values().filter(|o| o.id != l.id) {
        if other.name == l.name {
            return Err(refuse(400, "Name has already been taken"));
        }
        if other.url == l.url {
            return Err(refuse(400, "Url has already been taken"));
        }
    }
    Ok(())
}

fn release_from(c: &ReleaseCreated, author: &str) -> Release {
    Release {
        id: c.id,
        tag_name: c.tag_name.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        git_ref: c.git_ref.clone(),
        commit: c.commit.clone(),
        created_at: timing::parse(&c.created_at).unwrap_or(DateTime::<Utc>::MIN_UTC),
        released_at: timing::parse(&c.released_at).unwrap_or(DateTime::<Utc>::MIN_UTC),
        milestones: c.milestones.clone(),
        links: c.links.iter().map(|l| (l.id, l.clone())).collect(),
        report_artifacts: c.report_artifacts.clone(),
        evidences: Vec::new(),
        author: author.to_string(),
        imported_from: None,
    }
}

fn collect(
    st: &State,
    p: &Project,
    r: &Release,
    now: DateTime<Utc>,
    reason: EvidenceReason,
    scheduled_at: Option<String>,
) -> (evidence::Document, EvidenceCollected) {
    let collected_at = ts(now);
    let doc = evidence::document(p, r, &collected_at);
    let ev = EvidenceCollected {
        project: p.path.clone(),
        tag_name: r.tag_name.clone(),
        release_id: r.id,
        id: st.last_evidence_id + 1,
        sha: doc.sha.clone(),
        filepath: evidence::document_path(&doc.sha),
        collected_at,
        reason,
        scheduled_at,
        report_artifacts: r.report_artifacts.clone(),
        redacted_issues: doc.redacted_issues,
    };
    (doc, ev)
}

#[cfg(test)]
mod tag_name_tests {
    use super::valid_tag_name;

    #[test]
    fn tag_names_follow_git_and_never_hide_characters() {
        for ok in ["v1.0.0", "release/2026-06", "v4.3.0-rc.1", "x_y", "ü"] {
            assert!(valid_tag_name(ok), "{ok:?} refused");
        }
        for bad in [
            "", "HEAD", "@", "a..b", "../etc/passwd", "a/../b", "a@{1}", "a//b", "/a", "a/", "a.", ".a", "a/.b", "a.lock", "a b", "a~1",
            "a^", "a:b", "a?", "a*", "a[", "a\\b", "a\tb", "a\u{7f}", "v1\u{202E}0", "v1\u{200B}", "v\u{2066}1", "\u{FEFF}v1",
        ] {
            assert!(!valid_tag_name(bad), "{bad:?} accepted");
        }
    }
}
