//! Tests of the input layer: datetimes, scalars, bodies.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::body::{nesting_depth, nul_locations};
use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn datetimes_accept_the_spec_forms() {
    assert_eq!(
        parse_datetime("2026-02-15"),
        Some(utc("2026-02-15T00:00:00Z"))
    );
    assert_eq!(
        parse_datetime("2026-02-15T09:30"),
        Some(utc("2026-02-15T09:30:00Z"))
    );
    assert_eq!(
        parse_datetime("2026-02-15 09:30:15"),
        Some(utc("2026-02-15T09:30:15Z"))
    );
    assert_eq!(
        parse_datetime("2026-02-15T09:30:15.1234567Z"),
        Some(utc("2026-02-15T09:30:15.123456Z"))
    );
    assert_eq!(
        parse_datetime("2026-02-15T09:30:00+05:30"),
        Some(utc("2026-02-15T04:00:00Z"))
    );
    assert_eq!(
        parse_datetime("2026-02-15T09:30:00+0530"),
        Some(utc("2026-02-15T04:00:00Z"))
    );
    assert_eq!(
        parse_datetime("2026-02-15T09:30:00-03"),
        Some(utc("2026-02-15T12:30:00Z"))
    );
    assert_eq!(
        parse_datetime("2026-02-15T09:30:00z"),
        Some(utc("2026-02-15T09:30:00Z"))
    );
}

#[test]
fn malformed_datetimes_are_refused() {
    for bad in [
        "",
        "yesterday",
        "2026-13-01",
        "2026-02-15T25:00",
        "2026-02-15T09",
        "2026-02-15X09:30",
        "2026-02-15T09:30:00+5",
        "2026-02-15T09:30:00.Z",
        "2026-02-30",
    ] {
        assert_eq!(parse_datetime(bad), None, "{bad}");
    }
}

#[test]
fn datetimes_outside_years_0001_to_9999_in_utc_are_refused() {
    for (text, accepted) in [
        ("0001-01-01", true),
        ("0001-01-01T00:00:00Z", true),
        ("9999-12-31T23:59:59.999999Z", true),
        ("9999-12-31T18:00:00-05:00", true),
        ("0000-12-31", false),
        ("0001-01-01T00:30:00+01:00", false),
        ("9999-12-31T23:30:00-01:00", false),
        ("0000-01-01T00:00:00Z", false),
    ] {
        assert_eq!(parse_datetime(text).is_some(), accepted, "{text}");
    }
}

/// Deterministic pseudo-random datetime-like strings and Unix-second numbers: parsing never
/// panics, and whatever it accepts is in range and writes back with a four-digit year.
#[test]
fn the_datetime_parser_accepts_only_what_it_can_write_back() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const PIECES: [&str; 16] = [
        "0000", "0001", "9999", "2026", "-", "12", "31", "00", "T", " ", ":", "59", ".", "999999",
        "+14:00", "Z",
    ];
    for _ in 0..20_000 {
        let text: String = (0..(next() % 12))
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        if let Some(instant) = parse_datetime(&text) {
            assert!(in_supported_range(instant), "{text} → {instant}");
            let written = instant.format("%Y-%m-%dT%H:%M:%S").to_string();
            assert_eq!(written.find('-'), Some(4), "{text} → {written}");
        }
    }
    let mut reader_input = serde_json::Map::new();
    for seconds in [
        -1.0e12,
        -6.3e10,
        -62_135_596_800.0,
        0.0,
        253_402_300_799.0,
        253_402_300_800.0,
        9.9e11,
    ] {
        reader_input.insert("at".to_owned(), serde_json::json!(seconds));
        let mut reading = Reading::body();
        let parsed = <DateTime<Utc> as FromJson>::from_json(&reader_input["at"], &mut reading);
        let in_range = (-62_135_596_800.0..=253_402_300_799.0).contains(&seconds);
        assert_eq!(parsed.is_some(), in_range, "{seconds}");
    }
}

#[test]
fn query_scalars_are_read_leniently_and_refuse_non_finite_numbers() {
    assert_eq!(parse_bool("Yes"), Some(true));
    assert_eq!(parse_bool("off"), Some(false));
    assert_eq!(parse_bool("maybe"), None);
    assert_eq!(parse_int("100.0"), Some(100));
    assert_eq!(parse_int("-3"), Some(-3));
    assert_eq!(parse_int("1.5"), None);
    assert_eq!(parse_int("1e3"), None);
    assert_eq!(parse_int("12."), None);
    assert_eq!(parse_number("22.5726"), Some(22.5726));
    assert_eq!(parse_number("1e-7"), Some(1e-7));
    assert_eq!(parse_number("NaN"), None);
    assert_eq!(parse_number("inf"), None);
    assert_eq!(
        parse_time("09:00").map(|t| t.to_string()),
        Some("09:00:00".to_owned())
    );
    assert_eq!(
        parse_time("23:59:59.999").map(|t| t.to_string()),
        Some("23:59:59".to_owned())
    );
    assert_eq!(parse_time("24:00"), None);
}

#[test]
fn percent_decoding_handles_plus_and_bad_escapes() {
    assert_eq!(percent_decode("a+b%20c"), "a b c");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz"), "%zz");
}

#[test]
fn nul_characters_are_located_in_nested_bodies() {
    let mut found = Vec::new();
    nul_locations(
        &json!({"a": [1, {"b": "x\u{0}"}], "c": "\u{0}"}),
        &mut Vec::new(),
        &mut found,
    );
    assert_eq!(
        found,
        vec![vec![json!("a"), json!(1), json!("b")], vec![json!("c")]]
    );
    let mut none = Vec::new();
    nul_locations(&json!({"a": "fine"}), &mut Vec::new(), &mut none);
    assert!(none.is_empty());
}

#[test]
fn nesting_depth_counts_enclosing_arrays_and_objects() {
    assert_eq!(nesting_depth(&json!(1)), 0);
    assert_eq!(nesting_depth(&json!({})), 1);
    assert_eq!(nesting_depth(&json!([])), 1);
    assert_eq!(nesting_depth(&json!({"a": [1, {"b": []}], "c": 2})), 4);
    let mut deep = json!("leaf");
    for level in 0..MAX_BODY_DEPTH {
        deep = if level % 2 == 0 {
            json!([deep])
        } else {
            json!({"k": deep})
        };
    }
    assert_eq!(nesting_depth(&deep), MAX_BODY_DEPTH);
}

#[test]
fn enum_messages_list_the_allowed_values() {
    assert_eq!(
        enum_message(&["a", "b", "c"]),
        "Input should be 'a', 'b' or 'c'"
    );
    assert_eq!(enum_message(&["a"]), "Input should be 'a'");
}
