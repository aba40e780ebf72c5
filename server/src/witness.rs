//! `relic witness`: a C2SP tlog-witness (<https://c2sp.org/tlog-witness>) that cosigns the
//! checkpoints of the logs it trusts, refusing any that is not consistent with the last one it
//! cosigned for that origin: the check that makes a split view (two valid checkpoints of one
//! size with different roots) visible.
//!
//! A witness directory holds: `witness.key` (the cosigner's private key text, mode 0600, never
//! printed), `logs` (one trusted log verifier key per line) and `state/<hex of the origin>` (the
//! last cosigned size and root of that log, `<size> <base64 root>\n`, replaced durably). The
//! add-checkpoint decision (`relic_formats::witness::decide`) and the write of the new state
//! happen under one lock, and the state is durable before the cosignature is answered, as the
//! specification requires (a crash never lets the witness cosign two forks).
//!
//! With `--mirror`, the witness also speaks for a Kafka mirror (`relic mirror`): it cosigns its
//! origin's checkpoints only at a size the mirror has verified, with the mirror's root there.
//!
//! [`Http`] is the other end: how a log's add-checkpoint requests reach a witness
//! (`relic_ledger::witnesses::Transport`), for `relic checkpoint`, `/tlog/checkpoint`, `relic
//! publish` and `relic cosign`.
//!
//! What this is not: the log's side of the protocol (`relic_ledger::witnesses`: the K-of-N
//! policy, the proofs sent, the cosigned checkpoints kept) or the verifiers'.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use relic_ledger::note::VerifierKey;
use relic_ledger::cosignature::{Cosigner, CosignerKey};
use relic_ledger::witness::{self, Latest};

/// Why the witness could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] relic_store::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WitnessError + '_ {
    move |source| WitnessError::Io { path: path.to_path_buf(), source }
}

fn key_path(dir: &Path) -> PathBuf {
    dir.join("witness.key")
}

fn logs_path(dir: &Path) -> PathBuf {
    dir.join("logs")
}

fn state_path(dir: &Path, origin: &str) -> PathBuf {
    dir.join("state").join(relic_ledger::hex::encode(origin.as_bytes()))
}

/// Creates a witness named `name` in `dir` (a new key, mode 0600); returns its verifier key.
pub fn init(dir: &Path, name: &str) -> Result<CosignerKey, WitnessError> {
    if key_path(dir).exists() {
        return Err(WitnessError::Invalid(format!("{} already holds a witness", dir.display())));
    }
    let mut seed = [0u8; 32];
    let dev = Path::new("/dev/urandom");
    std::io::Read::read_exact(&mut std::fs::File::open(dev).map_err(io(dev))?, &mut seed).map_err(io(dev))?;
    let c = Cosigner::from_seed(name, seed).map_err(|e| WitnessError::Invalid(e.to_string()))?;
    std::fs::create_dir_all(dir.join("state")).map_err(io(dir))?;
    relic_store::fs::write_durably(&key_path(dir), format!("{}\n", c.to_private_text()).as_bytes(), Some(0o600))?;
    Ok(c.public().clone())
}

/// Adds a log the witness cosigns for, by its verifier key.
pub fn trust(dir: &Path, log_key: &str) -> Result<VerifierKey, WitnessError> {
    let k = VerifierKey::parse(log_key).map_err(|e| WitnessError::Invalid(e.to_string()))?;
    let mut text = std::fs::read_to_string(logs_path(dir)).or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(String::new()) } else { Err(e) }).map_err(io(&logs_path(dir)))?;
    if !text.lines().any(|l| l.trim() == k.to_string()) {
        text.push_str(&format!("{k}\n"));
        relic_store::fs::write_durably(&logs_path(dir), text.as_bytes(), None)?;
    }
    Ok(k)
}

struct Witness {
    dir: PathBuf,
    /// A mirror (`relic mirror`) whose verified log a checkpoint of its origin must match.
    mirror: Option<(PathBuf, std::time::Duration)>,
    cosigner: Cosigner,
    trusted: Vec<VerifierKey>,
    /// Held across reading the state, deciding and persisting the new state.
    lock: Mutex<()>,
}

fn load(dir: &Path) -> Result<Witness, WitnessError> {
    let text = std::fs::read_to_string(key_path(dir)).map_err(io(&key_path(dir)))?;
    let cosigner = Cosigner::parse_private(&text).map_err(|e| WitnessError::Invalid(format!("{}: {e}", key_path(dir).display())))?;
    let logs = std::fs::read_to_string(logs_path(dir)).unwrap_or_default();
    let trusted = logs.lines().filter(|l| !l.trim().is_empty()).map(|l| VerifierKey::parse(l.trim()).map_err(|e| WitnessError::Invalid(format!("{}: {e}", logs_path(dir).display())))).collect::<Result<Vec<_>, _>>()?;
    Ok(Witness { dir: dir.to_path_buf(), mirror: None, cosigner, trusted, lock: Mutex::new(()) })
}

fn latest(dir: &Path, origin: &str) -> Result<Option<Latest>, String> {
    let p = state_path(dir, origin);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    let bad = || format!("{}: not `<size> <base64 root>`", p.display());
    let (size, root) = text.trim_end().split_once(' ').ok_or_else(bad)?;
    let root: [u8; 32] = base64::engine::general_purpose::STANDARD.decode(root).ok().and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
    Ok(Some(Latest { size: size.parse().map_err(|_| bad())?, root }))
}

