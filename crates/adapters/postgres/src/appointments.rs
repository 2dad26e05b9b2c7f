//! `AppointmentRepository` on PostgreSQL: bookings with idempotency records and outbox events in
//! one transaction, changes under row locks, the exclusion constraint mapped to an overlap.

use crate::conn::PgConn;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_appointments::booking::{
    Appointment, AppointmentFilter, AppointmentRepository, AppointmentStatus, AuditEntry,
    CreateOutcome, IdempotencyRequest, LockedChange, OutboxMessage, ReminderPlan, RepoCreateError,
    RepoUpdateError, Visibility, idempotency_ttl,
};
use medico24_kernel::paging::SeekKey;
use medico24_kernel::{AppointmentId, Page, PageRequest, PortError, UserId};

use crate::audit::insert_audit_stamp;
use crate::database::{Database, DatabaseError};
use crate::keyset::{after_key, fetch_limit, split_page};
use crate::maintained::maintained_total;
use crate::schema::{appointments, clinics, doctors, idempotency_keys, notification_outbox};

/// Name of the exclusion constraint against double booking.
const NO_OVERLAP: &str = "appointments_no_overlap";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = appointments, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct AppointmentRow {
    id: uuid::Uuid,
    patient_id: uuid::Uuid,
    doctor_id: Option<uuid::Uuid>,
    clinic_id: Option<uuid::Uuid>,
    clinic_name: Option<String>,
    doctor_name: String,
    appointment_at: DateTime<Utc>,
    appointment_end_at: Option<DateTime<Utc>>,
    reason: String,
    contact_phone: String,
    status: String,
    notes: Option<String>,
    source: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    doctor_clinic_id: Option<uuid::Uuid>,
}

impl AppointmentRow {
    fn from_domain(a: &Appointment) -> Self {
        Self {
            id: a.id.as_uuid(),
            patient_id: a.patient_id.as_uuid(),
            doctor_id: a.doctor_id,
            clinic_id: a.clinic_id,
            clinic_name: a.clinic_name.clone(),
            doctor_name: a.doctor_name.clone(),
            appointment_at: a.appointment_at,
            appointment_end_at: a.appointment_end_at,
            reason: a.reason.clone(),
            contact_phone: a.contact_phone.clone(),
            status: a.status.as_str().to_owned(),
            notes: a.notes.clone(),
            source: a.source.as_str().to_owned(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            cancelled_at: a.cancelled_at,
            deleted_at: a.deleted_at,
            doctor_clinic_id: a.doctor_clinic_id,
        }
    }

    fn into_domain(self) -> Result<Appointment, DieselError> {
        // CHECK constraints keep both columns to the known values.
        let status = self.status.parse().map_err(|_| corrupt("status"))?;
        let source = self.source.parse().map_err(|_| corrupt("source"))?;
        Ok(Appointment {
            id: AppointmentId::from_uuid(self.id),
            patient_id: UserId::from_uuid(self.patient_id),
            doctor_id: self.doctor_id,
            clinic_id: self.clinic_id,
            doctor_name: self.doctor_name,
            clinic_name: self.clinic_name,
            appointment_at: self.appointment_at,
            appointment_end_at: self.appointment_end_at,
            reason: self.reason,
            contact_phone: self.contact_phone,
            notes: self.notes,
            status,
            source,
            created_at: self.created_at,
            updated_at: self.updated_at,
            cancelled_at: self.cancelled_at,
            deleted_at: self.deleted_at,
            doctor_clinic_id: self.doctor_clinic_id,
        })
    }
}

fn corrupt(column: &str) -> DieselError {
    DieselError::DeserializationError(format!("unexpected appointments.{column} value").into())
}

fn port(error: DieselError) -> PortError {
    DatabaseError::Query(error).into()
}

fn is_overlap(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(_, info) if info.constraint_name() == Some(NO_OVERLAP))
}

