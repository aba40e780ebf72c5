//! The log's side of C2SP tlog-witness (<https://c2sp.org/tlog-witness>): which witnesses must
//! cosign a data directory's checkpoints (its witness policy: K of N), asking each of them to
//! cosign a new checkpoint (§add-checkpoint, with the consistency proof from the size it last
//! cosigned), and keeping every checkpoint the policy accepted. With a policy, nothing relic
//! publishes as a checkpoint (`relic checkpoint`, `/tlog/checkpoint`, the Kafka checkpoint topic)
//! lacks its quorum: a log that forked cannot get both of its histories cosigned by honest
//! witnesses, so at most one of them is ever published.
//!
//! Files beside the log (`schemas/checkpoint-v1.md` §Witness policy):
//! - `<data>/witnesses`: the policy, `witness <cosigner key> <url>` lines and one `quorum <K>`
//!   line (`relic witnesses add|remove|quorum`);
//! - `<data>/cosigned/<size>`: each checkpoint note that carried K valid cosignatures, written
//!   durably before it is given out.
//!
//! What this is not: HTTP (the caller passes a [`Transport`]; relic's is
//! `relic_server::witness::Http`), the witness itself (`relic_server::witness`), or a verifier's
//! quorum check (`cosignature::verify`).

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::cosignature::{self, CosignerKey};
use crate::error::{Error, Result};
use crate::Ledger;

/// One witness: its cosigner key and the URL prefix of its `/add-checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    pub key: CosignerKey,
    pub url: String,
}

/// A data directory's witness policy: a checkpoint is published only with valid cosignatures
/// from `quorum` of `witnesses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub witnesses: Vec<Witness>,
    pub quorum: usize,
}

fn policy_path(data: &Path) -> PathBuf {
    data.join("witnesses")
}

fn cosigned_dir(data: &Path) -> PathBuf {
    data.join("cosigned")
}

fn invalid(data: &Path, why: impl std::fmt::Display) -> Error {
    Error::WitnessPolicy(format!("{}: {why}", policy_path(data).display()))
}

impl Policy {
    /// Reads the policy text: `witness <key> <url>` and `quorum <K>` lines; `#` comments and
    /// empty lines are skipped. Without a `quorum` line every witness must cosign.
    pub fn parse(text: &str) -> std::result::Result<Policy, String> {
        let mut witnesses: Vec<Witness> = Vec::new();
        let mut quorum = None;
        for (i, line) in text.lines().enumerate() {
            let at = |why: String| format!("line {}: {why}", i + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["witness", key, url] => {
                    let key = CosignerKey::parse(key).map_err(|e| at(format!("the witness key: {e}")))?;
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(at(format!("{url:?} is not an http(s) URL")));
                    }
                    if witnesses.iter().any(|w| w.key.name == key.name) {
                        return Err(at(format!("witness {} is listed twice", key.name)));
                    }
                    witnesses.push(Witness { key, url: url.trim_end_matches('/').to_string() });
                }
                ["quorum", k] if quorum.is_none() => {
                    quorum = Some(k.parse::<usize>().map_err(|_| at(format!("quorum {k:?} is not a number")))?);
                }
                _ => return Err(at("expected `witness <key> <url>` or one `quorum <K>`".into())),
            }
        }
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            return Err(format!("quorum {quorum} is more than the {} witnesses listed", witnesses.len()));
        }
        Ok(Policy { witnesses, quorum })
    }

    /// The policy text [`Policy::parse`] reads back.
    pub fn to_text(&self) -> String {
        let mut s = String::from("# relic witness policy (schemas/checkpoint-v1.md §Witness policy)\n");
        for w in &self.witnesses {
            s.push_str(&format!("witness {} {}\n", w.key, w.url));
        }
        s.push_str(&format!("quorum {}\n", self.quorum));
        s
    }

    /// The policy of data directory `data`; `None` if it has none (or one of no witnesses and
    /// quorum 0: every checkpoint is published as signed).
    pub fn load(data: &Path) -> Result<Option<Policy>> {
        let p = policy_path(data);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path: p, source }),
        };
        let policy = Policy::parse(&text).map_err(|e| invalid(data, e))?;
        Ok((policy.quorum > 0).then_some(policy))
    }

    /// Replaces the policy of `data`, durably.
    pub fn save(&self, data: &Path) -> Result<()> {
        Ok(relic_store::fs::write_durably(&policy_path(data), self.to_text().as_bytes(), None)?)
    }

    fn keys(&self) -> Vec<CosignerKey> {
        self.witnesses.iter().map(|w| w.key.clone()).collect()
    }

    /// The witnesses whose valid cosignatures `note` carries; an error if one of theirs is bad.
    pub fn cosigners(&self, note: &str) -> std::result::Result<Vec<cosignature::Cosigned>, cosignature::CosignatureError> {
        cosignature::verify(note, &self.keys())
    }

    /// Whether `note` carries valid cosignatures from a quorum of the witnesses.
    pub fn accepts(&self, note: &str) -> bool {
        self.cosigners(note).is_ok_and(|c| c.len() >= self.quorum)
    }
}

