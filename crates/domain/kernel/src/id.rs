//! Typed ids: a `UserId` can never be passed where an `AppointmentId` is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// A new time-ordered (v7) id for a row created by the domain.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Lowercase, hyphenated: the wire form of every uuid.
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// Id of a `users` row.
    UserId
);
typed_id!(
    /// Id of an `appointments` row.
    AppointmentId
);
typed_id!(
    /// Id of a `doctors` row.
    DoctorId
);
typed_id!(
    /// Id of a `clinics` row.
    ClinicId
);
typed_id!(
    /// Id of a `doctor_clinics` association row.
    AssociationId
);
typed_id!(
    /// Id of a `pharmacies` row.
    PharmacyId
);
typed_id!(
    /// Id of a `push_tokens` row.
    PushTokenId
);
typed_id!(
    /// Id of a `notifications` row.
    NotificationId
);
typed_id!(
    /// Id of a `broadcasts` row.
    BroadcastId
);
typed_id!(
    /// Id of an `audit_events` row.
    AuditEventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_lowercase_hyphenated_and_parse_any_case() {
        let id: UserId = "5B0C7A3E2F0E4A559D390D0D3F6D1C11"
            .parse()
            .unwrap_or_else(|_| UserId::new_v7());
        assert_eq!(id.to_string(), "5b0c7a3e-2f0e-4a55-9d39-0d0d3f6d1c11");
    }

    #[test]
    fn garbage_is_not_an_id() {
        assert!("not-a-uuid".parse::<AppointmentId>().is_err());
    }
}
