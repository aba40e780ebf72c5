//! The `relic` command line end to end: every command, every kind of bad input, and the offline
//! checks an auditor runs with nothing but the verifier key.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use relic_ledger::ledger::store_path;
use relic_ledger::store::{Store, META_ORIGIN};
use relic_tests::{relic, Output};

const ORIGIN: &str = "cli.test/log";

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

/// Asserts a one-line failure with exit code 1 whose message contains `needle`.
fn fails(o: Output, needle: &str) {
    assert_eq!(o.code, 1, "expected failure containing {needle:?}; stdout: {}", o.stdout_text());
    assert!(o.stderr.starts_with("relic: error: "), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "one line per failure: {}", o.stderr);
    assert!(o.stderr.contains(needle), "expected {needle:?} in {}", o.stderr);
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, content).unwrap();
    p
}

fn append(data: &Path, payload: &Path, kind: &str) -> Output {
    relic(
        data,
        &["append", "--kind", kind, "--subject", "acme/app@v1.0", "--actor", "alice", "--role", "maintainer", "--payload", payload.to_str().unwrap()],
    )
}

fn size(data: &Path) -> usize {
    ok(relic(data, &["log", "--json"])).lines().count()
}

fn init(data: &Path) -> String {
    ok(relic(data, &["init", "--origin", ORIGIN])).trim().to_string()
}

#[test]
fn init_creates_a_private_key_and_prints_the_verifier_key() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    let vkey = init(&data);
    assert!(vkey.starts_with(&format!("{ORIGIN}+")), "{vkey}");
    assert_eq!(ok(relic(&data, &["key"])).trim(), vkey);
    let keys: Vec<_> = fs::read_dir(data.join("keys")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(fs::metadata(&keys[0]).unwrap().permissions().mode() & 0o777, 0o600);
    // The private key appears in no output.
    let secret = fs::read_to_string(&keys[0]).unwrap();
    // `PRIVATE+KEY+<name>+<key id>+<base64>`: the base64 may itself contain '+', so split from the left.
    let secret_b64 = secret.trim().splitn(5, '+').nth(4).unwrap().to_string();
    assert!(secret.starts_with("PRIVATE+KEY+") && secret_b64.len() >= 44, "{secret_b64}");
    for args in [&["key"][..], &["key", "--all"], &["log", "--json"], &["checkpoint"], &["record", "0"]] {
        assert!(!relic(&data, args).stdout_text().contains(&secret_b64), "{args:?} printed the private key");
    }
    fails(relic(&data, &["init", "--origin", ORIGIN]), "already exists");
    fails(relic(&t.path().join("e"), &["init", "--origin", "has space"]), "invalid origin");
    fails(relic(&t.path().join("e"), &["init", "--origin", "a+b"]), "invalid origin");
    fails(relic(&t.path().join("none"), &["log"]), "no ledger at");
}

#[test]
fn bad_input_is_refused_with_one_line_and_nothing_is_appended() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let good = write(t.path(), "good.json", br#"{"tag_name": "v1.0"}"#);
    assert_eq!(ok(append(&data, &good, "release.created")).trim(), "1");
    let before = size(&data);

    fails(append(&data, &write(t.path(), "bad.json", b"{\"tag_name\": "), "release.created"), "malformed JSON");
    fails(append(&data, &write(t.path(), "arr.json", b"[1, 2]"), "release.created"), "must be a JSON object");
    fails(append(&data, &good, "release.exploded"), "unknown kind \"release.exploded\"");
    fails(append(&data, &good, "Release"), "unknown kind");
    fails(append(&data, &good, "key.rotated"), "written by the ledger itself");
    fails(append(&data, &good, "ledger.created"), "written by the ledger itself");
    let big = format!("{{\"description\": \"{}\"}}", "x".repeat(1 << 20));
    fails(append(&data, &write(t.path(), "big.json", big.as_bytes()), "release.created"), "the limit is 1048576");
    fails(append(&data, &t.path().join("absent.json"), "release.created"), "absent.json");
    let bad_role = relic(&data, &["append", "--kind", "release.created", "--subject", "a@b", "--actor", "x", "--role", "admin", "--payload", good.to_str().unwrap()]);
    fails(bad_role, "\"admin\" is not one of");
    let no_subject = relic(&data, &["append", "--kind", "release.created", "--subject", "", "--actor", "x", "--role", "owner", "--payload", good.to_str().unwrap()]);
    fails(no_subject, "subject: must not be empty");
    // A missing --actor is a usage error (exit 2), unless RELIC_ACTOR provides it.
    if std::env::var_os("RELIC_ACTOR").is_none() {
        let o = relic(&data, &["append", "--kind", "release.created", "--subject", "a@b", "--role", "owner", "--payload", good.to_str().unwrap()]);
        assert_eq!(o.code, 2, "{}", o.stderr);
    }
    assert_eq!(size(&data), before, "a refused append changed the log");
    assert_eq!(ok(relic(&data, &["verify"])).lines().count(), 1);
}

