//! `NotificationRepository` on PostgreSQL: push-token registration with one owner per token,
//! the send pipeline's set-based writes (notifications and deliveries for a whole batch in one
//! statement, outcomes in three), history, statistics aggregated in SQL, admin logs, the outbox
//! claimed with `FOR UPDATE SKIP LOCKED`, the recovery sweep, and resumable broadcasts.

use crate::conn::PgConn;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{
    Array, BigInt, Bool, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{
    AuditStamp, BroadcastId, NotificationId, Page, PageRequest, PortError, PushTokenId, UserId,
};
use medico24_notifications::{
    Broadcast, BroadcastProgress, BroadcastStatus, BroadcastTarget, Delivery, DeliveryId,
    DeliveryRecord, DeliveryStatus, HistoryFilter, LogFilter, NO_ACTIVE_TOKENS, NewBroadcast,
    NewNotification, Notification, NotificationDetail, NotificationRepository, NotificationStats,
    NotificationStatus, NotificationType, OutboxClaim, OutboxEvent, OutboxEventId, Platform,
    PreparedNotification, Priority, PushData, PushTarget, PushToken, SendAudit, SettledDelivery,
    SettledNotification, StalledNotification, TOKEN_DEACTIVATED,
};
use serde_json::{Value, json};

use crate::audit::insert_audit_stamp;
use crate::database::{Database, DatabaseError};
use crate::schema::{broadcasts, notification_deliveries, notifications, push_tokens, users};

/// The partial unique index that keeps a token active for one user.
const ACTIVE_TOKEN_INDEX: &str = "uq_push_tokens_active_fcm_token";

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

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = push_tokens, check_for_backend(diesel::pg::Pg))]
struct PushTokenRow {
    id: uuid::Uuid,
    user_id: uuid::Uuid,
    fcm_token: String,
    platform: String,
    is_active: bool,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl PushTokenRow {
    fn into_token(self) -> PushToken {
        PushToken {
            id: PushTokenId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            fcm_token: self.fcm_token,
            // `push_tokens_platform_check` guarantees one of the three values.
            platform: self.platform.parse().unwrap_or(Platform::Android),
            is_active: self.is_active,
            last_used_at: self.last_used_at,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
struct NotificationRow {
    id: uuid::Uuid,
    user_id: uuid::Uuid,
    title: String,
    body: String,
    notification_type: String,
    priority: String,
    data: Option<Value>,
    status: String,
    sent_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    read_at: Option<DateTime<Utc>>,
    failure_reason: Option<String>,
    retry_count: i32,
    max_retries: i32,
    scheduled_for: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    metadata: Option<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl NotificationRow {
    fn into_notification(self) -> Notification {
        // The CHECK constraints guarantee known values; the fallbacks are never taken.
        Notification {
            id: NotificationId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            title: self.title,
            body: self.body,
            notification_type: self
                .notification_type
                .parse()
                .unwrap_or(NotificationType::Other),
            priority: self.priority.parse().unwrap_or(Priority::Normal),
            data: self.data,
            status: self.status.parse().unwrap_or(NotificationStatus::Pending),
            sent_at: self.sent_at,
            delivered_at: self.delivered_at,
            read_at: self.read_at,
            failure_reason: self.failure_reason,
            retry_count: self.retry_count,
            max_retries: self.max_retries,
            scheduled_for: self.scheduled_for,
            expires_at: self.expires_at,
            metadata: self.metadata,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notification_deliveries, check_for_backend(diesel::pg::Pg))]
struct DeliveryRow {
    id: uuid::Uuid,
    notification_id: uuid::Uuid,
    push_token_id: uuid::Uuid,
    fcm_message_id: Option<String>,
    delivery_status: String,
    delivered_at: Option<DateTime<Utc>>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
}

impl DeliveryRow {
    fn into_delivery(self) -> Delivery {
        Delivery {
            id: DeliveryId::from_uuid(self.id),
            notification_id: NotificationId::from_uuid(self.notification_id),
            push_token_id: PushTokenId::from_uuid(self.push_token_id),
            fcm_message_id: self.fcm_message_id,
            delivery_status: self
                .delivery_status
                .parse()
                .unwrap_or(DeliveryStatus::Pending),
            delivered_at: self.delivered_at,
            failure_reason: self.failure_reason,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = broadcasts, check_for_backend(diesel::pg::Pg))]
struct BroadcastRow {
    id: uuid::Uuid,
    created_by: Option<uuid::Uuid>,
    title: String,
    body: String,
    target: String,
    data: Option<Value>,
    status: String,
    total_users: i32,
    processed_users: i32,
    success_count: i32,
    failure_count: i32,
    cursor_user_id: Option<uuid::Uuid>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl BroadcastRow {
    fn into_broadcast(self) -> Broadcast {
        Broadcast {
            id: BroadcastId::from_uuid(self.id),
            title: self.title,
            body: self.body,
            target: self.target.parse().unwrap_or(BroadcastTarget::All),
            data: self.data,
            status: self.status.parse().unwrap_or(BroadcastStatus::Failed),
            total_users: i64::from(self.total_users),
            processed_users: i64::from(self.processed_users),
            success_count: i64::from(self.success_count),
            failure_count: i64::from(self.failure_count),
            cursor_user_id: self.cursor_user_id.map(UserId::from_uuid),
            failure_reason: self.failure_reason,
            created_by: self.created_by.map(UserId::from_uuid),
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
        }
    }
}

#[derive(QueryableByName)]
struct PreparedRow {
    #[diesel(sql_type = SqlUuid)]
    delivery_id: uuid::Uuid,
    #[diesel(sql_type = SqlUuid)]
    notification_id: uuid::Uuid,
    #[diesel(sql_type = SqlUuid)]
    push_token_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    fcm_token: String,
}

// ---------------------------------------------------------------------------------------------
// Transaction bodies shared by several operations
// ---------------------------------------------------------------------------------------------

/// Token registration on `conn` (inside a transaction).
/// The advisory-lock class of a device token (the key is a hash of the token).
const TOKEN_LOCK_CLASS: i32 = 0x5054_4f4b; // "PTOK"

async fn register_in(
    conn: &mut PgConn,
    user: uuid::Uuid,
    token: &str,
    platform: Platform,
    now: DateTime<Utc>,
) -> QueryResult<PushTokenRow> {
    // Registrations of one device token run one after the other: several accounts signing in
    // on one device at once would otherwise each deactivate the others' rows and insert their
    // own, and meet in the unique index of active tokens or in a deadlock (500s).
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind::<diesel::sql_types::Integer, _>(TOKEN_LOCK_CLASS)
        .bind::<diesel::sql_types::Text, _>(token)
        .execute(conn)
        .await?;
    diesel::update(
        push_tokens::table.filter(
            push_tokens::fcm_token
                .eq(token)
                .and(push_tokens::user_id.ne(user))
                .and(push_tokens::is_active),
        ),
    )
    .set(push_tokens::is_active.eq(false))
    .execute(conn)
    .await?;
    diesel::update(
        push_tokens::table.filter(
            push_tokens::user_id
                .eq(user)
                .and(push_tokens::platform.eq(platform.as_str()))
                .and(push_tokens::fcm_token.ne(token))
                .and(push_tokens::is_active),
        ),
    )
    .set(push_tokens::is_active.eq(false))
    .execute(conn)
    .await?;
    diesel::insert_into(push_tokens::table)
        .values((
            push_tokens::user_id.eq(user),
            push_tokens::fcm_token.eq(token),
            push_tokens::platform.eq(platform.as_str()),
            push_tokens::is_active.eq(true),
            push_tokens::last_used_at.eq(now),
            push_tokens::created_at.eq(now),
        ))
        .on_conflict((push_tokens::user_id, push_tokens::fcm_token))
        .do_update()
        .set((
            push_tokens::is_active.eq(true),
            push_tokens::platform.eq(excluded(push_tokens::platform)),
            push_tokens::last_used_at.eq(now),
        ))
        .returning(PushTokenRow::as_returning())
        .get_result(conn)
        .await
}

/// The send pipeline up to sending, for every notification in one statement: the notifications
/// (`sent`, or `failed` without active tokens) and one pending delivery per active token. The
/// result is in input order, targets by token age.
async fn prepare_in(
    conn: &mut PgConn,
    items: &[NewNotification],
    now: DateTime<Utc>,
) -> QueryResult<Vec<PreparedNotification>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = items.iter().map(|n| n.id.as_uuid()).collect();
    let user_ids: Vec<uuid::Uuid> = items.iter().map(|n| n.user_id.as_uuid()).collect();
    let titles: Vec<&str> = items.iter().map(|n| n.title.as_str()).collect();
    let bodies: Vec<&str> = items.iter().map(|n| n.body.as_str()).collect();
    let kinds: Vec<&str> = items.iter().map(|n| n.notification_type.as_str()).collect();
    let priorities: Vec<&str> = items.iter().map(|n| n.priority.as_str()).collect();
    let data: Vec<Value> = items.iter().map(|n| n.data.to_json()).collect();
    let metadata: Vec<Option<Value>> = items.iter().map(|n| n.metadata.clone()).collect();
    let rows: Vec<PreparedRow> = diesel::sql_query(
        "WITH input AS ( \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], \
                                  $6::text[], $7::jsonb[], $8::jsonb[]) \
                 AS i(id, user_id, title, body, notification_type, priority, data, metadata) \
         ), tokens AS ( \
             SELECT t.id, t.user_id, t.fcm_token, t.created_at FROM push_tokens t \
             WHERE t.is_active AND t.user_id IN (SELECT user_id FROM input) \
         ), inserted AS ( \
             INSERT INTO notifications (id, user_id, title, body, notification_type, priority, data, \
                                        metadata, status, sent_at, failure_reason, created_at, updated_at) \
             SELECT i.id, i.user_id, i.title, i.body, i.notification_type, i.priority, i.data, i.metadata, \
                    CASE WHEN has.tokens THEN 'sent' ELSE 'failed' END, \
                    CASE WHEN has.tokens THEN $9 END, \
                    CASE WHEN has.tokens THEN NULL ELSE $10 END, \
                    $9, $9 \
             FROM input i \
             CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM tokens t WHERE t.user_id = i.user_id) AS tokens) has \
             RETURNING id, user_id \
         ), deliveries AS ( \
             INSERT INTO notification_deliveries (notification_id, push_token_id, delivery_status, created_at) \
             SELECT n.id, t.id, 'pending', $9 FROM inserted n JOIN tokens t ON t.user_id = n.user_id \
             RETURNING id, notification_id, push_token_id \
         ) \
         SELECT d.id AS delivery_id, d.notification_id, d.push_token_id, t.fcm_token \
         FROM deliveries d JOIN tokens t ON t.id = d.push_token_id \
         ORDER BY t.created_at, t.id",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<SqlUuid>, _>(&user_ids)
    .bind::<Array<Text>, _>(&titles)
    .bind::<Array<Text>, _>(&bodies)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Array<Text>, _>(&priorities)
    .bind::<Array<Jsonb>, _>(&data)
    .bind::<Array<Nullable<Jsonb>>, _>(&metadata)
    .bind::<Timestamptz, _>(now)
    .bind::<Text, _>(NO_ACTIVE_TOKENS)
    .load(conn)
    .await?;
    let mut targets: HashMap<uuid::Uuid, Vec<PushTarget>> = HashMap::new();
    for row in rows {
        targets
            .entry(row.notification_id)
            .or_default()
            .push(PushTarget {
                delivery_id: DeliveryId::from_uuid(row.delivery_id),
                push_token_id: PushTokenId::from_uuid(row.push_token_id),
                fcm_token: row.fcm_token,
            });
    }
    Ok(items
        .iter()
        .map(|n| PreparedNotification {
            notification_id: n.id,
            user_id: n.user_id,
            title: n.title.clone(),
            body: n.body.clone(),
            data: n.data.clone(),
            targets: targets.remove(&n.id.as_uuid()).unwrap_or_default(),
        })
        .collect())
}

fn is_active_token_race(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(ACTIVE_TOKEN_INDEX)
    )
}

impl NotificationRepository for PgNotificationRepository {
    async fn register_token(
        &self,
        user: UserId,
        fcm_token: &str,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Result<PushToken, PortError> {
        let mut conn = self.db.conn().await?;
        let mut retried = false;
        loop {
            let token = fcm_token.to_owned();
            let result = conn
                .transaction::<_, DieselError, _>(async move |conn| {
                    register_in(conn, user.as_uuid(), &token, platform, now).await
                })
                .await;
            match result {
                Ok(row) => return Ok(row.into_token()),
                // Another user registered the same token concurrently: their row is committed
                // now, and the retry deactivates it.
                Err(error) if !retried && is_active_token_race(&error) => retried = true,
                Err(error) => return Err(port(error)),
            }
        }
    }

    async fn deactivate_token(&self, user: UserId, fcm_token: &str) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::update(
            push_tokens::table.filter(
                push_tokens::user_id
                    .eq(user.as_uuid())
                    .and(push_tokens::fcm_token.eq(fcm_token)),
            ),
        )
        .set(push_tokens::is_active.eq(false))
        .execute(&mut conn)
        .await
        .map_err(port)?;
        Ok(())
    }

    async fn deactivate_all_tokens(&self, user: UserId) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::update(
            push_tokens::table.filter(
                push_tokens::user_id
                    .eq(user.as_uuid())
                    .and(push_tokens::is_active),
            ),
        )
        .set(push_tokens::is_active.eq(false))
        .execute(&mut conn)
        .await
        .map_err(port)?;
        Ok(())
    }

    async fn user_exists(&self, user: UserId) -> Result<bool, PortError> {
        let mut conn = self.db.conn().await?;
        diesel::select(exists(users::table.find(user.as_uuid())))
            .get_result(&mut conn)
            .await
            .map_err(port)
    }

    async fn prepare_one(
        &self,
        notification: &NewNotification,
        audit: Option<&SendAudit>,
        now: DateTime<Utc>,
    ) -> Result<PreparedNotification, PortError> {
        let mut conn = self.db.conn().await?;
        let notification = notification.clone();
        let audit = audit.cloned();
        conn.transaction::<_, DieselError, _>(async move |conn| {
            let mut prepared = prepare_in(conn, std::slice::from_ref(&notification), now).await?;
            if let Some(audit) = &audit {
                let details = json!({
                    "user_id": notification.user_id.to_string(),
                    "notification_type": notification.notification_type.as_str(),
                    "priority": notification.priority.as_str(),
                });
                insert_audit_stamp(
                    conn,
                    &audit.stamp,
                    audit.action,
                    "notification",
                    Some(&notification.id.to_string()),
                    Some(&details),
                )
                .await?;
            }
            prepared.pop().ok_or(DieselError::NotFound)
        })
        .await
        .map_err(port)
    }

    async fn prepare_batch(
        &self,
        notifications: &[NewNotification],
        now: DateTime<Utc>,
    ) -> Result<Vec<PreparedNotification>, PortError> {
        let mut conn = self.db.conn().await?;
        let items = notifications.to_vec();
        conn.transaction::<_, DieselError, _>(async move |conn| prepare_in(conn, &items, now).await)
            .await
            .map_err(port)
    }

    async fn record_results(
        &self,
        deliveries: &[DeliveryRecord],
        notifications: &[SettledNotification],
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let delivery_ids: Vec<uuid::Uuid> =
            deliveries.iter().map(|d| d.delivery_id.as_uuid()).collect();
        let delivery_statuses: Vec<&'static str> =
            deliveries.iter().map(|d| d.status.as_str()).collect();
        let message_ids: Vec<Option<String>> = deliveries
            .iter()
            .map(|d| d.fcm_message_id.clone())
            .collect();
        let delivery_reasons: Vec<Option<String>> = deliveries
            .iter()
            .map(|d| d.failure_reason.clone())
            .collect();
        let invalid_tokens: Vec<uuid::Uuid> = deliveries
            .iter()
            .filter(|d| d.status == DeliveryStatus::InvalidToken)
            .map(|d| d.push_token_id.as_uuid())
            .collect();
        let notification_ids: Vec<uuid::Uuid> = notifications
            .iter()
            .map(|n| n.notification_id.as_uuid())
            .collect();
        let statuses: Vec<&'static str> = notifications
            .iter()
            .map(|n| n.outcome.status.as_str())
            .collect();
        let reasons: Vec<Option<String>> = notifications
            .iter()
            .map(|n| n.outcome.failure_reason.clone())
            .collect();
        let delivered: Vec<bool> = notifications.iter().map(|n| n.outcome.delivered).collect();
        let retries: Vec<i32> = notifications.iter().map(|n| n.retry_count).collect();

        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async move |conn| {
            if !delivery_ids.is_empty() {
                diesel::sql_query(
                    "UPDATE notification_deliveries d SET delivery_status = u.status, \
                         fcm_message_id = u.message_id, failure_reason = u.reason, \
                         delivered_at = CASE WHEN u.status = 'sent' THEN $5 ELSE d.delivered_at END \
                     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS u(id, status, message_id, reason) \
                     WHERE d.id = u.id",
                )
                .bind::<Array<SqlUuid>, _>(&delivery_ids)
                .bind::<Array<Text>, _>(&delivery_statuses)
                .bind::<Array<Nullable<Text>>, _>(&message_ids)
                .bind::<Array<Nullable<Text>>, _>(&delivery_reasons)
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await?;
            }
            if !invalid_tokens.is_empty() {
                diesel::update(push_tokens::table.filter(push_tokens::id.eq_any(&invalid_tokens)))
                    .set(push_tokens::is_active.eq(false))
                    .execute(conn)
                    .await?;
            }
            if !notification_ids.is_empty() {
                diesel::sql_query(
                    "UPDATE notifications n SET \
                         status = CASE WHEN n.status = 'read' THEN n.status ELSE u.status END, \
                         failure_reason = u.reason, \
                         delivered_at = CASE WHEN u.delivered THEN $6 ELSE n.delivered_at END, \
                         retry_count = u.retries, updated_at = $6 \
                     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::int4[]) \
                         AS u(id, status, reason, delivered, retries) \
                     WHERE n.id = u.id",
                )
                .bind::<Array<SqlUuid>, _>(&notification_ids)
                .bind::<Array<Text>, _>(&statuses)
                .bind::<Array<Nullable<Text>>, _>(&reasons)
                .bind::<Array<Bool>, _>(&delivered)
                .bind::<Array<Int4>, _>(&retries)
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await?;
            }
            Ok(())
        })
        .await
        .map_err(port)
    }

    async fn claim_stalled(
        &self,
        after: Duration,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<StalledNotification>, PortError> {
        #[derive(QueryableByName)]
        struct StalledRow {
            #[diesel(sql_type = SqlUuid)]
            id: uuid::Uuid,
            #[diesel(sql_type = SqlUuid)]
            user_id: uuid::Uuid,
            #[diesel(sql_type = Text)]
            title: String,
            #[diesel(sql_type = Text)]
            body: String,
            #[diesel(sql_type = Nullable<Jsonb>)]
            data: Option<Value>,
            #[diesel(sql_type = Int4)]
            retry_count: i32,
        }
        #[derive(QueryableByName)]
        struct StalledDelivery {
            #[diesel(sql_type = SqlUuid)]
            id: uuid::Uuid,
            #[diesel(sql_type = SqlUuid)]
            notification_id: uuid::Uuid,
            #[diesel(sql_type = SqlUuid)]
            push_token_id: uuid::Uuid,
            #[diesel(sql_type = Text)]
            delivery_status: String,
            #[diesel(sql_type = Nullable<Text>)]
            failure_reason: Option<String>,
            #[diesel(sql_type = Text)]
            fcm_token: String,
        }
        let cutoff = now - after;
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async move |conn| {
            // Driven by the (few) pending deliveries, not by every old notification.
            let rows: Vec<StalledRow> = diesel::sql_query(
                "WITH stalled AS ( \
                     SELECT n.id FROM notifications n \
                     WHERE n.id IN (SELECT d.notification_id FROM notification_deliveries d \
                                    WHERE d.delivery_status = 'pending') \
                       AND n.sent_at < $1 \
                     ORDER BY n.sent_at LIMIT $2 \
                     FOR UPDATE OF n SKIP LOCKED \
                 ) \
                 UPDATE notifications n SET sent_at = $3 FROM stalled s WHERE n.id = s.id \
                 RETURNING n.id, n.user_id, n.title, n.body, n.data, n.retry_count",
            )
            .bind::<Timestamptz, _>(cutoff)
            .bind::<BigInt, _>(i64::from(limit))
            .bind::<Timestamptz, _>(now)
            .load(conn)
            .await?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
            diesel::sql_query(
                "UPDATE notification_deliveries d SET delivery_status = 'failed', failure_reason = $2 \
                 FROM push_tokens t \
                 WHERE d.notification_id = ANY($1) AND d.delivery_status = 'pending' \
                   AND t.id = d.push_token_id AND NOT t.is_active",
            )
            .bind::<Array<SqlUuid>, _>(&ids)
            .bind::<Text, _>(TOKEN_DEACTIVATED)
            .execute(conn)
            .await?;
            let deliveries: Vec<StalledDelivery> = diesel::sql_query(
                "SELECT d.id, d.notification_id, d.push_token_id, d.delivery_status, d.failure_reason, \
                        t.fcm_token \
                 FROM notification_deliveries d JOIN push_tokens t ON t.id = d.push_token_id \
                 WHERE d.notification_id = ANY($1) ORDER BY d.created_at, d.id",
            )
            .bind::<Array<SqlUuid>, _>(&ids)
            .load(conn)
            .await?;
            let mut by_notification: HashMap<uuid::Uuid, (Vec<PushTarget>, Vec<SettledDelivery>)> =
                HashMap::new();
            for d in deliveries {
                let entry = by_notification.entry(d.notification_id).or_default();
                let status: DeliveryStatus =
                    d.delivery_status.parse().unwrap_or(DeliveryStatus::Pending);
                if status == DeliveryStatus::Pending {
                    entry.0.push(PushTarget {
                        delivery_id: DeliveryId::from_uuid(d.id),
                        push_token_id: PushTokenId::from_uuid(d.push_token_id),
                        fcm_token: d.fcm_token,
                    });
                } else {
                    entry
                        .1
                        .push(SettledDelivery::from_stored(status, d.failure_reason.as_deref()));
                }
            }
            Ok(rows
                .into_iter()
                .map(|row| {
                    let (targets, settled) = by_notification.remove(&row.id).unwrap_or_default();
                    StalledNotification {
                        prepared: PreparedNotification {
                            notification_id: NotificationId::from_uuid(row.id),
                            user_id: UserId::from_uuid(row.user_id),
                            title: row.title,
                            body: row.body,
                            data: PushData::from_json_lenient(row.data.as_ref()),
                            targets,
                        },
                        settled,
                        retry_count: row.retry_count,
                    }
                })
                .collect())
        })
        .await
        .map_err(port)
    }

    async fn history(
        &self,
        user: UserId,
        filter: HistoryFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        let build = || {
            let mut query = notifications::table
                .filter(notifications::user_id.eq(user.as_uuid()))
                .into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(notifications::status.eq(status.as_str()));
            }
            if let Some(kind) = filter.notification_type {
                query = query.filter(notifications::notification_type.eq(kind.as_str()));
            }
            query
        };
        let mut conn = self.db.conn().await?;
        let total: i64 = build().count().get_result(&mut conn).await.map_err(port)?;
        let rows: Vec<NotificationRow> = build()
            .select(NotificationRow::as_select())
            .order((notifications::created_at.desc(), notifications::id.desc()))
            .offset(offset(page))
            .limit(i64::from(page.page_size()))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(NotificationRow::into_notification)
                .collect(),
            total: to_u64(total),
            request: page,
            next: None,
        })
    }

    async fn find(&self, id: NotificationId) -> Result<Option<NotificationDetail>, PortError> {
        let mut conn = self.db.conn().await?;
        let Some(row) = notifications::table
            .find(id.as_uuid())
            .select(NotificationRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(port)?
        else {
            return Ok(None);
        };
        let deliveries: Vec<DeliveryRow> = notification_deliveries::table
            .filter(notification_deliveries::notification_id.eq(id.as_uuid()))
            .select(DeliveryRow::as_select())
            .order((
                notification_deliveries::created_at.asc(),
                notification_deliveries::id.asc(),
            ))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(Some(NotificationDetail {
            notification: row.into_notification(),
            deliveries: deliveries
                .into_iter()
                .map(DeliveryRow::into_delivery)
                .collect(),
        }))
    }

    async fn mark_read(
        &self,
        id: NotificationId,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut conn = self.db.conn().await?;
        let updated = diesel::sql_query(
            "UPDATE notifications SET status = 'read', read_at = COALESCE(read_at, $3), updated_at = $3 \
             WHERE id = $1 AND user_id = $2",
        )
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<SqlUuid, _>(owner.as_uuid())
        .bind::<Timestamptz, _>(now)
        .execute(&mut conn)
        .await
        .map_err(port)?;
        Ok(updated == 1)
    }

    async fn delete(
        &self,
        id: NotificationId,
        actor: UserId,
        actor_is_admin: bool,
        audit: &AuditStamp,
    ) -> Result<bool, PortError> {
        let mut conn = self.db.conn().await?;
        let audit = audit.clone();
        conn.transaction::<_, DieselError, _>(async move |conn| {
            let mut query = diesel::delete(notifications::table.find(id.as_uuid())).into_boxed();
            if !actor_is_admin {
                query = query.filter(notifications::user_id.eq(actor.as_uuid()));
            }
            let owner: Option<uuid::Uuid> = query
                .returning(notifications::user_id)
                .get_result(conn)
                .await
                .optional()?;
            let Some(owner) = owner else {
                return Ok(false);
            };
            if owner != actor.as_uuid() {
                insert_audit_stamp(
                    conn,
                    &audit,
                    "notification.delete",
                    "notification",
                    Some(&id.to_string()),
                    Some(&json!({ "user_id": owner.to_string() })),
                )
                .await?;
            }
            Ok(true)
        })
        .await
        .map_err(port)
    }

    async fn stats(
        &self,
        user: Option<UserId>,
        since: DateTime<Utc>,
    ) -> Result<NotificationStats, PortError> {
        #[derive(QueryableByName)]
        struct StatRow {
            #[diesel(sql_type = Int4)]
            grouped: i32,
            #[diesel(sql_type = Nullable<Text>)]
            status: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            notification_type: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            priority: Option<String>,
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.db.conn().await?;
        // GROUPING(status, notification_type, priority): a bit per column not grouped on, so
        // 3 = by status, 5 = by type, 6 = by priority, 7 = the grand total.
        let rows: Vec<StatRow> = diesel::sql_query(
            "SELECT GROUPING(status, notification_type, priority) AS grouped, \
                    status::text AS status, notification_type::text AS notification_type, \
                    priority::text AS priority, count(*) AS n \
             FROM notifications \
             WHERE created_at >= $1 AND ($2::uuid IS NULL OR user_id = $2) \
             GROUP BY GROUPING SETS ((status), (notification_type), (priority), ())",
        )
        .bind::<Timestamptz, _>(since)
        .bind::<Nullable<SqlUuid>, _>(user.map(|u| u.as_uuid()))
        .load(&mut conn)
        .await
        .map_err(port)?;
        let mut stats = NotificationStats::default();
        for row in rows {
            let n = to_u64(row.n);
            match (row.grouped, row.status, row.notification_type, row.priority) {
                (3, Some(status), _, _) => {
                    stats.by_status.insert(status, n);
                }
                (5, _, Some(kind), _) => {
                    stats.by_type.insert(kind, n);
                }
                (6, _, _, Some(priority)) => {
                    stats.by_priority.insert(priority, n);
                }
                (7, _, _, _) => stats.total_count = n,
                _ => {}
            }
        }
        Ok(stats)
    }

    async fn logs(
        &self,
        filter: LogFilter,
        page: PageRequest,
    ) -> Result<Page<Notification>, PortError> {
        let build = || {
            let mut query = notifications::table.into_boxed();
            if let Some(user) = filter.user_id {
                query = query.filter(notifications::user_id.eq(user.as_uuid()));
            }
            if let Some(status) = filter.status {
                query = query.filter(notifications::status.eq(status.as_str()));
            }
            if let Some(from) = filter.from {
                query = query.filter(notifications::sent_at.ge(from));
            }
            if let Some(to) = filter.to {
                query = query.filter(notifications::sent_at.le(to));
            }
            query
        };
        let mut conn = self.db.conn().await?;
        let total: i64 = build().count().get_result(&mut conn).await.map_err(port)?;
        let rows: Vec<NotificationRow> = build()
            .select(NotificationRow::as_select())
            .order((
                notifications::sent_at.desc().nulls_last(),
                notifications::created_at.desc(),
                notifications::id.desc(),
            ))
            .offset(offset(page))
            .limit(i64::from(page.page_size()))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(NotificationRow::into_notification)
                .collect(),
            total: to_u64(total),
            request: page,
            next: None,
        })
    }

    async fn claim_outbox(
        &self,
        claim: OutboxClaim,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxEvent>, PortError> {
        #[derive(QueryableByName)]
        struct ClaimedRow {
            #[diesel(sql_type = SqlUuid)]
            id: uuid::Uuid,
            #[diesel(sql_type = Text)]
            event_type: String,
            #[diesel(sql_type = SqlUuid)]
            user_id: uuid::Uuid,
            #[diesel(sql_type = Jsonb)]
            payload: Value,
            #[diesel(sql_type = Int4)]
            attempts: i32,
            #[diesel(sql_type = Timestamptz)]
            created_at: DateTime<Utc>,
        }
        let mut conn = self.db.conn().await?;
        let mut rows: Vec<ClaimedRow> = diesel::sql_query(
            "WITH claimable AS ( \
                 SELECT id FROM notification_outbox \
                 WHERE processed_at IS NULL AND available_at <= $1 AND attempts < $2 \
                   AND (locked_until IS NULL OR locked_until < $1) \
                 ORDER BY created_at LIMIT $3 \
                 FOR UPDATE SKIP LOCKED \
             ) \
             UPDATE notification_outbox o SET locked_until = $4, attempts = o.attempts + 1 \
             FROM claimable c WHERE o.id = c.id \
             RETURNING o.id, o.event_type, o.user_id, o.payload, o.attempts, o.created_at",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Int4, _>(claim.max_attempts)
        .bind::<BigInt, _>(i64::from(claim.limit))
        .bind::<Timestamptz, _>(now + claim.lease)
        .load(&mut conn)
        .await
        .map_err(port)?;
        rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(rows
            .into_iter()
            .map(|row| OutboxEvent {
                id: OutboxEventId::from_uuid(row.id),
                event_type: row.event_type,
                user_id: UserId::from_uuid(row.user_id),
                payload: row.payload,
                attempts: row.attempts,
            })
            .collect())
    }

    async fn complete_outbox_event(
        &self,
        event: OutboxEventId,
        notification: &NewNotification,
        now: DateTime<Utc>,
    ) -> Result<Option<PreparedNotification>, PortError> {
        #[derive(QueryableByName)]
        struct Locked {
            #[expect(dead_code, reason = "selected only to lock the row")]
            #[diesel(sql_type = SqlUuid)]
            id: uuid::Uuid,
        }
        let mut conn = self.db.conn().await?;
        let notification = notification.clone();
        conn.transaction::<_, DieselError, _>(async move |conn| {
            // The row lock makes a second worker (whose lease ran out) wait, then skip.
            let locked: Option<Locked> = diesel::sql_query(
                "SELECT id FROM notification_outbox WHERE id = $1 AND processed_at IS NULL FOR UPDATE",
            )
            .bind::<SqlUuid, _>(event.as_uuid())
            .get_result(conn)
            .await
            .optional()?;
            if locked.is_none() {
                return Ok(None);
            }
            let mut prepared = prepare_in(conn, std::slice::from_ref(&notification), now).await?;
            diesel::sql_query(
                "UPDATE notification_outbox SET processed_at = $2, notification_id = $3, \
                     locked_until = NULL, last_error = NULL WHERE id = $1",
            )
            .bind::<SqlUuid, _>(event.as_uuid())
            .bind::<Timestamptz, _>(now)
            .bind::<SqlUuid, _>(notification.id.as_uuid())
            .execute(conn)
            .await?;
            Ok(prepared.pop())
        })
        .await
        .map_err(port)
    }

    async fn retry_outbox_event(
        &self,
        event: OutboxEventId,
        delay: Duration,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(
            "UPDATE notification_outbox SET available_at = $2, locked_until = NULL, last_error = $3 \
             WHERE id = $1",
        )
        .bind::<SqlUuid, _>(event.as_uuid())
        .bind::<Timestamptz, _>(now + delay)
        .bind::<Text, _>(error)
        .execute(&mut conn)
        .await
        .map_err(port)?;
        Ok(())
    }

    async fn abandon_outbox_event(
        &self,
        event: OutboxEventId,
        max_attempts: i32,
        error: &str,
    ) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(
            "UPDATE notification_outbox SET attempts = GREATEST(attempts, $2), locked_until = NULL, \
                 last_error = $3 WHERE id = $1",
        )
        .bind::<SqlUuid, _>(event.as_uuid())
        .bind::<Int4, _>(max_attempts)
        .bind::<Text, _>(error)
        .execute(&mut conn)
        .await
        .map_err(port)?;
        Ok(())
    }

    async fn count_outbox_pending(&self) -> Result<u64, PortError> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.db.conn().await?;
        let count: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM notification_outbox WHERE processed_at IS NULL",
        )
        .get_result(&mut conn)
        .await
        .map_err(port)?;
        Ok(to_u64(count.n))
    }

    async fn count_audience(&self, target: BroadcastTarget) -> Result<u64, PortError> {
        let mut conn = self.db.conn().await?;
        let mut query = users::table.filter(users::is_active).into_boxed();
        if let Some(role) = target.role() {
            query = query.filter(users::role.eq(role.as_str()));
        }
        let total: i64 = query.count().get_result(&mut conn).await.map_err(port)?;
        Ok(to_u64(total))
    }

    async fn create_broadcast(
        &self,
        broadcast: &NewBroadcast,
        total_users: u64,
        status: BroadcastStatus,
        audit: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Broadcast, PortError> {
        let mut conn = self.db.conn().await?;
        let broadcast = broadcast.clone();
        let audit = audit.clone();
        conn.transaction::<_, DieselError, _>(async move |conn| {
            let started = (status == BroadcastStatus::Running).then_some(now);
            let row: BroadcastRow = diesel::insert_into(broadcasts::table)
                .values((
                    broadcasts::id.eq(broadcast.id.as_uuid()),
                    broadcasts::created_by.eq(broadcast.created_by.as_uuid()),
                    broadcasts::title.eq(&broadcast.title),
                    broadcasts::body.eq(&broadcast.body),
                    broadcasts::target.eq(broadcast.target.as_str()),
                    broadcasts::data.eq(broadcast.data.to_json()),
                    broadcasts::status.eq(status.as_str()),
                    broadcasts::total_users.eq(to_i32(total_users)),
                    broadcasts::created_at.eq(now),
                    broadcasts::updated_at.eq(now),
                    broadcasts::started_at.eq(started),
                ))
                .returning(BroadcastRow::as_returning())
                .get_result(conn)
                .await?;
            insert_audit_stamp(
                conn,
                &audit,
                "broadcast.create",
                "broadcast",
                Some(&broadcast.id.to_string()),
                Some(&json!({
                    "target": broadcast.target.as_str(),
                    "total_users": total_users,
                    "status": status.as_str(),
                })),
            )
            .await?;
            Ok(row.into_broadcast())
        })
        .await
        .map_err(port)
    }

    async fn find_broadcast(&self, id: BroadcastId) -> Result<Option<Broadcast>, PortError> {
        let mut conn = self.db.conn().await?;
        broadcasts::table
            .find(id.as_uuid())
            .select(BroadcastRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(BroadcastRow::into_broadcast))
            .map_err(port)
    }

    async fn claim_broadcast(
        &self,
        stale_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Broadcast>, PortError> {
        let mut conn = self.db.conn().await?;
        let row: Option<BroadcastRow> = diesel::sql_query(
            "WITH candidate AS ( \
                 SELECT id FROM broadcasts \
                 WHERE status = 'queued' OR (status = 'running' AND updated_at < $1) \
                 ORDER BY created_at, id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED \
             ) \
             UPDATE broadcasts b SET status = 'running', started_at = COALESCE(b.started_at, $2), \
                 updated_at = $2 \
             FROM candidate c WHERE b.id = c.id \
             RETURNING b.*",
        )
        .bind::<Timestamptz, _>(now - stale_after)
        .bind::<Timestamptz, _>(now)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(port)?;
        Ok(row.map(BroadcastRow::into_broadcast))
    }

    async fn audience_batch(
        &self,
        broadcast: BroadcastId,
        target: BroadcastTarget,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>, PortError> {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = SqlUuid)]
            id: uuid::Uuid,
        }
        let mut conn = self.db.conn().await?;
        let ids: Vec<Id> = diesel::sql_query(
            "SELECT u.id FROM users u \
             WHERE u.is_active AND ($1::text IS NULL OR u.role = $1) \
               AND ($2::uuid IS NULL OR u.id > $2) \
               AND NOT EXISTS (SELECT 1 FROM notifications n \
                               WHERE n.user_id = u.id AND n.metadata->>'broadcast_id' = $3) \
             ORDER BY u.id LIMIT $4",
        )
        .bind::<Nullable<Text>, _>(target.role().map(|r| r.as_str()))
        .bind::<Nullable<SqlUuid>, _>(after.map(|u| u.as_uuid()))
        .bind::<Text, _>(broadcast.to_string())
        .bind::<BigInt, _>(i64::from(limit))
        .load(&mut conn)
        .await
        .map_err(port)?;
        Ok(ids
            .into_iter()
            .map(|row| UserId::from_uuid(row.id))
            .collect())
    }

    async fn record_broadcast_progress(
        &self,
        id: BroadcastId,
        progress: BroadcastProgress,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::update(broadcasts::table.find(id.as_uuid()))
            .set((
                broadcasts::cursor_user_id.eq(progress.cursor.as_uuid()),
                broadcasts::processed_users
                    .eq(broadcasts::processed_users + to_i32(progress.users)),
                broadcasts::success_count.eq(broadcasts::success_count + to_i32(progress.success)),
                broadcasts::failure_count.eq(broadcasts::failure_count + to_i32(progress.failure)),
                broadcasts::updated_at.eq(now),
            ))
            .execute(&mut conn)
            .await
            .map_err(port)?;
        Ok(())
    }

    async fn finish_broadcast(
        &self,
        id: BroadcastId,
        status: BroadcastStatus,
        failure_reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::update(broadcasts::table.find(id.as_uuid()))
            .set((
                broadcasts::status.eq(status.as_str()),
                broadcasts::failure_reason.eq(failure_reason),
                broadcasts::completed_at.eq(now),
                broadcasts::updated_at.eq(now),
            ))
            .execute(&mut conn)
            .await
            .map_err(port)?;
        Ok(())
    }

    async fn requeue_broadcast(&self, id: BroadcastId) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        diesel::update(
            broadcasts::table.filter(
                broadcasts::id
                    .eq(id.as_uuid())
                    .and(broadcasts::status.eq(BroadcastStatus::Running.as_str())),
            ),
        )
        .set(broadcasts::status.eq(BroadcastStatus::Queued.as_str()))
        .execute(&mut conn)
        .await
        .map_err(port)?;
        Ok(())
    }
}
