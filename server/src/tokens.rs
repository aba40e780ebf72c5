//! Personal access tokens over the API (GitLab's `lib/api/personal_access_tokens.rb` and the
//! administrator's `POST /users/:user_id/personal_access_tokens`): list, get, rotate and revoke
//! tokens, and issue them, while the server runs, so that a leaked token is refused the moment it
//! is revoked and a new one works the moment it is issued, without a restart.
//!
//! Who may: a token's user sees, rotates and revokes their own tokens (`self` names the token the
//! request carries); the operator (this run's `<data>/operator.token`, [`crate::operator_file`],
//! named by `X-Relic-Actor`) does so for every token and is the only one who issues tokens, as
//! GitLab's administrator. Someone else's token is answered `404 Token Not Found`, as if it did not
//! exist. Issuing, rotating and revoking are decided and recorded like every command
//! (`token.issued`, `token.revoked`, role `system`); a new secret's hash is stored beside the log
//! before its record (`relic_domain::tokens::store`) and the secret is answered once, in `token`.
//!
//! Where relic differs from GitLab (README, "relic serve"): ids are relic's 16 hex digits, not
//! numbers; `scopes` is always `["api"]` (relic has no narrower scope, so a request for another is
//! refused rather than widened); `expires_at` is an RFC 3339 time (a `YYYY-MM-DD` given means
//! midnight UTC that day); `last_used_at` is null (use is not recorded).
//!
//! What this is not: authentication itself ([`crate::app::App::who`]) or the rules
//! (`relic_domain::decide`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use relic_domain::decide::Command;
use relic_domain::state::Token;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{user_id, Shared, Who};
use crate::body::{self, QueryParams as Q};
use crate::error::{self, ApiError};

/// A token as GitLab shows one (never its secret; `token` is added once, when it is made).
fn token_json(id: &str, t: &Token, now: DateTime<Utc>) -> Value {
    json!({
        "id": id,
        "name": t.name,
        "revoked": t.revoked_at.is_some(),
        "created_at": t.issued_at,
        "scopes": ["api"],
        "user_id": user_id(&t.user),
        "username": t.user,
        "last_used_at": null,
        "active": relic_domain::tokens::active(t, now),
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
    })
}

/// The token `id` names for `who` (`self`: the request's own), or 404 if it is not theirs to see.
fn resolve(who: &Who, id: &str) -> Result<String, ApiError> {
    match (who, id) {
        (Who::User(a), "self") => Ok(a.token_id.clone()),
        (Who::Operator { .. }, "self") => Err(error::bad_request("the operator has no token of its own: name one by id")),
        _ => Ok(id.to_string()),
    }
}

/// Whether `who` may see and act on token `t`.
fn may(who: &Who, t: &Token) -> bool {
    match who {
        Who::Operator { .. } => true,
        Who::User(a) => a.user == t.user,
    }
}

/// The actor of what `who` records.
fn actor(who: &Who) -> Result<String, ApiError> {
    match who {
        Who::Operator { actor: Some(a) } => Ok(a.clone()),
        Who::Operator { actor: None } => Err(error::bad_request("X-Relic-Actor is missing: the operator's name, as `relic token --actor`")),
        Who::User(a) => Ok(a.user.clone()),
    }
}

fn not_found() -> ApiError {
    error::message(StatusCode::NOT_FOUND, "404 Token Not Found")
}

