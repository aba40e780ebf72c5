//! `relic witness` (a C2SP tlog-witness, `relic_server::witness`), `relic witnesses` (the log's
//! witness policy, `relic_ledger::witnesses`), `relic cosign` (the log asks one witness to cosign
//! its latest checkpoint) and the witness policy of the offline verifiers (`--witness KEY
//! --quorum K`).

use std::io::Write;
use std::path::Path;

use relic_ledger::cosignature::{self, CosignerKey};
use relic_ledger::witnesses::{self, Policy};
use relic_server::witness::Http;

use crate::args::{WitnessAction, WitnessPolicy, WitnessesAction};
use crate::{CliError, Result};

fn out_err(source: std::io::Error) -> CliError {
    CliError::Io { path: "<stdout>".into(), source }
}

pub fn witness(action: WitnessAction, out: &mut dyn Write) -> Result<()> {
    let fail = |e: relic_server::witness::WitnessError| CliError::Domain(e.to_string());
    match action {
        WitnessAction::Init { dir, name } => {
            let k = relic_server::witness::init(&dir, &name).map_err(fail)?;
            writeln!(out, "{k}").map_err(out_err)
        }
        WitnessAction::Trust { dir, key } => {
            let k = relic_server::witness::trust(&dir, &crate::commands::key_text(&key)?).map_err(fail)?;
            writeln!(out, "trusting {k}").map_err(out_err)
        }
        WitnessAction::Serve { dir, listen, mirror, mirror_wait } => {
            let mirror = mirror.map(|m| (m, std::time::Duration::from_secs(mirror_wait)));
            let mut announce = |addr: std::net::SocketAddr| {
                let _ = writeln!(out, "relic witness: http://{addr} ({})", dir.display());
                let _ = out.flush();
            };
            relic_server::witness::serve(&dir, &listen, mirror, &mut announce).map_err(fail)
        }
    }
}

/// `relic cosign --witness URL`: the latest checkpoint, cosigned by that one witness (whatever
/// the policy says). A first request from size 0 learns the size the witness last cosigned (409,
/// `text/x.tlog.size`); the second carries the consistency proof from there.
pub fn cosign(data: &Path, witness: &str, out: &mut dyn Write) -> Result<()> {
    let (ledger, size) = crate::relay_cmds::open_for_checkpoint(data, None)?;
    let cp = ledger.checkpoint(size)?;
    let lines = witnesses::ask(&ledger, &Http::default(), witness, &cp.note, cp.checkpoint.size, 0)
        .map_err(|why| CliError::Domain(format!("the witness refused the checkpoint ({why})")))?;
    out.write_all(format!("{}{lines}", cp.note).as_bytes()).map_err(out_err)
}

/// `relic witnesses [add|remove|quorum|list]`: the data directory's witness policy.
pub fn witnesses(data: &Path, action: Option<WitnessesAction>, json: bool, out: &mut dyn Write) -> Result<()> {
    // The policy belongs to a log: refuse a directory that holds none.
    relic_ledger::Ledger::open_read_only(data)?;
    let mut policy = Policy::load(data)?.unwrap_or(Policy { witnesses: Vec::new(), quorum: 0 });
    let changed = match action.unwrap_or(WitnessesAction::List) {
        WitnessesAction::List => false,
        WitnessesAction::Add { url, key } => {
            let key = CosignerKey::parse(&crate::commands::key_text(&key)?).map_err(|e| CliError::Invalid(format!("--key: {e}")))?;
            if policy.witnesses.iter().any(|w| w.key.name == key.name) {
                return Err(CliError::Domain(format!("witness {} is already in the policy", key.name)));
            }
            policy.witnesses.push(witnesses::Witness { key, url: url.trim_end_matches('/').to_string() });
            policy.quorum = policy.quorum.max(1);
            true
        }
        WitnessesAction::Remove { name } => {
            let before = policy.witnesses.len();
            policy.witnesses.retain(|w| w.key.name != name);
            if policy.witnesses.len() == before {
                return Err(CliError::Domain(format!("witness {name} is not in the policy")));
            }
            policy.quorum = policy.quorum.min(policy.witnesses.len());
            true
        }
        WitnessesAction::Quorum { k } => {
            if k > policy.witnesses.len() {
                return Err(CliError::Domain(format!("quorum {k} is more than the {} witnesses in the policy", policy.witnesses.len())));
            }
            policy.quorum = k;
            true
        }
    };
    if changed {
        // Checked as it will be read back.
        Policy::parse(&policy.to_text()).map_err(CliError::Domain)?;
        policy.save(data)?;
    }
    if json {
        let ws: Vec<_> = policy.witnesses.iter().map(|w| serde_json::json!({"name": w.key.name, "key": w.key.to_string(), "url": w.url})).collect();
        writeln!(out, "{}", serde_json::json!({"witnesses": ws, "quorum": policy.quorum})).map_err(out_err)
    } else {
        out.write_all(policy.to_text().as_bytes()).map_err(out_err)
    }
}

/// Refuses a checkpoint note that does not carry valid cosignatures from `quorum` (default: all)
/// of the given witnesses.
pub fn require_quorum(note: &str, policy: &WitnessPolicy) -> Result<()> {
    if policy.witness.is_empty() {
        return match policy.quorum {
            Some(q) if q > 0 => Err(CliError::Arguments("--quorum needs --witness keys".into())),
            _ => Ok(()),
        };
    }
    let keys = policy
        .witness
        .iter()
        .map(|k| CosignerKey::parse(&crate::commands::key_text(k)?).map_err(|e| CliError::Invalid(format!("--witness {k}: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let quorum = policy.quorum.unwrap_or(keys.len());
    if quorum > keys.len() {
        return Err(CliError::Arguments(format!("--quorum {quorum} is more than the {} witnesses given", keys.len())));
    }
    let cosigned = cosignature::verify(note, &keys).map_err(|e| CliError::Domain(format!("the checkpoint's cosignatures: {e}")))?;
    if cosigned.len() < quorum {
        return Err(CliError::Domain(format!(
            "the checkpoint carries {} valid cosignature(s) of the {quorum} required from the given witnesses: not accepted (a witness that saw a fork would not cosign it)",
            cosigned.len()
        )));
    }
    Ok(())
}
