//! Test vectors for the v1 formats specified in `schemas/` (record, Merkle tree, checkpoint,
//! tlog-proof, store layout).
//!
//! `vectors` builds every vector from fixed seeds, times and payloads with relic's public API and
//! compares the result with `schemas/vectors/*.json`; it fails on any difference. With
//! `RELIC_WRITE_VECTORS=1` it writes the files instead:
//!
//! ```text
//! RELIC_WRITE_VECTORS=1 cargo test -p relic-ledger --test vectors
//! ```
//!
//! Either way it then re-checks what the files say without the generator: record bytes are
//! re-encoded field by field from the specification, signatures and note signatures are verified with
//! ed25519-dalek directly against keys parsed from their text, key IDs, BLAKE3 links and leaf hashes
//! are recomputed with the hash crates, tree heads and proofs are recomputed with a naive recursive
//! RFC 6962 implementation, the texts are parsed and verified with relic's checkers, every invalid
//! vector is rejected, and a log written by hand in the layout of `schemas/store-v4.md` (byte for
//! byte the files of `store-v4.json`, which relic's own writer produced), and stores of the older
//! layouts v3, v2 and v1 (converted by `relic migrate`), pass relic's full verification and serve
//! the same checkpoints and proofs.
//!
//! `ledger_writes_the_documented_shapes` checks that a real ledger writes record 0 and `key.rotated`
//! in exactly the form the vectors (and `schemas/record-v1.md`) use.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use relic_ledger::checkpoint::{self, Checkpoint, InclusionBundle};
use relic_ledger::merkle::{self, Frontier, Hash};
use relic_ledger::note::{self, SignerKey, VerifierKey};
use relic_ledger::record::{self, Actor, Record};

/// The origin of the vector log (also the signing keys' name).
const ORIGIN: &str = "example.test/relic";
/// 2026-06-01T09:30:00Z in microseconds.
const T0: i64 = 1_780_306_200_000_000;
/// The contexts, written out here rather than taken from the crate, so a change to them fails.
const SIGNING_CONTEXT: &[u8] = b"relic/record/v1\n";
const GENESIS_CONTEXT: &[u8] = b"relic/genesis/v1\n";

// ---------------------------------------------------------------------------------------------
// Small helpers


fn unhex(s: &str) -> Vec<u8> {
    relic_ledger::hex::decode(s).unwrap_or_else(|| panic!("not lower-case hex: {s:?}"))
}

fn unhex32(s: &str) -> [u8; 32] {
    unhex(s).try_into().expect("32 bytes")
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/vectors")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, found {v}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("expected a number, found {v}"))
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("expected an array, found {v}"))
}

fn hashes_hex(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(|h| relic_ledger::hex::encode(h)).collect()
}

fn hashes_of(v: &Value) -> Vec<Hash> {
    arr(v).iter().map(|h| unhex32(s(h))).collect()
}

// ---------------------------------------------------------------------------------------------
// The fixed log: five records, a key rotation at record 3, checkpoints at sizes 0, 3 and 5.

/// (time_us, signing key index, actor, role, kind, subject, payload) of one vector record.
type Spec<'a> = (i64, usize, &'a str, &'a str, &'a str, &'a str, Vec<u8>);

/// A signature line of a note: key name, key ID, signature.
type SigLine = (String, [u8; 4], [u8; 64]);

struct Fixture {
    /// Key 1 (seed 01..01) signs records 0..=3; key 2 (seed 02..02) signs record 4 on.
    keys: Vec<SignerKey>,
    seeds: Vec<[u8; 32]>,
    /// Index into `keys` of the key that signs each record.
    signer: Vec<usize>,
    records: Vec<Record>,
    bytes: Vec<Vec<u8>>,
    /// The stored hash array of the tree of all records, and the tree heads at sizes 0..=5.
    stored: Vec<Hash>,
    roots: Vec<Hash>,
}

fn fixture() -> Fixture {
    let seeds = vec![[1u8; 32], [2u8; 32]];
    let keys: Vec<SignerKey> = seeds.iter().map(|s| SignerKey::from_seed(ORIGIN, *s).expect("key")).collect();
    let vk1 = keys[0].verifier().to_string();
    let vk2 = keys[1].verifier().to_string();
    // Record 0 and key.rotated payloads are built exactly as ledger.rs builds them.
    let built = |v: Value| serde_json::to_vec(&v).expect("json");
    // Ordinary payloads go through the same canonicalisation as Ledger::submit.
    let canon = |t: &str| record::canonical_payload(t.as_bytes()).expect("payload");
    let specs: Vec<Spec> = vec![
        (T0, 0, "relic", "system", "ledger.created", ORIGIN, built(json!({"origin": ORIGIN, "key": vk1}))),
        (
            T0 + 1_500_000,
            0,
            "alice",
            "maintainer",
            "release.created",
            "group/project@v1.0",
            canon(
                r#"{ "tag_name": "v1.0", "name": "Release 1.0",
                     "description": "Caf\u00e9 \u2014 the \"first\" release\nsecond line",
                     "assets": { "links": [] } }"#,
            ),
        ),
        (
            T0 + 1_500_000,
            0,
            "bob@example.test",
            "developer",
            "tag.recorded",
            "group/project",
            canon(r#"{"tag": "v1.0", "commit": "0123456789abcdef0123456789abcdef01234567", "protected": true}"#),
        ),
        (T0 + 61_000_123, 0, "alice", "owner", "key.rotated", ORIGIN, built(json!({"previous_key": vk1, "new_key": vk2}))),
        (
            T0 + 3_600_000_000,
            1,
            "alice",
            "maintainer",
            "release.updated",
            "group/project@v1.0",
            canon(r#"{"tag_name": "v1.0", "changes": {"name": "Release 1.0.0", "milestones": [1, 2]}, "ratio": 0.5}"#),
        ),
    ];
    let mut prev = record::genesis_link(ORIGIN);
    let (mut records, mut bytes, mut signer) = (Vec::new(), Vec::new(), Vec::new());
    for (seq, (time_us, k, id, role, kind, subject, payload)) in specs.into_iter().enumerate() {
        let key = &keys[k];
        let mut rec = Record {
            seq: seq as u64,
            time_us,
            schema_version: 1,
            key_id: key.key_id(),
            prev,
            actor: Actor { id: id.into(), role: role.into() },
            kind: kind.into(),
            subject: subject.into(),
            payload,
            signature: [0u8; 64],
        };
        rec.signature = key.sign(&Record::signed_message(&rec.body()));
        let b = rec.to_bytes();
        assert_eq!(Record::decode(&b).expect("vector record decodes"), rec);
        prev = record::link_of(&b);
        records.push(rec);
        bytes.push(b);
        signer.push(k);
    }
    let mut f = Frontier::new();
    let (mut stored, mut roots) = (Vec::new(), vec![f.root()]);
    for b in &bytes {
        stored.extend(f.push(merkle::leaf_hash(b)));
        roots.push(f.root());
    }
    Fixture { keys, seeds, signer, records, bytes, stored, roots }
}

/// The record's fields as (name, bytes) segments, encoded here from the specification's table
/// (not with `Record::body`), so the two encoders check each other.
fn layout(r: &Record) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("version", vec![0x01]),
        ("seq", r.seq.to_be_bytes().to_vec()),
        ("time_us", r.time_us.to_be_bytes().to_vec()),
        ("schema_version", r.schema_version.to_be_bytes().to_vec()),
        ("key_id", r.key_id.to_vec()),
        ("prev", r.prev.to_vec()),
        ("actor_len", vec![r.actor.id.len() as u8]),
        ("actor", r.actor.id.as_bytes().to_vec()),
        ("role_len", vec![r.actor.role.len() as u8]),
        ("role", r.actor.role.as_bytes().to_vec()),
        ("kind_len", vec![r.kind.len() as u8]),
        ("kind", r.kind.as_bytes().to_vec()),
        ("subject_len", (r.subject.len() as u16).to_be_bytes().to_vec()),
        ("subject", r.subject.as_bytes().to_vec()),
        ("payload_len", (r.payload.len() as u32).to_be_bytes().to_vec()),
        ("payload", r.payload.clone()),
        ("signature", r.signature.to_vec()),
    ]
}

fn layout_json(r: &Record) -> Value {
    let mut off = 0usize;
    let mut out = Vec::new();
    for (name, b) in layout(r) {
        out.push(json!({"field": name, "offset": off, "len": b.len(), "hex": relic_ledger::hex::encode(&b)}));
        off += b.len();
    }
    Value::Array(out)
}

