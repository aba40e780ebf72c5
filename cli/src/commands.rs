//! One function per command: parse files, call the ledger, print.

use std::io::{IsTerminal as _, Read as _, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use relic_ledger::checkpoint::{self, InclusionBundle};
use relic_ledger::note::{key_id_hex, VerifierKey};
use relic_ledger::record::{Record, MAX_PAYLOAD};
use relic_domain::catalogue::{self, Rules};
use relic_domain::policy::DomainPolicy;
use relic_ledger::{verify, Actor, Ledger};
use serde_json::json;

use crate::args::{Cli, Command, KeyAction, ProveWhat, TokenAction};
use crate::{CliError, Result};

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io { path: path.display().to_string(), source }
}

fn out_err(source: std::io::Error) -> CliError {
    CliError::Io { path: "<stdout>".into(), source }
}

/// Runs the command; returns the exit code of a success (0, or 3 for a frozen `freeze status`).
pub fn dispatch(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let remote = match (&cli.server, &cli.token) {
        (Some(url), Some(token)) => Some(crate::remote::Remote { url: url.clone(), token: token.clone(), actor: None }),
        (Some(_), None) => return Err(CliError::Arguments("--server needs --token (or RELIC_TOKEN): an API token from `relic token create`".into())),
        (None, _) => None,
    };
    crate::remote::set(remote);
    let data = cli.data.as_path();
    let json = cli.json;
    use crate::domain_cmds as d;
    match cli.command {
        Command::Freeze(c) => d::freeze_cmd(data, c, json, out),
        other => run_command(data, other, json, out, err).map(|()| 0),
    }
}

/// Writes one JSON value as a line.
pub fn print_json(out: &mut dyn Write, v: &serde_json::Value) -> Result<()> {
    writeln!(out, "{v}").map_err(out_err)
}

