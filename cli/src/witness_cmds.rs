//! `relic witness` (a C2SP tlog-witness, `relic_server::witness`), `relic cosign` (the log asks a
//! witness to cosign its latest checkpoint) and the witness policy of the offline verifiers
//! (`--witness KEY --quorum K`).

use std::io::Write;
use std::path::Path;

use relic_ledger::cosignature::{self, CosignerKey};

use crate::args::{WitnessAction, WitnessPolicy};
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
        WitnessAction::Serve { dir, listen } => {
            let mut announce = |addr: std::net::SocketAddr| {
                let _ = writeln!(out, "relic witness: http://{addr} ({})", dir.display());
                let _ = out.flush();
            };
            relic_server::witness::serve(&dir, &listen, &mut announce).map_err(fail)
        }
    }
}

/// One add-checkpoint request; the status and body of the answer.
fn add_checkpoint(url: &str, body: &str) -> Result<(u16, String)> {
    let url = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let resp = agent.post(&url).content_type("text/plain").send(body).map_err(|e| CliError::Domain(format!("POST {url}: {e}")))?;
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().map_err(|e| CliError::Domain(format!("POST {url}: {e}")))?;
    Ok((status, text))
}

/// `relic cosign --witness URL`: the latest checkpoint, cosigned. A first request from size 0
/// learns the size the witness last cosigned (409, `text/x.tlog.size`); the second carries the
/// consistency proof from there.
pub fn cosign(data: &Path, witness: &str, out: &mut dyn Write) -> Result<()> {
    let cp = crate::relay_cmds::checkpoint(data, None)?;
    let mut old = 0u64;
    for _ in 0..2 {
        let proof: String = if old == 0 {
            String::new()
        } else {
            let ledger = relic_ledger::Ledger::open_read_only(data)?;
            use base64::Engine as _;
            ledger.prove_consistency(old, cp.checkpoint.size)?.iter().map(|h| format!("{}\n", base64::engine::general_purpose::STANDARD.encode(h))).collect()
        };
        let (status, body) = add_checkpoint(witness, &format!("old {old}\n{proof}\n{}", cp.note))?;
        match status {
            200 => return out.write_all(format!("{}{body}", cp.note).as_bytes()).map_err(out_err),
            409 if old == 0 => match body.trim().parse::<u64>() {
                Ok(size) if size <= cp.checkpoint.size && size != old => old = size,
                _ => return Err(refused(status, &body)),
            },
            _ => return Err(refused(status, &body)),
        }
    }
    Err(CliError::Domain(format!("the witness at {witness} did not cosign after learning its size")))
}

fn refused(status: u16, body: &str) -> CliError {
    CliError::Domain(format!("the witness refused the checkpoint ({status}): {}", body.trim()))
}

/// Refuses a checkpoint note that does not carry valid cosignatures from `quorum` (default: all)
/// of the given witnesses.
pub fn require_quorum(note: &str, policy: &WitnessPolicy) -> Result<()> {
    if policy.witness.is_empty() {
        return match policy.quorum {
            Some(q) if q > 0 => Err(CliError::Usage("--quorum needs --witness keys".into())),
            _ => Ok(()),
        };
    }
    let keys = policy
        .witness
        .iter()
        .map(|k| CosignerKey::parse(&crate::commands::key_text(k)?).map_err(|e| CliError::Usage(format!("--witness {k}: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let quorum = policy.quorum.unwrap_or(keys.len());
    if quorum > keys.len() {
        return Err(CliError::Usage(format!("--quorum {quorum} is more than the {} witnesses given", keys.len())));
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