#[test]
fn missing_wrong_or_exposed_key_refuses_appends() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    init(&a);
    init(&b);
    let good = write(t.path(), "good.json", br#"{"x": 1}"#);
    let key_of = |d: &Path| fs::read_dir(d.join("keys")).unwrap().next().unwrap().unwrap().path();
    let (ka, kb) = (key_of(&a), key_of(&b));
    let saved = fs::read(&ka).unwrap();

    fs::set_permissions(&ka, fs::Permissions::from_mode(0o644)).unwrap();
    fails(append(&a, &good, "release.created"), "chmod 600");
    fs::set_permissions(&ka, fs::Permissions::from_mode(0o600)).unwrap();

    // Another ledger's key under this ledger's key file name.
    fs::write(&ka, fs::read(&kb).unwrap()).unwrap();
    fails(append(&a, &good, "release.created"), "not the ledger's current key");

    fs::remove_file(&ka).unwrap();
    fails(append(&a, &good, "release.created"), "is missing");
    fails(relic(&a, &["checkpoint"]), "is missing");

    fs::write(&ka, saved).unwrap();
    fs::set_permissions(&ka, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(size(&a), 1, "nothing was appended while the key was wrong");
    ok(append(&a, &good, "release.created"));
}

#[test]
fn a_store_of_another_origin_or_a_corrupt_store_is_named() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    init(&a);
    ok(relic(&b, &["init", "--origin", "other.test/log"]));
    let cp_b = write(t.path(), "b.cp", &relic(&b, &["checkpoint"]).stdout);
    fails(relic(&a, &["verify", "--trusted", cp_b.to_str().unwrap()]), "it is for origin \"other.test/log\"");

    // A store whose metadata claims another origin: record 0 gives it away.
    let s = Store::open(&store_path(&a), false).unwrap();
    s.db.insert(META_ORIGIN, &b"other.test/log"[..]).unwrap();
    s.flush().unwrap();
    drop(s);
    fails(relic(&a, &["verify"]), "record 0: predecessor link does not match the genesis link");

    // Garbage in sled's files: a clear error, never a panic or a silent success.
    let db = store_path(&b).join("db");
    let mut bytes = fs::read(&db).unwrap();
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(31) ^ 0x5a;
    }
    fs::write(&db, bytes).unwrap();
    let o = relic(&b, &["verify"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

#[test]
fn proofs_verify_offline_with_the_key_alone() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    let vkey = init(&data);
    let p = write(t.path(), "p.json", br#"{"tag_name": "v1.0"}"#);
    for _ in 0..12 {
        ok(append(&data, &p, "release.created"));
    }
    let rec = write(t.path(), "rec5", &relic(&data, &["record", "5", "--raw"]).stdout);
    let proof = write(t.path(), "5.tlog-proof", &relic(&data, &["prove", "inclusion", "5", "--size", "9"]).stdout);
    let text = fs::read_to_string(&proof).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 5\n"), "{text}");
    let out = ok(relic(&data, &["verify-proof", "--key", &vkey, "--proof", proof.to_str().unwrap(), "--record", rec.to_str().unwrap()]));
    assert!(out.contains("record 5 is in cli.test/log at tree size 9"), "{out}");

    // A key file works too; a record of another position, an altered proof or another key do not.
    let kfile = write(t.path(), "vkey", vkey.as_bytes());
    ok(relic(&data, &["verify-proof", "--key", kfile.to_str().unwrap(), "--proof", proof.to_str().unwrap(), "--record", rec.to_str().unwrap()]));
    let rec6 = write(t.path(), "rec6", &relic(&data, &["record", "6", "--raw"]).stdout);
    fails(relic(&data, &["verify-proof", "--key", &vkey, "--proof", proof.to_str().unwrap(), "--record", rec6.to_str().unwrap()]), "proof does not verify");
    let line = text.lines().nth(2).unwrap();
    let flipped = match line.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &line[1..]),
    };
    let bad = write(t.path(), "bad.tlog-proof", text.replacen(line, &flipped, 1).as_bytes());
    fails(relic(&data, &["verify-proof", "--key", &vkey, "--proof", bad.to_str().unwrap(), "--record", rec.to_str().unwrap()]), "proof does not verify");
    let other = t.path().join("other");
    let other_key = init(&other);
    fails(relic(&data, &["verify-proof", "--key", &other_key, "--proof", proof.to_str().unwrap(), "--record", rec.to_str().unwrap()]), "no signature by a known key");

    // Consistency, both ways round.
    let old = write(t.path(), "old.cp", &relic(&data, &["checkpoint", "--size", "4"]).stdout);
    let new = write(t.path(), "new.cp", &relic(&data, &["checkpoint"]).stdout);
    let cons = write(t.path(), "cons", &relic(&data, &["prove", "consistency", "4", "13"]).stdout);
    let (o, n, c) = (old.to_str().unwrap(), new.to_str().unwrap(), cons.to_str().unwrap());
    let out = ok(relic(&data, &["verify-consistency", "--key", &vkey, "--old", o, "--new", n, "--proof", c]));
    assert!(out.contains("at size 4 is a prefix of size 13"), "{out}");
    fails(relic(&data, &["verify-consistency", "--key", &vkey, "--old", n, "--new", o, "--proof", c]), "larger than new tree size");
    fails(relic(&data, &["prove", "inclusion", "13"]), "not in a tree of size 13");
    fails(relic(&data, &["checkpoint", "--size", "14"]), "past the end of the log");
    fails(relic(&data, &["record", "13"]), "record 13 does not exist");
}