fn run_command(data: &Path, command: Command, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    use crate::domain_cmds as d;
    match command {
        Command::Project(c) => d::project(data, c, json, out),
        Command::Tag(c) => d::tag(data, c, json, out),
        Command::Milestone(c) => d::milestone(data, c, json, out),
        Command::Release(c) => d::release(data, c, json, out, err),
        Command::Link(c) => d::link(data, c, json, out),
        Command::Evidence(c) => d::evidence_cmd(data, c, json, out, err),
        Command::Internal(c) => d::internal(data, c, json, out, err),
        Command::Report(c) => d::report(data, c, json, out, err),
        Command::Import(c) => d::import(data, c, json, out),
        Command::Projections(c) => d::projections(data, c, json, out),
        Command::Freeze(c) => d::freeze_cmd(data, c, json, out).map(|_| ()),
        Command::Init { origin } => init(data, &origin, json, out, err),
        Command::Token { action } => token(data, action, json, out),
        Command::Serve { listen, max_body } => {
            let opts = relic_server::Options { listen, max_body };
            // Structured request logs on stderr, one JSON object per line (tokens never appear),
            // through a file descriptor of its own: `err` holds the stderr lock for the whole run.
            use std::os::fd::AsFd as _;
            if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
                let log = std::sync::Mutex::new(std::fs::File::from(fd));
                let _ = tracing_subscriber::fmt().json().with_writer(log).with_target(false).try_init();
            }
            let mut announce = |addr: std::net::SocketAddr| {
                let _ = writeln!(out, "relic serve: http://{addr}/api/v4 ({})", data.display());
                let _ = out.flush();
            };
            relic_server::serve(data, &opts, &mut announce).map_err(|e| CliError::Domain(e.to_string()))?;
            Ok(())
        }
        Command::Key { all, action: None } => key(data, all, json, out),
        Command::Key { action: Some(KeyAction::Rotate { actor }), .. } => rotate(data, actor, json, out),
        Command::Append { role: Some(_), .. } => Err(CliError::Invalid(
            "--role is not accepted: an actor's role comes from their project membership as the log records it".into(),
        )),
        Command::Append { kind, subject, payload, who, role: None } => append(data, &kind, &subject, &payload, who.actor()?, json, out),
        Command::Log { from, limit } => log(data, from, limit, json, out),
        Command::Record { seq, raw } => record(data, seq, raw, out),
        Command::Checkpoint { size } => {
            let cp = crate::relay_cmds::checkpoint(data, size, err)?;
            if json {
                let c = &cp.checkpoint;
                print_json(out, &json!({"origin": c.origin, "size": c.size, "root": B64.encode(c.root), "note": cp.note}))
            } else {
                out.write_all(cp.note.as_bytes()).map_err(out_err)
            }
        }
        Command::Export { tiles } => {
            let ledger = Ledger::open_read_only(data)?;
            let e = relic_ledger::export::export_tiles(&ledger, &tiles)?;
            if json {
                print_json(out, &json!({"size": e.size, "written": e.written, "kept": e.kept}))?;
            } else {
                writeln!(out, "{}: the log at size {}: {} files written, {} already there", tiles.display(), e.size, e.written, e.kept).map_err(out_err)?;
            }
            match e.too_large {
                None => Ok(()),
                Some((seq, len)) => Err(CliError::Domain(format!(
                    "record {seq} is {len} bytes, over the 65,535 an entry bundle holds: its bundle was not written (everything else was); read it with `relic record {seq} --raw`"
                ))),
            }
        }
        Command::Prove { what: ProveWhat::Inclusion { seq, size } } => {
            let b = crate::relay_cmds::prove_inclusion(data, seq, size, err)?;
            if json {
                let proof: Vec<String> = b.proof.iter().map(|h| B64.encode(h)).collect();
                print_json(out, &json!({"index": b.index, "proof": proof, "checkpoint": b.checkpoint, "tlog_proof": b.to_text()}))
            } else {
                out.write_all(b.to_text().as_bytes()).map_err(out_err)
            }
        }
        Command::Prove { what: ProveWhat::Consistency { old, new } } => {
            let l = Ledger::open_read_only(data)?;
            let proof = l.prove_consistency(old, new)?;
            if json {
                let p: Vec<String> = proof.iter().map(|h| B64.encode(h)).collect();
                print_json(out, &json!({"old": old, "new": new, "proof": p}))
            } else {
                out.write_all(checkpoint::format_hash_lines(&proof).as_bytes()).map_err(out_err)
            }
        }
        Command::Verify { trusted, strict, key, witnesses } => {
            // A witness policy is about the checkpoint the log is checked against.
            if !witnesses.witness.is_empty() || witnesses.quorum.is_some_and(|q| q > 0) {
                let t = trusted.as_deref().ok_or_else(|| CliError::Arguments("--witness needs --trusted: the cosigned checkpoint the log must extend".into()))?;
                crate::witness_cmds::require_quorum(&read_text(t)?, &witnesses)?;
            }
            verify_log(data, trusted.as_deref(), strict, &key, json, out)
        }
        Command::VerifyProof { key, proof, record, witnesses } => verify_proof(&key, &proof, &record, &witnesses, json, out),
        Command::VerifyConsistency { key, old, new, proof, witnesses } => verify_consistency(&key, &old, &new, &proof, &witnesses, json, out),
        Command::Witness { action } => crate::witness_cmds::witness(action, out),
        Command::Cosign { witness } => crate::witness_cmds::cosign(data, &witness, out),
        Command::Witnesses { action } => crate::witness_cmds::witnesses(data, action, json, out),
        Command::Kinds => kinds(data, json, out),
        Command::Migrate => migrate(data, json, out),
        Command::Demo => crate::demo::run(data, out, err),
        Command::Publish(a) => crate::relay_cmds::publish(data, a, json, out, err),
        Command::Mirror(a) => crate::relay_cmds::mirror(data, a, json, out, err),
        Command::Subscribe(a) => {
            // A subscriber needs no data directory; if `--data` names a ledger, its files are out of bounds.
            if let Some(p) = a.position_file.as_deref().filter(|_| relic_ledger::ledger::store_path(data).exists()) {
                relic_ledger::paths::check_output(data, "--position-file", p)?;
            }
            crate::relay_cmds::subscribe(a, out, err)
        }
        Command::Scheduler { once, interval } => crate::scheduler::run(data, once, interval, json, out),
    }
}

