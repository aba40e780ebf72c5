//! C2SP tlog-checkpoint bodies (<https://c2sp.org/tlog-checkpoint>) and tlog-proof bundles
//! (<https://c2sp.org/tlog-proof>), plus the plain base64-lines form of consistency proofs.
//!
//! What this is: parsing and formatting of those texts, and the offline checks that combine them with
//! [`crate::note`] and [`crate::merkle`]: "is this record in the log this signed checkpoint commits to",
//! "is this signed checkpoint an extension of that one". What this is not: issuing checkpoints (that is
//! the ledger's job, which must never sign two inconsistent ones).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::merkle::{self, Hash, ProofError};
use crate::note::{self, NoteError, VerifierKey};

/// The first line of a tlog-proof file.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Why a checkpoint, proof file or offline check was rejected.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("malformed proof: {0}")]
    MalformedProof(String),
    #[error("checkpoint signature: {0}")]
    Note(#[from] NoteError),
    #[error("checkpoint origin {found:?} is not the key's name {expected:?}")]
    Origin { found: String, expected: String },
    #[error("proof does not verify: {0}")]
    Proof(#[from] ProofError),
}

/// A checkpoint body: the origin, the tree size and the tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Extension lines after the root (none are written by relic; kept when read).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self { origin: origin.to_string(), size, root, extensions: Vec::new() }
    }

    /// tlog-checkpoint §"Note text": `<origin>\n<size>\n<base64 root>\n[extension lines]`.
    pub fn body(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a body (the text of an opened note).
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let bad = |m: &str| CheckpointError::Malformed(m.to_string());
        let body = text.strip_suffix('\n').ok_or_else(|| bad("body must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| bad("missing origin line"))?;
        let size_s = lines.next().ok_or_else(|| bad("missing tree size line"))?;
        if size_s.is_empty() || !size_s.bytes().all(|b| b.is_ascii_digit()) || (size_s.len() > 1 && size_s.starts_with('0')) {
            return Err(bad("tree size must be a decimal number without leading zeros"));
        }
        let size: u64 = size_s.parse().map_err(|_| bad("tree size out of range"))?;
        let root_s = lines.next().ok_or_else(|| bad("missing root hash line"))?;
        let root: Hash = B64
            .decode(root_s)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("root hash must be 32 bytes of standard base64"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(|e| e.is_empty()) {
            return Err(bad("empty extension line"));
        }
        Ok(Self { origin: origin.to_string(), size, root, extensions })
    }

    /// Opens a signed checkpoint note with `keys` and parses its body. The origin must equal the name
    /// of the key that signed it (tlog-checkpoint §"Signatures": the log's key name is the origin).
    pub fn open(note_text: &str, keys: &[VerifierKey]) -> Result<(Self, note::Note), CheckpointError> {
        let n = note::open(note_text, keys)?;
        let c = Self::parse_body(&n.text)?;
        if let Some(k) = n.verified_by.iter().find(|k| k.name != c.origin) {
            return Err(CheckpointError::Origin { found: c.origin, expected: k.name.clone() });
        }
        Ok((c, n))
    }
}

/// A tlog-proof bundle: an inclusion proof and the signed checkpoint it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionBundle {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl InclusionBundle {
    /// tlog-proof §"Format".
    pub fn to_text(&self) -> String {
        let mut s = format!("{PROOF_HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let bad = |m: &str| CheckpointError::MalformedProof(m.to_string());
        let rest = text
            .strip_prefix(PROOF_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or_else(|| bad("first line must be c2sp.org/tlog-proof@v1"))?;
        let (head, checkpoint) = rest.split_once("\n\n").ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n').peekable();
        let mut extra = None;
        if let Some(e) = lines.peek().and_then(|l| l.strip_prefix("extra ")) {
            extra = Some(B64.decode(e).map_err(|_| bad("extra is not valid base64"))?);
            lines.next();
        }
        let idx = lines.next().and_then(|l| l.strip_prefix("index ")).ok_or_else(|| bad("missing index line"))?;
        if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) || (idx.len() > 1 && idx.starts_with('0')) {
            return Err(bad("index must be a decimal number without leading zeros"));
        }
        let index = idx.parse().map_err(|_| bad("index out of range"))?;
        let proof = parse_hash_lines(lines).map_err(|e| bad(&e))?;
        Ok(Self { extra, index, proof, checkpoint: checkpoint.to_string() })
    }

    /// The offline check: the checkpoint is signed by one of `keys`, and `record` (the exact leaf bytes)
    /// is the entry at `index` of the tree it commits to. Returns the checkpoint.
    pub fn verify(&self, record: &[u8], keys: &[VerifierKey]) -> Result<Checkpoint, CheckpointError> {
        let (c, _) = Checkpoint::open(&self.checkpoint, keys)?;
        merkle::verify_inclusion(self.index, c.size, &merkle::leaf_hash(record), &self.proof, &c.root)?;
        Ok(c)
    }
}

/// Formats a consistency proof: one standard-base64 hash per line.
pub fn format_hash_lines(proof: &[Hash]) -> String {
    proof.iter().map(|h| format!("{}\n", B64.encode(h))).collect()
}

/// Parses hash lines (as written by [`format_hash_lines`]; blank lines are not allowed).
pub fn parse_hash_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Vec<Hash>, String> {
    lines
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            B64.decode(l.trim_end_matches('\r'))
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("line {} is not a base64 SHA-256 hash", i + 1))
        })
        .collect()
}

