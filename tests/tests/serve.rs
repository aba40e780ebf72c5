//! `relic serve` as a real server process on 127.0.0.1, driven by the stock python-gitlab client
//! (installed from PyPI by tests/run.sh): tokens, `GET /user`, projects by path and by id, GitLab's
//! 401 and 404; a CLI writer beside it is sent to its URL; SIGTERM stops it cleanly.

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
# A member of nothing: the project does not exist for them.
gb = gitlab.Gitlab(url, private_token=bob)
gb.auth()
try:
    gb.projects.get("acme/app")
    raise SystemExit("bob sees a project he is not a member of")
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

#[test]
fn python_gitlab_authenticates_and_reads_projects_from_relic_serve() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    ok(relic(&data, &["init", "--origin", "serve.test/log"]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    let (alice, bob) = (token(&data, "alice"), token(&data, "bob"));

    let mut server = Command::new(env!("CARGO_BIN_EXE_relic_proc"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let api = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}"));
    let base = api.trim_end_matches("/api/v4").to_string();

    let client = Command::new("python3").args(["-c", CLIENT, &base, &alice, &bob]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&client.stdout), String::from_utf8_lossy(&client.stderr));
    assert!(client.status.success() && stdout.contains("python-gitlab: ok"), "python-gitlab client (pip install python-gitlab): {stdout}{stderr}");

    // A CLI writer on the served directory is told where the server is; readers work.
    let o = relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1", "--ref", "main", "--actor", "alice"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("owned by `relic serve` at") && o.stderr.contains(&base), "{}", o.stderr);
    ok(relic(&data, &["verify"]));

    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let status = server.wait().unwrap();
    assert!(status.success(), "the server stops cleanly on SIGTERM: {status}");
    assert!(!relic_server_url(&data), "the server removed its URL file");
    // Nothing was written through the server yet; the log is what the CLI wrote.
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1", "--ref", "main", "--actor", "alice"]));
    ok(relic(&data, &["verify"]));
}

fn relic_server_url(data: &Path) -> bool {
    data.join("serve.json").exists()
}
