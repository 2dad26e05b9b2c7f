//! Doctor–clinic associations: the row type and the joined clinic and doctor columns, the
//! writes (create, update, end), and the views of a clinic's doctors and a doctor's clinics.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Float8, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_directory::{
    Association, AssociationPatch, AssociationStatus, ClinicForDoctor, DoctorAtClinic,
    DoctorClinicSummary, NewAssociation, RepoWriteError, days_from_json, slots_from_json,
};
use medico24_kernel::{AssociationId, AuditStamp, ClinicId, DoctorId, PortError};
use serde_json::{Value, json};

use super::{PgDirectoryRepository, TxError, port};
use crate::audit::insert_audit_stamp;
use crate::conn::PgConn;
use crate::schema::{clinics, doctor_clinics, doctors};

/// The clinic columns joined into association views.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clinics, check_for_backend(Pg))]
struct ClinicBrief {
    id: uuid::Uuid,
    name: String,
    address: String,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.latitude::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>
    )]
    latitude: Option<f64>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.longitude::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>
    )]
    longitude: Option<f64>,
}

/// The doctor columns joined into clinic listings.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = doctors, check_for_backend(Pg))]
struct DoctorBrief {
    id: uuid::Uuid,
    full_name: String,
    specialization: Option<String>,
    license_number: Option<String>,
    experience_years: Option<i32>,
}

