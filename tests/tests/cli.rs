//! The `relic` command line end to end: every command, every kind of bad input, and the offline
//! checks an auditor runs with nothing but the verifier key.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use relic_ledger::layout;
use relic_tests::{copy_dir, relic, Output};

const ORIGIN: &str = "cli.test/log";

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

/// Asserts a one-line failure with exit code 1 whose message contains `needle`.
fn fails(o: Output, needle: &str) {
    assert_ne!(o.code, 0, "expected failure containing {needle:?}; stdout: {}", o.stdout_text());
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
    relic(data, &["append", "--kind", kind, "--subject", "acme/app@v1.0", "--actor", "alice", "--payload", payload.to_str().unwrap()])
}

/// A valid `deployment.recorded` payload (a kind without rules, so `relic append` writes it) for
/// `acme/app@v1.0`; `environment` tells two apart.
fn deployment(dir: &Path, environment: &str) -> PathBuf {
    let body = serde_json::json!({"project": "acme/app", "tag_name": "v1.0", "environment": environment, "status": "success"});
    write(dir, &format!("{environment}.json"), body.to_string().as_bytes())
}

fn size(data: &Path) -> usize {
    ok(relic(data, &["log", "--json"])).lines().count()
}

/// A new ledger (record 0) with project `acme/app` registered by alice, its owner (record 1).
/// Returns the verifier key.
fn init(data: &Path) -> String {
    let key = ok(relic(data, &["init", "--origin", ORIGIN])).trim().to_string();
    ok(relic(data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    key
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
    let good = deployment(t.path(), "production");
    assert_eq!(ok(append(&data, &good, "deployment.recorded")).trim(), "2");
    let before = size(&data);

    fails(append(&data, &write(t.path(), "bad.json", b"{\"tag_name\": "), "deployment.recorded"), "malformed JSON");
    fails(append(&data, &write(t.path(), "arr.json", b"[1, 2]"), "deployment.recorded"), "must be a JSON object");
    fails(append(&data, &good, "release.exploded"), "unknown kind \"release.exploded\"");
    fails(append(&data, &good, "Release"), "invalid kind: \"Release\" is not of the form");
    fails(append(&data, &good, "key.rotated"), "written by the ledger itself");
    fails(append(&data, &good, "ledger.created"), "written by the ledger itself");
    let big = format!("{{\"description\": \"{}\"}}", "x".repeat(1 << 20));
    fails(append(&data, &write(t.path(), "big.json", big.as_bytes()), "deployment.recorded"), "the limit is 1048576");
    fails(append(&data, &t.path().join("absent.json"), "deployment.recorded"), "absent.json");
    let no_subject = relic(&data, &["append", "--kind", "deployment.recorded", "--subject", "", "--actor", "x", "--payload", good.to_str().unwrap()]);
    fails(no_subject, "subject: must not be empty");
    // A missing --actor is a usage error (exit 2), unless RELIC_ACTOR provides it.
    if std::env::var_os("RELIC_ACTOR").is_none() {
        let o = relic(&data, &["append", "--kind", "deployment.recorded", "--subject", "a@b", "--payload", good.to_str().unwrap()]);
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
    let good = deployment(t.path(), "production");
    let key_of = |d: &Path| fs::read_dir(d.join("keys")).unwrap().next().unwrap().unwrap().path();
    let (ka, kb) = (key_of(&a), key_of(&b));
    let saved = fs::read(&ka).unwrap();

    fs::set_permissions(&ka, fs::Permissions::from_mode(0o644)).unwrap();
    fails(append(&a, &good, "deployment.recorded"), "chmod 600");
    fs::set_permissions(&ka, fs::Permissions::from_mode(0o600)).unwrap();

    // Another ledger's key under this ledger's key file name.
    fs::write(&ka, fs::read(&kb).unwrap()).unwrap();
    fails(append(&a, &good, "deployment.recorded"), "not the ledger's current key");

    fs::remove_file(&ka).unwrap();
    fails(append(&a, &good, "deployment.recorded"), "is missing");
    fails(relic(&a, &["checkpoint"]), "is missing");

    fs::write(&ka, saved).unwrap();
    fs::set_permissions(&ka, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(size(&a), 2, "nothing was appended while the key was wrong");
    ok(append(&a, &good, "deployment.recorded"));
}

#[test]
fn a_store_of_another_origin_or_a_corrupt_store_is_named() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    init(&a);
    ok(relic(&b, &["init", "--origin", "other.test/log"]));
    let cp_b = write(t.path(), "b.cp", &relic(&b, &["checkpoint"]).stdout);
    fails(relic(&a, &["verify", "--trusted", cp_b.to_str().unwrap()]), "it is for origin \"other.test/log\"");

    // A log whose origin file claims another origin: record 0 gives it away.
    fs::write(a.join(layout::DIR).join("origin"), b"other.test/log").unwrap();
    fails(relic(&a, &["verify"]), "record 0: predecessor link does not match the genesis link");

    // Garbage in the commit entries: a clear error naming the file, never a panic or a silent success.
    let commits = b.join(layout::DIR).join(layout::COMMITS);
    let mut bytes = fs::read(&commits).unwrap();
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(31) ^ 0x5a;
    }
    fs::write(&commits, bytes).unwrap();
    let o = relic(&b, &["verify"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

#[test]
fn proofs_verify_offline_with_the_key_alone() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    let vkey = init(&data);
    let p = deployment(t.path(), "production");
    for _ in 0..11 {
        ok(append(&data, &p, "deployment.recorded"));
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
    let p = deployment(t.path(), "production");
    for _ in 0..4 {
        ok(append(&data, &p, "deployment.recorded"));
    }
    let saved = write(t.path(), "saved.cp", &relic(&data, &["checkpoint"]).stdout);
    // A copy of the ledger, with its key, that goes its own way: a fork.
    let fork = t.path().join("fork");
    copy_dir(&data, &fork);
    for _ in 0..3 {
        ok(append(&data, &p, "deployment.recorded"));
    }
    let out = ok(relic(&data, &["verify", "--trusted", saved.to_str().unwrap()]));
    assert!(out.contains("the trusted checkpoint at size 6 is a prefix of this log"), "{out}");

    ok(append(&fork, &deployment(t.path(), "staging"), "deployment.recorded"));
    for _ in 0..4 {
        ok(append(&fork, &p, "deployment.recorded"));
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
    let p = deployment(t.path(), "production");
    ok(append(&data, &p, "deployment.recorded"));
    let old_cp = write(t.path(), "old.cp", &relic(&data, &["checkpoint"]).stdout);
    let k1 = ok(relic(&data, &["key", "rotate", "--actor", "alice"])).trim().to_string();
    assert_ne!(k0, k1);
    assert_eq!(ok(relic(&data, &["key"])).trim(), k1);
    let all = ok(relic(&data, &["key", "--all"]));
    assert!(all.contains(&format!("{k0}\tfrom record 0")) && all.contains(&format!("{k1}\tfrom record 4")), "{all}");
    // A malformed actor is refused before any key file is written.
    let keys_before = fs::read_dir(data.join("keys")).unwrap().count();
    fails(relic(&data, &["key", "rotate", "--actor", ""]), "actor: must not be empty");
    assert_eq!(fs::read_dir(data.join("keys")).unwrap().count(), keys_before);
    let rotated = ok(relic(&data, &["record", "3"]));
    assert!(rotated.contains("\"kind\": \"key.rotated\"") && rotated.contains(&k1), "{rotated}");
    assert!(rotated.contains("\"role\": \"system\""), "the rotation is the operator's act, not a project role: {rotated}");
    ok(append(&data, &p, "deployment.recorded"));
    let out = ok(relic(&data, &["verify", "--trusted", old_cp.to_str().unwrap()]));
    assert!(out.contains("2 signing key(s)"), "{out}");
    let strict = ok(relic(&data, &["verify", "--strict", "--key", &k0]));
    assert!(strict.contains("ok: 5 records"), "{strict}");
    let stranger = init(&t.path().join("stranger"));
    fails(relic(&data, &["verify", "--key", &stranger]), "is not in this log's key history");

    // New checkpoints are signed by the new key only; the old key still checks old checkpoints.
    let new_cp = write(t.path(), "new.cp", &relic(&data, &["checkpoint"]).stdout);
    let cons = write(t.path(), "cons", &relic(&data, &["prove", "consistency", "3", "5"]).stdout);
    let (o, n, c) = (old_cp.to_str().unwrap(), new_cp.to_str().unwrap(), cons.to_str().unwrap());
    fails(relic(&data, &["verify-consistency", "--key", &k0, "--old", o, "--new", n, "--proof", c]), "no signature by a known key");
    ok(relic(&data, &["verify-consistency", "--key", &k0, "--key", &k1, "--old", o, "--new", n, "--proof", c]));
}

#[test]
fn log_and_record_print_json_and_raw_bytes() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let payload = br#"{ "tag_name": "v1.0", "project": "acme/app", "status": "success", "environment": "eu" }"#;
    ok(append(&data, &write(t.path(), "p.json", payload), "deployment.recorded"));
    let lines: Vec<serde_json::Value> =
        ok(relic(&data, &["log", "--json"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["kind"], "ledger.created");
    assert_eq!(lines[2]["payload"], serde_json::json!({"environment": "eu", "project": "acme/app", "status": "success", "tag_name": "v1.0"}));
    assert_eq!(lines[2]["actor"], serde_json::json!({"id": "alice", "role": "owner"}));
    assert_eq!(lines[2]["seq"], 2);
    let from2 = ok(relic(&data, &["log", "--from", "2"]));
    assert_eq!(from2.lines().count(), 1);
    assert!(from2.contains("deployment.recorded") && from2.contains("acme/app@v1.0"), "{from2}");
    let raw = relic(&data, &["record", "2", "--raw"]).stdout;
    let decoded = relic_ledger::Record::decode(&raw).unwrap();
    assert_eq!(decoded.seq, 2);
    assert_eq!(decoded.payload, br#"{"environment":"eu","project":"acme/app","status":"success","tag_name":"v1.0"}"#);
    let kinds = ok(relic(&data, &["kinds"]));
    assert!(kinds.contains("release.created v1  (written by `relic release create`)"), "{kinds}");
    assert!(kinds.contains("key.rotated v1  (written by the ledger)") && kinds.contains("deployment.recorded v1  (relic append)"), "{kinds}");
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
    // A report is a reader: it saves nothing. `relic projections rebuild` verifies the log and
    // saves where it stopped; the next report starts there.
    ok(relic(&data, &["projections", "rebuild"]));
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
    // appended; a view store the database cannot open is started again from the log, and nothing is lost.
    let status = || -> serde_json::Value { serde_json::from_str(&ok(relic(&data, &["projections", "status", "--json"]))).unwrap() };
    ok(relic(&data, &["project", "register", "--project", "acme/new", "--name", "New", "--actor", "ann"]));
    let s = status();
    assert_eq!(s["applied"], s["log_size"], "{s}");
    fs::write(data.join("views").join("manifest"), b"not a manifest").unwrap();
    ok(relic(&data, &["project", "register", "--project", "acme/newer", "--name", "Newer", "--actor", "ann"]));
    let s = status();
    assert_eq!(s["applied"], s["log_size"], "{s}");
    fails(relic(&data, &["project", "register", "--project", "acme/new", "--name", "Again", "--actor", "ann"]), "Project already exists");
    ok(relic(&data, &["verify"]));
}


/// The one gate, as a user meets it through `relic append`: every kind with rules of its own is
/// refused with a line naming its command, as are unknown kinds, payloads that break their schema
/// and a self-declared role; a non-member is refused and recorded as denied; a member's record
/// carries the role their membership gives. Nothing refused is appended.
#[test]
fn raw_appends_pass_one_gate() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    ok(relic(&data, &["project", "member", "--project", "acme/app", "--user", "bob", "--role", "developer", "--actor", "alice"]));
    let raw = |kind: &str, actor: &str, payload: &Path| {
        relic(&data, &["append", "--kind", kind, "--subject", "acme/app@v4.0", "--actor", actor, "--payload", payload.to_str().unwrap()])
    };
    let before = size(&data);
    let tag_only = write(t.path(), "tag.json", br#"{"tag_name": "v4.0"}"#);
    for kind in relic_domain::event::DOMAIN_KINDS {
        let o = raw(kind, "alice", &tag_only);
        if *kind == "access.denied" {
            fails(o, "recorded by relic itself when it refuses a command");
        } else {
            let command = relic_domain::event::command_for(kind).unwrap();
            fails(o, &format!("kind \"{kind}\" has rules of its own: write it with `{command}`, not `relic append`"));
        }
    }
    // The issue's examples: a release created below its rules, and one deleted by a stranger.
    fails(raw("release.created", "bob", &tag_only), "write it with `relic release create`");
    fails(raw("release.deleted", "mallory", &tag_only), "write it with `relic release delete`");
    fails(raw("ledger.created", "alice", &tag_only), "written by the ledger itself");
    fails(raw("release.exploded", "alice", &tag_only), "unknown kind \"release.exploded\"");
    // A kind without rules is still held to its schema.
    fails(raw("deployment.recorded", "alice", &tag_only), "payload does not match its schema");
    let wrong_status = write(t.path(), "s.json", br#"{"project":"acme/app","tag_name":"v4.0","environment":"eu","status":"maybe"}"#);
    fails(raw("deployment.recorded", "alice", &wrong_status), "/status");
    let other_project = write(t.path(), "o.json", br#"{"project":"acme/other","tag_name":"v4.0","environment":"eu","status":"success"}"#);
    fails(raw("deployment.recorded", "alice", &other_project), "must be the subject's project");
    // A role is never taken from the caller.
    let good = deployment(t.path(), "eu");
    let claimed = relic(&data, &["append", "--kind", "deployment.recorded", "--subject", "acme/app@v4.0", "--actor", "bob", "--role", "owner", "--payload", good.to_str().unwrap()]);
    fails(claimed, "--role is not accepted: an actor's role comes from their project membership");
    assert_eq!(size(&data), before, "a refused append changed the log");

    // A stranger is refused, and the attempt is recorded as denied (as for every command).
    fails(raw("deployment.recorded", "mallory", &good), "Access Denied");
    let denied: serde_json::Value = serde_json::from_str(ok(relic(&data, &["log", "--json"])).lines().last().unwrap()).unwrap();
    assert_eq!((denied["kind"].as_str(), denied["actor"]["id"].as_str()), (Some("access.denied"), Some("mallory")));
    // The log never says a stranger held a role: not a member, role `none` (record-v1.md §Constants).
    assert_eq!((denied["actor"]["role"].as_str(), denied["payload"]["actor_role"].as_str()), (Some("none"), Some("none")));
    // A member's record carries the role their membership gives.
    let seq: u64 = ok(raw("deployment.recorded", "bob", &good)).trim().parse().unwrap();
    let rec: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["--json", "record", &seq.to_string()]))).unwrap();
    assert_eq!(rec["actor"], serde_json::json!({"id": "bob", "role": "developer"}));
    assert_eq!(size(&data), before + 2);
    assert_eq!(ok(relic(&data, &["verify"])).lines().count(), 1);
}

/// A deployment adds a kind without rules with one schema file in `<data>/kinds/`.
#[test]
fn a_deployment_adds_a_kind_with_its_schema_file() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let payload = write(t.path(), "cab.json", br#"{"project":"acme/app","ticket":"CAB-7"}"#);
    let raw = |p: &Path| relic(&data, &["append", "--kind", "cab.approved", "--subject", "acme/app@v1", "--actor", "alice", "--payload", p.to_str().unwrap()]);
    fails(raw(&payload), "unknown kind \"cab.approved\"");
    fs::create_dir_all(data.join("kinds")).unwrap();
    let schema = br#"{"type":"object","additionalProperties":false,"required":["project","ticket"],
        "properties":{"project":{"type":"string"},"ticket":{"type":"string","pattern":"^CAB-[0-9]+$"}}}"#;
    fs::write(data.join("kinds/cab.approved.v1.json"), schema).unwrap();
    assert_eq!(ok(raw(&payload)).trim(), "2");
    fails(raw(&write(t.path(), "bad.json", br#"{"project":"acme/app","ticket":"nope"}"#)), "/ticket");
    assert!(ok(relic(&data, &["kinds"])).contains("cab.approved v1  (relic append; schema in"));
    // A deployment cannot redefine a built-in kind.
    fs::write(data.join("kinds/release.created.v2.json"), b"{}").unwrap();
    fails(raw(&payload), "release.created is a built-in kind");
}

/// A log holding a record no reader can decode, as an older relic could have written below the
/// gate (the issue's `release.created` without a project): views, history, rebuild and the report
/// carry on past it and name it.
#[test]
fn an_unreadable_record_is_named_and_readers_carry_on() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1.0", "--ref", "main", "--actor", "alice"]));
    {
        // Below the gate: the ledger opened with no rules at all, as before this gate existed.
        let l = relic_ledger::Ledger::open(&data, relic_ledger::policy::unchecked()).unwrap();
        let d = relic_ledger::Draft {
            actor: relic_ledger::Actor { id: "bob".into(), role: "maintainer".into() },
            kind: "release.created".into(),
            subject: "acme/app@v4.0".into(),
            payload: br#"{"tag_name":"v4.0"}"#.to_vec(),
            schema_version: 1,
        };
        l.append_blocking(d).unwrap();
    }
    let bad = size(&data) - 1;
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v2.0", "--ref", "main", "--actor", "alice"]));
    let named = format!("record {bad} (release.created): release.created v1: payload does not match its schema");

    let o = relic(&data, &["release", "list", "--project", "acme/app", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&ok(Output { code: o.code, stdout: o.stdout.clone(), stderr: o.stderr.clone() })).unwrap();
    let tags: Vec<&str> = list["releases"].as_array().unwrap().iter().map(|r| r["tag_name"].as_str().unwrap()).collect();
    assert_eq!(tags, ["v2.0", "v1.0"], "the records after it are applied");
    assert_eq!(list["log"]["unreadable_records"], serde_json::json!([named.clone() + " at the top level: \"project\" is a required property"]));
    assert!(o.stderr.contains(&format!("relic: warning: {named}")), "{}", o.stderr);

    let rebuilt = ok(relic(&data, &["projections", "rebuild"]));
    assert!(rebuilt.contains("1 record(s) could not be read") && rebuilt.contains(&named), "{rebuilt}");

    for format in ["json", "md", "html"] {
        let report = ok(relic(&data, &["report", "compliance", "--format", format]));
        assert!(report.contains(&named), "{format}: {report}");
    }
    let report: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["report", "compliance", "--format", "json"]))).unwrap();
    assert_eq!(report["summary"]["unreadable_records"], 1);
    assert_eq!(report["unreadable_records"][0]["seq"], bad);
    assert_eq!(report["summary"]["releases"], 2);

    let history = ok(relic(&data, &["release", "history", "--project", "acme/app", "v4.0"]));
    assert!(history.contains(&named), "{history}");
    // Commands go on too: the unreadable record changed nothing they decide on.
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v4.0", "--ref", "main", "--actor", "alice"]));
    assert_eq!(ok(relic(&data, &["verify"])).lines().count(), 1);
}

/// `relic evidence verify` checks the record that names a document too (schemas/evidence-v1.md):
/// a document edited together with its record's digest is caught by the record's signature.
#[test]
fn evidence_verify_checks_the_record_that_names_the_document() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1.0", "--ref", "main", "--actor", "alice"]));
    let verified = ok(relic(&data, &["evidence", "verify", "--project", "acme/app", "--tag-name", "v1.0"]));
    assert!(verified.contains("is signed and in the log at checkpoint size"), "{verified}");
    // A later record, so that the altered one is not the last (whose link the head holds).
    ok(append(&data, &deployment(t.path(), "eu"), "deployment.recorded"));
    let records: Vec<serde_json::Value> = ok(relic(&data, &["log", "--json"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let rec = records.iter().find(|r| r["kind"] == "evidence.collected").unwrap();
    let (seq, sha) = (rec["seq"].as_u64().unwrap(), rec["payload"]["sha"].as_str().unwrap().to_string());

    // Edit the document, store it under its new digest, and put that digest into the record.
    let doc = fs::read_to_string(data.join(format!("evidence/{sha}.json"))).unwrap();
    let edited = doc.replacen("\"name\":\"App\"", "\"name\":\"Apq\"", 1);
    assert_ne!(edited, doc);
    let new_sha = blake3::hash(edited.as_bytes()).to_hex().to_string();
    fs::write(data.join(format!("evidence/{new_sha}.json")), &edited).unwrap();
    {
        // Both places the digest appears in the record (`filepath` and `sha`), same length.
        let records = data.join(layout::DIR).join(layout::RECORDS);
        let mut bytes = fs::read(&records).unwrap();
        while let Some(at) = bytes.windows(sha.len()).position(|w| w == sha.as_bytes()) {
            bytes[at..at + sha.len()].copy_from_slice(new_sha.as_bytes());
        }
        fs::write(&records, &bytes).unwrap();
    }
    fails(
        relic(&data, &["evidence", "verify", "--project", "acme/app", "--tag-name", "v1.0"]),
        &format!("evidence {new_sha}: its record {seq} has a bad signature"),
    );
}

/// A user's path never writes inside the data directory or reads its signing keys into the log.
#[test]
fn paths_into_the_data_directory_are_refused_and_nothing_changes() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let key = fs::read_dir(data.join("keys")).unwrap().next().unwrap().unwrap().path();
    let saved = fs::read(&key).unwrap();
    let before = size(&data);
    let k = key.to_str().unwrap();
    fails(relic(&data, &["report", "compliance", "--output", k]), "--output may not write inside the data directory");
    let inside = data.join("report.html");
    fails(relic(&data, &["report", "compliance", "--format", "html", "--output", inside.to_str().unwrap()]), "may not write inside");
    assert!(!inside.exists());
    let create = |flag: &str| {
        relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v9", "--ref", "main", flag, k, "--actor", "alice"])
    };
    fails(create("--notes-file"), "--notes-file may not read the ledger's signing keys");
    fails(create("--report-artifact"), "--report-artifact may not read the ledger's signing keys");
    fails(relic(&data, &["append", "--kind", "deployment.recorded", "--subject", "acme/app@v1", "--actor", "alice", "--payload", k]), "--payload may not read");
    assert_eq!(fs::read(&key).unwrap(), saved, "the signing key is unchanged");
    assert_eq!(size(&data), before, "nothing was appended");
    let outside = t.path().join("report.json");
    ok(relic(&data, &["report", "compliance", "--output", outside.to_str().unwrap()]));
    assert!(outside.exists());
}

/// A report artifact is stored only if its command is decided: a refused release leaves no file.
#[test]
fn a_refused_release_stores_no_report_artifact() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let junit = write(t.path(), "junit.xml", b"<testsuites/>\n");
    let create = |actor: &str, tag: &str| {
        relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", tag, "--ref", "main", "--report-artifact", junit.to_str().unwrap(), "--actor", actor])
    };
    fails(create("mallory", "v1.0"), "Access Denied");
    assert!(!data.join("artifacts").exists() || fs::read_dir(data.join("artifacts")).unwrap().count() == 0, "a refused command stored a file");
    ok(create("alice", "v1.0"));
    let digest = blake3::hash(b"<testsuites/>\n").to_hex().to_string();
    assert_eq!(fs::read(data.join("artifacts").join(&digest)).unwrap(), b"<testsuites/>\n");
}

/// Bytes that are not a record at all (damage in the store) are a finding too: `relic verify`
/// names the damage, and the views and the report go on past it and name it.
#[test]
fn a_damaged_record_is_named_and_readers_carry_on() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    ok(append(&data, &deployment(t.path(), "eu"), "deployment.recorded"));
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1.0", "--ref", "main", "--actor", "alice"]));
    {
        // Record 2's bytes, same length, no longer a record.
        let records = data.join(layout::DIR).join(layout::RECORDS);
        let mut bytes = fs::read(&records).unwrap();
        let mut at = 0;
        for _ in 0..2 {
            at += 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        }
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        bytes[at + 4..at + 4 + len].fill(b'x');
        fs::write(&records, &bytes).unwrap();
    }
    let named = "record 2 (?): not a well-formed record";
    let o = relic(&data, &["verify"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("record 2: malformed"), "{}", o.stderr);
    // (The views were derived before the damage; a rebuild reads the log again.)
    assert!(ok(relic(&data, &["projections", "rebuild"])).contains(named));
    let o = relic(&data, &["release", "list", "--project", "acme/app"]);
    assert!(o.stdout_text().contains("\"tag_name\": \"v1.0\""), "{}", o.stderr);
    assert!(o.stderr.contains(named), "{}", o.stderr);
    let report = ok(relic(&data, &["report", "compliance", "--format", "md"]));
    assert!(report.contains(named) && report.contains("FAILED"), "{report}");
}

/// Readers convert nothing: a store of an older format is refused by readers and writers alike with
/// a line saying to run `relic migrate`, changing no byte; `relic migrate` converts it (formats 2 and
/// 3 here), and finishes a conversion interrupted before or after its switch.
#[test]
fn readers_convert_nothing_and_relic_migrate_does() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let p = deployment(t.path(), "eu");
    for _ in 0..70 {
        ok(append(&data, &p, "deployment.recorded"));
    }
    ok(relic(&data, &["checkpoint"]));
    let want = ok(relic(&data, &["--json", "log"]));
    relic_store::legacy::testing::log_to_v3(&data);
    {
        let s = relic_store::legacy::Store::open(&data.join("store"), false).unwrap();
        relic_store::legacy::testing::unpack(&s);
    }
    let before = relic_tests::snapshot(&data);
    for args in [&["verify"][..], &["log"], &["checkpoint"], &["release", "list", "--project", "acme/app"]] {
        fails(relic(&data, args), "run `relic migrate` to convert it (nothing was changed)");
    }
    fails(append(&data, &p, "deployment.recorded"), "run `relic migrate`");
    assert!(relic_tests::snapshot(&data) == before, "a refused command changed the data directory");
    assert_eq!(ok(relic(&data, &["migrate"])).trim(), "converted from relic-store/v2, then relic-store/v3 to relic-log/4");
    assert!(ok(relic(&data, &["verify"])).starts_with("ok: 72 records"));
    assert_eq!(ok(relic(&data, &["--json", "log"])), want, "every record, byte for byte");
    assert!(!data.join("store").exists() && !data.join("store.packs").exists(), "the old store is removed");
    assert!(ok(relic(&data, &["migrate"])).contains("nothing to do"));
    ok(append(&data, &p, "deployment.recorded"));

    // Interrupted before the switch (a half-written copy beside the old store): done again from
    // the old store. After it (the old store still there): only the removal is left.
    relic_store::legacy::testing::log_to_v3(&data);
    fs::create_dir(data.join("log.migrating")).unwrap();
    fs::write(data.join("log.migrating").join("records"), b"half").unwrap();
    assert_eq!(ok(relic(&data, &["migrate"])).trim(), "converted from relic-store/v3 to relic-log/4");
    assert!(!data.join("log.migrating").exists());
    fs::create_dir(data.join("store")).unwrap();
    fs::write(data.join("store").join("db"), b"left over").unwrap();
    assert!(ok(relic(&data, &["verify"])).starts_with("ok: 73 records"), "the log is read, the old store ignored");
    assert_eq!(ok(relic(&data, &["migrate"])).trim(), "converted from an interrupted conversion to relic-log/4");
    assert!(!data.join("store").exists());
    assert!(ok(relic(&data, &["verify"])).starts_with("ok: 73 records"));
}

/// `relic token`: the secret is printed once and appears in no file of the data directory (only
/// its hash, in a 0600 file); the issue and the revocation are recorded with role `system`; a
/// secret authenticates as its user until revoked or expired; bad input is refused, storing nothing.
#[test]
fn tokens_are_recorded_but_their_secrets_never_are() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let created: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["--json", "token", "create", "--user", "ci-bot", "--actor", "ops"]))).unwrap();
    let (id, secret) = (created["id"].as_str().unwrap().to_string(), created["token"].as_str().unwrap().to_string());
    assert!(secret.starts_with("relic_") && secret.len() == 46, "{secret}");
    let file = data.join("tokens.json");
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    for (path, bytes) in relic_tests::snapshot(&data) {
        if let Some(b) = bytes {
            assert!(!b.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is in {}", path.display());
        }
    }
    let log = ok(relic(&data, &["--json", "log"]));
    let rec: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!((rec["kind"].as_str(), rec["actor"]["id"].as_str(), rec["actor"]["role"].as_str()), (Some("token.issued"), Some("ops"), Some("system")), "{rec}");
    assert_eq!(rec["payload"]["token_id"].as_str(), Some(id.as_str()));
    let listed = ok(relic(&data, &["--json", "token", "list"]));
    assert!(listed.contains(&id) && listed.contains("ci-bot") && !listed.contains(&secret), "{listed}");

    let state = || relic_domain::service::Service::open(&data).unwrap().state().clone();
    let hashes = relic_domain::tokens::load(&data).unwrap();
    let now = chrono::Utc::now();
    assert_eq!(relic_domain::tokens::authenticate(&hashes, &state(), &secret, now).map(|a| a.user).as_deref(), Some("ci-bot"));
    assert_eq!(relic_domain::tokens::authenticate(&hashes, &state(), "relic_0000000000000000000000000000000000000000", now), None);

    // Refused, storing and appending nothing.
    let before = (fs::read(&file).unwrap(), size(&data));
    fails(relic(&data, &["token", "create", "--user", "two words", "--actor", "ops"]), "user is invalid");
    fails(relic(&data, &["token", "create", "--user", "x", "--expires", "2020-01-01T00:00:00Z", "--actor", "ops"]), "expires_at must be in the future");
    fails(relic(&data, &["token", "create", "--user", "x", "--expires", "soon", "--actor", "ops"]), "expires_at is invalid");
    assert_eq!((fs::read(&file).unwrap(), size(&data)), before);

    ok(relic(&data, &["token", "revoke", &id, "--actor", "ops"]));
    assert_eq!(relic_domain::tokens::authenticate(&hashes, &state(), &secret, now), None, "revoked");
    fails(relic(&data, &["token", "revoke", &id, "--actor", "ops"]), "Token already revoked");
    fails(relic(&data, &["token", "revoke", "0123456789abcdef", "--actor", "ops"]), "Token Not Found");
    assert!(ok(relic(&data, &["token", "list"])).contains("revoked"));

    // An expiring token: accepted before its time, refused after it.
    let later: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["--json", "token", "create", "--user", "bob", "--expires", "2099-01-01T00:00:00Z", "--actor", "ops"]))).unwrap();
    let hashes = relic_domain::tokens::load(&data).unwrap();
    let s2 = later["token"].as_str().unwrap();
    assert_eq!(relic_domain::tokens::authenticate(&hashes, &state(), s2, now).map(|a| a.user).as_deref(), Some("bob"));
    let after = chrono::DateTime::parse_from_rfc3339("2099-01-01T00:00:01Z").unwrap().with_timezone(&chrono::Utc);
    assert_eq!(relic_domain::tokens::authenticate(&hashes, &state(), s2, after), None);
    ok(relic(&data, &["verify"]));
}

