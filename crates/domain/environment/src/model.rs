//! Values of the environment domain: the conditions a provider reports, the grid point they are
//! looked up and cached under, and a cached entry with its fetch time.

use std::fmt;

use chrono::{DateTime, Utc};

/// Current air quality and weather at one grid point (the seven provider fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    /// Air quality index (`indexes[0].aqi`).
    pub aqi: i64,
    /// Human-readable AQI category (`indexes[0].category`).
    pub aqi_category: String,
    /// Air temperature in °C (`temperature.degrees`).
    pub temperature: f64,
    /// Weather description (`weatherCondition.description.text`).
    pub condition: String,
    /// Relative humidity in % (`relativeHumidity`), when reported.
    pub humidity: Option<f64>,
    /// Dominant pollutant code (`indexes[0].dominantPollutant`), when reported.
    pub dominant_pollutant: Option<String>,
    /// When the provider observed these values (normalised to UTC). The provider leaves it
    /// `None` when neither upstream answer carries a time; the service then fills in the fetch
    /// time, so conditions it returns after a fetch always have one.
    pub observed_at: Option<DateTime<Utc>>,
}

/// Conditions as stored in the cache, with the time they were fetched (which decides freshness).
#[derive(Debug, Clone, PartialEq)]
pub struct CachedConditions {
    /// The provider's values.
    pub data: Conditions,
    /// When the service received them from the provider.
    pub fetched_at: DateTime<Utc>,
}

/// The answer of a lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionsReport {
    /// The conditions.
    pub conditions: Conditions,
    /// `true` when the provider failed and an older cached entry is served instead.
    pub stale: bool,
}

/// The coordinates are not a point on Earth (NaN, infinite or out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCoordinates {
    /// Latitude outside −90…90 (or not finite).
    #[error("latitude must be between -90 and 90")]
    Latitude,
    /// Longitude outside −180…180 (or not finite).
    #[error("longitude must be between -180 and 180")]
    Longitude,
}

/// A point of the cache grid: coordinates rounded half away from zero to three decimals
/// (about 110 m), held exactly as thousandths so the key text never suffers from binary
/// floating point (`19.0755` → `19.076`, `-0.0004` → `0.000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GridPoint {
    lat_milli: i32,
    lng_milli: i32,
}

impl GridPoint {
    /// Rounds `lat`/`lng` to the grid.
    ///
    /// Rounding works on the shortest decimal text of each value (what a client typed), so a
    /// decimal half such as `1.0005` rounds up even though its nearest `f64` is slightly below.
    ///
    /// # Errors
    /// [`InvalidCoordinates`] when a value is not finite or outside −90…90 / −180…180.
    pub fn round(lat: f64, lng: f64) -> Result<Self, InvalidCoordinates> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(InvalidCoordinates::Latitude);
        }
        if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
            return Err(InvalidCoordinates::Longitude);
        }
        let lat_milli = round_to_thousandths(lat)
            .and_then(|t| i32::try_from(t).ok())
            .ok_or(InvalidCoordinates::Latitude)?;
        let lng_milli = round_to_thousandths(lng)
            .and_then(|t| i32::try_from(t).ok())
            .ok_or(InvalidCoordinates::Longitude)?;
        Ok(Self {
            lat_milli,
            lng_milli,
        })
    }

    /// The rounded latitude (the value sent to the provider).
    pub fn latitude(&self) -> f64 {
        thousandths_to_f64(self.lat_milli)
    }

    /// The rounded longitude (the value sent to the provider).
    pub fn longitude(&self) -> f64 {
        thousandths_to_f64(self.lng_milli)
    }

    /// `lat3`: the latitude with exactly three decimals (`19.076`, `-0.500`, `0.000`).
    pub fn lat3(&self) -> String {
        thousandths_text(self.lat_milli)
    }

    /// `lng3`: the longitude with exactly three decimals.
    pub fn lng3(&self) -> String {
        thousandths_text(self.lng_milli)
    }
}

