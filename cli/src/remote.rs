//! Acting through `relic serve` instead of a data directory: with `--server URL` (or
//! `RELIC_SERVER`; release-cli's `--server-url`) and `--token` (or `RELIC_TOKEN`; release-cli's
//! `--job-token`), the domain commands become the GitLab API requests a stock client would send,
//! so that a CI runner without the data directory uses relic's own command line too. The actor is
//! the token's user; the server decides and records, and answers with what it recorded.
//!
//! What this is not: a second implementation of the rules. A command the API does not serve
//! (registering a project, recording a tag or milestone, internal releases, keys, the log
//! itself) is refused with a line saying it needs the data directory.
//!
//! The server given for this run is kept for the run, on the thread that runs it ([`set`]): the
//! domain commands consult it at the one place they execute (`domain_cmds::run`) and where they
//! read views. (Per thread, so that runs in one process, as the tests make them, never see each
//! other's.)

use std::cell::RefCell;

use relic_domain::decide::{Command, LinkInput};
use serde_json::{json, Value};

use crate::{CliError, Result};

/// A server and the token to use with it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The server's base URL (`http://host:port`, with or without `/api/v4`).
    pub url: String,
    pub token: String,
    /// `X-Relic-Actor`: who the operator is, when `token` is a running server's operator secret
    /// (`relic token` on a served data directory).
    pub actor: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<Remote>> = const { RefCell::new(None) };
}

/// Sets (or clears) the server this run acts through.
pub fn set(r: Option<Remote>) {
    CURRENT.with(|c| *c.borrow_mut() = r);
}

/// The server this run acts through, if any.
pub fn current() -> Option<Remote> {
    CURRENT.with(|c| c.borrow().clone())
}

pub fn enc(s: &str) -> String {
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

fn link_body(l: &LinkInput) -> Value {
    let mut v = json!({});
    for (k, x) in [("name", &l.name), ("url", &l.url), ("direct_asset_path", &l.direct_asset_path), ("link_type", &l.link_type)] {
        if let Some(x) = x {
            v[k] = json!(x);
        }
    }
    v
}

fn needs_data(cmd: &Command) -> CliError {
    CliError::Invalid(format!("`relic {}` is not served by the API: run it where the data directory is (without --server)", cmd.name()))
}

/// The API request a command is: method, path under `/api/v4`, JSON body.
fn request(cmd: &Command) -> Result<(&'static str, String, Option<Value>)> {
    let rel = |p: &str, t: &str| format!("/projects/{}/releases/{}", enc(p), enc(t));
    Ok(match cmd {
        Command::CreateRelease { project, tag_name, name, description, git_ref, tag_message, released_at, milestones, links, report_artifacts } => {
            if !report_artifacts.is_empty() {
                return Err(CliError::Invalid("--report-artifact needs the data directory (the API takes no artifact files): run without --server".into()));
            }
            let mut b = json!({"tag_name": tag_name});
            for (k, v) in [("name", name), ("description", description), ("ref", git_ref), ("tag_message", tag_message), ("released_at", released_at)] {
                if let Some(v) = v {
                    b[k] = json!(v);
                }
            }
            if !milestones.is_empty() {
                b["milestones"] = json!(milestones);
            }
            if !links.is_empty() {
                b["assets"] = json!({"links": links.iter().map(link_body).collect::<Vec<_>>()});
            }
            ("POST", format!("/projects/{}/releases", enc(project)), Some(b))
        }
        Command::UpdateRelease { project, tag_name, name, description, released_at, milestones } => {
            let mut b = json!({});
            for (k, v) in [("name", name), ("description", description), ("released_at", released_at)] {
                if let Some(v) = v {
                    b[k] = json!(v);
                }
            }
            if let Some(m) = milestones {
                b["milestones"] = json!(m);
            }
            ("PUT", rel(project, tag_name), Some(b))
        }
        Command::DeleteRelease { project, tag_name } => ("DELETE", rel(project, tag_name), None),
        Command::AddLink { project, tag_name, link } => ("POST", format!("{}/assets/links", rel(project, tag_name)), Some(link_body(link))),
        Command::UpdateLink { project, tag_name, id, link } => ("PUT", format!("{}/assets/links/{id}", rel(project, tag_name)), Some(link_body(link))),
        Command::DeleteLink { project, tag_name, id } => ("DELETE", format!("{}/assets/links/{id}", rel(project, tag_name)), None),
        Command::CollectEvidence { project, tag_name, scheduled_at: None, .. } => ("POST", format!("{}/evidence", rel(project, tag_name)), None),
        Command::CreateFreeze { project, freeze_start, freeze_end, cron_timezone } => {
            let mut b = json!({"freeze_start": freeze_start, "freeze_end": freeze_end});
            if let Some(z) = cron_timezone {
                b["cron_timezone"] = json!(z);
            }
            ("POST", format!("/projects/{}/freeze_periods", enc(project)), Some(b))
        }
        Command::UpdateFreeze { project, id, freeze_start, freeze_end, cron_timezone } => {
            let mut b = json!({});
            for (k, v) in [("freeze_start", freeze_start), ("freeze_end", freeze_end), ("cron_timezone", cron_timezone)] {
                if let Some(v) = v {
                    b[k] = json!(v);
                }
            }
            ("PUT", format!("/projects/{}/freeze_periods/{id}", enc(project)), Some(b))
        }
        Command::DeleteFreeze { project, id } => ("DELETE", format!("/projects/{}/freeze_periods/{id}", enc(project)), None),
        Command::SetMemberRole { project, user, role } => {
            ("POST", format!("/projects/{}/members", enc(project)), Some(json!({"username": user, "access_level": role.access_level()})))
        }
        Command::ProtectTag { project, pattern, create_access_level } => (
            "POST",
            format!("/projects/{}/protected_tags", enc(project)),
            Some(json!({"name": pattern, "create_access_level": create_access_level.access_level()})),
        ),
        Command::UnprotectTag { project, pattern } => ("DELETE", format!("/projects/{}/protected_tags/{}", enc(project), enc(pattern)), None),
        other => return Err(needs_data(other)),
    })
}

/// The full URL of `path` under the server's `/api/v4`.
fn api_url(r: &Remote, path: &str) -> String {
    format!("{}/api/v4{path}", r.url.trim_end_matches('/').trim_end_matches("/api/v4"))
}

/// An HTTP client that hands every status and redirect back as it is.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// A server's error answer as one line: `403: Access Denied`.
fn refusal(status: u16, v: &Value) -> CliError {
    let why = v.get("message").or_else(|| v.get("error")).map_or_else(|| v.to_string(), |m| m.as_str().map_or_else(|| m.to_string(), str::to_string));
    CliError::refused(status, format!("{status}: {why}"))
}

fn json_of(text: String) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Sends one request; the answer's JSON (`null` for an empty body), or the server's error as one
/// line (`403: Access Denied`).
pub fn send(r: &Remote, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let url = api_url(r, path);
    let agent = agent();
    let failed = |e: ureq::Error| CliError::Domain(format!("{method} {url}: {e}"));
    let actor = r.actor.as_deref().unwrap_or_default();
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("PRIVATE-TOKEN", &r.token).header("X-Relic-Actor", actor).call(),
        ("DELETE", _) => agent.delete(&url).header("PRIVATE-TOKEN", &r.token).header("X-Relic-Actor", actor).call(),
        (m, b) => {
            let text = b.map(Value::to_string).unwrap_or_default();
            let req = if m == "PUT" { agent.put(&url) } else { agent.post(&url) };
            req.header("PRIVATE-TOKEN", &r.token).header("X-Relic-Actor", actor).content_type("application/json").send(text)
        }
    }
    .map_err(failed)?;
    let status = resp.status().as_u16();
    let v = json_of(resp.into_body().read_to_string().map_err(failed)?);
    if status >= 400 {
        return Err(refusal(status, &v));
    }
    Ok(v)
}

