//! Deploy freeze periods: spans of time, given as a pair of cron schedules in a time zone, during
//! which a project must not deploy.
//!
//! A freeze period is `freeze_start` and `freeze_end`, two standard 5-field crontab expressions
//! (`minute hour day-of-month month day-of-week`), and `cron_timezone`, an IANA time zone name that
//! defaults to [`DEFAULT_CRON_TIMEZONE`] (`UTC`). The reference system is GitLab's Freeze Periods
//! API (`Ci::FreezePeriod`, `CronValidator`, `CronFreezePeriodTimezoneValidator`); this module
//! implements the part of it that decides, for a given instant, whether a period is active.
//!
//! What this module is not: it stores nothing, records no event, checks no role (freeze periods
//! are maintainer-only; that check belongs to the command layer), and never reads the clock.
//! Every function takes the instant to evaluate at, so results are reproducible.
//!
//! # Functions and the reference behaviour each implements
//!
//! - [`validate`] / [`validate_all`] / [`FreezePeriod::new`]: GitLab's model validations. Like
//!   GitLab (`strip_attributes! :freeze_start, :freeze_end`), the cron strings are trimmed; the
//!   time zone is taken as given. [`validate`] reports the first error in field order
//!   (`freeze_start`, `freeze_end`, `cron_timezone`); [`validate_all`] reports all of them, as
//!   GitLab's `errors` does.
//! - [`FreezePeriod::is_active`] / [`FreezePeriod::window_at`] / [`Validated::window_at`]:
//!   `Ci::FreezePeriod#status` (`time_start <= now && now <= time_end_from_start`, where
//!   `time_start` is the previous `freeze_start` occurrence and `time_end_from_start` the first
//!   `freeze_end` occurrence after it), with the inclusive start of the project reference
//!   (`domain.md`: "the most recent `freeze_start` occurrence at or before now").
//! - [`status`]: `Ci::FreezePeriodStatus#execute` (`freeze_periods.any? { active }`), which is what
//!   sets the reference's `CI_DEPLOY_FREEZE` variable; it also lists which periods are active and
//!   their windows. Several periods all apply, and overlapping ones cover their union.
//!
//! # Error texts
//!
//! The messages are those of `domain.md` ("invalid cron → `<field> is invalid syntax`; invalid
//! zone → `cron_timezone syntax is invalid`"), with the field named the way GitLab's error
//! messages name it (Rails' humanised attribute: `Freeze start`, `Freeze end`, `Cron timezone`):
//!
//! | case                         | text                             |
//! |------------------------------|----------------------------------|
//! | bad or never-firing start    | `Freeze start is invalid syntax` |
//! | bad or never-firing end      | `Freeze end is invalid syntax`   |
//! | unknown or empty time zone   | `Cron timezone syntax is invalid`|
//!
//! Source: GitLab's `CronValidator` and `CronFreezePeriodTimezoneValidator` added the message
//! `" is invalid syntax"` to the attribute (so the API answered
//! `{"message": {"freeze_end": [" is invalid syntax"]}}`, and the full message read
//! `Freeze end  is invalid syntax`, with a doubled space we do not reproduce). Later GitLab
//! versions changed both validators to `'syntax is invalid'` (API: `["syntax is invalid"]`, full
//! messages `Freeze end syntax is invalid` and `Cron timezone syntax is invalid`; GitLab's
//! pipeline-schedule specs assert that last text verbatim for the same attribute name).
//! `domain.md` keeps the older wording for the cron
//! fields and the newer one for the zone; we follow `domain.md`, since it is this project's
//! specification, and [`FreezeError::field`] gives the API field name for GitLab-shaped error maps.
//!
//! # Schedules
//!
//! Exactly five whitespace-separated fields; each may use numbers, `*`, lists (`,`), ranges (`-`)
//! and steps (`*/n`, `a-b/n`); the month field also takes `JAN`–`DEC` and the day-of-week field
//! `SUN`–`SAT` (any case; `0` and `7` are both Sunday). When both day-of-month and day-of-week are
//! restricted (neither is exactly `*`), a day matches if either matches (POSIX / Vixie cron).
//! Rejected as invalid syntax: a seconds or year field, `@daily`-style aliases, and extensions of
//! some cron dialects (`L`, `W`, `#`, `?`, a `+` prefix, `5/15` without a range), so a stored
//! schedule means the same thing to any standard crontab reader. A schedule that can never fire
//! (`0 0 30 2 *`, `0 0 31 4,6 *`) is also rejected as invalid syntax, as GitLab's parser (Fugit)
//! does; `0 0 29 2 *` is valid (it fires in leap years), and so is `0 0 30 2 MON` (it fires on
//! Mondays in February by the OR rule; Fugit rejects it).
//!
//! # Evaluation and edge cases
//!
//! A period is active at `at` when the most recent `freeze_start` occurrence `s <= at` is followed
//! by a first `freeze_end` occurrence `e > s` with `at <= e`; the window is `[s, e]`, closed at
//! both ends.
//!
//! - At exactly a start occurrence: active (the start is "at or before" `at`). GitLab's parser
//!   looks strictly before `now`, so GitLab would call that very second inactive when the previous
//!   window had already ended; its specs only check one minute in. We follow `domain.md`.
//! - At exactly the end occurrence: active, as in GitLab (`now <= time_end_from_start`); one
//!   nanosecond later it is not.
//! - The end is searched strictly after the start, as GitLab's `next_time_from(time_start)` does.
//!   So an end occurrence at the same instant as the start does not close the window: with
//!   `freeze_start == freeze_end` every window runs from one occurrence to the next and the period
//!   is always active (a perpetual freeze), which is also what GitLab does.
//! - A period that overlaps itself (the start fires again before the end, e.g. `* * * 8 *` to
//!   `* * * 10 *`) is active from the first start to the end: the latest start counts (GitLab
//!   issue 370472).
//!
//! Schedules are matched against the wall clock of `cron_timezone` and windows are returned as UTC
//! instants, so a window that crosses a DST change is an hour shorter or longer than its wall-clock
//! span. Around a change we follow croner's rules, which are Vixie cron's: a fixed time (single
//! minute and hour, like `30 2 * * *`) that falls in a spring-forward gap fires at the first
//! instant after the gap; a fixed time repeated by a fall-back fires once, at the earlier instant;
//! schedules whose minute or hour field is a wildcard, list, range or step fire at every real
//! instant whose wall clock matches (both passes of a repeated hour, none inside a gap).
//! (GitLab's Fugit skips a fixed time that falls in a gap; that is the one known DST difference.)
//!
//! The backward search for the previous start is bounded: croner caps every search (a bounded
//! number of steps, years 1 to 5000), and a start further back than
//! [`MAX_OCCURRENCE_GAP_DAYS`] is ignored (the period is then inactive). Because validation
//! rejects schedules that never fire, and the longest gap between two occurrences of a schedule
//! that fires is the eight years between two 29 Februaries across 2100, that bound never changes
//! an answer for a valid period; it only guarantees the search ends. Instants outside the years
//! [`MIN_YEAR`] to [`MAX_YEAR`] give [`FreezeError::OutOfRange`] rather than an answer that
//! croner's own year limits (1 to 5000) would distort.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};

