//! The closed value sets of the API as named `enum` schemas, so generated clients get one type
//! per set (`AppointmentStatus`, `Role`, …) instead of a plain string.
//!
//! The values come from the domain enumerations themselves (their `ALL`/`NAMES` lists and
//! `as_str`), so the document cannot drift from what the server accepts and writes. Each type
//! here only describes a set: the DTOs keep their `String` fields (the wire is unchanged) and
//! point at the set with `#[schema(value_type = …)]`; parameters name it as their type.

use std::borrow::Cow;

use medico24_appointments::booking::{AppointmentSource as Source, AppointmentStatus as Status};
use medico24_directory::{AssociationStatus as Association, ClinicStatus as Clinic};
use medico24_notifications as notifications;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string schema allowing exactly `values`, with `description` and the first value as its
/// example.
fn string_enum(values: Vec<&'static str>, description: &str) -> RefOr<Schema> {
    let example = values.first().map(|v| Value::String((*v).to_owned()));
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .examples(example)
        .into()
}

/// Declares a set: a unit type whose schema is a string `enum` of `$values`, named after the type.
macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident, $description:literal, $values:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl $name {
            /// The allowed values, in the order the document lists them.
            pub fn values() -> Vec<&'static str> {
                $values
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string_enum(Self::values(), $description)
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

closed_set!(
    /// `AppointmentStatus`.
    AppointmentStatus,
    "Status of an appointment. `cancelled`, `completed` and `no_show` are terminal; which \
     changes are allowed from a status is answered by a 409's `allowed_statuses`.",
    Status::ALL.iter().map(Status::as_str).collect()
);

closed_set!(
    /// `AppointmentSource`.
    AppointmentSource,
    "Where an appointment was created. Patients may use `patient_app` (the default) and `api`; \
     `doctor_app` needs the doctor or admin role, `admin_panel` the admin role.",
    Source::ALL.iter().map(Source::as_str).collect()
);

closed_set!(
    /// `Role`.
    Role,
    "Role of an account; read from the account, never from a token.",
    medico24_kernel::Role::ALL
        .iter()
        .map(medico24_kernel::Role::as_str)
        .collect()
);

closed_set!(
    /// `ClinicStatus`.
    ClinicStatus,
    "Operating status of a clinic.",
    Clinic::NAMES.to_vec()
);

closed_set!(
    /// `AssociationStatus`.
    AssociationStatus,
    "Status of a doctor at a clinic; ending an association sets `inactive`.",
    Association::NAMES.to_vec()
);

closed_set!(
    /// `Platform`.
    Platform,
    "Device platform of a push token.",
    notifications::Platform::NAMES.to_vec()
);

closed_set!(
    /// `NotificationType`.
    NotificationType,
    "Kind of notification (`other` when a send names none).",
    notifications::NotificationType::NAMES.to_vec()
);

closed_set!(
    /// `NotificationPriority`.
    NotificationPriority,
    "Priority of a notification (`normal` when a send names none).",
    notifications::Priority::NAMES.to_vec()
);

closed_set!(
    /// `NotificationStatus`.
    NotificationStatus,
    "Lifecycle of a notification: `pending` until its deliveries exist, then `sent`, and \
     `delivered`, `partially_delivered` or `failed` by the outcome of its deliveries; `read` once \
     its recipient marked it.",
    notifications::NotificationStatus::NAMES.to_vec()
);

closed_set!(
    /// `DeliveryStatus`.
    DeliveryStatus,
    "Outcome of one push to one device; `invalid_token` means the device token was rejected and \
     has been deactivated.",
    notifications::DeliveryStatus::NAMES.to_vec()
);

closed_set!(
    /// `BroadcastTarget`.
    BroadcastTarget,
    "Audience of a broadcast: every active user, or the active users of one role.",
    notifications::BroadcastTarget::NAMES.to_vec()
);

closed_set!(
    /// `BroadcastStatus`.
    BroadcastStatus,
    "Progress of a broadcast.",
    notifications::BroadcastStatus::NAMES.to_vec()
);

closed_set!(
    /// `OverallHealth`.
    OverallHealth,
    "`healthy` when every dependency check passed, else `degraded`.",
    vec!["healthy", "degraded"]
);

closed_set!(
    /// `ActivityStatus`.
    ActivityStatus,
    "Severity of a line of the dashboard's system-status panel.",
    vec!["online", "warning", "offline"]
);

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn a_set_is_a_string_enum_of_the_domain_values() {
        let schema = serde_json::to_value(AppointmentStatus::schema()).unwrap();
        assert_eq!(schema["type"], "string");
        assert_eq!(
            schema["enum"],
            serde_json::json!([
                "scheduled",
                "confirmed",
                "rescheduled",
                "cancelled",
                "completed",
                "no_show"
            ])
        );
        assert_eq!(schema["examples"][0], "scheduled");
        assert_eq!(<Role as utoipa::ToSchema>::name(), Cow::Borrowed("Role"));
        assert_eq!(Role::values(), ["patient", "doctor", "pharmacy", "admin"]);
    }
}