/// Executes `cmd` through the server: the request, then what the server answered.
pub fn execute(r: &Remote, cmd: &Command) -> Result<Value> {
    let (method, path, body) = request(cmd)?;
    match (send(r, method, &path, body.as_ref()), cmd) {
        // `project member` sets a role: an existing member's is changed.
        (Err(CliError::Domain(m)), Command::SetMemberRole { project, user, role }) if m.starts_with("409") => {
            send(r, "PUT", &format!("/projects/{}/members/{}", enc(project), enc(user)), Some(&json!({"access_level": role.access_level()})))
        }
        (other, _) => other,
    }
}

/// `release list` through the server.
pub fn list(r: &Remote, project: &str, order_by: &str, sort: &str, page: u64, per_page: u64, as_of: Option<&str>) -> Result<Value> {
    let mut path = format!("/projects/{}/releases?order_by={}&sort={}&page={page}&per_page={per_page}", enc(project), enc(order_by), enc(sort));
    if let Some(a) = as_of {
        path.push_str(&format!("&as_of={}", enc(a)));
    }
    send(r, "GET", &path, None)
}

/// `release get` through the server (without a tag: the latest release, through GitLab's
/// `permalink/latest` redirect).
pub fn get(r: &Remote, project: &str, tag: Option<&str>, as_of: Option<&str>) -> Result<Value> {
    let q = as_of.map(|a| format!("?as_of={}", enc(a))).unwrap_or_default();
    match tag {
        Some(t) => send(r, "GET", &format!("/projects/{}/releases/{}{q}", enc(project), enc(t)), None),
        None => {
            let (status, location) = redirect(r, &format!("/projects/{}/releases/permalink/latest{q}", enc(project)))?;
            let to = location.ok_or_else(|| CliError::Domain(format!("{status}: the server did not redirect to the latest release")))?;
            let path = to.split_once("/api/v4").map_or(to.as_str(), |(_, p)| p).to_string();
            send(r, "GET", &path, None)
        }
    }
}

/// A `GET` whose answer is a redirect: its status and `Location`.
fn redirect(r: &Remote, path: &str) -> Result<(u16, Option<String>)> {
    let url = api_url(r, path);
    let resp = agent().get(&url).header("PRIVATE-TOKEN", &r.token).call().map_err(|e| CliError::Domain(format!("GET {url}: {e}")))?;
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    if status >= 400 {
        return Err(refusal(status, &json_of(resp.into_body().read_to_string().unwrap_or_default())));
    }
    Ok((status, location))
}
