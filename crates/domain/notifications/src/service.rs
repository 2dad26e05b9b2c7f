//! Notification use cases: push tokens, the send pipeline for admin sends, outbox events
//! and broadcasts, the recovery sweep, history, read marks, deletion, statistics and admin logs.

use std::sync::Arc;

use medico24_kernel::{AuditStamp, BroadcastId, Clock, NotificationId, Page, PageRequest, UserId};
use serde_json::{Value, json};

use crate::events::{NoNotificationEvents, NotificationCreated, NotificationEvents};
use crate::model::{
    Broadcast, BroadcastStatus, BroadcastTarget, HistoryFilter, LogFilter, Notification,
    NotificationDetail, NotificationStats, NotificationStatus, NotificationType, Platform,
    Priority, PushData, PushToken,
};
use crate::outbox::ReminderObserver;
use crate::outcome::{
    NotificationOutcome, PROVIDER_NOT_CONFIGURED, PushOutcome, PushResult, SettledDelivery, settle,
};
use crate::ports::{
    BroadcastProgress, DeliveryRecord, NewBroadcast, NewNotification, NotificationRepository,
    OutboxClaim, OutboxEvent, PortError, PreparedNotification, PushMessage, PushSender, SendAudit,
    SettledNotification, StalledNotification,
};

/// Users per broadcast batch.
pub const BROADCAST_BATCH_USERS: u32 = 500;
/// A `running` broadcast without progress for this long belongs to a dead process.
pub const BROADCAST_STALE_AFTER: chrono::Duration = chrono::Duration::minutes(10);
/// Outbox claim rules.
pub const OUTBOX_CLAIM: OutboxClaim = OutboxClaim {
    limit: 20,
    lease: chrono::Duration::seconds(60),
    max_attempts: 10,
};
/// Deliveries still pending this long after `sent_at` are sent again.
pub const RECOVERY_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// Notifications claimed per recovery sweep.
pub const RECOVERY_BATCH: u32 = 200;

/// Delay before an outbox event whose transaction failed is tried again: `min(2^attempts, 300)`
/// seconds.
pub fn outbox_backoff(attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
    chrono::Duration::seconds(2_i64.pow(exponent).min(300))
}

/// The `outcome` label of `medico24_notifications_sent_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendMetric {
    /// A delivery accepted by FCM.
    Sent,
    /// A delivery FCM did not accept.
    Failed,
    /// A delivery whose token FCM rejected.
    InvalidToken,
    /// A notification whose recipient had no active token.
    NoTokens,
    /// A delivery recorded as failed because the sender is disabled.
    Disabled,
}

impl SendMetric {
    /// The label value.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SendMetric::Sent => "sent",
            SendMetric::Failed => "failed",
            SendMetric::InvalidToken => "invalid_token",
            SendMetric::NoTokens => "no_tokens",
            SendMetric::Disabled => "disabled",
        }
    }
}

/// Told how many deliveries (or, for `NoTokens`, notifications) ended each way; the server
/// turns it into `medico24_notifications_sent_total{outcome}`.
pub type SendObserver = Arc<dyn Fn(SendMetric, u64) + Send + Sync>;

/// An admin's message to one user.
#[derive(Debug, Clone, PartialEq)]
pub struct SendNotification {
    /// Recipient.
    pub user_id: UserId,
    /// Title (1–100).
    pub title: String,
    /// Body (1–500).
    pub body: String,
    /// Data pairs.
    pub data: PushData,
    /// Kind (default `other`).
    pub notification_type: NotificationType,
    /// Priority (default `normal`).
    pub priority: Priority,
}

/// Devices reached and not reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendResult {
    /// Deliveries `sent`.
    pub success_count: u64,
    /// Deliveries `failed` or `invalid_token`.
    pub failure_count: u64,
}

impl SendResult {
    fn add(&mut self, other: SendResult) {
        self.success_count += other.success_count;
        self.failure_count += other.failure_count;
    }
}

/// Why an admin send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No user with the given id.
    #[error("user not found")]
    UserNotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a notification could not be read, marked or deleted.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// Missing, or (for non-admins) someone else's.
    #[error("notification not found")]
    NotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Who is asking: the authenticated user and whether they are an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The user.
    pub id: UserId,
    /// Role `admin`.
    pub is_admin: bool,
}

/// An admin's broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastCommand {
    /// Title (1–100).
    pub title: String,
    /// Body (1–500).
    pub body: String,
    /// Audience.
    pub target: BroadcastTarget,
    /// Data pairs.
    pub data: PushData,
    /// The admin.
    pub created_by: UserId,
}

