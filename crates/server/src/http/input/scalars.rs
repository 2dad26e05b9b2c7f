//! The scalar parsers shared by bodies, query strings and paths: percent-decoding, booleans,
//! integers, numbers, datetimes and times of day, and the message listing an enum's values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Decodes `%XX` escapes and `+` (as space).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Booleans as query parameters: `true`/`1`/`yes`/`on`/`t`/`y` and
/// `false`/`0`/`no`/`off`/`f`/`n`, case-insensitive.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Integers in query strings and paths: optional sign, ASCII digits, optionally a fraction of
/// zeros.
pub fn parse_int(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.chars().all(|c| c == '0') || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let digits = whole.strip_prefix(['+', '-']).unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.parse::<i64>().ok()
}

/// Numbers as query parameters: decimal or exponent notation; no NaN or infinities.
pub fn parse_number(text: &str) -> Option<f64> {
    let valid_chars = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !valid_chars || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Whether `instant` is within the accepted range: years 0001 to 9999 in UTC. Every datetime
/// the API reads passes this one rule, so each one it stores can be written back in the
/// four-digit-year form of the output rule (and PostgreSQL, which reaches back only to
/// 4713 BC, is never asked to store more).
pub fn in_supported_range(instant: DateTime<Utc>) -> bool {
    (1..=9999).contains(&chrono::Datelike::year(&instant))
}

/// Datetimes as input: `YYYY-MM-DD`, then `T` or space, `HH:MM[:SS[.f…]]`, optional offset
/// (`Z`, `±HH:MM`, `±HHMM`, `±HH`); no offset means UTC; a date alone is midnight UTC. An
/// instant outside [`in_supported_range`] is refused like a malformed one.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    parse_datetime_unbounded(text).filter(|instant| in_supported_range(*instant))
}

fn parse_datetime_unbounded(text: &str) -> Option<DateTime<Utc>> {
    if text.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
    }
    if text.len() < 16 {
        return None;
    }
    let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = &text[11..];
    let offset_start = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, offset) = rest.split_at(offset_start);
    let time = parse_clock(clock)?;
    let offset_seconds = parse_offset(offset)?;
    let local = NaiveDateTime::new(date, time);
    let utc = local.checked_sub_signed(chrono::Duration::seconds(i64::from(offset_seconds)))?;
    Some(Utc.from_utc_datetime(&utc))
}

fn parse_clock(clock: &str) -> Option<NaiveTime> {
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if clock.contains('.')
        && (parts.len() != 3
            || fraction.is_empty()
            || !fraction.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let hour: u32 = parts[0].parse().ok()?;
    let minute: u32 = parts[1].parse().ok()?;
    let second: u32 = parts.get(2).map_or(Some(0), |s| s.parse().ok())?;
    // Truncate to microseconds.
    let micros: u32 = if fraction.is_empty() {
        0
    } else {
        let mut digits: String = fraction.chars().take(6).collect();
        while digits.len() < 6 {
            digits.push('0');
        }
        digits.parse().ok()?
    };
    NaiveTime::from_hms_micro_opt(hour, minute, second, micros)
}

fn parse_offset(offset: &str) -> Option<i32> {
    if offset.is_empty() || offset == "Z" || offset == "z" {
        return Some(0);
    }
    let sign = match offset.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    let valid_shape =
        matches!(offset.len(), 3 | 5 | 6) && (offset.len() != 6 || offset.as_bytes()[3] == b':');
    if !valid_shape || !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4)
    {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Times of day as input: `HH:MM`, `HH:MM:SS` or `HH:MM:SS.ffffff`; the fraction is dropped.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    let time = parse_clock(text)?;
    NaiveTime::from_hms_opt(
        chrono::Timelike::hour(&time),
        chrono::Timelike::minute(&time),
        chrono::Timelike::second(&time),
    )
}

/// `Input should be 'a', 'b' or 'c'`.
pub fn enum_message(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|v| format!("'{v}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("Input should be {} or {last}", rest.join(", "))
        }
        Some((last, _)) => format!("Input should be {last}"),
        None => "Input should be a known value".to_owned(),
    }
}
