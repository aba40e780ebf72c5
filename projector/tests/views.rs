//! Views and time travel over a real ledger built through the domain commands.

use chrono::{Duration, TimeZone, Utc};
use relic_domain::decide::{Command, LinkInput};
use relic_domain::event::Role;
use relic_domain::service::Service;
use relic_ledger::Ledger;
use relic_domain::internal::deadline;
use relic_projector::history::release_history;
use relic_projector::views::{get, list, snapshot, AsOf, ListOptions};

const P: &str = "acme/app";

fn create(tag: &str, released_at: chrono::DateTime<Utc>) -> Command {
    Command::CreateRelease {
        project: P.into(),
        tag_name: tag.into(),
        name: Some(format!("App {tag}")),
        description: None,
        git_ref: Some("main".into()),
        tag_message: None,
        released_at: Some(released_at.to_rfc3339()),
        milestones: vec![],
        links: vec![LinkInput { name: Some("bin".into()), url: Some(format!("https://dl.example/{tag}")), direct_asset_path: Some("/bin/app".into()), link_type: Some("package".into()) }],
        report_artifacts: vec![],
    }
}

fn build() -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    relic_domain::service::init_ledger(dir.path(), "views.test/log").unwrap().close();
    let mut svc = Service::open(dir.path()).unwrap();
    let now = Utc::now();
    svc.execute("owner", &Command::RegisterProject { project: P.into(), name: "App".into(), description: None }, now).unwrap();
    svc.execute("owner", &Command::SetMemberRole { project: P.into(), user: "gus".into(), role: Role::Guest }, now).unwrap();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    for (i, tag) in ["v1.0.0", "v1.1.0", "v1.2.0"].iter().enumerate() {
        svc.execute("owner", &create(tag, base + Duration::days(30 * i as i64)), now).unwrap();
    }
    let before_update = svc.ledger().size();
    svc.execute("owner", &Command::UpdateRelease { project: P.into(), tag_name: "v1.1.0".into(), name: Some("Renamed".into()), description: None, released_at: None, milestones: None }, now).unwrap();
    svc.execute("owner", &create("v2.0.0", now + Duration::days(10)), now).unwrap();
    (dir, before_update)
}

#[test]
fn list_sorts_paginates_and_names_its_checkpoint() {
    let (dir, _) = build();
    let l = Ledger::open_read_only(dir.path()).unwrap();
    let snap = snapshot(&l, AsOf::Now).unwrap();
    let v = list(&snap, P, &ListOptions::default(), None).unwrap();
    let tags: Vec<&str> = v["releases"].as_array().unwrap().iter().map(|r| r["tag_name"].as_str().unwrap()).collect();
    assert_eq!(tags, ["v2.0.0", "v1.2.0", "v1.1.0", "v1.0.0"], "released_at desc by default");
    let asc = ListOptions { sort: "asc".into(), per_page: 2, page: 2, ..Default::default() };
    let v2 = list(&snap, P, &asc, None).unwrap();
    let tags: Vec<&str> = v2["releases"].as_array().unwrap().iter().map(|r| r["tag_name"].as_str().unwrap()).collect();
    assert_eq!(tags, ["v1.2.0", "v2.0.0"]);
    assert_eq!(v2["total_pages"], 2);
    assert_eq!(v["log"]["tree_size"], l.size());
    assert!(list(&snap, P, &ListOptions { per_page: 101, ..Default::default() }, None).is_err());
    assert!(list(&snap, P, &ListOptions { order_by: "name".into(), ..Default::default() }, None).is_err());
    // Flags, permanent links, latest.
    let up = &v["releases"][0];
    assert_eq!(up["upcoming_release"], true);
    assert_eq!(up["assets"]["links"][0]["direct_asset_url"], "/acme/app/-/releases/v2.0.0/downloads/bin/app");
    assert_eq!(up["assets"]["count"], 5);
    assert_eq!(v["releases"][3]["historical_release"], true);
    let latest = get(&snap, P, None, None).unwrap();
    assert_eq!(latest["release"]["tag_name"], "v1.2.0", "the latest release excludes upcoming ones");
}

#[test]
fn guests_see_redacted_releases_and_strangers_nothing() {
    let (dir, _) = build();
    let l = Ledger::open_read_only(dir.path()).unwrap();
    let snap = snapshot(&l, AsOf::Now).unwrap();
    let g = get(&snap, P, Some("v1.0.0"), Some("gus")).unwrap();
    let r = &g["release"];
    assert_eq!(r["name"], format!("Release-{}", r["id"]));
    let o = r.as_object().unwrap();
    for hidden in ["tag_name", "commit", "evidences"] {
        assert!(!o.contains_key(hidden), "a guest sees {hidden}");
    }
    assert_eq!(r["assets"], serde_json::json!({"count": 0, "links": []}));
    // Nothing a guest sees names the tag.
    assert!(!r.to_string().contains("v1.0.0"), "{r}");
    assert!(get(&snap, P, Some("v1.0.0"), Some("mallory")).is_err());
}

#[test]
fn as_of_shows_the_state_exactly_as_it_was() {
    let (dir, before_update) = build();
    let l = Ledger::open_read_only(dir.path()).unwrap();
    let then = snapshot(&l, AsOf::Size(before_update)).unwrap();
    assert_eq!(get(&then, P, Some("v1.1.0"), None).unwrap()["release"]["name"], "App v1.1.0");
    assert!(get(&then, P, Some("v2.0.0"), None).is_err(), "v2.0.0 did not exist yet");
    assert_eq!(then.root, l.root(before_update).unwrap());
    let now = snapshot(&l, AsOf::Now).unwrap();
    assert_eq!(get(&now, P, Some("v1.1.0"), None).unwrap()["release"]["name"], "Renamed");
    // By time: before any record, the project does not exist.
    let early = snapshot(&l, AsOf::Time(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap())).unwrap();
    assert!(early.state.projects.is_empty());
    assert!(snapshot(&l, AsOf::Size(l.size() + 1)).is_err());
    // History: who changed which field from what to what.
    let h = release_history(&l, P, "v1.1.0", AsOf::Now).unwrap();
    let last = h["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "release.updated");
    assert_eq!(last["actor"]["id"], "owner");
    assert_eq!(last["changes"]["name"], serde_json::json!({"from": "App v1.1.0", "to": "Renamed"}));
}

#[test]
fn deadlines_are_met_missed_or_at_risk() {
    let start = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let day = Duration::days(1);
    let status = |done, at| deadline(start, day, done, at).status.as_str();
    assert_eq!(status(Some(start + Duration::hours(5)), start + day * 3), "met");
    assert_eq!(status(Some(start + Duration::hours(30)), start + day * 3), "missed");
    assert_eq!(status(None, start + day * 2), "missed");
    assert_eq!(status(None, start + Duration::hours(22)), "at_risk");
    assert_eq!(status(None, start + Duration::hours(2)), "pending");
}
