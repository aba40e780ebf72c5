//! A split view, tried as an attacker would, against a real `relic witness` process (C2SP
//! tlog-witness): copy the data directory, append one record and have the checkpoint cosigned;
//! restore the copy, append a different record and ask again. The witness refuses the fork, also
//! after being killed and restarted (its state is durable before it answers), and an offline
//! verifier that requires the witness's cosignature (`--witness KEY --quorum 1`) accepts the
//! cosigned checkpoint and rejects the forked one.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use relic_tests::{copy_dir, relic, tansu, Output};

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

fn start_witness(dir: &Path) -> (Child, String) {
    start_witness_with(dir, &[])
}

fn start_witness_with(dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut args = vec!["witness", "serve", "--listen", "127.0.0.1:0", "--dir", dir.to_str().unwrap()];
    args.extend(extra);
    spawn_url(&args)
}

/// A `relic` process that prints its URL on its first line, and that URL.
fn spawn_url(args: &[&str]) -> (Child, String) {
    let mut w = Command::new(env!("CARGO_BIN_EXE_relic_proc")).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(w.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|s| s.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}")).to_string();
    (w, url)
}

fn append(data: &Path, payload_dir: &Path, tag: &str) {
    let p = payload_dir.join(format!("{tag}.json"));
    std::fs::write(&p, format!(r#"{{"project":"acme/app","tag_name":"{tag}","environment":"prod","status":"success"}}"#)).unwrap();
    ok(relic(data, &["append", "--kind", "deployment.recorded", "--subject", &format!("acme/app@{tag}"), "--actor", "alice", "--payload", p.to_str().unwrap()]));
}


#[test]
fn a_witness_refuses_a_forked_log_and_a_quorum_rejects_its_checkpoint() {
    let (t, data, log_key) = new_log("fork.test/log");

    let wdir = t.path().join("witness");
    let wkey = ok(relic(&data, &["witness", "init", "--dir", wdir.to_str().unwrap(), "--name", "witness.test/w1"])).trim().to_string();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(wdir.join("witness.key")).unwrap().permissions().mode() & 0o777, 0o600);
    ok(relic(&data, &["witness", "trust", "--dir", wdir.to_str().unwrap(), "--key", &log_key]));
    let (mut witness, url) = start_witness(&wdir);

    // The honest history is cosigned as it grows.
    let first = ok(relic(&data, &["cosign", "--witness", &url]));
    assert!(first.contains("— witness.test/w1 "), "{first}");
    let copy = t.path().join("copy");
    copy_dir(&data, &copy);
    append(&data, t.path(), "v1");
    let cosigned = ok(relic(&data, &["cosign", "--witness", &url]));

    // The fork: the copy, another record, the same size.
    append(&copy, t.path(), "v1-evil");
    let o = relic(&copy, &["cosign", "--witness", &url]);
    assert!(o.code != 0 && o.stderr.contains("the witness refused the checkpoint (409: another root"), "{}", o.stderr);
    // Killed and restarted, the witness still remembers what it cosigned.
    witness.kill().unwrap();
    witness.wait().unwrap();
    let (mut witness, url) = start_witness(&wdir);
    let o = relic(&copy, &["cosign", "--witness", &url]);
    assert!(o.code != 0 && o.stderr.contains("refused"), "{}", o.stderr);
    // The honest log keeps growing under the witness.
    append(&data, t.path(), "v2");
    ok(relic(&data, &["cosign", "--witness", &url]));

    // Offline, requiring the witness: the cosigned checkpoint passes, the fork's does not.
    let size: u64 = cosigned.lines().nth(1).unwrap().parse().unwrap();
    let (seq, size) = ((size - 1).to_string(), size.to_string());
    let check = |dir: &Path, note: Option<&str>| {
        let rec = t.path().join("rec.bin");
        std::fs::write(&rec, relic(dir, &["record", &seq, "--raw"]).stdout).unwrap();
        let mut bundle = ok(relic(dir, &["prove", "inclusion", &seq, "--size", &size]));
        if let Some(n) = note {
            // The bundle ends with the checkpoint note verbatim: the cosigned one in its place.
            let plain = &n[..n.find("\n— witness.test/w1").unwrap() + 1];
            assert!(bundle.ends_with(plain), "{bundle}");
            bundle = format!("{}{n}", &bundle[..bundle.len() - plain.len()]);
        }
        let proof = t.path().join("rec.proof");
        std::fs::write(&proof, bundle).unwrap();
        relic(dir, &["verify-proof", "--key", &log_key, "--proof", proof.to_str().unwrap(), "--record", rec.to_str().unwrap(), "--witness", &wkey, "--quorum", "1"])
    };
    ok(check(&data, Some(&cosigned)));
    let o = check(&copy, None);
    assert!(o.code != 0 && o.stderr.contains("0 valid cosignature(s) of the 1 required"), "{}", o.stderr);
    // Without a witness policy the forked checkpoint is a valid signed checkpoint: the log key
    // alone cannot tell the two histories apart.
    let rec = t.path().join("rec.bin");
    let proof = t.path().join("rec.proof");
    ok(relic(&copy, &["verify-proof", "--key", &log_key, "--proof", proof.to_str().unwrap(), "--record", rec.to_str().unwrap()]));
    // `relic verify` against a trusted checkpoint: with the witness required, the cosigned one
    // passes and an uncosigned one is refused before the log is even read.
    let cp = t.path().join("cosigned.cp");
    std::fs::write(&cp, &cosigned).unwrap();
    ok(relic(&data, &["verify", "--trusted", cp.to_str().unwrap(), "--witness", &wkey]));
    let fork_cp = t.path().join("fork.cp");
    std::fs::write(&fork_cp, ok(relic(&copy, &["checkpoint", "--size", &size]))).unwrap();
    let o = relic(&copy, &["verify", "--trusted", fork_cp.to_str().unwrap(), "--witness", &wkey, "--quorum", "1"]);
    assert!(o.code != 0 && o.stderr.contains("0 valid cosignature(s)"), "{}", o.stderr);
    let o = relic(&copy, &["verify", "--witness", &wkey]);
    assert!(o.code == 2 && o.stderr.contains("--witness needs --trusted"), "{}", o.stderr);
    witness.kill().unwrap();
    witness.wait().unwrap();
}

fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

fn http_get(url: &str) -> (u16, String) {
    let script = "import sys, urllib.request, urllib.error\ntry:\n r = urllib.request.urlopen(sys.argv[1]); print(r.status); sys.stdout.write(r.read().decode())\nexcept urllib.error.HTTPError as e:\n print(e.code); sys.stdout.write(e.read().decode())\n";
    let o = Command::new("python3").args(["-c", script, url]).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let (status, body) = text.split_once('\n').unwrap_or_else(|| panic!("no answer from {url}: {}", String::from_utf8_lossy(&o.stderr)));
    (status.parse().unwrap(), body.to_string())
}

fn serve(data: &Path) -> (Child, String) {
    let (s, url) = spawn_url(&["--data", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"]);
    (s, url.trim_end_matches("/api/v4").to_string())
}

/// A log of one project in a new temporary directory: the directory, the data directory, its key.
fn new_log(origin: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    ok(relic(&data, &["init", "--origin", origin]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    let log_key = ok(relic(&data, &["key"])).trim().to_string();
    (t, data, log_key)
}

fn cosigners(note: &str) -> Vec<&str> {
    note.lines().filter_map(|l| l.strip_prefix("— witness.test/")).map(|l| &l[..2]).collect()
}

#[test]
fn a_log_with_a_witness_policy_publishes_only_checkpoints_a_quorum_cosigned() {
    let (t, data, log_key) = new_log("policy.test/log");
    // Three witnesses; the third is never reachable.
    let mut running = Vec::new();
    let mut keys = Vec::new();
    for (i, name) in ["w1", "w2", "w3"].iter().enumerate() {
        let dir = t.path().join(name);
        let key = ok(relic(&data, &["witness", "init", "--dir", dir.to_str().unwrap(), "--name", &format!("witness.test/{name}")])).trim().to_string();
        ok(relic(&data, &["witness", "trust", "--dir", dir.to_str().unwrap(), "--key", &log_key]));
        let url = if i < 2 {
            let (w, url) = start_witness(&dir);
            running.push(w);
            url
        } else {
            dead_url()
        };
        ok(relic(&data, &["witnesses", "add", "--url", &url, "--key", &key]));
        keys.push(key);
    }
    ok(relic(&data, &["witnesses", "quorum", "2"]));
    let policy = ok(relic(&data, &["witnesses"]));
    assert!(policy.contains("quorum 2") && policy.matches("\nwitness ").count() == 3, "{policy}");
    let o = relic(&data, &["witnesses", "quorum", "4"]);
    assert!(o.code != 0 && o.stderr.contains("quorum 4 is more than the 3 witnesses"), "{}", o.stderr);

    // `relic checkpoint` gives the checkpoint cosigned by the two that answer, and says which did not.
    let o = relic(&data, &["checkpoint"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let first = o.stdout_text();
    assert_eq!(cosigners(&first), ["w1", "w2"], "{first}");
    assert!(o.stderr.contains("witness witness.test/w3 did not cosign the checkpoint at size 2"), "{}", o.stderr);
    let cp = t.path().join("first.cp");
    std::fs::write(&cp, &first).unwrap();
    let all: Vec<&str> = keys.iter().flat_map(|k| ["--witness", k.as_str()]).collect();
    ok(relic(&data, &[&["verify", "--trusted", cp.to_str().unwrap(), "--quorum", "2"][..], &all].concat()));

    // The fork: a copy of the directory (policy and cosigned checkpoints included) grows apart.
    let copy = t.path().join("copy");
    copy_dir(&data, &copy);
    append(&data, t.path(), "v1");
    let honest = ok(relic(&data, &["checkpoint"]));
    assert_eq!(cosigners(&honest), ["w1", "w2"]);
    // A tlog-proof carries the cosigned checkpoint too.
    assert!(ok(relic(&data, &["prove", "inclusion", "2"])).ends_with(&honest));
    append(&copy, t.path(), "v1-evil");
    let o = relic(&copy, &["checkpoint"]);
    assert!(o.code != 0 && o.stdout.is_empty(), "a forked checkpoint was given out: {}", o.stdout_text());
    assert!(o.stderr.contains("the checkpoint at size 3 is not published: 0 of the 2 cosignatures"), "{}", o.stderr);
    assert!(o.stderr.contains("witness.test/w1: 409: another root"), "{}", o.stderr);

    // Served, the fork shows only what the witnesses cosigned before it: the size-2 checkpoint.
    let (mut server, base) = serve(&copy);
    let (status, served) = http_get(&format!("{base}/tlog/checkpoint"));
    assert_eq!((status, served.as_str()), (200, first.as_str()));
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut server, base) = serve(&data);
    let (status, served) = http_get(&format!("{base}/tlog/checkpoint"));
    assert_eq!((status, served.as_str()), (200, honest.as_str()));
    server.kill().unwrap();
    server.wait().unwrap();

    // Kafka carries the cosigned checkpoints: the mirror holds them, cosignatures and all.
    if let Some(broker) = tansu::broker_or_skip("a_log_with_a_witness_policy_publishes_only_checkpoints_a_quorum_cosigned") {
        let b = broker.brokers();
        ok(relic(&data, &["publish", "--brokers", &b]));
        let mirror = t.path().join("mirror");
        ok(relic(&mirror, &["mirror", "--brokers", &b]));
        assert_eq!(ok(relic(&mirror, &["checkpoint"])), honest);
        // The mirror acts as a witness: it cosigns only a checkpoint whose records it holds and
        // verified, with its root. The fork is refused by the mirror's own log, not by history.
        let m4 = t.path().join("m4");
        ok(relic(&data, &["witness", "init", "--dir", m4.to_str().unwrap(), "--name", "witness.test/m4"]));
        ok(relic(&data, &["witness", "trust", "--dir", m4.to_str().unwrap(), "--key", &log_key]));
        let (mut mw, m_url) = start_witness_with(&m4, &["--mirror", mirror.to_str().unwrap(), "--mirror-wait", "1"]);
        let o = relic(&copy, &["cosign", "--witness", &m_url]);
        assert!(o.code != 0 && o.stderr.contains("409: the mirror's verified log has another root at size 3"), "{}", o.stderr);
        assert!(ok(relic(&data, &["cosign", "--witness", &m_url])).contains("— witness.test/m4 "));
        append(&data, t.path(), "v1.1");
        let o = relic(&data, &["cosign", "--witness", &m_url]);
        assert!(o.code != 0 && o.stderr.contains("503: the mirror holds 3 records, fewer than the checkpoint's 4"), "{}", o.stderr);
        // Once published and mirrored, it is cosigned.
        ok(relic(&data, &["publish", "--brokers", &b]));
        ok(relic(&mirror, &["mirror", "--brokers", &b]));
        assert!(ok(relic(&data, &["cosign", "--witness", &m_url])).contains("— witness.test/m4 "));
        mw.kill().unwrap();
        mw.wait().unwrap();
        // The fork cannot publish its checkpoint: its records go out, then it stops, saying why.
        let o = relic(&copy, &["publish", "--brokers", &b, "--topic", "fork.records", "--checkpoint-topic", "fork.checkpoints", "--evidence-topic", "fork.evidence"]);
        assert!(o.code != 0 && o.stderr.contains("is not published: 0 of the 2 cosignatures"), "{}", o.stderr);
    }

    // Below the quorum, nothing new is published.
    for mut w in running {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    append(&data, t.path(), "v2");
    let o = relic(&data, &["checkpoint"]);
    assert!(o.code != 0 && o.stdout.is_empty() && o.stderr.contains("0 of the 2 cosignatures"), "{}", o.stderr);
    // A checkpoint already cosigned is still given out.
    assert_eq!(ok(relic(&data, &["checkpoint", "--size", "3"])), honest);
    let o = relic(&data, &["witness", "serve", "--dir", t.path().join("w1").to_str().unwrap(), "--mirror", data.to_str().unwrap()]);
    assert!(o.code != 0 && o.stderr.contains("not a mirror"), "{}", o.stderr);
}

#[test]
fn an_evidence_bundle_is_checked_offline_with_the_log_and_witness_keys_alone() {
    let (t, data, log_key) = new_log("bundle.test/log");
    let junit = t.path().join("junit.xml");
    std::fs::write(&junit, "<testsuite tests=\"3\" failures=\"0\"/>\n").unwrap();
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1.0", "--ref", "main", "--report-artifact", junit.to_str().unwrap(), "--actor", "alice"]));
    let wdir = t.path().join("w1");
    let wkey = ok(relic(&data, &["witness", "init", "--dir", wdir.to_str().unwrap(), "--name", "witness.test/w1"])).trim().to_string();
    ok(relic(&data, &["witness", "trust", "--dir", wdir.to_str().unwrap(), "--key", &log_key]));
    let (mut witness, url) = start_witness(&wdir);
    ok(relic(&data, &["witnesses", "add", "--url", &url, "--key", &wkey]));

    let bundle = t.path().join("v1.0.bundle");
    let written = ok(relic(&data, &["evidence", "bundle", "--project", "acme/app", "--tag-name", "v1.0", "--output", bundle.to_str().unwrap()]));
    assert!(written.starts_with("wrote "), "{written}");
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(text.contains("— witness.test/w1 "), "the bundle's checkpoint is the cosigned one");
    // Checked with nothing but the file and the keys: no data directory.
    let nowhere = t.path().join("no-data-here");
    let b = bundle.to_str().unwrap();
    let said = ok(relic(&nowhere, &["evidence", "verify", "--bundle", b, "--key", &log_key, "--witness", &wkey]));
    assert!(said.starts_with("ok: evidence ") && said.contains("1 of 1 artifact(s) included and intact"), "{said}");
    assert!(!nowhere.exists(), "verifying a bundle creates nothing");
    let lean = t.path().join("lean.bundle");
    ok(relic(&data, &["evidence", "bundle", "--project", "acme/app", "--tag-name", "v1.0", "--output", lean.to_str().unwrap(), "--without-artifacts"]));
    let said = ok(relic(&nowhere, &["evidence", "verify", "--bundle", lean.to_str().unwrap(), "--key", &log_key]));
    assert!(said.contains("0 of 1 artifact(s) included"), "{said}");

    // Whatever is altered is named; another log's key or a missing witness is refused.
    let altered = t.path().join("altered.bundle");
    let at = text.find("\"document\":\"").unwrap() + 40;
    let flipped = if &text[at..at + 1] == "A" { "B" } else { "A" };
    std::fs::write(&altered, format!("{}{flipped}{}", &text[..at], &text[at + 1..])).unwrap();
    let o = relic(&nowhere, &["evidence", "verify", "--bundle", altered.to_str().unwrap(), "--key", &log_key]);
    assert!(o.code != 0 && o.stderr.contains("its evidence document: its bytes hash to"), "{}", o.stderr);
    let (_t2, _other, other_key) = new_log("bundle.test/log");
    let o = relic(&nowhere, &["evidence", "verify", "--bundle", b, "--key", &other_key]);
    assert!(o.code != 0 && o.stderr.contains("its checkpoint"), "{}", o.stderr);
    let stranger = ok(relic(&data, &["witness", "init", "--dir", t.path().join("w2").to_str().unwrap(), "--name", "witness.test/w2"])).trim().to_string();
    let o = relic(&nowhere, &["evidence", "verify", "--bundle", b, "--key", &log_key, "--witness", &stranger]);
    assert!(o.code != 0 && o.stderr.contains("0 valid cosignature(s) of the 1 required"), "{}", o.stderr);
    let o = relic(&nowhere, &["evidence", "verify", "--bundle", b]);
    assert!(o.code != 0 && o.stderr.contains("--bundle needs --key"), "{}", o.stderr);
    let o = relic(&data, &["evidence", "bundle", "--project", "acme/app", "--tag-name", "v1.0", "--output", data.join("keys").join("x").to_str().unwrap()]);
    assert!(o.code != 0, "a bundle written into the data directory");

    // Without the witness's cosignature nothing is published, so no bundle is written.
    witness.kill().unwrap();
    witness.wait().unwrap();
    ok(relic(&data, &["evidence", "collect", "--project", "acme/app", "--tag-name", "v1.0", "--actor", "alice"]));
    let late = t.path().join("late.bundle");
    let o = relic(&data, &["evidence", "bundle", "--project", "acme/app", "--tag-name", "v1.0", "--output", late.to_str().unwrap()]);
    assert!(o.code != 0 && o.stderr.contains("is not published") && !late.exists(), "{}", o.stderr);
}
