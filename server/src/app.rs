//! The server's one ledger and the two ways requests reach it.
//!
//! Writes go through [`App::write`]: under the service's lock a command is decided, applied to the
//! live state and queued for the log ([`Service::submit`]), and the response is computed from the
//! state right after it; the lock is released and the request waits until its records are durable
//! before anything is sent. Many requests thus share one write to disk, and none is acknowledged
//! before it is durable. Reads go through [`App::read`]: computed under the lock from the live
//! state, sent only once every record that state reflects is durable, so no response ever shows
//! what a crash could take back. If a queued write fails, the state is derived from the log again
//! ([`Service::resync`]) and the reads waiting on it fail too.
//!
//! Every response of a view carries the log position it reflects ([`Position`]), and `as_of`
//! views are computed from a read-only handle on the log, outside the lock ([`App::read_as_of`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::Utc;
use relic_domain::decide::Command;
use relic_domain::event::Role;
use relic_domain::service::Service;
use relic_domain::state::Project;
use relic_ledger::{merkle, Ledger, Receipt};
use relic_projector::views::{self, AsOf, Point};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::error::{self, ApiError};

/// How far the log is durable, and how many queued writes have failed so far.
#[derive(Debug, Clone, Copy)]
struct Durable {
    size: u64,
    failures: u64,
}

pub struct App {
    /// An async mutex: a request waiting for the service yields its thread instead of blocking
    /// the runtime (writes take it from the blocking pool with `blocking_lock`). Fair (FIFO).
    svc: tokio::sync::Mutex<Service>,
    /// The same ledger, for tree heads and the durable size without waiting for the service.
    ledger: Arc<Ledger>,
    /// Token id → BLAKE3 of its secret (`relic_domain::tokens`); grows as tokens are issued
    /// through the API.
    hashes: RwLock<BTreeMap<String, String>>,
    /// The BLAKE3 of this run's operator secret ([`crate::operator_file`]).
    operator: String,
    /// `http://host:port`, for the URLs responses carry.
    pub base: String,
    pub data: PathBuf,
    durable: watch::Sender<Durable>,
    /// The last tree head computed, by size.
    root: Mutex<Option<(u64, merkle::Hash)>>,
    /// The checkpoint `/tlog/checkpoint` serves ([`crate::tlog`]).
    pub tlog: Arc<crate::tlog::Latest>,
}

pub type Shared = Arc<App>;

/// The log position a response reflects: its first `size` records, with tree head `root`.
#[derive(Debug, Clone, Copy)]
pub struct Position {
    pub size: u64,
    pub root: merkle::Hash,
    pub at: chrono::DateTime<Utc>,
}

impl Position {
    /// `X-Relic-Tree-Size` and `X-Relic-Root` (standard base64, as in checkpoints).
    pub fn headers(&self, h: &mut HeaderMap) {
        use base64::Engine as _;
        h.insert("x-relic-tree-size", HeaderValue::from(self.size));
        if let Ok(v) = HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(self.root)) {
            h.insert("x-relic-root", v);
        }
    }

    /// A JSON response with `status`, carrying this position in its headers.
    pub fn respond(&self, status: StatusCode, v: Value) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        let mut r = (status, axum::Json(v)).into_response();
        self.headers(r.headers_mut());
        r
    }

    /// The same, as the relic-specific `relic_log` field of an object.
    pub fn json(&self) -> Value {
        views::provenance(self.size, &self.root, self.at, &[])
    }
}

/// Who a request is, for the token endpoints.
pub enum Who {
    /// A token's user, by that token.
    User(relic_domain::tokens::Authenticated),
    /// The operator of the data directory, named by `X-Relic-Actor` (as `relic token --actor`;
    /// needed to record anything).
    Operator { actor: Option<String> },
}

/// Who is asking, and in which project.
pub struct Caller {
    pub user: String,
    /// The project's path.
    pub project: String,
    pub role: Role,
}

impl App {
    pub fn new(svc: Service, hashes: BTreeMap<String, String>, operator: String, base: String) -> Self {
        let data = svc.data_dir();
        let (durable, _) = watch::channel(Durable { size: svc.ledger().size(), failures: 0 });
        let ledger = svc.shared_ledger();
        Self { svc: tokio::sync::Mutex::new(svc), ledger, hashes: RwLock::new(hashes), operator, base, data, durable, root: Mutex::new(None), tlog: Arc::default() }
    }