/// The advisory-lock class of a doctor's schedule (the key is a hash of the doctor's id).
const SCHEDULE_LOCK_CLASS: i32 = 0x5343_4844; // "SCHD"

/// Serialises the writes into one doctor's schedule until the transaction ends.
///
/// Without it, two transactions inserting (or moving) overlapping appointments of one doctor
/// both add their index entry, then each waits for the other in the exclusion constraint's
/// check: PostgreSQL breaks the deadlock by aborting one with an error that is neither the
/// overlap nor anything the caller can act on (it answered 500). With it, the second waits
/// here, then meets the first one's committed row and fails as an overlap (409).
async fn lock_doctor_schedule(conn: &mut PgConn, doctor: uuid::Uuid) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind::<diesel::sql_types::Integer, _>(SCHEDULE_LOCK_CLASS)
        .bind::<diesel::sql_types::Uuid, _>(doctor)
        .execute(conn)
        .await
        .map(|_| ())
}

fn foreign_key(error: &DieselError) -> Option<&str> {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            info.constraint_name()
        }
        _ => None,
    }
}

/// A database error of a booking's insert as the booking outcome it means.
fn create_error(e: DieselError) -> RepoCreateError {
    if is_overlap(&e) {
        return RepoCreateError::Overlap;
    }
    match foreign_key(&e) {
        Some(name) if name.contains("doctor") => RepoCreateError::UnknownDoctor,
        Some(name) if name.contains("clinic") => RepoCreateError::UnknownClinic,
        _ => RepoCreateError::Port(port(e)),
    }
}

/// Failures inside a transaction that are business outcomes, not infrastructure.
#[derive(Debug)]
enum TxError<E> {
    Db(DieselError),
    UnknownDoctor,
    UnknownClinic,
    IdempotencyMismatch,
    Replay(Box<Appointment>),
    NotFound,
    Rejected(E),
}

impl<E> From<DieselError> for TxError<E> {
    fn from(error: DieselError) -> Self {
        TxError::Db(error)
    }
}

async fn check_references<E>(conn: &mut PgConn, a: &Appointment) -> Result<(), TxError<E>> {
    if let Some(doctor) = a.doctor_id {
        let exists: bool = diesel::select(diesel::dsl::exists(doctors::table.find(doctor)))
            .get_result(conn)
            .await?;
        if !exists {
            return Err(TxError::UnknownDoctor);
        }
    }
    if let Some(clinic) = a.clinic_id {
        let exists: bool = diesel::select(diesel::dsl::exists(
            clinics::table
                .find(clinic)
                .filter(clinics::deleted_at.is_null()),
        ))
        .get_result(conn)
        .await?;
        if !exists {
            return Err(TxError::UnknownClinic);
        }
    }
    Ok(())
}

/// The appointment, its outbox event and its reminder events in one statement (data-modifying
/// CTEs): atomic on its own, so a booking that needs no lock or check before it writes runs without `BEGIN`/`COMMIT`
/// round trips. A query type rather than `sql_query` text (which Diesel never caches): its text
/// is fixed and every value a bind parameter, so it is prepared once per connection and each
/// booking is one Bind/Execute round trip.
struct InsertWithEvent<'a> {
    row: AppointmentRow,
    event_type: &'a str,
    user_id: uuid::Uuid,
    payload: serde_json::Value,
    now: DateTime<Utc>,
    reminder_type: &'a str,
    reminder_payload: serde_json::Value,
    reminder_offsets: Vec<i32>,
    reminder_dues: Vec<DateTime<Utc>>,
}

