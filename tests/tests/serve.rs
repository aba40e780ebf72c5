//! `relic serve` as a real server process on 127.0.0.1, driven by the stock python-gitlab client
//! (installed from PyPI by tests/run.sh): tokens, `GET /user`, projects by path and by id, GitLab's
//! 401 and 404; a release team's whole flow (members, protected tags, releases, links, evidence,
//! freeze periods, a guest's view, every reference error); a CLI writer beside it is sent to its
//! URL; SIGTERM stops it cleanly; every record written through the API names the token's user;
//! tokens are issued, rotated and revoked while it runs, in force from the next request.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use relic_tests::{relic, Output};

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

fn token(data: &Path, user: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&ok(relic(data, &["--json", "token", "create", "--user", user, "--actor", "ops"]))).unwrap();
    v["token"].as_str().unwrap().to_string()
}

const CLIENT: &str = r#"
import sys, gitlab
url, alice, bob = sys.argv[1:4]
gl = gitlab.Gitlab(url, private_token=alice)
gl.auth()
assert gl.user.username == "alice", gl.user.username
p = gl.projects.get("acme/app")
assert (p.path_with_namespace, p.path, p.name) == ("acme/app", "app", "App"), p.attributes
assert gl.projects.get(p.id).path_with_namespace == "acme/app"
# The same token as a CI job's, and as a bearer token.
assert gitlab.Gitlab(url, job_token=alice).projects.get("acme/app").id == p.id
assert gitlab.Gitlab(url, oauth_token=alice).projects.get("acme/app").id == p.id
# A member of nothing: no role, 403; a project that does not exist, 404.
gb = gitlab.Gitlab(url, private_token=bob)
gb.auth()
try:
    gb.projects.get("acme/app")
    raise SystemExit("bob sees a project he is not a member of")
except gitlab.GitlabGetError as e:
    assert e.response_code == 403 and "403 Forbidden" in str(e), e
try:
    gb.projects.get("acme/nothing-here")
    raise SystemExit("a project that does not exist was found")
except gitlab.GitlabGetError as e:
    assert e.response_code == 404 and "404 Project Not Found" in str(e), e
for bad in ["relic_" + "0" * 40, ""]:
    try:
        gitlab.Gitlab(url, private_token=bad).auth()
        raise SystemExit("a bad token was accepted")
    except gitlab.GitlabAuthenticationError as e:
        assert e.response_code == 401 and "401 Unauthorized" in str(e), e
print("python-gitlab: ok")
"#;

/// A release team's whole flow through python-gitlab, as alice (owner), dave (developer) and gus
/// (guest).
const FLOW: &str = r#"
import sys, json, gitlab, requests
url, alice, dave, gus = sys.argv[1:5]
H = {"PRIVATE-TOKEN": dave}

def expect(fn, code, text):
    try:
        fn()
    except gitlab.GitlabError as e:
        assert e.response_code == code and text in str(e), (code, text, e.response_code, str(e))
        return
    raise SystemExit(f"expected {code} {text!r}, got success")

ga = gitlab.Gitlab(url, private_token=alice)
p = ga.projects.get("acme/app")
# Members and protected tags, as the owner.
p.members.create({"username": "dave", "access_level": 30})
p.members.create({"username": "gus", "access_level": 10})
assert {m.username: m.access_level for m in p.members.list(get_all=True)} == {"alice": 50, "dave": 30, "gus": 10}
expect(lambda: p.members.create({"username": "dave", "access_level": 30}), 409, "Member already exists")
expect(lambda: p.members.create({"username": "erin", "access_level": 31}), 400, "access_level does not have a valid value")
p.protectedtags.create({"name": "v9*", "create_access_level": 40})
assert [(t.name, t.create_access_levels[0]["access_level"]) for t in p.protectedtags.list()] == [("v9*", 40)]
assert p.protectedtags.get("v9*").name == "v9*"

gd = gitlab.Gitlab(url, private_token=dave)
pd = gd.projects.get(p.id)
r = pd.releases.create({"tag_name": "v1.0.0", "ref": "main", "description": "first", "milestones": ["M1"],
    "assets": {"links": [{"name": "bin", "url": "https://dl.example/v1/bin", "direct_asset_path": "/bin/app", "link_type": "package"}]}})
assert r.tag_name == "v1.0.0" and r.author["username"] == "dave", r.attributes
assert [m["title"] for m in r.milestones] == ["M1"], r.milestones
assert [(l["name"], l["link_type"]) for l in r.assets["links"]] == [("bin", "package")], r.assets
assert r.assets["links"][0]["direct_asset_url"] == url + "/acme/app/-/releases/v1.0.0/downloads/bin/app"
assert len(r.evidences) == 1, r.evidences
for i in (2, 3, 4):
    pd.releases.create({"tag_name": f"v1.0.{i}", "ref": "main", "released_at": f"2026-01-0{i}T00:00:00Z"})

# Every reference error, with its status and text.
expect(lambda: pd.releases.create({"tag_name": "v1.0.0", "ref": "main"}), 409, "Release already exists")
expect(lambda: pd.releases.create({"tag_name": "v9.0.0", "ref": "main"}), 403, "You are not allowed to create this tag as it is protected.")
expect(lambda: pd.releases.create({"tag_name": "v2.0.0"}), 422, "Ref is not specified")
expect(lambda: pd.releases.create({"tag_name": "v2.0.0", "ref": "main", "milestones": ["nope"]}), 400, "Milestone(s) not found: nope")
expect(lambda: pd.releases.create({"tag_name": "v2.0.0", "ref": "main", "assets": {"links": [{"name": "x", "url": "file:///etc/passwd"}]}}),
       400, "Url is blocked: Only allowed schemes are http, https, ftp")