/// A freeze window: its start and end instants, both inclusive.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// The time zone of a freeze period created without one (GitLab's `cron_timezone` default).
pub const DEFAULT_CRON_TIMEZONE: &str = "UTC";

/// How far back the previous `freeze_start` occurrence is looked for, in days (8 × 366).
///
/// At least the longest gap between two occurrences of a schedule that [`validate`] accepts: a
/// schedule that fires only on 29 February fires every four years, except across a century year
/// that is not a leap year (2096 → 2104).
pub const MAX_OCCURRENCE_GAP_DAYS: i64 = 8 * 366;

/// The first year (UTC) in which periods can be evaluated. croner searches years 1 to 5000;
/// this leaves room for the look-back ([`MAX_OCCURRENCE_GAP_DAYS`]) and for the end search.
pub const MIN_YEAR: i32 = 10;

/// The last year (UTC) in which periods can be evaluated (see [`MIN_YEAR`]).
pub const MAX_YEAR: i32 = 4990;

/// Why a freeze period is invalid or cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreezeError {
    /// `freeze_start` is not a valid 5-field cron expression, or never fires.
    #[error("Freeze start is invalid syntax")]
    InvalidStart,
    /// `freeze_end` is not a valid 5-field cron expression, or never fires.
    #[error("Freeze end is invalid syntax")]
    InvalidEnd,
    /// `cron_timezone` is not an IANA time zone name.
    #[error("Cron timezone syntax is invalid")]
    InvalidTimezone,
    /// The instant is outside the years [`MIN_YEAR`] to [`MAX_YEAR`], or the schedule search
    /// failed there.
    #[error("freeze period cannot be evaluated at {at}: outside the supported date range")]
    OutOfRange {
        /// The instant that was asked about.
        at: DateTime<Utc>,
    },
}

impl FreezeError {
    /// The API field the error is about (`freeze_start`, `freeze_end`, `cron_timezone`), for
    /// GitLab-shaped error maps; `None` for evaluation errors.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            FreezeError::InvalidStart => Some("freeze_start"),
            FreezeError::InvalidEnd => Some("freeze_end"),
            FreezeError::InvalidTimezone => Some("cron_timezone"),
            FreezeError::OutOfRange { .. } => None,
        }
    }
}

/// A deploy freeze period as stored: the fields of GitLab's Freeze Periods API.
///
/// The fields are public and may hold anything (for instance after decoding); every evaluation
/// validates them first. Build one with [`FreezePeriod::new`] to store normalised values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezePeriod {
    /// The period's id.
    pub id: u64,
    /// Cron expression for the start of each freeze window.
    pub freeze_start: String,
    /// Cron expression for the end of each freeze window.
    pub freeze_end: String,
    /// IANA time zone the expressions are read in.
    #[serde(default = "default_cron_timezone")]
    pub cron_timezone: String,
}

fn default_cron_timezone() -> String {
    DEFAULT_CRON_TIMEZONE.to_owned()
}

impl FreezePeriod {
    /// Validates the fields and builds a period holding their normalised form (trimmed cron
    /// strings; `cron_timezone` defaults to `UTC`).
    pub fn new(
        id: u64,
        freeze_start: &str,
        freeze_end: &str,
        cron_timezone: Option<&str>,
    ) -> Result<FreezePeriod, FreezeError> {
        Ok(validate(freeze_start, freeze_end, cron_timezone)?.into_period(id))
    }

    /// Parses and checks this period's fields (see [`validate`]).
    pub fn validated(&self) -> Result<Validated, FreezeError> {
        validate(
            &self.freeze_start,
            &self.freeze_end,
            Some(&self.cron_timezone),
        )
    }

    /// Whether the period is active at `at` (GitLab's `Ci::FreezePeriod#active?`, with the
    /// inclusive start and end described in the module documentation).
    ///
    /// Fails if the period's fields are invalid or `at` is out of range.
    pub fn is_active(&self, at: DateTime<Utc>) -> Result<bool, FreezeError> {
        self.validated()?.is_active(at)
    }

    /// The active window `(start, end)` containing `at`, or `None` when the period is inactive
    /// at `at` or cannot be evaluated (invalid fields, out-of-range instant; use
    /// [`Validated::window_at`] to tell those apart).
    pub fn window_at(&self, at: DateTime<Utc>) -> Option<Window> {
        self.validated().ok()?.window_at(at).ok().flatten()
    }
}

/// A freeze period whose schedules and time zone have been checked and parsed.
#[derive(Debug, Clone)]
pub struct Validated {
    freeze_start: String,
    freeze_end: String,
    cron_timezone: String,
    start: Cron,
    end: Cron,
    zone: Tz,
}

/// Checks a freeze period's fields and parses them; the first error in field order wins
/// (`freeze_start`, `freeze_end`, `cron_timezone`). `cron_timezone` of `None` means `UTC`.
pub fn validate(
    freeze_start: &str,
    freeze_end: &str,
    cron_timezone: Option<&str>,
) -> Result<Validated, FreezeError> {
    validate_all(freeze_start, freeze_end, cron_timezone).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or(FreezeError::InvalidStart)
    })
}