/// `relic migrate`: converts the store to the current format, saying from what.
fn migrate(data: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let from = relic_store::migrate::migrate(data).map_err(relic_ledger::Error::from)?;
    // The converted store must open as every command opens it.
    Ledger::open_read_only(data)?;
    let format = String::from_utf8_lossy(relic_store::layout::FORMAT).trim_end().to_string();
    if json {
        return print_json(out, &json!({"converted_from": from, "format": format}));
    }
    if from.is_empty() {
        writeln!(out, "the store is already in the current format ({format}); nothing to do").map_err(out_err)
    } else {
        writeln!(out, "converted from {} to {format}", from.join(", then ")).map_err(out_err)
    }
}

/// Every kind the log accepts, with who writes it: the ledger, a command, or `relic append`.
fn kinds(data: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let policy = DomainPolicy::load(data).map_err(|e| CliError::Domain(e.to_string()))?;
    let raw = policy.raw_kinds();
    let built_in = catalogue::kinds().map(|(k, v)| (k.to_string(), v));
    let extra = raw.iter().filter(|(k, _)| catalogue::current_version(k).is_none()).cloned();
    for (k, v) in built_in.chain(extra) {
        let (written_by, note) = match catalogue::rules(&k) {
            Rules::Ledger => ("ledger".to_string(), "written by the ledger".to_string()),
            // A command is quoted as typed; "relic itself, when …" is not a command.
            Rules::Command(c) if c.contains(',') => (c.to_string(), format!("written by {c}")),
            Rules::Command(c) => (c.to_string(), format!("written by `{c}`")),
            Rules::None if catalogue::current_version(&k).is_some() => ("relic append".into(), "relic append".into()),
            Rules::None => ("relic append".into(), format!("relic append; schema in {}", relic_domain::policy::kinds_dir(data).display())),
        };
        if json {
            print_json(out, &json!({"kind": k, "version": v, "written_by": written_by}))?;
        } else {
            writeln!(out, "{k} v{v}  ({note})").map_err(out_err)?;
        }
    }
    Ok(())
}

fn init(data: &Path, origin: &str, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let l = relic_domain::service::init_ledger(data, origin).map_err(crate::domain_cmds::service_err)?;
    let vk = l.verifier_key()?;
    if json {
        writeln!(out, "{}", json!({"origin": origin, "data": data, "verifier_key": vk.to_string()})).map_err(out_err)?;
    } else {
        let _ = writeln!(err, "created ledger {origin} in {}; its verifier key:", data.display());
        writeln!(out, "{vk}").map_err(out_err)?;
    }
    Ok(())
}

fn key(data: &Path, all: bool, json: bool, out: &mut dyn Write) -> Result<()> {
    let l = Ledger::open_read_only(data)?;
    if json {
        let keys: Vec<_> = l.keys().iter().map(|k| json!({"key": k.key.to_string(), "from_seq": k.from_seq})).collect();
        return print_json(out, &json!({"verifier_key": l.verifier_key()?.to_string(), "keys": keys}));
    }
    if all {
        for k in l.keys() {
            writeln!(out, "{}\tfrom record {}", k.key, k.from_seq).map_err(out_err)?;
        }
    } else {
        writeln!(out, "{}", l.verifier_key()?).map_err(out_err)?;
    }
    Ok(())
}