fn key_json(fx: &Fixture, i: usize, from_seq: u64) -> Value {
    let vk = fx.keys[i].verifier();
    let mut preimage = ORIGIN.as_bytes().to_vec();
    preimage.extend_from_slice(&[0x0a, 0x01]);
    preimage.extend_from_slice(vk.key.as_bytes());
    json!({
        "name": vk.name,
        "seed_hex": relic_ledger::hex::encode(&fx.seeds[i]),
        "public_key_hex": relic_ledger::hex::encode(vk.key.as_bytes()),
        "key_id_preimage_hex": relic_ledger::hex::encode(&preimage),
        "key_id_hex": relic_ledger::hex::encode(&vk.key_id),
        "verifier_key": vk.to_string(),
        "private_key": fx.keys[i].to_private_text(),
        "signs_from_seq": from_seq,
    })
}

fn resign(r: &Record, key: &SignerKey) -> Vec<u8> {
    let mut r = r.clone();
    r.signature = key.sign(&Record::signed_message(&r.body()));
    r.to_bytes()
}

fn record_vectors(fx: &Fixture) -> Value {
    let records: Vec<Value> = fx
        .records
        .iter()
        .zip(&fx.bytes)
        .zip(&fx.signer)
        .map(|((r, b), &k)| {
            let body = r.body();
            json!({
                "seq": r.seq,
                "time_us": r.time_us,
                "time": r.time_rfc3339(),
                "schema_version": r.schema_version,
                "key_id_hex": relic_ledger::hex::encode(&r.key_id),
                "prev_hex": relic_ledger::hex::encode(&r.prev),
                "actor_id": r.actor.id,
                "actor_role": r.actor.role,
                "kind": r.kind,
                "subject": r.subject,
                "payload": String::from_utf8(r.payload.clone()).expect("UTF-8 payload"),
                "payload_hex": relic_ledger::hex::encode(&r.payload),
                "signed_by": fx.keys[k].verifier().to_string(),
                "body_hex": relic_ledger::hex::encode(&body),
                "signed_message_hex": relic_ledger::hex::encode(&Record::signed_message(&body)),
                "signature_hex": relic_ledger::hex::encode(&r.signature),
                "record_hex": relic_ledger::hex::encode(b),
                "record_len": b.len(),
                "link_hex": relic_ledger::hex::encode(&record::link_of(b)),
                "leaf_hash_hex": relic_ledger::hex::encode(&merkle::leaf_hash(b)),
                "layout": layout_json(r),
            })
        })
        .collect();

    // Invalid records, all derived from record 1 (signed by key 1).
    let r1 = &fx.records[1];
    let b1 = &fx.bytes[1];
    let k1 = &fx.keys[0];
    let subject_at = 55 + 1 + r1.actor.id.len() + 1 + r1.actor.role.len() + 1 + r1.kind.len() + 2;
    let payload_len_at = subject_at + r1.subject.len();
    let mut invalid: Vec<(&str, &str, Vec<u8>)> = Vec::new();
    let mut v2 = b1.clone();
    v2[0] = 0x02;
    invalid.push(("format version byte is 0x02", "malformed", v2));
    let mut longer = b1.clone();
    longer.push(0x00);
    invalid.push(("one byte follows the signature", "malformed", longer));
    invalid.push(("the last signature byte is missing", "malformed", b1[..b1.len() - 1].to_vec()));
    let mut bad_utf8 = b1.clone();
    bad_utf8[subject_at] = 0xff;
    invalid.push(("the subject is not valid UTF-8 (first subject byte is 0xff)", "malformed", bad_utf8));
    let mut too_long = b1.clone();
    too_long[payload_len_at..payload_len_at + 4].copy_from_slice(&((record::MAX_PAYLOAD as u32) + 1).to_be_bytes());
    invalid.push(("the payload length prefix is MAX_PAYLOAD + 1", "malformed", too_long));
    let with = |f: &dyn Fn(&mut Record)| {
        let mut r = r1.clone();
        f(&mut r);
        resign(&r, k1)
    };
    invalid.push(("role \"admin\" is not in the roles list (correctly signed)", "malformed", with(&|r| r.actor.role = "admin".into())));
    invalid.push(("kind \"Release.created\" breaks the kind syntax (correctly signed)", "malformed", with(&|r| r.kind = "Release.created".into())));
    invalid.push(("the actor is empty (correctly signed)", "malformed", with(&|r| r.actor.id = String::new())));
    invalid.push(("the subject contains a control character U+0009 (correctly signed)", "malformed", with(&|r| r.subject = "group/project\tv1.0".into())));
    invalid.push(("schema version 0 (correctly signed)", "malformed", with(&|r| r.schema_version = 0)));
    let mut tampered = b1.clone();
    let at = payload_len_at + 4 + 1; // the first key's first letter in the payload
    tampered[at] ^= 0x20;
    invalid.push(("one payload byte changed after signing: well-formed, but the signature fails", "bad_signature", tampered));
    let mut wrong_key = r1.clone();
    wrong_key.signature = fx.keys[1].sign(&Record::signed_message(&wrong_key.body()));
    invalid.push((
        "signed by key 2 while the key ID field names key 1: well-formed, but the signature fails",
        "bad_signature",
        wrong_key.to_bytes(),
    ));
    let invalid: Vec<Value> = invalid
        .into_iter()
        .map(|(d, e, b)| json!({"description": d, "expect": e, "verifier_key": k1.verifier().to_string(), "record_hex": relic_ledger::hex::encode(&b)}))
        .collect();

    json!({
        "description": "relic record v1 test vectors (schemas/record-v1.md). Generated by ledger/tests/vectors.rs; the seeds are public test seeds, never use them for a real log.",
        "origin": ORIGIN,
        "constants": {
            "format_version": record::FORMAT_V1,
            "signing_context_hex": relic_ledger::hex::encode(record::SIGNING_CONTEXT),
            "genesis_context_hex": relic_ledger::hex::encode(record::GENESIS_CONTEXT),
            "max_payload": record::MAX_PAYLOAD,
            "max_subject": record::MAX_SUBJECT,
            "max_actor": record::MAX_ACTOR,
            "max_kind": record::MAX_KIND,
            "roles": record::ROLES,
        },
        "genesis_link_hex": relic_ledger::hex::encode(&record::genesis_link(ORIGIN)),
        "keys": [key_json(fx, 0, 0), key_json(fx, 1, 4)],
        "records": records,
        "invalid_records": invalid,
    })
}

fn stored_hash_table(fx: &Fixture) -> Vec<Value> {
    fx.stored
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let (level, k) = merkle::split_stored_hash_index(i as u64);
            json!({"index": i, "level": level, "n": k, "first_leaf": k << level, "last_leaf": ((k + 1) << level) - 1, "hash_hex": relic_ledger::hex::encode(h)})
        })
        .collect()
}