expect(lambda: pd.releases.create({"tag_name": "v2.0.0", "ref": "main", "assets": {"links": [{"name": "x", "url": "https://a.example"}, {"name": "x", "url": "https://b.example"}]}}),
       400, "Validation failed: Links have duplicate values")
expect(lambda: gd.http_post(f"/projects/{p.id}/releases", post_data={"ref": "main"}), 400, "tag_name is missing")
expect(lambda: pd.releases.update("v7", {"name": "x"}), 404, "Release does not exist")

# List, sort, paginate (GitLab's headers, followed by python-gitlab).
order = ["v1.0.0", "v1.0.4", "v1.0.3", "v1.0.2"]
assert [x.tag_name for x in pd.releases.list(get_all=True)] == order
assert [x.tag_name for x in pd.releases.list(sort="asc", get_all=True)] == order[::-1]
assert [x.tag_name for x in pd.releases.list(order_by="created_at", sort="asc", get_all=True)] == ["v1.0.0", "v1.0.2", "v1.0.3", "v1.0.4"]
assert [x.tag_name for x in pd.releases.list(per_page=2, page=2)] == order[2:]
it = pd.releases.list(per_page=1, iterator=True)
assert (it.total, it.total_pages) == (4, 4), (it.total, it.total_pages)
assert [x.tag_name for x in it] == order
resp = requests.get(url + f"/api/v4/projects/{p.id}/releases?per_page=3", headers=H)
assert resp.headers["X-Next-Page"] == "2" and 'rel="next"' in resp.headers["Link"], resp.headers
assert int(resp.headers["X-Relic-Tree-Size"]) > 0 and resp.headers["X-Relic-Root"]

# Get, update.
r = pd.releases.get("v1.0.0")
r.description = "first, updated"
r.save()
assert pd.releases.get("v1.0.0").description == "first, updated"
assert pd.releases.get("v1.0.0").relic_log["tree_size"] > 0

# Links.
l = r.links.create({"name": "docs", "url": "https://docs.example/v1"})
assert sorted(x.name for x in r.links.list()) == ["bin", "docs"]
l.url = "https://docs.example/v1b"
l.save()
assert r.links.get(l.id).url == "https://docs.example/v1b"
r.links.delete(l.id)
assert [x.name for x in r.links.list()] == ["bin"]
# The permanent asset link and the latest release redirect.
resp = requests.get(url + "/acme/app/-/releases/v1.0.0/downloads/bin/app", headers=H, allow_redirects=False)
assert resp.status_code == 302 and resp.headers["Location"] == "https://dl.example/v1/bin", (resp.status_code, resp.headers)
resp = requests.get(url + "/api/v4/projects/acme%2Fapp/releases/permalink/latest", headers=H, allow_redirects=False)
assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/projects/{p.id}/releases/v1.0.0"), resp.headers

# Evidence on demand, and its document at the release's filepath.
ev = gd.http_post(f"/projects/{p.id}/releases/v1.0.0/evidence")
evs = pd.releases.get("v1.0.0").evidences
assert len(evs) == 2 and evs[-1]["sha"] == ev["sha"], (ev, evs)
doc = requests.get(ev["filepath"], headers=H).json()
assert doc["release"]["tag_name"] == "v1.0.0" and doc["release"]["description"] == "first, updated", doc

# Freeze periods: maintainers and above (python-gitlab has no manager for them: its raw calls).
fp = f"/projects/{p.id}/freeze_periods"
before = int(requests.get(url + "/api/v4" + fp, headers={"PRIVATE-TOKEN": alice}).headers["X-Relic-Tree-Size"])
f = ga.http_post(fp, post_data={"freeze_start": "0 23 * * 5", "freeze_end": "0 7 * * 1", "cron_timezone": "UTC"})
# Any view as it was: before the period existed, and after.
assert ga.http_get(fp, query_data={"as_of": before}) == [] and len(ga.http_get(fp, query_data={"as_of": before + 1})) == 1
expect(lambda: ga.http_get(fp, query_data={"as_of": "yesterday"}), 400, "as_of is invalid")
ga.http_put(f"{fp}/{f['id']}", post_data={"freeze_end": "0 8 * * 1"})
assert ga.http_get(f"{fp}/{f['id']}")["freeze_end"] == "0 8 * * 1"
assert [x["id"] for x in gd.http_get(fp)] == [f["id"]]
expect(lambda: gd.http_post(fp, post_data={"freeze_start": "0 1 * * *", "freeze_end": "0 2 * * *"}), 403, "Access Denied")
expect(lambda: ga.http_post(fp, post_data={"freeze_start": "bad", "freeze_end": "0 7 * * 1"}), 400, "Freeze start is invalid syntax")
ga.http_delete(f"{fp}/{f['id']}")
assert ga.http_get(fp) == []
expect(lambda: ga.http_get(f"{fp}/{f['id']}"), 404, "404 Not Found")

# A guest: releases redacted, nothing names a tag; no assets, no writes.
gg = gitlab.Gitlab(url, private_token=gus)
pg = gg.projects.get("acme/app")
seen = pg.releases.list(get_all=True)
assert len(seen) == 4
for x in seen:
    text = json.dumps(x.attributes)
    assert "v1.0" not in text and x.name.startswith("Release-"), text
expect(lambda: pg.releases.create({"tag_name": "v3.0.0", "ref": "main"}), 403, "Access Denied")

# Delete: the answer is the release as it was.
gone = gd.http_delete(f"/projects/{p.id}/releases/v1.0.4").json()
assert gone["tag_name"] == "v1.0.4", gone
expect(lambda: pd.releases.get("v1.0.4"), 404, "404 Not Found")
p.protectedtags.delete("v9*")
assert p.protectedtags.list() == []
print("flow: ok")
"#;