fn rotate(data: &Path, actor: String, json: bool, out: &mut dyn Write) -> Result<()> {
    let l = relic_domain::service::open_ledger(data).map_err(crate::domain_cmds::service_err)?;
    let (receipt, vk) = l.rotate_key_blocking(Actor { id: actor, role: "system".into() })?;
    if json {
        print_json(out, &json!({"seq": receipt.seq, "verifier_key": vk.to_string()}))
    } else {
        writeln!(out, "{vk}").map_err(out_err)
    }
}

/// `relic token`: issue (the hash stored first, then the decided record, then the secret printed
/// once), list, revoke, rotate. Through the API when a server is given (`--server`: the token's
/// user acting on their own tokens) or owns the data directory (its operator secret, so tokens
/// change without stopping it); on the data directory otherwise.
fn token(data: &Path, action: TokenAction, json: bool, out: &mut dyn Write) -> Result<()> {
    use relic_domain::decide::Command as Cmd;
    use relic_domain::tokens;
    if let Some(r) = token_server(data, &action)? {
        return token_remote(&r, action, json, out);
    }
    let token_err = |e: tokens::TokenError| CliError::Domain(e.to_string());
    let need = |actor: Option<String>| actor.ok_or_else(|| CliError::Arguments("--actor (or RELIC_ACTOR) is needed: who acts on the token".into()));
    // Refused before anything is stored when the command is (bad user, bad expiry, unknown
    // token); then the hash, then the record.
    let issue = |actor: &str, cmd: &Cmd, id: &str, secret: &str| {
        crate::session::with_service(data, |svc| {
            relic_domain::decide::decide(svc.state(), actor, cmd, chrono::Utc::now()).map_err(|r| CliError::Domain(r.message))?;
            tokens::store(data, id, secret).map_err(token_err)?;
            svc.execute(actor, cmd, chrono::Utc::now()).map_err(crate::domain_cmds::service_err)?;
            Ok(())
        })
    };
    match action {
        TokenAction::Create { user, name, expires, actor } => {
            let (id, secret) = tokens::generate().map_err(token_err)?;
            issue(&actor, &Cmd::IssueToken { token_id: id.clone(), user: user.clone(), name, expires_at: expires }, &id, &secret)?;
            print_secret(out, json, &id, &user, &secret)
        }
        TokenAction::Rotate { id: old, expires, actor } => {
            let actor = need(actor)?;
            let (id, secret) = tokens::generate().map_err(token_err)?;
            let expires_at = Some(expires.unwrap_or_else(|| relic_domain::timing::ts(chrono::Utc::now() + chrono::Duration::days(7))));
            issue(&actor, &Cmd::RotateToken { token_id: old, new_token_id: id.clone(), expires_at }, &id, &secret)?;
            let ledger = Ledger::open_read_only(data)?;
            let snap = relic_projector::views::snapshot_stored(data, &ledger, relic_projector::views::AsOf::Now)
                .map_err(|e| CliError::Domain(e.to_string()))?;
            let user = snap.state.tokens.get(&id).map(|t| t.user.clone()).unwrap_or_default();
            print_secret(out, json, &id, &user, &secret)
        }
        TokenAction::List => {
            let ledger = Ledger::open_read_only(data)?;
            let snap = relic_projector::views::snapshot_stored(data, &ledger, relic_projector::views::AsOf::Now)
                .map_err(|e| CliError::Domain(e.to_string()))?;
            for (id, t) in &snap.state.tokens {
                let v = json!({"id": id, "user": t.user, "name": t.name, "issued_at": t.issued_at, "expires_at": t.expires_at, "revoked_at": t.revoked_at});
                print_token(out, json, &v)?;
            }
            Ok(())
        }
        TokenAction::Revoke { id, actor } => {
            let actor = need(actor)?;
            crate::session::with_service(data, |svc| {
                svc.execute(&actor, &Cmd::RevokeToken { token_id: id.clone() }, chrono::Utc::now()).map_err(crate::domain_cmds::service_err)
            })?;
            print_revoked(out, json, &id)
        }
    }
}

