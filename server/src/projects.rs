//! The user, projects and what belongs to a project besides its releases: members
//! (`lib/api/members.rb`), protected tags (`lib/api/protected_tags.rb`) and deploy freeze periods
//! (`lib/api/freeze_periods.rb`), in GitLab's shapes. A project exists only for its members.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use relic_domain::decide::Command;
use relic_domain::event::{FreezeCreated, Role};
use relic_domain::state::Project;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{self, user_json, Caller, Shared};
use crate::body::{self, QueryParams as Q};
use crate::error::{self, ApiError};

pub async fn user(State(app): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let name = app.authenticate(&headers).await?;
    Ok(Json(user_json(&app.base, &name)))
}

fn project_json(base: &str, p: &Project, user: &str) -> Value {
    let (namespace, path) = p.path.rsplit_once('/').unwrap_or(("", &p.path));
    json!({
        "id": p.id,
        "name": p.name,
        "path": path,
        "path_with_namespace": p.path,
        "name_with_namespace": if namespace.is_empty() { p.name.clone() } else { format!("{namespace} / {}", p.name) },
        "description": p.description,
        "created_at": p.created_at,
        "default_branch": "main",
        "visibility": "private",
        "web_url": format!("{base}/{}", p.path),
        "namespace": {"name": namespace, "path": namespace, "full_path": namespace, "kind": "group"},
        "permissions": {"project_access": p.members.get(user).map(|r| json!({"access_level": r.access_level()}))},
    })
}

