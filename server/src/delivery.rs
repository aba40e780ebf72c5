//! Webhooks: release events delivered to project hooks, at least once, in log order per hook,
//! across restarts and crashes.
//!
//! The log is the source; two durable files per hook beside it are the outbox:
//! - a **dispatcher** thread follows the durable log with a state of its own (replayed at start up
//!   to where it stopped). For each `release.created`, `release.updated` or `release.deleted` of a
//!   project with hooks subscribed to release events before it, it appends one line — the record's
//!   sequence number, its leaf hash, the hook's URL then and GitLab's release hook payload — to
//!   `<data>/hooks/<id>.outbox`, syncs the outboxes it touched, then durably moves its cursor
//!   (`<data>/hooks/dispatched`). A crash between the two appends a line again on restart, which
//!   the outbox refuses (a line is appended only past the outbox's last sequence number); a line
//!   cut short by a crash is cut off on open.
//! - a **sender** thread per hook POSTs each line after `<data>/hooks/<id>.delivered` (a count of
//!   lines, moved durably after each 2xx), retrying with exponential backoff (0.1 s to 5 s) while
//!   the receiver is down; headers `X-Gitlab-Event: Release Hook`, `X-Gitlab-Token` (the hook's
//!   secret, from `<data>/hooks/secrets.json`, mode 0600, never in the log), `X-Relic-Seq` and
//!   `X-Relic-Leaf-Hash` (hex), so a receiver can prove the event with `relic prove`.
//!
//! A delivery interrupted between the receiver's 2xx and the cursor's move is sent again: at least
//! once, never lost, never out of order.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use relic_domain::event::Event;
use relic_domain::state::{Project, Release, State};
use relic_ledger::{merkle, Ledger, Record};
use serde_json::{json, Value};

/// `<data>/hooks/`.
pub fn dir(data: &Path) -> PathBuf {
    data.join("hooks")
}

fn secrets_path(data: &Path) -> PathBuf {
    dir(data).join("secrets.json")
}