#[test]
fn python_gitlab_authenticates_and_reads_projects_from_relic_serve() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    let (alice, bob) = (token(&data, "alice"), token(&data, "bob"));

    let (server, base) = start(&data, &t.path().join("server.log"));

    python(CLIENT, &[&base, &alice, &bob], "python-gitlab: ok");

    // A CLI writer on the served directory is told where the server is; readers work.
    let o = relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1", "--ref", "main", "--actor", "alice"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("owned by `relic serve` at") && o.stderr.contains(&base), "{}", o.stderr);
    ok(relic(&data, &["verify"]));

    stop(server);
    assert!(!relic_server_url(&data), "the server removed its URL file");
    // Nothing was written through the server yet; the log is what the CLI wrote.
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1", "--ref", "main", "--actor", "alice"]));
    ok(relic(&data, &["verify"]));
}

/// A new log under `dir` with the project acme/app, registered by alice.
fn acme_app(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("d");
    ok(relic(&data, &["init", "--origin", "serve.test/log"]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    data
}

fn relic_server_url(data: &Path) -> bool {
    data.join("serve.json").exists()
}

/// Starts `relic serve` on a free port of 127.0.0.1, its request log going to `log`; returns it and
/// its base URL once it accepts requests.
fn start(data: &Path, log: &Path) -> (std::process::Child, String) {
    start_with(data, log, &[])
}

/// [`start`] with more `relic serve` options.
fn start_with(data: &Path, log: &Path, opts: &[&str]) -> (std::process::Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_relic_proc"))
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(opts)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let api = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}"));
    (server, api.trim_end_matches("/api/v4").to_string())
}

/// The tag of every `release.created` record of the log, in log order.
fn created_tags(data: &Path) -> Vec<String> {
    relic(data, &["--json", "log"])
        .stdout_text()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "release.created")
        .map(|r| r["payload"]["tag_name"].as_str().unwrap().to_string())
        .collect()
}

fn stop(mut server: std::process::Child) {
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let status = server.wait().unwrap();
    assert!(status.success(), "the server stops cleanly on SIGTERM: {status}");
}

fn python(script: &str, args: &[&str], done: &str) {
    let client = Command::new("python3").arg("-c").arg(script).args(args).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&client.stdout), String::from_utf8_lossy(&client.stderr));
    assert!(client.status.success() && stdout.contains(done), "python client (pip install python-gitlab): {stdout}{stderr}");
}

#[test]
fn python_gitlab_drives_a_release_teams_whole_flow() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    let m1 = t.path().join("m1.json");
    std::fs::write(
        &m1,
        r#"{"id": 7, "iid": 1, "title": "M1", "description": null, "state": "active", "created_at": "2026-01-01T00:00:00Z", "due_date": null, "issues": []}"#,
    )
    .unwrap();
    ok(relic(&data, &["milestone", "record", "--project", "acme/app", "--file", m1.to_str().unwrap(), "--actor", "alice"]));
    let tokens: Vec<String> = ["alice", "dave", "gus"].iter().map(|u| token(&data, u)).collect();
    let before: u64 = relic(&data, &["--json", "log"]).stdout_text().lines().count() as u64;

    let log = t.path().join("server.log");
    let (server, base) = start(&data, &log);
    python(FLOW, &[&base, &tokens[0], &tokens[1], &tokens[2]], "flow: ok");
    stop(server);

    ok(relic(&data, &["verify"]));
    // Every record written through the API names the token's user, with the role membership gave.
    let records: Vec<serde_json::Value> =
        relic(&data, &["--json", "log"]).stdout_text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let api: Vec<&serde_json::Value> = records.iter().skip(before as usize).collect();
    assert!(api.len() > 20, "the flow wrote {} records", api.len());
    for r in &api {
        let who = (r["actor"]["id"].as_str().unwrap(), r["actor"]["role"].as_str().unwrap());
        assert!(matches!(who, ("alice", "owner") | ("dave", "developer") | ("gus", "guest")), "record {} by {who:?}", r["seq"]);
    }
    let denied: Vec<&str> = api.iter().filter(|r| r["kind"] == "access.denied").map(|r| r["actor"]["id"].as_str().unwrap()).collect();
    assert_eq!(denied, ["dave", "dave", "gus"], "the refusals for lack of permission are recorded, by whom");
    // The request log: one JSON object per request, and no token in it.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
    assert!(lines.iter().any(|l| l["fields"]["method"] == "POST" && l["fields"]["status"] == 201), "{text}");
    for t in &tokens {
        assert!(!text.contains(t.as_str()), "a token reached the request log");
    }
}

/// 64 clients at once, each creating releases, some racing for the same tag.
const CONCURRENT: &str = r#"
import sys, json, requests, concurrent.futures as cf
url, token = sys.argv[1:3]
H = {"PRIVATE-TOKEN": token, "Content-Type": "application/json"}
def client(i):
    s = requests.Session()
    out = []
    for j in range(4):
        # Clients 2k and 2k+1 race for the same tags: exactly one of each pair may win.
        tag = f"v{i // 2}.{j}.0"
        r = s.post(url + "/api/v4/projects/acme%2Fapp/releases", headers=H,
                   data=json.dumps({"tag_name": tag, "ref": "main", "assets": {"links": [{"name": "bin", "url": f"https://dl.example/{tag}"}]}}))
        body = r.json()
        assert r.status_code in (201, 409), (r.status_code, body)
        if r.status_code == 409:
            assert body == {"message": "Release already exists"}, body
        out.append((tag, r.status_code, int(r.headers["X-Relic-Tree-Size"]) if r.status_code == 201 else None))
    return out
with cf.ThreadPoolExecutor(64) as ex:
    results = [x for f in [ex.submit(client, i) for i in range(64)] for x in f.result()]
