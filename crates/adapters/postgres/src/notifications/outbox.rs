//! The notification outbox: events claimed with `FOR UPDATE SKIP LOCKED` under a lease,
//! completed into a prepared send, retried later or abandoned, and counted.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Int4, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{PortError, UserId};
use medico24_notifications::{
    NewNotification, OutboxClaim, OutboxEvent, OutboxEventId, PreparedNotification,
};
use serde_json::Value;

use super::sends::prepare_in;
use super::{port, to_u64};
use crate::database::Database;

pub(super) async fn claim_outbox(
    db: &Database,
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
    let mut conn = db.conn().await?;
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

pub(super) async fn complete_outbox_event(
    db: &Database,
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
    let mut conn = db.conn().await?;
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

pub(super) async fn retry_outbox_event(
    db: &Database,
    event: OutboxEventId,
    delay: Duration,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn abandon_outbox_event(
    db: &Database,
    event: OutboxEventId,
    max_attempts: i32,
    error: &str,
) -> Result<(), PortError> {
    let mut conn = db.conn().await?;
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

pub(super) async fn count_outbox_pending(db: &Database) -> Result<u64, PortError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = db.conn().await?;
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM notification_outbox WHERE processed_at IS NULL \
         AND (appointment_id IS NULL OR available_at <= now())",
    )
    .get_result(&mut conn)
    .await
    .map_err(port)?;
    Ok(to_u64(count.n))
}