/// Like [`validate`], but reports every invalid field, in field order. The error list is never
/// empty.
pub fn validate_all(
    freeze_start: &str,
    freeze_end: &str,
    cron_timezone: Option<&str>,
) -> Result<Validated, Vec<FreezeError>> {
    let freeze_start = freeze_start.trim();
    let freeze_end = freeze_end.trim();
    let cron_timezone = cron_timezone.unwrap_or(DEFAULT_CRON_TIMEZONE);
    match (
        parse_schedule(freeze_start),
        parse_schedule(freeze_end),
        cron_timezone.parse::<Tz>().ok(),
    ) {
        (Some(start), Some(end), Some(zone)) => Ok(Validated {
            freeze_start: freeze_start.to_owned(),
            freeze_end: freeze_end.to_owned(),
            cron_timezone: cron_timezone.to_owned(),
            start,
            end,
            zone,
        }),
        (start, end, zone) => {
            let mut errors = Vec::new();
            if start.is_none() {
                errors.push(FreezeError::InvalidStart);
            }
            if end.is_none() {
                errors.push(FreezeError::InvalidEnd);
            }
            if zone.is_none() {
                errors.push(FreezeError::InvalidTimezone);
            }
            Err(errors)
        }
    }
}

impl Validated {
    /// The trimmed `freeze_start` expression.
    pub fn freeze_start(&self) -> &str {
        &self.freeze_start
    }

    /// The trimmed `freeze_end` expression.
    pub fn freeze_end(&self) -> &str {
        &self.freeze_end
    }

    /// The time zone name, as given (or `UTC`).
    pub fn cron_timezone(&self) -> &str {
        &self.cron_timezone
    }

    /// The parsed time zone.
    pub fn time_zone(&self) -> Tz {
        self.zone
    }

    /// The stored form of this period under `id`.
    pub fn into_period(self, id: u64) -> FreezePeriod {
        FreezePeriod {
            id,
            freeze_start: self.freeze_start,
            freeze_end: self.freeze_end,
            cron_timezone: self.cron_timezone,
        }
    }

    /// Whether the period is active at `at`.
    pub fn is_active(&self, at: DateTime<Utc>) -> Result<bool, FreezeError> {
        Ok(self.window_at(at)?.is_some())
    }

    /// The active window `(start, end)` containing `at`, both ends inclusive, or `None` when the
    /// period is inactive at `at`.
    ///
    /// `start` is the latest `freeze_start` occurrence at or before `at` (looked for at most
    /// [`MAX_OCCURRENCE_GAP_DAYS`] back), `end` the first `freeze_end` occurrence strictly after
    /// `start`; the period is active when `at <= end`.
    pub fn window_at(&self, at: DateTime<Utc>) -> Result<Option<Window>, FreezeError> {
        let out_of_range = || FreezeError::OutOfRange { at };
        if !(MIN_YEAR..=MAX_YEAR).contains(&at.year()) {
            return Err(out_of_range());
        }
        let local = at.with_timezone(&self.zone);

        let start = self
            .start
            .find_previous_occurrence(&local, true)
            .map_err(|_| out_of_range())?;
        let start_utc = start.with_timezone(&Utc);
        if start_utc > at {
            // croner answered past the instant it was asked about; never trust that.
            return Err(out_of_range());
        }
        let lookback = TimeDelta::try_days(MAX_OCCURRENCE_GAP_DAYS).ok_or_else(out_of_range)?;
        if at.signed_duration_since(start_utc) > lookback {
            return Ok(None);
        }

        let end = self
            .end
            .find_next_occurrence(&start, false)
            .map_err(|_| out_of_range())?;
        let end_utc = end.with_timezone(&Utc);
        Ok((at <= end_utc).then_some((start_utc, end_utc)))
    }
}

/// One period that is active at the instant a [`FreezeStatus`] was computed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFreeze {
    /// The period's id.
    pub id: u64,
    /// Start of its current window (inclusive).
    pub start: DateTime<Utc>,
    /// End of its current window (inclusive).
    pub end: DateTime<Utc>,
}

/// A period that could not be evaluated (invalid fields or out-of-range instant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFreeze {
    /// The period's id.
    pub id: u64,
    /// Why it could not be evaluated.
    pub error: FreezeError,
}

/// The deploy-freeze state of a set of periods at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeStatus {
    /// The instant evaluated.
    pub at: DateTime<Utc>,
    /// Whether any period is active: the reference's `CI_DEPLOY_FREEZE` flag.
    pub frozen: bool,
    /// The active periods, in input order, with their current windows.
    pub active: Vec<ActiveFreeze>,
    /// Periods that could not be evaluated, in input order. They do not set `frozen`; the caller
    /// decides whether an unevaluable period should block a deploy.
    pub invalid: Vec<InvalidFreeze>,
}

impl FreezeStatus {
    /// The ids of the active periods.
    pub fn active_ids(&self) -> Vec<u64> {
        self.active.iter().map(|a| a.id).collect()
    }

    /// The union of the active windows: every one contains `at`, so together they cover one span,
    /// from the earliest start to the latest end. `None` when not frozen. Windows that begin after
    /// `at` are not included, even if they would extend the freeze without a gap.
    pub fn covering(&self) -> Option<Window> {
        let start = self.active.iter().map(|a| a.start).min()?;
        let end = self.active.iter().map(|a| a.end).max()?;
        Some((start, end))
    }
}

/// Evaluates every period at `at` (GitLab's `Ci::FreezePeriodStatus`): all periods apply, and the
/// project is frozen while any of them is active.
pub fn status(periods: &[FreezePeriod], at: DateTime<Utc>) -> FreezeStatus {
    let mut active = Vec::new();
    let mut invalid = Vec::new();
    for period in periods {
        match period.validated().and_then(|v| v.window_at(at)) {
            Ok(Some((start, end))) => active.push(ActiveFreeze {
                id: period.id,
                start,
                end,
            }),
            Ok(None) => {}
            Err(error) => invalid.push(InvalidFreeze {
                id: period.id,
                error,
            }),
        }
    }
    FreezeStatus {
        at,
        frozen: !active.is_empty(),
        active,
        invalid,
    }
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses a 5-field crontab expression; `None` if it is not one or never fires.
fn parse_schedule(expression: &str) -> Option<Cron> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != 5 {
        return None;
    }
    if !fields
        .iter()
        .enumerate()
        .all(|(index, field)| is_standard_field(index, field))
    {
        return None;
    }
    let cron = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .build()
        .parse(expression)
        .ok()?;
    fires_at_least_once(&cron).then_some(cron)
}