/// A `doctor_clinics` row, `numeric` columns as f64.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = doctor_clinics, check_for_backend(Pg))]
struct AssociationRow {
    id: uuid::Uuid,
    doctor_id: uuid::Uuid,
    clinic_id: uuid::Uuid,
    is_primary: bool,
    start_date: DateTime<Utc>,
    end_date: Option<DateTime<Utc>>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("doctor_clinics.consultation_fee::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>
    )]
    consultation_fee: Option<f64>,
    consultation_duration_minutes: Option<i32>,
    department: Option<String>,
    designation: Option<String>,
    available_days: Option<Value>,
    available_time_slots: Option<Value>,
    appointment_booking_enabled: bool,
    total_appointments: i32,
    completed_appointments: i32,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("doctor_clinics.rating_at_clinic::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>
    )]
    rating_at_clinic: Option<f64>,
    rating_count_at_clinic: i32,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl AssociationRow {
    fn into_association(self) -> Association {
        Association {
            is_primary: self.is_primary,
            consultation_fee: self.consultation_fee,
            consultation_duration_minutes: self.consultation_duration_minutes,
            department: self.department,
            designation: self.designation,
            available_days: days_from_json(self.available_days),
            available_time_slots: slots_from_json(self.available_time_slots),
            appointment_booking_enabled: self.appointment_booking_enabled,
            id: AssociationId::from_uuid(self.id),
            doctor_id: DoctorId::from_uuid(self.doctor_id),
            clinic_id: ClinicId::from_uuid(self.clinic_id),
            start_date: self.start_date,
            end_date: self.end_date,
            total_appointments: self.total_appointments,
            completed_appointments: self.completed_appointments,
            rating_at_clinic: self.rating_at_clinic,
            rating_count_at_clinic: self.rating_count_at_clinic,
            // `doctor_clinics_status_check` guarantees a known value.
            status: self.status.parse().unwrap_or(AssociationStatus::Active),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Current associations of `doctor` with non-deleted clinics (all of them unless `active_only`),
/// with the clinic columns, ordered `is_primary DESC, clinic name, id`.
async fn associations_of_doctor(
    conn: &mut PgConn,
    doctor: DoctorId,
    active_only: bool,
) -> QueryResult<Vec<(ClinicBrief, AssociationRow)>> {
    let mut query = doctor_clinics::table
        .inner_join(clinics::table)
        .filter(doctor_clinics::doctor_id.eq(doctor.as_uuid()))
        .filter(clinics::deleted_at.is_null())
        .select((ClinicBrief::as_select(), AssociationRow::as_select()))
        .order((
            doctor_clinics::is_primary.desc(),
            clinics::name.asc(),
            doctor_clinics::id.asc(),
        ))
        .into_boxed();
    if active_only {
        query = query
            .filter(doctor_clinics::status.eq(AssociationStatus::Active.as_str()))
            .filter(doctor_clinics::end_date.is_null());
    }
    query.load(conn).await
}

pub(super) async fn find_association(
    repo: &PgDirectoryRepository,
    id: AssociationId,
) -> Result<Option<Association>, PortError> {
    let mut conn = repo.conn().await?;
    doctor_clinics::table
        .find(id.as_uuid())
        .select(AssociationRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map(|row| row.map(AssociationRow::into_association))
        .map_err(port)
}

pub(super) async fn insert_association(
    repo: &PgDirectoryRepository,
    new: &NewAssociation,
    now: DateTime<Utc>,
    stamp: &AuditStamp,
) -> Result<Association, RepoWriteError> {
    let new = new.clone();
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            // FOR SHARE: a concurrent soft delete waits until this association is committed.
            let clinic: Option<uuid::Uuid> = clinics::table
                .filter(clinics::id.eq(new.clinic_id.as_uuid()))
                .filter(clinics::deleted_at.is_null())
                .select(clinics::id)
                .for_share()
                .first(conn)
                .await
                .optional()?;
            if clinic.is_none() {
                return Err(TxError::Outcome(RepoWriteError::ClinicNotFound));
            }
            let doctor: Option<uuid::Uuid> = doctors::table
                .find(new.doctor_id.as_uuid())
                .select(doctors::id)
                .first(conn)
                .await
                .optional()?;
            if doctor.is_none() {
                return Err(TxError::Outcome(RepoWriteError::DoctorNotFound));
            }
            let row = diesel::insert_into(doctor_clinics::table)
                .values((
                    doctor_clinics::doctor_id.eq(new.doctor_id.as_uuid()),
                    doctor_clinics::clinic_id.eq(new.clinic_id.as_uuid()),
                    doctor_clinics::is_primary.eq(new.is_primary),
                    doctor_clinics::start_date.eq(now),
                    doctor_clinics::consultation_fee.eq(numeric!(new.consultation_fee, 2)),
                    doctor_clinics::consultation_duration_minutes
                        .eq(new.consultation_duration_minutes),
                    doctor_clinics::department.eq(&new.department),
                    doctor_clinics::designation.eq(&new.designation),
                    doctor_clinics::available_days.eq(new.available_days.clone().map(Value::from)),
                    doctor_clinics::available_time_slots
                        .eq(new.available_time_slots.clone().map(Value::Array)),
                    doctor_clinics::appointment_booking_enabled.eq(new.appointment_booking_enabled),
                    doctor_clinics::status.eq(AssociationStatus::Active.as_str()),
                ))
                .returning(AssociationRow::as_returning())
                .get_result(conn)
                .await?;
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor_clinic.create",
                "doctor_clinic",
                Some(&row.id.to_string()),
                Some(&new.audit_details()),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_association())
}

pub(super) async fn update_association(
    repo: &PgDirectoryRepository,
    id: AssociationId,
    patch: &AssociationPatch,
    stamp: &AuditStamp,
) -> Result<Association, RepoWriteError> {
    let patch = patch.clone();
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            let p = &patch;
            let row = diesel::update(doctor_clinics::table.find(id.as_uuid()))
                .set((
                    p.is_primary.map(|v| doctor_clinics::is_primary.eq(v)),
                    p.consultation_fee
                        .map(|v| doctor_clinics::consultation_fee.eq(numeric!(Some(v), 2))),
                    p.consultation_duration_minutes
                        .map(|v| doctor_clinics::consultation_duration_minutes.eq(v)),
                    p.department
                        .as_ref()
                        .map(|v| doctor_clinics::department.eq(v)),
                    p.designation
                        .as_ref()
                        .map(|v| doctor_clinics::designation.eq(v)),
                    p.available_days
                        .as_ref()
                        .map(|v| doctor_clinics::available_days.eq(Value::from(v.clone()))),
                    p.available_time_slots
                        .as_ref()
                        .map(|v| doctor_clinics::available_time_slots.eq(Value::Array(v.clone()))),
                    p.appointment_booking_enabled
                        .map(|v| doctor_clinics::appointment_booking_enabled.eq(v)),
                    p.status.map(|v| doctor_clinics::status.eq(v.as_str())),
                    doctor_clinics::updated_at.eq(diesel::dsl::now),
                ))
                .returning(AssociationRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Err(TxError::Outcome(RepoWriteError::NotFound));
            };
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor_clinic.update",
                "doctor_clinic",
                Some(&row.id.to_string()),
                Some(&patch.audit_details()),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_association())
}

pub(super) async fn end_association(
    repo: &PgDirectoryRepository,
    id: AssociationId,
    end_date: DateTime<Utc>,
    stamp: &AuditStamp,
) -> Result<Association, RepoWriteError> {
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            let row = diesel::update(doctor_clinics::table.find(id.as_uuid()))
                .set((
                    doctor_clinics::end_date.eq(end_date),
                    doctor_clinics::status.eq(AssociationStatus::Inactive.as_str()),
                    doctor_clinics::updated_at.eq(diesel::dsl::now),
                ))
                .returning(AssociationRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Err(TxError::Outcome(RepoWriteError::NotFound));
            };
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor_clinic.end",
                "doctor_clinic",
                Some(&row.id.to_string()),
                Some(&json!({
                    "doctor_id": row.doctor_id.to_string(),
                    "clinic_id": row.clinic_id.to_string(),
                    "end_date": end_date.to_rfc3339(),
                })),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_association())
}

pub(super) async fn end_open_associations(
    repo: &PgDirectoryRepository,
    doctor: DoctorId,
    clinic: ClinicId,
    now: DateTime<Utc>,
    stamp: &AuditStamp,
) -> Result<u64, PortError> {
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    conn.transaction::<_, DieselError, _>(async move |conn| {
        let live = clinics::table
            .filter(clinics::id.eq(clinic.as_uuid()))
            .filter(clinics::deleted_at.is_null())
            .select(clinics::id)
            .first::<uuid::Uuid>(conn)
            .await
            .optional()?;
        if live.is_none() {
            return Ok(0);
        }
        let ended: Vec<uuid::Uuid> = diesel::update(
            doctor_clinics::table
                .filter(doctor_clinics::doctor_id.eq(doctor.as_uuid()))
                .filter(doctor_clinics::clinic_id.eq(clinic.as_uuid()))
                .filter(doctor_clinics::end_date.is_null()),
        )
        .set((
            doctor_clinics::end_date.eq(now),
            doctor_clinics::status.eq(AssociationStatus::Inactive.as_str()),
            doctor_clinics::updated_at.eq(diesel::dsl::now),
        ))
        .returning(doctor_clinics::id)
        .get_results(conn)
        .await?;
        let details = json!({
            "doctor_id": doctor.to_string(),
            "clinic_id": clinic.to_string(),
            "end_date": now.to_rfc3339(),
        });
        for id in &ended {
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor_clinic.remove",
                "doctor_clinic",
                Some(&id.to_string()),
                Some(&details),
            )
            .await?;
        }
        Ok(u64::try_from(ended.len()).unwrap_or(u64::MAX))
    })
    .await
    .map_err(port)
}