/// How add-checkpoint requests reach a witness: `POST <url>/add-checkpoint` with `body`, giving
/// the response's status and body, or why there was none.
pub trait Transport: Send + Sync + std::fmt::Debug {
    fn add_checkpoint(&self, url: &str, body: &str) -> std::result::Result<(u16, String), String>;
}

/// Asks the witness at `url` to cosign checkpoint `note` of tree size `size`; `hint` is the size it
/// is believed to have cosigned last (0 if unknown). A 409 naming another size is answered once
/// more with the proof from that size. Returns the witness's cosignature lines, or why it gave none.
pub fn ask(ledger: &Ledger, transport: &dyn Transport, url: &str, note: &str, size: u64, hint: u64) -> std::result::Result<String, String> {
    let mut old = if hint <= size { hint } else { 0 };
    for attempt in 0..2 {
        let proof = if old == 0 {
            String::new()
        } else {
            let hashes = ledger.prove_consistency(old, size).map_err(|e| format!("cannot prove consistency from size {old}: {e}"))?;
            hashes.iter().map(|h| format!("{}\n", base64::engine::general_purpose::STANDARD.encode(h))).collect()
        };
        let (status, body) = transport.add_checkpoint(url, &format!("old {old}\n{proof}\n{note}"))?;
        match status {
            200 => return Ok(body),
            409 if attempt == 0 => match body.trim().parse::<u64>() {
                Ok(known) if known == old => return Err(format!("409: {}", body.trim())),
                Ok(known) if known > size => return Err(format!("it has already cosigned size {known}, beyond this checkpoint's {size}")),
                Ok(known) => old = known,
                Err(_) => return Err(format!("409: {}", body.trim())),
            },
            _ => return Err(format!("{status}: {}", body.trim())),
        }
    }
    Err("it did not cosign after naming the size it knows".into())
}

/// A checkpoint the policy accepted, and what each witness that did not cosign it said.
#[derive(Debug, Clone)]
pub struct Witnessed {
    pub size: u64,
    /// The log's signed note with the witnesses' cosignature lines after its signature.
    pub note: String,
    /// `(witness name, why)` for each witness that gave no valid cosignature.
    pub refusals: Vec<(String, String)>,
}