/// A guest sees a release redacted from the command line as over HTTP: nothing they see names the
/// tag, not the links' permanent URLs, the description or the evidence.
#[test]
fn a_guest_sees_nothing_that_names_the_tag() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    ok(relic(&data, &["project", "member", "--project", "acme/app", "--user", "gus", "--role", "guest", "--actor", "alice"]));
    let link = r#"{"name":"bin","url":"https://dl.example/app","direct_asset_path":"/bin/app"}"#;
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v4.3.0", "--ref", "main", "--description", "Notes for v4.3.0", "--assets-link", link, "--actor", "alice"]));
    let full = ok(relic(&data, &["release", "get", "--project", "acme/app", "--tag-name", "v4.3.0", "--viewer", "alice"]));
    assert!(full.contains("/-/releases/v4.3.0/downloads/bin/app"), "{full}");
    for args in [vec!["release", "get", "--project", "acme/app", "--tag-name", "v4.3.0", "--viewer", "gus"], vec!["release", "list", "--project", "acme/app", "--viewer", "gus"]] {
        let seen = ok(relic(&data, &args));
        assert!(!seen.contains("v4.3.0") && seen.contains("Release-1"), "{args:?}: {seen}");
    }
}

/// A CI script tells what went wrong from the exit code alone (README §Exit codes), and with
/// `--json` reads the error as JSON too.
#[test]
fn exit_codes_tell_what_went_wrong() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let code = |args: &[&str]| relic(&data, args).code;
    let create = |actor: &'static str, tag: &'static str| vec!["release", "create", "--project", "acme/app", "--tag-name", tag, "--ref", "main", "--actor", actor];
    assert_eq!(code(&create("alice", "v1.0")), 0);
    // Usage: one line, saying what is wrong.
    let o = relic(&data, &["release", "create", "--project", "acme/app", "--bogus"]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(o.stderr.starts_with("relic: error: unexpected argument '--bogus' found"), "{}", o.stderr);
    assert_eq!(code(&create("mallory", "v2.0")), 4, "no permission");
    assert_eq!(code(&["release", "get", "--project", "acme/app", "--tag-name", "v9.9"]), 5, "not found");
    assert_eq!(code(&["record", "999"]), 5, "no such record");
    assert_eq!(code(&create("alice", "v1.0")), 6, "already exists");
    assert_eq!(code(&["init", "--origin", ORIGIN]), 6, "a ledger already exists");
    assert_eq!(code(&create("alice", "v1..0")), 7, "invalid input");
    assert_eq!(code(&["freeze", "create", "--project", "acme/app", "--freeze-start", "* * * * *", "--freeze-end", "59 23 31 12 *", "--actor", "alice"]), 0);
    assert_eq!(code(&["freeze", "status", "--project", "acme/app"]), 3, "frozen");
    // With --json, the error is one JSON object: message, kind, exit code.
    let o = relic(&data, &["--json", "release", "create", "--project", "acme/app", "--tag-name", "v3.0", "--ref", "main", "--actor", "mallory"]);
    let e: serde_json::Value = serde_json::from_str(o.stderr.trim()).unwrap_or_else(|_| panic!("not JSON: {}", o.stderr));
    assert_eq!(e, serde_json::json!({"message": "Access Denied", "error": "denied", "exit_code": 4}));
    let o = relic(&data, &["--json", "release", "list", "--bogus"]);
    let e: serde_json::Value = serde_json::from_str(o.stderr.trim()).unwrap_or_else(|_| panic!("not JSON: {}", o.stderr));
    assert_eq!((e["error"].as_str(), e["exit_code"].as_i64(), o.code), (Some("usage"), Some(2), 2));
}