created = sorted(t for t, code, _ in results if code == 201)
assert len(created) == len(set(created)) == 32 * 4, (len(created), len(set(created)))
print(json.dumps({"created": created}))
"#;

#[test]
fn sixty_four_clients_at_once_every_acknowledged_release_is_in_the_log_once() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    let alice = token(&data, "alice");
    let (server, base) = start(&data, &t.path().join("server.log"));
    let out = Command::new("python3").args(["-c", CONCURRENT, &base, &alice]).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acknowledged: Vec<&str> = v["created"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    stop(server);

    ok(relic(&data, &["verify"]));
    let mut logged = created_tags(&data);
    logged.sort();
    assert_eq!(logged, acknowledged, "the log holds exactly the acknowledged releases, each once");
}

/// Requests no client should send: each gets a GitLab-shaped error, nothing is appended, and the
/// server keeps serving.
const BAD: &str = r#"
import sys, json, secrets, requests
url, token = sys.argv[1:3]
H = {"PRIVATE-TOKEN": token, "Content-Type": "application/json"}
R = url + "/api/v4/projects/acme%2Fapp/releases"
def size():
    r = requests.get(R, headers=H)
    assert r.status_code == 200, r.text
    return int(r.headers["X-Relic-Tree-Size"])
before = size()
def check(r, code, key, text):
    body = r.json()
    assert r.status_code == code and text in str(body.get(key)), (code, text, r.status_code, body)
check(requests.post(R, headers=H, data='{"tag_name": "v1", "ref": '), 400, "error", "the body is not valid JSON")
check(requests.post(R, headers=H, data='[1, 2]'), 400, "error", "invalid")
check(requests.post(R, headers=H, data=json.dumps({"tag_name": ["v1"], "ref": "main"})), 400, "error", "tag_name is invalid")
check(requests.post(R, headers=H, data=json.dumps({"tag_name": "v1", "ref": "main", "released_at": 5})), 400, "error", "released_at is invalid")
check(requests.post(R, headers=H, data=json.dumps({"tag_name": "v1", "ref": "main", "released_at": "yesterday"})), 400, "message", "released_at is invalid")
check(requests.post(R, headers=H, data=json.dumps({"tag_name": "v1", "ref": "main", "colour": "red"})), 400, "error", "colour is not a parameter")
check(requests.post(R, headers=H, data=json.dumps({"tag_name": "v1", "ref": "main", "assets": {"links": [{"name": "a", "url": "https://a.example", "size": 1}]}})),
      400, "error", "assets.links[0].size is not a parameter")
check(requests.post(R, headers=H, data=json.dumps({"tag_name": "v1", "ref": "main", "description": "x" * 10000})), 413, "message", "413")
check(requests.post(R, headers={"PRIVATE-TOKEN": token, "Content-Type": "application/x-www-form-urlencoded"}, data="tag_name=v1&ref=main"), 415, "error", "application/json")
for tag in ["../../etc/passwd", "..", "v1/../../x", "a b", "v1\u202e0", "HEAD"]:
    check(requests.post(R, headers=H, data=json.dumps({"tag_name": tag, "ref": "main"})), 400, "message", "Tag name invalid")
for path in ["/api/v4/projects/acme%2Fapp/releases/..%2F..%2Fetc%2Fpasswd", "/api/v4/projects/..%2F..%2Fetc/releases",
             "/acme/app/-/releases/..%2F..%2F..%2Fetc/downloads/passwd", "/acme/app/-/releases/v1/evidences/..%2F..%2Fkey.json",
             "/api/v4/nothing/here"]:
    r = requests.get(url + path, headers=H)
    assert r.status_code == 404 and ("message" in r.json() or "error" in r.json()), (path, r.status_code, r.text)
# A flood of bad tokens: 401 each, in GitLab's shape.
s = requests.Session()
for i in range(300):
    bad = "relic_" + secrets.token_hex(20) if i % 3 else secrets.token_hex(i % 50)
    r = s.get(R, headers={"PRIVATE-TOKEN": bad})
    assert r.status_code == 401 and r.json() == {"message": "401 Unauthorized"}, (r.status_code, r.text)
r = s.post(R, headers={"Authorization": "Bearer nope", "Content-Type": "application/json"}, data='{"tag_name": "v1", "ref": "main"}')
assert r.status_code == 401, r.text
assert size() == before, "a bad request appended something"
# Still serving, and a good request works.
r = requests.post(R, headers=H, data=json.dumps({"tag_name": "v1", "ref": "main"}))
assert r.status_code == 201, r.text
print("bad input: ok")
"#;

#[test]
fn bad_requests_get_gitlab_errors_append_nothing_and_the_server_keeps_serving() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    let alice = token(&data, "alice");
    let (server, base) = start_with(&data, &t.path().join("server.log"), &["--max-body", "4096"]);
    python(BAD, &[&base, &alice], "bad input: ok");
    stop(server);
    ok(relic(&data, &["verify"]));
}

/// Clients creating releases as fast as they can, printing each tag the moment its 201 arrives,
/// until the server is gone.
const UNTIL_KILLED: &str = r#"
import sys, json, threading, requests
url, token = sys.argv[1:3]
H = {"PRIVATE-TOKEN": token, "Content-Type": "application/json"}
out = threading.Lock()
def client(i):
    s = requests.Session()
    for j in range(100000):
        tag = f"k{i}.{j}"
        try:
            r = s.post(url + "/api/v4/projects/acme%2Fapp/releases", headers=H, data=json.dumps({"tag_name": tag, "ref": "main"}), timeout=10)
        except Exception:
            return
        if r.status_code == 201:
            with out:
                print(tag, flush=True)
