//! `PersonalDataStore` on PostgreSQL: erasure requests and the erasure itself across every
//! table, the export's pages straight from the stored rows, and read audit events.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_identity::{
    Actor, AuditContext, AuditRecord, CancelErasureOutcome, Erasure, ErasureStatus, ExportPage,
    ExportSection, PersonalDataStore, PortError, RequestErasureOutcome,
};
use medico24_kernel::UserId;
use serde_json::json;

use crate::audit::insert_audit;
use crate::conn::PgConn;
use crate::database::{Database, DatabaseError};
use crate::schema::{push_tokens, user_erasures, users};

/// Personal data of users across the schema.
#[derive(Clone)]
pub struct PgPersonalData {
    db: Database,
}

impl PgPersonalData {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn port(error: diesel::result::Error) -> PortError {
    DatabaseError::Query(error).into()
}

/// A `user_erasures` row as selected (by the query builder or by SQL naming its columns).
#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = user_erasures, check_for_backend(diesel::pg::Pg))]
struct ErasureRow {
    user_id: uuid::Uuid,
    requested_at: DateTime<Utc>,
    requested_by: Option<uuid::Uuid>,
    due_at: DateTime<Utc>,
    status: String,
}

impl ErasureRow {
    fn into_erasure(self) -> Erasure {
        Erasure {
            user_id: UserId::from_uuid(self.user_id),
            requested_at: self.requested_at,
            requested_by: self.requested_by.map(UserId::from_uuid),
            due_at: self.due_at,
            // `user_erasures_status_check` allows only the three names.
            status: ErasureStatus::parse(&self.status).unwrap_or(ErasureStatus::Pending),
        }
    }
}

/// The audit event of an erasure step: the user id only, never personal data.
fn erasure_audit(context: &AuditContext, action: &'static str, user: UserId) -> AuditRecord {
    AuditRecord {
        context: context.clone(),
        action,
        resource_type: "user",
        resource_id: Some(user.to_string()),
        details: None,
        subject_ids: vec![user],
    }
}

/// The statements of an erasure, in order, each taking the user id as `$1`. Together they
/// leave no personal field: the account row keeps its id, role and dates (so appointments and
/// statistics still add up) with placeholders where the schema requires a value; free text of
/// the user's appointments is replaced; everything that exists only for the user is deleted.
/// Each is idempotent, so a rerun after a crash finds nothing left to change.
const ERASE_STATEMENTS: [&str; 12] = [
    // The identity: no email, name, phone, photo or Firebase uid survives. The uid is replaced
    // by one derived from the row id, so a later Google sign-in finds no account and creates a
    // new one.
    "UPDATE users SET firebase_uid = 'erased:' || id::text, \
        email = 'erased-' || id::text || '@erased.invalid', email_verified = false, \
        full_name = NULL, given_name = NULL, family_name = NULL, photo_url = NULL, phone = NULL, \
        is_active = false, last_login_at = NULL \
     WHERE id = $1 AND firebase_uid <> 'erased:' || id::text",
    "UPDATE patients SET blood_group = NULL, date_of_birth = NULL, gender = NULL, \
        address_line_1 = NULL, address_line_2 = NULL, city = NULL, state = NULL, country = NULL, \
        pincode = NULL, emergency_contact_name = NULL, emergency_contact_phone = NULL, \
        emergency_contact_relation = NULL, medical_history = NULL, current_medications = NULL, \
        allergies = NULL, chronic_conditions = NULL, insurance_provider = NULL, \
        insurance_policy_number = NULL \
     WHERE user_id = $1",
    "UPDATE admins SET department = NULL, job_title = NULL, last_login_ip = NULL \
     WHERE user_id = $1 AND (department IS NOT NULL OR job_title IS NOT NULL OR last_login_ip IS NOT NULL)",
    "UPDATE pharmacy_staff SET position = NULL, license_number = NULL \
     WHERE user_id = $1 AND (position IS NOT NULL OR license_number IS NOT NULL)",
    // Appointments stay for the clinics' records and the statistics, pseudonymous: the patient
    // is the erased account, and the visit's free text is gone.
    "UPDATE appointments SET reason = '[erased]', contact_phone = '[erased]', notes = NULL \
     WHERE patient_id = $1 AND (reason <> '[erased]' OR contact_phone <> '[erased]' OR notes IS NOT NULL)",
    // Deliveries go with their notifications (ON DELETE CASCADE).
    "DELETE FROM notifications WHERE user_id = $1",
    "DELETE FROM push_tokens WHERE user_id = $1",
    "DELETE FROM notification_outbox WHERE user_id = $1",
    "DELETE FROM notification_preferences WHERE user_id = $1",
    // Stored answers of the user's bookings (they repeat the appointment's text).
    "DELETE FROM idempotency_keys WHERE user_id = $1",
    // The network addresses the user acted from; the events themselves stay (who did what).
    "UPDATE audit_events SET ip = NULL WHERE actor_user_id = $1 AND ip IS NOT NULL",
    "UPDATE user_erasures SET status = 'records_erased' WHERE user_id = $1 AND status = 'pending'",
];

/// One exported row and its page key.
#[derive(QueryableByName)]
struct ExportRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    row: String,
}