/// `relic evidence verify` without a release checks every evidence document of the ledger (or of
/// `--project`) in one pass, names each one that fails, and fails if any does.
#[test]
fn evidence_verify_without_a_release_checks_the_whole_ledger() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    ok(relic(&data, &["project", "register", "--project", "acme/web", "--name", "Web", "--actor", "alice"]));
    for (p, tag) in [("acme/app", "v1.0"), ("acme/app", "v1.1"), ("acme/web", "v2.0")] {
        ok(relic(&data, &["release", "create", "--project", p, "--tag-name", tag, "--ref", "main", "--actor", "alice"]));
    }
    ok(relic(&data, &["evidence", "collect", "--project", "acme/app", "--tag-name", "v1.0", "--actor", "alice"]));
    let all = ok(relic(&data, &["evidence", "verify"]));
    assert_eq!(all.lines().filter(|l| l.starts_with("ok: evidence ")).count(), 4, "{all}");
    assert!(all.ends_with("ok: 4 evidence document(s) verified\n"), "{all}");
    let one_project = ok(relic(&data, &["--json", "evidence", "verify", "--project", "acme/web"]));
    assert_eq!(one_project.lines().count(), 1, "{one_project}");
    let web: serde_json::Value = serde_json::from_str(&one_project).unwrap();
    // GitLab's evidence shape: the release only, without relic's additions.
    let sha = web["sha"].as_str().unwrap();
    let gitlab: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["evidence", "show", "--sha", sha, "--format", "gitlab"]))).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["evidence", "show", "--sha", sha]))).unwrap();
    assert_eq!(gitlab.as_object().unwrap().keys().collect::<Vec<_>>(), ["release"]);
    assert_eq!(gitlab["release"], stored["release"], "no artifacts here, so the release is the stored one");
    assert!(stored.get("collected_at").is_some() && stored.get("redaction").is_some());
    // One document altered: it is named, the others still verify, and the command fails.
    let path = data.join(web["filepath"].as_str().unwrap());
    fs::write(&path, fs::read_to_string(&path).unwrap().replacen("Web", "Wub", 1)).unwrap();
    let o = relic(&data, &["evidence", "verify"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let out = o.stdout_text();
    assert_eq!(out.lines().filter(|l| l.starts_with("ok: evidence ")).count(), 3, "{out}");
    assert!(out.contains(&format!("FAILED: evidence {} of acme/web@v2.0", web["sha"].as_str().unwrap())), "{out}");
    assert!(o.stderr.contains("1 of 4 evidence document(s) failed verification"), "{}", o.stderr);
    assert_eq!(relic(&data, &["evidence", "verify", "--project", "acme/nope"]).code, 5);
}

/// Issuing a report records its digest (`report.issued`); `relic report verify` proves later that
/// a printed copy is the one issued, and refuses an altered one. `--json` means the JSON form, with
/// the signed checkpoint it reflects.
#[test]
fn an_issued_report_is_proven_later_and_an_altered_copy_is_not() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    let key = init(&data);
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1.0", "--ref", "main", "--actor", "alice"]));
    let r: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["--json", "report", "compliance", "--actor", "auditor"]))).unwrap();
    assert_eq!((r["version"].as_u64(), r["result"].as_str(), r["generated_by"].as_str()), (Some(2), Some("pass"), Some("auditor")));
    assert_eq!(r["checkpoint"]["verifier_key"], key.as_str());
    let note = r["checkpoint"]["note"].as_str().unwrap();
    assert!(note.lines().nth(1) == Some(r["log"]["tree_size"].to_string().as_str()), "the checkpoint is at the report's size: {note}");
    // The embedded checkpoint verifies against the log, as its command says.
    let cp = t.path().join("checkpoint.txt");
    fs::write(&cp, note).unwrap();
    ok(relic(&data, &["verify", "--trusted", cp.to_str().unwrap(), "--key", &key]));

    let page = t.path().join("report.html");
    let o = relic(&data, &["report", "compliance", "--format", "html", "--output", page.to_str().unwrap(), "--actor", "auditor"]);
    assert!(o.code == 0 && o.stderr.contains("relic: issued ") && o.stderr.contains("recorded as record"), "{}", o.stderr);
    let last: serde_json::Value = serde_json::from_str(ok(relic(&data, &["--json", "log"])).lines().last().unwrap()).unwrap();
    assert_eq!((last["kind"].as_str(), last["actor"]["id"].as_str(), last["actor"]["role"].as_str()), (Some("report.issued"), Some("auditor"), Some("system")));
    let digest = blake3::hash(&fs::read(&page).unwrap()).to_hex().to_string();
    assert_eq!(last["payload"]["digest"], digest.as_str());
    let proven = ok(relic(&data, &["report", "verify", page.to_str().unwrap()]));
    assert!(proven.starts_with("ok: ") && proven.contains("issued by auditor") && proven.contains(&format!("(record {})", last["seq"])), "{proven}");
    // One byte changed: not the report that was issued.
    let altered = t.path().join("altered.html");
    fs::write(&altered, fs::read_to_string(&page).unwrap().replacen("Result: PASS", "Result: PASS ", 1)).unwrap();
    let o = relic(&data, &["report", "verify", altered.to_str().unwrap()]);
    assert!(o.code == 5 && o.stderr.contains("is not a report this log issued"), "{}", o.stderr);
}

