//! Releases, their asset links and their evidence: GitLab's `lib/api/releases.rb`,
//! `lib/api/release/links.rb` and the evidence endpoint, and the two web paths a release's JSON
//! points at (the permanent asset link and the evidence file).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use relic_domain::decide::{Command, LinkInput};
use relic_domain::event::EvidenceReason;
use relic_domain::state::{Project, Release};
use relic_projector::views::{self, ListOptions, Point, ViewError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{Caller, Position, Shared};
use crate::body;
use crate::error::{self, ApiError};

/// A release as the API shows it to `user`: the view's JSON with absolute URLs, and each evidence's
/// `filepath` the URL it can be downloaded from.
fn release_json(base: &str, p: &Project, r: &Release, at: chrono::DateTime<chrono::Utc>, user: &str) -> Result<Value, ViewError> {
    let sight = views::sight(p, Some(user))?;
    let mut v = views::release_json(p, r, at, sight);
    if let Some(evs) = v["evidences"].as_array_mut() {
        for (e, ev) in evs.iter_mut().zip(&r.evidences) {
            e["filepath"] = json!(format!("{base}/{}/-/releases/{}/evidences/{}.json", p.path, r.tag_name, ev.id));
        }
    }
    absolute(base, &mut v);
    Ok(v)
}

/// Makes every site-relative URL of a view (`/acme/app/-/…`) absolute.
pub(crate) fn absolute(base: &str, v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with('/') && s.contains("/-/") => *s = format!("{base}{s}"),
        Value::Array(a) => a.iter_mut().for_each(|x| absolute(base, x)),
        Value::Object(o) => o.iter_mut().filter(|(k, _)| *k != "description").for_each(|(_, x)| absolute(base, x)),
        _ => {}
    }
}

/// The release `tag` (or the latest) of the caller's project at `pt`.
fn one(base: &str, pt: &Point, c: &Caller, tag: Option<&str>) -> Result<Value, ViewError> {
    views::sight(pt.project(&c.project)?, Some(&c.user))?;
    let (p, r) = views::find(pt, &c.project, tag)?;
    release_json(base, p, r, pt.at, &c.user)
}

/// An object with the relic-specific `relic_log` field (where in the log it comes from).
fn with_log(mut v: Value, at: &Position) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("relic_log".into(), at.json());
    }
    v
}

type Q = body::QueryParams;
use body::params;

pub async fn list(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>, uri: Uri, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let q = params(q)?;
    let opts = ListOptions {
        order_by: body::one_of(&q, "order_by", &["released_at", "created_at"], "released_at")?,
        sort: body::one_of(&q, "sort", &["asc", "desc"], "desc")?,
        page: body::positive(&q, "page", 1)?,
        per_page: body::positive(&q, "per_page", 20)?.min(100),
    };
    let base = app.base.clone();
    let o = opts.clone();
    let (page, at) = app
        .view(q.get("as_of").map(String::as_str), move |pt| {
            let page = views::page(pt, &c.project, &o, Some(&c.user))?;
            let items = page.releases.iter().map(|r| release_json(&base, page.project, r, pt.at, &c.user)).collect::<Result<Vec<_>, _>>()?;
            Ok::<_, ViewError>((items, page.total))
        })
        .await?;
    let (items, total) = page?;
    let mut r = at.respond(StatusCode::OK, Value::Array(items));
    pagination(r.headers_mut(), &app.base, &uri, opts.page, opts.per_page, total);
    Ok(r)
}

