//! `relic scheduler`: collects the evidence of upcoming releases when their `released_at` arrives.
//!
//! Each pass opens the ledger (waiting for the store's lock), replays it, collects every due
//! release's evidence through the same rules as any command (which refuse a second collection for
//! the same scheduled time), and closes the ledger again so other commands can run between passes.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use relic_domain::decide::Command;
use relic_domain::event::EvidenceReason;
use relic_domain::schedule;
use relic_domain::service::ServiceError;
use serde_json::json;

use crate::domain_cmds::service_err;
use crate::{CliError, Result};

/// The identity scheduled collections are recorded under (role `system`).
pub const SCHEDULER: &str = "relic-scheduler";

/// One pass: returns how many collections it recorded.
pub fn pass(data: &Path, json: bool, out: &mut dyn Write) -> Result<usize> {
    crate::session::with_service(data, |svc| {
        let now = Utc::now();
        let mut done = 0;
        for d in schedule::due(svc.state(), now) {
            let cmd = Command::CollectEvidence {
                project: d.project.clone(),
                tag_name: d.tag_name.clone(),
                reason: EvidenceReason::Scheduled,
                scheduled_at: Some(d.scheduled_at.clone()),
            };
            match svc.execute(SCHEDULER, &cmd, Utc::now()) {
                Ok(receipts) => {
                    done += 1;
                    let seq = receipts.first().map_or(0, |r| r.seq);
                    let line = if json {
                        json!({"seq": seq, "project": d.project, "tag_name": d.tag_name, "scheduled_at": d.scheduled_at, "collected_at": Utc::now().to_rfc3339()}).to_string()
                    } else {
                        format!("{seq:>6}  evidence.collected     {}@{}  scheduled for {}", d.project, d.tag_name, d.scheduled_at)
                    };
                    writeln!(out, "{line}").map_err(|e| CliError::Io { path: "<stdout>".into(), source: e })?;
                }
                // Another scheduler got there first, or the release moved: nothing to do.
                Err(ServiceError::Refused(_)) => {}
                Err(e) => return Err(service_err(e)),
            }
        }
        Ok(done)
    })
}

pub fn run(data: &Path, once: bool, interval: u64, json: bool, out: &mut dyn Write) -> Result<()> {
    loop {
        match pass(data, json, out) {
            Ok(_) => {}
            // Another relic process holds the store: try again next pass.
            Err(CliError::Ledger(relic_ledger::Error::Store(relic_ledger::StoreError::Locked(_)))) if !once => {}
            Err(e) => return Err(e),
        }
        if once {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(interval.max(1)));
    }
}