impl QueryId for InsertWithEvent<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for InsertWithEvent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid};
        let r = &self.row;
        out.push_sql(
            "WITH appointment AS (INSERT INTO appointments (id, patient_id, doctor_id, clinic_id, \
             clinic_name, doctor_name, appointment_at, appointment_end_at, reason, contact_phone, \
             status, notes, source, created_at, updated_at, cancelled_at, deleted_at, \
             doctor_clinic_id) VALUES (",
        );
        out.push_bind_param::<Uuid, _>(&r.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Uuid, _>(&r.patient_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Uuid>, _>(&r.doctor_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Uuid>, _>(&r.clinic_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&r.clinic_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.doctor_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&r.appointment_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&r.appointment_end_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.reason)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.contact_phone)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.status)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&r.notes)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.source)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&r.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&r.updated_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&r.cancelled_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&r.deleted_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Uuid>, _>(&r.doctor_clinic_id)?;
        // One reminder row per slot (none when the plan has no slot).
        out.push_sql(
            ") RETURNING id), reminders AS (INSERT INTO notification_outbox (event_type, user_id, \
             payload, created_at, available_at, appointment_id, reminder_offset_minutes) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.reminder_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Uuid, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(&self.reminder_payload)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(", r.due, appointment.id, r.off FROM appointment, unnest(");
        out.push_bind_param::<Array<Int4>, _>(&self.reminder_offsets)?;
        out.push_sql("::int4[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.reminder_dues)?;
        out.push_sql(
            "::timestamptz[]) AS r(off, due)) INSERT INTO notification_outbox (event_type, \
             user_id, payload, created_at, available_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.event_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Uuid, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(&self.payload)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(" FROM appointment");
        Ok(())
    }
}

async fn insert_with_event(
    conn: &mut PgConn,
    appointment: &Appointment,
    event: &OutboxMessage,
    reminders: &ReminderPlan,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let (reminder_offsets, reminder_dues) = crate::reminders::plan_arrays(reminders);
    InsertWithEvent {
        row: AppointmentRow::from_domain(appointment),
        event_type: event.event_type,
        user_id: event.user_id.as_uuid(),
        payload: event.payload(),
        now,
        reminder_type: reminders.message.event_type,
        reminder_payload: reminders.message.payload(),
        reminder_offsets,
        reminder_dues,
    }
    .execute(conn)
    .await
    .map(|_| ())
}

async fn write_event(
    conn: &mut PgConn,
    event: &OutboxMessage,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(notification_outbox::table)
        .values((
            notification_outbox::event_type.eq(event.event_type),
            notification_outbox::user_id.eq(event.user_id.as_uuid()),
            notification_outbox::payload.eq(event.payload()),
            notification_outbox::created_at.eq(now),
            notification_outbox::available_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

async fn write_audit(conn: &mut PgConn, entry: &AuditEntry, id: uuid::Uuid) -> QueryResult<()> {
    insert_audit_stamp(
        conn,
        &entry.stamp,
        entry.action,
        "appointment",
        Some(&id.to_string()),
        entry.details.as_ref(),
    )
    .await
}

fn visible(visibility: Visibility) -> appointments::BoxedQuery<'static, diesel::pg::Pg> {
    let query = appointments::table
        .filter(appointments::deleted_at.is_null())
        .into_boxed();
    match visibility {
        Visibility::Owner(user) => query.filter(appointments::patient_id.eq(user.as_uuid())),
        Visibility::Any => query,
    }
}

/// The maintained counts (`appointments.<status>`, rows not soft-deleted) whose sum is the number
/// of appointments `filter` selects, when it selects whole keys (at most a status).
fn maintained_appointment_metrics(filter: &AppointmentFilter) -> Option<Vec<String>> {
    let whole_keys = !filter.include_deleted
        && filter.patient_id.is_none()
        && filter.doctor_id.is_none()
        && filter.clinic_id.is_none()
        && filter.from.is_none()
        && filter.to.is_none();
    whole_keys.then(|| {
        filter
            .status
            .map_or(AppointmentStatus::ALL.to_vec(), |status| vec![status])
            .iter()
            .map(|status| format!("appointments.{}", status.as_str()))
            .collect()
    })
}

/// PostgreSQL implementation of [`AppointmentRepository`].
#[derive(Debug, Clone)]
pub struct PgAppointmentRepository {
    db: Database,
}

impl PgAppointmentRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl AppointmentRepository for PgAppointmentRepository {
    async fn create(
        &self,
        appointment: &Appointment,
        event: &OutboxMessage,
        reminders: &ReminderPlan,
        idempotency: Option<&IdempotencyRequest>,
        now: DateTime<Utc>,
    ) -> Result<CreateOutcome, RepoCreateError> {
        let mut conn = self
            .db
            .conn()
            .await
            .map_err(|e| RepoCreateError::Port(e.into()))?;
        if idempotency.is_none()
            && appointment.doctor_id.is_none()
            && appointment.clinic_id.is_none()
        {
            // Nothing to lock or check first: the one statement is the whole booking.
            return match insert_with_event(&mut conn, appointment, event, reminders, now).await {
                Ok(()) => Ok(CreateOutcome::Created(appointment.clone())),
                Err(e) => Err(create_error(e)),
            };
        }
        let appointment = appointment.clone();
        let event = event.clone();
        let reminders = reminders.clone();
        let idempotency = idempotency.cloned();
        let result = conn
            .transaction::<_, TxError<()>, _>(async move |conn| {
                let user = appointment.patient_id.as_uuid();
                if let Some(key) = &idempotency {
                    let key_row = || idempotency_keys::table.find((user, key.key.clone()));
                    diesel::delete(key_row().filter(idempotency_keys::expires_at.le(now)))
                        .execute(conn)
                        .await?;
                    // A concurrent request with the same key blocks here until the other
                    // transaction ends, then takes the replay/mismatch path below.
                    let inserted = diesel::insert_into(idempotency_keys::table)
                        .values((
                            idempotency_keys::user_id.eq(user),
                            idempotency_keys::idem_key.eq(&key.key),
                            idempotency_keys::request_hash.eq(&key.request_hash),
                            idempotency_keys::created_at.eq(now),
                            idempotency_keys::expires_at.eq(now + idempotency_ttl()),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                    if inserted == 0 {
                        let (hash, body): (String, Option<serde_json::Value>) = key_row()
                            .select((
                                idempotency_keys::request_hash,
                                idempotency_keys::response_body,
                            ))
                            .first(conn)
                            .await?;
                        if hash != key.request_hash {
                            return Err(TxError::IdempotencyMismatch);
                        }
                        let stored = body
                            .and_then(|b| serde_json::from_value::<Appointment>(b).ok())
                            .ok_or_else(|| TxError::Db(corrupt("idempotency response")))?;
                        return Err(TxError::Replay(Box::new(stored)));
                    }
                }
                if let Some(doctor) = appointment.doctor_id {
                    lock_doctor_schedule(conn, doctor).await?;
                }
                check_references(conn, &appointment).await?;
                insert_with_event(conn, &appointment, &event, &reminders, now).await?;
                if let Some(key) = &idempotency {
                    let body = serde_json::to_value(&appointment)
                        .map_err(|e| TxError::Db(DieselError::SerializationError(e.into())))?;
                    diesel::update(idempotency_keys::table.find((user, key.key.clone())))
                        .set((
                            idempotency_keys::response_status.eq(201_i16),
                            idempotency_keys::response_body.eq(body),
                            idempotency_keys::resource_id.eq(appointment.id.as_uuid()),
                        ))
                        .execute(conn)
                        .await?;
                }
                Ok(appointment)
            })
            .await;
        match result {
            Ok(appointment) => Ok(CreateOutcome::Created(appointment)),
            Err(TxError::Replay(stored)) => Ok(CreateOutcome::Replayed(*stored)),
            Err(TxError::IdempotencyMismatch) => Err(RepoCreateError::IdempotencyMismatch),
            Err(TxError::UnknownDoctor) => Err(RepoCreateError::UnknownDoctor),
            Err(TxError::UnknownClinic) => Err(RepoCreateError::UnknownClinic),
            Err(TxError::Db(e)) => Err(create_error(e)),
            Err(TxError::NotFound | TxError::Rejected(())) => Err(RepoCreateError::Port(
                PortError::Unexpected("unexpected outcome of a booking transaction".to_owned()),
            )),
        }
    }

    async fn find(
        &self,
        id: AppointmentId,
        visibility: Visibility,
    ) -> Result<Option<Appointment>, PortError> {
        let mut conn = self.db.conn().await?;
        let row: Option<AppointmentRow> = visible(visibility)
            .filter(appointments::id.eq(id.as_uuid()))
            .select(AppointmentRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(port)?;
        row.map(AppointmentRow::into_domain)
            .transpose()
            .map_err(port)
    }

    async fn find_any(&self, id: AppointmentId) -> Result<Option<Appointment>, PortError> {
        let mut conn = self.db.conn().await?;
        let row: Option<AppointmentRow> = appointments::table
            .find(id.as_uuid())
            .select(AppointmentRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(port)?;
        row.map(AppointmentRow::into_domain)
            .transpose()
            .map_err(port)
    }

    async fn update_locked<F, E>(
        &self,
        id: AppointmentId,
        visibility: Visibility,
        decide: F,
    ) -> Result<(Appointment, Appointment), RepoUpdateError<E>>
    where
        F: FnOnce(Appointment) -> Result<Option<LockedChange>, E> + Send + 'static,
        E: Send + 'static,
    {
        let mut conn = self
            .db
            .conn()
            .await
            .map_err(|e| RepoUpdateError::Port(e.into()))?;
        let result = conn
            .transaction::<_, TxError<E>, _>(async move |conn| {
                let locked = appointments::table
                    .filter(appointments::id.eq(id.as_uuid()))
                    .filter(appointments::deleted_at.is_null())
                    .select(AppointmentRow::as_select())
                    .for_update();
                let row: Option<AppointmentRow> = match visibility {
                    Visibility::Owner(user) => locked
                        .filter(appointments::patient_id.eq(user.as_uuid()))
                        .first(conn)
                        .await
                        .optional()?,
                    Visibility::Any => locked.first(conn).await.optional()?,
                };
                let before = row.ok_or(TxError::NotFound)?.into_domain()?;
                let Some(change) = decide(before.clone()).map_err(TxError::Rejected)? else {
                    return Ok((before.clone(), before));
                };
                if let Some(doctor) = change.updated.doctor_id {
                    lock_doctor_schedule(conn, doctor).await?;
                }
                if change.updated.doctor_id != before.doctor_id
                    || change.updated.clinic_id != before.clinic_id
                {
                    check_references(conn, &change.updated).await?;
                }
                // The row as stored (the `set_updated_at` trigger owns `updated_at`).
                let stored = diesel::update(appointments::table.find(id.as_uuid()))
                    .set(AppointmentRow::from_domain(&change.updated))
                    .returning(AppointmentRow::as_returning())
                    .get_result(conn)
                    .await?
                    .into_domain()?;
                if let Some(event) = &change.event {
                    write_event(conn, event, change.updated.updated_at).await?;
                }
                if let Some(audit) = &change.audit {
                    write_audit(conn, audit, id.as_uuid()).await?;
                }
                crate::reminders::apply_change(
                    conn,
                    id.as_uuid(),
                    &change.reminders,
                    change.updated.updated_at,
                )
                .await?;
                Ok((before, stored))
            })
            .await;
        result.map_err(|e| match e {
            TxError::NotFound => RepoUpdateError::NotFound,
            TxError::Rejected(inner) => RepoUpdateError::Rejected(inner),
            TxError::UnknownDoctor => RepoUpdateError::UnknownDoctor,
            TxError::UnknownClinic => RepoUpdateError::UnknownClinic,
            TxError::Db(e) if is_overlap(&e) => RepoUpdateError::Overlap,
            TxError::Db(e) => match foreign_key(&e) {
                Some(name) if name.contains("doctor") => RepoUpdateError::UnknownDoctor,
                Some(name) if name.contains("clinic") => RepoUpdateError::UnknownClinic,
                _ => RepoUpdateError::Port(port(e)),
            },
            TxError::IdempotencyMismatch | TxError::Replay(_) => RepoUpdateError::Port(
                PortError::Unexpected("unexpected outcome of an update transaction".to_owned()),
            ),
        })
    }

    async fn soft_delete(
        &self,
        id: AppointmentId,
        visibility: Visibility,
        audit: Option<AuditEntry>,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async move |conn| {
            let target = visible(visibility)
                .filter(appointments::id.eq(id.as_uuid()))
                .select(appointments::id);
            let changed =
                diesel::update(appointments::table.filter(appointments::id.eq_any(target)))
                    .set((
                        appointments::deleted_at.eq(now),
                        appointments::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
            if changed == 1 {
                crate::reminders::drop_pending(conn, id.as_uuid()).await?;
            }
            if changed == 1
                && let Some(audit) = &audit
            {
                write_audit(conn, audit, id.as_uuid()).await?;
            }
            Ok(changed == 1)
        })
        .await
        .map_err(port)
    }

    async fn hard_delete(
        &self,
        id: AppointmentId,
        audit: Option<AuditEntry>,
    ) -> Result<bool, PortError> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async move |conn| {
            let deleted = diesel::delete(appointments::table.find(id.as_uuid()))
                .execute(conn)
                .await?;
            if deleted == 1
                && let Some(audit) = &audit
            {
                write_audit(conn, audit, id.as_uuid()).await?;
            }
            Ok(deleted == 1)
        })
        .await
        .map_err(port)
    }

    async fn list(
        &self,
        filter: &AppointmentFilter,
        page: PageRequest,
    ) -> Result<Page<Appointment>, PortError> {
        let build = || {
            let mut query = appointments::table.into_boxed();
            if !filter.include_deleted {
                query = query.filter(appointments::deleted_at.is_null());
            }
            if let Some(patient) = filter.patient_id {
                query = query.filter(appointments::patient_id.eq(patient.as_uuid()));
            }
            if let Some(status) = filter.status {
                query = query.filter(appointments::status.eq(status.as_str()));
            }
            if let Some(doctor) = filter.doctor_id {
                query = query.filter(appointments::doctor_id.eq(doctor));
            }
            if let Some(clinic) = filter.clinic_id {
                query = query.filter(appointments::clinic_id.eq(clinic));
            }
            if let Some(from) = filter.from {
                query = query.filter(appointments::appointment_at.ge(from));
            }
            if let Some(to) = filter.to {
                query = query.filter(appointments::appointment_at.le(to));
            }
            query
        };
        let mut conn = self.db.conn().await?;
        let total: i64 = match maintained_appointment_metrics(filter) {
            Some(metrics) => maintained_total(&mut conn, &metrics).await,
            None => build().count().get_result(&mut conn).await,
        }
        .map_err(port)?;
        let mut rows_query = build()
            .select(AppointmentRow::as_select())
            .order((appointments::appointment_at.desc(), appointments::id.desc()))
            .limit(fetch_limit(page.page_size()));
        rows_query = match page.seek() {
            Some(key) => rows_query.filter(after_key(
                "appointments.appointment_at",
                "appointments.id",
                key,
            )),
            None => rows_query.offset(i64::try_from(page.offset()).unwrap_or(i64::MAX)),
        };
        let mut rows: Vec<AppointmentRow> = rows_query.load(&mut conn).await.map_err(port)?;
        let next = split_page(&mut rows, page.page_size(), |row| SeekKey {
            at: row.appointment_at,
            id: row.id,
        });
        let items = rows
            .into_iter()
            .map(AppointmentRow::into_domain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(port)?;
        Ok(Page {
            items,
            total: total.unsigned_abs(),
            request: page,
            next,
        })
    }
}
