//! Doctors: the row types, the lookup, the listing and the nearby search, and the writes
//! (create, update, verify, unverify).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Float8, Int8, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_directory::{
    Doctor, DoctorFilter, DoctorListItem, DoctorPatch, NearbyDoctorFilter, NewDoctor,
    RepoWriteError, Verification, Window, days_from_json,
};
use medico24_kernel::{AuditStamp, ClinicId, DoctorId, PortError, UserId};
use serde_json::{Value, json};

use super::{POINT_SQL, PgDirectoryRepository, TxError, offset, port};
use crate::audit::insert_audit_stamp;
use crate::errors::contains_pattern;
use crate::schema::doctors;

/// Doctor list columns of the raw nearby statement.
const DOCTOR_LIST_COLUMNS: &str = "d.id, d.email, d.full_name, d.phone, d.profile_picture_url, \
     d.license_number, d.specialization, d.sub_specialization, d.experience_years, \
     d.consultation_fee::float8 AS consultation_fee, d.is_verified, d.rating::float8 AS rating, \
     d.rating_count";

/// A `doctors` row, `numeric` columns as f64.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = doctors, check_for_backend(Pg))]
struct DoctorRow {
    id: uuid::Uuid,
    email: String,
    full_name: String,
    phone: Option<String>,
    profile_picture_url: Option<String>,
    license_number: Option<String>,
    specialization: Option<String>,
    sub_specialization: Option<String>,
    qualification: Option<String>,
    experience_years: Option<i32>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("doctors.consultation_fee::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>
    )]
    consultation_fee: Option<f64>,
    consultation_duration_minutes: Option<i32>,
    bio: Option<String>,
    languages_spoken: Option<Value>,
    medical_council_registration: Option<String>,
    is_verified: bool,
    verification_documents: Option<Value>,
    verified_at: Option<DateTime<Utc>>,
    verified_by: Option<uuid::Uuid>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("doctors.rating::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>
    )]
    rating: Option<f64>,
    rating_count: i32,
    total_consultations: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// `languages_spoken` as read from `jsonb`: the strings of an array, `None` otherwise.
fn languages_from_json(value: Option<Value>) -> Option<Vec<String>> {
    days_from_json(value)
}

