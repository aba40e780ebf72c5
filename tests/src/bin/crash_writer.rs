//! Appends to the ledger in DIR from WRITERS concurrent tasks until killed, printing
//! `ack <writer> <n> <seq>` for every acknowledged append, flushed before the next one starts.
//! Used by the crash test, which SIGKILLs it at random moments.

use std::io::Write as _;
use std::sync::Arc;

use relic_tests::draft;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(writers)) = (args.next(), args.next().and_then(|w| w.parse::<u32>().ok())) else {
        eprintln!("usage: crash_writer DIR WRITERS");
        std::process::exit(2);
    };
    let ledger = match relic_ledger::Ledger::open(std::path::Path::new(&dir), relic_ledger::policy::unchecked()) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("crash_writer: {e}");
            std::process::exit(1);
        }
    };
    let run = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let Ok(rt) = run else { std::process::exit(1) };
    // A run id keeps (writer, n) unique across the many processes that append to one ledger.
    let run_id = std::process::id();
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0u64.. {
                    let d = draft("crash/test@v1", serde_json::json!({"run": run_id, "writer": w, "n": n}));
                    match ledger.append(d).await {
                        Ok(r) => {
                            let mut out = std::io::stdout().lock();
                            let _ = writeln!(out, "ack {run_id} {w} {n} {}", r.seq);
                            let _ = out.flush();
                        }
                        Err(e) => {
                            eprintln!("crash_writer: {e}");
                            std::process::exit(1);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}
