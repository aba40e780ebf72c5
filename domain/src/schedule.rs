//! Scheduled evidence: an upcoming release's evidence is collected when its `released_at`
//! arrives, exactly once.
//!
//! Exactly once holds across restarts, crashes and concurrent schedulers because the log itself is
//! the schedule's memory: a collection is decided against the state replayed under the store's
//! exclusive lock, and refused if an `evidence.collected` event with reason `scheduled` already
//! names the same release and `scheduled_at`. Moving `released_at` reschedules (the old time is no
//! longer due; the new one is); a deleted release is not collected; a historical release
//! (`released_at` before `created_at`) never is. After downtime every overdue collection happens,
//! recording both the scheduled and the actual time.

use chrono::{DateTime, Utc};

use crate::event::EvidenceReason;
use crate::state::{Release, State};
use crate::timing::{self, ts};

/// A collection that is due: the release and the `released_at` it is due for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub project: String,
    pub tag_name: String,
    pub scheduled_at: String,
}

/// Why a release's scheduled collection is not due, or `None` if it is.
pub fn not_due(r: &Release, scheduled_at: &str, now: DateTime<Utc>) -> Option<String> {
    let Some(scheduled) = timing::parse(scheduled_at) else {
        return Some(format!("scheduled_at {scheduled_at:?} is not an RFC 3339 time"));
    };
    if r.released_at != scheduled {
        return Some(format!("Release was rescheduled: released_at is now {}", ts(r.released_at)));
    }
    if !timing::was_upcoming_when_created(r.released_at, r.created_at) {
        return Some("Evidence is never collected automatically for a release that was not upcoming".into());
    }
    if timing::is_upcoming(r.released_at, now) {
        return Some(format!("Release is not due until {}", ts(r.released_at)));
    }
    let done = r
        .evidences
        .iter()
        .any(|e| e.reason == EvidenceReason::Scheduled && e.scheduled_at.as_deref().and_then(timing::parse) == Some(scheduled));
    done.then(|| format!("Scheduled evidence for {} at {scheduled_at} was already collected", r.tag_name))
}

/// Every collection due at `now`, oldest first.
pub fn due(st: &State, now: DateTime<Utc>) -> Vec<Due> {
    let mut out: Vec<Due> = st
        .projects
        .values()
        .flat_map(|p| p.releases.values().map(move |r| (p, r)))
        .filter(|(_, r)| not_due(r, &ts(r.released_at), now).is_none())
        .map(|(p, r)| Due { project: p.path.clone(), tag_name: r.tag_name.clone(), scheduled_at: ts(r.released_at) })
        .collect();
    out.sort_by(|a, b| a.scheduled_at.cmp(&b.scheduled_at));
    out
}
