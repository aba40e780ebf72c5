//! Release views in the reference Releases API's JSON shape, at any point of the log.
//!
//! Every view is computed from a [`Snapshot`]: the domain state after the first `size` records,
//! together with the tree head at that size, so that an auditor can fetch the signed checkpoint
//! (`relic checkpoint --size N`) and prove every record the view was derived from.
//!
//! Reference behaviours implemented here: the release JSON fields (`name`, `tag_name`,
//! `description`, `created_at`, `released_at`, `upcoming_release`, `historical_release`, `author`,
//! `commit`, `milestones`, `assets` with `count`, `sources`, `links`, and `evidences`); sorting by
//! `released_at` (default) or `created_at`, `desc` (default) or `asc`; pagination (`page` from 1,
//! `per_page` default 20, at most 100); the latest release (newest by `released_at` among those
//! already released); guest redaction (tag, commit, sources, assets and evidence left out, title
//! `Release-<id>`, nothing naming the tag); permanent asset links `/<project>/-/releases/<tag>/downloads<path>`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use relic_domain::event::Role;
use relic_domain::timing;
use relic_domain::state::{Project, Release, State};
use relic_domain::feed;
use relic_ledger::{merkle, Ledger};
use serde_json::{json, Value};

/// A point of the log: after `size` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The whole log.
    Now,
    /// The first `n` records (records `0..n`).
    Size(u64),
    /// Every record recorded at or before this time.
    Time(DateTime<Utc>),
}

impl AsOf {
    /// Parses `--as-of`: a record count (`120`) or an RFC 3339 time.
    pub fn parse(s: &str) -> Option<Self> {
        if let Ok(n) = s.parse::<u64>() {
            return Some(AsOf::Size(n));
        }
        DateTime::parse_from_rfc3339(s).ok().map(|t| AsOf::Time(t.with_timezone(&Utc)))
    }
}

/// The state of the domain at a point of the log, and that point.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub state: State,
    /// What the compliance report needs beyond state ([`crate::audit`]).
    pub audit: crate::audit::Audit,
    /// Records applied.
    pub size: u64,
    /// RFC 6962 tree head at `size`.
    pub root: merkle::Hash,
    /// The time views are evaluated at: the as-of time, or the last record's time.
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Ledger(#[from] relic_ledger::Error),
    #[error(transparent)]
    Event(#[from] relic_domain::event::EventError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// The snapshot for `as_of`, taking the current views from the incremental view store of `data`
/// (the records after it applied in memory) rather than replaying the whole log. Writes nothing.
pub fn snapshot_stored(data: &std::path::Path, ledger: &Ledger, as_of: AsOf) -> Result<Snapshot, ViewError> {
    if as_of != AsOf::Now {
        return snapshot(ledger, as_of);
    }
    snapshot_from(&crate::store::ViewStore::open_read(data), ledger)
}

/// The current snapshot, from `store` brought up to date.
pub fn snapshot_from(store: &crate::store::ViewStore, ledger: &Ledger) -> Result<Snapshot, ViewError> {
    let views = store.catch_up(ledger, crate::store::DEFAULT_BATCH)?;
    let size = views.state.size;
    Ok(Snapshot { root: ledger.root(size)?, state: views.state, audit: views.audit, size, at: Utc::now() })
}

/// Replays the log up to `as_of`.
pub fn snapshot(ledger: &Ledger, as_of: AsOf) -> Result<Snapshot, ViewError> {
    let end = ledger.size();
    let to = match as_of {
        AsOf::Size(n) if n > end => return Err(ViewError::Invalid(format!("--as-of {n} is past the end of the log ({end} records)"))),
        AsOf::Size(n) => n,
        _ => end,
    };
    let mut views = crate::store::Views::default();
    let mut last_time = None;
    feed::replay(ledger, 0, to, |it| {
        if let Some(rec) = &it.record {
            if matches!(as_of, AsOf::Time(t) if rec.time() > t) {
                return Ok::<_, ViewError>(false);
            }
            last_time = Some(rec.time());
        }
        views.apply_item(it);
        Ok(true)
    })?;
    let size = views.state.size;
    let at = match as_of {
        AsOf::Now => Utc::now(),
        AsOf::Time(t) => t,
        AsOf::Size(_) => last_time.unwrap_or_else(Utc::now),
    };
    Ok(Snapshot { root: ledger.root(size)?, state: views.state, audit: views.audit, size, at })
}

/// What a view is computed from, borrowed: a state, how many records it reflects, and the time
/// views are evaluated at. A [`Snapshot`] gives one ([`Snapshot::point`]); so does a server's live
/// state, without copying it.
#[derive(Debug, Clone, Copy)]
pub struct Point<'a> {
    pub state: &'a State,
    /// Records applied.
    pub size: u64,
    pub at: DateTime<Utc>,
}

impl<'a> Point<'a> {
    pub fn project(&self, path: &str) -> Result<&'a Project, ViewError> {
        self.state.projects.get(path).ok_or_else(|| ViewError::NotFound(format!("Project {path} not found")))
    }
}