/// The server `relic token` acts through, if any: `--server` with the user's token, or the server
/// that owns `data`, with its operator secret and `--actor`.
fn token_server(data: &Path, action: &TokenAction) -> Result<Option<crate::remote::Remote>> {
    if let Some(r) = crate::remote::current() {
        return Ok(Some(r));
    }
    let Some(url) = relic_server::serving_url(data) else { return Ok(None) };
    let path = relic_server::operator_file(data);
    let secret = std::fs::read_to_string(&path).map_err(|e| {
        CliError::Invalid(format!("{} is owned by `relic serve` at {url}, and its operator secret {} cannot be read ({e}): run this as the user who runs the server", data.display(), path.display()))
    })?;
    let actor = match action {
        TokenAction::Create { actor, .. } => Some(actor.clone()),
        TokenAction::Revoke { actor, .. } | TokenAction::Rotate { actor, .. } => actor.clone(),
        TokenAction::List => None,
    };
    Ok(Some(crate::remote::Remote { url, token: secret.trim().to_string(), actor }))
}

/// `relic token` through a server's `/personal_access_tokens` endpoints.
fn token_remote(r: &crate::remote::Remote, action: TokenAction, json: bool, out: &mut dyn Write) -> Result<()> {
    use crate::remote::{enc, send};
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    match action {
        TokenAction::Create { user, name, expires, .. } => {
            let v = send(r, "POST", &format!("/users/{}/personal_access_tokens", enc(&user)), Some(&json!({"name": name, "scopes": ["api"], "expires_at": expires})))?;
            print_secret(out, json, &field(&v, "id"), &field(&v, "username"), &field(&v, "token"))
        }
        TokenAction::Rotate { id, expires, .. } => {
            let body = expires.map(|e| json!({ "expires_at": e }));
            let v = send(r, "POST", &format!("/personal_access_tokens/{}/rotate", enc(&id)), body.as_ref())?;
            print_secret(out, json, &field(&v, "id"), &field(&v, "username"), &field(&v, "token"))
        }
        TokenAction::List => {
            for page in 1.. {
                let v = send(r, "GET", &format!("/personal_access_tokens?per_page=100&page={page}"), None)?;
                let items = v.as_array().cloned().unwrap_or_default();
                for t in &items {
                    let v = json!({"id": t["id"], "user": t["username"], "name": t["name"], "issued_at": t["created_at"], "expires_at": t["expires_at"], "revoked_at": t["revoked_at"]});
                    print_token(out, json, &v)?;
                }
                if items.len() < 100 {
                    break;
                }
            }
            Ok(())
        }
        TokenAction::Revoke { id, .. } => {
            send(r, "DELETE", &format!("/personal_access_tokens/{}", enc(&id)), None)?;
            print_revoked(out, json, &id)
        }
    }
}

/// A new token: its secret alone (for `$(relic token create …)`), or JSON.
fn print_secret(out: &mut dyn Write, json: bool, id: &str, user: &str, secret: &str) -> Result<()> {
    if json {
        print_json(out, &json!({"id": id, "user": user, "token": secret}))
    } else {
        writeln!(out, "{secret}").map_err(out_err)
    }
}

/// One line of `relic token list` (`v`: id, user, name, issued_at, expires_at, revoked_at).
fn print_token(out: &mut dyn Write, json: bool, v: &serde_json::Value) -> Result<()> {
    if json {
        return print_json(out, v);
    }
    let s = |k: &str| v[k].as_str().map(str::to_string);
    let state = match (s("revoked_at"), s("expires_at")) {
        (Some(r), _) => format!("revoked {r}"),
        (None, Some(e)) => format!("expires {e}"),
        (None, None) => "no expiry".into(),
    };
    let name = s("name").map(|n| format!("  {n:?}")).unwrap_or_default();
    writeln!(out, "{}  {:<20} issued {}  {state}{name}", s("id").unwrap_or_default(), s("user").unwrap_or_default(), s("issued_at").unwrap_or_default()).map_err(out_err)
}

