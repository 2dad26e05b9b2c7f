-- Privacy: scheduled erasure of accounts, and audit events that name the users whose data they
-- touched.

-- One row per erasure request. `pending` until the worker has pseudonymised every table
-- (`records_erased`) and purged the caches (`erased`). A cancelled request is deleted (its
-- audit event remains). `locked_until` is the lease of the worker running it: a worker that dies
-- mid-way leaves the row claimable once the lease has passed, and every step is idempotent.
CREATE TABLE user_erasures (
    user_id      uuid        NOT NULL,
    requested_at timestamptz NOT NULL,
    requested_by uuid,
    due_at       timestamptz NOT NULL,
    status       text        NOT NULL DEFAULT 'pending',
    attempts     integer     NOT NULL DEFAULT 0,
    locked_until timestamptz,
    erased_at    timestamptz,
    CONSTRAINT user_erasures_pkey PRIMARY KEY (user_id),
    CONSTRAINT user_erasures_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT user_erasures_requested_by_fkey FOREIGN KEY (requested_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT user_erasures_status_check
        CHECK (status IN ('pending', 'records_erased', 'erased')),
    CONSTRAINT user_erasures_erased_at_check CHECK ((status = 'erased') = (erased_at IS NOT NULL)),
    CONSTRAINT user_erasures_requested_at_in_range
        CHECK (requested_at >= '0001-01-01 00:00:00+00' AND requested_at < '10000-01-01 00:00:00+00'),
    CONSTRAINT user_erasures_due_at_in_range
        CHECK (due_at >= '0001-01-01 00:00:00+00' AND due_at < '10000-01-01 00:00:00+00'),
    CONSTRAINT user_erasures_locked_until_in_range
        CHECK (locked_until >= '0001-01-01 00:00:00+00' AND locked_until < '10000-01-01 00:00:00+00'),
    CONSTRAINT user_erasures_erased_at_in_range
        CHECK (erased_at >= '0001-01-01 00:00:00+00' AND erased_at < '10000-01-01 00:00:00+00')
);
-- The worker's claim: unfinished requests by due time.
CREATE INDEX idx_user_erasures_due ON user_erasures (due_at) WHERE status <> 'erased';

-- The users an audited action read or changed (a list read names every user on its page), so
-- the audit log answers "who saw this patient's data" with one index lookup.
ALTER TABLE audit_events ADD COLUMN subject_ids uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX idx_audit_events_subject_ids ON audit_events USING gin (subject_ids);

-- A user's notifications and outbox messages, in key order: the export reads them page by page
-- (a long history costs one index range per page, not a sort of the whole history), and the
-- erasure deletes them.
CREATE INDEX idx_notifications_user_id_id ON notifications (user_id, id);
CREATE INDEX idx_notification_outbox_user_id ON notification_outbox (user_id);