impl Snapshot {
    pub fn point(&self) -> Point<'_> {
        Point { state: &self.state, size: self.size, at: self.at }
    }

    /// What every view says about where it comes from: the log state a view was derived from, and
    /// the records it leaves out because they could not be read (`record N (kind): why`; empty
    /// when every record was read).
    pub fn provenance(&self) -> Value {
        provenance(self.size, &self.root, self.at, &self.audit.findings)
    }

    pub fn project(&self, path: &str) -> Result<&Project, ViewError> {
        self.point().project(path)
    }
}

/// Where a view comes from ([`Snapshot::provenance`]), for a view of the first `size` records with
/// tree head `root`, evaluated at `at`, leaving out `findings`.
pub fn provenance(size: u64, root: &merkle::Hash, at: DateTime<Utc>, findings: &[relic_domain::event::Finding]) -> Value {
    let unreadable: Vec<String> = findings.iter().map(ToString::to_string).collect();
    json!({
        "tree_size": size,
        "root": B64.encode(root),
        "evaluated_at": at.to_rfc3339(),
        "checkpoint": format!("relic checkpoint --size {size}"),
        "unreadable_records": unreadable,
    })
}

/// How a viewer sees releases: in full (reporter and above, or an auditor without `--viewer`), or
/// redacted (guest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    Full,
    Guest,
}

/// The viewer's sight in `project`; non-members may not read.
pub fn sight(p: &Project, viewer: Option<&str>) -> Result<Sight, ViewError> {
    match viewer {
        None => Ok(Sight::Full),
        Some(v) => match p.members.get(v) {
            Some(Role::Guest) => Ok(Sight::Guest),
            Some(_) => Ok(Sight::Full),
            None => Err(ViewError::NotFound("Access Denied".into())),
        },
    }
}

const SOURCE_FORMATS: [&str; 4] = ["zip", "tar.gz", "tar.bz2", "tar"];

/// One release in the reference API's shape.
pub fn release_json(p: &Project, r: &Release, at: DateTime<Utc>, sight: Sight) -> Value {
    let upcoming = timing::is_upcoming(r.released_at, at);
    let historical = timing::is_historical(r.released_at, r.created_at);
    let repo = p.path.rsplit('/').next().unwrap_or(&p.path);
    let links: Vec<Value> = r.links.values().map(|l| link_json(p, r, l)).collect();
    let milestones: Vec<Value> = r
        .milestones
        .iter()
        .filter_map(|t| p.milestones.get(t))
        .map(|m| {
            let closed = m.issues.iter().filter(|i| i.state == "closed").count();
            json!({"id": m.id, "iid": m.iid, "title": m.title, "description": m.description, "state": m.state,
                   "created_at": m.created_at, "due_date": m.due_date,
                   "issue_stats": {"total": m.issues.len(), "closed": closed}})
        })
        .collect();
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "tag_name": r.tag_name,
        "description": r.description,
        "created_at": timing::ts(r.created_at),
        "released_at": timing::ts(r.released_at),
        "upcoming_release": upcoming,
        "historical_release": historical,
        "author": {"username": r.author},
        "commit": r.commit.as_ref().map(|c| json!({"id": c})),
        "milestones": milestones,
        "assets": {
            "count": SOURCE_FORMATS.len() + links.len(),
            "sources": SOURCE_FORMATS.iter().map(|f| json!({"format": f, "url": format!("/{}/-/archive/{}/{repo}-{}.{f}", p.path, r.tag_name, r.tag_name)})).collect::<Vec<_>>(),
            "links": links,
        },
        "evidences": r.evidences.iter().map(|e| json!({"sha": e.sha, "filepath": e.filepath, "collected_at": e.collected_at})).collect::<Vec<_>>(),
        "_links": {"self": format!("/{}/-/releases/{}", p.path, r.tag_name)},
    });
    if let Some(source) = &r.imported_from {
        // Not the reference's: says the release predates the log and where it was read from.
        v["imported_from"] = json!(source);
    }
    if sight == Sight::Guest {
        // The reference hides repository information from guests: it leaves out the tag, the
        // commit, source archives and evidence, and names the release `Release-<id>`. Assets are
        // for reporters and above, and their permanent links name the tag; so may the description,
        // where the tag is replaced by that name. Nothing a guest sees names the tag.
        let alias = format!("Release-{}", r.id);
        v["name"] = json!(alias);
        v["description"] = match &r.description {
            Some(d) if !r.tag_name.is_empty() => json!(d.replace(&r.tag_name, &alias)),
            other => json!(other),
        };
        if let Some(o) = v.as_object_mut() {
            for hidden in ["tag_name", "commit", "evidences"] {
                o.remove(hidden);
            }
        }
        v["assets"] = json!({"count": 0, "links": []});
        v["_links"] = json!({});
    }
    v
}

