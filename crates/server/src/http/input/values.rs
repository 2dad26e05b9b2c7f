//! The JSON value types request members are declared with: bounded text, integers and numbers
//! whose bounds are part of the type, booleans, UUIDs, datetimes, times of day, bounded lists,
//! free-form objects and ignored members. Each reads strictly (no string for a number, no number for a string)
//! and documents itself with the same bounds it enforces.

use std::ops::Deref;

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};

use super::request::{Components, FromJson, Reading, expect_object};
use super::scalars::{in_supported_range, parse_datetime, parse_time};

/// Text of `MIN..=MAX` characters (Unicode scalar values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

/// Text with no length bound of its own (a token, or text a value type checks further).
pub type AnyText = Text<0, { usize::MAX }>;

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    /// Text whose bounds the caller has checked.
    pub(super) fn new_unchecked(text: String) -> Self {
        Self(text)
    }

    /// The text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MIN: usize, const MAX: usize> Deref for Text<MIN, MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> From<Text<MIN, MAX>> for String {
    fn from(text: Text<MIN, MAX>) -> Self {
        text.0
    }
}

/// Checks a string's length against `min..=max`, with the wire's messages.
pub fn check_length(text: &str, min: usize, max: usize, reading: &mut Reading) -> bool {
    let length = text.chars().count();
    if length < min {
        let unit = if min == 1 { "character" } else { "characters" };
        reading.issue(
            "string_too_short",
            format!("String should have at least {min} {unit}"),
        );
        false
    } else if length > max {
        reading.issue(
            "string_too_long",
            format!("String should have at most {max} characters"),
        );
        false
    } else {
        true
    }
}

/// The string at the reading's location, or a `string_type` issue.
pub fn expect_str<'v>(value: &'v Value, reading: &mut Reading) -> Option<&'v str> {
    let text = value.as_str();
    if text.is_none() {
        reading.issue("string_type", "Input should be a valid string");
    }
    text
}

/// A string schema with the given length bounds (0 and `usize::MAX` are left out).
pub fn string_schema(min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length((min > 0).then_some(min))
        .max_length((max != usize::MAX).then_some(max))
}

impl<const MIN: usize, const MAX: usize> FromJson for Text<MIN, MAX> {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let text = expect_str(value, reading)?;
        check_length(text, MIN, MAX, reading).then(|| Self(text.to_owned()))
    }

    fn schema() -> RefOr<Schema> {
        string_schema(MIN, MAX).into()
    }
}

/// Records a bound issue when `n` is outside `min..=max`; `true` when inside.
pub(super) fn check_bounds<N: PartialOrd + std::fmt::Display>(
    n: N,
    min: N,
    max: N,
    reading: &mut Reading,
) -> bool {
    if n < min {
        reading.issue(
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        );
        false
    } else if n > max {
        reading.issue(
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        );
        false
    } else {
        true
    }
}

/// An integer in `MIN..=MAX`; a JSON number whose fraction is zero (`3.0`) counts as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Int<MIN, MAX> {
    /// An integer whose bounds the caller has checked.
    pub(super) fn new_unchecked(n: i64) -> Self {
        Self(n)
    }

    /// The integer.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The integer as an `i32` (the bounds of every such member fit one).
    pub fn get_i32(self) -> i32 {
        i32::try_from(self.0).unwrap_or(if self.0 < 0 { i32::MIN } else { i32::MAX })
    }
}

impl<const MIN: i64, const MAX: i64> FromJson for Int<MIN, MAX> {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let n = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        });
        let Some(n) = n else {
            reading.issue("int_type", "Input should be a valid integer");
            return None;
        };
        check_bounds(n, MIN, MAX, reading).then_some(Self(n))
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum((MIN != i64::MIN).then_some(MIN))
            .maximum((MAX != i64::MAX).then_some(MAX))
            .into()
    }
}

/// A finite number in `MIN..=MAX` (whole-number bounds); an integer counts as one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number<const MIN: i64, const MAX: i64>(f64);

