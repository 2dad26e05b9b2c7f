//! `NotificationRepository` on PostgreSQL: push-token registration with one owner per token,
//! the send pipeline's set-based writes (notifications and deliveries for a whole batch in one
//! statement, outcomes in three), history, statistics aggregated in SQL, admin logs, the outbox
//! claimed with `FOR UPDATE SKIP LOCKED`, the recovery sweep, and resumable broadcasts.
//!
//! This module holds the repository and the trait implementation, whose methods delegate to
//! the submodules: `tokens` (push tokens), `sends` (the send pipeline and the recovery sweep),
//! `history` (reads, read marks, deletion, statistics, logs), `outbox`, `settle` (due events
//! under the reminder and preference rules, and the preferences) and `broadcasts`.

mod broadcasts;
mod history;
mod outbox;
mod sends;
mod settle;
mod tokens;

use chrono::{DateTime, Duration, Utc};
use diesel::result::Error as DieselError;
use diesel::sql_types::Timestamptz;
use diesel_async::RunQueryDsl;
use medico24_kernel::{
    AuditStamp, BroadcastId, NotificationId, Page, PageRequest, PortError, UserId,
};
use medico24_notifications::{
    Broadcast, BroadcastProgress, BroadcastStatus, BroadcastTarget, DeliveryRecord, HistoryFilter,
    LogFilter, NewBroadcast, NewNotification, Notification, NotificationDetail,
    NotificationPreferences, NotificationRepository, NotificationStats, OutboxClaim, OutboxContext,
    OutboxEvent, OutboxEventId, OutboxSettlement, Platform, PreferencesPatch, PreparedNotification,
    PushToken, SendAudit, SettledNotification, SkipReason, StalledNotification,
};

use crate::database::{Database, DatabaseError};

fn port(error: DieselError) -> PortError {
    DatabaseError::Query(error).into()
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn to_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn offset(page: PageRequest) -> i64 {
    i64::try_from(page.offset()).unwrap_or(i64::MAX)
}

/// PostgreSQL implementation of [`NotificationRepository`].
#[derive(Debug, Clone)]
pub struct PgNotificationRepository {
    db: Database,
}

impl PgNotificationRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Deletes expired `idempotency_keys` rows (the worker runs it hourly); returns how
    /// many went.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn purge_expired_idempotency_keys(
        &self,
        now: DateTime<Utc>,
    ) -> Result<u64, PortError> {
        let mut conn = self.db.conn().await?;
        let deleted = diesel::sql_query("DELETE FROM idempotency_keys WHERE expires_at < $1")
            .bind::<Timestamptz, _>(now)
            .execute(&mut conn)
            .await
            .map_err(port)?;
        Ok(deleted as u64)
    }
}

