//! Wire formats: datetimes as RFC 3339 UTC with `Z` (six fraction digits only when the
//! sub-second part is non-zero), and paging envelopes.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// `2030-01-01T04:30:00Z` or `2026-11-25T04:25:41.421354Z`.
///
/// The form has a four-digit year, so an instant outside years 0001-9999 (which the API never
/// accepts and the schema refuses, but which a row stored before those checks may hold) is
/// written as the nearest end of that range rather than in a form clients cannot parse; each
/// such write is logged without the value or the record.
pub fn format_datetime(value: &DateTime<Utc>) -> String {
    let value = &clamp_to_supported_range(*value);
    if value.nanosecond() / 1000 == 0 {
        value.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        value.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

/// `value`, or the first or last representable microsecond when its year is outside 0001-9999.
fn clamp_to_supported_range(value: DateTime<Utc>) -> DateTime<Utc> {
    if super::input::in_supported_range(value) {
        return value;
    }
    tracing::warn!(
        "a stored datetime outside years 0001-9999 was written as the nearest end of that range"
    );
    let bound = if value.year() < 1 {
        NaiveDate::from_ymd_opt(1, 1, 1).and_then(|d| d.and_hms_micro_opt(0, 0, 0, 0))
    } else {
        NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
    };
    bound.map_or(value, |naive| naive.and_utc())
}

/// `serialize_with` for `DateTime<Utc>`.
pub fn datetime<S: Serializer>(value: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_datetime(value))
}

/// `serialize_with` for `Option<DateTime<Utc>>` (`null` when absent).
pub fn optional_datetime<S: Serializer>(
    value: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.serialize_str(&format_datetime(value)),
        None => serializer.serialize_none(),
    }
}

/// `serialize_with` for a wall-clock time: `HH:MM:SS`.
pub fn time<S: Serializer>(value: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
    // A leap second (nanoseconds ≥ 1e9) reads as second 60, as chrono's `%S` prints it.
    let second = value.second() + u32::from(value.nanosecond() >= 1_000_000_000);
    // Written digit by digit: `format_args!` costs more than the rest of a list item.
    let mut text = *b"00:00:00";
    for (at, part) in [(0, value.hour()), (3, value.minute()), (6, second)] {
        // Each part is below 61, so both digits are ASCII.
        text[at] = b'0' + (part / 10 % 10) as u8;
        text[at + 1] = b'0' + (part % 10) as u8;
    }
    serializer.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
}

/// `ceil(total / page_size)`, 0 without rows.
pub fn total_pages(total: u64, page_size: u32) -> u64 {
    total.div_ceil(u64::from(page_size.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn whole_seconds_have_no_fraction_and_others_have_six_digits() {
        let whole = Utc.with_ymd_and_hms(2030, 1, 1, 4, 30, 0).unwrap();
        assert_eq!(format_datetime(&whole), "2030-01-01T04:30:00Z");
        let fraction = whole + chrono::Duration::microseconds(421_354);
        assert_eq!(format_datetime(&fraction), "2030-01-01T04:30:00.421354Z");
        let nanos_only = whole + chrono::Duration::nanoseconds(999);
        assert_eq!(format_datetime(&nanos_only), "2030-01-01T04:30:00Z");
    }

    #[test]
    fn instants_outside_years_0001_to_9999_are_written_as_the_nearest_end() {
        let cases = [
            (
                Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
                "9999-12-31T23:59:59.999999Z",
            ),
            (
                Utc.with_ymd_and_hms(262_000, 6, 1, 0, 0, 0).unwrap(),
                "9999-12-31T23:59:59.999999Z",
            ),
            (
                Utc.with_ymd_and_hms(0, 12, 31, 23, 59, 59).unwrap(),
                "0001-01-01T00:00:00Z",
            ),
            (
                Utc.with_ymd_and_hms(-4713, 1, 1, 0, 0, 0).unwrap(),
                "0001-01-01T00:00:00Z",
            ),
            (
                Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
                "9999-12-31T23:59:59Z",
            ),
            (
                Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
                "0001-01-01T00:00:00Z",
            ),
        ];
        for (instant, expected) in cases {
            assert_eq!(format_datetime(&instant), expected, "{instant:?}");
        }
        // Every output has the fixed shape whatever the year.
        for year in (-5000..=300_000).step_by(997) {
            if let Some(instant) = Utc.with_ymd_and_hms(year, 7, 15, 12, 0, 0).single() {
                let text = format_datetime(&instant);
                assert!(text.len() == 20 || text.len() == 27, "{text}");
                assert!(text.ends_with('Z') && text.as_bytes()[4] == b'-', "{text}");
                assert!(
                    text.as_bytes()[..4].iter().all(u8::is_ascii_digit),
                    "{text}"
                );
            }
        }
    }

    #[derive(serde::Serialize)]
    struct Time(#[serde(serialize_with = "time")] NaiveTime);

    #[test]
    fn times_are_written_as_chrono_formats_them() {
        let mut samples = Vec::new();
        for seconds in (0..86_400).step_by(599) {
            samples.push(NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0).unwrap());
            samples
                .push(NaiveTime::from_num_seconds_from_midnight_opt(seconds, 999_999_999).unwrap());
        }
        samples.push(NaiveTime::from_hms_opt(23, 59, 59).unwrap());
        samples.push(NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap());
        for sample in samples {
            let expected = format!("\"{}\"", sample.format("%H:%M:%S"));
            assert_eq!(serde_json::to_string(&Time(sample)).unwrap(), expected);
        }
    }
}
