//! Settling a due outbox event under its row lock (the reminder and preference rules decide
//! between a notification and a skip), and the users' notification preferences.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_appointments::booking::AppointmentStatus;
use medico24_kernel::{PortError, UserId};
use medico24_notifications::{
    NewNotification, NotificationPreferences, OutboxContext, OutboxEventId, OutboxSettlement,
    PreferencesPatch, ReminderAppointment, ReminderTarget, SkipReason,
};

use super::port;
use super::sends::prepare_in;
use crate::database::Database;
use crate::schema::notification_preferences;

#[derive(QueryableByName)]
struct LockedEvent {
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Nullable<Int4>)]
    reminder_offset_minutes: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    appointment_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Bool>)]
    deleted: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    appointment_reminders: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    appointment_updates: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    system_announcements: Option<bool>,
}

impl LockedEvent {
    fn context(self) -> OutboxContext {
        let defaults = NotificationPreferences::default();
        let appointment = match (self.status, self.appointment_at, self.deleted) {
            (Some(status), Some(starts_at), Some(deleted)) => Some(ReminderAppointment {
                // An unknown status (the CHECK constraint forbids it) counts as inactive.
                active: !deleted
                    && status
                        .parse::<AppointmentStatus>()
                        .is_ok_and(|s| s.is_active()),
                starts_at,
            }),
            _ => None,
        };
        OutboxContext {
            event_type: self.event_type,
            preferences: NotificationPreferences {
                appointment_reminders: self
                    .appointment_reminders
                    .unwrap_or(defaults.appointment_reminders),
                appointment_updates: self
                    .appointment_updates
                    .unwrap_or(defaults.appointment_updates),
                system_announcements: self
                    .system_announcements
                    .unwrap_or(defaults.system_announcements),
            },
            reminder: self
                .reminder_offset_minutes
                .map(|offset_minutes| ReminderTarget {
                    offset_minutes,
                    appointment,
                }),
        }
    }
}

pub(super) async fn settle_outbox_event<F>(
    db: &Database,
    event: OutboxEventId,
    notification: &NewNotification,
    decide: F,
    now: DateTime<Utc>,
) -> Result<OutboxSettlement, PortError>
where
    F: FnOnce(&OutboxContext) -> Option<SkipReason> + Send + 'static,
{
    let mut conn = db.conn().await?;
    let notification = notification.clone();
    conn.transaction::<_, DieselError, _>(async move |conn| {
        // The row lock makes a second worker (whose lease ran out) wait, then skip; a reminder
        // moved later or removed by a change of its appointment is not found.
        let locked: Option<LockedEvent> = diesel::sql_query(
            "SELECT o.event_type, o.reminder_offset_minutes, a.status, a.appointment_at, \
                 a.deleted_at IS NOT NULL AS deleted, p.appointment_reminders, \
                 p.appointment_updates, p.system_announcements \
             FROM notification_outbox o \
             LEFT JOIN appointments a ON a.id = o.appointment_id \
             LEFT JOIN notification_preferences p ON p.user_id = o.user_id \
             WHERE o.id = $1 AND o.processed_at IS NULL AND o.available_at <= $2 \
             FOR UPDATE OF o",
        )
        .bind::<SqlUuid, _>(event.as_uuid())
        .bind::<Timestamptz, _>(now)
        .get_result(conn)
        .await
        .optional()?;
        let Some(locked) = locked else {
            return Ok(OutboxSettlement::Gone);
        };
        let context = locked.context();
        if let Some(reason) = decide(&context) {
            diesel::sql_query(
                "UPDATE notification_outbox SET processed_at = $2, skip_reason = $3, \
                     locked_until = NULL, last_error = NULL WHERE id = $1",
            )
            .bind::<SqlUuid, _>(event.as_uuid())
            .bind::<Timestamptz, _>(now)
            .bind::<Text, _>(reason.as_str())
            .execute(conn)
            .await?;
            return Ok(OutboxSettlement::Skipped { reason, context });
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
        Ok(match prepared.pop() {
            Some(prepared) => OutboxSettlement::Sent { prepared, context },
            None => OutboxSettlement::Gone,
        })
    })
    .await
    .map_err(port)
}

type PreferenceColumns = (bool, bool, bool);

fn from_columns((reminders, updates, announcements): PreferenceColumns) -> NotificationPreferences {
    NotificationPreferences {
        appointment_reminders: reminders,
        appointment_updates: updates,
        system_announcements: announcements,
    }
}

pub(super) async fn preferences(
    db: &Database,
    user: UserId,
) -> Result<NotificationPreferences, PortError> {
    let mut conn = db.conn().await?;
    let row: Option<PreferenceColumns> = notification_preferences::table
        .find(user.as_uuid())
        .select((
            notification_preferences::appointment_reminders,
            notification_preferences::appointment_updates,
            notification_preferences::system_announcements,
        ))
        .first(&mut conn)
        .await
        .optional()
        .map_err(port)?;
    Ok(row.map(from_columns).unwrap_or_default())
}

pub(super) async fn update_preferences(
    db: &Database,
    user: UserId,
    patch: PreferencesPatch,
    now: DateTime<Utc>,
) -> Result<NotificationPreferences, PortError> {
    let mut conn = db.conn().await?;
    let defaults = NotificationPreferences::default().patched(patch);
    // One statement: absent members keep the stored value (or the default on first write).
    let row: PreferenceColumns = diesel::sql_query(
        "INSERT INTO notification_preferences AS p (user_id, appointment_reminders, \
             appointment_updates, system_announcements, updated_at) \
         VALUES ($1, $2, $3, $4, $8) \
         ON CONFLICT (user_id) DO UPDATE SET \
             appointment_reminders = COALESCE($5, p.appointment_reminders), \
             appointment_updates = COALESCE($6, p.appointment_updates), \
             system_announcements = COALESCE($7, p.system_announcements), \
             updated_at = $8 \
         RETURNING p.appointment_reminders, p.appointment_updates, p.system_announcements",
    )
    .bind::<SqlUuid, _>(user.as_uuid())
    .bind::<Bool, _>(defaults.appointment_reminders)
    .bind::<Bool, _>(defaults.appointment_updates)
    .bind::<Bool, _>(defaults.system_announcements)
    .bind::<Nullable<Bool>, _>(patch.appointment_reminders)
    .bind::<Nullable<Bool>, _>(patch.appointment_updates)
    .bind::<Nullable<Bool>, _>(patch.system_announcements)
    .bind::<Timestamptz, _>(now)
    .get_result::<PreferenceRow>(&mut conn)
    .await
    .map(|r| {
        (
            r.appointment_reminders,
            r.appointment_updates,
            r.system_announcements,
        )
    })
    .map_err(port)?;
    Ok(from_columns(row))
}

#[derive(QueryableByName)]
struct PreferenceRow {
    #[diesel(sql_type = Bool)]
    appointment_reminders: bool,
    #[diesel(sql_type = Bool)]
    appointment_updates: bool,
    #[diesel(sql_type = Bool)]
    system_announcements: bool,
}
