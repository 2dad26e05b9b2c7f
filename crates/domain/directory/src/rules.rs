//! Pure rules of the care directory: clinic slugs, decimal money (fees) and coordinates, and
//! the wire form of datetimes used when directory values are cached as JSON.

/// The pattern a supplied slug must match, as reported in 422 messages.
pub const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";
/// Longest slug (characters).
pub const SLUG_MAX_CHARS: usize = 255;
/// A generated slug's base is cut to this many characters, leaving room for a `-N` suffix.
pub const GENERATED_SLUG_MAX_CHARS: usize = 240;
/// Base used when a name yields no letters or digits.
pub const FALLBACK_SLUG: &str = "clinic";
/// How many times a create is attempted when a generated slug loses a race to another insert.
pub const SLUG_ATTEMPTS: usize = 5;

/// Largest fee `numeric(10,2)` holds.
pub const FEE_MAX: f64 = 99_999_999.99;
/// Decimal places of a fee.
pub const FEE_DECIMALS: usize = 2;
/// Decimal places coordinates are stored with.
pub const COORDINATE_DECIMALS: i32 = 8;

/// Whether `slug` obeys the slug rules: 1–255 characters matching [`SLUG_PATTERN`].
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX_CHARS
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The slug generated from a clinic `name`: lowercase; every run of characters other than
/// ASCII letters and digits becomes one `-`; no leading or trailing `-`; at most 240 characters;
/// `clinic` when nothing is left.
pub fn slug_from_name(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    let mut pending_dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    // Only ASCII remains, so byte and character counts agree.
    slug.truncate(GENERATED_SLUG_MAX_CHARS);
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        FALLBACK_SLUG.to_owned()
    } else {
        slug
    }
}

/// `base` for `n ≤ 1`, otherwise `base-n`.
pub fn slug_with_suffix(base: &str, n: u64) -> String {
    if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}-{n}")
    }
}

/// Whether `slug` is `base` or `base-N` for a decimal `N` (the slugs that compete with `base`).
pub fn is_suffixed_form_of(slug: &str, base: &str) -> bool {
    match slug.strip_prefix(base) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// The first of `base`, `base-2`, `base-3`, … that is not in `taken`.
pub fn first_free_slug<S: AsRef<str>>(base: &str, taken: &[S]) -> String {
    let is_taken = |candidate: &str| taken.iter().any(|t| t.as_ref() == candidate);
    if !is_taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| slug_with_suffix(base, n))
        .find(|candidate| !is_taken(candidate))
        .unwrap_or_else(|| base.to_owned())
}

/// Why a decimal amount is refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum DecimalError {
    /// Below the minimum.
    #[error("Input should be greater than or equal to {0}")]
    BelowMinimum(f64),
    /// Above the maximum.
    #[error("Input should be less than or equal to {0}")]
    AboveMaximum(f64),
    /// More decimal places than allowed.
    #[error("Decimal input should have no more than {0} decimal places")]
    TooManyDecimals(usize),
}

/// Decimal places of `value` as written in its shortest round-tripping form (the form a JSON
/// client normally sends): `12.5` → 1, `12.345` → 3, `1e-7` → 7, `100.0` → 0.
pub fn decimal_places(value: f64) -> usize {
    // Rust prints the shortest representation that parses back to the same f64, never in
    // exponent form.
    let text = value.abs().to_string();
    match text.split_once('.') {
        Some((_, fraction)) => fraction.trim_end_matches('0').len(),
        None => 0,
    }
}

/// The fee rule: `0 ≤ fee ≤ 99 999 999.99`, at most two decimal places.
///
/// # Errors
/// The first rule broken.
pub fn check_fee(fee: f64) -> Result<f64, DecimalError> {
    if fee < 0.0 {
        return Err(DecimalError::BelowMinimum(0.0));
    }
    if fee > FEE_MAX {
        return Err(DecimalError::AboveMaximum(FEE_MAX));
    }
    if decimal_places(fee) > FEE_DECIMALS {
        return Err(DecimalError::TooManyDecimals(FEE_DECIMALS));
    }
    Ok(fee)
}

