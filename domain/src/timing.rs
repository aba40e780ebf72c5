//! The domain's times and the rules that compare them: one implementation, which the rules
//! ([`crate::decide`], [`crate::schedule`], [`crate::internal`]) and every view and report call.
//!
//! Payloads carry times as RFC 3339 text (their schemas assert the `date-time` format); the state
//! holds them typed ([`DateTime<Utc>`]), parsed once when a record is read ([`crate::state::decode`]
//! refuses a record whose time does not parse, so the fold never meets one).
//!
//! The release rules, as the reference Releases API states them:
//! - a release is **historical** when its `released_at` is before its `created_at`, compared in
//!   whole seconds (the reference stores seconds); it never gets evidence;
//! - it is **upcoming** at a moment when its `released_at` is after that moment; its evidence is
//!   collected when `released_at` arrives ("You cannot collect release evidence before then");
//! - it **was upcoming when created** when `released_at` was after `created_at` (in whole seconds):
//!   only such a release has scheduled evidence; one created as released (or historical) had its
//!   evidence collected at creation, or never.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 time (any offset) as UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// The form relic writes times in: RFC 3339, whole seconds, `Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Released before it was created, in whole seconds.
pub fn is_historical(released_at: DateTime<Utc>, created_at: DateTime<Utc>) -> bool {
    released_at.timestamp() < created_at.timestamp()
}

/// Not released yet at `at`.
pub fn is_upcoming(released_at: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    released_at > at
}

/// Released after it was created, in whole seconds: its evidence is collected when it is due.
pub fn was_upcoming_when_created(released_at: DateTime<Utc>, created_at: DateTime<Utc>) -> bool {
    released_at.timestamp() > created_at.timestamp()
}

/// Whether a release's evidence is expected by `at`: it is neither historical nor upcoming.
pub fn evidence_expected(released_at: DateTime<Utc>, created_at: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    !is_historical(released_at, created_at) && !is_upcoming(released_at, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse(s).unwrap()
    }

    #[test]
    fn the_release_rules_compare_whole_seconds_where_the_reference_does() {
        let created = t("2026-06-01T10:00:00.900Z");
        assert!(!is_historical(t("2026-06-01T10:00:00.100Z"), created), "same second: not historical");
        assert!(is_historical(t("2026-06-01T09:59:59.999Z"), created));
        assert!(!was_upcoming_when_created(t("2026-06-01T10:00:00.950Z"), created), "same second: created as released");
        assert!(was_upcoming_when_created(t("2026-06-01T10:00:01Z"), created));
        let at = t("2026-06-01T12:00:00Z");
        assert!(is_upcoming(t("2026-06-01T12:00:00.001Z"), at) && !is_upcoming(at, at));
        assert!(evidence_expected(at, created, at) && !evidence_expected(t("2026-01-01T00:00:00Z"), created, at));
        assert_eq!(ts(t("2026-06-01T12:00:00+02:00")), "2026-06-01T10:00:00Z");
        assert_eq!(parse("yesterday"), None);
    }
}
