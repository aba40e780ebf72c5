//! `relic serve` under load: 64 connections at once on a ledger of N releases (default 100,000),
//! next to the HTTP stack's own limit measured in the same run (the same axum and tokio serving a
//! handler that does nothing).
//!
//!     cargo run --release -p relic-benches --bin serve_load [-- N [SECONDS]]
//!
//! Four phases of SECONDS each (default 10), every one with 64 keep-alive connections each sending
//! its next request as soon as the last is answered: `GET` of a random release, and `POST` of a new
//! release with a link (its evidence collected on create), each against relic and against the
//! no-op handler. Prints requests/s, p50 and p99 per phase. Client and servers share this machine's
//! cores, as they would in a test; the no-op figures carry the same handicap.
//!
//! The ledger (project `acme/payments`, its maintainer `alice`, her token, N releases with a link
//! each) is built once under `target/relic-bench-serve-<N>` and copied for each run, since the
//! creation phase appends to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use relic_domain::event::*;
use relic_ledger::{Actor, Draft, Ledger};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const P: &str = "acme/payments";
const SECRET: &str = "relic_0123456789abcdef0123456789abcdef01234567";
const CONNECTIONS: usize = 64;

fn draft(e: &Event) -> Draft {
    Draft {
        actor: Actor { id: "alice".into(), role: "maintainer".into() },
        kind: e.kind().into(),
        subject: e.subject(),
        payload: serde_json::to_vec(&e.payload()).expect("json"),
        schema_version: relic_domain::catalogue::current_version(e.kind()).expect("kind"),
    }
}

fn tag(i: u64) -> String {
    format!("v{}.{}.{}", i / 10_000, (i / 100) % 100, i % 100)
}

fn events(n: u64) -> impl Iterator<Item = Event> {
    let t = "2026-06-01T10:00:00Z".to_string();
    let head = vec![
        Event::ProjectRegistered(ProjectRegistered { project: P.into(), id: 1, name: "Payments".into(), description: None, created_at: t.clone() }),
        Event::MemberRoleSet(MemberRoleSet { project: P.into(), user: "alice".into(), role: Role::Maintainer }),
        Event::TokenIssued(TokenIssued { token_id: "0123456789abcdef".into(), user: "alice".into(), name: Some("serve_load".into()), expires_at: None, issued_at: t.clone() }),
    ];
    head.into_iter().chain((0..n).map(move |i| {
        let tag = tag(i);
        let link = Link { id: i + 1, name: "pkg".into(), url: format!("https://dl.example/{tag}/pkg"), direct_asset_path: Some("/bin/pkg".into()), link_type: LinkType::Package };
        Event::ReleaseCreated(ReleaseCreated {
            project: P.into(), id: i + 1, tag_name: tag.clone(), name: tag, description: Some("A release of the payments service.".into()),
            git_ref: Some("main".into()), commit: None, created_at: t.clone(), released_at: t.clone(), milestones: vec![], links: vec![link], report_artifacts: vec![],
        })
    }))
}

