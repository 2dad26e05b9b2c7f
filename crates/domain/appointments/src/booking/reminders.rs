//! Appointment reminders: the offsets before the start (`REMINDER_OFFSETS`), which of them are
//! still ahead (the due-time rules), the rendered reminder message, and what a change of an
//! appointment does to its pending reminders.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::json;

use crate::booking::messages::{OutboxMessage, format_when};
use crate::booking::model::Appointment;

/// The outbox `event_type` of a reminder.
pub const REMINDER_EVENT: &str = "appointment_reminder";

/// The longest offset accepted (30 days): a reminder further ahead than that is no reminder.
pub const MAX_OFFSET_MINUTES: u32 = 30 * 24 * 60;

/// How long before an appointment's start a reminder is due, in whole minutes (1 minute to
/// 30 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReminderOffset(u32);

impl ReminderOffset {
    /// An offset of `minutes` (1 ..= [`MAX_OFFSET_MINUTES`]).
    pub const fn from_minutes(minutes: u32) -> Option<Self> {
        if minutes == 0 || minutes > MAX_OFFSET_MINUTES {
            None
        } else {
            Some(Self(minutes))
        }
    }

    /// The offset in minutes.
    pub const fn minutes(&self) -> u32 {
        self.0
    }

    /// The offset as a duration.
    pub fn duration(&self) -> Duration {
        Duration::minutes(i64::from(self.0))
    }

    /// When a reminder at this offset is due for an appointment starting at `start`.
    pub fn due_at(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        start - self.duration()
    }
}

impl fmt::Display for ReminderOffset {
    /// The shortest exact form: `1d`, `24h` is shown as `1d`, `90m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        if m.is_multiple_of(24 * 60) {
            write!(f, "{}d", m / (24 * 60))
        } else if m.is_multiple_of(60) {
            write!(f, "{}h", m / 60)
        } else {
            write!(f, "{m}m")
        }
    }
}

/// Why a `REMINDER_OFFSETS` value was refused (the message names the offending item).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffsetError {
    /// An item is not a whole number followed by `m`, `h` or `d`.
    #[error("\"{0}\" is not a number followed by m, h or d")]
    Malformed(String),
    /// An item is zero or longer than 30 days.
    #[error("\"{0}\" must be between 1 minute and 30 days")]
    OutOfRange(String),
    /// Two items name the same offset.
    #[error("\"{0}\" is listed twice")]
    Duplicate(String),
}

/// Parses `REMINDER_OFFSETS`: comma-separated items such as `24h`, `90m`, `2d` (spaces around
/// items ignored); `none` (or nothing but separators) means no reminders. Returned longest
/// first, without duplicates (a duplicate, also as another unit — `1d,24h` — is an error).
///
/// # Errors
/// The first refused item, as an [`OffsetError`].
pub fn parse_offsets(text: &str) -> Result<Vec<ReminderOffset>, OffsetError> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut offsets: Vec<ReminderOffset> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let malformed = || OffsetError::Malformed(item.to_owned());
        let (digits, unit) =
            item.split_at(item.len() - item.chars().last().map_or(0, char::len_utf8));
        let per_unit: u64 = match unit {
            "m" => 1,
            "h" => 60,
            "d" => 24 * 60,
            _ => return Err(malformed()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let out_of_range = || OffsetError::OutOfRange(item.to_owned());
        let minutes = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit))
            .and_then(|n| u32::try_from(n).ok())
            .and_then(ReminderOffset::from_minutes)
            .ok_or_else(out_of_range)?;
        if offsets.contains(&minutes) {
            return Err(OffsetError::Duplicate(item.to_owned()));
        }
        offsets.push(minutes);
    }
    offsets.sort_by(|a, b| b.cmp(a));
    Ok(offsets)
}

/// One reminder to schedule: its offset and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderSlot {
    /// Minutes before the start.
    pub offset: ReminderOffset,
    /// `appointment_at - offset`.
    pub due_at: DateTime<Utc>,
}

/// The reminders of one appointment: the message they all carry and their slots.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderPlan {
    /// The rendered reminder (the same text for every offset).
    pub message: OutboxMessage,
    /// The slots still ahead, longest offset first (possibly none).
    pub slots: Vec<ReminderSlot>,
}

/// The due-time rule: the slots of `offsets` whose due time is still after `now`, for an
/// active appointment starting at `start`; nothing for an inactive one. A booking made 30
/// minutes ahead gets no 24 h and no 1 h reminder.
pub fn due_slots(
    offsets: &[ReminderOffset],
    start: DateTime<Utc>,
    active: bool,
    now: DateTime<Utc>,
) -> Vec<ReminderSlot> {
    if !active {
        return Vec::new();
    }
    offsets
        .iter()
        .map(|offset| ReminderSlot {
            offset: *offset,
            due_at: offset.due_at(start),
        })
        .filter(|slot| slot.due_at > now)
        .collect()
}