impl fmt::Display for GridPoint {
    /// `{lat3}:{lng3}`, the part of the cache key that names the point.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.lat3(), self.lng3())
    }
}

/// `value` (finite, |value| ≤ 180) rounded half away from zero to a whole number of thousandths,
/// computed on its shortest decimal representation.
fn round_to_thousandths(value: f64) -> Option<i64> {
    // `Display` for f64 prints the shortest text that reads back to the same value, never in
    // exponent notation.
    let text = value.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let whole: i64 = whole.parse().ok()?;
    let digit = |i: usize| -> Option<i64> {
        match fraction.as_bytes().get(i) {
            None => Some(0),
            Some(b) if b.is_ascii_digit() => Some(i64::from(b - b'0')),
            Some(_) => None,
        }
    };
    let mut thousandths = whole * 1000 + digit(0)? * 100 + digit(1)? * 10 + digit(2)?;
    // A fourth digit of 5 or more means at least half a thousandth: away from zero.
    if digit(3)? >= 5 {
        thousandths += 1;
    }
    Some(if value.is_sign_negative() {
        -thousandths
    } else {
        thousandths
    })
}

fn thousandths_to_f64(thousandths: i32) -> f64 {
    // The division is correctly rounded, so the result prints as the same three decimals.
    f64::from(thousandths) / 1000.0
}

fn thousandths_text(thousandths: i32) -> String {
    // Zero has no sign: `-0.000` is written `0.000`.
    let sign = if thousandths < 0 { "-" } else { "" };
    let magnitude = thousandths.unsigned_abs();
    format!("{sign}{}.{:03}", magnitude / 1000, magnitude % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(lat: f64, lng: f64) -> String {
        GridPoint::round(lat, lng).unwrap().to_string()
    }

    #[test]
    fn coordinates_are_printed_with_exactly_three_decimals() {
        assert_eq!(key(19.076, 72.8777), "19.076:72.878");
        assert_eq!(key(-0.5, 10.0), "-0.500:10.000");
        assert_eq!(key(90.0, -180.0), "90.000:-180.000");
        assert_eq!(key(0.0, -0.0), "0.000:0.000");
    }

    #[test]
    fn halves_round_away_from_zero_on_the_decimal_text() {
        assert_eq!(key(0.0005, -0.0005), "0.001:-0.001");
        assert_eq!(key(19.0755, -19.0755), "19.076:-19.076");
        // The nearest f64 of 1.0005 is 1.000499999…; the typed decimal is a half and rounds up.
        assert_eq!(key(1.0005, 2.0004999), "1.001:2.000");
        assert_eq!(key(22.5726, 88.3639), "22.573:88.364");
    }

    #[test]
    fn values_that_round_to_zero_lose_their_sign() {
        assert_eq!(key(-0.0004, -0.0001), "0.000:0.000");
        assert_eq!(key(-1e-7, 1e-7), "0.000:0.000");
    }

    #[test]
    fn rounded_values_are_the_grid_coordinates() {
        let point = GridPoint::round(-33.86785, 151.20732).unwrap();
        assert_eq!(point.latitude(), -33.868);
        assert_eq!(point.longitude(), 151.207);
        assert_eq!(point.lat3(), "-33.868");
        assert_eq!(point.lng3(), "151.207");
    }

    #[test]
    fn points_off_the_globe_are_refused() {
        assert_eq!(
            GridPoint::round(90.0001, 0.0),
            Err(InvalidCoordinates::Latitude)
        );
        assert_eq!(
            GridPoint::round(0.0, -180.5),
            Err(InvalidCoordinates::Longitude)
        );
        assert_eq!(
            GridPoint::round(f64::NAN, 0.0),
            Err(InvalidCoordinates::Latitude)
        );
        assert_eq!(
            GridPoint::round(0.0, f64::INFINITY),
            Err(InvalidCoordinates::Longitude)
        );
    }
}