fn merkle_vectors(fx: &Fixture) -> Value {
    // The RFC 6962 reference tree used by the Certificate Transparency test suites.
    let rfc_leaves: Vec<Vec<u8>> = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .iter()
        .map(|s| unhex(s))
        .collect();
    let mut f = Frontier::new();
    let (mut rstored, mut rroots) = (Vec::new(), vec![f.root()]);
    for l in &rfc_leaves {
        rstored.extend(f.push(merkle::leaf_hash(l)));
        rroots.push(f.root());
    }
    let rs = rstored.as_slice();
    let incl = |stored: &[Hash], i: u64, size: u64| {
        json!({"index": i, "size": size, "proof_hex": hashes_hex(&merkle::prove_inclusion(i, size, stored).expect("proof"))})
    };
    let cons = |stored: &[Hash], m: u64, size: u64| {
        json!({"old_size": m, "new_size": size, "proof_hex": hashes_hex(&merkle::prove_consistency(m, size, stored).expect("proof"))})
    };
    let mut rfc_incl: Vec<Value> = (0..8).map(|i| incl(rs, i, 8)).collect();
    rfc_incl.extend([incl(rs, 2, 3), incl(rs, 4, 5), incl(rs, 5, 7)]);
    let mut rfc_cons: Vec<Value> = (0..=8).map(|m| cons(rs, m, 8)).collect();
    rfc_cons.extend([cons(rs, 2, 5), cons(rs, 3, 7), cons(rs, 4, 7), cons(rs, 1, 1)]);

    let size = fx.bytes.len() as u64;
    let ls = fx.stored.as_slice();
    let appends: Vec<Value> = (0..size)
        .map(|k| json!({"seq": k, "first_index": merkle::stored_hash_index(0, k), "count": 1 + k.trailing_ones()}))
        .collect();
    let log_incl: Vec<Value> = (1..=size).flat_map(|sz| (0..sz).map(move |i| (i, sz))).map(|(i, sz)| incl(ls, i, sz)).collect();
    let log_cons: Vec<Value> = (0..=size).flat_map(|sz| (0..=sz).map(move |m| (m, sz))).map(|(m, sz)| cons(ls, m, sz)).collect();

    let mut index_table = Vec::new();
    for level in 0..=3u32 {
        for k in 0..=7u64 {
            index_table.push(json!({"level": level, "n": k, "index": merkle::stored_hash_index(level, k)}));
        }
    }

    json!({
        "description": "relic Merkle tree v1 test vectors (schemas/merkle-v1.md): RFC 6962 SHA-256 tree heads, inclusion and consistency proofs (proof hashes leaf side first), and Go tlog's stored hash index. Generated by ledger/tests/vectors.rs.",
        "empty_root_hex": relic_ledger::hex::encode(&merkle::empty_root()),
        "stored_hash_index": index_table,
        "rfc6962": {
            "leaves_hex": rfc_leaves.iter().map(|l| relic_ledger::hex::encode(l)).collect::<Vec<_>>(),
            "roots": rroots.iter().enumerate().map(|(i, r)| json!({"size": i, "root_hex": relic_ledger::hex::encode(r)})).collect::<Vec<_>>(),
            "inclusion": rfc_incl,
            "consistency": rfc_cons,
        },
        "relic_log": {
            "description": "The tree whose leaves are the exact bytes of the five records of record-v1.json.",
            "leaf_hashes_hex": fx.bytes.iter().map(|b| relic_ledger::hex::encode(&merkle::leaf_hash(b))).collect::<Vec<_>>(),
            "roots": fx.roots.iter().enumerate().map(|(i, r)| json!({"size": i, "root_hex": relic_ledger::hex::encode(r)})).collect::<Vec<_>>(),
            "stored_hashes": stored_hash_table(fx),
            "appends": appends,
            "inclusion": log_incl,
            "consistency": log_cons,
        },
    })
}

fn checkpoint_json(fx: &Fixture, size: u64, key: usize, note_text: &str) -> Value {
    let c = Checkpoint::new(ORIGIN, size, fx.roots[size as usize]);
    let body = c.body();
    let line = note_text.rsplit_once("\n\n").expect("signature block").1.trim_end_matches('\n');
    json!({
        "size": size,
        "root_hex": relic_ledger::hex::encode(&c.root),
        "root_base64": B64.encode(c.root),
        "body": body,
        "signer": fx.keys[key].verifier().to_string(),
        "signature_hex": relic_ledger::hex::encode(&fx.keys[key].sign(body.as_bytes())),
        "signature_line": line,
        "note": note_text,
    })
}

/// The checkpoints of the vector log: size 0 and 3 by key 1, size 5 by key 2.
fn notes(fx: &Fixture) -> Vec<(u64, usize, String)> {
    [(0u64, 0usize), (3, 0), (5, 1)]
        .into_iter()
        .map(|(size, k)| {
            let body = Checkpoint::new(ORIGIN, size, fx.roots[size as usize]).body();
            (size, k, note::sign(&body, &fx.keys[k]).expect("sign"))
        })
        .collect()
}

fn checkpoint_vectors(fx: &Fixture) -> Value {
    let notes = notes(fx);
    let note_at = |size: u64| notes.iter().find(|(s, _, _)| *s == size).map(|(_, _, n)| n.clone()).expect("note");
    let ls = fx.stored.as_slice();

    let cons = |m: u64, size: u64| {
        let p = merkle::prove_consistency(m, size, ls).expect("proof");
        json!({"old_size": m, "new_size": size, "proof_hex": hashes_hex(&p), "text": checkpoint::format_hash_lines(&p)})
    };
    let bundle = |seq: u64, size: u64, extra: Option<&[u8]>| InclusionBundle {
        extra: extra.map(<[u8]>::to_vec),
        index: seq,
        proof: merkle::prove_inclusion(seq, size, ls).expect("proof"),
        checkpoint: note_at(size),
    };
    let bundle_json = |(b, size): &(InclusionBundle, u64)| {
        json!({
            "record_seq": b.index,
            "record_hex": relic_ledger::hex::encode(&fx.bytes[b.index as usize]),
            "index": b.index,
            "size": size,
            "extra_hex": b.extra.as_ref().map(|e| relic_ledger::hex::encode(e)),
            "proof_hex": hashes_hex(&b.proof),
            "text": b.to_text(),
        })
    };
    let bundles = [(bundle(1, 5, None), 5), (bundle(4, 5, None), 5), (bundle(2, 3, Some(b"relic vector extra data")), 3)];

    // Invalid inputs, each to be rejected with the verifier keys of keys 1 and 2.
    let n3 = note_at(3);
    let other = SignerKey::from_seed("example.test/other", [9u8; 32]).expect("key");
    let root3 = B64.encode(fx.roots[3]);
    let mut invalid_notes: Vec<(&str, &str, String)> = vec![
        ("the size line was changed from 3 to 4 after signing", "note", n3.replacen("\n3\n", "\n4\n", 1)),
        ("the signature line starts with a hyphen-minus instead of an em dash", "note", n3.replacen('\u{2014}', "-", 1)),
        (
            "signed only by a key that is not one of the verifier keys",
            "note",
            note::sign(&Checkpoint::new(ORIGIN, 3, fx.roots[3]).body(), &other).expect("sign"),
        ),
        ("the size has a leading zero (validly signed)", "checkpoint", note::sign(&format!("{ORIGIN}\n03\n{root3}\n"), &fx.keys[0]).expect("sign")),
        ("the root is not 32 bytes of base64 (validly signed)", "checkpoint", note::sign(&format!("{ORIGIN}\n3\nAAAA\n"), &fx.keys[0]).expect("sign")),
        (
            "the origin line differs from the signing key's name (validly signed)",
            "checkpoint",
            note::sign(&format!("example.test/other\n3\n{root3}\n"), &fx.keys[0]).expect("sign"),
        ),
    ];
    // A signature by a known key that does not verify rejects the note even if another one does.
    let good_sig = n3.rsplit_once("\n\n").expect("sigs").1;
    let mut bad_sig_line = good_sig.to_string();
    let b64_start = bad_sig_line.rfind(' ').expect("space") + 1;
    let mut raw = B64.decode(bad_sig_line[b64_start..].trim_end()).expect("b64");
    raw[10] ^= 1;
    bad_sig_line.replace_range(b64_start.., &format!("{}\n", B64.encode(&raw)));
    invalid_notes.push((
        "a second signature line by the same known key does not verify (relic rejects the note, as C2SP signed-note \
         recommends; Go's note.Open ignores repeated signatures by one key and accepts it)",
        "note",
        format!("{n3}{bad_sig_line}"),
    ));

    let b1 = bundle(1, 5, None);
    let mut altered = b1.clone();
    altered.proof[0][0] ^= 0x80;
    let mut other_index = b1.clone();
    other_index.index = 2;
    let mut short = b1.clone();
    short.proof.pop();
    let invalid_proofs: Vec<(&str, String)> = vec![
        ("the first proof hash was altered", altered.to_text()),
        ("the index was changed from 1 to 2", other_index.to_text()),
        ("the last proof hash was dropped", short.to_text()),
    ];
    let mut bad_cons = merkle::prove_consistency(3, 5, ls).expect("proof");
    bad_cons[0][31] ^= 1;

    let keys = vec![key_json(fx, 0, 0), key_json(fx, 1, 4)];
    json!({
        "description": "relic checkpoint v1 test vectors (schemas/checkpoint-v1.md): C2SP signed-note keys and checkpoints, consistency proofs as base64 lines, C2SP tlog-proof bundles. The log is the one of record-v1.json. Generated by ledger/tests/vectors.rs; the seeds are public test seeds.",
        "origin": ORIGIN,
        "keys": keys,
        "checkpoints": notes.iter().map(|(size, k, n)| checkpoint_json(fx, *size, *k, n)).collect::<Vec<_>>(),
        "consistency_proofs": [cons(3, 5), cons(1, 5), cons(0, 5), cons(5, 5)],
        "tlog_proofs": bundles.iter().map(bundle_json).collect::<Vec<_>>(),
        "invalid_checkpoints": invalid_notes.into_iter().map(|(d, l, t)| json!({"description": d, "layer": l, "note": t})).collect::<Vec<_>>(),
        "invalid_tlog_proofs": invalid_proofs.into_iter().map(|(d, t)| json!({"description": d, "record_seq": 1, "text": t})).collect::<Vec<_>>(),
        "invalid_consistency_proofs": [
            {"description": "the first hash of the 3 -> 5 proof was altered", "old_size": 3, "new_size": 5, "text": checkpoint::format_hash_lines(&bad_cons)},
            {"description": "the 3 -> 5 proof with its last hash dropped", "old_size": 3, "new_size": 5,
             "text": checkpoint::format_hash_lines(&merkle::prove_consistency(3, 5, ls).expect("proof")[..1])},
            {"description": "a non-empty proof for old size 0", "old_size": 0, "new_size": 5,
             "text": checkpoint::format_hash_lines(&[fx.roots[5]])},
        ],
    })
}

