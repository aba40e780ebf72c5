//! The audit trail a compliance report needs beyond current state, folded from the log record by
//! record: mutations made while a deploy freeze was active (judged with the freezes in force when
//! the record was written), refused attempts, and mutations counted by actor and role.
//!
//! Counts are kept per block of [`BLOCK`] records, with the time of the block's first and last
//! record. Record times never go backwards, so a report over a period `[from, to]` adds up the
//! blocks that lie wholly inside it and reads again only the records of the (at most two, unless
//! many share a boundary time) blocks it cuts: exact, and proportional to the period's edges rather
//! than to the log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use relic_domain::event::{Event, Finding};
use relic_domain::freeze::{self, FreezePeriod};
use relic_domain::state::State;
use relic_ledger::{Ledger, Record};
use serde::{Deserialize, Serialize};

/// Records per block of mutation counts.
pub const BLOCK: u64 = 4096;

use relic_domain::event::{ACCESS_DENIED, RELEASE_MUTATIONS};

/// A release mutation recorded while at least one deploy freeze of its project was active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenChange {
    pub seq: u64,
    pub time_us: i64,
    pub project: String,
    pub kind: String,
    pub subject: String,
    pub actor: String,
    pub freeze_periods: Vec<u64>,
}

/// An `access.denied` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub seq: u64,
    pub time_us: i64,
    pub project: String,
    pub actor: String,
    pub actor_role: String,
    pub command: String,
    pub target: String,
    pub reason: String,
}

/// Mutations by (project, actor, role) over one block of records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub first_time_us: i64,
    pub last_time_us: i64,
    /// Sorted by (project, actor, role).
    pub counts: Vec<(String, String, String, u64)>,
}

/// What an audit needs that state does not keep, as of some number of records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    pub frozen: Vec<FrozenChange>,
    pub refused: Vec<Refused>,
    /// Records that could not be read as their kind's event, in sequence order.
    pub findings: Vec<Finding>,
    pub blocks: BTreeMap<u64, Block>,
}

/// What observing one record added, so that the view store writes only that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    pub frozen: bool,
    pub refused: bool,
    pub finding: bool,
    /// The block whose counts or times changed.
    pub block: Option<u64>,
}

/// The project a record's subject names (`project@tag` or `project`).
pub fn project_of(subject: &str) -> &str {
    subject.split('@').next().unwrap_or("")
}

/// Whether a record counts as a mutation by its actor: everything but refusals and what relic
/// itself records (role `system`).
pub fn is_counted(rec: &Record) -> bool {
    rec.kind != ACCESS_DENIED && rec.actor.role != "system"
}

impl Audit {
    /// Observes `rec` (carrying `event`, or the `finding` that says why it could not be read),
    /// with `before` the state just before it.
    pub fn observe(&mut self, before: &State, rec: &Record, event: Option<&Event>, finding: Option<Finding>) -> Added {
        let mut added = Added::default();
        if let Some(f) = finding {
            self.findings.push(f);
            added.finding = true;
        }
        let project = project_of(&rec.subject);
        if RELEASE_MUTATIONS.contains(&rec.kind.as_str()) {
            if let Some(p) = before.projects.get(project).filter(|p| !p.freezes.is_empty()) {
                let periods: Vec<FreezePeriod> = p
                    .freezes
                    .values()
                    .map(|f| FreezePeriod { id: f.id, freeze_start: f.freeze_start.clone(), freeze_end: f.freeze_end.clone(), cron_timezone: f.cron_timezone.clone() })
                    .collect();
                let status = freeze::status(&periods, rec.time());
                if status.frozen {
                    self.frozen.push(FrozenChange {
                        seq: rec.seq,
                        time_us: rec.time_us,
                        project: project.to_string(),
                        kind: rec.kind.clone(),
                        subject: rec.subject.clone(),
                        actor: rec.actor.id.clone(),
                        freeze_periods: status.active_ids(),
                    });
                    added.frozen = true;
                }
            }
        }
        if let Some(Event::AccessDenied(d)) = event {
            self.refused.push(Refused {
                seq: rec.seq,
                time_us: rec.time_us,
                project: d.project.clone(),
                actor: rec.actor.id.clone(),
                actor_role: d.actor_role.clone(),
                command: d.command.clone(),
                target: d.target.clone(),
                reason: d.reason.clone(),
            });
            added.refused = true;
        }
        if is_counted(rec) {
            let b = rec.seq / BLOCK;
            let block = self.blocks.entry(b).or_insert_with(|| Block { first_time_us: rec.time_us, last_time_us: rec.time_us, counts: Vec::new() });
            block.first_time_us = block.first_time_us.min(rec.time_us);
            block.last_time_us = block.last_time_us.max(rec.time_us);
            let key = (project, rec.actor.id.as_str(), rec.actor.role.as_str());
            match block.counts.binary_search_by(|(p, a, r, _)| (p.as_str(), a.as_str(), r.as_str()).cmp(&key)) {
                Ok(i) => block.counts[i].3 += 1,
                Err(i) => block.counts.insert(i, (project.to_string(), rec.actor.id.clone(), rec.actor.role.clone(), 1)),
            }
            added.block = Some(b);
        }
        added
    }

    /// Mutations by (actor, role) among the first `size` records of `ledger` (the records this
    /// audit was folded from), recorded within `[from, to]` and, if given, in `project`.
    pub fn mutations_by_actor(
        &self,
        ledger: &Ledger,
        size: u64,
        project: Option<&str>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<BTreeMap<(String, String), u64>, relic_ledger::Error> {
        let (from_us, to_us) = (from.map_or(i64::MIN, |t| t.timestamp_micros()), to.map_or(i64::MAX, |t| t.timestamp_micros()));
        let mut out: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (&b, block) in &self.blocks {
            if block.last_time_us < from_us || block.first_time_us > to_us {
                continue;
            }
            if block.first_time_us >= from_us && block.last_time_us <= to_us {
                for (p, a, r, n) in &block.counts {
                    if project.is_none_or(|want| want == p) {
                        *out.entry((a.clone(), r.clone())).or_default() += n;
                    }
                }
                continue;
            }
            // The period cuts this block: count its records one by one.
            let (start, end) = (b * BLOCK, ((b + 1) * BLOCK).min(size));
            for item in ledger.records(start).take(end.saturating_sub(start) as usize) {
                let (seq, bytes) = item?;
                let rec = Record::decode(&bytes).map_err(|e| relic_ledger::Error::Corrupt(format!("record {seq}: {e}")))?;
                if is_counted(&rec)
                    && (from_us..=to_us).contains(&rec.time_us)
                    && project.is_none_or(|want| want == project_of(&rec.subject))
                {
                    *out.entry((rec.actor.id.clone(), rec.actor.role.clone())).or_default() += 1;
                }
            }
        }
        Ok(out)
    }
}
