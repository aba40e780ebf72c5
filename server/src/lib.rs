//! `relic serve`: the GitLab REST API v4 over HTTP, over one ledger (issue 14).
//!
//! What this is: one long-running process that owns a data directory (it holds the log's writer
//! lock for as long as it runs, and says where it serves in `<data>/serve.json`, so that a CLI writer
//! on the same directory is told to use the server instead) and answers GitLab's paths, parameters,
//! JSON shapes, status codes and error texts, so that stock clients (python-gitlab, glab,
//! release-cli, Terraform) work with only their URL and token pointed at relic. Every request is
//! authenticated by an API token (`relic token create`: `PRIVATE-TOKEN`, `Authorization: Bearer` or
//! `JOB-TOKEN`); the token's user is the actor, their role comes from project membership. Errors
//! are GitLab's: `{"message": "401 Unauthorized"}`, `{"message": "404 Project Not Found"}`, and
//! `{"error": "404 Not Found"}` for a path the API does not have.
//!
//! What is served so far (the rest of issue 14 follows): `GET /api/v4/user`, `GET
//! /api/v4/projects/:id` (the numeric id or the URL-encoded path). A project is visible to its
//! members only; to anyone else it does not exist (404), as in GitLab.
//!
//! What this is not: the rules (`relic_domain::decide`) or the log (`relic_ledger`): the server
//! decodes requests into commands and queries and encodes what they return.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use relic_domain::service::Service;
use serde_json::{json, Value};

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address to listen on, e.g. `127.0.0.1:8080` (port 0: any free port).
    pub listen: String,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Service(#[from] relic_domain::service::ServiceError),
    #[error(transparent)]
    Tokens(#[from] relic_domain::tokens::TokenError),
    #[error(transparent)]
    Store(#[from] relic_store::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The file a running server names itself in, inside the data directory it owns.
pub fn url_file(data: &Path) -> PathBuf {
    data.join("serve.json")
}

/// The URL of the server that owns `data`, if one said so (and has not removed it since).
pub fn serving_url(data: &Path) -> Option<String> {
    let text = std::fs::read(url_file(data)).ok()?;
    let v: Value = serde_json::from_slice(&text).ok()?;
    v["url"].as_str().map(str::to_string)
}

struct App {
    svc: Mutex<Service>,
    hashes: std::collections::BTreeMap<String, String>,
    base: String,
}

type Shared = Arc<App>;

/// A GitLab-shaped error response.
struct ApiError(StatusCode, Value);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn message(status: StatusCode, text: &str) -> ApiError {
    ApiError(status, json!({ "message": text }))
}

/// Serves `data` until SIGTERM or SIGINT; `ready` is called with the bound address once requests
/// are accepted. Holds the log's writer lock throughout; a shutdown finishes the requests in
/// flight (each append is acknowledged only once durable), then releases it.
pub fn serve(data: &Path, opts: &Options, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let svc = Service::open(data)?;
    let hashes = relic_domain::tokens::load(data)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&opts.listen).await.map_err(|source| ServeError::Listen { addr: opts.listen.clone(), source })?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        relic_store::fs::write_durably(&url_file(data), json!({ "url": base, "pid": std::process::id() }).to_string().as_bytes(), None)?;
        let _named = Named(url_file(data));
        let app = Arc::new(App { svc: Mutex::new(svc), hashes, base });
        let router = Router::new()
            .route("/api/v4/user", get(user))
            .route("/api/v4/projects/{id}", get(project))
            .fallback(|| async { ApiError(StatusCode::NOT_FOUND, json!({ "error": "404 Not Found" })) })
            .layer(DefaultBodyLimit::max(opts.max_body))
            .with_state(app);
        ready(addr);
        axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
        Ok(())
    })
}

/// Removes the server's URL file when the server stops.
struct Named(PathBuf);

impl Drop for Named {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => drop(s.recv().await),
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
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

/// The user a request authenticates as, or 401.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    let unauthorized = || message(StatusCode::UNAUTHORIZED, "401 Unauthorized");
    let secret = token(headers).ok_or_else(unauthorized)?;
    let svc = app.svc.lock().unwrap_or_else(|p| p.into_inner());
    relic_domain::tokens::authenticate(&app.hashes, svc.state(), secret, chrono::Utc::now()).ok_or_else(unauthorized)
}

/// A stable numeric id for a user name (users have none of their own in the log).
fn user_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % 1_000_000_000
}

async fn user(State(app): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let name = authenticate(&app, &headers)?;
    Ok(Json(json!({
        "id": user_id(&name),
        "username": name,
        "name": name,
        "state": "active",
        "locked": false,
        "avatar_url": null,
        "web_url": format!("{}/{name}", app.base),
    })))
}

async fn project(State(app): State<Shared>, headers: HeaderMap, UrlPath(id): UrlPath<String>) -> Result<Json<Value>, ApiError> {
    let name = authenticate(&app, &headers)?;
    let svc = app.svc.lock().unwrap_or_else(|p| p.into_inner());
    let st = svc.state();
    let found = match id.parse::<u64>() {
        Ok(n) => st.projects.values().find(|p| p.id == n),
        Err(_) => st.projects.get(&id),
    };
    let p = found.filter(|p| p.members.contains_key(&name)).ok_or_else(|| message(StatusCode::NOT_FOUND, "404 Project Not Found"))?;
    let (namespace, path) = p.path.rsplit_once('/').unwrap_or(("", &p.path));
    Ok(Json(json!({
        "id": p.id,
        "name": p.name,
        "path": path,
        "path_with_namespace": p.path,
        "name_with_namespace": if namespace.is_empty() { p.name.clone() } else { format!("{namespace} / {}", p.name) },
        "description": p.description,
        "created_at": p.created_at,
        "default_branch": "main",
        "visibility": "private",
        "web_url": format!("{}/{}", app.base, p.path),
        "namespace": {"name": namespace, "path": namespace, "full_path": namespace, "kind": "group"},
        "relic_role": p.members.get(&name).map(|r| r.as_str()),
    })))
}
