//! How the domain's value types are read from a request body: the closed value sets (a string
//! from the set, documented as a reference to the set's named `enum` schema) and the phone
//! number (the phone rule, reported under the member's name).

use medico24_kernel::Phone;
use serde_json::Value;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::params::FromParam;
use super::request::{Components, FromJson, Reading};
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
        string_schema(7, 20).into()
    }
}
