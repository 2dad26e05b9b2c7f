//! In-memory fakes of the notifications ports, for unit tests here and handler tests in the
//! server: [`InMemoryNotifications`] behaves like the PostgreSQL adapter (same outcomes for the
//! same situations) and [`FakePushSender`] answers like FCM would, scripted per token. The
//! [`contract`] checks run against the fake and the adapter alike so the two cannot drift.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use medico24_kernel::{
    AuditStamp, BroadcastId, NotificationId, Page, PageRequest, PushTokenId, Role, UserId,
};
use serde_json::Value;

pub use crate::events::RecordingNotificationEvents;

use crate::model::{
    Broadcast, BroadcastStatus, BroadcastTarget, Delivery, DeliveryId, DeliveryStatus,
    HistoryFilter, LogFilter, Notification, NotificationDetail, NotificationStats,
    NotificationStatus, OutboxEventId, Platform, PushToken,
};
use crate::outcome::{
    NO_ACTIVE_TOKENS, PushOutcome, PushResult, SettledDelivery, TOKEN_DEACTIVATED,
};
use crate::ports::{
    BroadcastProgress, DeliveryRecord, NewBroadcast, NewNotification, NotificationRepository,
    OutboxClaim, OutboxEvent, OutboxSettlement, PortError, PreparedNotification, PushMessage,
    PushSender, PushTarget, SendAudit, SettledNotification, StalledNotification,
};
use crate::preferences::{NotificationPreferences, OutboxContext, PreferencesPatch, SkipReason};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn page_of<T>(rows: Vec<T>, request: PageRequest) -> Page<T> {
    let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let offset = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let size = usize::try_from(request.page_size()).unwrap_or(usize::MAX);
    Page {
        items: rows.into_iter().skip(offset).take(size).collect(),
        total,
        request,
        next: None,
    }
}

/// An audit event written by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAuditEvent {
    /// Who, from where.
    pub stamp: AuditStamp,
    /// `notification.send`, `broadcast.create`, …
    pub action: String,
    /// `notification` or `broadcast`.
    pub resource_type: String,
    /// The affected id.
    pub resource_id: String,
}

/// A `notification_outbox` row in the fake.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeOutboxRow {
    /// Row id.
    pub id: OutboxEventId,
    /// Event type.
    pub event_type: String,
    /// Recipient.
    pub user_id: UserId,
    /// Payload.
    pub payload: Value,
    /// Insertion time.
    pub created_at: DateTime<Utc>,
    /// Not picked before.
    pub available_at: DateTime<Utc>,
    /// Claims so far.
    pub attempts: i32,
    /// Lease.
    pub locked_until: Option<DateTime<Utc>>,
    /// Completion.
    pub processed_at: Option<DateTime<Utc>>,
    /// The notification it produced.
    pub notification_id: Option<NotificationId>,
    /// Last failure.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct FakeUser {
    role: Role,
    is_active: bool,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<UserId, FakeUser>,
    tokens: Vec<PushToken>,
    notifications: BTreeMap<NotificationId, Notification>,
    deliveries: Vec<Delivery>,
    outbox: Vec<FakeOutboxRow>,
    broadcasts: BTreeMap<BroadcastId, Broadcast>,
    audit: Vec<FakeAuditEvent>,
    unavailable: bool,
    failing_users: HashSet<UserId>,
    preferences: HashMap<UserId, NotificationPreferences>,
}

/// The notifications tables (and the `users` rows they need) in memory, with the semantics of
/// the PostgreSQL adapter. Clones share one state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryNotifications {
    state: Arc<Mutex<State>>,
}

impl InMemoryNotifications {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an active user with `role`; returns its id.
    pub fn add_user(&self, role: Role) -> UserId {
        let id = UserId::new_v7();
        lock(&self.state).users.insert(
            id,
            FakeUser {
                role,
                is_active: true,
            },
        );
        id
    }

    /// Deactivates a user (they leave broadcast audiences).
    pub fn deactivate_user(&self, id: UserId) {
        if let Some(user) = lock(&self.state).users.get_mut(&id) {
            user.is_active = false;
        }
    }

    /// Every token row, in insertion order.
    pub fn tokens(&self) -> Vec<PushToken> {
        lock(&self.state).tokens.clone()
    }

    /// The notification with `id`, read directly.
    pub fn notification(&self, id: NotificationId) -> Option<Notification> {
        lock(&self.state).notifications.get(&id).cloned()
    }

