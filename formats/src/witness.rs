//! C2SP tlog-witness (<https://c2sp.org/tlog-witness>) §add-checkpoint, the pure part: reading a
//! request and deciding it against the witness's last cosigned checkpoint of that origin.
//!
//! What this is: [`parse_request`] (`old <size>\n`, up to 63 base64 proof lines, an empty line,
//! the checkpoint note) and [`decide`], which applies the section's checks in its order: unknown
//! origin 404; no signature by a trusted key 403; old size above the checkpoint's 400; old size
//! not the last cosigned one 409 (with that size, `text/x.tlog.size`); a proof that does not
//! verify 422 (it must be empty from size 0); the same size with another root 409. Accepted, it
//! returns the state to persist (before answering) and the cosignature line.
//!
//! What this is not: the HTTP server, the persistence of the state (atomic with the check, the
//! specification insists), or the witness's key storage: `relic witness` does those.

use crate::checkpoint::Checkpoint;
use crate::cosignature::Cosigner;
use crate::merkle::{self, Hash};
use crate::note::VerifierKey;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

/// The most consistency proof lines a request may carry.
pub const MAX_PROOF: usize = 63;

/// An add-checkpoint request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The checkpoint note, verbatim (it may carry several signatures).
    pub note: String,
}

/// The witness's refusal: an HTTP status and the response body (for 409 on size, the size line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {body}")]
pub struct Refusal {
    pub status: u16,
    pub body: String,
    /// `text/x.tlog.size` for a 409 that names the witness's size; `text/plain` otherwise.
    pub size_conflict: bool,
}

fn refuse(status: u16, body: impl Into<String>) -> Refusal {
    Refusal { status, body: body.into(), size_conflict: false }
}

/// What the witness knows of one log: the last checkpoint it cosigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    pub size: u64,
    pub root: Hash,
}

/// Reads a request body (§add-checkpoint); 400 if it is not one.
pub fn parse_request(body: &str) -> Result<Request, Refusal> {
    let bad = |why: &str| refuse(400, format!("malformed request: {why}\n"));
    let (head, note) = body.split_once("\n\n").ok_or_else(|| bad("no empty line before the checkpoint"))?;
    let mut lines = head.split('\n');
    let old = lines.next().and_then(|l| l.strip_prefix("old ")).ok_or_else(|| bad("the first line must be `old <size>`"))?;
    if old.is_empty() || (old.len() > 1 && old.starts_with('0')) || !old.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the old size must be decimal without leading zeros"));
    }
    let old_size = old.parse().map_err(|_| bad("the old size is too large"))?;
    let mut proof = Vec::new();
    for l in lines {
        let h: Hash = B64.decode(l).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))?;
        proof.push(h);
    }
    if proof.len() > MAX_PROOF {
        return Err(bad("more than 63 proof lines"));
    }
    Ok(Request { old_size, proof, note: note.to_string() })
}