/// `GET /personal_access_tokens` (`user_id`, `revoked`, `state`, `page`, `per_page`): the
/// caller's own tokens, or every token for the operator.
pub async fn list(State(app): State<Shared>, headers: HeaderMap, uri: Uri, q: Q) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    let q = body::params(q)?;
    let revoked = match q.get("revoked").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(error::bad_request("revoked is invalid")),
    };
    let state = q.get("state").map(String::as_str);
    if state.is_some_and(|s| s != "active" && s != "inactive") {
        return Err(error::bad_request("state does not have a valid value"));
    }
    let (page, per_page) = (body::positive(&q, "page", 1)?, body::positive(&q, "per_page", 20)?.min(100));
    let of_user = q.get("user_id").cloned();
    if let (Who::User(a), Some(u)) = (&who, &of_user) {
        if *u != a.user && *u != user_id(&a.user).to_string() {
            return Err(error::unauthorized());
        }
    }
    let state = state.map(str::to_string);
    let (all, at) = app
        .view(q.get("as_of").map(String::as_str), move |pt| {
            pt.state
                .tokens
                .iter()
                .filter(|(_, t)| may(&who, t))
                .filter(|(_, t)| of_user.as_ref().is_none_or(|u| *u == t.user || *u == user_id(&t.user).to_string()))
                .filter(|(_, t)| revoked.is_none_or(|r| r == t.revoked_at.is_some()))
                .filter(|(_, t)| state.as_deref().is_none_or(|s| (s == "active") == relic_domain::tokens::active(t, pt.at)))
                .map(|(id, t)| token_json(id, t, pt.at))
                .collect::<Vec<_>>()
        })
        .await?;
    let total = all.len() as u64;
    let items: Vec<Value> = all.into_iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).collect();
    let mut r = at.respond(StatusCode::OK, Value::Array(items));
    crate::releases::pagination(r.headers_mut(), &app.base, &uri, page, per_page, total);
    Ok(r)
}

/// `GET /personal_access_tokens/:id` (or `self`).
pub async fn get(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, q: Q) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    let id = resolve(&who, &id)?;
    let (v, at) = app
        .view(body::as_of(q)?.as_deref(), move |pt| {
            pt.state.tokens.get(&id).filter(|t| may(&who, t)).map(|t| token_json(&id, t, pt.at)).ok_or_else(not_found)
        })
        .await?;
    Ok(at.respond(StatusCode::OK, v?))
}

/// `DELETE /personal_access_tokens/:id` (or `self`): 204; refused from the next request on.
pub async fn revoke(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    let id = resolve(&who, &id)?;
    let actor = actor(&who)?;
    let cmd = Command::RevokeToken { token_id: id.clone() };
    let (_, _, at) = app.write(&actor, cmd, move |pt| visible(pt, &who, &id), |_, ()| ()).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    at.headers(r.headers_mut());
    Ok(r)
}

/// 404 unless token `id` exists and `who` may act on it.
fn visible(pt: &relic_projector::views::Point, who: &Who, id: &str) -> Result<(), ApiError> {
    pt.state.tokens.get(id).filter(|t| may(who, t)).map(|_| ()).ok_or_else(not_found)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    expires_at: Option<String>,
}

