//! Who performed an audited write, from where: stamped on every `audit_events` row.

use std::net::IpAddr;

use crate::UserId;

/// The request facts recorded with an audit event, for any domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStamp {
    /// The acting user, when a user acted (an admin for admin writes).
    pub actor_user_id: Option<UserId>,
    /// `user`, `admin_secret` or `system`.
    pub actor_type: &'static str,
    /// `X-Request-ID` of the request.
    pub request_id: String,
    /// Client IP, when known.
    pub ip: Option<IpAddr>,
}

impl AuditStamp {
    /// A write by the authenticated user `actor`.
    pub fn user(actor: UserId, request_id: impl Into<String>, ip: Option<IpAddr>) -> Self {
        Self {
            actor_user_id: Some(actor),
            actor_type: "user",
            request_id: request_id.into(),
            ip,
        }
    }

    /// An action of the service itself (a background worker), outside any request.
    pub fn system(job: &str) -> Self {
        Self {
            actor_user_id: None,
            actor_type: "system",
            request_id: job.to_owned(),
            ip: None,
        }
    }

    /// A write by a caller holding the admin notification secret.
    pub fn admin_secret(request_id: impl Into<String>, ip: Option<IpAddr>) -> Self {
        Self {
            actor_user_id: None,
            actor_type: "admin_secret",
            request_id: request_id.into(),
            ip,
        }
    }
}
