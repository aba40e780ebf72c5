//! Secrets kept until disclosure (`schemas/confidential-v1.md`): an internal release's title is
//! written into the log only as a commitment. Before disclosure its bytes are in no record, no
//! file a broker carries, no mirror, no compliance report and no view a developer is shown; the
//! maintainers see it, read from a 0600 store beside the log. The disclosure reveals it, and
//! `relic internal verify-disclosure` proves it is what the detection committed to, on the origin
//! and on a mirror that never held the store.

use std::path::Path;

use relic_tests::{relic, tansu, Output};
use serde_json::Value;

const TITLE: &str = "SECRET-7f3a: auth bypass in settlement";

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

/// Every file under `dir` whose bytes contain `needle`, except under `except`.
fn files_holding(dir: &Path, needle: &[u8], except: Option<&Path>) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if except.is_some_and(|x| p.starts_with(x)) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

fn title_seen_by(data: &Path, viewer: Option<&str>) -> String {
    let mut args = vec!["--json", "internal", "status", "IR-1"];
    if let Some(v) = viewer {
        args.extend(["--viewer", v]);
    }
    let v: Value = serde_json::from_str(&ok(relic(data, &args))).unwrap();
    v["internal_release"]["title"].as_str().unwrap().to_string()
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[test]
fn a_title_stays_out_of_every_copy_until_disclosure_and_is_proven_after() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    ok(relic(&data, &["init", "--origin", "confidential.test/log"]));
    let run = |args: &[&str]| ok(relic(&data, args));
    run(&["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]);
    run(&["project", "member", "--project", "acme/app", "--user", "dev", "--role", "developer", "--actor", "alice"]);
    run(&["project", "member", "--project", "acme/app", "--user", "maint", "--role", "maintainer", "--actor", "alice"]);
    for tag in ["v17.1.0", "v17.2.0", "v17.3.0"] {
        run(&["release", "create", "--project", "acme/app", "--tag-name", tag, "--ref", "main", "--actor", "alice"]);
    }
    run(&["internal", "detect", "--id", "IR-1", "--project", "acme/app", "--kind", "vulnerability", "--severity", "1", "--title", TITLE, "--reported-by", "sirt", "--actor", "maint"]);

    // Only the store beside the log holds it, readable by its owner only.
    let store = data.join("confidential");
    assert_eq!(files_holding(&data, TITLE.as_bytes(), Some(&store)), Vec::<String>::new(), "the title is outside the store");
    let kept: Vec<_> = std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().path()).collect();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!((kept.len(), std::fs::metadata(&kept[0]).unwrap().permissions().mode() & 0o777), (1, 0o600));
    // Maintainers (and the directory's owner) see it; a developer does not; nor does a report.
    assert_eq!(title_seen_by(&data, None), TITLE);
    assert_eq!(title_seen_by(&data, Some("maint")), TITLE);
    assert_eq!(title_seen_by(&data, Some("dev")), "[confidential until disclosure]");
    let report = run(&["report", "compliance", "--format", "json"]);
    assert!(!report.contains(TITLE) && report.contains("[confidential until disclosure]"), "the report shows the title");
    let o = relic(&data, &["internal", "verify-disclosure", "--id", "IR-1"]);
    assert!(o.code == 6 && o.stderr.contains("is not disclosed yet"), "{}", o.stderr);

    // Kafka carries the log and the files it names: none holds the title, nor does a mirror.
    let broker = tansu::broker_or_skip("a_title_stays_out_of_every_copy_until_disclosure");
    let mirror = t.path().join("mirror");
    if let Some(b) = &broker {
        run(&["publish", "--brokers", &b.brokers()]);
        ok(relic(&mirror, &["mirror", "--brokers", &b.brokers()]));
        assert_eq!(files_holding(&mirror, TITLE.as_bytes(), None), Vec::<String>::new(), "the mirror holds the title");
        assert_eq!(title_seen_by(&mirror, None), "[confidential until disclosure]");
    }

    // Through the phases to the disclosure, which reveals the title with its salt.
    run(&["internal", "prepare", "--id", "IR-1", "--release-issue", "https://issues.example/1", "--notify", "single-tenant", "--target", "17.2", "--target", "17.1", "--actor", "maint"]);
    run(&["internal", "remediate", "--id", "IR-1", "--default-branch-commit", "abc123", "--deployed-at", &now(), "--verified-by", "appsec", "--actor", "maint"]);
    for target in ["17.2", "17.1"] {
        run(&["internal", "backport", "--id", "IR-1", "--target", target, "--merge-request", "!1", "--approved", "--pipeline", "success", "--merged-commit", "def456", "--actor", "maint"]);
    }
    let digest = format!("sha256:{}", "0".repeat(64));
    run(&["internal", "release", "--id", "IR-1", "--package", &format!("17.2.1-internal.1,app,{digest}"), "--package", &format!("17.1.1-internal.1,app,{digest}"), "--actor", "maint"]);
    run(&["internal", "finalize", "--id", "IR-1", "--rollout-completed-at", &now(), "--notify", "single-tenant", "--emergency-maintenance", "EM-1", "--actor", "maint"]);
    assert_eq!(files_holding(&data, TITLE.as_bytes(), Some(&store)), Vec::<String>::new(), "the title left the store before disclosure");
    for tag in ["v17.2.1", "v17.1.1"] {
        run(&["release", "create", "--project", "acme/app", "--tag-name", tag, "--ref", "main", "--actor", "alice"]);
    }
    run(&["internal", "disclose", "--id", "IR-1", "--public-version", "17.2.1", "--public-version", "17.1.1", "--actor", "maint"]);
    assert_eq!(title_seen_by(&data, Some("dev")), TITLE, "disclosed: everyone sees it");
    let proven = run(&["internal", "verify-disclosure", "--id", "IR-1"]);
    assert!(proven.starts_with("ok: the title disclosed in record ") && proven.contains(TITLE), "{proven}");
    // A mirror, which never held the store, proves it from the log alone.
    if let Some(b) = &broker {
        run(&["publish", "--brokers", &b.brokers()]);
        ok(relic(&mirror, &["mirror", "--brokers", &b.brokers()]));
        assert_eq!(title_seen_by(&mirror, None), TITLE);
        assert!(ok(relic(&mirror, &["internal", "verify-disclosure", "--id", "IR-1"])).starts_with("ok: "));
    }
}