/// The hooks' secret tokens, by hook id.
pub fn secrets(data: &Path) -> BTreeMap<u64, String> {
    std::fs::read(secrets_path(data)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Sets (or with `None` removes) hook `id`'s secret token, durably, mode 0600. Done before the
/// record that says whether the hook has one.
pub fn set_secret(data: &Path, id: u64, token: Option<&str>) -> Result<(), relic_store::Error> {
    let mut all = secrets(data);
    match token {
        Some(t) => all.insert(id, t.to_string()),
        None => all.remove(&id),
    };
    std::fs::create_dir_all(dir(data)).map_err(|e| relic_store::Error::Io { path: dir(data), source: e })?;
    let text = serde_json::to_vec_pretty(&all).unwrap_or_default();
    relic_store::fs::write_durably(&secrets_path(data), &text, Some(0o600))
}

/// Starts the dispatcher (and a sender per hook) for the server's ledger. `base`: the server's
/// URL, for the URLs payloads carry.
pub fn start(data: PathBuf, ledger: Arc<Ledger>, base: String) {
    let _ = std::thread::Builder::new().name("relic-hooks".into()).spawn(move || {
        if let Err(e) = dispatch(&data, &ledger, &base) {
            tracing::error!(error = %e, "webhook dispatch stopped");
        }
    });
}

fn cursor(path: &Path) -> u64 {
    std::fs::read_to_string(path).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

/// One hook's outbox: appends past its last sequence number only.
struct Outbox {
    file: std::fs::File,
    last: Option<u64>,
}

impl Outbox {
    /// Opens (or creates) hook `id`'s outbox, cutting a line a crash left incomplete.
    fn open(data: &Path, id: u64) -> std::io::Result<Self> {
        let path = dir(data).join(format!("{id}.outbox"));
        let text = std::fs::read(&path).unwrap_or_default();
        let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        file.set_len(end as u64)?;
        let last = text[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()).last().and_then(|l| serde_json::from_slice::<Value>(l).ok()).and_then(|v| v["seq"].as_u64());
        Ok(Self { file, last })
    }

    fn append(&mut self, seq: u64, line: &Value) -> std::io::Result<bool> {
        if self.last.is_some_and(|l| l >= seq) {
            return Ok(false);
        }
        self.file.write_all(format!("{line}\n").as_bytes())?;
        self.last = Some(seq);
        Ok(true)
    }
}

fn dispatch(data: &Path, ledger: &Ledger, base: &str) -> Result<(), String> {
    let hooks = dir(data);
    std::fs::create_dir_all(&hooks).map_err(|e| format!("{}: {e}", hooks.display()))?;
    let cursor_path = hooks.join("dispatched");
    let mut done = cursor(&cursor_path).min(ledger.size());
    let mut state = State::default();
    let mut outboxes: BTreeMap<u64, Outbox> = BTreeMap::new();
    let mut senders: BTreeSet<u64> = BTreeSet::new();
    // Hooks with an outbox already get their sender now (deliveries resume after a restart).
    for e in std::fs::read_dir(&hooks).map_err(|e| e.to_string())?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".outbox").and_then(|n| n.parse::<u64>().ok()) {
            senders.insert(id);
            spawn_sender(data.to_path_buf(), id);
        }
    }
    let mut applied = 0;
    loop {
        let size = ledger.size();
        if applied >= size {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let mut touched = BTreeSet::new();
        // Read in order, one pass (a record's offset is found once, not once per record).
        let texts = ledger.texts();
        for r in ledger.records(applied).take((size - applied) as usize) {
            let (seq, bytes) = r.map_err(|e| e.to_string())?;
            let rec = Record::decode(&bytes).map_err(|e| format!("record {seq}: {e}"))?;
            let event = relic_domain::state::decode(&rec, &texts).ok().flatten();
            // Replayed only, up to where the last run stopped dispatching.
            let deliver = seq >= done;
            let (action, project, tag) = match &event {
                Some(Event::ReleaseCreated(e)) => ("create", e.project.clone(), e.tag_name.clone()),
                Some(Event::ReleaseUpdated(e)) => ("update", e.project.clone(), e.tag_name.clone()),
                Some(Event::ReleaseDeleted(e)) => ("delete", e.project.clone(), e.tag_name.clone()),
                _ => ("", String::new(), String::new()),
            };
            let before = (deliver && action == "delete").then(|| payloads(&state, &project, &tag, action, seq, base)).flatten();
            state.apply_decoded(&rec, event);
            let lines = if !deliver || action.is_empty() { None } else if action == "delete" { before } else { payloads(&state, &project, &tag, action, seq, base) };
            for (id, url, payload) in lines.unwrap_or_default() {
                let leaf = relic_ledger::hex::encode(&merkle::leaf_hash(&bytes));
                let ob = match outboxes.entry(id) {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => v.insert(Outbox::open(data, id).map_err(|e| e.to_string())?),
                };
                if ob.append(seq, &json!({"seq": seq, "leaf": leaf, "url": url, "payload": payload})).map_err(|e| e.to_string())? {
                    touched.insert(id);
                }
            }
        }
        applied = size;
        // The cursor only spares a restart re-appending what is in an outbox already (appends
        // are skipped up to an outbox's last sequence number anyway): written when an outbox
        // grew, not for every group of records no hook wants.
        if size > done && !touched.is_empty() {
            for id in &touched {
                if let Some(ob) = outboxes.get(id) {
                    ob.file.sync_data().map_err(|e| e.to_string())?;
                }
                if senders.insert(*id) {
                    spawn_sender(data.to_path_buf(), *id);
                }
            }
            relic_store::fs::write_durably(&cursor_path, size.to_string().as_bytes(), None).map_err(|e| e.to_string())?;
            done = size;
        }
    }
}

/// The deliveries a release event makes: for each hook of `project` subscribed to release events
/// before record `seq`, its id, URL and GitLab's release hook payload for the release `tag` as
/// `st` has it.
fn payloads(st: &State, project: &str, tag: &str, action: &str, seq: u64, base: &str) -> Option<Vec<(u64, String, Value)>> {
    let p = st.projects.get(project)?;
    let r = p.releases.get(tag)?;
    let hooks: Vec<(u64, String)> = p.hooks.values().filter(|h| h.hook.releases_events && h.since_seq < seq).map(|h| (h.hook.hook_id, h.hook.url.clone())).collect();
    if hooks.is_empty() {
        return None;
    }
    let payload = release_hook(p, r, action, base);
    Some(hooks.into_iter().map(|(id, url)| (id, url, payload.clone())).collect())
}

/// GitLab's release hook payload (`object_kind: "release"`).
fn release_hook(p: &Project, r: &Release, action: &str, base: &str) -> Value {
    let v = relic_projector::views::release_json(p, r, r.released_at, relic_projector::views::Sight::Full);
    let mut assets = v["assets"].clone();
    crate::releases::absolute(base, &mut assets);
    let (namespace, path) = p.path.rsplit_once('/').unwrap_or(("", &p.path));
    json!({
        "id": r.id,
        "created_at": v["created_at"],
        "description": r.description,
        "name": r.name,
        "released_at": v["released_at"],
        "tag": r.tag_name,
        "object_kind": "release",
        "project": {
            "id": p.id, "name": p.name, "description": p.description, "web_url": format!("{base}/{}", p.path),
            "avatar_url": null, "namespace": namespace, "path": path, "path_with_namespace": p.path,
            "default_branch": "main", "visibility_level": 0, "homepage": format!("{base}/{}", p.path),
            "url": format!("{base}/{}.git", p.path), "http_url": format!("{base}/{}.git", p.path),
        },
        "url": format!("{base}/{}/-/releases/{}", p.path, r.tag_name),
        "action": action,
        "assets": assets,
        "commit": r.commit.as_ref().map(|c| json!({"id": c})),
    })
}

fn spawn_sender(data: PathBuf, id: u64) {
    let _ = std::thread::Builder::new().name(format!("relic-hook-{id}")).spawn(move || send_loop(&data, id));
}

/// Delivers hook `id`'s outbox, line after line, forever.
fn send_loop(data: &Path, id: u64) {
    let outbox = dir(data).join(format!("{id}.outbox"));
    let delivered_path = dir(data).join(format!("{id}.delivered"));
    let mut delivered = cursor(&delivered_path);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(10))).max_redirects(0).build().into();
    let mut backoff = Duration::from_millis(100);
    loop {
        let text = std::fs::read(&outbox).unwrap_or_default();
        let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let lines: Vec<&[u8]> = text[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let Some(line) = lines.get(delivered as usize) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            tracing::error!(hook = id, line = delivered, "an outbox line is not JSON: skipped");
            delivered += 1;
            continue;
        };
        let url = v["url"].as_str().unwrap_or_default().to_string();
        let mut req = agent
            .post(&url)
            .header("X-Gitlab-Event", "Release Hook")
            .header("X-Relic-Seq", v["seq"].to_string())
            .header("X-Relic-Leaf-Hash", v["leaf"].as_str().unwrap_or_default())
            .content_type("application/json");
        if let Some(secret) = secrets(data).get(&id) {
            req = req.header("X-Gitlab-Token", secret);
        }
        let status = req.send(v["payload"].to_string()).map(|r| r.status().as_u16());
        match status {
            Ok(s) if (200..300).contains(&s) => {
                delivered += 1;
                backoff = Duration::from_millis(100);
                if let Err(e) = relic_store::fs::write_durably(&delivered_path, delivered.to_string().as_bytes(), None) {
                    tracing::error!(hook = id, error = %e, "cannot record a delivery");
                }
                tracing::info!(hook = id, seq = v["seq"].as_u64(), status = s, "delivered");
            }
            other => {
                tracing::warn!(hook = id, seq = v["seq"].as_u64(), outcome = ?other.map_err(|e| e.to_string()), retry_in_ms = backoff.as_millis() as u64, "delivery failed");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
