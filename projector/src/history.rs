//! Who changed what, and when: a release's history and an internal release's status, both derived
//! by replaying the log.

use chrono::{DateTime, Utc};
use relic_domain::{internal, timing};
use relic_domain::state::{Internal, Phase, State};
use relic_ledger::{Ledger, Record};
use serde_json::{json, Map, Value};

use crate::views::{release_json, AsOf, Sight, Snapshot, ViewError};

/// The fields of the release view compared between two states.
const FIELDS: [&str; 8] = ["name", "description", "released_at", "milestones", "commit", "assets", "evidences", "tag_name"];

fn diff(before: &Value, after: &Value) -> Value {
    let mut changes = Map::new();
    for f in FIELDS {
        if before.get(f) != after.get(f) {
            changes.insert(f.to_string(), json!({"from": before.get(f).cloned().unwrap_or(Value::Null), "to": after.get(f).cloned().unwrap_or(Value::Null)}));
        }
    }
    Value::Object(changes)
}

/// Every record that touched `project@tag` up to `as_of`: who, when, which fields changed from
/// what to what, and refused attempts on it.
pub fn release_history(ledger: &Ledger, project: &str, tag: &str, as_of: AsOf) -> Result<Value, ViewError> {
    let snap = crate::views::snapshot(ledger, as_of)?;
    let subject = format!("{project}@{tag}");
    let mut state = State::default();
    let mut entries = Vec::new();
    let view = |st: &State, at: DateTime<Utc>| -> Value {
        st.projects
            .get(project)
            .and_then(|p| p.releases.get(tag).map(|r| release_json(p, r, at, Sight::Full)))
            .unwrap_or(Value::Null)
    };
    let texts = ledger.texts();
    for item in ledger.records(0) {
        let (seq, bytes) = item?;
        if seq >= snap.size {
            break;
        }
        let Ok(rec) = Record::decode(&bytes) else {
            // Not a record at all: the view's `log.unreadable_records` names it; go on.
            state.skip(seq);
            continue;
        };
        let denied_here = rec.kind == relic_domain::event::ACCESS_DENIED
            && rec.subject == project
            && rec.payload_json().get("target").and_then(Value::as_str) == Some(tag);
        let touches = rec.subject == subject || denied_here;
        let before = if touches { view(&state, rec.time()) } else { Value::Null };
        let event = match relic_domain::state::decode(&rec, &texts) {
            Ok(event) => event,
            Err(e) => {
                // Unreadable: the history shows it where it touches this release, and goes on.
                if touches {
                    let f = relic_domain::event::Finding::from(e);
                    entries.push(json!({"seq": seq, "time": rec.time_rfc3339(), "actor": {"id": rec.actor.id, "role": rec.actor.role},
                        "kind": rec.kind, "unreadable": f.to_string()}));
                }
                state.size = seq + 1;
                continue;
            }
        };
        state.apply_decoded(&rec, event);
        if !touches {
            continue;
        }
        let after = view(&state, rec.time());
        let mut e = json!({
            "seq": seq,
            "time": rec.time_rfc3339(),
            "actor": {"id": rec.actor.id, "role": rec.actor.role},
            "kind": rec.kind,
        });
        if denied_here {
            let p = rec.payload_json();
            e["refused"] = json!({"command": p["command"], "reason": p["reason"]});
        } else {
            e["changes"] = match (before.is_null(), after.is_null()) {
                // Before the release exists (its tag being recorded): what was recorded.
                (true, true) => json!({"recorded": rec.payload_json()}),
                (true, false) => json!({"release": {"from": null, "to": after}}),
                (false, true) => json!({"release": {"from": before, "to": null}}),
                (false, false) => diff(&before, &after),
            };
        }
        entries.push(e);
    }
    if entries.is_empty() {
        return Err(ViewError::NotFound(format!("nothing in the log touches {subject}")));
    }
    Ok(json!({"release": subject, "history": entries, "log": snap.provenance()}))
}

fn deadline_json(d: &internal::Deadline) -> Value {
    json!({"due": d.due.to_rfc3339(), "done": d.done.map(|t| t.to_rfc3339()), "status": d.status.as_str()})
}

/// An internal release's title as a reader may see it: revealed by the disclosure, written in
/// clear by a v1 detection, or, before disclosure, from the store beside the log when the reader
/// may see it (`confidential`: the data directory whose store to read); otherwise hidden.
fn title(i: &Internal, confidential: Option<&std::path::Path>) -> String {
    if let Some(t) = i.disclosed.as_ref().and_then(|d| d.title.clone()).or_else(|| i.detected.title.clone()) {
        return t;
    }
    let stored = match (confidential, &i.detected.title_commitment) {
        (Some(data), Some(c)) => relic_domain::confidential::load(data, c).ok().flatten().map(|s| s.text),
        _ => None,
    };
    stored.unwrap_or_else(|| relic_domain::confidential::HIDDEN.to_string())
}

/// The phase timeline of an internal release with durations, and its deadlines (the domain's,
/// [`internal::deadlines`]).
pub fn internal_json(i: &Internal, at: DateTime<Utc>, confidential: Option<&std::path::Path>) -> Value {
    let detected = internal::phase_time(i, Phase::Detected).unwrap_or(at);
    let mut prev = detected;
    // Each phase at the time the business event happened, where the event says it; otherwise when
    // it was recorded.
    let timeline: Vec<Value> = i
        .timeline
        .iter()
        .map(|(phase, seq, time)| {
            let t = internal::phase_time(i, *phase).or_else(|| timing::parse(time)).unwrap_or(detected);
            let v = json!({"phase": phase.name(), "seq": seq, "at": t.to_rfc3339(),
                           "since_previous_hours": (t - prev).num_minutes() as f64 / 60.0,
                           "since_detection_hours": (t - detected).num_minutes() as f64 / 60.0});
            prev = t;
            v
        })
        .collect();
    let deadlines = internal::deadlines(i, at)
        .map(|(m, r)| json!({"mitigate": deadline_json(&m), "remediate": deadline_json(&r)}))
        .unwrap_or(Value::Null);
    json!({
        "id": i.detected.id,
        "project": i.detected.project,
        "kind": i.detected.kind,
        "severity": i.detected.severity,
        "title": title(i, confidential),
        "title_commitment": i.detected.title_commitment,
        "title_disclosed": i.disclosed.as_ref().is_some_and(|d| d.title.is_some()) || i.detected.title.is_some(),
        "phase": i.phase.name(),
        "timeline": timeline,
        "deadlines": deadlines,
        "backports": i.backports.values().map(|b| json!({"target": b.target, "merge_request": b.merge_request, "merged_commit": b.merged_commit})).collect::<Vec<_>>(),
        "packages": i.released.as_ref().map(|r| r.packages.clone()).unwrap_or_default(),
        "disclosed": i.disclosed.as_ref().map(|d| json!({"public_versions": d.public_versions, "at": d.disclosed_at})),
    })
}

/// `relic internal status ID`.
/// `confidential`: where the confidential title may be read from before disclosure (`None`: the
/// viewer may not see it, or there is no store).
pub fn internal_status(snap: &Snapshot, id: &str, confidential: Option<&std::path::Path>) -> Result<Value, ViewError> {
    let i = snap.state.internal.get(id).ok_or_else(|| ViewError::NotFound(format!("Internal release {id} does not exist")))?;
    Ok(json!({"internal_release": internal_json(i, snap.at, confidential), "log": snap.provenance()}))
}