/// The page query of a list section: `$1` the user, `$2` the key after which to start (text or
/// null), `$3` the page size; selects `key` (the order) and `row` (the stored row as JSON).
fn section_query(section: ExportSection) -> &'static str {
    match section {
        ExportSection::Profile => PROFILE_QUERY,
        ExportSection::Appointments => {
            "SELECT a.id::text AS key, to_jsonb(a)::text AS row FROM appointments a \
             WHERE a.patient_id = $1 AND ($2::uuid IS NULL OR a.id > $2::uuid) \
             ORDER BY a.id LIMIT $3"
        }
        ExportSection::Notifications => {
            "SELECT n.id::text AS key, (to_jsonb(n) || jsonb_build_object('deliveries', \
                (SELECT coalesce(jsonb_agg(to_jsonb(d) - 'notification_id' ORDER BY d.created_at, d.id), '[]'::jsonb) \
                 FROM notification_deliveries d WHERE d.notification_id = n.id)))::text AS row \
             FROM notifications n \
             WHERE n.user_id = $1 AND ($2::uuid IS NULL OR n.id > $2::uuid) \
             ORDER BY n.id LIMIT $3"
        }
        ExportSection::PushTokens => {
            "SELECT t.id::text AS key, jsonb_build_object('id', t.id, 'platform', t.platform, \
                'token_hint', '…' || right(t.fcm_token, 4), 'is_active', t.is_active, \
                'created_at', t.created_at, 'last_used_at', t.last_used_at)::text AS row \
             FROM push_tokens t \
             WHERE t.user_id = $1 AND ($2::uuid IS NULL OR t.id > $2::uuid) \
             ORDER BY t.id LIMIT $3"
        }
        ExportSection::OutboxMessages => {
            "SELECT o.id::text AS key, jsonb_build_object('id', o.id, 'event_type', o.event_type, \
                'payload', o.payload, 'created_at', o.created_at, 'available_at', o.available_at, \
                'processed_at', o.processed_at, 'notification_id', o.notification_id, \
                'appointment_id', o.appointment_id, \
                'reminder_offset_minutes', o.reminder_offset_minutes, \
                'skip_reason', o.skip_reason)::text AS row \
             FROM notification_outbox o \
             WHERE o.user_id = $1 AND ($2::uuid IS NULL OR o.id > $2::uuid) \
             ORDER BY o.id LIMIT $3"
        }
        // By the user, naming the user as a subject, on the user's account, or on one of the
        // user's appointments or notifications. Another actor's network address is that
        // actor's data, so it is shown only on the user's own events.
        ExportSection::AuditEvents => {
            "SELECT e.id::text AS key, jsonb_build_object('id', e.id, \
                'actor_user_id', e.actor_user_id, 'actor_type', e.actor_type, \
                'action', e.action, 'resource_type', e.resource_type, \
                'resource_id', e.resource_id, 'request_id', e.request_id, \
                'ip', CASE WHEN e.actor_user_id = $1 THEN host(e.ip) END, \
                'at', e.at, 'details', e.details, 'subject_ids', e.subject_ids)::text AS row \
             FROM audit_events e \
             WHERE (e.actor_user_id = $1 OR e.subject_ids @> ARRAY[$1] \
                    OR (e.resource_type = 'user' AND e.resource_id = $1::text) \
                    OR (e.resource_type = 'appointment' AND e.resource_id IN \
                        (SELECT a.id::text FROM appointments a WHERE a.patient_id = $1)) \
                    OR (e.resource_type = 'notification' AND e.details ->> 'user_id' = $1::text)) \
               AND ($2::uuid IS NULL OR e.id > $2::uuid) \
             ORDER BY e.id LIMIT $3"
        }
    }
}

