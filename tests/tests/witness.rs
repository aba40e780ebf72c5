//! A split view, tried as an attacker would, against a real `relic witness` process (C2SP
//! tlog-witness): copy the data directory, append one record and have the checkpoint cosigned;
//! restore the copy, append a different record and ask again. The witness refuses the fork, also
//! after being killed and restarted (its state is durable before it answers), and an offline
//! verifier that requires the witness's cosignature (`--witness KEY --quorum 1`) accepts the
//! cosigned checkpoint and rejects the forked one.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use relic_tests::{copy_dir, relic, Output};

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

fn start_witness(dir: &Path) -> (Child, String) {
    let mut w = Command::new(env!("CARGO_BIN_EXE_relic_proc"))
        .args(["witness", "serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    ok(relic(&data, &["init", "--origin", "fork.test/log"]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    let log_key = ok(relic(&data, &["key"])).trim().to_string();

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
    assert!(o.code != 0 && o.stderr.contains("the witness refused the checkpoint (409)"), "{}", o.stderr);
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
