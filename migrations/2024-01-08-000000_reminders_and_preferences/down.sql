-- Removes notification preferences and the reminder columns of the outbox (with their rows).
DROP TABLE notification_preferences;
DELETE FROM notification_outbox WHERE appointment_id IS NOT NULL;
DROP INDEX uq_notification_outbox_reminder;
ALTER TABLE notification_outbox
    DROP CONSTRAINT notification_outbox_skip_reason_check,
    DROP CONSTRAINT notification_outbox_reminder_check,
    DROP CONSTRAINT notification_outbox_appointment_id_fkey,
    DROP COLUMN skip_reason,
    DROP COLUMN reminder_offset_minutes,
    DROP COLUMN appointment_id;
