//! The "open now" rule as a pure function. The PostgreSQL adapter evaluates the same rule
//! in SQL (so paging of `open_now=true` stays exact); a server integration test checks that both
//! agree on a grid of instants.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::model::{DayOfWeek, Hours};

/// Whether a pharmacy with `hours` is open at the local date-time `local` (in its zone).
///
/// With `d` the weekday of `local`, `t` its time of day and `p` the day before `d`, the
/// pharmacy is open when some row with `is_closed = false` has either
/// * `day_of_week = d` and (`open < close` and `open ≤ t < close`, or `open = close` (all
///   day), or `close < open` and `t ≥ open`), or
/// * `day_of_week = p`, `close < open` and `t < close` (yesterday's hours running past
///   midnight).
///
/// Days without a row are closed.
pub fn is_open_at(hours: &[Hours], local: NaiveDateTime) -> bool {
    let day = DayOfWeek::from_weekday(local.weekday());
    let previous = day.previous();
    let t = local.time();
    hours.iter().filter(|h| !h.is_closed).any(|h| {
        let (open, close) = (h.open_time, h.close_time);
        let today = h.day_of_week == day
            && ((open < close && open <= t && t < close)
                || open == close
                || (close < open && t >= open));
        let from_yesterday = h.day_of_week == previous && close < open && t < close;
        today || from_yesterday
    })
}

/// Whether a pharmacy with `hours` in `timezone` is open at the instant `now`.
pub fn is_open_now(hours: &[Hours], timezone: Tz, now: DateTime<Utc>) -> bool {
    is_open_at(hours, now.with_timezone(&timezone).naive_local())
}