pub async fn project(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let base = app.base.clone();
    let (v, at) = app.view(body::as_of(q)?.as_deref(), move |pt| pt.project(&c.project).map(|p| project_json(&base, p, &c.user))).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

fn member_json(base: &str, name: &str, role: Role) -> Value {
    let mut v = user_json(base, name);
    v["access_level"] = json!(role.access_level());
    v["expires_at"] = Value::Null;
    v
}

pub async fn members(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let base = app.base.clone();
    let (v, at) = app
        .view(body::as_of(q)?.as_deref(), move |pt| pt.project(&c.project).map(|p| Value::Array(p.members.iter().map(|(u, r)| member_json(&base, u, *r)).collect())))
        .await?;
    Ok(at.respond(StatusCode::OK, v?))
}

/// `user_id`: GitLab's numeric id (relic's are derived from the name, [`app::user_id`]) or a
/// username; `username` is accepted as well.
#[derive(Deserialize)]
#[serde(untagged)]
enum UserRef {
    Id(u64),
    Name(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    user_id: Option<UserRef>,
    username: Option<String>,
    access_level: Option<u64>,
    #[allow(dead_code)]
    expires_at: Option<String>,
}

/// The name of the user `r` refers to, among the users the log knows (members of any project and
/// holders of tokens).
fn resolve_user(st: &relic_domain::state::State, r: &UserRef) -> Option<String> {
    match r {
        UserRef::Name(n) => match n.parse::<u64>() {
            Ok(id) => resolve_user(st, &UserRef::Id(id)),
            Err(_) => Some(n.clone()),
        },
        UserRef::Id(id) => st
            .projects
            .values()
            .flat_map(|p| p.members.keys())
            .chain(st.tokens.values().map(|t| &t.user))
            .find(|u| app::user_id(u) == *id)
            .cloned(),
    }
}

fn level(n: Option<u64>) -> Result<Role, ApiError> {
    let n = n.ok_or_else(|| error::bad_request("access_level is missing"))?;
    Role::from_access_level(n).ok_or_else(|| error::bad_request("access_level does not have a valid value"))
}

pub async fn add_member(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: MemberBody = body::json(&headers, body)?;
    let role = level(b.access_level)?;
    let who = b.user_id.or(b.username.map(UserRef::Name)).ok_or_else(|| error::bad_request("user_id is missing"))?;
    let (user, _) = app.read(move |pt| resolve_user(pt.state, &who)).await?;
    let user = user.ok_or_else(|| error::not_found("User"))?;
    set_member(&app, c, user, role, true).await
}

pub async fn edit_member(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, user_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: MemberBody = body::json(&headers, body)?;
    let role = level(b.access_level)?;
    let (user, _) = app.read(move |pt| resolve_user(pt.state, &UserRef::Name(user_id))).await?;
    let user = user.ok_or_else(|| error::not_found("Member"))?;
    set_member(&app, c, user, role, false).await
}

/// Adds (`new`) or changes a member: 409 `Member already exists` for an add of a member, 404 for a
/// change of someone who is not one.
async fn set_member(app: &Shared, c: Caller, user: String, role: Role, new: bool) -> Result<Response, ApiError> {
    let (project, u) = (c.project.clone(), user.clone());
    let (is_member, _) = app.read(move |pt| pt.project(&project).map(|p| p.members.contains_key(&u))).await?;
    match (new, is_member?) {
        (true, true) => return Err(error::message(StatusCode::CONFLICT, "Member already exists")),
        (false, false) => return Err(error::not_found("Member")),
        _ => {}
    }
    let cmd = Command::SetMemberRole { project: c.project.clone(), user: user.clone(), role };
    let base = app.base.clone();
    let (v, _, at) = app.write(&c.user, cmd, |_| Ok(()), move |_, ()| member_json(&base, &user, role)).await?;
    Ok(at.respond(if new { StatusCode::CREATED } else { StatusCode::OK }, v))
}

fn protected_json(pattern: &str, r: Role) -> Value {
    let description = match r {
        Role::Guest => "Guests",
        Role::Reporter => "Reporters",
        Role::Developer => "Developers + Maintainers",
        Role::Maintainer => "Maintainers",
        Role::Owner => "Owners",
    };
    json!({"name": pattern, "create_access_levels": [{"id": null, "access_level": r.access_level(), "access_level_description": description}]})
}

pub async fn protected_tags(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let (v, at) = app
        .view(body::as_of(q)?.as_deref(), move |pt| pt.project(&c.project).map(|p| Value::Array(p.protected_tags.iter().map(|(n, r)| protected_json(n, *r)).collect())))
        .await?;
    Ok(at.respond(StatusCode::OK, v?))
}

pub async fn protected_tag(State(app): State<Shared>, headers: HeaderMap, Path((id, name)): Path<(String, String)>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let (v, at) = app
        .view(body::as_of(q)?.as_deref(), move |pt| {
            let p = pt.project(&c.project)?;
            p.protected_tags.get(&name).map(|r| protected_json(&name, *r)).ok_or_else(|| error::not_found("Protected tag"))
        })
        .await?;
    Ok(at.respond(StatusCode::OK, v?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtectBody {
    name: Option<String>,
    create_access_level: Option<u64>,
}

pub async fn protect_tag(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: ProtectBody = body::json(&headers, body)?;
    let name = b.name.ok_or_else(|| error::bad_request("name is missing"))?;
    let role = level(Some(b.create_access_level.unwrap_or(40)))?;
    let (project, n) = (c.project.clone(), name.clone());
    let (exists, _) = app.read(move |pt| pt.project(&project).map(|p| p.protected_tags.contains_key(&n))).await?;
    if exists? {
        return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, json!({"message": ["Name has already been taken"]})));
    }
    let cmd = Command::ProtectTag { project: c.project.clone(), pattern: name.clone(), create_access_level: role };
    let (v, _, at) = app.write(&c.user, cmd, |_| Ok(()), move |_, ()| protected_json(&name, role)).await?;
    Ok(at.respond(StatusCode::CREATED, v))
}

pub async fn unprotect_tag(State(app): State<Shared>, headers: HeaderMap, Path((id, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let cmd = Command::UnprotectTag { project: c.project.clone(), pattern: name };
    let (_, _, at) = app.write(&c.user, cmd, |_| Ok(()), |_, ()| ()).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    at.headers(r.headers_mut());
    Ok(r)
}

fn freeze_json(f: &FreezeCreated) -> Value {
    json!({"id": f.id, "freeze_start": f.freeze_start, "freeze_end": f.freeze_end, "cron_timezone": f.cron_timezone})
}

/// Freeze periods are read by developers and above (GitLab's `read_freeze_period`).
fn may_read_freezes(c: &Caller) -> Result<(), ApiError> {
    if c.role < Role::Developer {
        return Err(error::forbidden());
    }
    Ok(())
}

pub async fn freezes(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    may_read_freezes(&c)?;
    let (v, at) = app.view(body::as_of(q)?.as_deref(), move |pt| pt.project(&c.project).map(|p| Value::Array(p.freezes.values().map(freeze_json).collect()))).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

fn one_freeze(pt: &relic_projector::views::Point, c: &Caller, id: u64) -> Result<Value, ApiError> {
    pt.project(&c.project)?.freezes.get(&id).map(freeze_json).ok_or_else(|| error::not_found(""))
}

pub async fn freeze(State(app): State<Shared>, headers: HeaderMap, Path((id, fid)): Path<(String, u64)>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    may_read_freezes(&c)?;
    let (v, at) = app.view(body::as_of(q)?.as_deref(), move |pt| one_freeze(pt, &c, fid)).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreezeBody {
    freeze_start: Option<String>,
    freeze_end: Option<String>,
    cron_timezone: Option<String>,
}

pub async fn create_freeze(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: FreezeBody = body::json(&headers, body)?;
    let freeze_start = b.freeze_start.ok_or_else(|| error::bad_request("freeze_start is missing"))?;
    let freeze_end = b.freeze_end.ok_or_else(|| error::bad_request("freeze_end is missing"))?;
    let cmd = Command::CreateFreeze { project: c.project.clone(), freeze_start, freeze_end, cron_timezone: b.cron_timezone };
    let user = c.user.clone();
    let (v, _, at) = app.write(&user, cmd, |_| Ok(()), move |pt, ()| one_freeze(pt, &c, pt.state.last_freeze_id)).await?;
    Ok(at.respond(StatusCode::CREATED, v?))
}

pub async fn update_freeze(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, u64)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: FreezeBody = body::json(&headers, body)?;
    let cmd = Command::UpdateFreeze { project: c.project.clone(), id: fid, freeze_start: b.freeze_start, freeze_end: b.freeze_end, cron_timezone: b.cron_timezone };
    let user = c.user.clone();
    let (v, _, at) = app.write(&user, cmd, |_| Ok(()), move |pt, ()| one_freeze(pt, &c, fid)).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

pub async fn delete_freeze(State(app): State<Shared>, headers: HeaderMap, Path((id, fid)): Path<(String, u64)>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let cmd = Command::DeleteFreeze { project: c.project.clone(), id: fid };
    let (_, _, at) = app.write(&c.user, cmd, |_| Ok(()), |_, ()| ()).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    at.headers(r.headers_mut());
    Ok(r)
}
