//! Push tokens, notification records, deliveries, broadcasts and the value types they are built
//! from (the enumerations of the schema, the FCM `data` map).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use medico24_kernel::{BroadcastId, NotificationId, PushTokenId, UserId};
use serde_json::Value;

/// The text is not one of an enumeration's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown {0} value")]
pub struct UnknownValue(pub &'static str);

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the order the API documents them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every stored and wire form, in the order the API documents them.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The stored and wire form.
            pub const fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue($what)),
                }
            }
        }
    };
}

text_enum!(
    /// Device platform of a push token (`push_tokens_platform_check`).
    Platform, "platform" {
        /// Android.
        Android => "android",
        /// iOS.
        Ios => "ios",
        /// Web push.
        Web => "web",
    }
);

text_enum!(
    /// Kind of notification (`notifications_type_check`).
    NotificationType, "notification type" {
        /// Reminder of an upcoming appointment.
        AppointmentReminder => "appointment_reminder",
        /// An appointment was created or confirmed.
        AppointmentConfirmation => "appointment_confirmation",
        /// An appointment was cancelled.
        AppointmentCancelled => "appointment_cancelled",
        /// A prescription is ready.
        PrescriptionReady => "prescription_ready",
        /// News from a pharmacy.
        PharmacyUpdate => "pharmacy_update",
        /// Broadcasts.
        SystemAnnouncement => "system_announcement",
        /// Anything else (the default).
        Other => "other",
    }
);

text_enum!(
    /// Priority of a notification (`notifications_priority_check`).
    Priority, "priority" {
        /// Low.
        Low => "low",
        /// Normal (the default).
        Normal => "normal",
        /// High.
        High => "high",
        /// Urgent.
        Urgent => "urgent",
    }
);

text_enum!(
    /// Lifecycle of a notification (`notifications_status_check`).
    NotificationStatus, "notification status" {
        /// Created, deliveries not yet recorded.
        Pending => "pending",
        /// Deliveries created and being sent.
        Sent => "sent",
        /// Every delivery succeeded.
        Delivered => "delivered",
        /// Some deliveries succeeded, some failed.
        PartiallyDelivered => "partially_delivered",
        /// No delivery succeeded (or there was no device).
        Failed => "failed",
        /// Read by its recipient.
        Read => "read",
    }
);

text_enum!(
    /// Outcome of one push to one device (`notification_deliveries_status_check`).
    DeliveryStatus, "delivery status" {
        /// Created, not yet sent.
        Pending => "pending",
        /// Accepted by FCM.
        Sent => "sent",
        /// Reported delivered (kept from the reference; never set by this service).
        Delivered => "delivered",
        /// Not accepted by FCM.
        Failed => "failed",
        /// FCM rejected the token; the token has been deactivated.
        InvalidToken => "invalid_token",
    }
);

impl DeliveryStatus {
    /// Counted as a successful delivery (`sent`, `delivered`).
    pub const fn is_success(&self) -> bool {
        matches!(self, DeliveryStatus::Sent | DeliveryStatus::Delivered)
    }

    /// Counted as a failed delivery (`failed`, `invalid_token`).
    pub const fn is_failure(&self) -> bool {
        matches!(self, DeliveryStatus::Failed | DeliveryStatus::InvalidToken)
    }
}

text_enum!(
    /// Who a broadcast reaches (`broadcasts_target_check`).
    BroadcastTarget, "broadcast target" {
        /// Every active user.
        All => "all",
        /// Active patients.
        Patients => "patients",
        /// Active doctors.
        Doctors => "doctors",
        /// Active pharmacy accounts.
        Pharmacies => "pharmacies",
        /// Active admins.
        Admins => "admins",
    }
);

impl BroadcastTarget {
    /// The role the audience is restricted to (`None` for everyone).
    pub const fn role(&self) -> Option<medico24_kernel::Role> {
        use medico24_kernel::Role;
        match self {
            BroadcastTarget::All => None,
            BroadcastTarget::Patients => Some(Role::Patient),
            BroadcastTarget::Doctors => Some(Role::Doctor),
            BroadcastTarget::Pharmacies => Some(Role::Pharmacy),
            BroadcastTarget::Admins => Some(Role::Admin),
        }
    }
}

text_enum!(
    /// Progress of a broadcast (`broadcasts_status_check`).
    BroadcastStatus, "broadcast status" {
        /// Committed, waiting for a worker.
        Queued => "queued",
        /// Being processed (by a request or a worker).
        Running => "running",
        /// Every batch processed.
        Completed => "completed",
        /// The run aborted.
        Failed => "failed",
    }
);

/// Id of a `notification_deliveries` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(uuid::Uuid);