/// `POST /personal_access_tokens/:id/rotate` (or `self/rotate`): the token is revoked and a new
/// one with its user and name is issued, in one decision; the new one expires at `expires_at`,
/// or in a week (GitLab's default). 200 with the new token, secret included.
pub async fn rotate(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    let id = resolve(&who, &id)?;
    let b: RotateBody = if body.as_ref().is_ok_and(|b| b.is_empty()) { RotateBody { expires_at: None } } else { body::json(&headers, body)? };
    let expires_at = Some(b.expires_at.map_or_else(|| relic_domain::timing::ts(Utc::now() + chrono::Duration::days(7)), |e| expiry(&e)));
    let (new_id, secret) = relic_domain::tokens::generate().map_err(error::internal)?;
    let actor = actor(&who)?;
    let cmd = Command::RotateToken { token_id: id.clone(), new_token_id: new_id.clone(), expires_at };
    let v = issue(&app, &actor, cmd, new_id, secret, move |pt| visible(pt, &who, &id)).await?;
    Ok(v.into_response_with(StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// Required by GitLab; optional here, as for `relic token create`.
    name: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<String>,
    description: Option<String>,
}

/// `POST /users/:user_id/personal_access_tokens` (the operator only; `:user_id` is a user's
/// numeric id as relic shows it, or their name): 201 with the new token, secret included.
pub async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = app.who(&headers).await?;
    if !matches!(who, Who::Operator { .. }) {
        return Err(error::forbidden());
    }
    let actor = actor(&who)?;
    let b: CreateBody = body::json(&headers, body)?;
    if b.scopes.is_empty() {
        return Err(error::bad_request("scopes is empty"));
    }
    if let Some(s) = b.scopes.iter().find(|s| *s != "api") {
        return Err(error::bad_request(format!("scopes does not have a valid value: relic tokens have the scope api only, not {s}")));
    }
    if b.description.is_some() {
        return Err(error::bad_request("description is not recorded by relic: leave it out"));
    }
    let user = known_user(&app, &user).await?;
    let (new_id, secret) = relic_domain::tokens::generate().map_err(error::internal)?;
    let cmd = Command::IssueToken { token_id: new_id.clone(), user, name: b.name, expires_at: b.expires_at.as_deref().map(expiry) };
    let v = issue(&app, &actor, cmd, new_id, secret, |_| Ok(())).await?;
    Ok(v.into_response_with(StatusCode::CREATED))
}

/// A user by numeric id (as relic shows ids: [`user_id`]) among those the log knows, or by name.
async fn known_user(app: &Shared, given: &str) -> Result<String, ApiError> {
    if given.parse::<u64>().is_err() {
        return Ok(given.to_string());
    }
    let given = given.to_string();
    let (found, _) = app
        .view(None, move |pt| {
            let members = pt.state.projects.values().flat_map(|p| p.members.keys());
            let holders = pt.state.tokens.values().map(|t| &t.user);
            members.chain(holders).find(|u| user_id(u).to_string() == given).cloned()
        })
        .await?;
    found.ok_or_else(|| error::not_found("User"))
}

/// An API expiry: `YYYY-MM-DD` (GitLab's) is midnight UTC that day; anything else goes to the
/// rules as given (an RFC 3339 time, or refused there with the reason).
fn expiry(given: &str) -> String {
    match chrono::NaiveDate::parse_from_str(given, "%Y-%m-%d") {
        Ok(d) => format!("{d}T00:00:00Z"),
        Err(_) => given.to_string(),
    }
}

/// A new token's answer.
struct Issued(Value, crate::app::Position);

impl Issued {
    fn into_response_with(self, status: StatusCode) -> Response {
        self.1.respond(status, self.0)
    }
}

/// Records `cmd` (an issue or a rotation making token `new_id`): `check` first, then the secret's
/// hash stored and accepted, all in the command's turn of the lock and only if the rules accept
/// it; answers the new token with its secret once the record is durable.
async fn issue(
    app: &Shared,
    actor: &str,
    cmd: Command,
    new_id: String,
    secret: String,
    check: impl FnOnce(&relic_projector::views::Point) -> Result<(), ApiError> + Send + 'static,
) -> Result<Issued, ApiError> {
    let (data, shared, who) = (app.data.clone(), app.clone(), actor.to_string());
    let (id, s) = (new_id.clone(), secret.clone());
    let decided = cmd.clone();
    let (v, _, at) = app
        .write(
            actor,
            cmd,
            move |pt| {
                check(pt)?;
                // Stored only for a command the rules accept, so a refused one leaves nothing.
                relic_domain::decide::decide(pt.state, &who, &decided, Utc::now())?;
                relic_domain::tokens::store(&data, &id, &s).map_err(error::internal)?;
                shared.add_hash(&id, &s);
                Ok(())
            },
            move |pt, ()| {
                let t = pt.state.tokens.get(&new_id).ok_or_else(not_found)?;
                let mut v = token_json(&new_id, t, pt.at);
                v["token"] = json!(secret);
                Ok::<_, ApiError>(v)
            },
        )
        .await?;
    Ok(Issued(v?, at))
}