/// Serves `POST /add-checkpoint` until SIGTERM or Ctrl-C; `ready` gets the bound address. With
/// `mirror` (a mirror's data directory, and how long to wait for it to catch up), the witness is
/// also that mirror's voice: see [`check_mirror`].
pub fn serve(dir: &Path, listen: &str, mirror: Option<(PathBuf, std::time::Duration)>, ready: impl FnOnce(SocketAddr)) -> Result<(), WitnessError> {
    if let Some((m, _)) = &mirror {
        let ro = relic_ledger::Ledger::open_read_only(m).map_err(|e| WitnessError::Invalid(format!("--mirror {}: {e}", m.display())))?;
        if !ro.store().is_mirror() {
            return Err(WitnessError::Invalid(format!("--mirror {}: not a mirror (relic mirror builds one)", m.display())));
        }
        drop(ro);
    }
    let w = Arc::new(Witness { mirror, ..load(dir)? });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(io(dir))?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| WitnessError::Invalid(format!("cannot listen on {listen}: {e}")))?;
        ready(listener.local_addr().map_err(io(dir))?);
        let router = Router::new().route("/add-checkpoint", post(add_checkpoint)).with_state(w);
        axum::serve(listener, router).with_graceful_shutdown(crate::shutdown()).await.map_err(io(dir))
    })
}

/// A witness backed by a Kafka mirror cosigns a checkpoint of the mirror's origin only once the
/// mirror holds its size with the same root: the mirror verified every record up to there
/// (signature, link, key history) and every checkpoint the origin published, so the cosignature
/// also says "these exact records exist and verify", which a witness that sees only hashes cannot.
/// Waits up to `wait` for the mirror to catch up (503 if it does not); another root is 409. A
/// checkpoint of any other origin gets the plain witness's checks only.
fn check_mirror(mirror: &Path, wait: std::time::Duration, note: &str) -> Result<(), witness::Refusal> {
    let refuse = |status: u16, body: String| witness::Refusal { status, body, size_conflict: false };
    let body_end = note.rfind("\n\n").ok_or_else(|| refuse(400, "malformed checkpoint note\n".into()))?;
    let c = relic_ledger::checkpoint::Checkpoint::parse_body(&note[..body_end + 1]).map_err(|e| refuse(400, format!("malformed checkpoint: {e}\n")))?;
    let started = std::time::Instant::now();
    loop {
        // A reader sees the mirror as it was when opened: open again to see it grow.
        let ro = relic_ledger::Ledger::open_read_only(mirror).map_err(|e| refuse(500, format!("the mirror: {e}\n")))?;
        if ro.origin() != c.origin {
            return Ok(());
        }
        if ro.size() >= c.size {
            let root = ro.root(c.size).map_err(|e| refuse(500, format!("the mirror: {e}\n")))?;
            if root != c.root {
                return Err(refuse(409, format!("the mirror's verified log has another root at size {}: the log forked\n", c.size)));
            }
            return Ok(());
        }
        if started.elapsed() >= wait {
            return Err(refuse(503, format!("the mirror holds {} records, fewer than the checkpoint's {}: not cosigned until it has them\n", ro.size(), c.size)));
        }
        drop(ro);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// add-checkpoint over HTTP(S): one agent, a 10 s limit per request, no redirects.
#[derive(Debug)]
pub struct Http(ureq::Agent);

impl Default for Http {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .max_redirects(0)
            .build()
            .into();
        Http(agent)
    }
}

impl relic_ledger::witnesses::Transport for Http {
    fn add_checkpoint(&self, url: &str, body: &str) -> Result<(u16, String), String> {
        let url = format!("{}/add-checkpoint", url.trim_end_matches('/'));
        let resp = self.0.post(&url).content_type("text/plain").send(body).map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.into_body().read_to_string().map_err(|e| format!("POST {url}: {e}"))?;
        Ok((status, text))
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: String) -> Response {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let outcome = tokio::task::spawn_blocking(move || {
        let req = witness::parse_request(&body)?;
        if let Some((m, wait)) = &w.mirror {
            check_mirror(m, *wait, &req.note)?;
        }
        let _held = w.lock.lock().unwrap_or_else(|p| p.into_inner());
        // The checkpoint's first line is its origin (decide checks the whole body).
        let origin = req.note.lines().next().unwrap_or_default();
        let known = latest(&w.dir, origin).map_err(|e| witness::Refusal { status: 500, body: format!("{e}\n"), size_conflict: false })?;
        let (new, c, line) = witness::decide(&req, &w.trusted, known, &w.cosigner, now)?;
        // Durable before the cosignature leaves.
        let state = format!("{} {}\n", new.size, base64::engine::general_purpose::STANDARD.encode(new.root));
        let p = state_path(&w.dir, &c.origin);
        relic_store::fs::write_durably(&p, state.as_bytes(), None).map_err(|e| witness::Refusal { status: 500, body: format!("{e}\n"), size_conflict: false })?;
        Ok::<_, witness::Refusal>(line)
    })
    .await;
    match outcome {
        Ok(Ok(line)) => text(StatusCode::OK, "text/plain; charset=utf-8", line),
        Ok(Err(r)) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            text(status, if r.size_conflict { "text/x.tlog.size" } else { "text/plain; charset=utf-8" }, r.body)
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", format!("{e}\n")),
    }
}
