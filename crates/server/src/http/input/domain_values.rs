//! How the domain's value types are read from a request body: the closed value sets (a string
//! from the set, documented as a reference to the set's named `enum` schema), the phone number
//! (the phone rule, reported under the member's name) and a push notification's `data` (FCM's
//! rules for its keys and size).

use std::collections::BTreeMap;

use medico24_kernel::Phone;
use medico24_notifications::{DataKeyError, MAX_DATA_BYTES, PushData};
use serde_json::{Value, json};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::params::FromParam;
use super::request::{Components, FromJson, Reading, expect_object};
use super::scalars::enum_message;
use super::values::{expect_str, string_schema};
use crate::http::error::phone_message;
use crate::openapi::enums;

/// Lets a body member or a query parameter be the domain enumeration `$domain`: read from one of
/// the values of the set `$set` (the set lists exactly the domain's values), documented as a
/// reference to it.
macro_rules! member_of_set {
    ($($domain:ty => $set:ty),* $(,)?) => {$(
        impl FromJson for $domain {
            fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
                let parsed = value.as_str().and_then(|text| text.parse::<$domain>().ok());
                if parsed.is_none() {
                    reading.issue("enum", enum_message(&<$set>::values()));
                }
                parsed
            }

            fn schema() -> RefOr<Schema> {
                RefOr::Ref(Ref::from_schema_name(<$set as ToSchema>::name()))
            }

            fn components(into: &mut Components) {
                let name = <$set as ToSchema>::name();
                if !into.iter().any(|(known, _)| *known == name) {
                    into.push((name.into_owned(), <$set as PartialSchema>::schema()));
                }
            }
        }

        impl FromParam for $domain {
            fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
                let parsed = text.parse::<$domain>().ok();
                if parsed.is_none() {
                    reading.issue("enum", enum_message(&<$set>::values()));
                }
                parsed
            }

            fn schema() -> RefOr<Schema> {
                RefOr::Ref(Ref::from_schema_name(<$set as ToSchema>::name()))
            }
        }
    )*};
}

member_of_set!(
    medico24_appointments::booking::AppointmentStatus => enums::AppointmentStatus,
    medico24_appointments::booking::AppointmentSource => enums::AppointmentSource,
    medico24_kernel::Role => enums::Role,
    medico24_directory::ClinicStatus => enums::ClinicStatus,
    medico24_directory::AssociationStatus => enums::AssociationStatus,
    medico24_notifications::Platform => enums::Platform,
    medico24_notifications::NotificationType => enums::NotificationType,
    medico24_notifications::Priority => enums::NotificationPriority,
    medico24_notifications::BroadcastTarget => enums::BroadcastTarget,
    medico24_notifications::NotificationStatus => enums::NotificationStatus,
);

/// A phone number: 7–20 characters of digits, spaces, `+`, `-`, `(`, `)`, at least 7 digits.
impl FromJson for Phone {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let text = expect_str(value, reading)?;
        match Phone::parse(text) {
            Ok(phone) => Some(phone),
            Err(error) => {
                let name = reading.member_name().unwrap_or("phone").to_owned();
                reading.issue("value_error", phone_message(&name, error));
                None
            }
        }
    }

    fn schema() -> RefOr<Schema> {
        string_schema(7, 20).pattern(Some(r"^[0-9 +()-]*$")).into()
    }
}

/// A push notification's `data`: an object of strings whose keys follow FCM's rules, at most
/// [`MAX_DATA_BYTES`] bytes serialized. A value that is not a string and a key that breaks a
/// rule are reported at that key; the size is reported at the member.
impl FromJson for PushData {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        let object = expect_object(value, reading)?;
        let mut map = BTreeMap::new();
        let mut valid = true;
        for (key, value) in object {
            reading.at(json!(key), |reading| {
                match value {
                    Value::String(text) => {
                        map.insert(key.clone(), text.clone());
                    }
                    _ => {
                        valid = false;
                        reading.issue("string_type", "Input should be a valid string");
                    }
                }
                if let Err(rule) = PushData::check_key(key) {
                    valid = false;
                    reading.issue("value_error", data_key_message(key, rule));
                }
            });
        }
        if !valid {
            return None;
        }
        // Every key was checked above, so only the size can still be refused.
        let data = PushData::new(map).ok();
        if data.is_none() {
            reading.issue(
                "value_error",
                format!("data must not exceed {MAX_DATA_BYTES} bytes when serialized"),
            );
        }
        data
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
            .property_names(Some(ObjectBuilder::new().schema_type(Type::String)))
            .into()
    }
}

/// The wire message of a `data` key that breaks `rule`.
fn data_key_message(key: &str, rule: DataKeyError) -> String {
    match rule {
        DataKeyError::Empty => "data keys must not be empty".to_owned(),
        DataKeyError::Reserved => format!("data key '{key}' is reserved"),
        DataKeyError::ReservedPrefix => {
            "data keys must not start with 'google' or 'gcm'".to_owned()
        }
    }
}