    /// Every notification, by id.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.state).notifications.values().cloned().collect()
    }

    /// Every delivery, in insertion order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.state).deliveries.clone()
    }

    /// Every outbox row, in insertion order.
    pub fn outbox(&self) -> Vec<FakeOutboxRow> {
        lock(&self.state).outbox.clone()
    }

    /// Every audit event, in the order written.
    pub fn audit_events(&self) -> Vec<FakeAuditEvent> {
        lock(&self.state).audit.clone()
    }

    /// Inserts an outbox row as the appointments adapter would; returns its id.
    pub fn insert_outbox(
        &self,
        user: UserId,
        event_type: &str,
        payload: Value,
        now: DateTime<Utc>,
    ) -> OutboxEventId {
        let id = OutboxEventId::from_uuid(uuid::Uuid::now_v7());
        lock(&self.state).outbox.push(FakeOutboxRow {
            id,
            event_type: event_type.to_owned(),
            user_id: user,
            payload,
            created_at: now,
            available_at: now,
            attempts: 0,
            locked_until: None,
            processed_at: None,
            notification_id: None,
            last_error: None,
        });
        id
    }

    /// Changes an outbox row directly (tests move leases into the past).
    pub fn edit_outbox(&self, id: OutboxEventId, edit: impl FnOnce(&mut FakeOutboxRow)) {
        if let Some(row) = lock(&self.state).outbox.iter_mut().find(|r| r.id == id) {
            edit(row);
        }
    }

    /// Changes a notification directly (tests move `sent_at` into the past).
    pub fn edit_notification(&self, id: NotificationId, edit: impl FnOnce(&mut Notification)) {
        if let Some(row) = lock(&self.state).notifications.get_mut(&id) {
            edit(row);
        }
    }

    /// Changes a broadcast directly (tests age `updated_at`).
    pub fn edit_broadcast(&self, id: BroadcastId, edit: impl FnOnce(&mut Broadcast)) {
        if let Some(row) = lock(&self.state).broadcasts.get_mut(&id) {
            edit(row);
        }
    }

    /// While `on`, every port call fails with [`PortError::Unavailable`] and writes nothing.
    pub fn fail_with_unavailable(&self, on: bool) {
        lock(&self.state).unavailable = on;
    }

    /// Writing a notification for `user` fails with [`PortError::Unexpected`] (alone or in a
    /// batch), as a per-row database error would.
    pub fn fail_writes_for(&self, user: UserId) {
        lock(&self.state).failing_users.insert(user);
    }

    fn enter(&self) -> Result<MutexGuard<'_, State>, PortError> {
        let state = lock(&self.state);
        if state.unavailable {
            Err(PortError::Unavailable(
                "in-memory store switched off".into(),
            ))
        } else {
            Ok(state)
        }
    }
}

impl State {
    fn active_tokens(&self, user: UserId) -> Vec<PushToken> {
        let mut tokens: Vec<PushToken> = self
            .tokens
            .iter()
            .filter(|t| t.user_id == user && t.is_active)
            .cloned()
            .collect();
        tokens.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        tokens
    }

    fn check_writable(&self, user: UserId) -> Result<(), PortError> {
        if self.failing_users.contains(&user) {
            Err(PortError::Unexpected("row rejected".into()))
        } else {
            Ok(())
        }
    }

    /// Steps 1–4 for one notification (the caller checked writability).
    fn prepare(&mut self, new: &NewNotification, now: DateTime<Utc>) -> PreparedNotification {
        let tokens = self.active_tokens(new.user_id);
        let has_tokens = !tokens.is_empty();
        self.notifications.insert(
            new.id,
            Notification {
                id: new.id,
                user_id: new.user_id,
                title: new.title.clone(),
                body: new.body.clone(),
                notification_type: new.notification_type,
                priority: new.priority,
                data: Some(new.data.to_json()),
                status: if has_tokens {
                    NotificationStatus::Sent
                } else {
                    NotificationStatus::Failed
                },
                sent_at: has_tokens.then_some(now),
                delivered_at: None,
                read_at: None,
                failure_reason: (!has_tokens).then(|| NO_ACTIVE_TOKENS.to_owned()),
                retry_count: 0,
                max_retries: 3,
                scheduled_for: None,
                expires_at: None,
                metadata: new.metadata.clone(),
                created_at: now,
                updated_at: now,
            },
        );
        let mut targets = Vec::with_capacity(tokens.len());
        for token in tokens {
            let delivery_id = DeliveryId::from_uuid(uuid::Uuid::now_v7());
            self.deliveries.push(Delivery {
                id: delivery_id,
                notification_id: new.id,
                push_token_id: token.id,
                fcm_message_id: None,
                delivery_status: DeliveryStatus::Pending,
                delivered_at: None,
                failure_reason: None,
                created_at: now,
            });
            targets.push(PushTarget {
                delivery_id,
                push_token_id: token.id,
                fcm_token: token.fcm_token,
            });
        }
        PreparedNotification {
            notification_id: new.id,
            user_id: new.user_id,
            title: new.title.clone(),
            body: new.body.clone(),
            data: new.data.clone(),
            targets,
        }
    }

    fn audit(&mut self, stamp: &AuditStamp, action: &str, resource_type: &str, id: String) {
        self.audit.push(FakeAuditEvent {
            stamp: stamp.clone(),
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: id,
        });
    }

    /// Active, of the target's role, and not opted out of system announcements.
    fn in_audience(&self, id: &UserId, user: &FakeUser, target: BroadcastTarget) -> bool {
        user.is_active
            && target.role().is_none_or(|role| role == user.role)
            && self
                .preferences
                .get(id)
                .is_none_or(|preferences| preferences.system_announcements)
    }
}

