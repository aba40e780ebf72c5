//! Long texts kept beside the log (`schemas/record-v1.md` §Texts kept beside the log): a release
//! description far over the entry-bundle limit is written as a reference in a record that fits a
//! C2SP entry bundle, kept content-addressed in `texts/`, read back in full by the views, checked
//! against its digest, carried to a Kafka mirror, and never replaced by other bytes.

use std::path::Path;

use relic_ledger::record::{Actor, Draft};
use relic_ledger::Ledger;
use relic_tests::{relic, tansu, Output};
use serde_json::Value;

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

fn last_seq(data: &Path, kind: &str) -> u64 {
    ok(relic(data, &["--json", "log"]))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|r| r["kind"] == kind)
        .and_then(|r| r["seq"].as_u64())
        .unwrap_or_else(|| panic!("no {kind} record"))
}

fn description(data: &Path) -> String {
    let v: Value = serde_json::from_str(&ok(relic(data, &["--json", "release", "get", "--project", "acme/app", "--tag-name", "v1.0"]))).unwrap();
    v["release"]["description"].as_str().expect("a release with a description").to_string()
}

#[test]
fn a_long_release_description_is_kept_beside_the_log_and_read_back_everywhere() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    ok(relic(&data, &["init", "--origin", "texts.test/log"]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    // About 240 KB of notes, with escapes and non-ASCII: four entry bundles' worth.
    let notes: String = (0..8000).map(|i| format!("- {i}: Café — fixes \"CVE\" in the\tparser\n")).collect();
    assert!(notes.len() > 4 * 65_535);
    let file = t.path().join("notes.md");
    std::fs::write(&file, &notes).unwrap();
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1.0", "--ref", "main", "--notes-file", file.to_str().unwrap(), "--actor", "alice"]));

    // The record holds the reference, not the text, and fits an entry bundle.
    let seq = last_seq(&data, "release.created");
    let raw = relic(&data, &["record", &seq.to_string(), "--raw"]).stdout;
    assert!(raw.len() <= 65_535, "record {seq} is {} bytes", raw.len());
    let digest = blake3::hash(notes.as_bytes()).to_hex().to_string();
    let reference = format!("{{\"$text\":\"{digest}\",\"bytes\":{}}}", notes.len());
    let raw_text = String::from_utf8_lossy(&raw);
    assert!(raw_text.contains(&reference), "no reference in record {seq}");
    assert!(!raw_text.contains("fixes"), "the text itself is not in the record");
    assert_eq!(std::fs::read(data.join("texts").join(&digest)).unwrap(), notes.as_bytes());

    // Everything that reads the release reads the whole text; the log verifies; the tiles export
    // has every entry bundle.
    assert!(description(&data) == notes, "the view's description differs from the notes given");
    ok(relic(&data, &["verify"]));
    ok(relic(&data, &["checkpoint"]));
    let tiles = t.path().join("tiles");
    let e: Value = serde_json::from_str(&ok(relic(&data, &["--json", "export", "--tiles", tiles.to_str().unwrap()]))).unwrap();
    assert!(e["too_large"].is_null(), "{e}");
    let bundle = std::fs::read(tiles.join("tile/entries/000.p").join(e["size"].as_u64().unwrap().to_string())).unwrap();
    assert!(bundle.windows(raw.len()).any(|w| w == raw.as_slice()), "the bundle holds the record's exact bytes");

    // A submitted payload may not carry the reference's marker.
    let p = t.path().join("p.json");
    std::fs::write(&p, format!(r#"{{"project":"acme/app","tag_name":"v1.0","environment":"prod","status":"success","x":{reference}}}"#)).unwrap();
    let o = relic(&data, &["append", "--kind", "deployment.recorded", "--subject", "acme/app@v1.0", "--actor", "alice", "--payload", p.to_str().unwrap()]);
    assert!(o.code != 0 && o.stderr.contains("payload member \"$text\" is reserved"), "{}", o.stderr);

    // Kafka carries the text beside the record; the mirror reads the release as the origin does.
    if let Some(broker) = tansu::broker_or_skip("a_long_release_description_is_kept_beside_the_log") {
        let b = broker.brokers();
        ok(relic(&data, &["publish", "--brokers", &b]));
        let mirror = t.path().join("mirror");
        ok(relic(&mirror, &["mirror", "--brokers", &b]));
        assert_eq!(std::fs::read(mirror.join("texts").join(&digest)).unwrap(), notes.as_bytes());
        assert!(description(&mirror) == notes, "the mirror's description differs");
        // A subscriber gets the event as it was written: the text put back in its payload.
        let events = ok(relic(&t.path().join("sub"), &["subscribe", "--brokers", &b, "--once", "--kind", "release.created"]));
        let created: Value = serde_json::from_str(events.lines().next().expect("the release.created event")).unwrap();
        assert!(created["payload"]["description"].as_str() == Some(notes.as_str()), "the subscriber's description differs");
    }

    // Altered beside the log, the text is not shown: the record is named as unreadable.
    let mut altered = notes.clone().into_bytes();
    altered[10] ^= 1;
    std::fs::write(data.join("texts").join(&digest), &altered).unwrap();
    std::fs::remove_dir_all(data.join("views")).ok();
    let o = relic(&data, &["--json", "release", "get", "--project", "acme/app", "--tag-name", "v1.0"]);
    assert!(!o.stdout_text().contains("fixes"), "an altered text was shown");
    assert!(o.stderr.contains(&format!("text {digest} does not match its reference")), "{}", &o.stderr[..o.stderr.len().min(2000)]);
}

#[test]
fn a_record_that_would_not_fit_an_entry_bundle_is_refused_whole() {
    let t = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(t.path(), "texts.test/limit", relic_ledger::policy::unchecked()).unwrap();
    let draft = |payload: Value| Draft { actor: Actor { id: "alice".into(), role: "owner".into() }, kind: "note.added".into(), subject: "acme/app".into(), payload: payload.to_string().into_bytes(), schema_version: 1 };
    // Twenty strings of 4000 bytes each stay in place: 80 KB would not fit.
    let many: serde_json::Map<String, Value> = (0..20).map(|i| (format!("s{i:02}"), Value::String("y".repeat(4000)))).collect();
    let e = ledger.append_blocking(draft(Value::Object(many))).unwrap_err().to_string();
    assert!(e.contains("a record must fit in 65535 bytes"), "{e}");
    assert_eq!(ledger.size(), 1, "nothing was written");
    assert!(!t.path().join("texts").exists(), "and no text kept");
    // One long string is kept aside and the record fits.
    let r = ledger.append_blocking(draft(serde_json::json!({"s": "z".repeat(100_000)}))).unwrap();
    assert!(ledger.record_bytes(r.seq).unwrap().len() < 400);
}