/// GitLab's offset pagination headers: `X-Total`, `X-Total-Pages`, `X-Page`, `X-Per-Page`,
/// `X-Next-Page`, `X-Prev-Page` and `Link` (`rel="prev"`, `"next"`, `"first"`, `"last"`).
pub(crate) fn pagination(h: &mut HeaderMap, base: &str, uri: &Uri, page: u64, per_page: u64, total: u64) {
    let pages = total.div_ceil(per_page).max(1);
    let next = (page < pages).then_some(page + 1);
    let prev = (page > 1).then(|| (page - 1).min(pages));
    let set = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(h, "x-total", total.to_string());
    set(h, "x-total-pages", pages.to_string());
    set(h, "x-page", page.to_string());
    set(h, "x-per-page", per_page.to_string());
    set(h, "x-next-page", next.map(|n| n.to_string()).unwrap_or_default());
    set(h, "x-prev-page", prev.map(|n| n.to_string()).unwrap_or_default());
    let url = |n: u64| {
        let mut pairs: Vec<(String, String)> = uri
            .query()
            .map(|q| url_pairs(q).into_iter().filter(|(k, _)| k != "page" && k != "per_page").collect())
            .unwrap_or_default();
        pairs.push(("page".into(), n.to_string()));
        pairs.push(("per_page".into(), per_page.to_string()));
        let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        format!("{base}{}?{}", uri.path(), q.join("&"))
    };
    let mut links = Vec::new();
    if let Some(p) = prev {
        links.push(format!("<{}>; rel=\"prev\"", url(p)));
    }
    if let Some(n) = next {
        links.push(format!("<{}>; rel=\"next\"", url(n)));
    }
    links.push(format!("<{}>; rel=\"first\"", url(1)));
    links.push(format!("<{}>; rel=\"last\"", url(pages)));
    set(h, "link", links.join(", "));
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (dec(k), dec(v))
        })
        .collect()
}

