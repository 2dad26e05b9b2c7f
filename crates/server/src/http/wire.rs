//! Wire formats of §2.4: datetimes as RFC 3339 UTC with `Z` (six fraction digits only when the
//! sub-second part is non-zero), and paging envelopes.

use chrono::{DateTime, NaiveTime, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// `2030-01-01T04:30:00Z` or `2026-11-25T04:25:41.421354Z`.
pub fn format_datetime(value: &DateTime<Utc>) -> String {
    if value.nanosecond() / 1000 == 0 {
        value.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        value.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
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
