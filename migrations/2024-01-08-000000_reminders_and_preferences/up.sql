-- Appointment reminders ride the notification outbox: a reminder is an outbox row naming its
-- appointment and its offset (minutes before the start), due at `available_at`. One row per
-- (appointment, offset), enforced here, so replicas, restarts and retries cannot schedule or send
-- a reminder twice; a reschedule re-arms that same row. Rows of other events leave both columns
-- null. Deleting the appointment removes its reminder rows.
ALTER TABLE notification_outbox
    ADD COLUMN appointment_id uuid,
    ADD COLUMN reminder_offset_minutes integer,
    ADD COLUMN skip_reason text,
    ADD CONSTRAINT notification_outbox_appointment_id_fkey FOREIGN KEY (appointment_id)
        REFERENCES appointments (id) ON DELETE CASCADE,
    ADD CONSTRAINT notification_outbox_reminder_check CHECK (
        (appointment_id IS NULL) = (reminder_offset_minutes IS NULL)
        AND (reminder_offset_minutes IS NULL OR reminder_offset_minutes > 0)
    ),
    ADD CONSTRAINT notification_outbox_skip_reason_check CHECK (
        skip_reason IS NULL OR skip_reason IN ('inactive', 'started', 'opted_out')
    );
CREATE UNIQUE INDEX uq_notification_outbox_reminder
    ON notification_outbox (appointment_id, reminder_offset_minutes)
    WHERE appointment_id IS NOT NULL;

-- What each user lets the automatic notifications send them. No row = every default (true).
CREATE TABLE notification_preferences (
    user_id               uuid        NOT NULL,
    appointment_reminders boolean     NOT NULL DEFAULT true,
    appointment_updates   boolean     NOT NULL DEFAULT true,
    system_announcements  boolean     NOT NULL DEFAULT true,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_preferences_pkey PRIMARY KEY (user_id),
    CONSTRAINT notification_preferences_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notification_preferences_updated_at_in_range
        CHECK (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '10000-01-01 00:00:00+00')
);