/// What became of a new broadcast.
#[derive(Debug, Clone, PartialEq)]
pub enum BroadcastStarted {
    /// The audience was small enough to be sent inside the request; the finished row.
    Completed(Broadcast),
    /// Committed as `queued` for the worker.
    Queued(Broadcast),
}

/// What one step of a broadcast run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastStep {
    /// One batch processed and its progress stored; more may follow.
    Progressed(BroadcastProgress),
    /// No user left: the broadcast is now `completed`.
    Completed,
}

/// What one outbox pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxReport {
    /// Events claimed.
    pub claimed: usize,
    /// Events turned into notifications (and sent).
    pub processed: usize,
    /// Events processed without a notification (reminder rules, opt-outs).
    pub skipped: usize,
    /// Events whose transaction failed (released for a later attempt).
    pub retried: usize,
    /// Events given up (unusable payload).
    pub abandoned: usize,
}

/// A notification to send together with what is already known about it (recovery).
pub(crate) struct Job {
    prepared: PreparedNotification,
    settled_before: Vec<SettledDelivery>,
    retries_before: i32,
}

impl From<PreparedNotification> for Job {
    fn from(prepared: PreparedNotification) -> Self {
        Self {
            prepared,
            settled_before: Vec::new(),
            retries_before: 0,
        }
    }
}

impl From<StalledNotification> for Job {
    fn from(stalled: StalledNotification) -> Self {
        Self {
            prepared: stalled.prepared,
            settled_before: stalled.settled,
            retries_before: stalled.retry_count,
        }
    }
}

/// The last 6 characters of a token: the most a log line may show.
pub fn token_tail(token: &str) -> &str {
    let start = token
        .char_indices()
        .rev()
        .nth(5)
        .map_or(0, |(index, _)| index);
    &token[start..]
}

/// The notification use cases over their ports.
pub struct NotificationService<R, S, C> {
    pub(crate) repo: R,
    sender: S,
    pub(crate) clock: C,
    observer: Option<SendObserver>,
    events: Arc<dyn NotificationEvents>,
    pub(crate) reminders: Option<ReminderObserver>,
}