impl NotificationRepository for PgNotificationRepository {
    async fn register_token(
        &self,
        user: UserId,
        fcm_token: &str,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Result<PushToken, PortError> {
        tokens::register_token(&self.db, user, fcm_token, platform, now).await
    }

    async fn deactivate_token(&self, user: UserId, fcm_token: &str) -> Result<(), PortError> {
        tokens::deactivate_token(&self.db, user, fcm_token).await
    }

    async fn deactivate_all_tokens(&self, user: UserId) -> Result<(), PortError> {
        tokens::deactivate_all_tokens(&self.db, user).await
    }

    async fn user_exists(&self, user: UserId) -> Result<bool, PortError> {
        sends::user_exists(&self.db, user).await
    }

    async fn prepare_one(
        &self,
        notification: &NewNotification,
        audit: Option<&SendAudit>,
        now: DateTime<Utc>,
    ) -> Result<PreparedNotification, PortError> {
        sends::prepare_one(&self.db, notification, audit, now).await
    }

    async fn prepare_batch(
        &self,
        notifications: &[NewNotification],
        now: DateTime<Utc>,
    ) -> Result<Vec<PreparedNotification>, PortError> {
        sends::prepare_batch(&self.db, notifications, now).await
    }

    async fn record_results(
        &self,
        deliveries: &[DeliveryRecord],
        notifications: &[SettledNotification],
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        sends::record_results(&self.db, deliveries, notifications, now).await
    }

    async fn claim_stalled(
        &self,
        after: Duration,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<StalledNotification>, PortError> {
        sends::claim_stalled(&self.db, after, limit, now).await
    }

    async fn history(
        &self,
        user: UserId,
        filter: HistoryFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        history::history(&self.db, user, filter, page).await
    }

    async fn find(&self, id: NotificationId) -> Result<Option<NotificationDetail>, PortError> {
        history::find(&self.db, id).await
    }

    async fn mark_read(
        &self,
        id: NotificationId,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        history::mark_read(&self.db, id, owner, now).await
    }

    async fn delete(
        &self,
        id: NotificationId,
        actor: UserId,
        actor_is_admin: bool,
        audit: &AuditStamp,
    ) -> Result<bool, PortError> {
        history::delete(&self.db, id, actor, actor_is_admin, audit).await
    }

    async fn stats(
        &self,
        user: Option<UserId>,
        since: DateTime<Utc>,
    ) -> Result<NotificationStats, PortError> {
        history::stats(&self.db, user, since).await
    }

    async fn logs(
        &self,
        filter: LogFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        history::logs(&self.db, filter, page).await
    }

    async fn claim_outbox(
        &self,
        claim: OutboxClaim,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxEvent>, PortError> {
        outbox::claim_outbox(&self.db, claim, now).await
    }

    async fn complete_outbox_event(
        &self,
        event: OutboxEventId,
        notification: &NewNotification,
        now: DateTime<Utc>,
    ) -> Result<Option<PreparedNotification>, PortError> {
        outbox::complete_outbox_event(&self.db, event, notification, now).await
    }

    async fn settle_outbox_event<F>(
        &self,
        event: OutboxEventId,
        notification: &NewNotification,
        decide: F,
        now: DateTime<Utc>,
    ) -> Result<OutboxSettlement, PortError>
    where
        F: FnOnce(&OutboxContext) -> Option<SkipReason> + Send + 'static,
    {
        settle::settle_outbox_event(&self.db, event, notification, decide, now).await
    }

    async fn preferences(&self, user: UserId) -> Result<NotificationPreferences, PortError> {
        settle::preferences(&self.db, user).await
    }

    async fn update_preferences(
        &self,
        user: UserId,
        patch: PreferencesPatch,
        now: DateTime<Utc>,
    ) -> Result<NotificationPreferences, PortError> {
        settle::update_preferences(&self.db, user, patch, now).await
    }

    async fn retry_outbox_event(
        &self,
        event: OutboxEventId,
        delay: Duration,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        outbox::retry_outbox_event(&self.db, event, delay, error, now).await
    }

    async fn abandon_outbox_event(
        &self,
        event: OutboxEventId,
        max_attempts: i32,
        error: &str,
    ) -> Result<(), PortError> {
        outbox::abandon_outbox_event(&self.db, event, max_attempts, error).await
    }

    async fn count_outbox_pending(&self) -> Result<u64, PortError> {
        outbox::count_outbox_pending(&self.db).await
    }

    async fn count_audience(&self, target: BroadcastTarget) -> Result<u64, PortError> {
        broadcasts::count_audience(&self.db, target).await
    }

    async fn create_broadcast(
        &self,
        broadcast: &NewBroadcast,
        total_users: u64,
        status: BroadcastStatus,
        audit: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Broadcast, PortError> {
        broadcasts::create_broadcast(&self.db, broadcast, total_users, status, audit, now).await
    }

    async fn find_broadcast(&self, id: BroadcastId) -> Result<Option<Broadcast>, PortError> {
        broadcasts::find_broadcast(&self.db, id).await
    }

    async fn claim_broadcast(
        &self,
        stale_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Broadcast>, PortError> {
        broadcasts::claim_broadcast(&self.db, stale_after, now).await
    }

    async fn audience_batch(
        &self,
        broadcast: BroadcastId,
        target: BroadcastTarget,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>, PortError> {
        broadcasts::audience_batch(&self.db, broadcast, target, after, limit).await
    }

    async fn record_broadcast_progress(
        &self,
        id: BroadcastId,
        progress: BroadcastProgress,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        broadcasts::record_broadcast_progress(&self.db, id, progress, now).await
    }

    async fn finish_broadcast(
        &self,
        id: BroadcastId,
        status: BroadcastStatus,
        failure_reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        broadcasts::finish_broadcast(&self.db, id, status, failure_reason, now).await
    }

    async fn requeue_broadcast(&self, id: BroadcastId) -> Result<(), PortError> {
        broadcasts::requeue_broadcast(&self.db, id).await
    }
}