fn print_revoked(out: &mut dyn Write, json: bool, id: &str) -> Result<()> {
    if json {
        print_json(out, &json!({"id": id, "revoked": true}))
    } else {
        writeln!(out, "revoked {id}").map_err(out_err)
    }
}

/// Reads a payload from a file or standard input, refusing more than the record limit.
pub fn read_payload(src: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let limit = MAX_PAYLOAD as u64 + 1;
    if src == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf).map_err(io_err(Path::new("<stdin>")))?;
    } else {
        let p = Path::new(src);
        std::fs::File::open(p).and_then(|f| f.take(limit).read_to_end(&mut buf)).map_err(io_err(p))?;
    }
    Ok(buf)
}

/// `relic append`: one record of a kind without rules, through the domain's gate (role from
/// membership, kind and payload checked by the policy); kinds with rules are refused by name.
fn append(data: &Path, kind: &str, subject: &str, payload: &str, actor: &str, json: bool, out: &mut dyn Write) -> Result<()> {
    relic_ledger::paths::check_input(data, "--payload", Path::new(payload))?;
    let payload = read_payload(payload)?;
    let r = crate::session::with_service(data, |svc| svc.record(actor, kind, subject, payload).map_err(crate::domain_cmds::service_err))?;
    if json {
        writeln!(out, "{}", json!({"seq": r.seq, "time_us": r.time_us})).map_err(out_err)
    } else {
        writeln!(out, "{}", r.seq).map_err(out_err)
    }
}

/// The JSON form of a record, as `relic log --json` and `relic record` print it.
pub fn record_json(r: &Record) -> serde_json::Value {
    json!({
        "seq": r.seq,
        "time": r.time_rfc3339(),
        "actor": {"id": r.actor.id, "role": r.actor.role},
        "kind": r.kind,
        "subject": r.subject,
        "schema_version": r.schema_version,
        "payload": r.payload_json(),
        "prev": relic_ledger::hex::encode(&r.prev),
        "key_id": key_id_hex(&r.key_id),
        "signature": B64.encode(r.signature),
    })
}


fn log(data: &Path, from: u64, limit: Option<u64>, json: bool, out: &mut dyn Write) -> Result<()> {
    let l = Ledger::open_read_only(data)?;
    for item in l.records(from).take(limit.unwrap_or(u64::MAX) as usize) {
        let (seq, bytes) = item?;
        let r = Record::decode(&bytes).map_err(|e| relic_ledger::Error::Corrupt(format!("record {seq}: {e}")))?;
        if json {
            writeln!(out, "{}", record_json(&r)).map_err(out_err)?;
        } else {
            writeln!(out, "{:>6}  {}  {:<24} {:<22} {}", r.seq, r.time_rfc3339(), format!("{} ({})", r.actor.id, r.actor.role), r.kind, r.subject)
                .map_err(out_err)?;
        }
    }
    Ok(())
}

fn record(data: &Path, seq: u64, raw: bool, out: &mut dyn Write) -> Result<()> {
    let l = Ledger::open_read_only(data)?;
    if raw {
        out.write_all(&l.record_bytes(seq)?).map_err(out_err)
    } else {
        let r = l.record(seq)?;
        let text = serde_json::to_string_pretty(&record_json(&r)).map_err(|e| CliError::Invalid(e.to_string()))?;
        writeln!(out, "{text}").map_err(out_err)
    }
}

/// A progress bar on standard error when it is a terminal (hidden otherwise: logs stay clean).
pub(crate) fn progress_bar(template: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    b
}

