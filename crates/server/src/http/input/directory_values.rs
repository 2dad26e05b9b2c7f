//! How the member values of the care directory's bodies are read: the fee (with its decimal
//! rule), the clinic slug, a doctor's email, free-form objects and a member that is accepted and
//! ignored.

use medico24_directory::{DecimalError, FEE_MAX, SLUG_PATTERN, check_fee, is_valid_slug};
use medico24_kernel::is_valid_email;
use serde_json::{Map, Value};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use super::request::{FromJson, Reading, expect_object};
use super::values::{List, Text, check_length, expect_number, expect_str, string_schema};

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

/// The texts of a list, as plain strings.
pub fn texts<const MIN: usize, const MAX: usize, const ITEMS: usize>(
    list: List<Text<MIN, MAX>, ITEMS>,
) -> Vec<String> {
    list.into_vec().into_iter().map(String::from).collect()
}

/// A member the API accepts and ignores, whatever its value; documented as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ignored;

impl FromJson for Ignored {
    fn from_json(_value: &Value, _reading: &mut Reading) -> Option<Self> {
        Some(Self)
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).into()
    }
}

#[cfg(test)]
mod tests;
