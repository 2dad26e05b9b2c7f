//! How the member values of the care directory's and the pharmacies' bodies are read: the fee
//! (with its decimal rule), the clinic slug, the two email members, the IANA time zone, times of
//! day, the weekday and coordinates of a pharmacy, free-form objects, a member that is accepted
//! and ignored, and the opening hours of a new pharmacy (each weekday at most once).

use std::fmt::Display;
use std::marker::PhantomData;

use chrono::NaiveTime;
use chrono_tz::Tz;
use medico24_directory::{DecimalError, FEE_MAX, SLUG_PATTERN, check_fee, is_valid_slug};
use medico24_kernel::is_valid_email;
use medico24_pharmacy::{
    DayOfWeek, HoursInput, Latitude, Longitude, RepeatedDay, WeekHours, parse_timezone,
    repeated_days,
};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use super::request::{Components, FromJson, Reading};
use super::values::{
    Int, List, Number, Text, check_length, expect_number, expect_str, string_schema,
};

/// Records the bound issue of a value outside `min..=max` (`below`: under the minimum).
fn out_of_range(reading: &mut Reading, below: bool, min: impl Display, max: impl Display) {
    if below {
        reading.issue(
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        );
    } else {
        reading.issue(
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        );
    }
}

/// A fee: a number, `0 ≤ fee ≤ 99 999 999.99`, at most 2 decimals (the directory's fee rule).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fee(f64);

impl Fee {
    /// The fee.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromJson for Fee {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let fee = expect_number(value, reading)?;
        match check_fee(fee) {
            Ok(fee) => Some(Self(fee)),
            Err(error) => {
                let kind = match error {
                    DecimalError::BelowMinimum(_) => "greater_than_equal",
                    DecimalError::AboveMaximum(_) => "less_than_equal",
                    DecimalError::TooManyDecimals(_) => "decimal_max_places",
                };
                reading.issue(kind, error.to_string());
                None
            }
        }
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .multiple_of(Some(0.01))
            .maximum(Some(FEE_MAX))
            .minimum(Some(0))
            .into()
    }
}

/// A clinic slug as sent: `""` stands for no slug; otherwise 1–255 characters matching the slug
/// pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(Option<String>);

impl Slug {
    /// The slug, `None` for `""`.
    pub fn given(self) -> Option<String> {
        self.0
    }
}

impl FromJson for Slug {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let text = expect_str(value, reading)?;
        if !check_length(text, 0, 255, reading) {
            return None;
        }
        if text.is_empty() {
            return Some(Self(None));
        }
        if !is_valid_slug(text) {
            reading.issue(
                "string_pattern_mismatch",
                format!("String should match pattern '{SLUG_PATTERN}'"),
            );
            return None;
        }
        Some(Self(Some(text.to_owned())))
    }

    fn schema() -> RefOr<Schema> {
        string_schema(0, 255)
            .pattern(Some("^([a-z0-9]+(-[a-z0-9]+)*)?$"))
            .into()
    }
}

/// The email schema: a string of at most 254 characters in the `email` format.
fn email_schema() -> RefOr<Schema> {
    string_schema(0, 254)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .into()
}

/// A doctor's email: one `@`, a local part and a dotted domain, at most 254 characters; a
/// broken rule is one issue that states the whole rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorEmail(String);

impl From<DoctorEmail> for String {
    fn from(email: DoctorEmail) -> Self {
        email.0
    }
}

impl FromJson for DoctorEmail {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let text = expect_str(value, reading)?;
        if is_valid_email(text) {
            Some(Self(text.to_owned()))
        } else {
            reading.issue(
                "value_error",
                "value is not a valid email address: it must have exactly one @-sign, a local part and a dotted domain, and at most 254 characters",
            );
            None
        }
    }

    fn schema() -> RefOr<Schema> {
        email_schema()
    }
}

/// A pharmacy's email: at most 254 characters (a length issue of its own), then the email rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PharmacyEmail(String);

impl From<PharmacyEmail> for String {
    fn from(email: PharmacyEmail) -> Self {
        email.0
    }
}

impl FromJson for PharmacyEmail {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let text = expect_str(value, reading)?;
        if !check_length(text, 0, 254, reading) {
            return None;
        }
        if is_valid_email(text) {
            Some(Self(text.to_owned()))
        } else {
            reading.issue("value_error", "value is not a valid email address");
            None
        }
    }

    fn schema() -> RefOr<Schema> {
        email_schema()
    }
}

/// An IANA time zone name of 1–64 characters (`Asia/Kolkata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezone(Tz);

impl Timezone {
    /// The zone.
    pub fn get(self) -> Tz {
        self.0
    }
}

impl FromJson for Timezone {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let text = expect_str(value, reading)?;
        if !check_length(text, 1, 64, reading) {
            return None;
        }
        let zone = parse_timezone(text).map(Self);
        if zone.is_none() {
            reading.issue(
                "value_error",
                "timezone must be an IANA time zone name (e.g. Asia/Kolkata)",
            );
        }
        zone
    }

    fn schema() -> RefOr<Schema> {
        let mut schema = ObjectBuilder::new().schema_type(Type::String).build();
        schema.example = Some(json!("Asia/Kolkata"));
        RefOr::T(Schema::Object(schema))
    }
}