impl DeliveryId {
    /// Wraps an existing UUID.
    pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// Id of a `notification_outbox` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutboxEventId(uuid::Uuid);

impl OutboxEventId {
    /// Wraps an existing UUID.
    pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for OutboxEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// Largest serialized `data` object FCM accepts from us.
pub const MAX_DATA_BYTES: usize = 4096;

/// Why a `data` key is refused; the texts are the wire messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataKeyError {
    /// The empty string.
    #[error("data keys must not be empty")]
    Empty,
    /// `from`, `notification` or `message_type`: reserved by FCM.
    #[error("data key is reserved by FCM")]
    Reserved,
    /// Starts with `google` or `gcm`: reserved by FCM.
    #[error("data keys must not start with 'google' or 'gcm'")]
    ReservedPrefix,
}

/// Why a `data` object is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushDataError {
    /// One key breaks a rule.
    #[error("data key {key:?}: {reason}")]
    Key {
        /// The key.
        key: String,
        /// The rule.
        reason: DataKeyError,
    },
    /// The serialized object exceeds [`MAX_DATA_BYTES`].
    #[error("data must not exceed {MAX_DATA_BYTES} bytes when serialized")]
    TooLarge,
}

/// The FCM `data` map of a message: string keys and values, keys not reserved by FCM,
/// at most [`MAX_DATA_BYTES`] serialized. Built only by [`PushData::new`] (or empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushData(BTreeMap<String, String>);

impl PushData {
    /// Checks one key against FCM's rules for `data` keys.
    ///
    /// # Errors
    /// The rule the key breaks.
    pub fn check_key(key: &str) -> Result<(), DataKeyError> {
        if key.is_empty() {
            Err(DataKeyError::Empty)
        } else if matches!(key, "from" | "notification" | "message_type") {
            Err(DataKeyError::Reserved)
        } else if key.starts_with("google") || key.starts_with("gcm") {
            Err(DataKeyError::ReservedPrefix)
        } else {
            Ok(())
        }
    }

    /// Validates every key and the serialized size.
    ///
    /// # Errors
    /// The first broken key rule, else [`PushDataError::TooLarge`].
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, PushDataError> {
        for key in map.keys() {
            Self::check_key(key).map_err(|reason| PushDataError::Key {
                key: key.clone(),
                reason,
            })?;
        }
        let data = Self(map);
        if data.serialized_len() > MAX_DATA_BYTES {
            return Err(PushDataError::TooLarge);
        }
        Ok(data)
    }

    /// Data rebuilt from a stored JSON object (outbox payloads, stored notifications): string
    /// values are kept, other scalars become their JSON text, `null`s and keys FCM would reject
    /// are dropped, so a message can always be sent.
    pub fn from_json_lenient(value: Option<&Value>) -> Self {
        let Some(Value::Object(object)) = value else {
            return Self::default();
        };
        let map = object
            .iter()
            .filter(|(key, _)| Self::check_key(key).is_ok())
            .filter_map(|(key, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => return None,
                    other => other.to_string(),
                };
                Some((key.clone(), text))
            })
            .collect();
        Self(map)
    }

    /// Length in bytes of the JSON object.
    pub fn serialized_len(&self) -> usize {
        serde_json::to_string(&self.0).map_or(usize::MAX, |s| s.len())
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As a JSON object (for storage).
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// A `push_tokens` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushToken {
    /// Primary key.
    pub id: PushTokenId,
    /// Owner.
    pub user_id: UserId,
    /// The FCM registration token (never logged beyond its last 6 characters).
    pub fcm_token: String,
    /// Device platform.
    pub platform: Platform,
    /// Whether pushes go to it.
    pub is_active: bool,
    /// Last registration.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Row creation.
    pub created_at: DateTime<Utc>,
}

/// A `notifications` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Primary key.
    pub id: NotificationId,
    /// Recipient.
    pub user_id: UserId,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Kind.
    pub notification_type: NotificationType,
    /// Priority.
    pub priority: Priority,
    /// The `data` sent with it, as stored.
    pub data: Option<Value>,
    /// Lifecycle state.
    pub status: NotificationStatus,
    /// When the deliveries were created.
    pub sent_at: Option<DateTime<Utc>>,
    /// When at least one delivery succeeded.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When its recipient read it.
    pub read_at: Option<DateTime<Utc>>,
    /// Summary of failed deliveries.
    pub failure_reason: Option<String>,
    /// Retries performed across its deliveries.
    pub retry_count: i32,
    /// Kept from the reference (3).
    pub max_retries: i32,
    /// Kept from the reference; unused.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Kept from the reference; unused.
    pub expires_at: Option<DateTime<Utc>>,
    /// `{"outbox_id"}` or `{"broadcast_id"}` when it came from there.
    pub metadata: Option<Value>,
    /// Row creation.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
}

/// A `notification_deliveries` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Primary key.
    pub id: DeliveryId,
    /// The notification.
    pub notification_id: NotificationId,
    /// The device.
    pub push_token_id: PushTokenId,
    /// FCM's message name on success.
    pub fcm_message_id: Option<String>,
    /// Outcome.
    pub delivery_status: DeliveryStatus,
    /// When FCM accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// FCM error code (invalid token) or `<code>: <message>`.
    pub failure_reason: Option<String>,
    /// Row creation.
    pub created_at: DateTime<Utc>,
}

/// A notification with its deliveries (ordered by `created_at`, then `id`).
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationDetail {
    /// The notification.
    pub notification: Notification,
    /// Its deliveries.
    pub deliveries: Vec<Delivery>,
}

