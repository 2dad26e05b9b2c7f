//! Outcomes of pushes and how they settle a notification: per-delivery
//! status and reason, then the notification's status and its failure summary
//! (`All 2 deliveries failed: UNREGISTERED ×1, UNAVAILABLE ×1`).

use crate::model::{DeliveryStatus, NotificationStatus};

/// `failure_reason` of notifications and deliveries while the sender is disabled.
pub const PROVIDER_NOT_CONFIGURED: &str = "push provider not configured";
/// `failure_reason` of a notification whose recipient has no active token.
pub const NO_ACTIVE_TOKENS: &str = "No active tokens for user";
/// `failure_reason` of a pending delivery the recovery sweep does not send because its token
/// was deactivated meanwhile (it may belong to another user by now).
pub const TOKEN_DEACTIVATED: &str = "token deactivated";

/// How FCM answered one message, after retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted; `message_id` is FCM's `name` (`projects/<p>/messages/<id>`).
    Sent {
        /// FCM message name.
        message_id: String,
    },
    /// The token is no longer valid (`UNREGISTERED`, `SENDER_ID_MISMATCH`, or
    /// `INVALID_ARGUMENT` on `message.token`); it must be deactivated.
    InvalidToken {
        /// The FCM error code.
        code: String,
    },
    /// Not accepted.
    Failed {
        /// The FCM error code, or `timeout`, `network error`.
        code: String,
        /// `<code>: <FCM message>`, or `timeout`, `network error`.
        reason: String,
    },
}

/// One message's outcome and the retries it took (a 401 token refresh is not a retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushResult {
    /// Final outcome.
    pub outcome: PushOutcome,
    /// Retries performed.
    pub retries: u32,
}

impl PushResult {
    /// A first-try outcome.
    pub fn new(outcome: PushOutcome) -> Self {
        Self {
            outcome,
            retries: 0,
        }
    }

    /// The delivery status this outcome records.
    pub fn delivery_status(&self) -> DeliveryStatus {
        match self.outcome {
            PushOutcome::Sent { .. } => DeliveryStatus::Sent,
            PushOutcome::InvalidToken { .. } => DeliveryStatus::InvalidToken,
            PushOutcome::Failed { .. } => DeliveryStatus::Failed,
        }
    }

    /// The delivery's `failure_reason` (the code for invalid tokens).
    pub fn failure_reason(&self) -> Option<String> {
        match &self.outcome {
            PushOutcome::Sent { .. } => None,
            PushOutcome::InvalidToken { code } => Some(code.clone()),
            PushOutcome::Failed { reason, .. } => Some(reason.clone()),
        }
    }

    /// The settled state used for the notification summary.
    pub fn settled(&self) -> SettledDelivery {
        let code = match &self.outcome {
            PushOutcome::Sent { .. } => None,
            PushOutcome::InvalidToken { code } | PushOutcome::Failed { code, .. } => {
                Some(code.clone())
            }
        };
        SettledDelivery {
            status: self.delivery_status(),
            code,
        }
    }
}

/// A delivery's status and, when it failed, the code that names the failure in summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledDelivery {
    /// Status.
    pub status: DeliveryStatus,
    /// FCM error code, `timeout`, `network error`, … (failures only).
    pub code: Option<String>,
}

impl SettledDelivery {
    /// Rebuilds the state of a stored delivery: the code is the stored `failure_reason` up to its
    /// first `": "` (invalid-token reasons are the bare code).
    pub fn from_stored(status: DeliveryStatus, failure_reason: Option<&str>) -> Self {
        let code = status.is_failure().then(|| {
            failure_reason
                .map(|r| r.split_once(": ").map_or(r, |(code, _)| code).to_owned())
                .unwrap_or_else(|| "unknown".to_owned())
        });
        Self { status, code }
    }
}

/// How a notification settles once its deliveries have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationOutcome {
    /// New status.
    pub status: NotificationStatus,
    /// Failure summary (failed and partially delivered notifications).
    pub failure_reason: Option<String>,
    /// Whether `delivered_at` is set (at least one delivery succeeded).
    pub delivered: bool,
}