impl NotificationRepository for InMemoryNotifications {
    async fn register_token(
        &self,
        user: UserId,
        fcm_token: &str,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Result<PushToken, PortError> {
        let mut state = self.enter()?;
        for token in state.tokens.iter_mut() {
            let other_owner = token.fcm_token == fcm_token && token.user_id != user;
            let same_platform =
                token.user_id == user && token.platform == platform && token.fcm_token != fcm_token;
            if token.is_active && (other_owner || same_platform) {
                token.is_active = false;
            }
        }
        if let Some(token) = state
            .tokens
            .iter_mut()
            .find(|t| t.user_id == user && t.fcm_token == fcm_token)
        {
            token.is_active = true;
            token.platform = platform;
            token.last_used_at = Some(now);
            return Ok(token.clone());
        }
        let token = PushToken {
            id: PushTokenId::new_v7(),
            user_id: user,
            fcm_token: fcm_token.to_owned(),
            platform,
            is_active: true,
            last_used_at: Some(now),
            created_at: now,
        };
        state.tokens.push(token.clone());
        Ok(token)
    }

    async fn deactivate_token(&self, user: UserId, fcm_token: &str) -> Result<(), PortError> {
        let mut state = self.enter()?;
        for token in state
            .tokens
            .iter_mut()
            .filter(|t| t.user_id == user && t.fcm_token == fcm_token)
        {
            token.is_active = false;
        }
        Ok(())
    }

    async fn deactivate_all_tokens(&self, user: UserId) -> Result<(), PortError> {
        let mut state = self.enter()?;
        for token in state.tokens.iter_mut().filter(|t| t.user_id == user) {
            token.is_active = false;
        }
        Ok(())
    }

    async fn user_exists(&self, user: UserId) -> Result<bool, PortError> {
        Ok(self.enter()?.users.contains_key(&user))
    }

    async fn prepare_one(
        &self,
        notification: &NewNotification,
        audit: Option<&SendAudit>,
        now: DateTime<Utc>,
    ) -> Result<PreparedNotification, PortError> {
        let mut state = self.enter()?;
        state.check_writable(notification.user_id)?;
        let prepared = state.prepare(notification, now);
        if let Some(audit) = audit {
            state.audit(
                &audit.stamp,
                audit.action,
                "notification",
                notification.id.to_string(),
            );
        }
        Ok(prepared)
    }

    async fn prepare_batch(
        &self,
        notifications: &[NewNotification],
        now: DateTime<Utc>,
    ) -> Result<Vec<PreparedNotification>, PortError> {
        let mut state = self.enter()?;
        for notification in notifications {
            state.check_writable(notification.user_id)?;
        }
        Ok(notifications
            .iter()
            .map(|notification| state.prepare(notification, now))
            .collect())
    }

    async fn record_results(
        &self,
        deliveries: &[DeliveryRecord],
        notifications: &[SettledNotification],
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut state = self.enter()?;
        for record in deliveries {
            if let Some(row) = state
                .deliveries
                .iter_mut()
                .find(|d| d.id == record.delivery_id)
            {
                row.delivery_status = record.status;
                row.fcm_message_id.clone_from(&record.fcm_message_id);
                row.failure_reason.clone_from(&record.failure_reason);
                if record.status == DeliveryStatus::Sent {
                    row.delivered_at = Some(now);
                }
            }
            if record.status == DeliveryStatus::InvalidToken
                && let Some(token) = state
                    .tokens
                    .iter_mut()
                    .find(|t| t.id == record.push_token_id)
            {
                token.is_active = false;
            }
        }
        for settled in notifications {
            if let Some(row) = state.notifications.get_mut(&settled.notification_id) {
                if row.status != NotificationStatus::Read {
                    row.status = settled.outcome.status;
                }
                row.failure_reason
                    .clone_from(&settled.outcome.failure_reason);
                if settled.outcome.delivered {
                    row.delivered_at = Some(now);
                }
                row.retry_count = settled.retry_count;
                row.updated_at = now;
            }
        }
        Ok(())
    }

    async fn claim_stalled(
        &self,
        after: Duration,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<StalledNotification>, PortError> {
        let mut state = self.enter()?;
        let stalled_ids: Vec<NotificationId> = state
            .notifications
            .values()
            .filter(|n| n.sent_at.is_some_and(|sent| sent < now - after))
            .filter(|n| {
                state.deliveries.iter().any(|d| {
                    d.notification_id == n.id && d.delivery_status == DeliveryStatus::Pending
                })
            })
            .map(|n| n.id)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        let mut claimed = Vec::with_capacity(stalled_ids.len());
        for id in stalled_ids {
            // Pending deliveries whose token went inactive are not sent (the token may belong to
            // another user by now).
            let inactive: HashSet<PushTokenId> = state
                .tokens
                .iter()
                .filter(|t| !t.is_active)
                .map(|t| t.id)
                .collect();
            for delivery in state.deliveries.iter_mut().filter(|d| {
                d.notification_id == id
                    && d.delivery_status == DeliveryStatus::Pending
                    && inactive.contains(&d.push_token_id)
            }) {
                delivery.delivery_status = DeliveryStatus::Failed;
                delivery.failure_reason = Some(TOKEN_DEACTIVATED.to_owned());
            }
            let mut targets = Vec::new();
            let mut settled = Vec::new();
            let mut deliveries: Vec<&Delivery> = state
                .deliveries
                .iter()
                .filter(|d| d.notification_id == id)
                .collect();
            deliveries.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            for delivery in deliveries {
                if delivery.delivery_status == DeliveryStatus::Pending {
                    let token = state
                        .tokens
                        .iter()
                        .find(|t| t.id == delivery.push_token_id)
                        .map(|t| t.fcm_token.clone())
                        .unwrap_or_default();
                    targets.push(PushTarget {
                        delivery_id: delivery.id,
                        push_token_id: delivery.push_token_id,
                        fcm_token: token,
                    });
                } else {
                    settled.push(SettledDelivery::from_stored(
                        delivery.delivery_status,
                        delivery.failure_reason.as_deref(),
                    ));
                }
            }
            let Some(notification) = state.notifications.get_mut(&id) else {
                continue;
            };
            notification.sent_at = Some(now);
            claimed.push(StalledNotification {
                prepared: PreparedNotification {
                    notification_id: id,
                    user_id: notification.user_id,
                    title: notification.title.clone(),
                    body: notification.body.clone(),
                    data: crate::model::PushData::from_json_lenient(notification.data.as_ref()),
                    targets,
                },
                settled,
                retry_count: notification.retry_count,
            });
        }
        Ok(claimed)
    }

    async fn history(
        &self,
        user: UserId,
        filter: HistoryFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        let state = self.enter()?;
        let mut rows: Vec<Notification> = state
            .notifications
            .values()
            .filter(|n| n.user_id == user)
            .filter(|n| filter.status.is_none_or(|s| n.status == s))
            .filter(|n| {
                filter
                    .notification_type
                    .is_none_or(|t| n.notification_type == t)
            })
            .cloned()
            .collect();
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(page_of(rows, page))
    }

    async fn find(&self, id: NotificationId) -> Result<Option<NotificationDetail>, PortError> {
        let state = self.enter()?;
        Ok(state.notifications.get(&id).map(|notification| {
            let mut deliveries: Vec<Delivery> = state
                .deliveries
                .iter()
                .filter(|d| d.notification_id == id)
                .cloned()
                .collect();
            deliveries.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            NotificationDetail {
                notification: notification.clone(),
                deliveries,
            }
        }))
    }

    async fn mark_read(
        &self,
        id: NotificationId,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut state = self.enter()?;
        match state.notifications.get_mut(&id) {
            Some(row) if row.user_id == owner => {
                row.status = NotificationStatus::Read;
                row.read_at = row.read_at.or(Some(now));
                row.updated_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete(
        &self,
        id: NotificationId,
        actor: UserId,
        actor_is_admin: bool,
        audit: &AuditStamp,
    ) -> Result<bool, PortError> {
        let mut state = self.enter()?;
        let Some(owner) = state.notifications.get(&id).map(|n| n.user_id) else {
            return Ok(false);
        };
        if owner != actor && !actor_is_admin {
            return Ok(false);
        }
        state.notifications.remove(&id);
        state.deliveries.retain(|d| d.notification_id != id);
        if owner != actor {
            state.audit(audit, "notification.delete", "notification", id.to_string());
        }
        Ok(true)
    }

    async fn stats(
        &self,
        user: Option<UserId>,
        since: DateTime<Utc>,
    ) -> Result<NotificationStats, PortError> {
        let state = self.enter()?;
        let mut stats = NotificationStats::default();
        for n in state
            .notifications
            .values()
            .filter(|n| user.is_none_or(|u| n.user_id == u) && n.created_at >= since)
        {
            stats.total_count += 1;
            *stats
                .by_status
                .entry(n.status.as_str().to_owned())
                .or_default() += 1;
            *stats
                .by_type
                .entry(n.notification_type.as_str().to_owned())
                .or_default() += 1;
            *stats
                .by_priority
                .entry(n.priority.as_str().to_owned())
                .or_default() += 1;
        }
        Ok(stats)
    }

    async fn logs(
        &self,
        filter: LogFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        let state = self.enter()?;
        let mut rows: Vec<Notification> = state
            .notifications
            .values()
            .filter(|n| filter.user_id.is_none_or(|u| n.user_id == u))
            .filter(|n| filter.status.is_none_or(|s| n.status == s))
            .filter(|n| {
                filter
                    .from
                    .is_none_or(|f| n.sent_at.is_some_and(|s| s >= f))
            })
            .filter(|n| filter.to.is_none_or(|t| n.sent_at.is_some_and(|s| s <= t)))
            .cloned()
            .collect();
        rows.sort_by(|a, b| {
            // sent_at DESC NULLS LAST, created_at DESC, id DESC
            match (a.sent_at, b.sent_at) {
                (Some(x), Some(y)) => y.cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then(b.created_at.cmp(&a.created_at))
            .then(b.id.cmp(&a.id))
        });
        Ok(page_of(rows, page))
    }

    async fn claim_outbox(
        &self,
        claim: OutboxClaim,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxEvent>, PortError> {
        let mut state = self.enter()?;
        let mut candidates: Vec<&mut FakeOutboxRow> = state
            .outbox
            .iter_mut()
            .filter(|row| {
                row.processed_at.is_none()
                    && row.available_at <= now
                    && row.attempts < claim.max_attempts
                    && row.locked_until.is_none_or(|until| until < now)
            })
            .collect();
        candidates.sort_by_key(|row| row.created_at);
        Ok(candidates
            .into_iter()
            .take(usize::try_from(claim.limit).unwrap_or(usize::MAX))
            .map(|row| {
                row.locked_until = Some(now + claim.lease);
                row.attempts += 1;
                OutboxEvent {
                    id: row.id,
                    event_type: row.event_type.clone(),
                    user_id: row.user_id,
                    payload: row.payload.clone(),
                    attempts: row.attempts,
                }
            })
            .collect())
    }

    async fn complete_outbox_event(
        &self,
        event: OutboxEventId,
        notification: &NewNotification,
        now: DateTime<Utc>,
    ) -> Result<Option<PreparedNotification>, PortError> {
        let mut state = self.enter()?;
        let processed = state
            .outbox
            .iter()
            .find(|row| row.id == event)
            .is_none_or(|row| row.processed_at.is_some());
        if processed {
            return Ok(None);
        }
        state.check_writable(notification.user_id)?;
        let prepared = state.prepare(notification, now);
        if let Some(row) = state.outbox.iter_mut().find(|row| row.id == event) {
            row.processed_at = Some(now);
            row.notification_id = Some(notification.id);
            row.locked_until = None;
        }
        Ok(Some(prepared))
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
        // This store has no appointments: reminders are not modelled, only preferences.
        let context = {
            let state = self.enter()?;
            let Some(row) = state
                .outbox
                .iter()
                .find(|row| row.id == event && row.processed_at.is_none())
                .filter(|row| row.available_at <= now)
            else {
                return Ok(OutboxSettlement::Gone);
            };
            OutboxContext {
                event_type: row.event_type.clone(),
                preferences: state
                    .preferences
                    .get(&row.user_id)
                    .copied()
                    .unwrap_or_default(),
                reminder: None,
            }
        };
        if let Some(reason) = decide(&context) {
            let mut state = self.enter()?;
            if let Some(row) = state.outbox.iter_mut().find(|row| row.id == event) {
                row.processed_at = Some(now);
                row.locked_until = None;
            }
            return Ok(OutboxSettlement::Skipped { reason, context });
        }
        Ok(
            match self.complete_outbox_event(event, notification, now).await? {
                Some(prepared) => OutboxSettlement::Sent { prepared, context },
                None => OutboxSettlement::Gone,
            },
        )
    }

    async fn preferences(&self, user: UserId) -> Result<NotificationPreferences, PortError> {
        Ok(self
            .enter()?
            .preferences
            .get(&user)
            .copied()
            .unwrap_or_default())
    }

    async fn update_preferences(
        &self,
        user: UserId,
        patch: PreferencesPatch,
        _now: DateTime<Utc>,
    ) -> Result<NotificationPreferences, PortError> {
        let mut state = self.enter()?;
        let entry = state.preferences.entry(user).or_default();
        *entry = entry.patched(patch);
        Ok(*entry)
    }

    async fn retry_outbox_event(
        &self,
        event: OutboxEventId,
        delay: Duration,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut state = self.enter()?;
        if let Some(row) = state.outbox.iter_mut().find(|row| row.id == event) {
            row.available_at = now + delay;
            row.locked_until = None;
            row.last_error = Some(error.to_owned());
        }
        Ok(())
    }

    async fn abandon_outbox_event(
        &self,
        event: OutboxEventId,
        max_attempts: i32,
        error: &str,
    ) -> Result<(), PortError> {
        let mut state = self.enter()?;
        if let Some(row) = state.outbox.iter_mut().find(|row| row.id == event) {
            row.attempts = row.attempts.max(max_attempts);
            row.locked_until = None;
            row.last_error = Some(error.to_owned());
        }
        Ok(())
    }

    async fn count_outbox_pending(&self) -> Result<u64, PortError> {
        let state = self.enter()?;
        Ok(state
            .outbox
            .iter()
            .filter(|row| row.processed_at.is_none())
            .count() as u64)
    }

    async fn count_audience(&self, target: BroadcastTarget) -> Result<u64, PortError> {
        let state = self.enter()?;
        Ok(state
            .users
            .iter()
            .filter(|(id, user)| state.in_audience(id, user, target))
            .count() as u64)
    }

    async fn create_broadcast(
        &self,
        broadcast: &NewBroadcast,
        total_users: u64,
        status: BroadcastStatus,
        audit: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Broadcast, PortError> {
        let mut state = self.enter()?;
        let row = Broadcast {
            id: broadcast.id,
            title: broadcast.title.clone(),
            body: broadcast.body.clone(),
            target: broadcast.target,
            data: Some(broadcast.data.to_json()),
            status,
            total_users: i64::try_from(total_users).unwrap_or(i64::MAX),
            processed_users: 0,
            success_count: 0,
            failure_count: 0,
            cursor_user_id: None,
            failure_reason: None,
            created_by: Some(broadcast.created_by),
            created_at: now,
            updated_at: now,
            started_at: (status == BroadcastStatus::Running).then_some(now),
            completed_at: None,
        };
        state.broadcasts.insert(row.id, row.clone());
        state.audit(audit, "broadcast.create", "broadcast", row.id.to_string());
        Ok(row)
    }

    async fn find_broadcast(&self, id: BroadcastId) -> Result<Option<Broadcast>, PortError> {
        Ok(self.enter()?.broadcasts.get(&id).cloned())
    }

    async fn claim_broadcast(
        &self,
        stale_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Broadcast>, PortError> {
        let mut state = self.enter()?;
        let mut candidates: Vec<&mut Broadcast> = state
            .broadcasts
            .values_mut()
            .filter(|b| {
                b.status == BroadcastStatus::Queued
                    || (b.status == BroadcastStatus::Running && b.updated_at < now - stale_after)
            })
            .collect();
        candidates.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(candidates.into_iter().next().map(|b| {
            b.status = BroadcastStatus::Running;
            b.started_at = b.started_at.or(Some(now));
            b.updated_at = now;
            b.clone()
        }))
    }

    async fn audience_batch(
        &self,
        broadcast: BroadcastId,
        target: BroadcastTarget,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>, PortError> {
        let state = self.enter()?;
        let marker = Value::String(broadcast.to_string());
        let notified: HashSet<UserId> = state
            .notifications
            .values()
            .filter(|n| {
                n.metadata
                    .as_ref()
                    .and_then(|m| m.get("broadcast_id"))
                    .is_some_and(|id| *id == marker)
            })
            .map(|n| n.user_id)
            .collect();
        Ok(state
            .users
            .iter()
            .filter(|(id, user)| {
                after.is_none_or(|after| **id > after)
                    && state.in_audience(id, user, target)
                    && !notified.contains(*id)
            })
            .map(|(id, _)| *id)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }

    async fn record_broadcast_progress(
        &self,
        id: BroadcastId,
        progress: BroadcastProgress,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut state = self.enter()?;
        if let Some(b) = state.broadcasts.get_mut(&id) {
            let add = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            b.cursor_user_id = Some(progress.cursor);
            b.processed_users += add(progress.users);
            b.success_count += add(progress.success);
            b.failure_count += add(progress.failure);
            b.updated_at = now;
        }
        Ok(())
    }

    async fn finish_broadcast(
        &self,
        id: BroadcastId,
        status: BroadcastStatus,
        failure_reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut state = self.enter()?;
        if let Some(b) = state.broadcasts.get_mut(&id) {
            b.status = status;
            b.failure_reason = failure_reason.map(str::to_owned);
            b.completed_at = Some(now);
            b.updated_at = now;
        }
        Ok(())
    }

    async fn requeue_broadcast(&self, id: BroadcastId) -> Result<(), PortError> {
        let mut state = self.enter()?;
        if let Some(b) = state.broadcasts.get_mut(&id)
            && b.status == BroadcastStatus::Running
        {
            b.status = BroadcastStatus::Queued;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// PushSender
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct SenderState {
    scripted: HashMap<String, VecDeque<PushResult>>,
    sent: Vec<PushMessage>,
    next_id: u64,
}

/// A push sender that answers like FCM: each token gets its scripted results in order, then
/// `Sent` with a fresh message name. Records every message it was asked to send.
#[derive(Debug, Clone)]
pub struct FakePushSender {
    enabled: bool,
    state: Arc<Mutex<SenderState>>,
}

impl Default for FakePushSender {
    fn default() -> Self {
        Self::new()
    }
}

impl FakePushSender {
    /// An enabled sender that accepts everything.
    pub fn new() -> Self {
        Self {
            enabled: true,
            state: Arc::default(),
        }
    }

    /// A sender without credentials.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            state: Arc::default(),
        }
    }

    /// The next sends to `token` answer `results`, in order.
    pub fn script(&self, token: &str, results: impl IntoIterator<Item = PushResult>) {
        lock(&self.state)
            .scripted
            .entry(token.to_owned())
            .or_default()
            .extend(results);
    }

    /// Every message sent so far, in order.
    pub fn sent(&self) -> Vec<PushMessage> {
        lock(&self.state).sent.clone()
    }
}

impl PushSender for FakePushSender {
    fn is_enabled(&self) -> bool {
        self.enabled
    }

    async fn send_all(&self, messages: &[PushMessage]) -> Vec<PushResult> {
        let mut state = lock(&self.state);
        messages
            .iter()
            .map(|message| {
                state.sent.push(message.clone());
                let scripted = state
                    .scripted
                    .get_mut(&message.token)
                    .and_then(VecDeque::pop_front);
                scripted.unwrap_or_else(|| {
                    state.next_id += 1;
                    PushResult::new(PushOutcome::Sent {
                        message_id: format!("projects/medico24-test/messages/{}", state.next_id),
                    })
                })
            })
            .collect()
    }
}

/// Contract checks every [`NotificationRepository`] implementation must pass; the fake runs
/// them in this crate's tests and the PostgreSQL adapter in its own.
pub mod contract {
    use chrono::{DateTime, Duration, Utc};
    use medico24_kernel::{AuditStamp, NotificationId, UserId};

    use crate::model::{
        DeliveryStatus, NotificationStatus, NotificationType, Platform, Priority, PushData,
    };
    use crate::outcome::{NO_ACTIVE_TOKENS, NotificationOutcome};
    use crate::ports::{
        DeliveryRecord, NewNotification, NotificationRepository, PortError, SettledNotification,
    };
    use crate::service::OUTBOX_CLAIM;

    fn ok<T>(result: Result<T, PortError>, what: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{what}: unexpected port error: {error}"),
        }
    }

    /// `now` at the database's precision (microseconds), so stored times compare equal.
    fn micros(now: DateTime<Utc>) -> DateTime<Utc> {
        chrono::SubsecRound::trunc_subsecs(now, 6)
    }

    fn stored<T>(value: Option<T>) -> T {
        match value {
            Some(value) => value,
            None => panic!("the notification was not stored"),
        }
    }

    fn notification(user: UserId) -> NewNotification {
        NewNotification {
            id: NotificationId::new_v7(),
            user_id: user,
            title: "Title".into(),
            body: "Body".into(),
            notification_type: NotificationType::Other,
            priority: Priority::Normal,
            data: PushData::default(),
            metadata: None,
        }
    }

    /// Push tokens: a token is active for one user at a time; re-registering keeps the row id;
    /// registering another token on the same platform deactivates the previous one.
    ///
    /// # Panics
    /// When the repository breaks one of these rules.
    pub async fn token_ownership<R: NotificationRepository>(
        repo: &R,
        alice: UserId,
        bob: UserId,
        now: DateTime<Utc>,
    ) {
        let now = micros(now);
        let first = ok(
            repo.register_token(alice, "token-a", Platform::Android, now)
                .await,
            "register",
        );
        assert!(first.is_active);
        let again = ok(
            repo.register_token(alice, "token-a", Platform::Ios, now)
                .await,
            "re-register",
        );
        assert_eq!(again.id, first.id, "re-registration keeps the row");
        assert_eq!(again.platform, Platform::Ios);

        let bobs = ok(
            repo.register_token(bob, "token-a", Platform::Ios, now)
                .await,
            "register for bob",
        );
        assert_ne!(bobs.id, first.id);
        let prepared = ok(
            repo.prepare_one(&notification(alice), None, now).await,
            "prepare for alice",
        );
        assert!(prepared.targets.is_empty(), "alice lost the token to bob");
        let prepared = ok(
            repo.prepare_one(&notification(bob), None, now).await,
            "prepare for bob",
        );
        assert_eq!(prepared.targets.len(), 1);

        ok(
            repo.register_token(bob, "token-b", Platform::Ios, now)
                .await,
            "second ios token",
        );
        let prepared = ok(
            repo.prepare_one(&notification(bob), None, now).await,
            "prepare for bob",
        );
        let tokens: Vec<&str> = prepared
            .targets
            .iter()
            .map(|t| t.fcm_token.as_str())
            .collect();
        assert_eq!(tokens, vec!["token-b"], "one active token per platform");
    }

    /// The send pipeline: preparing creates one pending delivery per active token (or a failed
    /// notification without tokens); recording results settles deliveries, deactivates invalid
    /// tokens and stores the notification's state.
    ///
    /// # Panics
    /// When the repository breaks one of these rules.
    pub async fn send_pipeline<R: NotificationRepository>(
        repo: &R,
        user: UserId,
        lonely: UserId,
        now: DateTime<Utc>,
    ) {
        let now = micros(now);
        ok(
            repo.register_token(user, "android-1", Platform::Android, now)
                .await,
            "token",
        );
        ok(
            repo.register_token(user, "web-1", Platform::Web, now).await,
            "token",
        );
        let none = ok(
            repo.prepare_one(&notification(lonely), None, now).await,
            "prepare without tokens",
        );
        assert!(none.targets.is_empty());
        let detail = stored(ok(repo.find(none.notification_id).await, "find"));
        assert_eq!(detail.notification.status, NotificationStatus::Failed);
        assert_eq!(
            detail.notification.failure_reason.as_deref(),
            Some(NO_ACTIVE_TOKENS)
        );

        let new = notification(user);
        let prepared = ok(repo.prepare_one(&new, None, now).await, "prepare");
        assert_eq!(prepared.targets.len(), 2);
        let detail = stored(ok(repo.find(new.id).await, "find"));
        assert_eq!(detail.notification.status, NotificationStatus::Sent);
        assert_eq!(detail.notification.sent_at, Some(now));
        assert!(
            detail
                .deliveries
                .iter()
                .all(|d| d.delivery_status == DeliveryStatus::Pending)
        );

        let later = now + Duration::seconds(1);
        let records = vec![
            DeliveryRecord {
                delivery_id: prepared.targets[0].delivery_id,
                push_token_id: prepared.targets[0].push_token_id,
                status: DeliveryStatus::Sent,
                fcm_message_id: Some("projects/p/messages/1".into()),
                failure_reason: None,
            },
            DeliveryRecord {
                delivery_id: prepared.targets[1].delivery_id,
                push_token_id: prepared.targets[1].push_token_id,
                status: DeliveryStatus::InvalidToken,
                fcm_message_id: None,
                failure_reason: Some("UNREGISTERED".into()),
            },
        ];
        let settled = vec![SettledNotification {
            notification_id: new.id,
            outcome: NotificationOutcome {
                status: NotificationStatus::PartiallyDelivered,
                failure_reason: Some("1 of 2 deliveries failed: UNREGISTERED ×1".into()),
                delivered: true,
            },
            retry_count: 2,
        }];
        ok(
            repo.record_results(&records, &settled, later).await,
            "record",
        );
        let detail = stored(ok(repo.find(new.id).await, "find"));
        assert_eq!(
            detail.notification.status,
            NotificationStatus::PartiallyDelivered
        );
        assert_eq!(detail.notification.delivered_at, Some(later));
        assert_eq!(detail.notification.retry_count, 2);
        assert_eq!(detail.successful(), 1);
        assert_eq!(detail.failed(), 1);
        let again = ok(
            repo.prepare_one(&notification(user), None, later).await,
            "prepare",
        );
        assert_eq!(again.targets.len(), 1, "the invalid token was deactivated");
        assert!(ok(repo.user_exists(user).await, "exists"));
        assert!(!ok(repo.user_exists(UserId::new_v7()).await, "exists"));
    }

    /// Read and delete: read marks are the owner's; deletion is the owner's or an admin's, audited
    /// only for an admin acting on someone else's.
    ///
    /// # Panics
    /// When the repository breaks one of these rules.
    pub async fn ownership<R: NotificationRepository>(
        repo: &R,
        owner: UserId,
        admin: UserId,
        now: DateTime<Utc>,
    ) {
        let now = micros(now);
        let stamp = AuditStamp::user(admin, "req-1", None);
        let first = ok(
            repo.prepare_one(&notification(owner), None, now).await,
            "prepare",
        );
        assert!(!ok(
            repo.mark_read(first.notification_id, admin, now).await,
            "read"
        ));
        assert!(ok(
            repo.mark_read(first.notification_id, owner, now).await,
            "read"
        ));
        let later = now + Duration::seconds(5);
        assert!(ok(
            repo.mark_read(first.notification_id, owner, later).await,
            "read"
        ));
        let detail = stored(ok(repo.find(first.notification_id).await, "find"));
        assert_eq!(detail.notification.status, NotificationStatus::Read);
        assert_eq!(detail.notification.read_at, Some(now), "read_at is kept");

        assert!(!ok(
            repo.delete(first.notification_id, admin, false, &stamp)
                .await,
            "delete"
        ));
        assert!(ok(
            repo.delete(first.notification_id, admin, true, &stamp)
                .await,
            "delete"
        ));
        assert!(ok(repo.find(first.notification_id).await, "find").is_none());
        assert!(!ok(
            repo.delete(first.notification_id, owner, false, &stamp)
                .await,
            "delete"
        ));
    }

    /// The recovery sweep: a notification with deliveries pending longer than `after` is claimed
    /// once (its `sent_at` re-stamped), with its pending deliveries as targets; a pending delivery
    /// whose token went inactive is settled `failed` / `token deactivated` instead of sent.
    ///
    /// # Panics
    /// When the repository breaks one of these rules.
    pub async fn recovery<R: NotificationRepository>(
        repo: &R,
        user: UserId,
        other: UserId,
        now: DateTime<Utc>,
    ) {
        let now = micros(now);
        ok(
            repo.register_token(user, "phone-r", Platform::Android, now)
                .await,
            "token",
        );
        ok(
            repo.register_token(user, "web-r", Platform::Web, now).await,
            "token",
        );
        let prepared = ok(
            repo.prepare_one(&notification(user), None, now).await,
            "prepare",
        );
        assert_eq!(prepared.targets.len(), 2);
        ok(
            repo.register_token(other, "web-r", Platform::Web, now)
                .await,
            "steal",
        );
        let after = Duration::minutes(5);
        assert!(
            ok(
                repo.claim_stalled(after, 10, now + Duration::minutes(4))
                    .await,
                "claim"
            )
            .is_empty(),
            "too recent"
        );
        let later = now + Duration::minutes(6);
        let stalled = ok(repo.claim_stalled(after, 10, later).await, "claim");
        assert_eq!(stalled.len(), 1);
        let tokens: Vec<&str> = stalled[0]
            .prepared
            .targets
            .iter()
            .map(|t| t.fcm_token.as_str())
            .collect();
        assert_eq!(tokens, vec!["phone-r"]);
        assert_eq!(
            stalled[0].settled,
            vec![crate::outcome::SettledDelivery {
                status: DeliveryStatus::Failed,
                code: Some(crate::outcome::TOKEN_DEACTIVATED.to_owned()),
            }]
        );
        assert!(
            ok(repo.claim_stalled(after, 10, later).await, "claim").is_empty(),
            "claiming re-stamps sent_at"
        );
        let detail = stored(ok(repo.find(prepared.notification_id).await, "find"));
        assert_eq!(detail.notification.sent_at, Some(later));
    }

    /// The outbox: claims lease and count attempts, completing twice yields nothing the second
    /// time, retries move `available_at`, abandoned events are never claimed again.
    ///
    /// # Panics
    /// When the repository breaks one of these rules.
    pub async fn outbox<R: NotificationRepository>(repo: &R, now: DateTime<Utc>) {
        let now = micros(now);
        let claimed = ok(repo.claim_outbox(OUTBOX_CLAIM, now).await, "claim");
        assert_eq!(claimed.len(), 2, "two events were inserted by the caller");
        assert!(claimed.iter().all(|e| e.attempts == 1));
        assert!(
            ok(repo.claim_outbox(OUTBOX_CLAIM, now).await, "claim").is_empty(),
            "leased events are not claimed again"
        );
        let first = &claimed[0];
        let mut new = notification(first.user_id);
        let prepared = ok(
            repo.complete_outbox_event(first.id, &new, now).await,
            "complete",
        );
        assert!(prepared.is_some());
        new.id = NotificationId::new_v7();
        assert!(
            ok(
                repo.complete_outbox_event(first.id, &new, now).await,
                "complete"
            )
            .is_none(),
            "an event is processed once"
        );
        assert_eq!(ok(repo.count_outbox_pending().await, "pending"), 1);

        let second = &claimed[1];
        ok(
            repo.retry_outbox_event(second.id, Duration::seconds(2), "boom", now)
                .await,
            "retry",
        );
        assert!(ok(repo.claim_outbox(OUTBOX_CLAIM, now).await, "claim").is_empty());
        let again = ok(
            repo.claim_outbox(OUTBOX_CLAIM, now + Duration::seconds(3))
                .await,
            "claim",
        );
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        ok(
            repo.abandon_outbox_event(second.id, OUTBOX_CLAIM.max_attempts, "bad payload")
                .await,
            "abandon",
        );
        assert!(
            ok(
                repo.claim_outbox(OUTBOX_CLAIM, now + Duration::hours(1))
                    .await,
                "claim"
            )
            .is_empty(),
            "abandoned events are not claimed"
        );
        assert_eq!(ok(repo.count_outbox_pending().await, "pending"), 1);
    }
}
