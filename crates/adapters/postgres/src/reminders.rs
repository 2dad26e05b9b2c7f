//! Reminder rows of the notification outbox: written with a booking, moved, rewritten or
//! removed with a change of their appointment, in the caller's transaction. One row per
//! (appointment, offset) (`uq_notification_outbox_reminder`); a move re-arms that same row.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::sql_types::{Array, Int4, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use medico24_appointments::booking::{ReminderChange, ReminderPlan};

use crate::conn::PgConn;

/// The offsets (minutes) and due times of a plan, as the two arrays the statements unnest.
pub(crate) fn plan_arrays(plan: &ReminderPlan) -> (Vec<i32>, Vec<DateTime<Utc>>) {
    plan.slots
        .iter()
        .map(|slot| {
            (
                i32::try_from(slot.offset.minutes()).unwrap_or(i32::MAX),
                slot.due_at,
            )
        })
        .unzip()
}

/// Removes the pending (unsent) reminders of `appointment`.
pub(crate) async fn drop_pending(conn: &mut PgConn, appointment: uuid::Uuid) -> QueryResult<()> {
    diesel::sql_query(
        "DELETE FROM notification_outbox WHERE appointment_id = $1 AND processed_at IS NULL",
    )
    .bind::<SqlUuid, _>(appointment)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Applies `change` to the reminders of `appointment`.
pub(crate) async fn apply_change(
    conn: &mut PgConn,
    appointment: uuid::Uuid,
    change: &ReminderChange,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    match change {
        ReminderChange::Keep => Ok(()),
        ReminderChange::Drop => drop_pending(conn, appointment).await,
        ReminderChange::Rewrite(message) => diesel::sql_query(
            "UPDATE notification_outbox SET payload = $2 \
             WHERE appointment_id = $1 AND processed_at IS NULL",
        )
        .bind::<SqlUuid, _>(appointment)
        .bind::<Jsonb, _>(message.payload())
        .execute(conn)
        .await
        .map(|_| ()),
        ReminderChange::Replace(plan) => {
            let (offsets, dues) = plan_arrays(plan);
            // Offsets no longer ahead lose their pending row …
            diesel::sql_query(
                "DELETE FROM notification_outbox WHERE appointment_id = $1 \
                 AND processed_at IS NULL AND reminder_offset_minutes <> ALL($2)",
            )
            .bind::<SqlUuid, _>(appointment)
            .bind::<Array<Int4>, _>(&offsets)
            .execute(conn)
            .await?;
            // … the others are moved, or armed again when already processed for the old time.
            diesel::sql_query(
                "INSERT INTO notification_outbox (event_type, user_id, payload, created_at, \
                     available_at, appointment_id, reminder_offset_minutes) \
                 SELECT $2, $3, $4, $5, r.due, $1, r.off \
                 FROM unnest($6::int4[], $7::timestamptz[]) AS r(off, due) \
                 ON CONFLICT (appointment_id, reminder_offset_minutes) \
                     WHERE appointment_id IS NOT NULL \
                 DO UPDATE SET available_at = EXCLUDED.available_at, payload = EXCLUDED.payload, \
                     processed_at = NULL, notification_id = NULL, skip_reason = NULL, \
                     attempts = 0, locked_until = NULL, last_error = NULL",
            )
            .bind::<SqlUuid, _>(appointment)
            .bind::<Text, _>(plan.message.event_type)
            .bind::<SqlUuid, _>(plan.message.user_id.as_uuid())
            .bind::<Jsonb, _>(plan.message.payload())
            .bind::<Timestamptz, _>(now)
            .bind::<Array<Int4>, _>(&offsets)
            .bind::<Array<Timestamptz>, _>(&dues)
            .execute(conn)
            .await
            .map(|_| ())
        }
    }
}
