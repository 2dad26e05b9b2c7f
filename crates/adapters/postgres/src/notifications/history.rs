//! Reading and managing stored notifications: a user's history, one notification with its
//! deliveries, read marks, deletion, statistics aggregated in SQL, and the admin logs.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{
    AuditStamp, NotificationId, Page, PageRequest, PortError, PushTokenId, UserId,
};
use medico24_notifications::{
    Delivery, DeliveryId, DeliveryStatus, HistoryFilter, LogFilter, Notification,
    NotificationDetail, NotificationStats, NotificationStatus, NotificationType, Priority,
};
use serde_json::{Value, json};

use super::{offset, port, to_u64};
use crate::audit::insert_audit_stamp;
use crate::database::Database;
use crate::schema::{notification_deliveries, notifications};

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

pub(super) async fn history(
    db: &Database,
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
    let mut conn = db.conn().await?;
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

pub(super) async fn find(
    db: &Database,
    id: NotificationId,
) -> Result<Option<NotificationDetail>, PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn mark_read(
    db: &Database,
    id: NotificationId,
    owner: UserId,
    now: DateTime<Utc>,
) -> Result<bool, PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn delete(
    db: &Database,
    id: NotificationId,
    actor: UserId,
    actor_is_admin: bool,
    audit: &AuditStamp,
) -> Result<bool, PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn stats(
    db: &Database,
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
    let mut conn = db.conn().await?;
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

pub(super) async fn logs(
    db: &Database,
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
    let mut conn = db.conn().await?;
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
