//! The send pipeline's writes: notifications and their pending deliveries for a whole batch in
//! one statement, the outcomes of a send in three, and the recovery sweep that claims sends
//! left with pending deliveries.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{
    Array, BigInt, Bool, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{NotificationId, PortError, PushTokenId, UserId};
use medico24_notifications::{
    DeliveryId, DeliveryRecord, DeliveryStatus, NO_ACTIVE_TOKENS, NewNotification,
    PreparedNotification, PushData, PushTarget, SendAudit, SettledDelivery, SettledNotification,
    StalledNotification, TOKEN_DEACTIVATED,
};
use serde_json::{Value, json};

use super::port;
use crate::audit::insert_audit_stamp;
use crate::conn::PgConn;
use crate::database::Database;
use crate::schema::{push_tokens, users};

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

/// The send pipeline up to sending, for every notification in one statement: the notifications
/// (`sent`, or `failed` without active tokens) and one pending delivery per active token. The
/// result is in input order, targets by token age.
pub(super) async fn prepare_in(
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

pub(super) async fn user_exists(db: &Database, user: UserId) -> Result<bool, PortError> {
    let mut conn = db.conn().await?;
    diesel::select(exists(users::table.find(user.as_uuid())))
        .get_result(&mut conn)
        .await
        .map_err(port)
}

pub(super) async fn prepare_one(
    db: &Database,
    notification: &NewNotification,
    audit: Option<&SendAudit>,
    now: DateTime<Utc>,
) -> Result<PreparedNotification, PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn prepare_batch(
    db: &Database,
    notifications: &[NewNotification],
    now: DateTime<Utc>,
) -> Result<Vec<PreparedNotification>, PortError> {
    let mut conn = db.conn().await?;
    let items = notifications.to_vec();
    conn.transaction::<_, DieselError, _>(async move |conn| prepare_in(conn, &items, now).await)
        .await
        .map_err(port)
}

pub(super) async fn record_results(
    db: &Database,
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

    let mut conn = db.conn().await?;
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

pub(super) async fn claim_stalled(
    db: &Database,
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
    let mut conn = db.conn().await?;
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
                entry.1.push(SettledDelivery::from_stored(
                    status,
                    d.failure_reason.as_deref(),
                ));
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