/// `value` rounded half away from zero to `places` decimals, as `numeric` rounding does.
pub fn round_to(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

/// A coordinate as stored (8 decimals).
pub fn round_coordinate(value: f64) -> f64 {
    round_to(value, COORDINATE_DECIMALS)
}

/// `serde(with)` for `DateTime<Utc>` in the API's wire form (RFC 3339 in UTC with a `Z`, whole
/// seconds or microseconds), so directory values cached as JSON are exactly their API
/// representations.
pub mod wire_datetime {
    use chrono::{DateTime, SecondsFormat, Timelike, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// `2030-01-01T04:30:00Z` or `2026-11-25T04:25:41.421354Z`.
    pub fn format(value: &DateTime<Utc>) -> String {
        if value.nanosecond() / 1000 == 0 {
            value.to_rfc3339_opts(SecondsFormat::Secs, true)
        } else {
            value.to_rfc3339_opts(SecondsFormat::Micros, true)
        }
    }

    /// Serializes in the wire form.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(value: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(value))
    }

    /// Parses RFC 3339.
    ///
    /// # Errors
    /// When the text is not RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|dt| dt.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option<DateTime<Utc>>` (`null` when absent).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes in the wire form, or `null`.
        ///
        /// # Errors
        /// The serializer's.
        pub fn serialize<S: Serializer>(
            value: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => s.serialize_str(&super::format(value)),
                None => s.serialize_none(),
            }
        }

        /// Parses RFC 3339 or `null`.
        ///
        /// # Errors
        /// When the text is not RFC 3339.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|dt| dt.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_pattern() {
        for good in [
            "a",
            "clinic",
            "sunrise-clinic-2",
            "a1-b2-c3",
            &"x".repeat(255),
        ] {
            assert!(is_valid_slug(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "A",
            "a_b",
            "a b",
            "é",
            &"x".repeat(256),
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn generated_slugs_are_url_safe_lowercase_and_never_empty() {
        assert_eq!(
            slug_from_name("Sunrise Multispeciality Clinic Andheri"),
            "sunrise-multispeciality-clinic-andheri"
        );
        assert_eq!(
            slug_from_name("  Dr. Rao's  Clinic (Bandra) "),
            "dr-rao-s-clinic-bandra"
        );
        assert_eq!(slug_from_name("Café Santé 24/7"), "caf-sant-24-7");
        assert_eq!(slug_from_name("!!!"), "clinic");
        assert_eq!(slug_from_name("ক্লিনিক"), "clinic");
        assert!(is_valid_slug(&slug_from_name("--a--b--")));
    }

    #[test]
    fn generated_slugs_are_cut_to_240_characters_without_a_trailing_dash() {
        let name = format!("{} b", "a".repeat(239));
        let slug = slug_from_name(&name);
        assert_eq!(slug, "a".repeat(239));
        assert!(is_valid_slug(&slug));
        assert_eq!(slug_from_name(&"z".repeat(300)).len(), 240);
        let suffixed = slug_with_suffix(&slug_from_name(&"z".repeat(300)), 99_999);
        assert!(is_valid_slug(&suffixed));
    }

    #[test]
    fn the_first_free_suffix_is_used() {
        let none: [&str; 0] = [];
        assert_eq!(first_free_slug("care", &none), "care");
        assert_eq!(first_free_slug("care", &["care"]), "care-2");
        assert_eq!(first_free_slug("care", &["care", "care-2"]), "care-3");
        assert_eq!(first_free_slug("care", &["care", "care-3"]), "care-2");
        assert_eq!(first_free_slug("care", &["care-2"]), "care");
    }

    #[test]
    fn only_numeric_suffixes_compete_with_a_base() {
        assert!(is_suffixed_form_of("care", "care"));
        assert!(is_suffixed_form_of("care-12", "care"));
        assert!(!is_suffixed_form_of("care-point", "care"));
        assert!(!is_suffixed_form_of("care-", "care"));
        assert!(!is_suffixed_form_of("carex", "care"));
    }

    #[test]
    fn fees_have_bounds_and_at_most_two_decimals() {
        assert_eq!(check_fee(0.0), Ok(0.0));
        assert_eq!(check_fee(500.0), Ok(500.0));
        assert_eq!(check_fee(12.34), Ok(12.34));
        assert_eq!(check_fee(99_999_999.99), Ok(99_999_999.99));
        assert_eq!(check_fee(-0.01), Err(DecimalError::BelowMinimum(0.0)));
        assert_eq!(
            check_fee(100_000_000.0),
            Err(DecimalError::AboveMaximum(FEE_MAX))
        );
        assert_eq!(check_fee(12.345), Err(DecimalError::TooManyDecimals(2)));
        assert_eq!(check_fee(1e-7), Err(DecimalError::TooManyDecimals(2)));
    }

    #[test]
    fn decimal_places_count_the_shortest_form() {
        assert_eq!(decimal_places(100.0), 0);
        assert_eq!(decimal_places(0.1), 1);
        assert_eq!(decimal_places(0.1 + 0.2), 17);
        assert_eq!(decimal_places(-3.25), 2);
    }

    #[test]
    fn coordinates_round_to_eight_decimals() {
        assert_eq!(round_coordinate(19.123_456_789), 19.123_456_79);
        assert_eq!(round_coordinate(-72.000_000_004), -72.0);
    }

    #[test]
    fn wire_datetimes_use_z_and_six_digits_only_when_needed() {
        use chrono::TimeZone;
        let whole = chrono::Utc
            .with_ymd_and_hms(2030, 1, 1, 4, 30, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(wire_datetime::format(&whole), "2030-01-01T04:30:00Z");
        let fraction = whole + chrono::Duration::microseconds(421_000);
        assert_eq!(
            wire_datetime::format(&fraction),
            "2030-01-01T04:30:00.421000Z"
        );
    }
}