pub(super) async fn clinic_doctors(
    repo: &PgDirectoryRepository,
    clinic: ClinicId,
    active_only: bool,
) -> Result<Vec<DoctorAtClinic>, PortError> {
    let mut query = doctor_clinics::table
        .inner_join(doctors::table)
        .inner_join(clinics::table)
        .filter(doctor_clinics::clinic_id.eq(clinic.as_uuid()))
        .filter(clinics::deleted_at.is_null())
        .select((DoctorBrief::as_select(), AssociationRow::as_select()))
        .order((
            doctor_clinics::is_primary.desc(),
            doctors::full_name.asc(),
            doctor_clinics::id.asc(),
        ))
        .into_boxed();
    if active_only {
        query = query
            .filter(doctor_clinics::status.eq(AssociationStatus::Active.as_str()))
            .filter(doctor_clinics::end_date.is_null());
    }
    let mut conn = repo.conn().await?;
    let rows: Vec<(DoctorBrief, AssociationRow)> = query.load(&mut conn).await.map_err(port)?;
    Ok(rows
        .into_iter()
        .map(|(d, a)| {
            let a = a.into_association();
            DoctorAtClinic {
                doctor_id: DoctorId::from_uuid(d.id),
                doctor_name: d.full_name,
                specialization: d.specialization,
                license_number: d.license_number,
                experience_years: d.experience_years,
                consultation_fee: a.consultation_fee,
                consultation_duration_minutes: a.consultation_duration_minutes,
                department: a.department,
                designation: a.designation,
                available_days: a.available_days,
                available_time_slots: a.available_time_slots,
                rating_at_clinic: a.rating_at_clinic,
                rating_count_at_clinic: a.rating_count_at_clinic,
                is_primary: a.is_primary,
                status: a.status,
            }
        })
        .collect())
}

pub(super) async fn doctor_clinics(
    repo: &PgDirectoryRepository,
    doctor: DoctorId,
    active_only: bool,
) -> Result<Vec<ClinicForDoctor>, PortError> {
    let mut conn = repo.conn().await?;
    let rows = associations_of_doctor(&mut conn, doctor, active_only)
        .await
        .map_err(port)?;
    Ok(rows
        .into_iter()
        .map(|(c, a)| {
            let a = a.into_association();
            ClinicForDoctor {
                clinic_id: ClinicId::from_uuid(c.id),
                clinic_name: c.name,
                clinic_address: c.address,
                clinic_latitude: c.latitude,
                clinic_longitude: c.longitude,
                consultation_fee: a.consultation_fee,
                department: a.department,
                designation: a.designation,
                available_days: a.available_days,
                is_primary: a.is_primary,
                status: a.status,
            }
        })
        .collect())
}

pub(super) async fn doctor_clinic_summaries(
    repo: &PgDirectoryRepository,
    doctor: DoctorId,
) -> Result<Vec<DoctorClinicSummary>, PortError> {
    let mut conn = repo.conn().await?;
    let rows = associations_of_doctor(&mut conn, doctor, true)
        .await
        .map_err(port)?;
    Ok(rows
        .into_iter()
        .map(|(c, a)| DoctorClinicSummary {
            association: a.into_association(),
            clinic_name: c.name,
            clinic_address: c.address,
            latitude: c.latitude,
            longitude: c.longitude,
        })
        .collect())
}
