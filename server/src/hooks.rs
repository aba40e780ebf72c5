//! Project hooks (GitLab's `lib/api/project_hooks.rb`): `GET/POST /projects/:id/hooks`,
//! `GET/PUT/DELETE /projects/:id/hooks/:hook_id`, maintainers and above. Subscribing, changing and
//! deleting a hook are recorded (`hook.subscribed`, `hook.unsubscribed`); its secret token is kept
//! beside the log ([`crate::delivery::set_secret`]) before the record, never in it. Deliveries:
//! [`crate::delivery`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use relic_domain::decide::Command;
use relic_domain::event::Role;
use relic_domain::state::Hook;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{Caller, Shared};
use crate::body::{self, QueryParams as Q};
use crate::error::{self, ApiError};

fn hook_json(project_id: u64, h: &Hook) -> Value {
    json!({
        "id": h.hook.hook_id,
        "url": h.hook.url,
        "project_id": project_id,
        "releases_events": h.hook.releases_events,
        "push_events": false,
        "tag_push_events": false,
        "issues_events": false,
        "merge_requests_events": false,
        "enable_ssl_verification": true,
        "relic_subscribed_at_seq": h.since_seq,
    })
}

fn maintainer(c: &Caller) -> Result<(), ApiError> {
    if c.role < Role::Maintainer {
        return Err(error::forbidden());
    }
    Ok(())
}

fn one(pt: &relic_projector::views::Point, c: &Caller, id: u64) -> Result<Value, ApiError> {
    let p = pt.project(&c.project)?;
    p.hooks.get(&id).map(|h| hook_json(p.id, h)).ok_or_else(|| error::not_found(""))
}

pub async fn list(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    maintainer(&c)?;
    let (v, at) = app.view(body::as_of(q)?.as_deref(), move |pt| pt.project(&c.project).map(|p| Value::Array(p.hooks.values().map(|h| hook_json(p.id, h)).collect()))).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

pub async fn get(State(app): State<Shared>, headers: HeaderMap, Path((id, hook)): Path<(String, u64)>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    maintainer(&c)?;
    let (v, at) = app.view(body::as_of(q)?.as_deref(), move |pt| one(pt, &c, hook)).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HookBody {
    url: Option<String>,
    releases_events: Option<bool>,
    /// The secret token sent as `X-Gitlab-Token`; an empty one removes it.
    token: Option<String>,
}

pub async fn add(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: HookBody = body::json(&headers, body)?;
    let url = b.url.ok_or_else(|| error::bad_request("url is missing"))?;
    let token = b.token.filter(|t| !t.is_empty());
    let cmd = Command::AddHook { project: c.project.clone(), url, releases_events: b.releases_events.unwrap_or(false), has_token: token.is_some() };
    let data = app.data.clone();
    let user = c.user.clone();
    let (v, _, at) = app
        .write(
            &user,
            cmd,
            // The secret first (or none: a refused attempt may have left one), under the id the
            // rules are about to give the hook.
            move |pt| crate::delivery::set_secret(&data, pt.state.last_hook_id + 1, token.as_deref()).map_err(error::internal),
            move |pt, ()| one(pt, &c, pt.state.last_hook_id),
        )
        .await?;
    Ok(at.respond(StatusCode::CREATED, v?))
}

pub async fn edit(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, hook)): Path<(String, u64)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: HookBody = body::json(&headers, body)?;
    let token = b.token.clone();
    let cmd = Command::UpdateHook { project: c.project.clone(), id: hook, url: b.url, releases_events: b.releases_events, has_token: b.token.as_ref().map(|t| !t.is_empty()) };
    let data = app.data.clone();
    let user = c.user.clone();
    let may = c.role >= Role::Maintainer;
    let (v, _, at) = app
        .write(
            &user,
            cmd,
            move |_| match &token {
                Some(t) if may => crate::delivery::set_secret(&data, hook, Some(t).filter(|t| !t.is_empty()).map(String::as_str)).map_err(error::internal),
                _ => Ok(()),
            },
            move |pt, ()| one(pt, &c, hook),
        )
        .await?;
    Ok(at.respond(StatusCode::OK, v?))
}

pub async fn delete(State(app): State<Shared>, headers: HeaderMap, Path((id, hook)): Path<(String, u64)>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let cmd = Command::DeleteHook { project: c.project.clone(), id: hook };
    let (_, _, at) = app.write(&c.user, cmd, |_| Ok(()), |_, ()| ()).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    at.headers(r.headers_mut());
    Ok(r)
}