/// A time of day, `HH:MM` or `HH:MM:SS` (a fraction is dropped), read as a plain
/// [`NaiveTime`] is; the documented example is `EXAMPLE_HOUR` o'clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockTime<const EXAMPLE_HOUR: u32>(NaiveTime);

/// An opening time (documented with the example `09:00`).
pub type OpeningTime = ClockTime<9>;

/// A closing time (documented with the example `21:00`).
pub type ClosingTime = ClockTime<21>;

impl<const EXAMPLE_HOUR: u32> ClockTime<EXAMPLE_HOUR> {
    /// The time.
    pub fn get(self) -> NaiveTime {
        self.0
    }
}

impl<const EXAMPLE_HOUR: u32> FromJson for ClockTime<EXAMPLE_HOUR> {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        NaiveTime::from_json(value, reading).map(Self)
    }

    fn schema() -> RefOr<Schema> {
        let mut schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$"))
            .build();
        schema.example = Some(json!(format!("{EXAMPLE_HOUR:02}:00")));
        RefOr::T(Schema::Object(schema))
    }
}

/// An ISO weekday: an integer, 1 = Monday … 7 = Sunday (the pharmacy domain's rule).
impl FromJson for DayOfWeek {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let day = Int::<{ i64::MIN }, { i64::MAX }>::from_json(value, reading)?.get();
        match DayOfWeek::new(day) {
            Ok(day) => Some(day),
            Err(_) => {
                out_of_range(reading, day < 1, 1, 7);
                None
            }
        }
    }

    fn schema() -> RefOr<Schema> {
        Int::<1, 7>::schema()
    }
}

/// A latitude: a number in −90…90 (the pharmacy domain's rule).
impl FromJson for Latitude {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let degrees = expect_number(value, reading)?;
        match Latitude::new(degrees) {
            Ok(latitude) => Some(latitude),
            Err(_) => {
                out_of_range(reading, degrees < 0.0, -90, 90);
                None
            }
        }
    }

    fn schema() -> RefOr<Schema> {
        Number::<-90, 90>::schema()
    }
}

/// A longitude: a number in −180…180 (the pharmacy domain's rule).
impl FromJson for Longitude {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let degrees = expect_number(value, reading)?;
        match Longitude::new(degrees) {
            Ok(longitude) => Some(longitude),
            Err(_) => {
                out_of_range(reading, degrees < 0.0, -180, 180);
                None
            }
        }
    }

    fn schema() -> RefOr<Schema> {
        Number::<-180, 180>::schema()
    }
}

/// The texts of a list, as plain strings.
pub fn texts<const MIN: usize, const MAX: usize, const ITEMS: usize>(
    list: List<Text<MIN, MAX>, ITEMS>,
) -> Vec<String> {
    list.into_vec().into_iter().map(String::from).collect()
}

/// Any JSON value, kept as sent (the items of a list read in two passes).
struct Raw(Value);

impl FromJson for Raw {
    fn from_json(value: &Value, _reading: &mut Reading) -> Option<Self> {
        Some(Self(value.clone()))
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().into()
    }
}

/// The opening hours of a new pharmacy: a list of at most 7 items, each read as `T` at its
/// index, each weekday at most once. A repeated weekday is reported at the item's
/// `day_of_week`, found from the weekday alone, even when another member of the item is
/// invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct HoursList<T> {
    hours: WeekHours,
    item: PhantomData<T>,
}

impl<T> HoursList<T> {
    /// The hours.
    pub fn into_week_hours(self) -> WeekHours {
        self.hours
    }
}

/// The weekday an item names, when it names a valid one, whatever its other members.
fn named_day(item: &Value) -> Option<DayOfWeek> {
    let day = item.get("day_of_week").and_then(Value::as_f64)?;
    if day.fract() != 0.0 {
        return None;
    }
    DayOfWeek::new(day as i64).ok()
}

impl<T: FromJson + Into<HoursInput>> FromJson for HoursList<T> {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let items = List::<Raw, 7>::from_json(value, reading)?;
        let repeated = repeated_days(items.iter().map(|item| named_day(&item.0)));
        let mut hours = Vec::with_capacity(items.len());
        let mut valid = true;
        for (index, item) in items.iter().enumerate() {
            reading.at(json!(index), |reading| {
                match T::from_json(&item.0, reading) {
                    Some(read) => hours.push(read.into()),
                    None => valid = false,
                }
                if let Some(&(_, day)) = repeated.iter().find(|(at, _)| *at == index) {
                    valid = false;
                    reading.at(json!("day_of_week"), |reading| {
                        reading.issue("value_error", RepeatedDay(day).to_string());
                    });
                }
            });
        }
        if !valid {
            return None;
        }
        match WeekHours::new(hours) {
            Ok(hours) => Some(Self {
                hours,
                item: PhantomData,
            }),
            // The repetitions were reported item by item above; this keeps the read total.
            Err(repeated) => {
                reading.issue("value_error", repeated.to_string());
                None
            }
        }
    }

    fn schema() -> RefOr<Schema> {
        List::<T, 7>::schema()
    }

    fn components(into: &mut Components) {
        T::components(into);
    }
}

#[cfg(test)]
mod tests;