/// The offline consistency check: both checkpoints are signed by one of `keys`, have the same origin,
/// and `proof` shows the old tree is a prefix of the new one.
pub fn verify_consistency_offline(
    old_note: &str,
    new_note: &str,
    proof: &[Hash],
    keys: &[VerifierKey],
) -> Result<(Checkpoint, Checkpoint), CheckpointError> {
    let (old, _) = Checkpoint::open(old_note, keys)?;
    let (new, _) = Checkpoint::open(new_note, keys)?;
    if old.origin != new.origin {
        return Err(CheckpointError::Origin { found: new.origin, expected: old.origin });
    }
    merkle::verify_consistency(old.size, new.size, &old.root, &new.root, proof)?;
    Ok((old, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trip_and_strictness() {
        let c = Checkpoint::new("example.com/log", 42, [5u8; 32]);
        assert_eq!(Checkpoint::parse_body(&c.body()).unwrap(), c);
        assert!(Checkpoint::parse_body("o\n042\nBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=\n").is_err());
        assert!(Checkpoint::parse_body("o\n-1\nBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=\n").is_err());
        assert!(Checkpoint::parse_body("o\n1\nBQUF\n").is_err());
        assert!(Checkpoint::parse_body("\n1\nBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=\n").is_err());
        let ext = Checkpoint::parse_body("o\n0\nBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=\nx y\n").unwrap();
        assert_eq!(ext.extensions, vec!["x y".to_string()]);
    }

    #[test]
    fn proof_bundle_round_trip() {
        let b = InclusionBundle {
            extra: Some(b"ctx".to_vec()),
            index: 7,
            proof: vec![[1u8; 32], [2u8; 32]],
            checkpoint: "o\n8\nAQ==\n\n\u{2014} o AAAA\n".into(),
        };
        assert_eq!(InclusionBundle::parse(&b.to_text()).unwrap(), b);
        let no_extra = InclusionBundle { extra: None, proof: vec![], ..b };
        assert_eq!(InclusionBundle::parse(&no_extra.to_text()).unwrap(), no_extra);
        assert!(InclusionBundle::parse("c2sp.org/tlog-proof@v2\nindex 1\n\nx").is_err());
        assert!(InclusionBundle::parse("c2sp.org/tlog-proof@v1\nindex 01\n\nx").is_err());
    }
}