ts = [threading.Thread(target=client, args=(i,)) for i in range(16)]
for t in ts: t.start()
for t in ts: t.join()
"#;

/// SIGKILL while 16 clients create releases, then SIGTERM while they do: every 201 a client
/// received is in the log, which verifies; a restarted server goes on from there.
#[test]
fn a_killed_or_stopped_server_acknowledged_only_what_is_in_the_log() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    let alice = token(&data, "alice");
    let mut acknowledged = Vec::new();
    for (round, signal) in [libc::SIGKILL, libc::SIGTERM].into_iter().enumerate() {
        let (mut server, base) = start(&data, &t.path().join(format!("server-{round}.log")));
        let mut client = Command::new("python3").args(["-c", UNTIL_KILLED, &base, &alice]).stdout(Stdio::piped()).spawn().unwrap();
        // Every tag the clients print, as they print it; the signal comes once 20 are acknowledged
        // and creations are in full flow.
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(client.stdout.take().unwrap());
        let reader = std::thread::spawn(move || {
            for l in lines.lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let mut tags = Vec::new();
        while tags.len() < 20 {
            tags.push(rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the clients acknowledge releases"));
        }
        unsafe {
            libc::kill(server.id() as i32, signal);
        }
        let status = server.wait().unwrap();
        if signal == libc::SIGTERM {
            assert!(status.success(), "SIGTERM stops the server cleanly: {status}");
        }
        client.wait().unwrap();
        reader.join().unwrap();
        tags.extend(rx.try_iter());
        acknowledged.extend(tags);
    }
    ok(relic(&data, &["verify"]));
    let logged: std::collections::BTreeSet<String> = created_tags(&data).into_iter().collect();
    for tag in &acknowledged {
        assert!(logged.contains(tag), "{tag} was acknowledged (201) but is not in the log");
    }
}

/// `relic` itself on a machine without the data directory: with `--server` and a token, the domain
/// commands act through the API (release-cli's flag names work too); the records name the token's
/// user; what the API does not serve is refused with one line.
#[test]
fn the_relic_command_line_acts_through_a_server() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    ok(relic(&data, &["project", "member", "--project", "acme/app", "--user", "dave", "--role", "developer", "--actor", "alice"]));
    let dave = token(&data, "dave");
    let (server, base) = start(&data, &t.path().join("server.log"));
    // A runner's view: no data directory at all.
    let runner = t.path().join("no-data-here");
    let remote = |args: &[&str]| {
        let mut all = vec!["--server", base.as_str(), "--token", dave.as_str()];
        all.extend_from_slice(args);
        relic(&runner, &all)
    };
    let link = r#"{"name": "bin", "url": "https://dl.example/v1/bin", "direct_asset_path": "/bin/app"}"#;
    let created: serde_json::Value = serde_json::from_str(&ok(remote(&[
        "--json", "release", "create", "--project", "acme/app", "--tag-name", "v1.0.0", "--ref", "main", "--description", "first", "--assets-link", link,
    ])))
    .unwrap();
    assert_eq!((created["tag_name"].as_str(), created["author"]["username"].as_str()), (Some("v1.0.0"), Some("dave")), "{created}");
    assert_eq!(created["evidences"].as_array().map(Vec::len), Some(1));
    // release-cli's names for the same flags.
    let o = relic(&runner, &["--server-url", &base, "--job-token", &dave, "release", "create", "--project-id", "acme/app", "--tag-name", "v1.1.0", "--ref", "main"]);
    ok(o);
    ok(remote(&["release", "update", "--project", "acme/app", "--tag-name", "v1.0.0", "--description", "first, updated"]));
    ok(remote(&["link", "add", "--project", "acme/app", "--tag-name", "v1.0.0", "--name", "docs", "--url", "https://docs.example/v1"]));
    ok(remote(&["evidence", "collect", "--project", "acme/app", "--tag-name", "v1.0.0"]));
    let listed: serde_json::Value = serde_json::from_str(&ok(remote(&["--json", "release", "list", "--project", "acme/app"]))).unwrap();
    let tags: Vec<&str> = listed.as_array().unwrap().iter().map(|r| r["tag_name"].as_str().unwrap()).collect();
    assert_eq!(tags.len(), 2, "{listed}");
    let got: serde_json::Value = serde_json::from_str(&ok(remote(&["--json", "release", "get", "--project", "acme/app", "--tag-name", "v1.0.0"]))).unwrap();
    assert_eq!(got["description"], "first, updated");
    assert_eq!(got["assets"]["links"].as_array().map(Vec::len), Some(2));
    assert_eq!(got["evidences"].as_array().map(Vec::len), Some(2));
    let latest: serde_json::Value = serde_json::from_str(&ok(remote(&["--json", "release", "get", "--project", "acme/app"]))).unwrap();
    assert!(latest["tag_name"] == "v1.1.0" || latest["tag_name"] == "v1.0.0", "{latest}");
    // The server's refusals, one line each, with the exit code of their status (README §Exit codes).
    let o = remote(&["release", "create", "--project", "acme/app", "--tag-name", "v1.0.0", "--ref", "main"]);
    assert_eq!(o.code, 6, "409 is a conflict");
    assert!(o.stderr.contains("409: Release already exists"), "{}", o.stderr);
    let o = remote(&["freeze", "create", "--project", "acme/app", "--freeze-start", "0 23 * * 5", "--freeze-end", "0 7 * * 1"]);
    assert!(o.code == 4 && o.stderr.contains("403: Access Denied"), "{}", o.stderr);
    // What the API does not serve, and a server without a token.
    let o = remote(&["tag", "record", "--project", "acme/app", "--tag-name", "v9", "--ref", "main"]);
    assert!(o.code != 0 && o.stderr.contains("is not served by the API"), "{}", o.stderr);
    let o = relic(&runner, &["--server", &base, "release", "list", "--project", "acme/app"]);
    assert!(o.code != 0 && o.stderr.contains("--server needs --token"), "{}", o.stderr);
    let o = relic(&runner, &["--server", &base, "--token", "relic_nope", "release", "list", "--project", "acme/app"]);
    assert!(o.code == 4 && o.stderr.contains("401: 401 Unauthorized"), "{}", o.stderr);
    stop(server);
    assert!(!runner.exists(), "nothing was written where the runner stands");
    ok(relic(&data, &["verify"]));
    let records: Vec<serde_json::Value> =
        relic(&data, &["--json", "log"]).stdout_text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_api: Vec<&serde_json::Value> = records.iter().filter(|r| r["actor"]["id"] == "dave").collect();
    assert!(by_api.iter().any(|r| r["kind"] == "release.created") && by_api.iter().any(|r| r["kind"] == "link.added"));
}

/// A webhook receiver: every request it gets, as a JSON line (headers and body) in a file.
const RECEIVER: &str = r#"
import sys, json, http.server
port, path = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(path, "a") as f:
            f.write(json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": json.loads(body)}) + "\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer.allow_reuse_address = True
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

const HOOKED: &str = r#"
import sys, gitlab
url, alice, port, step = sys.argv[1:5]
p = gitlab.Gitlab(url, private_token=alice).projects.get("acme/app")
if step == "1":
    h = p.hooks.create({"url": f"http://127.0.0.1:{port}/hook", "releases_events": True, "token": "s3cret-hook"})
    assert [x.id for x in p.hooks.list()] == [h.id] and p.hooks.get(h.id).releases_events
    for t in ("v1", "v2"):
        p.releases.create({"tag_name": t, "ref": "main"})
    r = p.releases.get("v1")
    r.description = "changed"
    r.save()
    p.releases.delete("v2")
else:
    p.releases.create({"tag_name": "v3", "ref": "main"})
    h = p.hooks.list()[0]
    h.releases_events = True
    h.save()
    p.hooks.delete(h.id)
    assert p.hooks.list() == []
    # As it was before the deletion (any view takes as_of).
    assert [x.id for x in p.hooks.list(as_of=h.relic_subscribed_at_seq + 1)] == [h.id]
    # Recorded after the hook was deleted: never delivered.
    p.releases.create({"tag_name": "v4", "ref": "main"})
print("ok")
"#;

/// Deliveries from the outbox: the receiver is down while releases change, then up; the server is
/// SIGKILLed once deliveries have begun and restarted. Every release event arrives at least once,
/// in log order, with GitLab's headers and payload and the record's sequence number.
#[test]
fn webhooks_are_delivered_at_least_once_in_order_through_receiver_outages_and_crashes() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    let alice = token(&data, "alice");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let received = t.path().join("received.jsonl");
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&received).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let wait_for = |n: usize| {
        let start = std::time::Instant::now();
        loop {
            let seqs: std::collections::BTreeSet<String> = lines().iter().map(|l| l["headers"]["x-relic-seq"].as_str().unwrap_or("").to_string()).collect();
            if seqs.len() >= n {
                return;
            }
            assert!(start.elapsed().as_secs() < 60, "only {} of {n} events delivered: {:?}", seqs.len(), lines());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };

    let (mut server, base) = start(&data, &t.path().join("server-1.log"));
    python(HOOKED, &[&base, &alice, &port, "1"], "ok");
    // The receiver is down: nothing can arrive; deliveries are retried.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let mut receiver = Command::new("python3").args(["-c", RECEIVER, &port, received.to_str().unwrap()]).spawn().unwrap();
    wait_for(1);
    // The server dies mid-delivery; its successor resumes.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGKILL);
    }
    server.wait().unwrap();
    let (server, base) = start(&data, &t.path().join("server-2.log"));
    python(HOOKED, &[&base, &alice, &port, "2"], "ok");
    wait_for(5);
    // Time enough for anything further to arrive: nothing does (v4 came after the hook's deletion).
    std::thread::sleep(std::time::Duration::from_millis(500));
    stop(server);
    let _ = receiver.kill();
    let _ = receiver.wait();

    let got = lines();
    // At least once, and in log order: the first arrival of each event in increasing order.
    let mut first: Vec<u64> = Vec::new();
    for l in &got {
        let seq: u64 = l["headers"]["x-relic-seq"].as_str().unwrap().parse().unwrap();
        if !first.contains(&seq) {
            first.push(seq);
        }
        assert_eq!(l["headers"]["x-gitlab-event"], "Release Hook");
        assert_eq!(l["headers"]["x-gitlab-token"], "s3cret-hook");
        assert_eq!(l["headers"]["x-relic-leaf-hash"].as_str().map(str::len), Some(64));
        assert_eq!(l["body"]["object_kind"], "release");
        assert_eq!(l["body"]["project"]["path_with_namespace"], "acme/app");
    }
    assert!(first.windows(2).all(|w| w[0] < w[1]), "out of log order: {first:?}");
    let events: Vec<(String, String)> = first
        .iter()
        .map(|s| {
            let l = got.iter().find(|l| l["headers"]["x-relic-seq"] == s.to_string().as_str()).unwrap();
            (l["body"]["action"].as_str().unwrap().to_string(), l["body"]["tag"].as_str().unwrap().to_string())
        })
        .collect();
    let want = [("create", "v1"), ("create", "v2"), ("update", "v1"), ("delete", "v2"), ("create", "v3")];
    assert_eq!(events, want.map(|(a, t)| (a.to_string(), t.to_string())));
    // Each names its record: the release record at that sequence number.
    let records: Vec<serde_json::Value> =
        relic(&data, &["--json", "log"]).stdout_text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (seq, (action, tag)) in first.iter().zip(&events) {
        let r = &records[*seq as usize];
        assert_eq!(r["kind"], format!("release.{action}d").as_str());
        assert_eq!(r["payload"]["tag_name"], tag.as_str());
    }
    // Subscribing and unsubscribing were recorded; the secret never was.
    assert!(records.iter().any(|r| r["kind"] == "hook.subscribed" && r["payload"]["has_token"] == true));
    assert!(records.iter().any(|r| r["kind"] == "hook.unsubscribed"));
    assert!(!relic(&data, &["--json", "log"]).stdout_text().contains("s3cret-hook"));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(data.join("hooks/secrets.json")).unwrap().permissions().mode() & 0o777, 0o600);
    ok(relic(&data, &["verify"]));
}

