//! Users, verified Firebase identities, sessions and audit events.

use chrono::{DateTime, Utc};
use medico24_kernel::{Role, UserId};
use serde::{Deserialize, Serialize};

/// A `users` row. Serialized as JSON in the user cache (`v2:user:{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Primary key.
    pub id: UserId,
    /// Firebase uid (`sub` of the ID token).
    pub firebase_uid: String,
    /// Email from Firebase.
    pub email: String,
    /// Whether Firebase verified the email.
    pub email_verified: bool,
    /// Always `google` for users created by this service.
    pub auth_provider: String,
    /// Display name.
    pub full_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Avatar URL.
    pub photo_url: Option<String>,
    /// Phone (phone rule).
    pub phone: Option<String>,
    /// Role; read from here, never from a token.
    #[serde(with = "role_serde")]
    pub role: Role,
    /// Deactivated users are refused everywhere.
    pub is_active: bool,
    /// Set by the onboarding endpoint.
    pub is_onboarded: bool,
    /// Row creation.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// Last Firebase login.
    pub last_login_at: Option<DateTime<Utc>>,
}

mod role_serde {
    use medico24_kernel::Role;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(role.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a verified Firebase ID token says about its holder (the used claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirebaseIdentity {
    /// `sub`: the Firebase uid (1–128 characters).
    pub uid: String,
    /// `email`, when present and non-empty.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: Option<bool>,
    /// `name`.
    pub name: Option<String>,
    /// `picture`.
    pub picture: Option<String>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
}

/// The profile written by a login upsert, derived from a [`FirebaseIdentity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfile {
    /// Firebase uid.
    pub firebase_uid: String,
    /// Validated email.
    pub email: String,
    /// `email_verified` claim (default false).
    pub email_verified: bool,
    /// `name` claim or, for new rows, the email.
    pub full_name: Option<String>,
    /// `given_name`, or the part of `name` before its first space.
    pub given_name: Option<String>,
    /// `family_name`, or the part of `name` after its first space.
    pub family_name: Option<String>,
    /// `picture`.
    pub photo_url: Option<String>,
}

/// Result of the atomic login upsert.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per login; boxing buys nothing"
)]
pub enum LoginUpsert {
    /// Created or refreshed; the row as stored.
    Active(User),
    /// An existing, deactivated row; nothing was written.
    Deactivated,
}

/// A server-side session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id (`sid` claim), constant across rotations.
    pub sid: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// `jti` of the only refresh token currently valid for this session.
    pub jti: uuid::Uuid,
    /// Creation (Unix seconds).
    pub created_at: i64,
    /// Last rotation (Unix seconds).
    pub refreshed_at: i64,
}

/// Outcome of a refresh-token rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The new `jti` is stored.
    Rotated,
    /// No such session of this user (expired, logged out, or a session id of another user:
    /// stores keep each user's sessions apart, so another user's session is never touched).
    Revoked,
    /// The stored session names another owner than the one it is filed under (damaged data).
    Invalid,
    /// A retired token was presented: the session has been deleted.
    Reused,
}

/// Who performed an audited write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An authenticated user (an admin for admin writes).
    User(UserId),
    /// A caller holding the admin notification secret.
    AdminSecret,
    /// The service itself (a background worker, such as the erasure worker).
    System,
}

/// The request facts recorded with an audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// Who.
    pub actor: Actor,
    /// `X-Request-ID` of the request.
    pub request_id: String,
    /// Client IP, when known.
    pub ip: Option<std::net::IpAddr>,
}

/// One `audit_events` row to write in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Who, and from where.
    pub context: AuditContext,
    /// `pharmacy.create`, `user.update`, …
    pub action: &'static str,
    /// `pharmacy`, `user`, …
    pub resource_type: &'static str,
    /// The affected id as text.
    pub resource_id: Option<String>,
    /// Changed fields (never tokens or secrets, never personal data).
    pub details: Option<serde_json::Value>,
    /// The users whose data the action read or changed (every user of a list read's page).
    pub subject_ids: Vec<UserId>,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Primary key.
    pub id: uuid::Uuid,
    /// Acting user, when a user acted.
    pub actor_user_id: Option<UserId>,
    /// `user` or `admin_secret`.
    pub actor_type: String,
    /// Action name.
    pub action: String,
    /// Resource type.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Request id.
    pub request_id: String,
    /// Client IP.
    pub ip: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Details.
    pub details: Option<serde_json::Value>,
    /// The users whose data the action read or changed.
    pub subject_ids: Vec<UserId>,
}
