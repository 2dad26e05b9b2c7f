-- Removes the erasure schedule, the audit subjects and the per-user indexes.
DROP INDEX idx_notification_outbox_user_id;
DROP INDEX idx_notifications_user_id_id;
DROP INDEX idx_audit_events_subject_ids;
ALTER TABLE audit_events DROP COLUMN subject_ids;
DROP TABLE user_erasures;