/// Tokens while the server runs, through python-gitlab: dave sees, rotates and revokes his own;
/// alice sees none of his and may issue none; the operator issues with `relic token` on the served
/// directory (as GitLab's administrator would).
const TOKENS: &str = r#"
import sys, gitlab, requests
url, alice, dave = sys.argv[1:4]
gd = gitlab.Gitlab(url, private_token=dave)
gd.auth()
assert gd.user.username == "dave", gd.user.username
mine = gd.personal_access_tokens.list(get_all=True)
assert [(t.name, t.active, t.revoked, t.scopes, t.username) for t in mine] == [("ci", True, False, ["api"], "dave")], [t.attributes for t in mine]
me = gd.personal_access_tokens.get("self")
assert me.id == mine[0].id, me.attributes

# alice: dave's token does not exist for her, and she issues none.
ga = gitlab.Gitlab(url, private_token=alice)
assert [t.username for t in ga.personal_access_tokens.list(get_all=True)] == ["alice"]
for call in (lambda: ga.personal_access_tokens.get(me.id), lambda: ga.personal_access_tokens.delete(me.id)):
    try:
        call()
        raise SystemExit("alice reached dave's token")
    except gitlab.GitlabError as e:
        assert e.response_code == 404 and "404 Token Not Found" in str(e), e