/// The reminder message of `appointment`: the doctor, the clinic (when known) and the start in
/// `zone`; `data` carries the appointment id and the deep link, like the other appointment
/// messages.
pub fn reminder_message(appointment: &Appointment, zone: Tz) -> OutboxMessage {
    let when = format_when(appointment.appointment_at, zone);
    let body = match &appointment.clinic_name {
        Some(clinic) if !clinic.is_empty() => format!(
            "Reminder: your appointment with {} at {clinic} is on {when}",
            appointment.doctor_name
        ),
        _ => format!(
            "Reminder: your appointment with {} is on {when}",
            appointment.doctor_name
        ),
    };
    OutboxMessage {
        event_type: REMINDER_EVENT,
        user_id: appointment.patient_id,
        title: "Appointment Reminder".to_owned(),
        body,
        notification_type: "appointment_reminder",
        priority: "normal",
        data: json!({
            "type": REMINDER_EVENT,
            "appointment_id": appointment.id.to_string(),
            "screen": format!("/appointments/{}", appointment.id),
        }),
    }
}

/// The reminders a new booking schedules.
pub fn plan_reminders(
    appointment: &Appointment,
    offsets: &[ReminderOffset],
    zone: Tz,
    now: DateTime<Utc>,
) -> ReminderPlan {
    ReminderPlan {
        message: reminder_message(appointment, zone),
        slots: due_slots(
            offsets,
            appointment.appointment_at,
            appointment.status.is_active(),
            now,
        ),
    }
}

/// What a change of an appointment does to its pending (unsent) reminders, written in the same
/// transaction as the change.
#[derive(Debug, Clone, PartialEq)]
pub enum ReminderChange {
    /// Nothing to do.
    Keep,
    /// The appointment is no longer active: every pending reminder is removed.
    Drop,
    /// The start moved: pending reminders whose offset is not in the plan are removed, the
    /// plan's slots are written (moved, or created again — also for an offset already sent for
    /// the old time).
    Replace(ReminderPlan),
    /// Only the text changed (doctor or clinic): the pending reminders carry the new message.
    Rewrite(OutboxMessage),
}