/// `relic import releases` records a GitLab project's releases from its API's JSON (two pages),
/// with their original times and author, by the importer; running it again adds nothing.
#[test]
fn gitlab_releases_are_imported_once_with_their_original_times() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    init(&data);
    let page1 = serde_json::json!([{
        "name": "App 2.0", "tag_name": "v2.0", "description": "Second", "created_at": "2025-03-01T10:00:00.000Z",
        "released_at": "2025-03-02T09:00:00.000Z", "upcoming_release": false, "author": {"username": "carol", "id": 7},
        "commit": {"id": "a".repeat(40)}, "milestones": [{"title": "2.0", "id": 3}],
        "assets": {"count": 5, "sources": [], "links": [{"id": 9, "name": "binary", "url": "https://dl.example/app-2.0",
            "direct_asset_url": "https://gitlab.example/acme/app/-/releases/v2.0/downloads/bin/app", "link_type": "package"}]},
        "evidences": [{"sha": "760d6cdfb0879c3ffedec13af470e0f71cf52c6cde4d", "filepath": "https://gitlab.example/x.json", "collected_at": "2025-03-02T09:00:00Z"}]
    }]);
    let page2 = serde_json::json!([{"name": "App 1.0", "tag_name": "v1.0", "description": null, "created_at": "2024-12-01T10:00:00Z",
        "released_at": "2024-12-01T10:00:00Z", "author": {"username": "bob"}, "commit": null, "milestones": [], "assets": {"links": []}}]);
    let (f1, f2) = (write(t.path(), "p1.json", page1.to_string().as_bytes()), write(t.path(), "p2.json", page2.to_string().as_bytes()));
    let import = || relic(&data, &["--json", "import", "releases", "--project", "acme/app", "--file", f1.to_str().unwrap(), "--file", f2.to_str().unwrap(), "--actor", "alice"]);
    let first: serde_json::Value = serde_json::from_str(&ok(import())).unwrap();
    let tags: Vec<&str> = first["imported"].as_array().unwrap().iter().map(|i| i["tag_name"].as_str().unwrap()).collect();
    assert_eq!(tags, ["v1.0", "v2.0"], "oldest first");
    let v: serde_json::Value = serde_json::from_str(&ok(relic(&data, &["--json", "release", "get", "--project", "acme/app", "--tag-name", "v2.0"]))).unwrap();
    let r = &v["release"];
    assert_eq!((r["created_at"].as_str(), r["released_at"].as_str(), r["author"]["username"].as_str()), (Some("2025-03-01T10:00:00Z"), Some("2025-03-02T09:00:00Z"), Some("carol")));
    assert_eq!((r["imported_from"].as_str(), r["historical_release"].as_bool()), (Some("gitlab"), Some(false)), "as GitLab had it");
    assert_eq!(r["assets"]["links"][0]["direct_asset_url"], "/acme/app/-/releases/v2.0/downloads/bin/app");
    assert_eq!(r["evidences"], serde_json::json!([]), "GitLab's salted evidence digests are not imported");
    let rec: serde_json::Value = serde_json::from_str(ok(relic(&data, &["--json", "log"])).lines().last().unwrap()).unwrap();
    assert_eq!((rec["kind"].as_str(), rec["actor"]["id"].as_str(), rec["actor"]["role"].as_str()), (Some("release.imported"), Some("alice"), Some("owner")));
    // Again: nothing new.
    let size = relic(&data, &["log"]).stdout_text().lines().count();
    let again: serde_json::Value = serde_json::from_str(&ok(import())).unwrap();
    assert_eq!((again["imported"].as_array().unwrap().len(), again["skipped"].as_array().unwrap().len()), (0, 2));
    assert_eq!(relic(&data, &["log"]).stdout_text().lines().count(), size);
    // A page that is not the API's shape is named, and nothing is imported from any page.
    let bad = write(t.path(), "bad.json", br#"[{"tag_name": "v3.0"}]"#);
    let o = relic(&data, &["import", "releases", "--project", "acme/app", "--file", bad.to_str().unwrap(), "--actor", "alice"]);
    assert!(o.code == 7 && o.stderr.contains("release 0: v3.0: created_at is missing"), "{}", o.stderr);
}