// ---------------------------------------------------------------------------------------------
// Write or compare

fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&format!("{path}.{k}"), x, y, out),
                    (Some(_), None) => out.push(format!("{path}.{k}: in the file, no longer generated")),
                    (None, Some(_)) => out.push(format!("{path}.{k}: generated, not in the file")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!("{path}: {} entries in the file, {} generated", a.len(), b.len()));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if want != got => out.push(format!("{path}: file has {want}, code gives {got}")),
        _ => {}
    }
}

fn write_or_compare(name: &str, generated: &Value) -> Value {
    let path = vectors_dir().join(name);
    let text = serde_json::to_string_pretty(generated).expect("json") + "\n";
    if std::env::var("RELIC_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::create_dir_all(vectors_dir()).expect("create schemas/vectors");
        std::fs::write(&path, &text).expect("write vectors");
        eprintln!("wrote {}", path.display());
    } else {
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e}; run `RELIC_WRITE_VECTORS=1 cargo test -p relic-ledger --test vectors` to create it", path.display())
        });
        let file: Value = serde_json::from_str(&on_disk).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut out = Vec::new();
        diff("$", &file, generated, &mut out);
        assert!(
            out.is_empty(),
            "{} does not match what the code produces ({} difference(s); a format change needs a new version, \
             see schemas/README.md; to accept an intended change run with RELIC_WRITE_VECTORS=1):\n{}",
            path.display(),
            out.len(),
            out.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
        );
        assert_eq!(on_disk, text, "{}: same values, different formatting; regenerate it", path.display());
    }
    let on_disk = std::fs::read_to_string(&path).expect("read vectors");
    serde_json::from_str(&on_disk).expect("vectors are JSON")
}

// ---------------------------------------------------------------------------------------------
// Independent checks of the files' contents

/// Parses `<name>+<8 hex>+<base64(0x01 || key)>` by hand; checks the key ID with SHA-256 directly.
fn parse_vkey_by_hand(text: &str) -> (String, [u8; 4], ed25519_dalek::VerifyingKey) {
    let parts: Vec<&str> = text.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3, "{text}");
    let raw = B64.decode(parts[2]).expect("base64 key");
    assert_eq!(raw.len(), 33);
    assert_eq!(raw[0], 0x01, "Ed25519 type byte");
    let pk: [u8; 32] = raw[1..].try_into().expect("32");
    let id = key_id_by_hand(parts[0], &pk);
    assert_eq!(parts[1], relic_ledger::hex::encode(&id), "key ID in {text}");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).expect("point");
    assert!(!vk.is_weak());
    (parts[0].to_string(), id, vk)
}

fn key_id_by_hand(name: &str, pk: &[u8; 32]) -> [u8; 4] {
    let d = Sha256::new().chain_update(name.as_bytes()).chain_update([0x0a, 0x01]).chain_update(pk).finalize();
    [d[0], d[1], d[2], d[3]]
}

fn leaf_by_hand(b: &[u8]) -> Hash {
    Sha256::new().chain_update([0x00]).chain_update(b).finalize().into()
}

fn node_by_hand(l: &Hash, r: &Hash) -> Hash {
    Sha256::new().chain_update([0x01]).chain_update(l).chain_update(r).finalize().into()
}