#[test]
fn trusted_checkpoint_proves_growth_and_catches_a_fork() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let p = write(t.path(), "p.json", br#"{"n": 1}"#);
    for _ in 0..5 {
        ok(append(&data, &p, "release.updated"));
    }
    let saved = write(t.path(), "saved.cp", &relic(&data, &["checkpoint"]).stdout);
    // A copy of the ledger, with its key, that goes its own way: a fork.
    let fork = t.path().join("fork");
    copy_dir(&data, &fork);
    for _ in 0..3 {
        ok(append(&data, &p, "release.updated"));
    }
    let out = ok(relic(&data, &["verify", "--trusted", saved.to_str().unwrap()]));
    assert!(out.contains("the trusted checkpoint at size 6 is a prefix of this log"), "{out}");

    ok(append(&fork, &write(t.path(), "q.json", br#"{"n": 2}"#), "release.updated"));
    for _ in 0..4 {
        ok(append(&fork, &p, "release.updated"));
    }
    let forked = write(t.path(), "fork.cp", &relic(&fork, &["checkpoint", "--size", "8"]).stdout);
    fails(relic(&data, &["verify", "--trusted", forked.to_str().unwrap()]), "the log has forked");
    let longer = write(t.path(), "longer.cp", &relic(&fork, &["checkpoint"]).stdout);
    fails(relic(&data, &["verify", "--trusted", longer.to_str().unwrap()]), "truncated or replaced");
    let garbage = write(t.path(), "garbage.cp", b"not a checkpoint");
    fails(relic(&data, &["verify", "--trusted", garbage.to_str().unwrap()]), "trusted checkpoint");
}

#[test]
fn key_rotation_is_a_record_and_old_proofs_still_verify() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    let k0 = init(&data);
    let p = write(t.path(), "p.json", br#"{"n": 1}"#);
    ok(append(&data, &p, "release.updated"));
    let old_cp = write(t.path(), "old.cp", &relic(&data, &["checkpoint"]).stdout);
    let k1 = ok(relic(&data, &["key", "rotate", "--actor", "alice", "--role", "owner"])).trim().to_string();
    assert_ne!(k0, k1);
    assert_eq!(ok(relic(&data, &["key"])).trim(), k1);
    let all = ok(relic(&data, &["key", "--all"]));
    assert!(all.contains(&format!("{k0}\tfrom record 0")) && all.contains(&format!("{k1}\tfrom record 3")), "{all}");
    // A malformed actor is refused before any key file is written.
    let keys_before = fs::read_dir(data.join("keys")).unwrap().count();
    fails(relic(&data, &["key", "rotate", "--actor", "", "--role", "owner"]), "actor: must not be empty");
    fails(relic(&data, &["key", "rotate", "--actor", "eve", "--role", "root"]), "\"root\" is not one of");
    assert_eq!(fs::read_dir(data.join("keys")).unwrap().count(), keys_before);
    let rotated = ok(relic(&data, &["record", "2"]));
    assert!(rotated.contains("\"kind\": \"key.rotated\"") && rotated.contains(&k1), "{rotated}");
    ok(append(&data, &p, "release.updated"));
    let out = ok(relic(&data, &["verify", "--trusted", old_cp.to_str().unwrap()]));
    assert!(out.contains("2 signing key(s)"), "{out}");
    let strict = ok(relic(&data, &["verify", "--strict", "--key", &k0]));
    assert!(strict.contains("ok: 4 records"), "{strict}");
    let stranger = init(&t.path().join("stranger"));
    fails(relic(&data, &["verify", "--key", &stranger]), "is not in this log's key history");

    // New checkpoints are signed by the new key only; the old key still checks old checkpoints.
    let new_cp = write(t.path(), "new.cp", &relic(&data, &["checkpoint"]).stdout);
    let cons = write(t.path(), "cons", &relic(&data, &["prove", "consistency", "2", "4"]).stdout);
    let (o, n, c) = (old_cp.to_str().unwrap(), new_cp.to_str().unwrap(), cons.to_str().unwrap());
    fails(relic(&data, &["verify-consistency", "--key", &k0, "--old", o, "--new", n, "--proof", c]), "no signature by a known key");
    ok(relic(&data, &["verify-consistency", "--key", &k0, "--key", &k1, "--old", o, "--new", n, "--proof", c]));
}

#[test]
fn log_and_record_print_json_and_raw_bytes() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    ok(append(&data, &write(t.path(), "p.json", br#"{ "tag_name": "v1.0", "name": "One" }"#), "release.created"));
    let lines: Vec<serde_json::Value> =
        ok(relic(&data, &["log", "--json"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "ledger.created");
    assert_eq!(lines[1]["payload"], serde_json::json!({"name": "One", "tag_name": "v1.0"}));
    assert_eq!(lines[1]["actor"], serde_json::json!({"id": "alice", "role": "maintainer"}));
    assert_eq!(lines[1]["seq"], 1);
    let from1 = ok(relic(&data, &["log", "--from", "1"]));
    assert_eq!(from1.lines().count(), 1);
    assert!(from1.contains("release.created") && from1.contains("acme/app@v1.0"), "{from1}");
    let raw = relic(&data, &["record", "1", "--raw"]).stdout;
    let decoded = relic_ledger::Record::decode(&raw).unwrap();
    assert_eq!(decoded.seq, 1);
    assert_eq!(decoded.payload, br#"{"name":"One","tag_name":"v1.0"}"#);
    let kinds = ok(relic(&data, &["kinds"]));
    assert!(kinds.contains("release.created v1") && kinds.contains("key.rotated v1  (written by the ledger)"));
}

#[test]
fn demo_records_a_history_and_verifies_it() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("relic-data");
    let out = ok(relic(&data, &["demo"]));
    assert!(out.contains("signed checkpoint:") && out.contains("verify: ok"), "{out}");
    for kind in ["release.created", "evidence.collected", "freeze.created", "access.denied", "internal.disclosed", "key.rotated"] {
        assert!(out.contains(kind), "demo lacks {kind}");
    }
    ok(relic(&data, &["verify"]));
    let page = ok(relic(&data, &["report", "compliance", "--format", "html"]));
    assert!(page.contains("<svg") && page.contains("IR-2026-001"), "the report draws the internal release's timeline");
    // The first report verified the whole log and saved where it stopped; the next one starts there.
    let report = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["report", "compliance", "--format", "json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(relic(&data, &args))).unwrap()
    };
    let next = report(&[]);
    let size = next["log"]["tree_size"].as_u64().unwrap();
    assert_eq!(next["integrity"]["verified"], true);
    assert_eq!((next["integrity"]["mode"].as_str(), next["integrity"]["verified_before"].as_u64()), (Some("incremental"), Some(size)));
    assert_eq!(next["integrity"]["records_verified_now"], 0);
    let full = report(&["--full-verify"]);
    assert_eq!((full["integrity"]["mode"].as_str(), full["integrity"]["records_verified_now"].as_u64()), (Some("full"), Some(size)));
    assert_eq!(full["integrity"]["verified_before"], 0);
    fails(relic(&data, &["demo"]), "already exists");

    // A command takes its state from the view store and leaves the views up to date with what it
    // appended; a view store sled cannot open is started again from the log, and nothing is lost.
    let status = || -> serde_json::Value { serde_json::from_str(&ok(relic(&data, &["projections", "status", "--json"]))).unwrap() };
    ok(relic(&data, &["project", "register", "--project", "acme/new", "--name", "New", "--actor", "ann"]));
    let s = status();
    assert_eq!(s["applied"], s["log_size"], "{s}");
    fs::write(data.join("views").join("conf"), b"not sled's").unwrap();
    ok(relic(&data, &["project", "register", "--project", "acme/newer", "--name", "Newer", "--actor", "ann"]));
    let s = status();
    assert_eq!(s["applied"], s["log_size"], "{s}");
    fails(relic(&data, &["project", "register", "--project", "acme/new", "--name", "Again", "--actor", "ann"]), "Project already exists");
    ok(relic(&data, &["verify"]));
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}
