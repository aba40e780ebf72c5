//! `relic serve`: the GitLab REST API v4 over HTTP, over one ledger (issue 14).
//!
//! What this is: one long-running process that owns a data directory (it holds the log's writer
//! lock for as long as it runs, and says where it serves in `<data>/serve.json`, so that a CLI writer
//! on the same directory is told to use the server instead) and answers GitLab's paths, parameters,
//! JSON shapes, status codes and error texts, so that stock clients (python-gitlab, glab,
//! release-cli, Terraform) work with only their URL and token pointed at relic. Every request is
//! authenticated by an API token (`relic token create`: `PRIVATE-TOKEN`, `Authorization: Bearer` or
//! `JOB-TOKEN`); the token's user is the actor, their role comes from project membership.
//!
//! What is served: `GET /user`; `GET /projects/:id` (the numeric id or the URL-encoded path);
//! members, protected tags, freeze periods; releases (list with GitLab's pagination headers, get,
//! create, update, delete, `permalink/latest`), their asset links and evidence; and outside
//! `/api/v4` the permanent asset links and evidence files a release's JSON points at; project hooks,
//! to which release events are delivered ([`delivery`]). Every view
//! takes relic's `as_of` (a record count or an RFC 3339 time) and says which log position it
//! reflects (`X-Relic-Tree-Size`, `X-Relic-Root`, and `relic_log` in single objects).
//!
//! Code map: [`app`] (the ledger, the write pipeline and the read barrier), [`body`] (strict
//! request parsing), [`error`] (GitLab's error shapes), [`projects`], [`releases`], [`hooks`] and
//! [`tokens`] (handlers), [`delivery`] (webhooks from a durable outbox), [`tlog`] (the log itself
//! as C2SP tlog-tiles under `/tlog/`).
//!
//! What this is not: the rules (`relic_domain::decide`) or the log (`relic_ledger`): the server
//! decodes requests into commands and queries and encodes what they return.

pub mod app;
pub mod body;
pub mod delivery;
pub mod error;
pub mod hooks;
pub mod projects;
pub mod releases;
pub mod tlog;
pub mod tokens;
pub mod witness;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
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

/// The file holding a running server's operator secret (mode 0600; a new one each run, removed
/// when it stops): it authenticates `relic token` on the data directory to the token endpoints,
/// as GitLab's administrator, so tokens are issued and revoked without stopping the server.
pub fn operator_file(data: &Path) -> PathBuf {
    data.join("operator.token")
}

/// The URL of the server that owns `data`, if one said so (and has not removed it since).
pub fn serving_url(data: &Path) -> Option<String> {
    let text = std::fs::read(url_file(data)).ok()?;
    let v: Value = serde_json::from_slice(&text).ok()?;
    v["url"].as_str().map(str::to_string)
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
        // This run's operator secret: whoever can read the data directory may manage tokens
        // through the running server (`relic token` on the directory does).
        let (_, operator) = relic_domain::tokens::generate()?;
        relic_store::fs::write_durably(&operator_file(data), operator.as_bytes(), Some(0o600))?;
        let _operator = Named(operator_file(data));
        let app = Arc::new(app::App::new(svc, hashes, relic_domain::tokens::hash(&operator), base.clone()));
        delivery::start(data.to_path_buf(), app.ledger(), base);
        let router = routes()
            .layer(DefaultBodyLimit::max(opts.max_body))
            .layer(middleware::from_fn(log_request))
            .with_state(app);
        ready(addr);
        axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
        Ok(())
    })
}

/// Every path the server answers.
fn routes() -> Router<app::Shared> {
    use projects as p;
    use releases as r;
    const P: &str = "/api/v4/projects/{id}";
    let at = |s: &str| format!("{P}{s}");
    Router::new()
        .route("/api/v4/user", get(p::user))
        .route(P, get(p::project))
        .route(&at("/members"), get(p::members).post(p::add_member))
        .route(&at("/members/{user_id}"), axum::routing::put(p::edit_member))
        .route(&at("/protected_tags"), get(p::protected_tags).post(p::protect_tag))
        .route(&at("/protected_tags/{name}"), get(p::protected_tag).delete(p::unprotect_tag))
        .route(&at("/freeze_periods"), get(p::freezes).post(p::create_freeze))
        .route(&at("/freeze_periods/{freeze_period_id}"), get(p::freeze).put(p::update_freeze).delete(p::delete_freeze))
        .route(&at("/hooks"), get(hooks::list).post(hooks::add))
        .route(&at("/hooks/{hook_id}"), get(hooks::get).put(hooks::edit).delete(hooks::delete))
        .route(&at("/releases"), get(r::list).post(r::create))
        .route(&at("/releases/permalink/latest"), get(r::latest))
        .route(&at("/releases/permalink/latest/{*suffix}"), get(r::latest))
        .route(&at("/releases/{tag_name}"), get(r::get).put(r::update).delete(r::delete))
        .route(&at("/releases/{tag_name}/evidence"), axum::routing::post(r::collect_evidence))
        .route(&at("/releases/{tag_name}/assets/links"), get(r::links).post(r::create_link))
        .route(&at("/releases/{tag_name}/assets/links/{link_id}"), get(r::get_link).put(r::update_link).delete(r::delete_link))
        .route(&at("/releases/{tag_name}/downloads/{*direct_asset_path}"), get(r::download))
        .route("/tlog/checkpoint", get(tlog::checkpoint))
        .route("/tlog/tile/{*path}", get(tlog::tile))
        .route("/api/v4/personal_access_tokens", get(tokens::list))
        .route("/api/v4/personal_access_tokens/{token_id}", get(tokens::get).delete(tokens::revoke))
        .route("/api/v4/personal_access_tokens/{token_id}/rotate", axum::routing::post(tokens::rotate))
        .route("/api/v4/users/{user_id}/personal_access_tokens", axum::routing::post(tokens::create))
        // Anything else: the web paths a release points at, or GitLab's `{"error": "404 Not Found"}`.
        .fallback(r::web)
}

/// One structured line per request (`tracing`): method, path (never the query, which may carry
/// a token), status and duration. Headers, and so tokens, are never logged.
async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(%method, path, status = res.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    res
}

/// Removes the server's URL file when the server stops.
struct Named(PathBuf);

impl Drop for Named {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) async fn shutdown() {
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