r = requests.post(url + "/api/v4/users/alice/personal_access_tokens", headers={"PRIVATE-TOKEN": alice}, json={"name": "x", "scopes": ["api"]})
assert r.status_code == 403, r.text

# dave rotates his token: the old one is refused at once, the new one works.
new = gd.personal_access_tokens.rotate("self", expires_at="2099-01-01")
assert new["name"] == "ci" and new["token"].startswith("relic_") and new["expires_at"] == "2099-01-01T00:00:00Z", new
try:
    gd.auth()
    raise SystemExit("the rotated token still works")
except gitlab.GitlabAuthenticationError as e:
    assert e.response_code == 401, e
gn = gitlab.Gitlab(url, private_token=new["token"])
gn.auth()
assert gn.user.username == "dave"
states = sorted((t.revoked, t.active) for t in gn.personal_access_tokens.list(get_all=True))
assert states == [(False, True), (True, False)], states
# ... and revokes it: refused from the next request on.
gn.personal_access_tokens.delete("self")
try:
    gn.auth()
    raise SystemExit("the revoked token still works")
except gitlab.GitlabAuthenticationError as e:
    assert e.response_code == 401, e
print(new["token"])
print("tokens: ok")
"#;

#[test]
fn tokens_are_issued_rotated_and_revoked_while_the_server_runs() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    let alice = token(&data, "alice");
    let (server, base) = start(&data, &t.path().join("server.log"));
    let operator = data.join("operator.token");
    assert_eq!(std::fs::metadata(&operator).unwrap().permissions().mode() & 0o777, 0o600);

    // The operator issues a token through the running server: it works at once, no restart.
    let issued: serde_json::Value =
        serde_json::from_str(&ok(relic(&data, &["--json", "token", "create", "--user", "dave", "--name", "ci", "--actor", "ops"]))).unwrap();
    let dave = issued["token"].as_str().unwrap().to_string();
    // A refused issue stores nothing and says why.
    let o = relic(&data, &["token", "create", "--user", "a b", "--actor", "ops"]);
    assert!(o.code == 7 && o.stderr.contains("400: user is invalid"), "{}", o.stderr);

    let client = Command::new("python3").arg("-c").arg(TOKENS).args([&base, &alice, &dave]).output().unwrap();
    let stdout = String::from_utf8_lossy(&client.stdout).to_string();
    assert!(client.status.success() && stdout.contains("tokens: ok"), "{stdout}{}", String::from_utf8_lossy(&client.stderr));
    let rotated = stdout.lines().next().unwrap().to_string();

    // The operator revokes alice's token on the served directory: refused from the next request.
    let as_alice = |args: &[&str]| {
        let mut all = vec!["--server", base.as_str(), "--token", alice.as_str()];
        all.extend_from_slice(args);
        relic(&t.path().join("runner"), &all)
    };
    ok(as_alice(&["release", "list", "--project", "acme/app"]));
    let listed = ok(as_alice(&["--json", "token", "list"]));
    let alice_id = serde_json::from_str::<serde_json::Value>(listed.lines().next().unwrap()).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(listed.lines().count(), 1, "alice lists her own tokens only: {listed}");
    ok(relic(&data, &["token", "revoke", &alice_id, "--actor", "ops"]));
    let o = as_alice(&["release", "list", "--project", "acme/app"]);
    assert!(o.code == 4 && o.stderr.contains("401"), "{}", o.stderr);
    let all = ok(relic(&data, &["token", "list"]));
    assert_eq!(all.lines().count(), 3, "the operator lists every token: {all}");
    assert_eq!(all.matches("revoked ").count(), 3, "{all}");

    stop(server);
    assert!(!operator.exists(), "the operator secret goes with the server");
    ok(relic(&data, &["verify"]));
    // Recorded: who issued, rotated and revoked which token; never a secret, in any file.
    let records: Vec<serde_json::Value> =
        relic(&data, &["--json", "log"]).stdout_text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let tokens: Vec<(&str, &str, &str)> = records
        .iter()
        .filter(|r| r["kind"].as_str().unwrap().starts_with("token."))
        .map(|r| (r["kind"].as_str().unwrap(), r["actor"]["id"].as_str().unwrap(), r["actor"]["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tokens,
        [
            ("token.issued", "ops", "system"),
            ("token.issued", "ops", "system"),
            ("token.revoked", "dave", "system"),
            ("token.issued", "dave", "system"),
            ("token.revoked", "dave", "system"),
            ("token.revoked", "ops", "system"),
        ]
    );
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in [&alice, &dave, &rotated] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is in {}", entry.display());
        }
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The log as C2SP tlog-tiles over HTTP, fetched with plain HTTP by paths computed here from the
/// specification (not by relic's code): content types, caching, who may read entries, 404s.
const TILES: &str = r#"
import sys, os, requests
base, owner, guest, out = sys.argv[1:5]
r = requests.get(base + "/tlog/checkpoint")
assert r.status_code == 200, r.text
assert r.headers["Content-Type"] == "text/plain; charset=utf-8", r.headers
assert "max-age=2" in r.headers["Cache-Control"], r.headers
size = int(r.text.split("\n")[1])
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "checkpoint"), "wb").write(r.content)

