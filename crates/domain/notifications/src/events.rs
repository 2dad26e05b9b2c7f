//! The port through which newly created notifications are announced to their recipient's live
//! event stream, and a recording fake.

use medico24_kernel::{NotificationId, UserId};

/// A notification whose rows are committed and whose first sending attempt is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationCreated {
    /// Recipient (whose stream hears about it).
    pub user_id: UserId,
    /// The notification.
    pub notification_id: NotificationId,
}

/// Where newly created notifications go (the server's live event streams).
///
/// Called after the notifications committed and their send outcomes were recorded (admin sends,
/// outbox events, broadcast batches; not the recovery sweep, which resends old ones). It cannot
/// fail the use case: an implementation hands the events on and returns at once, and deals with
/// its own failures (the production one logs a warning without personal data and counts a
/// metric).
pub trait NotificationEvents: Send + Sync + 'static {
    /// Announces `created`, in creation order.
    fn created(&self, created: Vec<NotificationCreated>);
}

/// Announces nothing (the default until the server wires its event streams in).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotificationEvents;

impl NotificationEvents for NoNotificationEvents {
    fn created(&self, _created: Vec<NotificationCreated>) {}
}

/// Records every announcement; clones share the record.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Default)]
pub struct RecordingNotificationEvents {
    created: std::sync::Arc<std::sync::Mutex<Vec<NotificationCreated>>>,
}

#[cfg(any(test, feature = "testing"))]
impl RecordingNotificationEvents {
    /// Everything announced so far, in order.
    pub fn created(&self) -> Vec<NotificationCreated> {
        self.created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(any(test, feature = "testing"))]
impl NotificationEvents for RecordingNotificationEvents {
    fn created(&self, created: Vec<NotificationCreated>) {
        self.created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(created);
    }
}