/// RFC 6962 §2.1 MTH, recursively, over leaf hashes.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        len => {
            let k = split_point(len);
            node_by_hand(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `len` (`len >= 2`).
fn split_point(len: usize) -> usize {
    let mut k = 1;
    while k * 2 < len {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1.1 PATH(m, D[n]).
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split_point(leaves.len());
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true); empty for m = 0 (relic's choice).
fn proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn sub(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        if m == d.len() {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = split_point(d.len());
        if m <= k {
            let mut p = sub(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = sub(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }
    if m == 0 {
        return Vec::new();
    }
    sub(m, leaves, true)
}

fn check_record_file(rv: &Value) -> (Vec<Vec<u8>>, Vec<VerifierKey>) {
    let origin = s(&rv["origin"]);
    let c = &rv["constants"];
    assert_eq!(unhex(s(&c["signing_context_hex"])), SIGNING_CONTEXT);
    assert_eq!(unhex(s(&c["genesis_context_hex"])), GENESIS_CONTEXT);
    let genesis: [u8; 32] = *blake3::Hasher::new().update(GENESIS_CONTEXT).update(origin.as_bytes()).finalize().as_bytes();
    assert_eq!(s(&rv["genesis_link_hex"]), relic_ledger::hex::encode(&genesis));

    let mut vks = Vec::new();
    for k in arr(&rv["keys"]) {
        let (name, id, vk) = parse_vkey_by_hand(s(&k["verifier_key"]));
        assert_eq!(name, origin, "keys are named after the origin");
        assert_eq!(s(&k["key_id_hex"]), relic_ledger::hex::encode(&id));
        assert_eq!(s(&k["public_key_hex"]), relic_ledger::hex::encode(vk.as_bytes()));
        let seed: [u8; 32] = unhex32(s(&k["seed_hex"]));
        assert_eq!(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key(), vk, "seed gives the public key");
        let mut pre = name.as_bytes().to_vec();
        pre.extend_from_slice(&[0x0a, 0x01]);
        pre.extend_from_slice(vk.as_bytes());
        assert_eq!(s(&k["key_id_preimage_hex"]), relic_ledger::hex::encode(&pre));
        let mut praw = vec![0x01];
        praw.extend_from_slice(&seed);
        assert_eq!(s(&k["private_key"]), format!("PRIVATE+KEY+{name}+{}+{}", relic_ledger::hex::encode(&id), B64.encode(&praw)));
        let parsed = VerifierKey::parse(s(&k["verifier_key"])).expect("relic parses the verifier key");
        assert_eq!(parsed.to_string(), s(&k["verifier_key"]));
        assert_eq!(SignerKey::parse(s(&k["private_key"])).expect("private key").verifier(), &parsed);
        vks.push(parsed);
    }

    let mut expected_prev = genesis;
    let mut current_key: Option<usize> = None;
    let mut last_time = i64::MIN;
    let mut all = Vec::new();
    for (i, r) in arr(&rv["records"]).iter().enumerate() {
        let bytes = unhex(s(&r["record_hex"]));
        assert_eq!(n(&r["record_len"]) as usize, bytes.len());
        // The layout table, re-assembled, is the record; offsets are contiguous.
        let mut assembled = Vec::new();
        for seg in arr(&r["layout"]) {
            assert_eq!(n(&seg["offset"]) as usize, assembled.len(), "offset of {}", seg["field"]);
            let b = unhex(s(&seg["hex"]));
            assert_eq!(n(&seg["len"]) as usize, b.len());
            assembled.extend(b);
        }
        assert_eq!(assembled, bytes, "record {i}: layout");
        // Encode the fields by hand, in the order of record-v1.md.
        let actor = s(&r["actor_id"]);
        let role = s(&r["actor_role"]);
        let kind = s(&r["kind"]);
        let subject = s(&r["subject"]);
        let payload = s(&r["payload"]);
        assert_eq!(unhex(s(&r["payload_hex"])), payload.as_bytes());
        let mut body = vec![0x01];
        body.extend_from_slice(&(n(&r["seq"])).to_be_bytes());
        body.extend_from_slice(&(r["time_us"].as_i64().expect("time")).to_be_bytes());
        body.extend_from_slice(&(n(&r["schema_version"]) as u16).to_be_bytes());
        body.extend_from_slice(&unhex(s(&r["key_id_hex"])));
        body.extend_from_slice(&unhex(s(&r["prev_hex"])));
        body.push(actor.len() as u8);
        body.extend_from_slice(actor.as_bytes());
        body.push(role.len() as u8);
        body.extend_from_slice(role.as_bytes());
        body.push(kind.len() as u8);
        body.extend_from_slice(kind.as_bytes());
        body.extend_from_slice(&(subject.len() as u16).to_be_bytes());
        body.extend_from_slice(subject.as_bytes());
        body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        body.extend_from_slice(payload.as_bytes());
        assert_eq!(s(&r["body_hex"]), relic_ledger::hex::encode(&body), "record {i}: body");
        assert_eq!(&bytes[..bytes.len() - 64], body.as_slice());
        let sig: [u8; 64] = bytes[bytes.len() - 64..].try_into().expect("64");
        assert_eq!(s(&r["signature_hex"]), relic_ledger::hex::encode(&sig));
        let mut msg = SIGNING_CONTEXT.to_vec();
        msg.extend_from_slice(&body);
        assert_eq!(s(&r["signed_message_hex"]), relic_ledger::hex::encode(&msg));
        // Log rules: sequence, link, time, key.
        assert_eq!(n(&r["seq"]), i as u64);
        assert_eq!(s(&r["prev_hex"]), relic_ledger::hex::encode(&expected_prev), "record {i}: predecessor link");
        let t = r["time_us"].as_i64().expect("time");
        assert!(t >= last_time, "record {i}: time goes backwards");
        last_time = t;
        let payload_json: Value = serde_json::from_str(payload).expect("payload is JSON");
        assert!(payload_json.is_object());
        assert_eq!(serde_json::to_string(&payload_json).expect("json"), payload, "record {i}: payload is canonical");
        if i == 0 {
            assert_eq!(kind, "ledger.created");
            assert_eq!((actor, role, subject), ("relic", "system", origin));
            assert_eq!(s(&payload_json["origin"]), origin);
            let k = vks.iter().position(|k| k.to_string() == s(&payload_json["key"])).expect("record 0 introduces key 1");
            current_key = Some(k);
        }
        let k = current_key.expect("a key holds");
        assert_eq!(s(&r["key_id_hex"]), relic_ledger::hex::encode(&vks[k].key_id), "record {i}: signed by the key that holds");
        assert_eq!(s(&r["signed_by"]), vks[k].to_string());
        let (_, _, dalek_key) = parse_vkey_by_hand(&vks[k].to_string());
        dalek_key.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig)).expect("signature verifies (RFC 8032, strict)");
        if kind == "key.rotated" {
            assert_eq!(s(&payload_json["previous_key"]), vks[k].to_string());
            let next = vks.iter().position(|v| v.to_string() == s(&payload_json["new_key"])).expect("new key listed");
            assert_eq!(n(&rv["keys"][next]["signs_from_seq"]), i as u64 + 1);
            current_key = Some(next);
        }
        // relic agrees.
        let rec = Record::decode(&bytes).expect("relic decodes the record");
        assert!(rec.verify_signature(&vks[k]));
        assert_eq!(rec.time_rfc3339(), s(&r["time"]));
        let link: [u8; 32] = *blake3::hash(&bytes).as_bytes();
        assert_eq!(s(&r["link_hex"]), relic_ledger::hex::encode(&link));
        assert_eq!(s(&r["leaf_hash_hex"]), relic_ledger::hex::encode(&leaf_by_hand(&bytes)));
        expected_prev = link;
        all.push(bytes);
    }

    for bad in arr(&rv["invalid_records"]) {
        let bytes = unhex(s(&bad["record_hex"]));
        let key = VerifierKey::parse(s(&bad["verifier_key"])).expect("key");
        match s(&bad["expect"]) {
            "malformed" => assert!(Record::decode(&bytes).is_err(), "must not decode: {}", bad["description"]),
            "bad_signature" => {
                let rec = Record::decode(&bytes).expect("well-formed");
                assert!(!rec.verify_signature(&key), "signature must fail: {}", bad["description"]);
                let (_, _, k) = parse_vkey_by_hand(&key.to_string());
                let sig = ed25519_dalek::Signature::from_bytes(&rec.signature);
                assert!(k.verify_strict(&Record::signed_message(&bytes[..bytes.len() - 64]), &sig).is_err());
            }
            other => panic!("unknown expectation {other}"),
        }
    }
    (all, vks)
}

fn check_merkle_file(mv: &Value, records: &[Vec<u8>]) -> Vec<Hash> {
    let empty: Hash = Sha256::digest([]).into();
    assert_eq!(s(&mv["empty_root_hex"]), relic_ledger::hex::encode(&empty));
    assert_eq!(s(&mv["empty_root_hex"]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for e in arr(&mv["stored_hash_index"]) {
        let (level, k, index) = (n(&e["level"]) as u32, n(&e["n"]), n(&e["index"]));
        // Closed form of Go's StoredHashIndex: n' = (n + 1) * 2^level - 1; index = 2n' - popcount(n') + level.
        let np = ((k + 1) << level) - 1;
        assert_eq!(index, 2 * np - u64::from(np.count_ones()) + u64::from(level));
        assert_eq!(merkle::stored_hash_index(level, k), index);
    }

    let check_tree = |t: &Value, leaves: &[Hash]| {
        for r in arr(&t["roots"]) {
            let size = n(&r["size"]) as usize;
            assert_eq!(s(&r["root_hex"]), relic_ledger::hex::encode(&mth(&leaves[..size])), "root at size {size}");
            let mut f = Frontier::new();
            leaves[..size].iter().for_each(|l| {
                f.push(*l);
            });
            assert_eq!(relic_ledger::hex::encode(&f.root()), s(&r["root_hex"]));
        }
        let root = |size: usize| mth(&leaves[..size]);
        for p in arr(&t["inclusion"]) {
            let (i, size) = (n(&p["index"]) as usize, n(&p["size"]) as usize);
            let hs = hashes_of(&p["proof_hex"]);
            assert_eq!(hs, path(i, &leaves[..size]), "PATH({i}, {size})");
            merkle::verify_inclusion(i as u64, size as u64, &leaves[i], &hs, &root(size)).expect("inclusion verifies");
        }
        for p in arr(&t["consistency"]) {
            let (m, size) = (n(&p["old_size"]) as usize, n(&p["new_size"]) as usize);
            let hs = hashes_of(&p["proof_hex"]);
            assert_eq!(hs, proof(m, &leaves[..size]), "PROOF({m}, {size})");
            merkle::verify_consistency(m as u64, size as u64, &root(m), &root(size), &hs).expect("consistency verifies");
        }
    };

    let rfc = &mv["rfc6962"];
    let rfc_leaves: Vec<Hash> = arr(&rfc["leaves_hex"]).iter().map(|l| leaf_by_hand(&unhex(s(l)))).collect();
    check_tree(rfc, &rfc_leaves);
    // Published RFC 6962 heads (Certificate Transparency test data) for sizes 1 and 8.
    assert_eq!(s(&rfc["roots"][1]["root_hex"]), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    assert_eq!(s(&rfc["roots"][8]["root_hex"]), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");

    let log = &mv["relic_log"];
    let leaves: Vec<Hash> = records.iter().map(|b| leaf_by_hand(b)).collect();
    assert_eq!(hashes_of(&log["leaf_hashes_hex"]), leaves);
    check_tree(log, &leaves);
    let stored = arr(&log["stored_hashes"]);
    for (i, e) in stored.iter().enumerate() {
        assert_eq!(n(&e["index"]), i as u64);
        let (level, k) = (n(&e["level"]) as u32, n(&e["n"]));
        assert_eq!(merkle::stored_hash_index(level, k), i as u64);
        let (first, last) = (n(&e["first_leaf"]) as usize, n(&e["last_leaf"]) as usize);
        assert_eq!((first, last), ((k as usize) << level, (((k + 1) as usize) << level) - 1));
        assert_eq!(s(&e["hash_hex"]), relic_ledger::hex::encode(&mth(&leaves[first..=last])), "stored hash {i}");
    }
    let mut next = 0u64;
    for a in arr(&log["appends"]) {
        let k = n(&a["seq"]);
        assert_eq!(n(&a["first_index"]), next, "appends are contiguous");
        assert_eq!(n(&a["first_index"]), 2 * k - u64::from(k.count_ones()));
        assert_eq!(n(&a["count"]), 1 + u64::from(k.trailing_ones()));
        next += n(&a["count"]);
    }
    assert_eq!(next as usize, stored.len());
    assert_eq!(next, merkle::stored_hash_count(records.len() as u64));
    stored.iter().map(|e| unhex32(s(&e["hash_hex"]))).collect()
}

/// Opens a signed note by hand: text, then for each signature line (name, key ID, signature).
fn open_note_by_hand(note_text: &str) -> (String, Vec<SigLine>) {
    let split = note_text.rfind("\n\n").expect("empty line");
    let (text, sigs) = (&note_text[..split + 1], &note_text[split + 2..]);
    let mut out = Vec::new();
    for line in sigs.strip_suffix('\n').expect("ends in newline").split('\n') {
        let rest = line.strip_prefix("\u{2014} ").expect("em dash and space");
        let (name, b64) = rest.split_once(' ').expect("name and signature");
        let raw = B64.decode(b64).expect("base64");
        assert_eq!(raw.len(), 68);
        out.push((name.to_string(), raw[..4].try_into().expect("4"), raw[4..].try_into().expect("64")));
    }
    (text.to_string(), out)
}

fn check_checkpoint_file(cv: &Value, records: &[Vec<u8>], vks: &[VerifierKey], rv: &Value) {
    let origin = s(&cv["origin"]);
    assert_eq!(cv["keys"], rv["keys"], "both files describe the same keys");
    let leaves: Vec<Hash> = records.iter().map(|b| leaf_by_hand(b)).collect();
    let mut notes = std::collections::BTreeMap::new();
    for c in arr(&cv["checkpoints"]) {
        let size = n(&c["size"]) as usize;
        let root = mth(&leaves[..size]);
        assert_eq!(s(&c["root_hex"]), relic_ledger::hex::encode(&root));
        assert_eq!(s(&c["root_base64"]), B64.encode(root));
        let body = format!("{origin}\n{size}\n{}\n", B64.encode(root));
        assert_eq!(s(&c["body"]), body);
        let note_text = s(&c["note"]);
        let (text, sigs) = open_note_by_hand(note_text);
        assert_eq!(text, body);
        assert_eq!(note_text, format!("{body}\n{}\n", s(&c["signature_line"])));
        assert_eq!(sigs.len(), 1);
        let (name, id, sig) = &sigs[0];
        let (vname, vid, vk) = parse_vkey_by_hand(s(&c["signer"]));
        assert_eq!((name, id), (&vname, &vid));
        assert_eq!(s(&c["signature_hex"]), relic_ledger::hex::encode(sig));
        vk.verify_strict(body.as_bytes(), &ed25519_dalek::Signature::from_bytes(sig)).expect("note signature verifies");
        let (cp, opened) = Checkpoint::open(note_text, vks).expect("relic opens the checkpoint");
        assert_eq!((cp.origin.as_str(), cp.size, cp.root), (origin, size as u64, root));
        assert_eq!(opened.verified_by.len(), 1);
        assert!(Checkpoint::open(note_text, &[]).is_err(), "no key, no checkpoint");
        notes.insert(size, note_text.to_string());
    }
    for p in arr(&cv["consistency_proofs"]) {
        let (m, size) = (n(&p["old_size"]) as usize, n(&p["new_size"]) as usize);
        let hs = hashes_of(&p["proof_hex"]);
        assert_eq!(hs, proof(m, &leaves[..size]));
        let text = s(&p["text"]);
        assert_eq!(text, hs.iter().map(|h| format!("{}\n", B64.encode(h))).collect::<String>());
        let parsed = checkpoint::parse_hash_lines(text.split('\n')).expect("hash lines");
        assert_eq!(parsed, hs);
        merkle::verify_consistency(m as u64, size as u64, &mth(&leaves[..m]), &mth(&leaves[..size]), &parsed).expect("verifies");
        if let (Some(old), Some(new)) = (notes.get(&m), notes.get(&size)) {
            checkpoint::verify_consistency_offline(old, new, &parsed, vks).expect("offline consistency check");
        }
    }
    for p in arr(&cv["tlog_proofs"]) {
        let text = s(&p["text"]);
        let record = unhex(s(&p["record_hex"]));
        assert_eq!(record, records[n(&p["record_seq"]) as usize]);
        // By hand: header, optional extra, index, hashes, empty line, checkpoint verbatim.
        let (head, cp_text) = text.split_once("\n\n").expect("empty line");
        let mut lines = head.split('\n');
        assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
        let mut line = lines.next().expect("line");
        match p["extra_hex"].as_str() {
            Some(e) => {
                assert_eq!(line, format!("extra {}", B64.encode(unhex(e))));
                line = lines.next().expect("index line");
            }
            None => assert!(p["extra_hex"].is_null()),
        }
        assert_eq!(line, format!("index {}", n(&p["index"])));
        let hs: Vec<Hash> = lines.map(|l| B64.decode(l).expect("b64").try_into().expect("32")).collect();
        assert_eq!(hs, hashes_of(&p["proof_hex"]));
        let size = n(&p["size"]) as usize;
        assert_eq!(cp_text, notes[&size], "the checkpoint is included verbatim");
        let i = n(&p["index"]) as usize;
        assert_eq!(hs, path(i, &leaves[..size]));
        let bundle = InclusionBundle::parse(text).expect("relic parses the tlog-proof");
        assert_eq!(bundle.to_text(), text);
        let cp = bundle.verify(&record, vks).expect("tlog-proof verifies");
        assert_eq!(cp.size, size as u64);
        // The same proof does not hold for any other record.
        for (j, other) in records.iter().enumerate() {
            if j != i {
                assert!(bundle.verify(other, vks).is_err());
            }
        }
    }
    for bad in arr(&cv["invalid_checkpoints"]) {
        let text = s(&bad["note"]);
        assert!(Checkpoint::open(text, vks).is_err(), "must be rejected: {}", bad["description"]);
        // "note": the signed note itself is rejected; "checkpoint": the note verifies, its body does not parse.
        match s(&bad["layer"]) {
            "note" => assert!(note::open(text, vks).is_err(), "note layer: {}", bad["description"]),
            "checkpoint" => assert!(note::open(text, vks).is_ok(), "checkpoint layer: {}", bad["description"]),
            other => panic!("unknown layer {other}"),
        }
    }
    for bad in arr(&cv["invalid_tlog_proofs"]) {
        let record = &records[n(&bad["record_seq"]) as usize];
        let ok = InclusionBundle::parse(s(&bad["text"])).map(|b| b.verify(record, vks).is_ok()).unwrap_or(false);
        assert!(!ok, "must be rejected: {}", bad["description"]);
    }
    for bad in arr(&cv["invalid_consistency_proofs"]) {
        let (m, size) = (n(&bad["old_size"]) as usize, n(&bad["new_size"]) as usize);
        let hs = checkpoint::parse_hash_lines(s(&bad["text"]).split('\n')).expect("hash lines");
        assert!(
            merkle::verify_consistency(m as u64, size as u64, &mth(&leaves[..m]), &mth(&leaves[..size]), &hs).is_err(),
            "must be rejected: {}",
            bad["description"]
        );
    }
}

/// Writes the vector log by hand into the files of schemas/store-v4.md (one commit entry per
/// record, then one for the checkpoints), or into the database of the older layouts
/// (schemas/store-v3.md: each record under its own `r` key and tiles; store-v2.md; store-v1.md: one
/// entry per hash), which `relic migrate` converts; then runs relic's full verification and read
/// path over it.
fn check_store_layout(version: u8, records: &[Vec<u8>], stored: &[Hash], rv: &Value, cv: &Value, sv: &Value, vks: &[VerifierKey]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let origin = s(&rv["origin"]);
    let keys_lines: String = arr(&rv["keys"]).iter().map(|k| format!("{} {}\n", n(&k["signs_from_seq"]), s(&k["verifier_key"]))).collect();
    if version == 4 {
        let log = dir.path().join("log");
        std::fs::create_dir(&log).expect("mkdir");
        let mut frames = Vec::new();
        let mut commits = Vec::new();
        let entry = |size: u64, records_end: u64, checkpoints_end: u64| {
            let mut e = Vec::new();
            e.extend_from_slice(&size.to_be_bytes());
            e.extend_from_slice(&records_end.to_be_bytes());
            e.extend_from_slice(&checkpoints_end.to_be_bytes());
            let leaves: Vec<Hash> = records[..size as usize].iter().map(|r| merkle::leaf_hash(r)).collect();
            e.extend_from_slice(&mth(&leaves));
            let check = *blake3::Hasher::new().update(b"relic/commit/v4\n").update(&e).finalize().as_bytes();
            e.extend_from_slice(&check[..8]);
            e
        };
        for (i, b) in records.iter().enumerate() {
            frames.extend_from_slice(&(b.len() as u32).to_be_bytes());
            frames.extend_from_slice(b);
            commits.extend(entry(i as u64 + 1, frames.len() as u64, 0));
        }
        // Each checkpoint stored: its frame, then an entry acknowledging it.
        let mut checkpoints = Vec::new();
        for c in arr(&cv["checkpoints"]) {
            let note = s(&c["note"]).as_bytes();
            checkpoints.extend_from_slice(&((8 + note.len()) as u32).to_be_bytes());
            checkpoints.extend_from_slice(&n(&c["size"]).to_be_bytes());
            checkpoints.extend_from_slice(note);
            commits.extend(entry(records.len() as u64, frames.len() as u64, checkpoints.len() as u64));
        }
        let hashes: Vec<u8> = stored.iter().flatten().copied().collect();
        for (name, bytes) in [
            ("format", &b"relic-log/4\n"[..]),
            ("origin", origin.as_bytes()),
            ("records", &frames),
            ("hashes", &hashes),
            ("commits", &commits),
            ("checkpoints", &checkpoints),
            ("keys", keys_lines.as_bytes()),
        ] {
            std::fs::write(log.join(name), bytes).expect("write");
            // Byte for byte what relic's own writer wrote for the same log (the vectors).
            if name != "format" && name != "origin" {
                assert_eq!(relic_ledger::hex::encode(bytes), s(&sv["files"][name]), "log/{name}: the spec's layout and relic's writer differ");
            }
        }
    } else {
        let db = relic_store::legacy::testing::RawDb::open(&dir.path().join("store"));
        let key = |p: u8, k: u64| {
            let mut v = vec![p];
            v.extend_from_slice(&k.to_be_bytes());
            v
        };
        for (i, b) in records.iter().enumerate() {
            db.put(key(b'r', i as u64), b.as_slice());
        }
        if version == 1 {
            for (i, h) in stored.iter().enumerate() {
                db.put(key(b'h', i as u64), &h[..]);
            }
        } else {
            // Tile (level, k): the hashes of level `level`, numbers 256k.., concatenated.
            let mut tiles: std::collections::BTreeMap<(u8, u64), Vec<u8>> = Default::default();
            for (i, h) in stored.iter().enumerate() {
                let (level, n) = merkle::split_stored_hash_index(i as u64);
                tiles.entry((level as u8, n / 256)).or_default().extend_from_slice(h);
            }
            for ((level, k), bytes) in tiles {
                let mut t = vec![b't', level];
                t.extend_from_slice(&k.to_be_bytes());
                db.put(t, bytes);
            }
        }
        for c in arr(&cv["checkpoints"]) {
            db.put(key(b'c', n(&c["size"])), s(&c["note"]).as_bytes());
        }
        let last = arr(&rv["records"]).last().expect("records");
        let mut head = (records.len() as u64).to_be_bytes().to_vec();
        head.extend_from_slice(blake3::hash(records.last().expect("records")).as_bytes());
        head.extend_from_slice(&last["time_us"].as_i64().expect("time").to_be_bytes());
        assert_eq!(head.len(), 48);
        let keys: Vec<Value> = arr(&rv["keys"])
            .iter()
            .map(|k| json!({"key": s(&k["verifier_key"]), "from_seq": n(&k["signs_from_seq"])}))
            .collect();
        db.put(b"mhead", head);
        db.put(b"mkeys", serde_json::to_vec(&keys).expect("json"));
        db.put(b"morigin", origin.as_bytes());
        db.put(b"mformat", format!("relic-store/v{version}").as_bytes());
        db.flush();
        drop(db);
        // Readers convert nothing: an older store is refused until it is migrated.
        let refused = relic_ledger::Ledger::open_read_only(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("run `relic migrate`"), "format {version}: {refused}");
        let from: Vec<String> = (version..=3).map(|v| format!("relic-store/v{v}")).collect();
        assert_eq!(relic_store::migrate::migrate(dir.path()).expect("migrates"), from);
        assert!(!dir.path().join("store").exists(), "the old store is removed");
        assert_eq!(std::fs::read_to_string(dir.path().join("log/keys")).expect("keys"), keys_lines, "the key list as specified");
    }
    let trusted = s(&cv["checkpoints"][1]["note"]);
    let report = relic_ledger::verify::verify_dir(dir.path(), &relic_ledger::verify::Options { trusted: Some(trusted), ..Default::default() }, &mut |_, _| {})
        .expect("store opens")
        .expect("the hand-written store passes full verification");
    assert_eq!(report.size, records.len() as u64);
    assert_eq!(report.checkpoints, arr(&cv["checkpoints"]).len() as u64);
    assert_eq!(report.keys.iter().map(|k| &k.key).collect::<Vec<_>>(), vks.iter().collect::<Vec<_>>());
    assert_eq!(report.keys.iter().map(|k| k.from_seq).collect::<Vec<_>>(), vec![0, 4]);

    let l = relic_ledger::Ledger::open_read_only(dir.path()).expect("opens read-only");
    assert_eq!(l.size(), records.len() as u64);
    assert!(l.notes().is_empty(), "format {version}: {:?}", l.notes());
    for p in arr(&cv["tlog_proofs"]) {
        let b = l.prove_inclusion(n(&p["index"]), Some(n(&p["size"]))).expect("proof");
        if p["extra_hex"].is_null() {
            assert_eq!(b.to_text(), s(&p["text"]), "relic serves the vector tlog-proof");
        }
    }
    for p in arr(&cv["consistency_proofs"]) {
        let hs = l.prove_consistency(n(&p["old_size"]), n(&p["new_size"])).expect("proof");
        assert_eq!(checkpoint::format_hash_lines(&hs), s(&p["text"]));
    }
    for c in arr(&cv["checkpoints"]) {
        assert_eq!(l.checkpoint(Some(n(&c["size"]))).expect("stored checkpoint").note, s(&c["note"]));
    }
}

#[test]
fn vectors() {
    let fx = fixture();
    let rv = write_or_compare("record-v1.json", &record_vectors(&fx));
    let mv = write_or_compare("merkle-v1.json", &merkle_vectors(&fx));
    let cv = write_or_compare("checkpoint-v1.json", &checkpoint_vectors(&fx));

    let (records, vks) = check_record_file(&rv);
    let stored = check_merkle_file(&mv, &records);
    check_checkpoint_file(&cv, &records, &vks, &rv);
    let sv = write_or_compare("store-v4.json", &store_vectors(&records, &rv, &cv));
    for version in [4, 3, 2, 1] {
        check_store_layout(version, &records, &stored, &rv, &cv, &sv, &vks);
    }
}

/// The vector log written by relic's own store (`relic_store::Store`: created with record 0, one
/// commit per further record, then each checkpoint stored), its files dumped in hex: what a reader
/// in another language can check its parsing of schemas/store-v4.md against.
fn store_vectors(records: &[Vec<u8>], rv: &Value, cv: &Value) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys: Vec<relic_ledger::chain::KeyEntry> = arr(&rv["keys"])
        .iter()
        .map(|k| relic_ledger::chain::KeyEntry { key: VerifierKey::parse(s(&k["verifier_key"])).expect("key"), from_seq: n(&k["signs_from_seq"]) })
        .collect();
    let keys_at = |size: u64| keys.iter().filter(|k| k.from_seq <= size).cloned().collect::<Vec<_>>();
    let mut tree = relic_store::TreeWriter::default();
    let mut group = relic_store::Group::new();
    group.push_record(&records[0]);
    tree.push(&records[0]);
    tree.write(&mut group);
    group.set_keys(&keys_at(1));
    relic_store::Store::create(dir.path(), s(&rv["origin"]), group, false).expect("create");
    let store = relic_store::Store::open(dir.path(), relic_store::Mode::Write).expect("open");
    for (i, r) in records.iter().enumerate().skip(1) {
        let mut group = relic_store::Group::new();
        group.push_record(r);
        tree.push(r);
        tree.write(&mut group);
        let size = i as u64 + 1;
        if keys_at(size).len() != keys_at(size - 1).len() {
            group.set_keys(&keys_at(size));
        }
        store.commit(group).expect("commit");
    }
    for c in arr(&cv["checkpoints"]) {
        store.put_checkpoint(n(&c["size"]), s(&c["note"])).expect("checkpoint");
    }
    drop(store);
    let file = |name: &str| relic_ledger::hex::encode(&std::fs::read(dir.path().join("log").join(name)).expect("file"));
    json!({
        "description": "The 5-record log of record-v1.json in the files of store-v4.md, as relic writes it: created with record 0, one commit entry per further record, then one per stored checkpoint (checkpoint-v1.json's, in its order). Each file's bytes in hex.",
        "origin": s(&rv["origin"]),
        "format": relic_ledger::hex::encode(b"relic-log/4\n"),
        "files": {
            "records": file("records"),
            "hashes": file("hashes"),
            "commits": file("commits"),
            "checkpoints": file("checkpoints"),
            "keys": file("keys"),
        },
    })
}

/// A real ledger of 150 records, read by hand as schemas/store-v4.md says (frames in `records`,
/// commit entries in `commits` with their check values, the tree hashes in `hashes`), holds exactly
/// the records relic reads, each linked to the one before it, and every commit entry acknowledges
/// a prefix of them with its tree head.
#[test]
fn a_real_store_follows_the_documented_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = relic_ledger::Ledger::init(dir.path(), "layout.test/log", relic_ledger::policy::unchecked()).expect("init");
    let draft = |i: usize| relic_ledger::Draft {
        actor: relic_ledger::Actor { id: "a".into(), role: "owner".into() },
        kind: "release.deleted".into(),
        subject: format!("p@v{i}"),
        payload: format!("{{\"project\":\"p\",\"tag_name\":\"v{i}\"}}").into_bytes(),
        schema_version: 1,
    };
    l.append_all_blocking((1..100).map(draft).collect()).expect("append");
    for i in 100..150 {
        l.append_blocking(draft(i)).expect("append");
    }
    l.checkpoint(None).expect("checkpoint");
    let relic_reads: Vec<Vec<u8>> = l.records(0).map(|r| r.expect("read").1).collect();
    l.close();

    let log = dir.path().join("log");
    assert_eq!(std::fs::read(log.join("format")).expect("format"), b"relic-log/4\n");
    let file = std::fs::read(log.join("records")).expect("records");
    let mut by_hand: Vec<Vec<u8>> = Vec::new();
    let mut ends = vec![0u64];
    let mut rest = &file[..];
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().expect("length")) as usize;
        by_hand.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
        ends.push(ends.last().expect("an end") + 4 + len as u64);
    }
    assert_eq!(by_hand, relic_reads);
    for (i, b) in by_hand.iter().enumerate().skip(1) {
        let rec = Record::decode(b).expect("decodes");
        assert_eq!(rec.seq, i as u64);
        assert_eq!(rec.prev, *blake3::hash(&by_hand[i - 1]).as_bytes());
    }
    let commits = std::fs::read(log.join("commits")).expect("commits");
    assert_eq!(commits.len() % 64, 0);
    let entries: Vec<&[u8]> = commits.chunks(64).collect();
    // init, the group of 99, 50 single appends, the checkpoint.
    assert_eq!(entries.len(), 1 + 1 + 50 + 1);
    let u = |e: &[u8], at: usize| u64::from_be_bytes(e[at..at + 8].try_into().expect("u64"));
    let mut sizes = Vec::new();
    for e in &entries {
        let check = *blake3::Hasher::new().update(b"relic/commit/v4\n").update(&e[..56]).finalize().as_bytes();
        assert_eq!(e[56..], check[..8]);
        let size = u(e, 0);
        assert_eq!(u(e, 8), ends[size as usize], "entry at size {size} ends where record {} ends", size - 1);
        let leaves: Vec<Hash> = by_hand[..size as usize].iter().map(|r| merkle::leaf_hash(r)).collect();
        assert_eq!(e[24..56], mth(&leaves), "entry at size {size} holds the tree head");
        sizes.push(size);
    }
    assert_eq!(sizes[..3], [1, 100, 101]);
    assert_eq!(*sizes.last().expect("last"), 150);
    assert_eq!(u(entries[entries.len() - 2], 16), 0, "no checkpoint before the last entry");
    let checkpoints = std::fs::read(log.join("checkpoints")).expect("checkpoints");
    assert_eq!(u(entries[entries.len() - 1], 16), checkpoints.len() as u64, "the last entry acknowledges the checkpoint");
    assert_eq!(u(&checkpoints, 4), 150, "the checkpoint frame's size");
    let hashes = std::fs::read(log.join("hashes")).expect("hashes");
    assert_eq!(hashes.len() as u64, merkle::stored_hash_count(150) * 32);
    let mut f = merkle::Frontier::new();
    let recomputed: Vec<u8> = by_hand.iter().flat_map(|b| f.push(merkle::leaf_hash(b))).flatten().collect();
    assert_eq!(hashes, recomputed, "the tree hashes in stored-hash-index order");
}

/// A real ledger writes record 0 and `key.rotated` exactly in the shape the vectors use.
#[test]
fn ledger_writes_the_documented_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = relic_ledger::Ledger::init(dir.path(), ORIGIN, relic_ledger::policy::unchecked()).expect("init");
    let k1 = l.verifier_key().expect("key");
    let r0 = l.record(0).expect("record 0");
    assert_eq!((r0.seq, r0.kind.as_str(), r0.subject.as_str(), r0.schema_version), (0, "ledger.created", ORIGIN, 1));
    assert_eq!((r0.actor.id.as_str(), r0.actor.role.as_str()), ("relic", "system"));
    assert_eq!(r0.prev, *blake3::Hasher::new().update(GENESIS_CONTEXT).update(ORIGIN.as_bytes()).finalize().as_bytes());
    assert_eq!(r0.key_id, k1.key_id);
    assert_eq!(String::from_utf8(r0.payload.clone()).expect("utf8"), format!(r#"{{"key":"{k1}","origin":"{ORIGIN}"}}"#));
    assert!(r0.verify_signature(&k1));

    let draft = relic_ledger::Draft {
        actor: Actor { id: "alice".into(), role: "maintainer".into() },
        kind: "release.created".into(),
        subject: "group/project@v1.0".into(),
        payload: br#"{ "tag_name": "v1.0", "name": "Release 1.0" }"#.to_vec(),
        schema_version: 1,
    };
    assert_eq!(l.append_blocking(draft.clone()).expect("append").seq, 1);
    let r1 = l.record(1).expect("record 1");
    assert_eq!(r1.payload, br#"{"name":"Release 1.0","tag_name":"v1.0"}"#, "payloads are stored canonical");
    assert_eq!(r1.prev, *blake3::hash(&l.record_bytes(0).expect("bytes")).as_bytes());

    let (receipt, k2) = l.rotate_key_blocking(Actor { id: "alice".into(), role: "owner".into() }).expect("rotate");
    assert_eq!(receipt.seq, 2);
    let r2 = l.record(2).expect("record 2");
    assert_eq!((r2.kind.as_str(), r2.subject.as_str(), r2.key_id), ("key.rotated", ORIGIN, k1.key_id));
    assert_eq!(
        String::from_utf8(r2.payload.clone()).expect("utf8"),
        format!(r#"{{"new_key":"{k2}","previous_key":"{k1}"}}"#)
    );
    assert!(r2.verify_signature(&k1), "key.rotated is signed by the outgoing key");
    assert_eq!(l.append_blocking(draft).expect("append").seq, 3);
    let r3 = l.record(3).expect("record 3");
    assert_eq!(r3.key_id, k2.key_id);
    assert!(r3.verify_signature(&k2), "records after key.rotated are signed by the new key");
    assert_eq!(l.keys().iter().map(|k| k.from_seq).collect::<Vec<_>>(), vec![0, 3]);

    let cp = l.checkpoint(None).expect("checkpoint");
    assert_eq!(cp.note, note::sign(&cp.checkpoint.body(), &keys_file_signer(dir.path(), &k2)).expect("sign"));
    let bundle = l.prove_inclusion(1, None).expect("proof");
    bundle.verify(&l.record_bytes(1).expect("bytes"), std::slice::from_ref(&k2)).expect("verifies");
    drop(l);
    relic_ledger::verify::verify_dir(dir.path(), &relic_ledger::verify::Options { trusted: Some(&cp.note), ..Default::default() }, &mut |_, _| {}).expect("opens").expect("verifies");
}

/// Reads the private key file of `vk` (checking its mode is 0600) and returns the signer.
fn keys_file_signer(data: &Path, vk: &VerifierKey) -> SignerKey {
    use std::os::unix::fs::PermissionsExt as _;
    let path = data.join("keys").join(format!("{}.key", relic_ledger::hex::encode(&vk.key_id)));
    assert_eq!(std::fs::metadata(&path).expect("key file").permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.starts_with(&format!("PRIVATE+KEY+{ORIGIN}+{}+", relic_ledger::hex::encode(&vk.key_id))) && text.ends_with('\n'));
    let k = SignerKey::parse(text.trim_end()).expect("parse");
    assert_eq!(k.verifier(), vk);
    k
}