fn verify_log(data: &Path, trusted: Option<&Path>, strict: bool, keys: &[String], json: bool, out: &mut dyn Write) -> Result<()> {
    let pinned = parse_keys(keys)?;
    let trusted_text = match trusted {
        Some(p) => Some(std::fs::read_to_string(p).map_err(io_err(p))?),
        None => None,
    };
    let bar = progress_bar("verifying {bar:40} {pos}/{len} records ({per_sec}, {eta})");
    let result = verify::verify_dir(data, &verify::Options { trusted: trusted_text.as_deref(), strict, pinned: &pinned, resume: None }, &mut |n, total| {
        bar.set_length(total.max(n));
        bar.set_position(n);
    })?;
    bar.finish_and_clear();
    let report = result?;
    if json {
        let v = json!({
            "ok": true,
            "origin": report.origin,
            "size": report.size,
            "root": B64.encode(report.root),
            "checkpoints": report.checkpoints,
            "keys": report.keys.iter().map(|k| json!({"key": k.key.to_string(), "from_seq": k.from_seq})).collect::<Vec<_>>(),
            "trusted_size": report.trusted.as_ref().map(|c| c.size),
        });
        writeln!(out, "{v}").map_err(out_err)?;
    } else {
        writeln!(
            out,
            "ok: {} records, {} checkpoints, {} signing key(s); tree head {} at size {}",
            report.size,
            report.checkpoints,
            report.keys.len(),
            B64.encode(report.root),
            report.size
        )
        .map_err(out_err)?;
        if let Some(c) = report.trusted {
            writeln!(out, "ok: the trusted checkpoint at size {} is a prefix of this log", c.size).map_err(out_err)?;
        }
    }
    Ok(())
}

/// A key given on the command line as its text or as a file holding it: the text, trimmed.
pub(crate) fn key_text(k: &str) -> Result<String> {
    let text = if Path::new(k).is_file() { std::fs::read_to_string(k).map_err(io_err(Path::new(k)))? } else { k.to_string() };
    Ok(text.trim().to_string())
}

/// Reads verifier keys given as text or as files holding them.
pub(crate) fn parse_keys(keys: &[String]) -> Result<Vec<VerifierKey>> {
    keys.iter()
        .map(|k| VerifierKey::parse(&key_text(k)?).map_err(|e| CliError::Invalid(format!("--key {k}: {e}"))))
        .collect()
}

fn read_text(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(io_err(p))
}

fn verify_proof(keys: &[String], proof: &Path, record: &Path, policy: &crate::args::WitnessPolicy, json: bool, out: &mut dyn Write) -> Result<()> {
    let keys = parse_keys(keys)?;
    let bundle = InclusionBundle::parse(&read_text(proof)?)?;
    let bytes = std::fs::read(record).map_err(io_err(record))?;
    let c = bundle.verify(&bytes, &keys)?;
    crate::witness_cmds::require_quorum(&bundle.checkpoint, policy)?;
    if json {
        return print_json(out, &json!({"ok": true, "index": bundle.index, "origin": c.origin, "size": c.size, "root": B64.encode(c.root)}));
    }
    writeln!(out, "ok: record {} is in {} at tree size {}", bundle.index, c.origin, c.size).map_err(out_err)
}

fn verify_consistency(keys: &[String], old: &Path, new: &Path, proof: &Path, policy: &crate::args::WitnessPolicy, json: bool, out: &mut dyn Write) -> Result<()> {
    let keys = parse_keys(keys)?;
    let text = read_text(proof)?;
    let hashes = checkpoint::parse_hash_lines(text.split('\n'))
        .map_err(|e| CliError::Invalid(format!("{}: {e}", proof.display())))?;
    let new_text = read_text(new)?;
    let (o, n) = checkpoint::verify_consistency_offline(&read_text(old)?, &new_text, &hashes, &keys)?;
    crate::witness_cmds::require_quorum(&new_text, policy)?;
    if json {
        return print_json(out, &json!({"ok": true, "origin": n.origin, "old": o.size, "new": n.size}));
    }
    writeln!(out, "ok: {} at size {} is a prefix of size {}", n.origin, o.size, n.size).map_err(out_err)
}