    /// The user a request authenticates as (`PRIVATE-TOKEN`, `Authorization: Bearer` or
    /// `JOB-TOKEN`), or 401.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let svc = self.svc.lock().await;
        self.user(svc.state(), headers).map(|a| a.user)
    }

    /// Who a request is, the operator included (only the token endpoints accept the operator).
    pub async fn who(&self, headers: &HeaderMap) -> Result<Who, ApiError> {
        let secret = token(headers).ok_or_else(error::unauthorized)?;
        if relic_domain::tokens::hash(secret) == self.operator {
            let actor = headers.get("x-relic-actor").and_then(|v| v.to_str().ok()).map(str::trim).filter(|a| !a.is_empty());
            return Ok(Who::Operator { actor: actor.map(str::to_string) });
        }
        let svc = self.svc.lock().await;
        self.user(svc.state(), headers).map(Who::User)
    }

    /// The caller and their role in project `id` (the numeric id or the path); 401 without a valid
    /// token; 404 `Project Not Found` for a project that does not exist; 403 for one the user holds
    /// no role in (issue 14: "no role: 403").
    /// One turn of the lock for both.
    pub async fn caller(&self, headers: &HeaderMap, id: &str) -> Result<Caller, ApiError> {
        let svc = self.svc.lock().await;
        let user = self.user(svc.state(), headers)?.user;
        let p = find_project(svc.state(), id).ok_or_else(|| error::not_found("Project"))?;
        let role = *p.members.get(&user).ok_or_else(error::forbidden)?;
        Ok(Caller { user, project: p.path.clone(), role })
    }

    /// The user a request's token authenticates as in `st`, or 401 (also for the operator, who
    /// is not a user).
    fn user(&self, st: &relic_domain::state::State, headers: &HeaderMap) -> Result<relic_domain::tokens::Authenticated, ApiError> {
        let secret = token(headers).ok_or_else(error::unauthorized)?;
        let hashes = self.hashes.read().unwrap_or_else(|p| p.into_inner());
        relic_domain::tokens::authenticate(&hashes, st, secret, Utc::now()).ok_or_else(error::unauthorized)
    }

    /// Computes `f` from the live state and answers once all of it is durable.
    pub async fn read<T>(&self, f: impl FnOnce(&Point) -> T) -> Result<(T, Position), ApiError> {
        let (t, size) = {
            let svc = self.svc.lock().await;
            let st = svc.state();
            (f(&Point { state: st, size: st.size, at: Utc::now() }), st.size)
        };
        let at = Utc::now();
        self.wait_durable(size).await?;
        Ok((t, Position { size, root: self.root_at(size)?, at }))
    }

    /// Computes `f` from the log as it was at `as_of`, from a read-only handle (no lock, nothing
    /// written).
    pub async fn read_as_of<T: Send + 'static>(&self, as_of: AsOf, f: impl FnOnce(&Point) -> T + Send + 'static) -> Result<(T, Position), ApiError> {
        let data = self.data.clone();
        tokio::task::spawn_blocking(move || {
            let ledger = Ledger::open_read_only(&data).map_err(error::internal)?;
            let snap = views::snapshot(&ledger, as_of)?;
            Ok((f(&snap.point()), Position { size: snap.size, root: snap.root, at: snap.at }))
        })
        .await
        .map_err(error::internal)?
    }

    /// [`App::read`] or [`App::read_as_of`], as the request's `as_of` parameter says.
    pub async fn view<T: Send + 'static>(&self, as_of: Option<&str>, f: impl FnOnce(&Point) -> T + Send + 'static) -> Result<(T, Position), ApiError> {
        match as_of {
            None => self.read(f).await,
            Some(s) => {
                let a = AsOf::parse(s).ok_or_else(|| error::bad_request("as_of is invalid: expected a record count or an RFC 3339 time"))?;
                self.read_as_of(a, f).await
            }
        }
    }

    /// Decides and queues `cmd` by `user`; computes `before` from the state just before it and
    /// `after` from the state right after it (in the same turn of the lock, so nobody else's
    /// command comes between), and returns what `after` gives once the command's records are
    /// durable. A failed `before` (a secret that could not be stored) stops the command there.
    pub async fn write<B: Send + 'static, T: Send + 'static>(
        self: &Arc<Self>,
        user: &str,
        cmd: Command,
        before: impl FnOnce(&Point) -> Result<B, ApiError> + Send + 'static,
        after: impl FnOnce(&Point, B) -> T + Send + 'static,
    ) -> Result<(T, Vec<Receipt>, Position), ApiError> {
        let app = self.clone();
        let user = user.to_string();
        // Deciding may write evidence files and wait for an access-denied record: off the
        // runtime's threads.
        let (submitted, t, size) = tokio::task::spawn_blocking(move || {
            let mut svc = app.svc.blocking_lock();
            let st = svc.state();
            let b = before(&Point { state: st, size: st.size, at: Utc::now() })?;
            let submitted = match svc.submit(&user, &cmd, Utc::now()) {
                Ok(s) => s,
                Err(e) => {
                    // A refusal for lack of permission was recorded and waited for: what is durable
                    // moved on all the same.
                    let size = svc.ledger().size();
                    app.durable.send_modify(|d| d.size = d.size.max(size));
                    return Err(e.into());
                }
            };
            let st = svc.state();
            Ok::<_, ApiError>((submitted, after(&Point { state: st, size: st.size, at: Utc::now() }, b), st.size))
        })
        .await
        .map_err(error::internal)??;
        let at = Utc::now();
        match submitted.durable().await {
            Ok(receipts) => {
                self.durable.send_modify(|d| d.size = d.size.max(size));
                Ok((t, receipts, Position { size, root: self.root_at(size)?, at }))
            }
            Err(e) => {
                let app = self.clone();
                let resynced = tokio::task::spawn_blocking(move || {
                    let mut svc = app.svc.blocking_lock();
                    let r = svc.resync();
                    let size = svc.ledger().size();
                    app.durable.send_modify(|d| {
                        d.size = size;
                        d.failures += 1;
                    });
                    r
                })
                .await;
                if let Ok(Err(r)) = resynced {
                    tracing::error!(error = %r, "cannot derive the state from the log again");
                }
                Err(error::internal(e))
            }
        }
    }

    /// Waits until the first `size` records are durable; fails if a write fails meanwhile.
    async fn wait_durable(&self, size: u64) -> Result<(), ApiError> {
        let mut rx = self.durable.subscribe();
        let failures = rx.borrow().failures;
        let d = rx.wait_for(|d| d.size >= size || d.failures != failures).await.map_err(error::internal)?;
        if d.size >= size {
            Ok(())
        } else {
            Err(error::message(StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable: the log could not be written"))
        }
    }

    /// The tree head at `size` (durable).
    fn root_at(&self, size: u64) -> Result<merkle::Hash, ApiError> {
        let mut cached = self.root.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, h)) = *cached {
            if n == size {
                return Ok(h);
            }
        }
        let h = self.ledger.root(size).map_err(error::internal)?;
        *cached = Some((size, h));
        Ok(h)
    }

    /// The served ledger (its tree and durable size).
    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }

    /// Accepts a newly issued token from now on: its hash is in `<data>/tokens.json` already.
    pub fn add_hash(&self, id: &str, secret: &str) {
        self.hashes.write().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), relic_domain::tokens::hash(secret));
    }
}

/// A project by numeric id or path (URL-decoded by the router).
pub fn find_project<'a>(st: &'a relic_domain::state::State, id: &str) -> Option<&'a Project> {
    match id.parse::<u64>() {
        Ok(n) => st.projects.values().find(|p| p.id == n),
        Err(_) => st.projects.get(id),
    }
}

/// The token a request carries: `PRIVATE-TOKEN`, `Authorization: Bearer`, or `JOB-TOKEN`.
fn token(headers: &HeaderMap) -> Option<&str> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    h("private-token")
        .or_else(|| h("authorization").and_then(|a| a.strip_prefix("Bearer ")))
        .or_else(|| h("job-token"))
        .map(str::trim)
}

/// A stable numeric id for a user name (users have none of their own in the log).
pub fn user_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % 1_000_000_000
}

/// A user as GitLab shows one.
pub fn user_json(base: &str, name: &str) -> Value {
    json!({
        "id": user_id(name),
        "username": name,
        "name": name,
        "state": "active",
        "locked": false,
        "avatar_url": null,
        "web_url": format!("{base}/{name}"),
    })
}