fn ledger(n: u64) -> PathBuf {
    let dir = relic_benches::target_dir().join(format!("relic-bench-serve-{n}"));
    if Ledger::open_read_only(&dir).map(|l| l.size()).ok() == Some(n + 4) && relic_domain::tokens::path(&dir).exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let l = Ledger::init(&dir, "bench.example/serve", relic_ledger::policy::unchecked()).expect("init");
    relic_benches::append_in_groups(&l, events(n).map(|e| draft(&e)));
    drop(l);
    relic_domain::tokens::store(&dir, "0123456789abcdef", SECRET).expect("token");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else if e.file_name() != "lock" {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// One keep-alive HTTP/1.1 connection: sends a request, reads the status and the body.
struct Conn {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let (r, w) = s.into_split();
        Self { r: BufReader::new(r), w }
    }

    async fn send(&mut self, method: &str, path: &str, body: &str) -> u16 {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nPRIVATE-TOKEN: {SECRET}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.w.write_all(req.as_bytes()).await.expect("write");
        let mut line = String::new();
        self.r.read_line(&mut line).await.expect("status line");
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
        let mut len = 0usize;
        loop {
            line.clear();
            self.r.read_line(&mut line).await.expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0; len];
        self.r.read_exact(&mut body).await.expect("body");
        status
    }
}

/// What one phase measured.
struct Phase {
    /// CPU time the whole process (client and servers) used during the phase, in seconds.
    cpu: f64,
    requests: usize,
    secs: f64,
    p50: Duration,
    p99: Duration,
}

/// 64 connections to `addr` for `secs`, each sending what `req(conn, i)` gives; every answer must
/// have status `want`.
async fn phase(addr: SocketAddr, secs: f64, want: u16, req: Arc<dyn Fn(usize, usize) -> (&'static str, String, String) + Send + Sync>) -> Phase {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let cpu = relic_benches::cpu_seconds();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let req = req.clone();
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await;
                let mut lat = Vec::new();
                let mut i = 0;
                while Instant::now() < end {
                    let (m, path, body) = req(c, i);
                    let t = Instant::now();
                    let status = conn.send(m, &path, &body).await;
                    lat.push(t.elapsed());
                    assert_eq!(status, want, "{m} {path}");
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Phase { cpu: relic_benches::cpu_seconds() - cpu, requests: all.len(), secs, p50: pct(0.50), p99: pct(0.99) }
}

fn show(label: &str, p: &Phase, limit: Option<&Phase>) {
    let rate = p.requests as f64 / p.secs;
    let of = limit.map(|l| format!(" = {:.1} % of the no-op's {:.0}/s", 100.0 * rate / (l.requests as f64 / l.secs), l.requests as f64 / l.secs)).unwrap_or_default();
    println!(
        "{label:<34} {rate:>9.0} requests/s  p50 {:>8.2} ms  p99 {:>8.2} ms  CPU {:>6.1} us/request{of}",
        p.p50.as_secs_f64() * 1e3,
        p.p99.as_secs_f64() * 1e3,
        p.cpu * 1e6 / p.requests as f64
    );
}

/// The same stack serving a handler that does nothing but answer (the HTTP stack's own limit).
fn noop_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            use axum::routing::get;
            let router = axum::Router::new().fallback(get(|| async { axum::Json(serde_json::json!({"ok": true})) }).post(|_: axum::body::Bytes| async {
                (axum::http::StatusCode::CREATED, axum::Json(serde_json::json!({"ok": true})))
            }));
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(l.local_addr().expect("addr")).expect("send");
            axum::serve(l, router).await.expect("serve");
        });
    });
    rx.recv().expect("no-op server")
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let secs: f64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let cached = ledger(n);
    let tmp = relic_benches::bench_tempdir();
    let data = tmp.path().join("d");
    copy_dir(&cached, &data);
    // The copy (and the last run's removal) written back now, so that the creation phase's
    // syncs (a `syncfs` per group) do not pay for them.
    let _ = std::process::Command::new("sync").status();

    let (tx, rx) = std::sync::mpsc::channel();
    let served = data.clone();
    std::thread::spawn(move || {
        let opts = relic_server::Options { listen: "127.0.0.1:0".into(), max_body: 1 << 20 };
        let started = Instant::now();
        relic_server::serve(&served, &opts, |addr| {
            eprintln!("relic serve: {n} releases replayed in {:.1} s", started.elapsed().as_secs_f64());
            tx.send(addr).expect("send")
        })
        .expect("serve")
    });
    let relic = rx.recv().expect("relic serve");
    let noop = noop_server();

    let client = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    client.block_on(async {
        println!("{CONNECTIONS} connections, {secs} s per phase, ledger of {n} releases");
        let get = Arc::new(move |c: usize, i: usize| {
            let k = (c as u64 * 7919 + i as u64 * 104_729) % n;
            ("GET", format!("/api/v4/projects/1/releases/{}", tag(k)), String::new())
        });
        let g0 = phase(noop, secs, 200, get.clone()).await;
        let g1 = phase(relic, secs, 200, get).await;
        let create = Arc::new(|c: usize, i: usize| {
            let tag = format!("b{c}.{i}");
            let body = serde_json::json!({"tag_name": tag, "ref": "main", "assets": {"links": [{"name": "pkg", "url": format!("https://dl.example/{tag}/pkg")}]}});
            ("POST", "/api/v4/projects/1/releases".to_string(), body.to_string())
        });
        let c0 = phase(noop, secs, 201, create.clone()).await;
        let c1 = phase(relic, secs, 201, create).await;
        show("GET a release, no-op handler", &g0, None);
        show("GET a release, relic", &g1, Some(&g0));
        show("POST a release, no-op handler", &c0, None);
        show("POST a release (link, evidence)", &c1, Some(&c0));
        relic_benches::report_load("serve_load");
    });
    // The servers never stop by themselves: remove the copy of the ledger, then leave.
    drop(tmp);
    std::process::exit(0);
}