/// The pharmacy's zone, when its stored name is a known IANA zone.
pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, TimeZone};
    use medico24_kernel::PharmacyId;

    use super::*;

    fn hm(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn row(day: i64, open: &str, close: &str, is_closed: bool) -> Hours {
        Hours {
            id: uuid::Uuid::nil(),
            pharmacy_id: PharmacyId::from_uuid(uuid::Uuid::nil()),
            day_of_week: DayOfWeek::new(day).unwrap(),
            open_time: hm(open),
            close_time: hm(close),
            is_closed,
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// 2026-03-02 is a Monday.
    fn local(day_of_month: u32, h: u32, m: u32, s: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 3, day_of_month)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    #[test]
    fn a_daytime_row_is_open_from_open_time_inclusive_to_close_time_exclusive() {
        let hours = [row(1, "09:00", "21:00", false)];
        assert!(!is_open_at(&hours, local(2, 8, 59, 59)));
        assert!(is_open_at(&hours, local(2, 9, 0, 0)));
        assert!(is_open_at(&hours, local(2, 20, 59, 59)));
        assert!(!is_open_at(&hours, local(2, 21, 0, 0)));
        assert!(
            !is_open_at(&hours, local(3, 10, 0, 0)),
            "Tuesday has no row"
        );
    }

    #[test]
    fn hours_past_midnight_continue_into_the_next_morning() {
        // Monday 20:00 → Tuesday 02:00; nothing on Tuesday itself.
        let hours = [row(1, "20:00", "02:00", false)];
        assert!(!is_open_at(&hours, local(2, 19, 59, 59)));
        assert!(is_open_at(&hours, local(2, 20, 0, 0)));
        assert!(is_open_at(&hours, local(2, 23, 59, 59)));
        assert!(is_open_at(&hours, local(3, 0, 0, 0)), "Tuesday 00:00");
        assert!(is_open_at(&hours, local(3, 1, 59, 59)));
        assert!(!is_open_at(&hours, local(3, 2, 0, 0)));
        assert!(
            !is_open_at(&hours, local(2, 1, 0, 0)),
            "Monday morning: Sunday has no row"
        );
    }

    #[test]
    fn sunday_night_hours_continue_into_monday() {
        let hours = [row(7, "22:00", "06:00", false)];
        assert!(is_open_at(&hours, local(1, 23, 0, 0)), "Sunday 23:00");
        assert!(is_open_at(&hours, local(2, 5, 59, 59)), "Monday 05:59:59");
        assert!(!is_open_at(&hours, local(2, 6, 0, 0)));
    }

    #[test]
    fn open_equal_to_close_means_all_day_unless_closed() {
        let hours = [
            row(1, "00:00", "00:00", false),
            row(2, "08:00", "08:00", true),
        ];
        assert!(is_open_at(&hours, local(2, 0, 0, 0)));
        assert!(is_open_at(&hours, local(2, 23, 59, 59)));
        assert!(!is_open_at(&hours, local(3, 12, 0, 0)), "closed day");
        assert!(
            !is_open_at(&hours, local(3, 0, 30, 0)),
            "an all-day row does not spill into the next day"
        );
    }

    #[test]
    fn a_closed_row_never_opens_even_past_midnight() {
        let hours = [row(1, "20:00", "02:00", true)];
        assert!(!is_open_at(&hours, local(2, 21, 0, 0)));
        assert!(!is_open_at(&hours, local(3, 1, 0, 0)));
    }

    #[test]
    fn missing_days_and_no_rows_are_closed() {
        assert!(!is_open_at(&[], local(2, 12, 0, 0)));
        let weekdays: Vec<Hours> = (1..=5).map(|d| row(d, "09:00", "17:00", false)).collect();
        assert!(is_open_at(&weekdays, local(6, 12, 0, 0)), "Friday");
        assert!(!is_open_at(&weekdays, local(7, 12, 0, 0)), "Saturday");
        assert!(!is_open_at(&weekdays, local(8, 12, 0, 0)), "Sunday");
    }

    #[test]
    fn the_rule_is_evaluated_in_kolkata_time() {
        // Monday 09:00–21:00 in Asia/Kolkata (UTC+05:30).
        let hours = [row(1, "09:00", "21:00", false)];
        let kolkata = Tz::Asia__Kolkata;
        assert!(!is_open_now(&hours, kolkata, utc("2026-03-02T03:29:59Z")));
        assert!(is_open_now(&hours, kolkata, utc("2026-03-02T03:30:00Z")));
        assert!(is_open_now(&hours, kolkata, utc("2026-03-02T15:29:59Z")));
        assert!(!is_open_now(&hours, kolkata, utc("2026-03-02T15:30:00Z")));
        // Sunday 23:00 UTC is already Monday 04:30 in Kolkata.
        let early = [row(1, "04:00", "05:00", false)];
        assert!(is_open_now(&early, kolkata, utc("2026-03-01T23:00:00Z")));
        assert!(!is_open_now(&early, Tz::UTC, utc("2026-03-01T23:00:00Z")));
    }

    #[test]
    fn the_rule_follows_new_york_across_the_dst_change() {
        // DST starts Sunday 2026-03-08 at 02:00 EST (07:00 UTC): clocks jump to 03:00 EDT.
        let ny = Tz::America__New_York;
        let sunday = [row(7, "03:00", "04:00", false)];
        // 07:30 UTC is 03:30 EDT after the change (it would be 02:30 EST without DST).
        assert!(is_open_now(&sunday, ny, utc("2026-03-08T07:30:00Z")));
        assert!(
            !is_open_now(&sunday, ny, utc("2026-03-08T06:59:59Z")),
            "01:59:59 EST"
        );
        assert!(
            is_open_now(&sunday, ny, utc("2026-03-08T07:00:00Z")),
            "03:00:00 EDT"
        );
        assert!(
            !is_open_now(&sunday, ny, utc("2026-03-08T08:00:00Z")),
            "04:00 EDT"
        );
        // A week earlier (EST, UTC−5) the same instant-of-day is 02:30 local: closed.
        assert!(!is_open_now(&sunday, ny, utc("2026-03-01T07:30:00Z")));
        assert!(
            is_open_now(&sunday, ny, utc("2026-03-01T08:30:00Z")),
            "03:30 EST"
        );
        // Saturday night hours running past midnight into the short Sunday.
        let saturday_night = [row(6, "22:00", "03:30", false)];
        assert!(
            is_open_now(&saturday_night, ny, utc("2026-03-08T06:59:59Z")),
            "01:59:59 EST"
        );
        assert!(
            is_open_now(&saturday_night, ny, utc("2026-03-08T07:15:00Z")),
            "03:15 EDT"
        );
        assert!(
            !is_open_now(&saturday_night, ny, utc("2026-03-08T07:30:00Z")),
            "03:30 EDT"
        );
    }

    #[test]
    fn the_same_instant_is_open_in_one_zone_and_closed_in_another() {
        let hours = [row(1, "09:00", "17:00", false)];
        let instant = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        // 15:30 in Kolkata (open), 05:00 in New York (closed).
        assert!(is_open_now(&hours, Tz::Asia__Kolkata, instant));
        assert!(!is_open_now(&hours, Tz::America__New_York, instant));
    }

    #[test]
    fn zone_names_parse_only_when_known() {
        assert_eq!(parse_timezone("Asia/Kolkata"), Some(Tz::Asia__Kolkata));
        assert_eq!(parse_timezone("Mars/Olympus"), None);
    }
}