impl<const MIN: i64, const MAX: i64> Number<MIN, MAX> {
    /// A number whose bounds the caller has checked.
    pub(super) fn new_unchecked(n: f64) -> Self {
        Self(n)
    }

    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// The finite number at the reading's location, or a `float_type` issue.
pub fn expect_number(value: &Value, reading: &mut Reading) -> Option<f64> {
    let n = value.as_f64().filter(|n| n.is_finite());
    if n.is_none() {
        reading.issue("float_type", "Input should be a valid number");
    }
    n
}

impl<const MIN: i64, const MAX: i64> FromJson for Number<MIN, MAX> {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let n = expect_number(value, reading)?;
        // Whole-number bounds print as `-90`, as the wire's messages have them.
        check_bounds(n, MIN as f64, MAX as f64, reading).then_some(Self(n))
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .minimum(Some(MIN as f64))
            .maximum(Some(MAX as f64))
            .into()
    }
}

impl FromJson for bool {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let flag = value.as_bool();
        if flag.is_none() {
            reading.issue("bool_type", "Input should be a valid boolean");
        }
        flag
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).into()
    }
}

impl FromJson for uuid::Uuid {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let Value::String(text) = value else {
            reading.issue("uuid_type", "UUID input should be a string");
            return None;
        };
        uuid_text(text, reading)
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .into()
    }
}

/// A UUID in its text form (a body's string, a query parameter), or a `uuid_parsing` issue.
pub(super) fn uuid_text(text: &str, reading: &mut Reading) -> Option<uuid::Uuid> {
    let id = uuid::Uuid::parse_str(text).ok();
    if id.is_none() {
        reading.issue("uuid_parsing", "Input should be a valid UUID");
    }
    id
}

/// A datetime: a string as [`parse_datetime`] reads it (no offset means UTC), or a JSON number
/// of Unix seconds.
impl FromJson for DateTime<Utc> {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let parsed = match value {
            Value::String(text) => parse_datetime(text),
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1.0e12)
                .and_then(|f| DateTime::from_timestamp_micros((f * 1_000_000.0).round() as i64))
                .filter(|instant| in_supported_range(*instant)),
            _ => None,
        };
        if parsed.is_none() {
            reading.issue("datetime_parsing", "Input should be a valid datetime");
        }
        parsed
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    }
}

/// A time of day: `HH:MM` or `HH:MM:SS` (a fraction is dropped).
impl FromJson for NaiveTime {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let time = value.as_str().and_then(parse_time);
        if time.is_none() {
            reading.issue("time_parsing", "Input should be a valid time");
        }
        time
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"))
            .examples([json!("09:00")])
            .into()
    }
}

/// A free-form JSON object (contacts, opening hours, documents, a time slot), stored as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonObject(Map<String, Value>);

impl JsonObject {
    /// The object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The object as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

impl FromJson for JsonObject {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        expect_object(value, reading).cloned().map(Self)
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Object).into()
    }
}

/// A member accepted with any value and not used (kept for older clients); documented as any
/// value.
#[derive(Debug)]
pub struct Ignored;

impl FromJson for Ignored {
    fn from_json(_value: &Value, _reading: &mut Reading) -> Option<Self> {
        Some(Self)
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .into()
    }
}

/// A list of at most `MAX` items, each read as `T` at its index.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> List<T, MAX> {
    /// The items.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Deref for List<T, MAX> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: FromJson, const MAX: usize> FromJson for List<T, MAX> {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let Value::Array(items) = value else {
            reading.issue("list_type", "Input should be a valid list");
            return None;
        };
        if items.len() > MAX {
            reading.issue(
                "too_long",
                format!(
                    "List should have at most {MAX} items after validation, not {}",
                    items.len()
                ),
            );
            return None;
        }
        let mut read = Vec::with_capacity(items.len());
        let mut valid = true;
        for (index, item) in items.iter().enumerate() {
            match reading.at(json!(index), |reading| T::from_json(item, reading)) {
                Some(item) => read.push(item),
                None => valid = false,
            }
        }
        valid.then_some(Self(read))
    }

    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(T::schema())
            .max_items(Some(MAX))
            .into()
    }

    fn components(into: &mut Components) {
        T::components(into);
    }
}