fn dec(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// RFC 3986's unreserved characters stay as they are; everything else is percent-encoded.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// 302 Found to `to`, as GitLab's `redirect` answers.
fn found(to: &str) -> Result<Response, ApiError> {
    let loc = HeaderValue::from_str(to).map_err(|_| error::internal(format!("the URL {to:?} cannot be sent in a header")))?;
    Ok((StatusCode::FOUND, [(axum::http::header::LOCATION, loc)]).into_response())
}

pub async fn get(State(app): State<Shared>, headers: HeaderMap, Path((id, tag)): Path<(String, String)>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let q = params(q)?;
    let base = app.base.clone();
    let (v, at) = app.view(q.get("as_of").map(String::as_str), move |pt| one(&base, pt, &c, Some(&tag))).await?;
    Ok(at.respond(StatusCode::OK, with_log(v?, &at)))
}

/// `GET /projects/:id/releases/permalink/latest[/*suffix]`: a redirect to the latest release's
/// path (with the suffix and the query, except `order_by`), as GitLab answers.
pub async fn latest(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(params): Path<Vec<(String, String)>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let id = params.iter().find(|(k, _)| k == "id").map(|(_, v)| v.clone()).unwrap_or_default();
    let suffix = params.iter().find(|(k, _)| k == "suffix").map(|(_, v)| v.clone());
    let c = app.caller(&headers, &id).await?;
    let (tag, _) = app
        .read(move |pt| {
            views::sight(pt.project(&c.project)?, Some(&c.user))?;
            views::find(pt, &c.project, None).map(|(p, r)| (p.id, r.tag_name.clone()))
        })
        .await?;
    let (project_id, tag) = tag?;
    let mut to = format!("/api/v4/projects/{project_id}/releases/{}", enc(&tag));
    if let Some(s) = suffix.filter(|s| !s.is_empty()) {
        to.push('/');
        to.push_str(&s);
    }
    let rest: Vec<String> = uri
        .query()
        .map(|q| url_pairs(q).into_iter().filter(|(k, _)| k != "order_by").map(|(k, v)| format!("{}={}", enc(&k), enc(&v))).collect())
        .unwrap_or_default();
    if !rest.is_empty() {
        to.push('?');
        to.push_str(&rest.join("&"));
    }
    found(&to)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    #[serde(default)]
    id: Option<u64>,
    name: Option<String>,
    url: Option<String>,
    direct_asset_path: Option<String>,
    filepath: Option<String>,
    link_type: Option<String>,
}

impl LinkBody {
    fn input(self) -> LinkInput {
        LinkInput { name: self.name, url: self.url, direct_asset_path: self.direct_asset_path.or(self.filepath), link_type: self.link_type }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assets {
    #[serde(default)]
    links: Vec<LinkBody>,
}

/// A comma-separated string or an array of strings (Grape's `CommaSeparatedToArray`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Titles {
    List(Vec<String>),
    Text(String),
}

impl Titles {
    fn list(self) -> Vec<String> {
        match self {
            Titles::List(v) => v,
            Titles::Text(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Ids {
    List(Vec<serde_json::Number>),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    tag_name: Option<String>,
    tag_message: Option<String>,
    name: Option<String>,
    description: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    assets: Option<Assets>,
    milestones: Option<Titles>,
    milestone_ids: Option<Ids>,
    released_at: Option<String>,
    #[allow(dead_code)]
    legacy_catalog_publish: Option<bool>,
}

/// Milestone titles from `milestones` or `milestone_ids` (not both, as GitLab says).
fn milestones(p: &Project, titles: Option<Titles>, ids: Option<Ids>) -> Result<Option<Vec<String>>, ApiError> {
    match (titles, ids) {
        (Some(_), Some(_)) => Err(error::bad_request("Cannot specify milestones and milestone_ids at the same time")),
        (Some(t), None) => Ok(Some(t.list())),
        (None, Some(ids)) => {
            let ids: Vec<String> = match ids {
                Ids::List(v) => v.iter().map(ToString::to_string).collect(),
                Ids::Text(s) => s.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            };
            let mut out = Vec::new();
            let mut missing = Vec::new();
            for id in ids {
                match p.milestones.values().find(|m| m.id.to_string() == id) {
                    Some(m) => out.push(m.title.clone()),
                    None => missing.push(id),
                }
            }
            if missing.is_empty() {
                Ok(Some(out))
            } else {
                Err(error::message(StatusCode::BAD_REQUEST, &format!("Milestone id(s) not found: {}", missing.join(", "))))
            }
        }
        (None, None) => Ok(None),
    }
}

/// The caller's project as it is now (for parameters that name its milestones).
async fn project_now(app: &Shared, c: &Caller) -> Result<Project, ApiError> {
    let path = c.project.clone();
    let (p, _) = app.read(move |pt| pt.project(&path).cloned()).await?;
    Ok(p?)
}

pub async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: CreateBody = body::json(&headers, body)?;
    let tag_name = b.tag_name.ok_or_else(|| error::bad_request("tag_name is missing"))?;
    let ms = if b.milestone_ids.is_some() { milestones(&project_now(&app, &c).await?, b.milestones, b.milestone_ids)? } else { b.milestones.map(Titles::list) };
    let cmd = Command::CreateRelease {
        project: c.project.clone(),
        tag_name: tag_name.clone(),
        name: b.name,
        description: b.description,
        git_ref: b.git_ref,
        tag_message: b.tag_message,
        released_at: b.released_at,
        milestones: ms.unwrap_or_default(),
        links: b.assets.map(|a| a.links.into_iter().map(LinkBody::input).collect()).unwrap_or_default(),
        report_artifacts: Vec::new(),
    };
    let base = app.base.clone();
    let user = c.user.clone();
    let (v, _, at) = app.write(&user, cmd, |_| Ok(()), move |pt, ()| one(&base, pt, &c, Some(&tag_name))).await?;
    Ok(at.respond(StatusCode::CREATED, with_log(v?, &at)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    tag_name: Option<String>,
    name: Option<String>,
    description: Option<String>,
    released_at: Option<String>,
    milestones: Option<Titles>,
    milestone_ids: Option<Ids>,
}

pub async fn update(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, tag)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: UpdateBody = body::json(&headers, body)?;
    if b.tag_name.as_ref().is_some_and(|t| *t != tag) {
        return Err(error::bad_request("tag_name cannot be changed"));
    }
    let ms = if b.milestone_ids.is_some() { milestones(&project_now(&app, &c).await?, b.milestones, b.milestone_ids)? } else { b.milestones.map(Titles::list) };
    let cmd = Command::UpdateRelease { project: c.project.clone(), tag_name: tag.clone(), name: b.name, description: b.description, released_at: b.released_at, milestones: ms };
    let base = app.base.clone();
    let user = c.user.clone();
    let (v, _, at) = app.write(&user, cmd, |_| Ok(()), move |pt, ()| one(&base, pt, &c, Some(&tag))).await?;
    Ok(at.respond(StatusCode::OK, with_log(v?, &at)))
}

pub async fn delete(State(app): State<Shared>, headers: HeaderMap, Path((id, tag)): Path<(String, String)>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let cmd = Command::DeleteRelease { project: c.project.clone(), tag_name: tag.clone() };
    let base = app.base.clone();
    let user = c.user.clone();
    // The response is the release as it was: computed in the same turn as the decision.
    let (v, _, at) = app.write(&user, cmd, move |pt| Ok(one(&base, pt, &c, Some(&tag))), |_, before| before).await?;
    Ok(at.respond(StatusCode::OK, with_log(v?, &at)))
}

/// Assets, their links and evidence files are for reporters and above: 403 for a guest.
fn assets_visible(pt: &Point, c: &Caller) -> Result<(), ApiError> {
    if views::sight(pt.project(&c.project)?, Some(&c.user))? == views::Sight::Guest {
        return Err(error::forbidden());
    }
    Ok(())
}

/// The link `id` of release `tag`, as the API shows it (URLs absolute).
fn link(base: &str, pt: &Point, c: &Caller, tag: &str, id: u64) -> Result<Value, ApiError> {
    assets_visible(pt, c)?;
    let (p, r) = views::find(pt, &c.project, Some(tag))?;
    let l = r.links.get(&id).ok_or_else(|| error::not_found(""))?;
    let mut v = views::link_json(p, r, l);
    absolute(base, &mut v);
    Ok(v)
}

pub async fn links(State(app): State<Shared>, headers: HeaderMap, Path((id, tag)): Path<(String, String)>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let base = app.base.clone();
    let (v, at) = app
        .view(body::as_of(q)?.as_deref(), move |pt| {
            assets_visible(pt, &c)?;
            let (p, r) = views::find(pt, &c.project, Some(&tag))?;
            let mut v = Value::Array(r.links.values().map(|l| views::link_json(p, r, l)).collect());
            absolute(&base, &mut v);
            Ok::<_, ApiError>(v)
        })
        .await?;
    Ok(at.respond(StatusCode::OK, v?))
}

pub async fn get_link(State(app): State<Shared>, headers: HeaderMap, Path((id, tag, link_id)): Path<(String, String, u64)>, q: Q) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let base = app.base.clone();
    let (v, at) = app.view(body::as_of(q)?.as_deref(), move |pt| link(&base, pt, &c, &tag, link_id)).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

pub async fn create_link(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, tag)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: LinkBody = body::json(&headers, body)?;
    if b.id.is_some() {
        return Err(error::bad_request("id is not a parameter of a new link"));
    }
    if b.name.is_none() {
        return Err(error::bad_request("name is missing"));
    }
    if b.url.is_none() {
        return Err(error::bad_request("url is missing"));
    }
    let cmd = Command::AddLink { project: c.project.clone(), tag_name: tag.clone(), link: b.input() };
    let user = c.user.clone();
    let base = app.base.clone();
    let (v, _, at) = app.write(&user, cmd, |_| Ok(()), move |pt, ()| link(&base, pt, &c, &tag, pt.state.last_link_id)).await?;
    Ok(at.respond(StatusCode::CREATED, v?))
}

pub async fn update_link(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, tag, link_id)): Path<(String, String, u64)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let b: LinkBody = body::json(&headers, body)?;
    if b.id.is_some_and(|i| i != link_id) {
        return Err(error::bad_request("id cannot be changed"));
    }
    let cmd = Command::UpdateLink { project: c.project.clone(), tag_name: tag.clone(), id: link_id, link: b.input() };
    let user = c.user.clone();
    let base = app.base.clone();
    let (v, _, at) = app.write(&user, cmd, |_| Ok(()), move |pt, ()| link(&base, pt, &c, &tag, link_id)).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

pub async fn delete_link(State(app): State<Shared>, headers: HeaderMap, Path((id, tag, link_id)): Path<(String, String, u64)>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let cmd = Command::DeleteLink { project: c.project.clone(), tag_name: tag.clone(), id: link_id };
    let user = c.user.clone();
    let base = app.base.clone();
    let (v, _, at) = app.write(&user, cmd, move |pt| Ok(link(&base, pt, &c, &tag, link_id)), |_, before| before).await?;
    Ok(at.respond(StatusCode::OK, v?))
}

/// `POST /projects/:id/releases/:tag_name/evidence`: collects evidence now. GitLab answers 202
/// Accepted and collects later; relic collects before answering, so the answer is the evidence
/// recorded (`sha`, `filepath`, `collected_at`).
pub async fn collect_evidence(State(app): State<Shared>, headers: HeaderMap, Path((id, tag)): Path<(String, String)>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    let cmd = Command::CollectEvidence { project: c.project.clone(), tag_name: tag.clone(), reason: EvidenceReason::OnDemand, scheduled_at: None };
    let user = c.user.clone();
    let base = app.base.clone();
    let (v, _, at) = app
        .write(&user, cmd, |_| Ok(()), move |pt, ()| {
            let v = one(&base, pt, &c, Some(&tag))?;
            Ok::<_, ViewError>(v["evidences"].as_array().and_then(|a| a.last().cloned()).unwrap_or(Value::Null))
        })
        .await?;
    Ok(at.respond(StatusCode::ACCEPTED, v?))
}

/// `GET /projects/:id/releases/:tag_name/downloads/*direct_asset_path`: a redirect to the link's
/// current URL.
pub async fn download(State(app): State<Shared>, headers: HeaderMap, Path((id, tag, path)): Path<(String, String, String)>) -> Result<Response, ApiError> {
    let c = app.caller(&headers, &id).await?;
    redirect_to_asset(&app, c, tag, path).await
}

async fn redirect_to_asset(app: &Shared, c: Caller, tag: String, path: String) -> Result<Response, ApiError> {
    let (url, _) = app
        .read(move |pt| {
            assets_visible(pt, &c)?;
            let (_, r) = views::find(pt, &c.project, Some(&tag))?;
            let want = format!("/{}", path.trim_start_matches('/'));
            r.links.values().find(|l| l.direct_asset_path.as_deref() == Some(want.as_str())).map(|l| l.url.clone()).ok_or_else(|| error::not_found(""))
        })
        .await?;
    found(&url?)
}

/// The web paths a release's JSON points at, outside `/api/v4`:
/// `/<project>/-/releases/<tag>/downloads/<path>` (302 to the link's URL) and
/// `/<project>/-/releases/<tag>/evidences/<id>.json` (the evidence document, its digest checked).
pub async fn web(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy().into_owned();
    let Some((project, rest)) = path.trim_start_matches('/').split_once("/-/releases/") else {
        return Err(ApiError(StatusCode::NOT_FOUND, json!({"error": "404 Not Found"})));
    };
    let c = app.caller(&headers, project).await?;
    if let Some((tag, file)) = rest.split_once("/downloads/") {
        return redirect_to_asset(&app, c, tag.to_string(), file.to_string()).await;
    }
    let Some((tag, ev)) = rest.split_once("/evidences/") else { return Err(error::not_found("")) };
    let ev_id: u64 = ev.strip_suffix(".json").and_then(|n| n.parse().ok()).ok_or_else(|| error::not_found(""))?;
    let tag = tag.to_string();
    let (found, _) = app
        .read(move |pt| {
            assets_visible(pt, &c)?;
            let (_, r) = views::find(pt, &c.project, Some(&tag))?;
            let e = r.evidences.iter().find(|e| e.id == ev_id).ok_or_else(|| error::not_found(""))?;
            Ok::<_, ApiError>((e.sha.clone(), e.report_artifacts.clone()))
        })
        .await?;
    let (sha, artifacts) = found?;
    let data = app.data.clone();
    let bytes = tokio::task::spawn_blocking(move || relic_domain::evidence::verify_document(&data, &sha, &artifacts))
        .await
        .map_err(error::internal)?
        .map_err(error::internal)?;
    Ok(([("content-type", "application/json")], bytes).into_response())
}