impl DoctorRow {
    fn into_doctor(self) -> Doctor {
        Doctor {
            email: self.email,
            full_name: self.full_name,
            phone: self.phone,
            profile_picture_url: self.profile_picture_url,
            license_number: self.license_number,
            specialization: self.specialization,
            sub_specialization: self.sub_specialization,
            qualification: self.qualification,
            experience_years: self.experience_years,
            consultation_fee: self.consultation_fee,
            consultation_duration_minutes: self.consultation_duration_minutes,
            bio: self.bio,
            languages_spoken: languages_from_json(self.languages_spoken),
            medical_council_registration: self.medical_council_registration,
            id: DoctorId::from_uuid(self.id),
            is_verified: self.is_verified,
            verification_documents: self.verification_documents,
            verified_at: self.verified_at,
            verified_by: self.verified_by.map(UserId::from_uuid),
            rating: self.rating,
            rating_count: self.rating_count,
            total_consultations: self.total_consultations,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The columns of a doctor list item.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = doctors, check_for_backend(Pg))]
struct DoctorListRow {
    id: uuid::Uuid,
    email: String,
    full_name: String,
    phone: Option<String>,
    profile_picture_url: Option<String>,
    license_number: Option<String>,
    specialization: Option<String>,
    sub_specialization: Option<String>,
    experience_years: Option<i32>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("doctors.consultation_fee::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    consultation_fee: Option<f64>,
    is_verified: bool,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("doctors.rating::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    rating: Option<f64>,
    rating_count: i32,
}

impl DoctorListRow {
    fn into_item(self) -> DoctorListItem {
        DoctorListItem {
            id: DoctorId::from_uuid(self.id),
            email: self.email,
            full_name: self.full_name,
            phone: self.phone,
            profile_picture_url: self.profile_picture_url,
            license_number: self.license_number,
            specialization: self.specialization,
            sub_specialization: self.sub_specialization,
            experience_years: self.experience_years,
            consultation_fee: self.consultation_fee,
            is_verified: self.is_verified,
            rating: self.rating,
            rating_count: self.rating_count,
            distance_km: None,
            clinic_id: None,
            clinic_name: None,
        }
    }
}

/// A nearby doctor: the list row, its distance and clinic.
#[derive(QueryableByName)]
struct NearbyDoctorRow {
    #[diesel(embed)]
    doctor: DoctorListRow,
    #[diesel(sql_type = Float8)]
    distance_km: f64,
    #[diesel(sql_type = SqlUuid)]
    clinic_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    clinic_name: String,
}

pub(super) async fn find_doctor(
    repo: &PgDirectoryRepository,
    id: DoctorId,
) -> Result<Option<Doctor>, PortError> {
    let mut conn = repo.conn().await?;
    doctors::table
        .find(id.as_uuid())
        .select(DoctorRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map(|row| row.map(DoctorRow::into_doctor))
        .map_err(port)
}

pub(super) async fn list_doctors(
    repo: &PgDirectoryRepository,
    filter: &DoctorFilter,
    window: Window,
) -> Result<Vec<DoctorListItem>, PortError> {
    let mut query = doctors::table
        .select(DoctorListRow::as_select())
        .order((
            doctors::rating.desc().nulls_last(),
            doctors::experience_years.desc().nulls_last(),
            doctors::id.asc(),
        ))
        .into_boxed();
    if let Some(text) = &filter.specialization {
        query = query.filter(doctors::specialization.ilike(contains_pattern(text)));
    }
    if let Some(text) = &filter.sub_specialization {
        query = query.filter(doctors::sub_specialization.ilike(contains_pattern(text)));
    }
    if let Some(min) = filter.min_experience {
        query = query.filter(doctors::experience_years.ge(min));
    }
    if let Some(max) = filter.max_experience {
        query = query.filter(doctors::experience_years.le(max));
    }
    if let Some(verified) = filter.is_verified {
        query = query.filter(doctors::is_verified.eq(verified));
    }
    if let Some(min) = filter.min_rating {
        query = query.filter(sql::<Bool>("doctors.rating >= ").bind::<Float8, _>(min));
    }
    if let Some((first, rest)) = filter.languages.split_first() {
        // languages_spoken @> '["l1"]' OR languages_spoken @> '["l2"]' …: each term can use
        // the GIN index, and containment of a one-string array is exact and case-sensitive.
        type Condition = Box<dyn BoxableExpression<doctors::table, Pg, SqlType = Bool>>;
        let speaks = |language: &String| -> Condition {
            Box::new(
                sql::<Bool>("COALESCE(doctors.languages_spoken @> ")
                    .bind::<Jsonb, _>(json!([language]))
                    .sql(", false)"),
            )
        };
        let any: Condition = rest.iter().fold(speaks(first), |acc, language| {
            Box::new(acc.or(speaks(language)))
        });
        query = query.filter(any);
    }
    let mut conn = repo.read_conn().await?;
    let rows: Vec<DoctorListRow> = query
        .offset(offset(window))
        .limit(i64::from(window.limit))
        .load(&mut conn)
        .await
        .map_err(port)?;
    Ok(rows.into_iter().map(DoctorListRow::into_item).collect())
}

pub(super) async fn nearby_doctors(
    repo: &PgDirectoryRepository,
    filter: &NearbyDoctorFilter,
    window: Window,
) -> Result<Vec<DoctorListItem>, PortError> {
    let statement = format!(
        "SELECT {DOCTOR_LIST_COLUMNS}, \
                ST_Distance(c.geo, {POINT_SQL}, false) / 1000 AS distance_km, \
                c.id AS clinic_id, c.name AS clinic_name \
           FROM doctor_clinics dc \
           JOIN doctors d ON d.id = dc.doctor_id \
           JOIN clinics c ON c.id = dc.clinic_id \
          WHERE dc.status = 'active' AND dc.end_date IS NULL AND dc.appointment_booking_enabled \
            AND c.deleted_at IS NULL AND c.is_active AND c.geo IS NOT NULL \
            AND ST_DWithin(c.geo, {POINT_SQL}, $3, false) \
            AND ($4::text IS NULL OR d.specialization ILIKE $4) \
            AND (NOT $5 OR d.is_verified) \
            AND ($6::float8 IS NULL OR d.rating >= $6) \
          ORDER BY distance_km, d.rating DESC NULLS LAST, d.id, c.id \
         OFFSET $7 LIMIT $8"
    );
    let geo = filter.geo;
    let mut conn = repo.read_conn().await?;
    let rows: Vec<NearbyDoctorRow> = diesel::sql_query(statement)
        .bind::<Float8, _>(geo.longitude)
        .bind::<Float8, _>(geo.latitude)
        .bind::<Float8, _>(geo.radius_km * 1000.0)
        .bind::<Nullable<Text>, _>(filter.specialization.as_deref().map(contains_pattern))
        .bind::<Bool, _>(filter.only_verified)
        .bind::<Nullable<Float8>, _>(filter.min_rating)
        .bind::<Int8, _>(offset(window))
        .bind::<Int8, _>(i64::from(window.limit))
        .load(&mut conn)
        .await
        .map_err(port)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut item = row.doctor.into_item();
            item.distance_km = Some(row.distance_km);
            item.clinic_id = Some(ClinicId::from_uuid(row.clinic_id));
            item.clinic_name = Some(row.clinic_name);
            item
        })
        .collect())
}

pub(super) async fn insert_doctor(
    repo: &PgDirectoryRepository,
    new: &NewDoctor,
    stamp: &AuditStamp,
) -> Result<Doctor, RepoWriteError> {
    let new = new.clone();
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            // Checked here (license first) for a deterministic answer; the unique indexes
            // still decide races.
            let license: Option<uuid::Uuid> = doctors::table
                .filter(doctors::license_number.eq(&new.license_number))
                .select(doctors::id)
                .first(conn)
                .await
                .optional()?;
            if license.is_some() {
                return Err(TxError::Outcome(RepoWriteError::LicenseTaken));
            }
            let email: Option<uuid::Uuid> = doctors::table
                .filter(doctors::email.eq(&new.email))
                .select(doctors::id)
                .first(conn)
                .await
                .optional()?;
            if email.is_some() {
                return Err(TxError::Outcome(RepoWriteError::EmailTaken));
            }
            let row = diesel::insert_into(doctors::table)
                .values((
                    doctors::email.eq(&new.email),
                    doctors::full_name.eq(&new.full_name),
                    doctors::phone.eq(&new.phone),
                    doctors::profile_picture_url.eq(&new.profile_picture_url),
                    doctors::license_number.eq(&new.license_number),
                    doctors::specialization.eq(&new.specialization),
                    doctors::sub_specialization.eq(&new.sub_specialization),
                    doctors::qualification.eq(&new.qualification),
                    doctors::experience_years.eq(new.experience_years),
                    doctors::consultation_fee.eq(numeric!(new.consultation_fee, 2)),
                    doctors::consultation_duration_minutes.eq(new.consultation_duration_minutes),
                    doctors::bio.eq(&new.bio),
                    doctors::languages_spoken.eq(new.languages_spoken.clone().map(Value::from)),
                    doctors::medical_council_registration.eq(&new.medical_council_registration),
                    doctors::is_verified.eq(false),
                ))
                .returning(DoctorRow::as_returning())
                .get_result(conn)
                .await?;
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor.create",
                "doctor",
                Some(&row.id.to_string()),
                Some(&new.audit_details()),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_doctor())
}