/// The reminder change from `before` to `after` at `now`: inactive → drop; start moved →
/// replace by the slots still ahead; doctor or clinic renamed → rewrite; else keep.
pub fn reminder_change(
    before: &Appointment,
    after: &Appointment,
    offsets: &[ReminderOffset],
    zone: Tz,
    now: DateTime<Utc>,
) -> ReminderChange {
    if !after.status.is_active() {
        return if before.status.is_active() {
            ReminderChange::Drop
        } else {
            ReminderChange::Keep
        };
    }
    if after.appointment_at != before.appointment_at || !before.status.is_active() {
        return ReminderChange::Replace(plan_reminders(after, offsets, zone, now));
    }
    if after.doctor_name != before.doctor_name || after.clinic_name != before.clinic_name {
        return ReminderChange::Rewrite(reminder_message(after, zone));
    }
    ReminderChange::Keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::{AppointmentSource, AppointmentStatus};
    use chrono::TimeZone;
    use medico24_kernel::{AppointmentId, UserId};

    fn minutes(list: &[u32]) -> Vec<ReminderOffset> {
        list.iter()
            .map(|m| ReminderOffset::from_minutes(*m).unwrap())
            .collect()
    }

    fn appointment(at: DateTime<Utc>, status: AppointmentStatus) -> Appointment {
        Appointment {
            id: AppointmentId::new_v7(),
            patient_id: UserId::new_v7(),
            doctor_id: None,
            clinic_id: None,
            doctor_name: "Dr Mehta".to_owned(),
            clinic_name: Some("Lotus Clinic".to_owned()),
            appointment_at: at,
            appointment_end_at: None,
            reason: "Check-up".to_owned(),
            contact_phone: "+91 98765 43210".to_owned(),
            notes: None,
            status,
            source: AppointmentSource::PatientApp,
            created_at: at,
            updated_at: at,
            cancelled_at: None,
            deleted_at: None,
            doctor_clinic_id: None,
        }
    }

    #[test]
    fn offsets_parse_in_minutes_hours_and_days_longest_first() {
        assert_eq!(parse_offsets("24h,1h").unwrap(), minutes(&[1440, 60]));
        assert_eq!(
            parse_offsets(" 15m , 2d,3h ").unwrap(),
            minutes(&[2880, 180, 15])
        );
        assert_eq!(parse_offsets("none").unwrap(), vec![]);
        assert_eq!(parse_offsets("").unwrap(), vec![]);
        assert_eq!(parse_offsets("30d").unwrap(), minutes(&[43_200]));
    }

    #[test]
    fn malformed_zero_too_long_and_repeated_offsets_are_refused_by_item() {
        for (text, expected) in [
            ("24", OffsetError::Malformed("24".to_owned())),
            ("h", OffsetError::Malformed("h".to_owned())),
            ("1w", OffsetError::Malformed("1w".to_owned())),
            ("-1h", OffsetError::Malformed("-1h".to_owned())),
            ("1.5h", OffsetError::Malformed("1.5h".to_owned())),
            ("1h,x", OffsetError::Malformed("x".to_owned())),
            ("0m", OffsetError::OutOfRange("0m".to_owned())),
            ("31d", OffsetError::OutOfRange("31d".to_owned())),
            (
                "99999999999999999999m",
                OffsetError::OutOfRange("99999999999999999999m".to_owned()),
            ),
            ("1d,24h", OffsetError::Duplicate("24h".to_owned())),
        ] {
            assert_eq!(parse_offsets(text), Err(expected), "{text}");
        }
        assert_eq!(
            OffsetError::Malformed("1w".to_owned()).to_string(),
            "\"1w\" is not a number followed by m, h or d"
        );
    }

    #[test]
    fn offsets_show_in_their_largest_exact_unit() {
        let shown: Vec<String> = minutes(&[1440, 60, 90])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["1d", "1h", "90m"]);
    }

    #[test]
    fn only_offsets_still_ahead_are_due_and_none_for_inactive_appointments() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let offsets = minutes(&[1440, 60]);
        let half_hour = now + Duration::minutes(30);
        assert!(due_slots(&offsets, half_hour, true, now).is_empty());
        let in_two_hours = now + Duration::hours(2);
        assert_eq!(
            due_slots(&offsets, in_two_hours, true, now),
            vec![ReminderSlot {
                offset: offsets[1],
                due_at: now + Duration::hours(1)
            }]
        );
        let exactly_one_hour = now + Duration::hours(1);
        assert!(
            due_slots(&offsets, exactly_one_hour, true, now).is_empty(),
            "a due time equal to now is not ahead"
        );
        let in_two_days = now + Duration::days(2);
        assert_eq!(due_slots(&offsets, in_two_days, true, now).len(), 2);
        assert!(due_slots(&offsets, in_two_days, false, now).is_empty());
    }

    #[test]
    fn the_reminder_names_doctor_clinic_and_local_time_and_links_the_appointment() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 4, 30, 0).unwrap();
        let a = appointment(at, AppointmentStatus::Scheduled);
        let message = reminder_message(&a, chrono_tz::Asia::Kolkata);
        assert_eq!(
            message.body,
            "Reminder: your appointment with Dr Mehta at Lotus Clinic is on Jan 01, 10:00 AM IST"
        );
        assert_eq!(message.notification_type, "appointment_reminder");
        assert_eq!(message.data["appointment_id"], a.id.to_string());
        assert_eq!(message.data["screen"], format!("/appointments/{}", a.id));
        let mut without_clinic = a.clone();
        without_clinic.clinic_name = None;
        assert_eq!(
            reminder_message(&without_clinic, chrono_tz::Asia::Kolkata).body,
            "Reminder: your appointment with Dr Mehta is on Jan 01, 10:00 AM IST"
        );
    }

    #[test]
    fn changes_drop_replace_rewrite_or_keep_the_pending_reminders() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let zone = chrono_tz::Asia::Kolkata;
        let offsets = minutes(&[1440, 60]);
        let before = appointment(now + Duration::days(3), AppointmentStatus::Scheduled);
        for status in [
            AppointmentStatus::Cancelled,
            AppointmentStatus::Completed,
            AppointmentStatus::NoShow,
        ] {
            let mut after = before.clone();
            after.status = status;
            assert_eq!(
                reminder_change(&before, &after, &offsets, zone, now),
                ReminderChange::Drop
            );
            assert_eq!(
                reminder_change(&after, &after, &offsets, zone, now),
                ReminderChange::Keep
            );
        }
        let mut moved = before.clone();
        moved.appointment_at = now + Duration::minutes(90);
        let ReminderChange::Replace(plan) = reminder_change(&before, &moved, &offsets, zone, now)
        else {
            panic!("a moved start replaces the reminders")
        };
        assert_eq!(plan.slots.len(), 1, "the 24 h reminder is now in the past");
        assert_eq!(plan.slots[0].due_at, now + Duration::minutes(30));
        let mut confirmed = before.clone();
        confirmed.status = AppointmentStatus::Confirmed;
        assert_eq!(
            reminder_change(&before, &confirmed, &offsets, zone, now),
            ReminderChange::Keep
        );
        let mut renamed = before.clone();
        renamed.doctor_name = "Dr Rao".to_owned();
        assert!(matches!(
            reminder_change(&before, &renamed, &offsets, zone, now),
            ReminderChange::Rewrite(m) if m.body.contains("Dr Rao")
        ));
    }
}