/// A notification's status from all of its deliveries: every delivery succeeded →
/// `delivered`; none → `failed` with `All n deliveries failed: CODE ×k, …`; some →
/// `partially_delivered` with `f of n deliveries failed: CODE ×k, …`. Codes are listed in order
/// of first appearance. While any delivery is still pending the notification stays `sent`.
pub fn settle(deliveries: &[SettledDelivery]) -> NotificationOutcome {
    let total = deliveries.len();
    let succeeded = deliveries.iter().filter(|d| d.status.is_success()).count();
    let pending = deliveries
        .iter()
        .any(|d| !d.status.is_success() && !d.status.is_failure());
    if pending {
        return NotificationOutcome {
            status: NotificationStatus::Sent,
            failure_reason: None,
            delivered: false,
        };
    }
    if total == 0 {
        return NotificationOutcome {
            status: NotificationStatus::Failed,
            failure_reason: Some(NO_ACTIVE_TOKENS.to_owned()),
            delivered: false,
        };
    }
    let failed = total - succeeded;
    let mut codes: Vec<(&str, usize)> = Vec::new();
    for code in deliveries
        .iter()
        .filter(|d| d.status.is_failure())
        .map(|d| d.code.as_deref().unwrap_or("unknown"))
    {
        match codes.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => codes.push((code, 1)),
        }
    }
    let listed = codes
        .iter()
        .map(|(code, n)| format!("{code} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if failed == 0 {
        NotificationOutcome {
            status: NotificationStatus::Delivered,
            failure_reason: None,
            delivered: true,
        }
    } else if succeeded == 0 {
        NotificationOutcome {
            status: NotificationStatus::Failed,
            failure_reason: Some(format!("All {total} deliveries failed: {listed}")),
            delivered: false,
        }
    } else {
        NotificationOutcome {
            status: NotificationStatus::PartiallyDelivered,
            failure_reason: Some(format!("{failed} of {total} deliveries failed: {listed}")),
            delivered: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent() -> SettledDelivery {
        PushResult::new(PushOutcome::Sent {
            message_id: "projects/p/messages/1".into(),
        })
        .settled()
    }

    fn invalid(code: &str) -> SettledDelivery {
        PushResult::new(PushOutcome::InvalidToken { code: code.into() }).settled()
    }

    fn failed(code: &str) -> SettledDelivery {
        PushResult::new(PushOutcome::Failed {
            code: code.into(),
            reason: format!("{code}: The service is currently unavailable."),
        })
        .settled()
    }

    #[test]
    fn every_success_is_delivered() {
        let outcome = settle(&[sent(), sent()]);
        assert_eq!(outcome.status, NotificationStatus::Delivered);
        assert_eq!(outcome.failure_reason, None);
        assert!(outcome.delivered);
    }

    #[test]
    fn no_success_is_failed_with_the_codes_counted_in_order_of_appearance() {
        let outcome = settle(&[invalid("UNREGISTERED"), failed("UNAVAILABLE")]);
        assert_eq!(outcome.status, NotificationStatus::Failed);
        assert_eq!(
            outcome.failure_reason.as_deref(),
            Some("All 2 deliveries failed: UNREGISTERED ×1, UNAVAILABLE ×1")
        );
        assert!(!outcome.delivered);
        let repeated = settle(&[
            failed("timeout"),
            invalid("UNREGISTERED"),
            failed("timeout"),
        ]);
        assert_eq!(
            repeated.failure_reason.as_deref(),
            Some("All 3 deliveries failed: timeout ×2, UNREGISTERED ×1")
        );
    }

    #[test]
    fn some_successes_are_partially_delivered_with_a_summary_of_the_failures() {
        let outcome = settle(&[sent(), invalid("UNREGISTERED"), sent()]);
        assert_eq!(outcome.status, NotificationStatus::PartiallyDelivered);
        assert_eq!(
            outcome.failure_reason.as_deref(),
            Some("1 of 3 deliveries failed: UNREGISTERED ×1")
        );
        assert!(outcome.delivered);
    }

    #[test]
    fn a_pending_delivery_keeps_the_notification_sent() {
        let pending = SettledDelivery {
            status: DeliveryStatus::Pending,
            code: None,
        };
        assert_eq!(settle(&[sent(), pending]).status, NotificationStatus::Sent);
    }

    #[test]
    fn no_delivery_at_all_means_no_active_tokens() {
        let outcome = settle(&[]);
        assert_eq!(outcome.status, NotificationStatus::Failed);
        assert_eq!(outcome.failure_reason.as_deref(), Some(NO_ACTIVE_TOKENS));
    }

    #[test]
    fn stored_reasons_give_back_their_codes() {
        assert_eq!(
            SettledDelivery::from_stored(
                DeliveryStatus::Failed,
                Some("UNAVAILABLE: try again: later")
            )
            .code
            .as_deref(),
            Some("UNAVAILABLE")
        );
        assert_eq!(
            SettledDelivery::from_stored(DeliveryStatus::InvalidToken, Some("UNREGISTERED"))
                .code
                .as_deref(),
            Some("UNREGISTERED")
        );
        assert_eq!(
            SettledDelivery::from_stored(DeliveryStatus::Sent, None).code,
            None
        );
    }

    #[test]
    fn results_map_to_delivery_columns() {
        let result = PushResult {
            outcome: PushOutcome::Failed {
                code: "QUOTA_EXCEEDED".into(),
                reason: "QUOTA_EXCEEDED: slow down".into(),
            },
            retries: 3,
        };
        assert_eq!(result.delivery_status(), DeliveryStatus::Failed);
        assert_eq!(
            result.failure_reason().as_deref(),
            Some("QUOTA_EXCEEDED: slow down")
        );
        let invalid = PushResult::new(PushOutcome::InvalidToken {
            code: "UNREGISTERED".into(),
        });
        assert_eq!(invalid.failure_reason().as_deref(), Some("UNREGISTERED"));
    }
}