pub(super) async fn update_doctor(
    repo: &PgDirectoryRepository,
    id: DoctorId,
    patch: &DoctorPatch,
    stamp: &AuditStamp,
) -> Result<Doctor, RepoWriteError> {
    let patch = patch.clone();
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            let p = &patch;
            let row = diesel::update(doctors::table.find(id.as_uuid()))
                .set((
                    p.specialization
                        .as_ref()
                        .map(|v| doctors::specialization.eq(v)),
                    p.sub_specialization
                        .as_ref()
                        .map(|v| doctors::sub_specialization.eq(v)),
                    p.qualification
                        .as_ref()
                        .map(|v| doctors::qualification.eq(v)),
                    p.experience_years.map(|v| doctors::experience_years.eq(v)),
                    p.consultation_fee
                        .map(|v| doctors::consultation_fee.eq(numeric!(Some(v), 2))),
                    p.consultation_duration_minutes
                        .map(|v| doctors::consultation_duration_minutes.eq(v)),
                    p.bio.as_ref().map(|v| doctors::bio.eq(v)),
                    p.languages_spoken
                        .as_ref()
                        .map(|v| doctors::languages_spoken.eq(Value::from(v.clone()))),
                    p.medical_council_registration
                        .as_ref()
                        .map(|v| doctors::medical_council_registration.eq(v)),
                    doctors::updated_at.eq(diesel::dsl::now),
                ))
                .returning(DoctorRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Err(TxError::Outcome(RepoWriteError::NotFound));
            };
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor.update",
                "doctor",
                Some(&row.id.to_string()),
                Some(&patch.audit_details()),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_doctor())
}

pub(super) async fn verify_doctor(
    repo: &PgDirectoryRepository,
    id: DoctorId,
    verification: &Verification,
    now: DateTime<Utc>,
    stamp: &AuditStamp,
) -> Result<Doctor, RepoWriteError> {
    let verification = verification.clone();
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            let documents = verification
                .replacement_documents()
                .map(|d| Value::Object(d.clone()));
            let replaced = documents.is_some();
            let row = diesel::update(doctors::table.find(id.as_uuid()))
                .set((
                    doctors::is_verified.eq(true),
                    doctors::verified_at.eq(now),
                    doctors::verified_by.eq(verification.verified_by.as_uuid()),
                    documents.map(|d| doctors::verification_documents.eq(d)),
                    doctors::updated_at.eq(diesel::dsl::now),
                ))
                .returning(DoctorRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Err(TxError::Outcome(RepoWriteError::NotFound));
            };
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor.verify",
                "doctor",
                Some(&row.id.to_string()),
                Some(&json!({
                    "is_verified": true,
                    "verified_by": verification.verified_by.to_string(),
                    "verification_documents_replaced": replaced,
                })),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_doctor())
}

pub(super) async fn unverify_doctor(
    repo: &PgDirectoryRepository,
    id: DoctorId,
    stamp: &AuditStamp,
) -> Result<Doctor, RepoWriteError> {
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            let row = diesel::update(doctors::table.find(id.as_uuid()))
                .set((
                    doctors::is_verified.eq(false),
                    doctors::verified_at.eq(None::<DateTime<Utc>>),
                    doctors::verified_by.eq(None::<uuid::Uuid>),
                    doctors::updated_at.eq(diesel::dsl::now),
                ))
                .returning(DoctorRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Err(TxError::Outcome(RepoWriteError::NotFound));
            };
            insert_audit_stamp(
                conn,
                &stamp,
                "doctor.unverify",
                "doctor",
                Some(&row.id.to_string()),
                Some(&json!({"is_verified": false})),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_doctor())
}