/// Whether a field uses only standard crontab syntax: digits, `*`, `,`, `-`, `/`, and in the
/// month and day-of-week fields (indexes 3 and 4) the three-letter names. croner accepts more
/// (`L`, `W`, `#`, `?`, `+`, `@` aliases), which is rejected here.
fn is_standard_field(index: usize, field: &str) -> bool {
    let names: &[&str] = match index {
        3 => &MONTH_NAMES,
        4 => &WEEKDAY_NAMES,
        _ => &[],
    };
    let mut rest = field;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() || matches!(c, '*' | ',' | '-' | '/') {
            rest = &rest[c.len_utf8()..];
        } else if c.is_ascii_alphabetic() {
            let len = rest
                .find(|ch: char| !ch.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let (word, tail) = rest.split_at(len);
            if !names.iter().any(|name| name.eq_ignore_ascii_case(word)) {
                return false;
            }
            rest = tail;
        } else {
            return false;
        }
    }
    true
}

/// Whether a parsed schedule has at least one occurrence: some minute, some hour, and some real
/// day (a day-of-month that exists in one of the months, or, with a restricted day-of-week under
/// the OR rule, any week of one of the months).
fn fires_at_least_once(cron: &Cron) -> bool {
    let pattern = &cron.pattern;
    let any_minute = (0..60).any(|m| pattern.minute_match(m).unwrap_or(false));
    let any_hour = (0..24).any(|h| pattern.hour_match(h).unwrap_or(false));
    let any_month = (1..=12).any(|m| pattern.month_match(m).unwrap_or(false));
    if !(any_minute && any_hour && any_month) {
        return false;
    }
    if pattern.is_dom_wildcard() || (!pattern.is_dow_wildcard() && !pattern.matches_dom_and_dow()) {
        return true;
    }
    // The day-of-month is restricted and decides alone: walk one 28-year cycle of the calendar
    // (2000 to 2027), which holds every date on every weekday, 29 February included.
    let (Some(mut day), Some(last)) = (
        NaiveDate::from_ymd_opt(2000, 1, 1),
        NaiveDate::from_ymd_opt(2027, 12, 31),
    ) else {
        return false;
    };
    while day <= last {
        let weekday =
            croner::time::Weekday::from_days_from_sunday(day.weekday().num_days_from_sunday());
        if pattern.month_match(day.month()).unwrap_or(false)
            && pattern
                .day_match(day.year(), day.month(), day.day(), weekday)
                .unwrap_or(false)
        {
            return true;
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid UTC time")
    }

    fn period(id: u64, start: &str, end: &str, tz: &str) -> FreezePeriod {
        FreezePeriod::new(id, start, end, Some(tz)).expect("valid period")
    }

    fn weekend(tz: &str) -> FreezePeriod {
        period(1, "0 23 * * 5", "0 7 * * 1", tz)
    }

    // --- validation -----------------------------------------------------------------------

    #[test]
    fn freeze_error_texts_are_the_reference_ones() {
        assert_eq!(
            FreezeError::InvalidStart.to_string(),
            "Freeze start is invalid syntax"
        );
        assert_eq!(
            FreezeError::InvalidEnd.to_string(),
            "Freeze end is invalid syntax"
        );
        assert_eq!(
            FreezeError::InvalidTimezone.to_string(),
            "Cron timezone syntax is invalid"
        );
        assert_eq!(FreezeError::InvalidStart.field(), Some("freeze_start"));
        assert_eq!(FreezeError::InvalidEnd.field(), Some("freeze_end"));
        assert_eq!(FreezeError::InvalidTimezone.field(), Some("cron_timezone"));
    }

    #[test]
    fn freeze_invalid_cron_is_invalid_syntax() {
        // `0 0 0 * *` is GitLab's own invalid example (day-of-month 0).
        for bad in [
            "0 0 0 * *",
            "invalid",
            "",
            "   ",
            "* * * *",
            "0 0 * * * *",
            "0 0 0 * * * 2030",
            "60 * * * *",
            "0 24 * * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 * * 5#2",
            "0 0 * * 5L",
            "0 0 ? * 5",
            "0 0 1 * +5",
            "@daily",
            "5/15 * * * *",
            "*/0 * * * *",
            "0 0 * * FRIDAY",
            "0 0 * MON *",
            "0 0 * * JAN",
            "0 0 X * *",
            "0 0 * * 5 # comment",
            "０ 0 * * *",
        ] {
            let err = validate(bad, "0 7 * * 1", None).err();
            assert_eq!(err, Some(FreezeError::InvalidStart), "start {bad:?}");
            assert_eq!(
                err.map(|e| e.to_string()).as_deref(),
                Some("Freeze start is invalid syntax")
            );
            let err = validate("0 23 * * 5", bad, None).err();
            assert_eq!(err, Some(FreezeError::InvalidEnd), "end {bad:?}");
            assert_eq!(
                err.map(|e| e.to_string()).as_deref(),
                Some("Freeze end is invalid syntax")
            );
        }
    }

    #[test]
    fn freeze_never_firing_cron_is_invalid_syntax() {
        for never in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 FEB *"] {
            assert_eq!(
                validate(never, "0 7 * * 1", None).err(),
                Some(FreezeError::InvalidStart),
                "{never:?}"
            );
        }
        // Fires in leap years only, and a restricted weekday rescues an impossible date (OR).
        assert!(validate("0 0 29 2 *", "0 0 1 3 *", None).is_ok());
        assert!(validate("0 0 30 2 MON", "0 0 1 3 *", None).is_ok());
    }

    #[test]
    fn freeze_valid_cron_forms() {
        for good in [
            "0 23 * * 5",
            "0 23 * * FRI",
            "0 23 * * fri",
            "0 7 * * Mon",
            "*/15 9-17 1,15 * MON-FRI",
            "0 0 1 JAN-MAR *",
            "0 0 * * 0",
            "0 0 * * 7",
            "0 0 * * SAT-SUN",
            "0-30/10 */2 1-7 */3 1,3,5",
            "  0 0 * * *   ",
            "0\t0 * *  *",
        ] {
            assert!(validate(good, "0 7 * * 1", None).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn freeze_invalid_zone_text() {
        for bad in [
            "invalid",
            "",
            "Mars/Olympus_Mons",
            "Europe/Berlin ",
            "utc",
            "+01:00",
        ] {
            let err = validate("0 23 * * 5", "0 7 * * 1", Some(bad)).err();
            assert_eq!(err, Some(FreezeError::InvalidTimezone), "{bad:?}");
            assert_eq!(
                err.map(|e| e.to_string()).as_deref(),
                Some("Cron timezone syntax is invalid")
            );
        }
        for good in [
            "UTC",
            "Etc/UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
        ] {
            assert!(
                validate("0 23 * * 5", "0 7 * * 1", Some(good)).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn freeze_validation_order_and_all_errors() {
        assert_eq!(
            validate("bad", "bad", Some("bad")).err(),
            Some(FreezeError::InvalidStart)
        );
        assert_eq!(
            validate("0 0 * * *", "bad", Some("bad")).err(),
            Some(FreezeError::InvalidEnd)
        );
        assert_eq!(
            validate_all("bad", "bad", Some("bad")).err(),
            Some(vec![
                FreezeError::InvalidStart,
                FreezeError::InvalidEnd,
                FreezeError::InvalidTimezone
            ])
        );
        assert_eq!(
            validate_all("bad", "0 7 * * 1", Some("bad")).err(),
            Some(vec![
                FreezeError::InvalidStart,
                FreezeError::InvalidTimezone
            ])
        );
    }

    #[test]
    fn freeze_new_normalises_and_defaults_to_utc() {
        let p = FreezePeriod::new(7, " 0 23 * * 5  ", "0 7 * * 1\n", None).expect("valid");
        assert_eq!(
            p,
            FreezePeriod {
                id: 7,
                freeze_start: "0 23 * * 5".into(),
                freeze_end: "0 7 * * 1".into(),
                cron_timezone: "UTC".into(),
            }
        );
        let decoded: FreezePeriod = serde_json::from_str(
            r#"{"id":7,"freeze_start":"0 23 * * 5","freeze_end":"0 7 * * 1"}"#,
        )
        .expect("decodes");
        assert_eq!(decoded, p);
    }

    // --- weekend freeze, UTC (GitLab's factory and spec times) ----------------------------

    #[test]
    fn freeze_weekend_utc() {
        let p = weekend("UTC");
        // Friday 2020-04-10 23:00 to Monday 2020-04-13 07:00.
        let window = Some((utc(2020, 4, 10, 23, 0, 0), utc(2020, 4, 13, 7, 0, 0)));
        assert_eq!(p.is_active(utc(2020, 4, 10, 22, 59, 0)), Ok(false));
        assert_eq!(p.is_active(utc(2020, 4, 10, 23, 1, 0)), Ok(true));
        assert_eq!(p.is_active(utc(2020, 4, 11, 12, 0, 0)), Ok(true));
        assert_eq!(p.is_active(utc(2020, 4, 13, 6, 59, 0)), Ok(true));
        assert_eq!(p.is_active(utc(2020, 4, 13, 7, 1, 0)), Ok(false));
        assert_eq!(p.is_active(utc(2020, 4, 14, 8, 0, 0)), Ok(false));
        assert_eq!(p.window_at(utc(2020, 4, 11, 12, 0, 0)), window);
        assert_eq!(p.window_at(utc(2020, 4, 14, 8, 0, 0)), None);
        // Wednesday: the previous start (Friday 2020-04-03) was closed on Monday 2020-04-06.
        assert_eq!(p.window_at(utc(2020, 4, 8, 12, 0, 0)), None);
    }

    #[test]
    fn freeze_at_exactly_start_is_active() {
        let p = weekend("UTC");
        let start = utc(2020, 4, 10, 23, 0, 0);
        assert_eq!(p.is_active(start), Ok(true));
        assert_eq!(p.window_at(start), Some((start, utc(2020, 4, 13, 7, 0, 0))));
        // A sub-second instant inside the start minute is inside too.
        let just_after = start + TimeDelta::nanoseconds(500_000_000);
        assert_eq!(
            p.window_at(just_after),
            Some((start, utc(2020, 4, 13, 7, 0, 0)))
        );
        assert_eq!(p.is_active(start - TimeDelta::nanoseconds(1)), Ok(false));
    }

    #[test]
    fn freeze_at_exactly_end_is_active_and_not_after() {
        let p = weekend("UTC");
        let end = utc(2020, 4, 13, 7, 0, 0);
        assert_eq!(p.is_active(end), Ok(true));
        assert_eq!(p.window_at(end), Some((utc(2020, 4, 10, 23, 0, 0), end)));
        assert_eq!(p.is_active(end + TimeDelta::nanoseconds(1)), Ok(false));
        assert_eq!(p.is_active(end + TimeDelta::seconds(1)), Ok(false));
    }

    // --- weekend freeze, Europe/Berlin ----------------------------------------------------

    #[test]
    fn freeze_weekend_berlin_winter_and_summer() {
        let p = weekend("Europe/Berlin");
        // Winter (CET, UTC+1): Fri 2024-01-12 23:00 = 22:00Z to Mon 2024-01-15 07:00 = 06:00Z.
        assert_eq!(
            p.window_at(utc(2024, 1, 13, 12, 0, 0)),
            Some((utc(2024, 1, 12, 22, 0, 0), utc(2024, 1, 15, 6, 0, 0)))
        );
        assert_eq!(p.is_active(utc(2024, 1, 12, 21, 59, 0)), Ok(false));
        assert_eq!(p.is_active(utc(2024, 1, 12, 22, 0, 0)), Ok(true));
        assert_eq!(p.is_active(utc(2024, 1, 15, 6, 0, 0)), Ok(true));
        assert_eq!(p.is_active(utc(2024, 1, 15, 6, 0, 1)), Ok(false));
        // At 06:30Z on Monday the UTC freeze still holds; in Berlin it is 07:30 and it is over.
        assert_eq!(
            weekend("UTC").is_active(utc(2024, 1, 15, 6, 30, 0)),
            Ok(true)
        );
        assert_eq!(p.is_active(utc(2024, 1, 15, 6, 30, 0)), Ok(false));
        // Summer (CEST, UTC+2): Fri 2024-07-12 23:00 = 21:00Z to Mon 07:00 = 05:00Z.
        assert_eq!(
            p.window_at(utc(2024, 7, 14, 0, 0, 0)),
            Some((utc(2024, 7, 12, 21, 0, 0), utc(2024, 7, 15, 5, 0, 0)))
        );
    }

    #[test]
    fn freeze_weekend_berlin_across_dst_changes() {
        let p = weekend("Europe/Berlin");
        // Spring forward on Sunday 2024-03-31 (02:00 CET -> 03:00 CEST): the window starts in
        // CET and ends in CEST, so it lasts 55 hours instead of 56.
        let (start, end) = (utc(2024, 3, 29, 22, 0, 0), utc(2024, 4, 1, 5, 0, 0));
        for at in [
            start,
            utc(2024, 3, 31, 0, 59, 0),
            utc(2024, 3, 31, 1, 0, 0),
            utc(2024, 3, 31, 12, 0, 0),
            end,
        ] {
            assert_eq!(p.window_at(at), Some((start, end)), "{at}");
        }
        assert_eq!((end - start).num_hours(), 55);
        assert_eq!(p.is_active(end + TimeDelta::seconds(1)), Ok(false));
        assert_eq!(p.is_active(start - TimeDelta::seconds(1)), Ok(false));

        // Fall back on Sunday 2024-10-27 (03:00 CEST -> 02:00 CET): 57 hours.
        let (start, end) = (utc(2024, 10, 25, 21, 0, 0), utc(2024, 10, 28, 6, 0, 0));
        for at in [
            start,
            utc(2024, 10, 27, 0, 30, 0),
            utc(2024, 10, 27, 1, 30, 0),
            end,
        ] {
            assert_eq!(p.window_at(at), Some((start, end)), "{at}");
        }
        assert_eq!((end - start).num_hours(), 57);
        assert_eq!(p.is_active(end + TimeDelta::seconds(1)), Ok(false));
    }

    #[test]
    fn freeze_fixed_times_inside_dst_changes() {
        // 02:30 does not exist in Berlin on 2024-03-31: the start fires at 03:00 CEST (01:00Z).
        let p = period(1, "30 2 * * *", "0 4 * * *", "Europe/Berlin");
        assert_eq!(
            p.window_at(utc(2024, 3, 31, 1, 30, 0)),
            Some((utc(2024, 3, 31, 1, 0, 0), utc(2024, 3, 31, 2, 0, 0)))
        );
        assert_eq!(p.is_active(utc(2024, 3, 31, 0, 59, 0)), Ok(false));
        // 02:30 happens twice on 2024-10-27 (00:30Z CEST, 01:30Z CET); a fixed time fires once,
        // at the earlier one, and 02:45 likewise closes the window at its earlier pass.
        let p = period(1, "30 2 * * *", "45 2 * * *", "Europe/Berlin");
        let window = Some((utc(2024, 10, 27, 0, 30, 0), utc(2024, 10, 27, 0, 45, 0)));
        assert_eq!(p.window_at(utc(2024, 10, 27, 0, 40, 0)), window);
        assert_eq!(p.window_at(utc(2024, 10, 27, 0, 45, 0)), window);
        assert_eq!(p.window_at(utc(2024, 10, 27, 1, 40, 0)), None);
    }

    // --- other shapes ---------------------------------------------------------------------

    #[test]
    fn freeze_spanning_new_year() {
        let p = period(1, "0 0 24 12 *", "0 0 2 1 *", "UTC");
        let (start, end) = (utc(2024, 12, 24, 0, 0, 0), utc(2025, 1, 2, 0, 0, 0));
        for at in [
            start,
            utc(2024, 12, 31, 23, 59, 59),
            utc(2025, 1, 1, 0, 0, 0),
            end,
        ] {
            assert_eq!(p.window_at(at), Some((start, end)), "{at}");
        }
        assert_eq!(p.is_active(start - TimeDelta::seconds(1)), Ok(false));
        assert_eq!(p.is_active(end + TimeDelta::seconds(1)), Ok(false));
        // Mid-year: the latest start (24 December 2024) was closed on 2 January 2025.
        assert_eq!(p.is_active(utc(2025, 7, 1, 0, 0, 0)), Ok(false));
    }

    #[test]
    fn freeze_spanning_new_year_in_a_zone() {
        // Midnight in Auckland (UTC+13 in December) is 11:00Z the day before.
        let p = period(1, "0 0 24 12 *", "0 0 2 1 *", "Pacific/Auckland");
        assert_eq!(
            p.window_at(utc(2025, 1, 1, 0, 0, 0)),
            Some((utc(2024, 12, 23, 11, 0, 0), utc(2025, 1, 1, 11, 0, 0)))
        );
        assert_eq!(p.is_active(utc(2025, 1, 1, 11, 0, 1)), Ok(false));
    }

    #[test]
    fn freeze_start_equal_to_end_is_perpetual() {
        let p = period(1, "0 9 * * *", "0 9 * * *", "UTC");
        let nine = utc(2024, 5, 6, 9, 0, 0);
        let next_nine = utc(2024, 5, 7, 9, 0, 0);
        assert_eq!(p.window_at(nine), Some((nine, next_nine)));
        assert_eq!(
            p.window_at(utc(2024, 5, 6, 20, 0, 0)),
            Some((nine, next_nine))
        );
        assert_eq!(
            p.window_at(nine - TimeDelta::seconds(1)),
            Some((utc(2024, 5, 5, 9, 0, 0), nine))
        );
        for hour in 0..24 {
            assert_eq!(p.is_active(utc(2024, 5, 6, hour, 17, 0)), Ok(true));
        }
    }

    #[test]
    fn freeze_end_coinciding_with_start_does_not_close_the_window() {
        // Monday 00:00 start, daily 00:00 end: the Monday midnight end is the start's own instant,
        // so the window runs to Tuesday 00:00.
        let p = period(1, "0 0 * * MON", "0 0 * * *", "UTC");
        let (start, end) = (utc(2024, 5, 6, 0, 0, 0), utc(2024, 5, 7, 0, 0, 0));
        assert_eq!(p.window_at(start), Some((start, end)));
        assert_eq!(p.window_at(utc(2024, 5, 6, 18, 0, 0)), Some((start, end)));
        assert_eq!(p.is_active(utc(2024, 5, 7, 0, 0, 1)), Ok(false));
    }

    #[test]
    fn freeze_overlapping_itself_counts_from_latest_start() {
        // GitLab issue 370472: every minute of August starts, every minute of October ends.
        let p = period(1, "* * * 8 *", "* * * 10 *", "UTC");
        assert_eq!(
            p.window_at(utc(2020, 8, 11, 0, 0, 0)),
            Some((utc(2020, 8, 11, 0, 0, 0), utc(2020, 10, 1, 0, 0, 0)))
        );
        assert_eq!(p.is_active(utc(2020, 9, 15, 12, 0, 0)), Ok(true));
        assert_eq!(p.is_active(utc(2020, 10, 11, 0, 0, 0)), Ok(false));
    }

    #[test]
    fn freeze_day_of_month_or_day_of_week() {
        // POSIX: both restricted means either. 2024-06-13 is a Thursday, 2024-06-14 a Friday.
        let either = period(1, "0 12 13 * 5", "0 13 * * *", "UTC");
        assert_eq!(either.is_active(utc(2024, 6, 12, 12, 30, 0)), Ok(false));
        assert_eq!(either.is_active(utc(2024, 6, 13, 12, 30, 0)), Ok(true));
        assert_eq!(either.is_active(utc(2024, 6, 14, 12, 30, 0)), Ok(true));
        // Day-of-month `*` leaves the weekday alone in charge.
        let fridays = period(2, "0 12 * * 5", "0 13 * * *", "UTC");
        assert_eq!(fridays.is_active(utc(2024, 6, 13, 12, 30, 0)), Ok(false));
        assert_eq!(fridays.is_active(utc(2024, 6, 14, 12, 30, 0)), Ok(true));
        // Day-of-week `*` leaves the day of month alone in charge.
        let thirteenth = period(3, "0 12 13 * *", "0 13 * * *", "UTC");
        assert_eq!(thirteenth.is_active(utc(2024, 6, 13, 12, 30, 0)), Ok(true));
        assert_eq!(thirteenth.is_active(utc(2024, 6, 14, 12, 30, 0)), Ok(false));
    }

    #[test]
    fn freeze_leap_day_start_is_found_years_back() {
        let p = period(1, "0 0 29 2 *", "0 0 1 3 *", "UTC");
        assert_eq!(
            p.window_at(utc(2028, 2, 29, 12, 0, 0)),
            Some((utc(2028, 2, 29, 0, 0, 0), utc(2028, 3, 1, 0, 0, 0)))
        );
        assert_eq!(p.is_active(utc(2027, 2, 28, 12, 0, 0)), Ok(false));
        // Across the 2100 non-leap year: the latest start before mid-2101 is 29 February 2096.
        let p = period(2, "0 0 29 2 *", "0 0 1 1 *", "UTC");
        assert_eq!(
            p.validated()
                .and_then(|v| v.window_at(utc(2096, 12, 31, 0, 0, 0))),
            Ok(Some((utc(2096, 2, 29, 0, 0, 0), utc(2097, 1, 1, 0, 0, 0))))
        );
        assert_eq!(p.is_active(utc(2101, 6, 1, 0, 0, 0)), Ok(false));
        let p = period(3, "0 0 29 2 *", "0 0 29 2 *", "UTC");
        assert_eq!(
            p.window_at(utc(2101, 6, 1, 0, 0, 0)),
            Some((utc(2096, 2, 29, 0, 0, 0), utc(2104, 2, 29, 0, 0, 0)))
        );
    }

    #[test]
    fn freeze_out_of_range_instant() {
        let p = weekend("UTC");
        for far in [
            utc(9000, 1, 1, 0, 0, 0),
            utc(MAX_YEAR + 1, 1, 1, 0, 0, 0),
            utc(MIN_YEAR, 1, 1, 0, 0, 0) - TimeDelta::seconds(1),
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        ] {
            assert_eq!(p.is_active(far), Err(FreezeError::OutOfRange { at: far }));
            assert_eq!(p.window_at(far), None);
        }
        // The edges of the range still evaluate.
        assert!(p.is_active(utc(MIN_YEAR, 1, 1, 0, 0, 0)).is_ok());
        assert!(p.is_active(utc(MAX_YEAR, 12, 31, 23, 59, 59)).is_ok());
        let always = period(2, "0 0 29 2 *", "0 0 29 2 *", "Pacific/Kiritimati");
        assert_eq!(always.is_active(utc(MIN_YEAR, 1, 1, 0, 0, 0)), Ok(true));
        assert_eq!(
            always.is_active(utc(MAX_YEAR, 12, 31, 23, 59, 59)),
            Ok(true)
        );
    }

    #[test]
    fn freeze_invalid_stored_period() {
        let p = FreezePeriod {
            id: 9,
            freeze_start: "0 0 0 * *".into(),
            freeze_end: "0 7 * * 1".into(),
            cron_timezone: "UTC".into(),
        };
        assert_eq!(
            p.is_active(utc(2020, 4, 11, 12, 0, 0)),
            Err(FreezeError::InvalidStart)
        );
        assert_eq!(p.window_at(utc(2020, 4, 11, 12, 0, 0)), None);
        let p = FreezePeriod {
            cron_timezone: "Nowhere/Land".into(),
            ..weekend("UTC")
        };
        assert_eq!(
            p.is_active(utc(2020, 4, 11, 12, 0, 0)),
            Err(FreezeError::InvalidTimezone)
        );
    }

    // --- cross-check against a minute-by-minute search -----------------------------------

    /// The window containing `at` found by brute force: walk back minute by minute to the latest
    /// instant whose wall clock in `zone` matches `start`, then forward to the first one after it
    /// matching `end`. `None` when either is further than `horizon` minutes away.
    fn brute_window(
        start: &Cron,
        end: &Cron,
        zone: Tz,
        at: DateTime<Utc>,
        horizon: i64,
    ) -> Option<Option<Window>> {
        let matches = |cron: &Cron, t: DateTime<Utc>| {
            cron.is_time_matching(&t.with_timezone(&zone))
                .expect("matching")
        };
        let minute = TimeDelta::minutes(1);
        let floor = at.timestamp().div_euclid(60) * 60;
        let mut t = DateTime::<Utc>::from_timestamp(floor, 0).expect("in range");
        let mut found = None;
        for _ in 0..horizon {
            if matches(start, t) {
                found = Some(t);
                break;
            }
            t -= minute;
        }
        let s = found?;
        let mut u = s + minute;
        for _ in 0..horizon {
            if matches(end, u) {
                return Some((at <= u).then_some((s, u)));
            }
            u += minute;
        }
        None
    }

    // Minute fields are never a single value in a zone with DST, so every schedule there is an
    // "interval" one and fires on every matching wall clock instant, which is what the brute
    // force models. Day fields keep every schedule firing at least monthly.
    const MINUTES_FIXED: [&str; 3] = ["0", "45", "30"];
    const MINUTES_INTERVAL: [&str; 4] = ["*/15", "0,30", "5-10", "*/7"];
    const HOURS: [&str; 7] = ["*", "0", "23", "1-3", "*/6", "9-17", "2"];
    const DAYS: [&str; 6] = ["*", "1", "15", "1,15", "28-31", "*/10"];
    const WEEKDAYS: [&str; 6] = ["*", "0", "5", "1-5", "SAT,SUN", "mon"];

    fn schedule(minute: &str, hour: usize, day: usize, weekday: usize) -> String {
        format!(
            "{minute} {} {} * {}",
            HOURS[hour], DAYS[day], WEEKDAYS[weekday]
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        #[test]
        fn freeze_window_matches_brute_force(
            zone_index in 0usize..3,
            start_fields in (0usize..7, 0usize..7, 0usize..6, 0usize..6),
            end_fields in (0usize..7, 0usize..7, 0usize..6, 0usize..6),
            // 2020-01-01 to 2030-01-01, any second.
            at_seconds in 1_577_836_800i64..1_893_456_000i64,
        ) {
            let zone = ["UTC", "Europe/Berlin", "America/New_York"][zone_index];
            let minute = |i: usize| {
                if zone == "UTC" && i < MINUTES_FIXED.len() {
                    MINUTES_FIXED[i]
                } else {
                    MINUTES_INTERVAL[i % MINUTES_INTERVAL.len()]
                }
            };
            let start = schedule(minute(start_fields.0), start_fields.1, start_fields.2, start_fields.3);
            let end = schedule(minute(end_fields.0), end_fields.1, end_fields.2, end_fields.3);
            let v = validate(&start, &end, Some(zone)).expect("valid");
            let at = DateTime::<Utc>::from_timestamp(at_seconds, 0).expect("in range");
            let expected = brute_window(&v.start, &v.end, v.zone, at, 40 * 24 * 60);
            proptest::prop_assert!(expected.is_some(), "brute force horizon too short");
            proptest::prop_assert_eq!(
                v.window_at(at), Ok(expected.flatten()),
                "{} -> {} in {} at {}", start, end, zone, at
            );
        }
    }

    // --- several periods ------------------------------------------------------------------

    #[test]
    fn freeze_status_overlapping_periods_cover_their_union() {
        let periods = [
            weekend("UTC"),
            // Friday 18:00 to Saturday 12:00, overlapping the weekend freeze.
            period(2, "0 18 * * 5", "0 12 * * 6", "UTC"),
            // Thursday only, not overlapping.
            period(3, "0 8 * * 4", "0 17 * * 4", "UTC"),
        ];
        // Tuesday: nothing.
        let s = status(&periods, utc(2020, 4, 14, 12, 0, 0));
        assert!(!s.frozen);
        assert!(s.active.is_empty() && s.invalid.is_empty());
        assert_eq!(s.covering(), None);
        // Friday 20:00: only the evening freeze.
        let s = status(&periods, utc(2020, 4, 10, 20, 0, 0));
        assert!(s.frozen);
        assert_eq!(s.active_ids(), vec![2]);
        // Saturday 10:00: both; together they cover Friday 18:00 to Monday 07:00.
        let at = utc(2020, 4, 11, 10, 0, 0);
        let s = status(&periods, at);
        assert!(s.frozen);
        assert_eq!(s.at, at);
        assert_eq!(
            s.active,
            vec![
                ActiveFreeze {
                    id: 1,
                    start: utc(2020, 4, 10, 23, 0, 0),
                    end: utc(2020, 4, 13, 7, 0, 0),
                },
                ActiveFreeze {
                    id: 2,
                    start: utc(2020, 4, 10, 18, 0, 0),
                    end: utc(2020, 4, 11, 12, 0, 0),
                },
            ]
        );
        assert_eq!(
            s.covering(),
            Some((utc(2020, 4, 10, 18, 0, 0), utc(2020, 4, 13, 7, 0, 0)))
        );
        // Sunday: the evening freeze is over, the weekend one still holds.
        let s = status(&periods, utc(2020, 4, 12, 10, 0, 0));
        assert_eq!(s.active_ids(), vec![1]);
        // Thursday 12:00: the third.
        let s = status(&periods, utc(2020, 4, 16, 12, 0, 0));
        assert_eq!(s.active_ids(), vec![3]);
    }

    #[test]
    fn freeze_status_reports_invalid_periods_without_freezing() {
        let broken = FreezePeriod {
            id: 5,
            freeze_start: "0 23 * * 5".into(),
            freeze_end: "whenever".into(),
            cron_timezone: "UTC".into(),
        };
        let s = status(std::slice::from_ref(&broken), utc(2020, 4, 11, 12, 0, 0));
        assert!(!s.frozen);
        assert_eq!(
            s.invalid,
            vec![InvalidFreeze {
                id: 5,
                error: FreezeError::InvalidEnd
            }]
        );
        let s = status(&[broken, weekend("UTC")], utc(2020, 4, 11, 12, 0, 0));
        assert!(s.frozen);
        assert_eq!(s.active_ids(), vec![1]);
        assert_eq!(s.invalid.len(), 1);
        assert!(!status(&[], utc(2020, 4, 11, 12, 0, 0)).frozen);
    }
}
