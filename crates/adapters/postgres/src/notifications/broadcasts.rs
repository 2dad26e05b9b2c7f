//! Resumable broadcasts: the audience count, creation with its audit entry, claiming a queued
//! or stale broadcast, the next batch of its audience after a cursor, progress and the end.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{AuditStamp, BroadcastId, PortError, UserId};
use medico24_notifications::{
    Broadcast, BroadcastProgress, BroadcastStatus, BroadcastTarget, NewBroadcast,
};
use serde_json::{Value, json};

use super::{port, to_i32, to_u64};
use crate::audit::insert_audit_stamp;
use crate::database::Database;
use crate::schema::{broadcasts, notification_preferences, users};

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

pub(super) async fn count_audience(
    db: &Database,
    target: BroadcastTarget,
) -> Result<u64, PortError> {
    let mut conn = db.conn().await?;
    // Users who turned system announcements off are not part of any broadcast's audience.
    let opted_out = notification_preferences::table
        .filter(notification_preferences::user_id.eq(users::id))
        .filter(notification_preferences::system_announcements.eq(false));
    let mut query = users::table
        .filter(users::is_active)
        .filter(diesel::dsl::not(diesel::dsl::exists(opted_out)))
        .into_boxed();
    if let Some(role) = target.role() {
        query = query.filter(users::role.eq(role.as_str()));
    }
    let total: i64 = query.count().get_result(&mut conn).await.map_err(port)?;
    Ok(to_u64(total))
}

pub(super) async fn create_broadcast(
    db: &Database,
    broadcast: &NewBroadcast,
    total_users: u64,
    status: BroadcastStatus,
    audit: &AuditStamp,
    now: DateTime<Utc>,
) -> Result<Broadcast, PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn find_broadcast(
    db: &Database,
    id: BroadcastId,
) -> Result<Option<Broadcast>, PortError> {
    let mut conn = db.conn().await?;
    broadcasts::table
        .find(id.as_uuid())
        .select(BroadcastRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map(|row| row.map(BroadcastRow::into_broadcast))
        .map_err(port)
}

pub(super) async fn claim_broadcast(
    db: &Database,
    stale_after: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Broadcast>, PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn audience_batch(
    db: &Database,
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
    let mut conn = db.conn().await?;
    let ids: Vec<Id> = diesel::sql_query(
        "SELECT u.id FROM users u \
         WHERE u.is_active AND ($1::text IS NULL OR u.role = $1) \
           AND ($2::uuid IS NULL OR u.id > $2) \
           AND NOT EXISTS (SELECT 1 FROM notifications n \
                           WHERE n.user_id = u.id AND n.metadata->>'broadcast_id' = $3) \
           AND NOT EXISTS (SELECT 1 FROM notification_preferences p \
                           WHERE p.user_id = u.id AND NOT p.system_announcements) \
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

pub(super) async fn record_broadcast_progress(
    db: &Database,
    id: BroadcastId,
    progress: BroadcastProgress,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let mut conn = db.conn().await?;
    diesel::update(broadcasts::table.find(id.as_uuid()))
        .set((
            broadcasts::cursor_user_id.eq(progress.cursor.as_uuid()),
            broadcasts::processed_users.eq(broadcasts::processed_users + to_i32(progress.users)),
            broadcasts::success_count.eq(broadcasts::success_count + to_i32(progress.success)),
            broadcasts::failure_count.eq(broadcasts::failure_count + to_i32(progress.failure)),
            broadcasts::updated_at.eq(now),
        ))
        .execute(&mut conn)
        .await
        .map_err(port)?;
    Ok(())
}

pub(super) async fn finish_broadcast(
    db: &Database,
    id: BroadcastId,
    status: BroadcastStatus,
    failure_reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn requeue_broadcast(db: &Database, id: BroadcastId) -> Result<(), PortError> {
    let mut conn = db.conn().await?;
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