def index(n):
    g = ["%03d" % (n % 1000)]
    n //= 1000
    while n:
        g.append("x%03d" % (n % 1000))
        n //= 1000
    return "/".join(reversed(g))

paths = []
level = 0
while size >> (8 * level):
    c = size >> (8 * level)
    for n in range(c // 256):
        paths.append("tile/%d/%s" % (level, index(n)))
        if level == 0:
            paths.append("tile/entries/%s" % index(n))
    if c % 256:
        paths.append("tile/%d/%s.p/%d" % (level, index(c // 256), c % 256))
        if level == 0:
            paths.append("tile/entries/%s.p/%d" % (index(c // 256), c % 256))
    level += 1
assert any(p.startswith("tile/1/") for p in paths), paths
for p in paths:
    entries = p.startswith("tile/entries/")
    r = requests.get(base + "/tlog/" + p, headers={"PRIVATE-TOKEN": owner} if entries else {})
    assert r.status_code == 200, (p, r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/octet-stream", r.headers
    assert "immutable" in r.headers["Cache-Control"] and ("private" if entries else "public") in r.headers["Cache-Control"], r.headers
    if not entries:
        assert len(r.content) == 32 * (int(p.split(".p/")[1]) if ".p/" in p else 256), (p, len(r.content))
    f = os.path.join(out, p)
    os.makedirs(os.path.dirname(f), exist_ok=True)
    open(f, "wb").write(r.content)
# Entries are all of the log: a token of someone who reads every project, or nothing.
e = [p for p in paths if p.startswith("tile/entries/")][0]
assert requests.get(base + "/tlog/" + e).status_code == 401
assert requests.get(base + "/tlog/" + e, headers={"PRIVATE-TOKEN": guest}).status_code == 403
# What the tree does not determine, and what is not a tile path: 404.
for p in ["tile/0/%s" % index(size // 256 + 1), "tile/0/000.p/256", "tile/0/0", "tile/64/000", "tile/entries/x000/001"]:
    assert requests.get(base + "/tlog/" + p, headers={"PRIVATE-TOKEN": owner}).status_code == 404, p
print("tiles: ok")
"#;

/// Every file of `dir`, by its path under `dir`.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walk(dir).into_iter().map(|p| (p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn the_log_is_served_and_exported_as_tlog_tiles() {
    let t = tempfile::tempdir().unwrap();
    let data = acme_app(t.path());
    ok(relic(&data, &["project", "member", "--project", "acme/app", "--user", "gus", "--role", "guest", "--actor", "alice"]));
    // Past one full level-0 tile, so that level 1 exists.
    let payload = t.path().join("p.json");
    for i in 0..270 {
        std::fs::write(&payload, format!(r#"{{"project":"acme/app","tag_name":"v{i}","environment":"prod","status":"success"}}"#)).unwrap();
        ok(relic(&data, &["append", "--kind", "deployment.recorded", "--subject", &format!("acme/app@v{i}"), "--actor", "alice", "--payload", payload.to_str().unwrap()]));
    }
    let (alice, gus) = (token(&data, "alice"), token(&data, "gus"));
    let (server, base) = start(&data, &t.path().join("server.log"));
    let served = t.path().join("served");
    python(TILES, &[&base, &alice, &gus, served.to_str().unwrap()], "tiles: ok");

    // The static export, beside the running server (it only reads), holds the same bytes.
    let exported = t.path().join("exported");
    let first = ok(relic(&data, &["export", "--tiles", exported.to_str().unwrap()]));
    assert!(first.contains("already there") && !first.contains(" 0 files written"), "{first}");
    assert_eq!(files(&exported), files(&served), "the export and the server differ");
    // Incremental: nothing new, nothing written.
    let again = ok(relic(&data, &["export", "--tiles", exported.to_str().unwrap()]));
    assert!(again.contains(" 0 files written"), "{again}");
    // A directory holding another log's tile is refused, not overwritten.
    let tile = exported.join("tile/0/000");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&tile, &bytes).unwrap();
    let o = relic(&data, &["export", "--tiles", exported.to_str().unwrap()]);
    assert!(o.code != 0 && o.stderr.contains("is not this log's tile"), "{}", o.stderr);
    assert_eq!(std::fs::read(&tile).unwrap(), bytes);
    stop(server);
}
