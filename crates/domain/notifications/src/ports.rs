//! Ports of the notifications domain: persistence of tokens, notifications, deliveries, the
//! outbox and broadcasts (`NotificationRepository`), and the push provider (`PushSender`).
//! Adapters implement them; each method documents what it must do atomically.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
pub use medico24_kernel::PortError;
use medico24_kernel::{
    AuditStamp, BroadcastId, NotificationId, Page, PageRequest, PushTokenId, UserId,
};
use serde_json::Value;

use crate::model::{
    Broadcast, BroadcastStatus, BroadcastTarget, DeliveryId, DeliveryStatus, HistoryFilter,
    LogFilter, Notification, NotificationDetail, NotificationStats, NotificationType,
    OutboxEventId, Platform, Priority, PushData, PushToken,
};
use crate::outcome::{NotificationOutcome, PushResult, SettledDelivery};
use crate::preferences::{NotificationPreferences, OutboxContext, PreferencesPatch, SkipReason};

/// One message to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// FCM registration token.
    pub token: String,
    /// Notification title.
    pub title: String,
    /// Notification body.
    pub body: String,
    /// Data pairs.
    pub data: PushData,
}

/// Sends pushes: FCM HTTP v1, or nothing when no credentials are configured.
pub trait PushSender: Send + Sync + 'static {
    /// Whether sending is configured. When `false` the service never calls
    /// [`PushSender::send_all`] and records every delivery as failed (sender disabled).
    fn is_enabled(&self) -> bool;

    /// Sends every message, with retries (backoff, `Retry-After`) and at most the configured
    /// number of requests in flight, and returns one result per message in the same order. Never
    /// fails as a whole: transport problems are per-message [`crate::PushOutcome::Failed`] results.
    fn send_all(&self, messages: &[PushMessage]) -> impl Future<Output = Vec<PushResult>> + Send;
}

/// A notification to create (the first step of the send pipeline). The id is chosen by the domain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// Id of the row to insert.
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
    /// Data pairs.
    pub data: PushData,
    /// `{"outbox_id"}` or `{"broadcast_id"}`.
    pub metadata: Option<Value>,
}

/// One pending delivery to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The delivery row.
    pub delivery_id: DeliveryId,
    /// The token row.
    pub push_token_id: PushTokenId,
    /// The token itself.
    pub fcm_token: String,
}

/// A notification whose rows are committed (the pipeline before sending): `targets` holds one
/// pending delivery per active token of the recipient, ordered by the token's `created_at`, then
/// id. Without targets the notification is already `failed` with `No active tokens for user`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedNotification {
    /// The notification row.
    pub notification_id: NotificationId,
    /// Recipient.
    pub user_id: UserId,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Data pairs.
    pub data: PushData,
    /// Pending deliveries.
    pub targets: Vec<PushTarget>,
}

/// A notification with deliveries left `pending` by a crash between commit and send, claimed by
/// the recovery sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct StalledNotification {
    /// The notification and its pending deliveries as targets.
    pub prepared: PreparedNotification,
    /// Its deliveries that did settle.
    pub settled: Vec<SettledDelivery>,
    /// Its `retry_count` so far.
    pub retry_count: i32,
}

/// The outcome of one delivery, to store after sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The delivery row.
    pub delivery_id: DeliveryId,
    /// Its token (deactivated when `status` is `invalid_token`).
    pub push_token_id: PushTokenId,
    /// `sent`, `failed` or `invalid_token`.
    pub status: DeliveryStatus,
    /// FCM message name on success.
    pub fcm_message_id: Option<String>,
    /// Failure reason.
    pub failure_reason: Option<String>,
}

/// The settled state of one notification, to store once its deliveries are settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledNotification {
    /// The notification row.
    pub notification_id: NotificationId,
    /// Status, reason, and whether `delivered_at` is set.
    pub outcome: NotificationOutcome,
    /// Retries performed across its deliveries.
    pub retry_count: i32,
}

/// The audit event written with an admin send (`notification.send` or `.admin_send`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAudit {
    /// Who, from where.
    pub stamp: AuditStamp,
    /// `notification.send` or `notification.admin_send`.
    pub action: &'static str,
}

/// One claimed `notification_outbox` row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Row id.
    pub id: OutboxEventId,
    /// `appointment_created`, `appointment_status_changed`, …
    pub event_type: String,
    /// Recipient.
    pub user_id: UserId,
    /// The rendered message: `title`, `body`, `notification_type`, `priority`, `data`.
    pub payload: Value,
    /// Attempts including this claim.
    pub attempts: i32,
}

/// How a due outbox event ended (see `NotificationRepository::settle_outbox_event`).
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxSettlement {
    /// The notification and its deliveries were created; the event is processed.
    Sent {
        /// What to send.
        prepared: PreparedNotification,
        /// What was read under the lock.
        context: OutboxContext,
    },
    /// The event is processed without a notification.
    Skipped {
        /// Why.
        reason: SkipReason,
        /// What was read under the lock.
        context: OutboxContext,
    },
    /// Processed, removed or moved later by someone else meanwhile: nothing written.
    Gone,
}