/// The checkpoint of tree size `size`, cosigned by a quorum of `policy`'s witnesses: the one
/// kept from before if there is one, else the log's checkpoint sent to every witness at once and
/// kept (durably) if a quorum cosigned it.
///
/// # Errors
/// [`Error::Unwitnessed`] when fewer than the quorum gave a valid cosignature, naming each
/// refusal; nothing is kept then, and the caller must not publish the checkpoint.
pub fn cosign(ledger: &Ledger, policy: &Policy, transport: &dyn Transport, size: u64) -> Result<Witnessed> {
    let data = ledger.dir();
    if let Some(note) = read_cosigned(data, size)? {
        if policy.accepts(&note) {
            return Ok(Witnessed { size, note, refusals: Vec::new() });
        }
    }
    let signed = ledger.checkpoint(Some(size))?;
    let hints = latest_cosigned(data, Some(size))?;
    let answers: Vec<std::result::Result<String, String>> = std::thread::scope(|s| {
        let asks: Vec<_> = policy
            .witnesses
            .iter()
            .map(|w| {
                let hint = hints.as_ref().and_then(|(n, note)| cosignature::verify(note, std::slice::from_ref(&w.key)).ok().filter(|c| !c.is_empty()).map(|_| *n)).unwrap_or(0);
                let note = &signed.note;
                s.spawn(move || ask(ledger, transport, &w.url, note, size, hint))
            })
            .collect();
        asks.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("the request failed".into()))).collect()
    });
    let mut note = signed.note.clone();
    let mut refusals = Vec::new();
    for (w, answer) in policy.witnesses.iter().zip(answers) {
        // Only lines that verify by this witness's key join the note.
        let checked = answer.and_then(|lines| {
            let with = format!("{}{lines}", signed.note);
            match cosignature::verify(&with, std::slice::from_ref(&w.key)) {
                Ok(c) if !c.is_empty() => Ok(lines),
                Ok(_) => Err("its answer holds no cosignature by its key".into()),
                Err(e) => Err(format!("its answer: {e}")),
            }
        });
        match checked {
            Ok(lines) => note.push_str(&lines),
            Err(why) => refusals.push((w.key.name.clone(), why)),
        }
    }
    let got = policy.witnesses.len() - refusals.len();
    if got < policy.quorum {
        return Err(Error::Unwitnessed { size, got, quorum: policy.quorum, refusals: refusals.iter().map(|(n, w)| format!("{n}: {w}")).collect::<Vec<_>>().join("; ") });
    }
    std::fs::create_dir_all(cosigned_dir(data)).map_err(|source| Error::Io { path: cosigned_dir(data), source })?;
    relic_store::fs::write_durably(&cosigned_dir(data).join(size.to_string()), note.as_bytes(), None)?;
    Ok(Witnessed { size, note, refusals })
}

/// The checkpoint of tree size `size` as it may be published: the log's signed note when `data`
/// has no witness policy, else [`cosign`]'s (an error when too few witnesses cosign; the caller
/// must then publish nothing). The single place every publisher asks.
pub fn publishable(ledger: &Ledger, transport: &dyn Transport, size: u64) -> Result<Witnessed> {
    match Policy::load(ledger.dir())? {
        None => Ok(Witnessed { size, note: ledger.checkpoint(Some(size))?.note, refusals: Vec::new() }),
        Some(policy) => cosign(ledger, &policy, transport, size),
    }
}

/// The cosigned checkpoint kept at exactly `size`, if any.
pub fn read_cosigned(data: &Path, size: u64) -> Result<Option<String>> {
    let p = cosigned_dir(data).join(size.to_string());
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path: p, source }),
    }
}

/// The largest cosigned checkpoint kept (of size at most `at_most`), with its size.
pub fn latest_cosigned(data: &Path, at_most: Option<u64>) -> Result<Option<(u64, String)>> {
    let dir = cosigned_dir(data);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Io { path: dir, source }),
    };
    let best = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .filter(|n| at_most.is_none_or(|m| *n <= m))
        .max();
    match best {
        Some(n) => Ok(read_cosigned(data, n)?.map(|t| (n, t))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::Cosigner;

    #[test]
    fn the_policy_text_round_trips_and_names_its_mistakes() {
        let w1 = Cosigner::from_seed("w.example/1", [1; 32]).unwrap();
        let w2 = Cosigner::from_seed("w.example/2", [2; 32]).unwrap();
        let text = format!("# two witnesses\nwitness {} http://127.0.0.1:1/\nwitness {} https://w2.example\nquorum 1\n", w1.public(), w2.public());
        let p = Policy::parse(&text).unwrap();
        assert_eq!((p.witnesses.len(), p.quorum, p.witnesses[0].url.as_str()), (2, 1, "http://127.0.0.1:1"));
        assert_eq!(Policy::parse(&p.to_text()).unwrap(), p);
        // Without a quorum line, all must cosign.
        assert_eq!(Policy::parse(&format!("witness {} http://a\n", w1.public())).unwrap().quorum, 1);
        for (bad, says) in [
            (format!("witness {} http://a\nquorum 2\n", w1.public()), "quorum 2 is more than the 1"),
            (format!("witness {} ftp://a\n", w1.public()), "line 1: \"ftp://a\" is not an http(s) URL"),
            ("witness nonsense http://a\n".to_string(), "line 1: the witness key"),
            (format!("witness {k} http://a\nwitness {k} http://b\n", k = w1.public()), "line 2: witness w.example/1 is listed twice"),
            ("quorum x\n".to_string(), "line 1: quorum \"x\" is not a number"),
            ("log k u\n".to_string(), "line 1: expected"),
        ] {
            let e = Policy::parse(&bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
