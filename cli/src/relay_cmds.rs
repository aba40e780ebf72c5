//! The Kafka commands — `publish`, `mirror`, `subscribe` — and the checkpoint lookup that knows a
//! mirror can only serve the checkpoints its origin published.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use relic_ledger::checkpoint::InclusionBundle;
use relic_ledger::note::VerifierKey;
use relic_ledger::{mirror, Ledger, SignedCheckpoint};
use relic_relay::{mirror as relay_mirror, publish as relay_publish, subscribe as relay_subscribe, Config};
use serde_json::json;

use crate::relay_args::{KafkaArgs, MirrorArgs, PublishArgs, SubscribeArgs};
use crate::{CliError, Result};

impl From<relic_relay::Error> for CliError {
    fn from(e: relic_relay::Error) -> Self {
        match e {
            relic_relay::Error::Ledger(l) => CliError::Ledger(l),
            other => CliError::Domain(other.to_string()),
        }
    }
}

fn out_err(source: std::io::Error) -> CliError {
    CliError::Io { path: "<stdout>".into(), source }
}

fn config(k: KafkaArgs) -> Result<Config> {
    let mut options = Vec::new();
    for o in k.options {
        let (key, value) = o.split_once('=').ok_or_else(|| CliError::Invalid(format!("-X {o}: expected KEY=VALUE")))?;
        options.push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(Config { brokers: k.brokers, topic: k.topic, checkpoint_topic: k.checkpoint_topic, evidence_topic: k.evidence_topic, options })
}

/// A verifier key given as text or as a file holding it.
fn pinned_key(k: Option<String>) -> Result<Option<VerifierKey>> {
    let Some(k) = k else { return Ok(None) };
    VerifierKey::parse(&crate::commands::key_text(&k)?).map(Some).map_err(|e| CliError::Invalid(format!("--key {k}: {e}")))
}

pub fn publish(data: &Path, a: PublishArgs, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    if mirror::is_mirror(Ledger::open_read_only(data)?.store())? {
        return Err(CliError::Invalid("this is a mirror: only its origin publishes its log".into()));
    }
    let retry_for = match a.retry_for {
        Some(0) => None,
        Some(s) => Some(Duration::from_secs(s)),
        None if a.follow => None,
        None => Some(Duration::from_secs(300)),
    };
    let opts = relay_publish::PublishOptions {
        witnesses: Some(std::sync::Arc::new(relic_server::witness::Http::default())),
        follow: a.follow,
        batch: usize::try_from(a.batch).unwrap_or(usize::MAX),
        interval: Duration::from_millis(a.interval_ms),
        retry_for,
    };
    let cfg = config(a.kafka)?;
    let summary = relay_publish::publish(data, &cfg, &opts, &mut |p| {
        use relay_publish::Progress as P;
        let line = match p {
            P::Synced { size, cursor, start } => {
                format!("relic: the log holds {size} records, {cursor} published by the cursor; publishing from record {start}")
            }
            P::Published { from, to } => format!("relic: published records {from}..{}", to - 1),
            P::Checkpoint { size } => format!("relic: published the checkpoint at size {size}"),
            P::Retrying { error, wait } => format!("relic: {error}; retrying in {} ms", wait.as_millis()),
            P::Notice(n) => format!("relic: {n}"),
        };
        let _ = writeln!(err, "{line}");
        let _ = err.flush();
    })?;
    if json {
        writeln!(out, "{}", json!({"sent": summary.sent, "cursor": summary.cursor, "checkpoint": summary.checkpoint})).map_err(out_err)
    } else {
        writeln!(out, "published {} records; cursor at {}", summary.sent, summary.cursor).map_err(out_err)
    }
}

pub fn mirror(data: &Path, a: MirrorArgs, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let opts = relay_mirror::MirrorOptions { follow: a.follow, pinned: pinned_key(a.key)?, ..Default::default() };
    let cfg = config(a.kafka)?;
    let mut waiting = false;
    let follow = a.follow;
    let s = relay_mirror::mirror(data, &cfg, &opts, &mut |p| {
        use relay_mirror::Progress as P;
        let line = match p {
            P::Applied { size, .. } if follow => Some(format!("relic: mirrored records up to {}", size.saturating_sub(1))),
            P::Applied { .. } => None,
            P::Checkpoint { size } => Some(format!("relic: verified the checkpoint at size {size}")),
            P::Waiting(e) if !waiting => {
                waiting = true;
                Some(format!("relic: waiting for the broker: {e}"))
            }
            P::Waiting(_) => None,
        };
        if let Some(line) = line {
            let _ = writeln!(err, "{line}");
        }
    })?;
    let root = B64.encode(s.root);
    if json {
        let v = json!({
            "origin": s.origin, "size": s.size, "root": root, "applied": s.applied, "duplicates": s.duplicates,
            "checkpoint": s.checkpoint, "pending_checkpoints": s.pending_checkpoints, "files": s.files,
        });
        return writeln!(out, "{v}").map_err(out_err);
    }
    let origin = s.origin.as_deref().unwrap_or("(nothing published yet)");
    writeln!(out, "mirror of {origin}: {} records ({} new, {} re-sends dropped); tree head {root}", s.size, s.applied, s.duplicates)
        .map_err(out_err)?;
    if s.files > 0 {
        writeln!(out, "{} evidence documents and artifacts stored", s.files).map_err(out_err)?;
    }
    match s.checkpoint {
        Some(c) if c == s.size => writeln!(out, "verified against the origin's checkpoint at size {c}"),
        Some(c) => writeln!(out, "latest verified checkpoint at size {c}; records after it are verified by signature and link"),
        None => writeln!(out, "no checkpoint verified yet; records are verified by signature and link"),
    }
    .map_err(out_err)
}

pub fn subscribe(a: SubscribeArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let opts = relay_subscribe::SubscribeOptions { follow: !a.once, position: a.position_file, pinned: pinned_key(a.key)? };
    let filter = relay_subscribe::Filter { kinds: a.kind, project: a.project, from: a.from };
    let cfg = config(a.kafka)?;
    let s = relay_subscribe::subscribe(&cfg, &opts, &filter, &mut |r, payload| {
        let mut j = crate::commands::record_json(r);
        if let Some(p) = payload {
            // The texts kept beside the log, put back: the payload reads as it was written.
            j["payload"] = p.clone();
        }
        writeln!(out, "{j}")?;
        out.flush()
    })?;
    let _ = writeln!(err, "relic: verified {} records, delivered {} events; position {}", s.verified, s.delivered, s.position);
    Ok(())
}

/// The checkpoint at `size` (default: the latest), as relic publishes it. An origin issues it if
/// needed, and with a witness policy gives it out only cosigned by its quorum (each witness that
/// did not cosign is reported on `err`); a mirror holds no key and serves only the checkpoints its
/// origin published (default: the latest of those).
pub fn checkpoint(data: &Path, size: Option<u64>, err: &mut dyn Write) -> Result<SignedCheckpoint> {
    let (l, size) = open_for_checkpoint(data, size)?;
    published(&l, size, err)
}

/// A tlog-proof for record `seq`, against the checkpoint [`checkpoint`] would return.
pub fn prove_inclusion(data: &Path, seq: u64, size: Option<u64>, err: &mut dyn Write) -> Result<InclusionBundle> {
    let (l, size) = open_for_checkpoint(data, size)?;
    prove_published(&l, seq, size, err)
}

/// [`prove_inclusion`] with a ledger opened by [`open_for_checkpoint`].
pub fn prove_published(l: &Ledger, seq: u64, size: Option<u64>, err: &mut dyn Write) -> Result<InclusionBundle> {
    let mut bundle = l.prove_inclusion(seq, size)?;
    bundle.checkpoint = published(l, Some(size.unwrap_or_else(|| l.size())), err)?.note;
    Ok(bundle)
}

fn published(l: &Ledger, size: Option<u64>, err: &mut dyn Write) -> Result<SignedCheckpoint> {
    let signed = l.checkpoint(size)?;
    let w = relic_ledger::witnesses::publishable(l, &relic_server::witness::Http::default(), signed.checkpoint.size)?;
    for (name, why) in &w.refusals {
        let _ = writeln!(err, "relic: witness {name} did not cosign the checkpoint at size {}: {why}", w.size);
    }
    Ok(SignedCheckpoint { checkpoint: signed.checkpoint, note: w.note })
}

/// The ledger in `data`, opened to issue checkpoints, with the size to ask for
/// ([`mirror::open_for_checkpoint`] decides what a mirror may serve).
pub fn open_for_checkpoint(data: &Path, size: Option<u64>) -> Result<(Ledger, Option<u64>)> {
    Ok(mirror::open_for_checkpoint(data, size)?)
}