impl<R, S, C> NotificationService<R, S, C>
where
    R: NotificationRepository,
    S: PushSender,
    C: Clock,
{
    /// Wires the service; `observer` is told every delivery outcome.
    pub fn new(repo: R, sender: S, clock: C, observer: Option<SendObserver>) -> Self {
        Self {
            repo,
            sender,
            clock,
            observer,
            events: Arc::new(NoNotificationEvents),
            reminders: None,
        }
    }

    /// Announces every newly created notification to `events`.
    #[must_use]
    pub fn with_events(mut self, events: Arc<dyn NotificationEvents>) -> Self {
        self.events = events;
        self
    }

    /// `observer` is told every reminder sent or skipped.
    #[must_use]
    pub fn with_reminder_observer(mut self, observer: ReminderObserver) -> Self {
        self.reminders = Some(observer);
        self
    }

    /// The repository (the server's workers and tests reach operations that are not use cases).
    pub fn repository(&self) -> &R {
        &self.repo
    }

    /// The push sender.
    pub fn sender(&self) -> &S {
        &self.sender
    }

    /// Whether pushes are actually sent.
    pub fn push_enabled(&self) -> bool {
        self.sender.is_enabled()
    }

    // --- push tokens ---------------------------------------------------------------------------

    /// Registers the caller's device token; the token then belongs to the caller alone.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn register_token(
        &self,
        user: UserId,
        fcm_token: &str,
        platform: Platform,
    ) -> Result<PushToken, PortError> {
        let token = self
            .repo
            .register_token(user, fcm_token, platform, self.clock.now())
            .await?;
        tracing::info!(user.id = %user, token.tail = token_tail(fcm_token), platform = platform.as_str(), "push token registered");
        Ok(token)
    }

    /// Deactivates one of the caller's tokens; unknown tokens are fine.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn deactivate_token(&self, user: UserId, fcm_token: &str) -> Result<(), PortError> {
        self.repo.deactivate_token(user, fcm_token).await
    }

    /// Deactivates every token of the caller.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn deactivate_all_tokens(&self, user: UserId) -> Result<(), PortError> {
        self.repo.deactivate_all_tokens(user).await
    }

    // --- sending -------------------------------------------------------------------------------

    /// An admin's send to one user: the whole pipeline inside the call.
    ///
    /// # Errors
    /// [`SendError::UserNotFound`] for an unknown recipient; [`SendError::Port`] when the
    /// notification could not be created.
    pub async fn send(
        &self,
        command: SendNotification,
        audit: &SendAudit,
    ) -> Result<SendResult, SendError> {
        if !self.repo.user_exists(command.user_id).await? {
            return Err(SendError::UserNotFound);
        }
        let notification = NewNotification {
            id: NotificationId::new_v7(),
            user_id: command.user_id,
            title: command.title,
            body: command.body,
            notification_type: command.notification_type,
            priority: command.priority,
            data: command.data,
            metadata: None,
        };
        let prepared = self
            .repo
            .prepare_one(&notification, Some(audit), self.clock.now())
            .await?;
        Ok(self.deliver_new(vec![Job::from(prepared)]).await)
    }

    /// [`Self::deliver`] for notifications created by this call, announced to their recipients
    /// once their outcomes are recorded.
    pub(crate) async fn deliver_new(&self, jobs: Vec<Job>) -> SendResult {
        let created: Vec<NotificationCreated> = jobs
            .iter()
            .map(|job| NotificationCreated {
                user_id: job.prepared.user_id,
                notification_id: job.prepared.notification_id,
            })
            .collect();
        let result = self.deliver(jobs).await;
        if !created.is_empty() {
            self.events.created(created);
        }
        result
    }

    /// The sending half of the pipeline for many notifications at once: one send of every pending
    /// delivery (the sender bounds concurrency), then one write of every outcome. A failed write is
    /// logged; the deliveries stay `pending` and the recovery sweep sends them again.
    pub(crate) async fn deliver(&self, jobs: Vec<Job>) -> SendResult {
        let no_tokens = jobs
            .iter()
            .filter(|job| job.prepared.targets.is_empty() && job.settled_before.is_empty())
            .count();
        self.observe(SendMetric::NoTokens, no_tokens);
        let jobs: Vec<Job> = jobs
            .into_iter()
            .filter(|job| !job.prepared.targets.is_empty())
            .collect();
        if jobs.is_empty() {
            return SendResult::default();
        }

        let enabled = self.sender.is_enabled();
        let results: Vec<PushResult> = if enabled {
            let messages: Vec<PushMessage> = jobs
                .iter()
                .flat_map(|job| {
                    job.prepared.targets.iter().map(|target| PushMessage {
                        token: target.fcm_token.clone(),
                        title: job.prepared.title.clone(),
                        body: job.prepared.body.clone(),
                        data: job.prepared.data.clone(),
                    })
                })
                .collect();
            self.sender.send_all(&messages).await
        } else {
            let disabled = PushResult::new(PushOutcome::Failed {
                code: PROVIDER_NOT_CONFIGURED.to_owned(),
                reason: PROVIDER_NOT_CONFIGURED.to_owned(),
            });
            let count: usize = jobs.iter().map(|job| job.prepared.targets.len()).sum();
            vec![disabled; count]
        };

        let mut deliveries = Vec::with_capacity(results.len());
        let mut notifications = Vec::with_capacity(jobs.len());
        let mut totals = SendResult::default();
        let (mut sent, mut failed, mut invalid) = (0_usize, 0_usize, 0_usize);
        let mut results = results.into_iter();
        for job in jobs {
            let mut settled = job.settled_before;
            let mut retries = job.retries_before;
            for target in &job.prepared.targets {
                // A sender that returns too few results leaves the rest failed, never pending.
                let result = results.next().unwrap_or_else(|| {
                    PushResult::new(PushOutcome::Failed {
                        code: "internal".to_owned(),
                        reason: "internal: no result from the push sender".to_owned(),
                    })
                });
                match &result.outcome {
                    PushOutcome::Sent { .. } => sent += 1,
                    PushOutcome::InvalidToken { .. } => {
                        invalid += 1;
                        tracing::info!(
                            user.id = %job.prepared.user_id,
                            token.tail = token_tail(&target.fcm_token),
                            "push token rejected by FCM; deactivating it"
                        );
                    }
                    PushOutcome::Failed { .. } => failed += 1,
                }
                retries = retries.saturating_add(i32::try_from(result.retries).unwrap_or(i32::MAX));
                settled.push(result.settled());
                deliveries.push(DeliveryRecord {
                    delivery_id: target.delivery_id,
                    push_token_id: target.push_token_id,
                    status: result.delivery_status(),
                    fcm_message_id: match &result.outcome {
                        PushOutcome::Sent { message_id } => Some(message_id.clone()),
                        _ => None,
                    },
                    failure_reason: result.failure_reason(),
                });
            }
            let outcome = if enabled {
                settle(&settled)
            } else {
                NotificationOutcome {
                    status: NotificationStatus::Failed,
                    failure_reason: Some(PROVIDER_NOT_CONFIGURED.to_owned()),
                    delivered: false,
                }
            };
            totals.add(SendResult {
                success_count: settled.iter().filter(|d| d.status.is_success()).count() as u64,
                failure_count: settled.iter().filter(|d| d.status.is_failure()).count() as u64,
            });
            notifications.push(SettledNotification {
                notification_id: job.prepared.notification_id,
                outcome,
                retry_count: retries,
            });
        }
        if enabled {
            self.observe(SendMetric::Sent, sent);
            self.observe(SendMetric::Failed, failed);
            self.observe(SendMetric::InvalidToken, invalid);
        } else {
            self.observe(SendMetric::Disabled, failed);
        }

        if let Err(error) = self
            .repo
            .record_results(&deliveries, &notifications, self.clock.now())
            .await
        {
            tracing::error!(
                error = %error,
                deliveries = deliveries.len(),
                "could not record push outcomes; the recovery sweep will send these deliveries again"
            );
        }
        totals
    }

    fn observe(&self, metric: SendMetric, count: usize) {
        if count > 0
            && let Some(observer) = &self.observer
        {
            observer(metric, count as u64);
        }
    }

    // --- the outbox and the recovery sweep -----------------------------------------------------

    /// The recovery sweep: sends again every delivery left `pending` more than five minutes
    /// after its notification was committed (a crash between commit and send). Returns how many
    /// notifications it resumed.
    ///
    /// # Errors
    /// [`PortError`] when the claim fails.
    pub async fn recover_stalled(&self) -> Result<usize, PortError> {
        let stalled = self
            .repo
            .claim_stalled(RECOVERY_AFTER, RECOVERY_BATCH, self.clock.now())
            .await?;
        let count = stalled.len();
        if count > 0 {
            tracing::warn!(notifications = count, "resending deliveries left pending");
            self.deliver(stalled.into_iter().map(Job::from).collect())
                .await;
        }
        Ok(count)
    }

    /// Events not yet processed.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn outbox_pending(&self) -> Result<u64, PortError> {
        self.repo.count_outbox_pending().await
    }

    // --- broadcasts ----------------------------------------------------------------------------

    /// Creates a broadcast (audited). An audience of at most `sync_limit` users is sent inside
    /// the call; a larger one is committed `queued` for the worker.
    ///
    /// # Errors
    /// [`PortError`] when the broadcast cannot be created or its run fails on infrastructure.
    pub async fn broadcast(
        &self,
        command: BroadcastCommand,
        sync_limit: u64,
        audit: &AuditStamp,
    ) -> Result<BroadcastStarted, PortError> {
        let total = self.repo.count_audience(command.target).await?;
        let synchronous = total <= sync_limit;
        let new = NewBroadcast {
            id: BroadcastId::new_v7(),
            title: command.title,
            body: command.body,
            target: command.target,
            data: command.data,
            created_by: command.created_by,
        };
        let status = if synchronous {
            BroadcastStatus::Running
        } else {
            BroadcastStatus::Queued
        };
        let broadcast = self
            .repo
            .create_broadcast(&new, total, status, audit, self.clock.now())
            .await?;
        tracing::info!(broadcast.id = %broadcast.id, target = new.target.as_str(), total_users = total, synchronous, "broadcast created");
        if !synchronous {
            return Ok(BroadcastStarted::Queued(broadcast));
        }
        let finished = self.run_broadcast(broadcast).await?;
        Ok(BroadcastStarted::Completed(finished))
    }

    /// A broadcast by id.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn find_broadcast(&self, id: BroadcastId) -> Result<Option<Broadcast>, PortError> {
        self.repo.find_broadcast(id).await
    }

    /// Claims the next broadcast to run (queued, or stalled for ten minutes).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn claim_broadcast(&self) -> Result<Option<Broadcast>, PortError> {
        let claimed = self
            .repo
            .claim_broadcast(BROADCAST_STALE_AFTER, self.clock.now())
            .await?;
        if let Some(broadcast) = &claimed {
            tracing::info!(broadcast.id = %broadcast.id, processed_users = broadcast.processed_users, "broadcast claimed");
        }
        Ok(claimed)
    }

    /// Runs a claimed broadcast to its end (batch after batch) and returns the final row.
    ///
    /// # Errors
    /// [`PortError`] when a batch fails on infrastructure (the broadcast is then `failed` when
    /// the failure is unexpected, or left for resumption when the database is unavailable).
    pub async fn run_broadcast(&self, mut broadcast: Broadcast) -> Result<Broadcast, PortError> {
        loop {
            match self.advance_broadcast(&mut broadcast).await {
                Ok(BroadcastStep::Progressed(_)) => {}
                Ok(BroadcastStep::Completed) => break,
                Err(error) => {
                    self.abort_broadcast(&broadcast, &error).await;
                    return Err(error);
                }
            }
        }
        Ok(self
            .repo
            .find_broadcast(broadcast.id)
            .await?
            .unwrap_or(broadcast))
    }

    /// Processes the next batch of 500 users after the broadcast's cursor (each through the send
    /// pipeline as `system_announcement`/`normal`) and stores the progress; when no user is left,
    /// marks the broadcast `completed`. `broadcast` is updated in place.
    ///
    /// # Errors
    /// [`PortError`] when the audience or the progress cannot be read or written.
    pub async fn advance_broadcast(
        &self,
        broadcast: &mut Broadcast,
    ) -> Result<BroadcastStep, PortError> {
        let users = self
            .repo
            .audience_batch(
                broadcast.id,
                broadcast.target,
                broadcast.cursor_user_id,
                BROADCAST_BATCH_USERS,
            )
            .await?;
        let Some(&cursor) = users.last() else {
            let now = self.clock.now();
            self.repo
                .finish_broadcast(broadcast.id, BroadcastStatus::Completed, None, now)
                .await?;
            broadcast.status = BroadcastStatus::Completed;
            broadcast.completed_at = Some(now);
            tracing::info!(broadcast.id = %broadcast.id, processed_users = broadcast.processed_users, success_count = broadcast.success_count, failure_count = broadcast.failure_count, "broadcast completed");
            return Ok(BroadcastStep::Completed);
        };

        let data = PushData::from_json_lenient(broadcast.data.as_ref());
        let metadata = json!({ "broadcast_id": broadcast.id.to_string() });
        let notifications: Vec<NewNotification> = users
            .iter()
            .map(|&user_id| NewNotification {
                id: NotificationId::new_v7(),
                user_id,
                title: broadcast.title.clone(),
                body: broadcast.body.clone(),
                notification_type: NotificationType::SystemAnnouncement,
                priority: Priority::Normal,
                data: data.clone(),
                metadata: Some(metadata.clone()),
            })
            .collect();
        let now = self.clock.now();
        let mut unwritten = 0_u64;
        let prepared = match self.repo.prepare_batch(&notifications, now).await {
            Ok(prepared) => prepared,
            Err(error) => {
                // One user's rows must not sink the batch: write them one by one.
                tracing::warn!(broadcast.id = %broadcast.id, error = %error, "broadcast batch could not be written at once; writing user by user");
                let mut prepared = Vec::with_capacity(notifications.len());
                for notification in &notifications {
                    match self.repo.prepare_one(notification, None, now).await {
                        Ok(one) => prepared.push(one),
                        Err(error) => {
                            tracing::warn!(broadcast.id = %broadcast.id, user.id = %notification.user_id, error = %error, "broadcast notification could not be written; counted as failed");
                            unwritten += 1;
                        }
                    }
                }
                prepared
            }
        };
        let result = self
            .deliver_new(prepared.into_iter().map(Job::from).collect())
            .await;
        let progress = BroadcastProgress {
            cursor,
            users: users.len() as u64,
            success: result.success_count,
            failure: result.failure_count + unwritten,
        };
        self.repo
            .record_broadcast_progress(broadcast.id, progress, self.clock.now())
            .await?;
        broadcast.cursor_user_id = Some(cursor);
        broadcast.processed_users += to_i64(progress.users);
        broadcast.success_count += to_i64(progress.success);
        broadcast.failure_count += to_i64(progress.failure);
        Ok(BroadcastStep::Progressed(progress))
    }

    /// Gives a running broadcast back to the queue (a worker stopping between batches).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn requeue_broadcast(&self, broadcast: &Broadcast) -> Result<(), PortError> {
        self.repo.requeue_broadcast(broadcast.id).await
    }

    /// After a failed batch: an unavailable database leaves the broadcast `running` (it is
    /// resumed once stale); anything else ends it `failed` with the reason.
    pub async fn abort_broadcast(&self, broadcast: &Broadcast, error: &PortError) {
        match error {
            PortError::Unavailable(_) => {
                tracing::warn!(broadcast.id = %broadcast.id, error = %error, "broadcast interrupted; it will be resumed");
            }
            PortError::Unexpected(_) => {
                tracing::error!(broadcast.id = %broadcast.id, error = %error, "broadcast failed");
                if let Err(write) = self
                    .repo
                    .finish_broadcast(
                        broadcast.id,
                        BroadcastStatus::Failed,
                        Some("broadcast aborted by an unexpected error"),
                        self.clock.now(),
                    )
                    .await
                {
                    tracing::error!(broadcast.id = %broadcast.id, error = %write, "could not mark the broadcast failed");
                }
            }
        }
    }

    // --- history -------------------------------------------------------------------------------

    /// A page of `user`'s notifications, newest first.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn history(
        &self,
        user: UserId,
        filter: HistoryFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        self.repo.history(user, filter, page).await
    }

    /// A notification with its deliveries, for its owner or an admin.
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] when missing or someone else's (for non-admins).
    pub async fn detail(
        &self,
        id: NotificationId,
        viewer: Viewer,
    ) -> Result<NotificationDetail, NotificationError> {
        match self.repo.find(id).await? {
            Some(detail) if viewer.is_admin || detail.notification.user_id == viewer.id => {
                Ok(detail)
            }
            _ => Err(NotificationError::NotFound),
        }
    }

    /// Marks the caller's own notification read; admins get no special rights here.
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] unless the caller owns it.
    pub async fn mark_read(
        &self,
        id: NotificationId,
        owner: UserId,
    ) -> Result<(), NotificationError> {
        if self.repo.mark_read(id, owner, self.clock.now()).await? {
            Ok(())
        } else {
            Err(NotificationError::NotFound)
        }
    }

    /// Deletes a notification: the owner's own, or any for an admin (audited).
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] when missing or someone else's (for non-admins).
    pub async fn delete(
        &self,
        id: NotificationId,
        viewer: Viewer,
        audit: &AuditStamp,
    ) -> Result<(), NotificationError> {
        if self
            .repo
            .delete(id, viewer.id, viewer.is_admin, audit)
            .await?
        {
            Ok(())
        } else {
            Err(NotificationError::NotFound)
        }
    }

    /// Counts over the last `days` days: the caller's notifications, or everyone's for an
    /// admin.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn stats(&self, viewer: Viewer, days: u32) -> Result<NotificationStats, PortError> {
        let since = self.clock.now() - chrono::Duration::days(i64::from(days));
        let scope = (!viewer.is_admin).then_some(viewer.id);
        self.repo.stats(scope, since).await
    }

    /// Admin logs of every notification.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn logs(
        &self,
        filter: LogFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        self.repo.logs(filter, page).await
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The notification an outbox event carries: payload `{title, body, notification_type,
/// priority, data}` as the appointments domain renders it. `notification_type` and
/// `priority` default to `other`/`normal` when absent; `data` values that are not strings are
/// converted. Title and body are required.
///
/// # Errors
/// The reason the payload is unusable.
pub fn outbox_notification(event: &OutboxEvent) -> Result<NewNotification, &'static str> {
    let payload = event
        .payload
        .as_object()
        .ok_or("payload is not a JSON object")?;
    let text = |name: &str| payload.get(name).and_then(Value::as_str);
    let title = text("title")
        .filter(|t| !t.is_empty())
        .ok_or("payload has no title")?;
    let body = text("body")
        .filter(|b| !b.is_empty())
        .ok_or("payload has no body")?;
    let notification_type = match text("notification_type") {
        None => NotificationType::Other,
        Some(kind) => kind
            .parse()
            .map_err(|_| "payload has an unknown notification_type")?,
    };
    let priority = match text("priority") {
        None => Priority::Normal,
        Some(priority) => priority
            .parse()
            .map_err(|_| "payload has an unknown priority")?,
    };
    Ok(NewNotification {
        id: NotificationId::new_v7(),
        user_id: event.user_id,
        title: title.to_owned(),
        body: body.to_owned(),
        notification_type,
        priority,
        data: PushData::from_json_lenient(payload.get("data")),
        metadata: Some(json!({ "outbox_id": event.id.to_string() })),
    })
}