/// How the outbox is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxClaim {
    /// Events per claim (20).
    pub limit: u32,
    /// Lease set on claimed events (`locked_until = now + lease`, 60 s).
    pub lease: Duration,
    /// Events with this many attempts are no longer picked (10).
    pub max_attempts: i32,
}

/// A broadcast to create. The id is chosen by the domain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBroadcast {
    /// Id of the row to insert.
    pub id: BroadcastId,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Audience.
    pub target: BroadcastTarget,
    /// Data pairs.
    pub data: PushData,
    /// The admin.
    pub created_by: UserId,
}

/// Progress of one processed batch of a broadcast (added to the row's counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastProgress {
    /// Last user of the batch (users are processed in id order).
    pub cursor: UserId,
    /// Users in the batch.
    pub users: u64,
    /// Devices reached.
    pub success: u64,
    /// Devices not reached (a user whose rows could not be written counts 1).
    pub failure: u64,
}

/// Persistence of the notifications domain. Every method is one business operation and, where
/// it writes several rows, one transaction.
///
/// Time: every timestamp written or compared (`sent_at`, leases, staleness, …) is the `now`
/// given by the service (its `Clock`), never the database's, so tests can move time.
pub trait NotificationRepository: Send + Sync + 'static {
    // --- push tokens ------------------------------------------------------------------------

    /// Registers `fcm_token` for `user` in one transaction: deactivate it for every other user;
    /// deactivate `user`'s other tokens on `platform`; insert it active, or reactivate the
    /// existing (`user`, token) row (same id) with the new platform, `last_used_at = now`.
    /// A concurrent registration of the same token (unique active token) is retried once.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn register_token(
        &self,
        user: UserId,
        fcm_token: &str,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PushToken, PortError>> + Send;

    /// Deactivates (`user`, `fcm_token`); unknown tokens are ignored.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn deactivate_token(
        &self,
        user: UserId,
        fcm_token: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Deactivates every token of `user`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn deactivate_all_tokens(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Whether a `users` row with this id exists (active or not).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn user_exists(&self, user: UserId) -> impl Future<Output = Result<bool, PortError>> + Send;

    // --- the send pipeline ---------------------------------------------------------------------

    /// Steps 1–4 for one notification in one transaction, with the audit event when given
    /// (resource `notification`, id = the notification's).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure (nothing is written).
    fn prepare_one(
        &self,
        notification: &NewNotification,
        audit: Option<&SendAudit>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PreparedNotification, PortError>> + Send;

    /// Steps 1–4 for many notifications in one transaction (broadcast batches); the result is
    /// in input order.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure (nothing is written).
    fn prepare_batch(
        &self,
        notifications: &[NewNotification],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<PreparedNotification>, PortError>> + Send;

    /// Steps 6–7 in one transaction: stores each delivery's outcome (`delivered_at = now` for
    /// `sent`), deactivates the tokens of `invalid_token` deliveries, and stores each
    /// notification's settled state (`delivered_at = now` when delivered; a notification
    /// already `read` keeps that status).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure (nothing is written).
    fn record_results(
        &self,
        deliveries: &[DeliveryRecord],
        notifications: &[SettledNotification],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The recovery sweep's claim: up to `limit` notifications with deliveries still
    /// `pending` more than `after` past the notification's `sent_at`, each with all its pending
    /// deliveries. Claiming re-stamps `sent_at` with the current time, so concurrent sweeps in
    /// other processes skip them for another `after`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn claim_stalled(
        &self,
        after: Duration,
        limit: u32,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<StalledNotification>, PortError>> + Send;

    // --- history ------------------------------------------------------------------------------

    /// One page of `user`'s notifications, `created_at DESC, id DESC`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn history(
        &self,
        user: UserId,
        filter: HistoryFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Notification>, PortError>> + Send;

    /// A notification with its deliveries (`created_at`, then id).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find(
        &self,
        id: NotificationId,
    ) -> impl Future<Output = Result<Option<NotificationDetail>, PortError>> + Send;

    /// Marks `owner`'s notification read (`read_at` kept when already set); `false` when no
    /// notification with this id belongs to `owner`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn mark_read(
        &self,
        id: NotificationId,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Deletes the notification (deliveries cascade) when `actor` owns it or `actor_is_admin`;
    /// when an admin deletes another user's, writes `notification.delete` with `audit` in the
    /// same transaction. `false` when nothing was deleted.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn delete(
        &self,
        id: NotificationId,
        actor: UserId,
        actor_is_admin: bool,
        audit: &AuditStamp,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Counts by status, type and priority of notifications created at or after `since`,
    /// of `user` (or everyone's when `None`), aggregated by the database.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn stats(
        &self,
        user: Option<UserId>,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<NotificationStats, PortError>> + Send;

    /// One page of every user's notifications, `sent_at DESC NULLS LAST, created_at DESC, id DESC`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn logs(
        &self,
        filter: LogFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Notification>, PortError>> + Send;

    // --- the outbox ----------------------------------------------------------------------------

    /// Claims up to `claim.limit` events that are unprocessed, available, below
    /// `claim.max_attempts` and not leased, oldest first, skipping rows locked by other
    /// processes; sets their lease and increments their attempts.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn claim_outbox(
        &self,
        claim: OutboxClaim,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<OutboxEvent>, PortError>> + Send;

    /// In one transaction: marks the event processed (with the notification's id), and runs
    /// steps 1–4 for `notification`. `None` (nothing written) when the event was processed by
    /// someone else meanwhile.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure (nothing is written).
    fn complete_outbox_event(
        &self,
        event: OutboxEventId,
        notification: &NewNotification,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<PreparedNotification>, PortError>> + Send;

    /// Releases the event for a later attempt: `available_at = now + delay`, lease cleared,
    /// `last_error` stored.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn retry_outbox_event(
        &self,
        event: OutboxEventId,
        delay: Duration,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Gives the event up (an unusable payload): attempts set to `max_attempts` so it is no
    /// longer picked, `last_error` stored, left unprocessed for an operator.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn abandon_outbox_event(
        &self,
        event: OutboxEventId,
        max_attempts: i32,
        error: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Like [`complete_outbox_event`](Self::complete_outbox_event), for an event that is due
    /// (`available_at <= now`): under the event's row lock, reads its [`OutboxContext`] (the
    /// recipient's preferences; for a reminder, its appointment) and asks `decide`. A reason
    /// marks the event processed with that `skip_reason` and no notification; `None` creates
    /// the notification as `complete_outbox_event` does. [`OutboxSettlement::Gone`] (nothing
    /// written) when the event was processed, removed or moved later meanwhile.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure (nothing is written).
    fn settle_outbox_event<F>(
        &self,
        event: OutboxEventId,
        notification: &NewNotification,
        decide: F,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<OutboxSettlement, PortError>> + Send
    where
        F: FnOnce(&OutboxContext) -> Option<SkipReason> + Send + 'static;

    /// The user's notification preferences (defaults when none are stored).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn preferences(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<NotificationPreferences, PortError>> + Send;

    /// Applies `patch` to the user's preferences (stored from defaults when none were) and
    /// returns them all.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn update_preferences(
        &self,
        user: UserId,
        patch: PreferencesPatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<NotificationPreferences, PortError>> + Send;

    /// Events not yet processed (`medico24_notification_outbox_pending`).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn count_outbox_pending(&self) -> impl Future<Output = Result<u64, PortError>> + Send;

    // --- broadcasts ----------------------------------------------------------------------------

    /// Active users in the audience of `target`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn count_audience(
        &self,
        target: BroadcastTarget,
    ) -> impl Future<Output = Result<u64, PortError>> + Send;

    /// Inserts the broadcast (`running` with `started_at = now`, or `queued`) and its
    /// `broadcast.create` audit event in one transaction.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn create_broadcast(
        &self,
        broadcast: &NewBroadcast,
        total_users: u64,
        status: BroadcastStatus,
        audit: &AuditStamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Broadcast, PortError>> + Send;

    /// The broadcast with this id.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find_broadcast(
        &self,
        id: BroadcastId,
    ) -> impl Future<Output = Result<Option<Broadcast>, PortError>> + Send;

    /// Claims the oldest `queued` broadcast, or a `running` one without progress for
    /// `stale_after` (its process died), skipping rows locked by other processes; sets it
    /// `running` (`started_at` kept when set) and returns it.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn claim_broadcast(
        &self,
        stale_after: Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Broadcast>, PortError>> + Send;

    /// The next `limit` active users of the audience with an id greater than `after`, in id
    /// order, leaving out users who already have a notification of this broadcast (a batch
    /// interrupted before its progress was stored is not sent twice).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn audience_batch(
        &self,
        broadcast: BroadcastId,
        target: BroadcastTarget,
        after: Option<UserId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<UserId>, PortError>> + Send;

    /// Adds one batch's counts, moves the cursor, and marks progress (staleness is measured from
    /// the last progress).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn record_broadcast_progress(
        &self,
        id: BroadcastId,
        progress: BroadcastProgress,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Ends the run: `completed`, or `failed` with `failure_reason`; `completed_at = now`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn finish_broadcast(
        &self,
        id: BroadcastId,
        status: BroadcastStatus,
        failure_reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Puts a `running` broadcast back to `queued` (a worker stopping between batches), so any
    /// process resumes it at once after its cursor.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn requeue_broadcast(
        &self,
        id: BroadcastId,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