impl NotificationDetail {
    /// Deliveries counted as successful.
    pub fn successful(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|d| d.delivery_status.is_success())
            .count()
    }

    /// Deliveries counted as failed.
    pub fn failed(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|d| d.delivery_status.is_failure())
            .count()
    }
}

/// A `broadcasts` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// Primary key.
    pub id: BroadcastId,
    /// Title of every message.
    pub title: String,
    /// Body of every message.
    pub body: String,
    /// Audience.
    pub target: BroadcastTarget,
    /// `data` of every message.
    pub data: Option<Value>,
    /// Progress.
    pub status: BroadcastStatus,
    /// Audience size when created.
    pub total_users: i64,
    /// Users processed so far.
    pub processed_users: i64,
    /// Devices reached.
    pub success_count: i64,
    /// Devices not reached.
    pub failure_count: i64,
    /// Last processed user (users are processed in id order).
    pub cursor_user_id: Option<UserId>,
    /// Why the run aborted.
    pub failure_reason: Option<String>,
    /// The admin who created it (`None` when that user was deleted).
    pub created_by: Option<UserId>,
    /// Row creation.
    pub created_at: DateTime<Utc>,
    /// Last progress.
    pub updated_at: DateTime<Utc>,
    /// First claim.
    pub started_at: Option<DateTime<Utc>>,
    /// Completion (or failure).
    pub completed_at: Option<DateTime<Utc>>,
}

/// Aggregates of a user's (or everyone's) notifications over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationStats {
    /// Notifications in the window.
    pub total_count: u64,
    /// Count per status (only those that occur).
    pub by_status: BTreeMap<String, u64>,
    /// Count per type (only those that occur).
    pub by_type: BTreeMap<String, u64>,
    /// Count per priority (only those that occur).
    pub by_priority: BTreeMap<String, u64>,
}

/// Filters of a user's history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Exact status.
    pub status: Option<NotificationStatus>,
    /// Exact type.
    pub notification_type: Option<NotificationType>,
}

/// Filters of the admin notification logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Exact recipient.
    pub user_id: Option<UserId>,
    /// Exact status.
    pub status: Option<NotificationStatus>,
    /// Inclusive lower bound on `sent_at`.
    pub from: Option<DateTime<Utc>>,
    /// Inclusive upper bound on `sent_at`.
    pub to: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerations_round_trip_and_are_case_sensitive() {
        for (value, name) in NotificationStatus::ALL
            .iter()
            .zip(NotificationStatus::NAMES)
        {
            assert_eq!(value.as_str(), *name);
            assert_eq!(name.parse::<NotificationStatus>(), Ok(*value));
        }
        assert_eq!("Android".parse::<Platform>(), Err(UnknownValue("platform")));
        assert_eq!(NotificationType::ALL.len(), 7);
        assert_eq!(
            BroadcastTarget::Doctors.role(),
            Some(medico24_kernel::Role::Doctor)
        );
        assert_eq!(BroadcastTarget::All.role(), None);
    }

    #[test]
    fn data_keys_follow_the_fcm_rules() {
        assert_eq!(PushData::check_key("screen"), Ok(()));
        assert_eq!(PushData::check_key(""), Err(DataKeyError::Empty));
        for reserved in ["from", "notification", "message_type"] {
            assert_eq!(PushData::check_key(reserved), Err(DataKeyError::Reserved));
        }
        for prefixed in ["google", "google.c.a", "gcm.notification.x", "gcmx"] {
            assert_eq!(
                PushData::check_key(prefixed),
                Err(DataKeyError::ReservedPrefix)
            );
        }
        assert_eq!(PushData::check_key("from_screen"), Ok(()));
        assert_eq!(PushData::check_key("my_google"), Ok(()));
    }

    #[test]
    fn data_is_limited_to_4096_serialized_bytes() {
        // {"k":"<v>"} is 8 bytes plus the value.
        let fits = BTreeMap::from([("k".to_owned(), "x".repeat(MAX_DATA_BYTES - 8))]);
        assert!(PushData::new(fits).is_ok());
        let too_big = BTreeMap::from([("k".to_owned(), "x".repeat(MAX_DATA_BYTES - 7))]);
        assert_eq!(PushData::new(too_big), Err(PushDataError::TooLarge));
        let reserved = BTreeMap::from([("from".to_owned(), "x".to_owned())]);
        assert_eq!(
            PushData::new(reserved),
            Err(PushDataError::Key {
                key: "from".to_owned(),
                reason: DataKeyError::Reserved
            })
        );
    }

    #[test]
    fn stored_data_is_read_leniently() {
        let stored = serde_json::json!({
            "screen": "/appointments", "count": 3, "flag": true, "gone": null, "from": "x"
        });
        let data = PushData::from_json_lenient(Some(&stored));
        let pairs: Vec<(&str, &str)> = data.iter().collect();
        assert_eq!(
            pairs,
            vec![
                ("count", "3"),
                ("flag", "true"),
                ("screen", "/appointments")
            ]
        );
        assert!(PushData::from_json_lenient(Some(&serde_json::json!([1]))).is_empty());
        assert!(PushData::from_json_lenient(None).is_empty());
    }
}