/// Decides a request against `trusted` (the log keys the witness trusts, by origin through their
/// names) and `latest` (its last cosigned checkpoint of that origin, if any). On success: the new
/// state to persist, atomically with having read `latest`, before answering with the cosignature
/// line (by `cosigner`, at `now` POSIX seconds).
pub fn decide(req: &Request, trusted: &[VerifierKey], latest: Option<Latest>, cosigner: &Cosigner, now: u64) -> Result<(Latest, Checkpoint, String), Refusal> {
    let body_end = req.note.rfind("\n\n").ok_or_else(|| refuse(400, "malformed checkpoint note\n"))?;
    let c = Checkpoint::parse_body(&req.note[..body_end + 1]).map_err(|e| refuse(400, format!("malformed checkpoint: {e}\n")))?;
    let keys: Vec<VerifierKey> = trusted.iter().filter(|k| k.name == c.origin).cloned().collect();
    if keys.is_empty() {
        return Err(refuse(404, format!("unknown log {:?}\n", c.origin)));
    }
    Checkpoint::open(&req.note, &keys).map_err(|e| refuse(403, format!("no valid signature by a trusted key of this log: {e}\n")))?;
    if req.old_size > c.size {
        return Err(refuse(400, "the old size is larger than the checkpoint's\n"));
    }
    let known = latest.map_or(0, |l| l.size);
    if req.old_size != known {
        return Err(Refusal { status: 409, body: format!("{known}\n"), size_conflict: true });
    }
    match latest {
        None | Some(Latest { size: 0, .. }) => {
            if !req.proof.is_empty() {
                return Err(refuse(422, "the proof must be empty from size 0\n"));
            }
        }
        Some(l) if l.size == c.size => {
            if l.root != c.root {
                return Err(refuse(409, "another root at the size already cosigned: the log forked\n"));
            }
        }
        Some(l) => {
            merkle::verify_consistency(l.size, c.size, &l.root, &c.root, &req.proof)
                .map_err(|e| refuse(422, format!("the consistency proof from size {} does not verify: {e}\n", l.size)))?;
        }
    }
    let line = cosigner.sign(&req.note[..body_end + 1], now);
    Ok((Latest { size: c.size, root: c.root }, c, line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::SignerKey;

    fn tree(n: u64, salt: u8) -> Vec<Hash> {
        let mut stored = Vec::new();
        let mut f = merkle::Frontier::new();
        for i in 0..n {
            stored.extend(f.push(merkle::leaf_hash(&[salt, i as u8])));
        }
        stored
    }

    #[test]
    fn the_checks_of_add_checkpoint_in_order() {
        let log = SignerKey::from_seed("log.example/a", [1; 32]).unwrap();
        let w = Cosigner::from_seed("witness.example/w", [2; 32]).unwrap();
        let trusted = [log.verifier().clone()];
        let checkpoint = |n: u64, stored: &[Hash]| {
            let root = merkle::tree_hash(n, stored).unwrap();
            (crate::note::sign(&Checkpoint::new("log.example/a", n, root).body(), &log).unwrap(), root)
        };
        let request = |old: u64, proof: &[Hash], note: &str| {
            let lines: String = proof.iter().map(|h| format!("{}\n", B64.encode(h))).collect();
            parse_request(&format!("old {old}\n{lines}\n{note}")).unwrap()
        };
        let honest = tree(5, 0);
        let (cp3, root3) = checkpoint(3, &honest);
        // First contact: old 0, empty proof.
        let (l3, _, line) = decide(&request(0, &[], &cp3), &trusted, None, &w, 100).unwrap();
        assert_eq!(l3, Latest { size: 3, root: root3 });
        assert_eq!(crate::cosignature::verify(&format!("{cp3}{line}"), &[w.public().clone()]).unwrap().len(), 1);
        // Growing with a proof.
        let (cp5, _) = checkpoint(5, &honest);
        let proof = merkle::prove_consistency(3, 5, honest.as_slice()).unwrap();
        let (l5, _, _) = decide(&request(3, &proof, &cp5), &trusted, Some(l3), &w, 101).unwrap();
        // A fork: another tree of the same size, or one that grew from another history.
        let forked = tree(5, 9);
        let (fork5, _) = checkpoint(5, &forked);
        let e = decide(&request(5, &[], &fork5), &trusted, Some(l5), &w, 102).unwrap_err();
        assert_eq!(e.status, 409);
        let fork_proof = merkle::prove_consistency(3, 5, forked.as_slice()).unwrap();
        assert_eq!(decide(&request(3, &fork_proof, &fork5), &trusted, Some(l3), &w, 102).unwrap_err().status, 422);
        // A stale client learns the witness's size.
        let e = decide(&request(0, &[], &cp5), &trusted, Some(l5), &w, 103).unwrap_err();
        assert_eq!((e.status, e.body.as_str(), e.size_conflict), (409, "5\n", true));
        // Unknown log, untrusted signature, old past new.
        let other = SignerKey::from_seed("log.example/b", [3; 32]).unwrap();
        let foreign = crate::note::sign(&Checkpoint::new("log.example/b", 1, [0; 32]).body(), &other).unwrap();
        assert_eq!(decide(&request(0, &[], &foreign), &trusted, None, &w, 1).unwrap_err().status, 404);
        let impostor = SignerKey::from_seed("log.example/a", [4; 32]).unwrap();
        let forged = crate::note::sign(&Checkpoint::new("log.example/a", 3, root3).body(), &impostor).unwrap();
        assert_eq!(decide(&request(0, &[], &forged), &trusted, None, &w, 1).unwrap_err().status, 403);
        assert_eq!(decide(&request(9, &[], &cp3), &trusted, None, &w, 1).unwrap_err().status, 400);
        assert!(parse_request("old 01\n\nx").is_err() && parse_request("new 1\n\nx").is_err());
    }
}
