//! What a user lets the automatic notifications send them, and the rules an outbox event meets
//! before it becomes a notification: a reminder of an appointment that is no longer active or
//! has started is skipped, and so is any event of a kind its recipient turned off.

use chrono::{DateTime, Duration, Utc};
use medico24_kernel::{Clock, UserId};

use crate::ports::{NotificationRepository, PortError, PushSender};
use crate::service::NotificationService;

/// A user's notification preferences (no stored row = [`Default`]: everything on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationPreferences {
    /// Reminders before an appointment.
    pub appointment_reminders: bool,
    /// Bookings and status changes of the user's appointments.
    pub appointment_updates: bool,
    /// Broadcast announcements.
    pub system_announcements: bool,
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        Self {
            appointment_reminders: true,
            appointment_updates: true,
            system_announcements: true,
        }
    }
}

impl NotificationPreferences {
    /// Whether notifications of `category` may be sent.
    pub const fn allows(&self, category: PreferenceCategory) -> bool {
        match category {
            PreferenceCategory::AppointmentReminders => self.appointment_reminders,
            PreferenceCategory::AppointmentUpdates => self.appointment_updates,
            PreferenceCategory::SystemAnnouncements => self.system_announcements,
        }
    }

    /// These preferences with `patch` applied (absent members unchanged).
    #[must_use]
    pub fn patched(self, patch: PreferencesPatch) -> Self {
        Self {
            appointment_reminders: patch
                .appointment_reminders
                .unwrap_or(self.appointment_reminders),
            appointment_updates: patch
                .appointment_updates
                .unwrap_or(self.appointment_updates),
            system_announcements: patch
                .system_announcements
                .unwrap_or(self.system_announcements),
        }
    }
}

/// A partial update of the preferences: `None` leaves a member unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreferencesPatch {
    /// Reminders before an appointment.
    pub appointment_reminders: Option<bool>,
    /// Bookings and status changes.
    pub appointment_updates: Option<bool>,
    /// Broadcast announcements.
    pub system_announcements: Option<bool>,
}

/// A kind of notification a user may turn off. Direct admin sends and notifications of other
/// kinds cannot be turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferenceCategory {
    /// `appointment_reminder` outbox events.
    AppointmentReminders,
    /// `appointment_created` and `appointment_status_changed` outbox events.
    AppointmentUpdates,
    /// Broadcasts.
    SystemAnnouncements,
}

impl PreferenceCategory {
    /// The category of an outbox event type, `None` for types that are always sent.
    pub fn of_outbox_event(event_type: &str) -> Option<Self> {
        match event_type {
            "appointment_reminder" => Some(Self::AppointmentReminders),
            "appointment_created" | "appointment_status_changed" => Some(Self::AppointmentUpdates),
            _ => None,
        }
    }
}

/// Why a processed outbox event sent nothing (`notification_outbox.skip_reason`, the `reason`
/// label of `medico24_reminders_skipped_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The appointment was cancelled, completed, marked no-show or deleted.
    Inactive,
    /// The appointment had already started when the reminder came due (the service was down).
    Started,
    /// The recipient turned this kind of notification off.
    OptedOut,
}

impl SkipReason {
    /// The stored and label value.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SkipReason::Inactive => "inactive",
            SkipReason::Started => "started",
            SkipReason::OptedOut => "opted_out",
        }
    }
}

/// The appointment a reminder is about, as it stands when the reminder is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderAppointment {
    /// `scheduled`, `confirmed` or `rescheduled`, and not deleted.
    pub active: bool,
    /// Its start.
    pub starts_at: DateTime<Utc>,
}

/// The reminder side of an outbox event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderTarget {
    /// Minutes before the start.
    pub offset_minutes: i32,
    /// The appointment; `None` when it no longer exists.
    pub appointment: Option<ReminderAppointment>,
}

impl ReminderTarget {
    /// When the reminder was due (start − offset), when the appointment still exists.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        self.appointment
            .map(|a| a.starts_at - Duration::minutes(i64::from(self.offset_minutes)))
    }
}

/// What the completion of an outbox event reads under the event's row lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxContext {
    /// The event type.
    pub event_type: String,
    /// The recipient's preferences.
    pub preferences: NotificationPreferences,
    /// Present for reminder events.
    pub reminder: Option<ReminderTarget>,
}