/// One asset link in the reference API's shape: `direct_asset_url` is the permanent link
/// `/<project>/-/releases/<tag>/downloads<direct_asset_path>` when the link has a path, else its url.
pub fn link_json(p: &Project, r: &Release, l: &relic_domain::event::Link) -> Value {
    let direct = match &l.direct_asset_path {
        Some(path) => format!("/{}/-/releases/{}/downloads{}", p.path, r.tag_name, path),
        None => l.url.clone(),
    };
    json!({"id": l.id, "name": l.name, "url": l.url, "direct_asset_url": direct, "link_type": l.link_type})
}

/// Sorting and pagination of a release list.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// `released_at` or `created_at`.
    pub order_by: String,
    /// `desc` or `asc`.
    pub sort: String,
    pub page: u64,
    pub per_page: u64,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self { order_by: "released_at".into(), sort: "desc".into(), page: 1, per_page: 20 }
    }
}

/// One page of a project's releases, in order, how the viewer sees them, and how many there are
/// in all.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub project: &'a Project,
    pub sight: Sight,
    pub releases: Vec<&'a Release>,
    pub total: u64,
}

/// One page of a project's releases, sorted, with where the view comes from.
pub fn list(snap: &Snapshot, project: &str, opts: &ListOptions, viewer: Option<&str>) -> Result<Value, ViewError> {
    let pt = snap.point();
    let page = page(&pt, project, opts, viewer)?;
    let items: Vec<Value> = page.releases.iter().map(|r| release_json(page.project, r, pt.at, page.sight)).collect();
    Ok(json!({
        "releases": items,
        "page": opts.page, "per_page": opts.per_page, "total": page.total,
        "total_pages": page.total.div_ceil(opts.per_page),
        "log": snap.provenance(),
    }))
}

/// One page of a project's releases, sorted.
pub fn page<'a>(snap: &Point<'a>, project: &str, opts: &ListOptions, viewer: Option<&str>) -> Result<Page<'a>, ViewError> {
    if opts.order_by != "released_at" && opts.order_by != "created_at" {
        return Err(ViewError::Invalid("order_by does not have a valid value".into()));
    }
    if opts.sort != "asc" && opts.sort != "desc" {
        return Err(ViewError::Invalid("sort does not have a valid value".into()));
    }
    if opts.page == 0 || opts.per_page == 0 || opts.per_page > 100 {
        return Err(ViewError::Invalid("page starts at 1 and per_page is between 1 and 100".into()));
    }
    let p = snap.project(project)?;
    let s = sight(p, viewer)?;
    let mut rs: Vec<&Release> = p.releases.values().collect();
    let key = |r: &Release| if opts.order_by == "created_at" { r.created_at } else { r.released_at };
    rs.sort_by(|a, b| key(a).cmp(&key(b)).then(a.id.cmp(&b.id)));
    if opts.sort == "desc" {
        rs.reverse();
    }
    let total = rs.len() as u64;
    let start = ((opts.page - 1) * opts.per_page).min(total) as usize;
    let end = (start + opts.per_page as usize).min(rs.len());
    Ok(Page { project: p, sight: s, releases: rs[start..end].to_vec(), total })
}

/// One release, by tag, or the latest (newest by `released_at` among released ones), with where
/// the view comes from.
pub fn get(snap: &Snapshot, project: &str, tag: Option<&str>, viewer: Option<&str>) -> Result<Value, ViewError> {
    Ok(json!({"release": release(&snap.point(), project, tag, viewer)?, "log": snap.provenance()}))
}

/// One release as the viewer sees it, by tag, or the latest.
pub fn release(snap: &Point, project: &str, tag: Option<&str>, viewer: Option<&str>) -> Result<Value, ViewError> {
    let s = sight(snap.project(project)?, viewer)?;
    let (p, r) = find(snap, project, tag)?;
    Ok(release_json(p, r, snap.at, s))
}

/// A project's release by tag, or its latest (newest by `released_at` among released ones).
pub fn find<'a>(snap: &Point<'a>, project: &str, tag: Option<&str>) -> Result<(&'a Project, &'a Release), ViewError> {
    let p = snap.project(project)?;
    let r = match tag {
        Some(t) => p.releases.get(t).ok_or_else(|| ViewError::NotFound("Release does not exist".into()))?,
        None => p
            .releases
            .values()
            .filter(|r| !timing::is_upcoming(r.released_at, snap.at))
            .max_by(|a, b| a.released_at.cmp(&b.released_at).then(a.id.cmp(&b.id)))
            .ok_or_else(|| ViewError::NotFound("Release does not exist".into()))?,
    };
    Ok((p, r))
}