/// The profile: the account row with its role rows, preferences and erasure request.
const PROFILE_QUERY: &str = "SELECT u.id::text AS key, jsonb_build_object(\
        'user', to_jsonb(u), \
        'patient', (SELECT to_jsonb(p) - 'user_id' FROM patients p WHERE p.user_id = u.id), \
        'admin', (SELECT to_jsonb(a) - 'user_id' FROM admins a WHERE a.user_id = u.id), \
        'pharmacy_staff', (SELECT coalesce(jsonb_agg(to_jsonb(s) - 'user_id'), '[]'::jsonb) \
            FROM pharmacy_staff s WHERE s.user_id = u.id), \
        'notification_preferences', (SELECT to_jsonb(np) - 'user_id' \
            FROM notification_preferences np WHERE np.user_id = u.id), \
        'erasure', (SELECT jsonb_build_object('requested_at', e.requested_at, \
            'due_at', e.due_at, 'status', e.status, \
            'requested_by_admin', e.requested_by IS NOT NULL) \
            FROM user_erasures e WHERE e.user_id = u.id))::text AS row \
     FROM users u WHERE u.id = $1 AND ($2::uuid IS NULL OR u.id > $2::uuid) LIMIT $3";

/// A stored row as JSON; a row serde_json cannot read back (a number beyond `f64`) is kept as
/// its text rather than failing the export.
fn parse_row(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// Locks the account row of `user` for the transaction; `false` when there is none. The lock
/// orders a request against a concurrent request or cancellation of the same account.
async fn lock_user(conn: &mut PgConn, user: uuid::Uuid) -> QueryResult<bool> {
    let found: Option<uuid::Uuid> = users::table
        .find(user)
        .select(users::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

async fn find_erasure(conn: &mut PgConn, user: uuid::Uuid) -> QueryResult<Option<Erasure>> {
    Ok(user_erasures::table
        .find(user)
        .select(ErasureRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(ErasureRow::into_erasure))
}

impl PersonalDataStore for PgPersonalData {
    async fn request_erasure(
        &self,
        user: UserId,
        requested_by: Option<UserId>,
        due_at: DateTime<Utc>,
        audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> Result<RequestErasureOutcome, PortError> {
        let mut conn = self.db.conn().await?;
        let audit = audit.clone();
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            let id = user.as_uuid();
            if !lock_user(conn, id).await? {
                return Ok(RequestErasureOutcome::NotFound);
            }
            if let Some(existing) = find_erasure(conn, id).await? {
                return Ok(match existing.status {
                    ErasureStatus::Pending => RequestErasureOutcome::Scheduled(existing),
                    _ => RequestErasureOutcome::AlreadyErased(existing),
                });
            }
            diesel::insert_into(user_erasures::table)
                .values((
                    user_erasures::user_id.eq(id),
                    user_erasures::requested_at.eq(now),
                    user_erasures::requested_by.eq(requested_by.map(|u| u.as_uuid())),
                    user_erasures::due_at.eq(due_at),
                ))
                .execute(conn)
                .await?;
            diesel::update(users::table.find(id))
                .set((users::is_active.eq(false), users::updated_at.eq(now)))
                .execute(conn)
                .await?;
            diesel::update(push_tokens::table.filter(push_tokens::user_id.eq(id)))
                .set(push_tokens::is_active.eq(false))
                .execute(conn)
                .await?;
            let mut record = erasure_audit(&audit, "user.erasure.request", user);
            record.details = Some(json!({
                "due_at": due_at.to_rfc3339(),
                "by_admin": requested_by.is_some(),
            }));
            insert_audit(conn, &record).await?;
            Ok(RequestErasureOutcome::Scheduled(Erasure {
                user_id: user,
                requested_at: now,
                requested_by,
                due_at,
                status: ErasureStatus::Pending,
            }))
        })
        .await
        .map_err(port)
    }

    async fn cancel_erasure(
        &self,
        user: UserId,
        audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> Result<CancelErasureOutcome, PortError> {
        let mut conn = self.db.conn().await?;
        let audit = audit.clone();
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            let id = user.as_uuid();
            if !lock_user(conn, id).await? {
                return Ok(CancelErasureOutcome::NotFound);
            }
            // Only a request no worker holds (judged by the same clock as the claim's lease): a
            // running erasure cannot be half undone.
            let cancelled: Option<ErasureRow> = diesel::delete(
                user_erasures::table
                    .filter(user_erasures::user_id.eq(id))
                    .filter(user_erasures::status.eq(ErasureStatus::Pending.as_str()))
                    .filter(
                        user_erasures::locked_until
                            .is_null()
                            .or(user_erasures::locked_until.lt(now)),
                    ),
            )
            .returning(ErasureRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(cancelled) = cancelled else {
                return Ok(CancelErasureOutcome::NotPending);
            };
            insert_audit(conn, &erasure_audit(&audit, "user.erasure.cancel", user)).await?;
            Ok(CancelErasureOutcome::Cancelled(cancelled.into_erasure()))
        })
        .await
        .map_err(port)
    }

    async fn claim_erasure(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Option<Erasure>, PortError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let until = now.checked_add_signed(lease).unwrap_or(now);
        let mut conn = self.db.conn().await?;
        let claimed: Option<ErasureRow> = diesel::sql_query(
            "UPDATE user_erasures SET locked_until = $2, attempts = attempts + 1 \
             WHERE user_id = (SELECT user_id FROM user_erasures \
                 WHERE status <> 'erased' AND due_at <= $1 \
                   AND (locked_until IS NULL OR locked_until < $1) \
                 ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING user_id, requested_at, requested_by, due_at, status",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(until)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(port)?;
        Ok(claimed.map(ErasureRow::into_erasure))
    }

    async fn erase_records(&self, user: UserId, _now: DateTime<Utc>) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            for statement in ERASE_STATEMENTS {
                diesel::sql_query(statement)
                    .bind::<SqlUuid, _>(user.as_uuid())
                    .execute(conn)
                    .await?;
            }
            Ok(())
        })
        .await
        .map_err(port)
    }

    async fn finish_erasure(&self, user: UserId, now: DateTime<Utc>) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            let finished = diesel::update(
                user_erasures::table
                    .filter(user_erasures::user_id.eq(user.as_uuid()))
                    .filter(user_erasures::status.eq(ErasureStatus::RecordsErased.as_str())),
            )
            .set((
                user_erasures::status.eq(ErasureStatus::Erased.as_str()),
                user_erasures::erased_at.eq(now),
                user_erasures::locked_until.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await?;
            if finished > 0 {
                let context = AuditContext {
                    actor: Actor::System,
                    request_id: "erasure-worker".to_owned(),
                    ip: None,
                };
                insert_audit(
                    conn,
                    &erasure_audit(&context, "user.erasure.complete", user),
                )
                .await?;
            }
            Ok(())
        })
        .await
        .map_err(port)
    }

    async fn export_page(
        &self,
        user: UserId,
        section: ExportSection,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ExportPage, PortError> {
        let after = match after.map(uuid::Uuid::parse_str) {
            None => None,
            Some(Ok(key)) => Some(key.to_string()),
            Some(Err(_)) => {
                return Err(PortError::Unexpected(
                    "malformed export page key".to_owned(),
                ));
            }
        };
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let mut conn = self.db.conn().await?;
        let rows: Vec<ExportRow> = diesel::sql_query(section_query(section))
            .bind::<SqlUuid, _>(user.as_uuid())
            .bind::<Nullable<Text>, _>(after)
            .bind::<Int4, _>(limit)
            .load(&mut conn)
            .await
            .map_err(port)?;
        let full = rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        let next = if full && section != ExportSection::Profile {
            rows.last().map(|row| row.key.clone())
        } else {
            None
        };
        Ok(ExportPage {
            rows: rows.into_iter().map(|row| parse_row(row.row)).collect(),
            next,
        })
    }

    async fn record_access(&self, record: &AuditRecord) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        insert_audit(&mut conn, record).await.map_err(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_erasure_statement_is_scoped_to_the_user() {
        for statement in ERASE_STATEMENTS {
            assert!(statement.contains("= $1"), "{statement}");
        }
    }

    #[test]
    fn a_row_serde_cannot_read_is_kept_as_text() {
        assert_eq!(parse_row("{\"a\":1}".to_owned()), json!({"a": 1}));
        assert_eq!(parse_row("1e999".to_owned()), json!("1e999"));
    }
}