/// The rules of an outbox event at `now`, in order: a reminder of an appointment that is gone
/// or no longer active → `Inactive`; of one that has started → `Started` (a reminder overdue
/// because the service was down is still sent while the appointment is ahead); an event of a
/// kind the recipient turned off → `OptedOut`; else `None` (send).
pub fn outbox_skip(context: &OutboxContext, now: DateTime<Utc>) -> Option<SkipReason> {
    if let Some(reminder) = &context.reminder {
        match reminder.appointment {
            None => return Some(SkipReason::Inactive),
            Some(a) if !a.active => return Some(SkipReason::Inactive),
            Some(a) if a.starts_at <= now => return Some(SkipReason::Started),
            Some(_) => {}
        }
    }
    match PreferenceCategory::of_outbox_event(&context.event_type) {
        Some(category) if !context.preferences.allows(category) => Some(SkipReason::OptedOut),
        _ => None,
    }
}

impl<R, S, C> NotificationService<R, S, C>
where
    R: NotificationRepository,
    S: PushSender,
    C: Clock,
{
    /// The user's notification preferences.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn preferences(&self, user: UserId) -> Result<NotificationPreferences, PortError> {
        self.repo.preferences(user).await
    }

    /// Applies a partial update to the user's preferences; returns them all.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn update_preferences(
        &self,
        user: UserId,
        patch: PreferencesPatch,
    ) -> Result<NotificationPreferences, PortError> {
        self.repo
            .update_preferences(user, patch, self.clock.now())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn reminder(active: bool, starts_at: DateTime<Utc>) -> OutboxContext {
        OutboxContext {
            event_type: "appointment_reminder".to_owned(),
            preferences: NotificationPreferences::default(),
            reminder: Some(ReminderTarget {
                offset_minutes: 60,
                appointment: Some(ReminderAppointment { active, starts_at }),
            }),
        }
    }

    #[test]
    fn reminders_are_skipped_when_inactive_started_or_opted_out_in_that_order() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let ahead = now + Duration::minutes(10);
        assert_eq!(
            outbox_skip(&reminder(true, ahead), now),
            None,
            "overdue but ahead: sent"
        );
        assert_eq!(
            outbox_skip(&reminder(false, ahead), now),
            Some(SkipReason::Inactive)
        );
        assert_eq!(
            outbox_skip(&reminder(true, now), now),
            Some(SkipReason::Started)
        );
        assert_eq!(
            outbox_skip(&reminder(false, now - Duration::hours(1)), now),
            Some(SkipReason::Inactive)
        );
        let mut gone = reminder(true, ahead);
        gone.reminder = Some(ReminderTarget {
            offset_minutes: 60,
            appointment: None,
        });
        assert_eq!(outbox_skip(&gone, now), Some(SkipReason::Inactive));
        let mut opted_out = reminder(true, ahead);
        opted_out.preferences.appointment_reminders = false;
        assert_eq!(outbox_skip(&opted_out, now), Some(SkipReason::OptedOut));
        opted_out.reminder = Some(ReminderTarget {
            offset_minutes: 60,
            appointment: Some(ReminderAppointment {
                active: true,
                starts_at: now,
            }),
        });
        assert_eq!(outbox_skip(&opted_out, now), Some(SkipReason::Started));
    }

    #[test]
    fn appointment_updates_honour_their_preference_and_other_events_are_always_sent() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let mut context = OutboxContext {
            event_type: "appointment_status_changed".to_owned(),
            preferences: NotificationPreferences {
                appointment_updates: false,
                ..NotificationPreferences::default()
            },
            reminder: None,
        };
        assert_eq!(outbox_skip(&context, now), Some(SkipReason::OptedOut));
        context.event_type = "appointment_created".to_owned();
        assert_eq!(outbox_skip(&context, now), Some(SkipReason::OptedOut));
        context.event_type = "something_else".to_owned();
        assert_eq!(outbox_skip(&context, now), None);
    }

    #[test]
    fn a_patch_changes_only_the_members_it_names() {
        let patched = NotificationPreferences::default().patched(PreferencesPatch {
            appointment_reminders: Some(false),
            ..PreferencesPatch::default()
        });
        assert_eq!(
            patched,
            NotificationPreferences {
                appointment_reminders: false,
                appointment_updates: true,
                system_announcements: true,
            }
        );
        assert_eq!(patched.patched(PreferencesPatch::default()), patched);
    }

    #[test]
    fn the_due_time_of_a_reminder_is_its_offset_before_the_start() {
        let start = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
        let target = ReminderTarget {
            offset_minutes: 1440,
            appointment: Some(ReminderAppointment {
                active: true,
                starts_at: start,
            }),
        };
        assert_eq!(target.due_at(), Some(start - Duration::days(1)));
    }
}
