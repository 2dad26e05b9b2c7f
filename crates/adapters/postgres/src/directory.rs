//! `DirectoryRepository` on PostgreSQL/PostGIS: clinics (soft deletion, unique slugs, generated
//! `geo`), doctors, doctor–clinic associations, and the nearby searches on the sphere. Every
//! write is one transaction with its audit event; unique and foreign-key violations become the
//! port's business outcomes, never 500s.
//!
//! `numeric` columns are read as `float8` (nearest f64) and written from the f64's shortest
//! decimal text cast to `numeric` and rounded in SQL (coordinates to 8 places, money to 2), so
//! `19.0760` is stored as exactly `19.07600000`.

use crate::conn::PgConn;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Bool, Float8, Int8, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_directory::{
    Association, AssociationPatch, AssociationStatus, Clinic, ClinicFilter, ClinicForDoctor,
    ClinicInsert, ClinicListItem, ClinicPatch, ClinicStatus, DirectoryRepository, Doctor,
    DoctorAtClinic, DoctorClinicSummary, DoctorFilter, DoctorListItem, DoctorPatch, GeoQuery,
    NearbyClinicFilter, NearbyDoctorFilter, NewAssociation, NewDoctor, RepoWriteError,
    Verification, Window, days_from_json, is_suffixed_form_of, slots_from_json,
};
use medico24_kernel::{AssociationId, AuditStamp, ClinicId, DoctorId, PortError, UserId};
use serde_json::{Value, json};

use crate::audit::insert_audit_stamp;
use crate::database::{Database, DatabaseError};
use crate::errors::contains_pattern;
use crate::schema::{clinics, doctor_clinics, doctors};

/// `round(CAST('<shortest decimal text>' AS numeric), places)` for an `Option<f64>`, typed as
/// the nullable `numeric` column it is written to.
macro_rules! numeric {
    ($value:expr, $places:literal) => {
        sql::<Nullable<diesel::sql_types::Numeric>>("round(CAST(")
            .bind::<Nullable<Text>, _>(($value).map(|v: f64| v.to_string()))
            .sql(concat!(" AS numeric), ", $places, ")"))
    };
}

/// The search point as a geography: `$1` longitude, `$2` latitude (raw SQL statements below).
const POINT_SQL: &str = "ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography";

/// Clinic columns of the raw nearby statement, `numeric` ones read as `float8`.
const CLINIC_COLUMNS: &str = "c.id, c.name, c.slug, c.description, c.logo_url, c.contacts, \
     c.address, c.latitude::float8 AS latitude, c.longitude::float8 AS longitude, \
     c.opening_hours, c.rating::float8 AS rating, c.rating_count, c.status, c.is_active, \
     c.created_at, c.updated_at, c.deleted_at";

/// Doctor list columns of the raw nearby statement.
const DOCTOR_LIST_COLUMNS: &str = "d.id, d.email, d.full_name, d.phone, d.profile_picture_url, \
     d.license_number, d.specialization, d.sub_specialization, d.experience_years, \
     d.consultation_fee::float8 AS consultation_fee, d.is_verified, d.rating::float8 AS rating, \
     d.rating_count";

/// A `clinics` row without `geo`, `numeric` columns as f64.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = clinics, check_for_backend(Pg))]
struct ClinicRow {
    id: uuid::Uuid,
    name: String,
    slug: Option<String>,
    description: Option<String>,
    logo_url: Option<String>,
    contacts: Option<Value>,
    address: String,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.latitude::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    latitude: Option<f64>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.longitude::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    longitude: Option<f64>,
    opening_hours: Option<Value>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.rating::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    rating: Option<f64>,
    rating_count: i32,
    status: String,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl ClinicRow {
    fn into_clinic(self) -> Clinic {
        Clinic {
            name: self.name,
            slug: self.slug,
            description: self.description,
            logo_url: self.logo_url,
            contacts: self.contacts,
            address: self.address,
            latitude: self.latitude,
            longitude: self.longitude,
            opening_hours: self.opening_hours,
            id: ClinicId::from_uuid(self.id),
            rating: self.rating,
            rating_count: self.rating_count,
            // `clinics_status_check` guarantees a known value.
            status: self.status.parse().unwrap_or(ClinicStatus::Active),
            is_active: self.is_active,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        }
    }
}

/// A nearby clinic: the row and its distance.
#[derive(QueryableByName)]
struct NearbyClinicRow {
    #[diesel(embed)]
    clinic: ClinicRow,
    #[diesel(sql_type = Float8)]
    distance_km: f64,
}

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

/// Why a write transaction stopped: a database error or a business outcome found on the way.
#[derive(Debug)]
enum TxError {
    Db(DieselError),
    Outcome(RepoWriteError),
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> Self {
        TxError::Db(error)
    }
}

fn port(error: DieselError) -> PortError {
    DatabaseError::Query(error).into()
}

/// Maps a constraint violation to its business outcome; anything else is a port failure.
fn classify(error: DieselError) -> RepoWriteError {
    if let DieselError::DatabaseError(kind, info) = &error {
        let constraint = info.constraint_name();
        let outcome = match (kind, constraint) {
            (DatabaseErrorKind::UniqueViolation, Some("idx_clinics_slug")) => {
                Some(RepoWriteError::SlugTaken)
            }
            (
                DatabaseErrorKind::UniqueViolation,
                Some("doctors_license_number_key" | "ix_doctors_license_number"),
            ) => Some(RepoWriteError::LicenseTaken),
            (DatabaseErrorKind::UniqueViolation, Some("ix_doctors_email")) => {
                Some(RepoWriteError::EmailTaken)
            }
            (DatabaseErrorKind::UniqueViolation, Some("uq_doctor_clinic_active")) => {
                Some(RepoWriteError::AlreadyAssociated)
            }
            (DatabaseErrorKind::ForeignKeyViolation, Some("doctor_clinics_doctor_id_fkey")) => {
                Some(RepoWriteError::DoctorNotFound)
            }
            (DatabaseErrorKind::ForeignKeyViolation, Some("doctor_clinics_clinic_id_fkey")) => {
                Some(RepoWriteError::ClinicNotFound)
            }
            _ => None,
        };
        if let Some(outcome) = outcome {
            return outcome;
        }
    }
    RepoWriteError::Port(port(error))
}

impl From<TxError> for RepoWriteError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Db(error) => classify(error),
            TxError::Outcome(outcome) => outcome,
        }
    }
}

fn offset(window: Window) -> i64 {
    i64::try_from(window.skip).unwrap_or(i64::MAX)
}

/// PostgreSQL implementation of [`DirectoryRepository`].
#[derive(Debug, Clone)]
pub struct PgDirectoryRepository {
    db: Database,
}

impl PgDirectoryRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn conn(&self) -> Result<PgConn, PortError> {
        Ok(self.db.conn().await?)
    }

    /// For uncached listings and searches, which may read from the replica.
    async fn read_conn(&self) -> Result<PgConn, PortError> {
        Ok(self.db.read_conn().await?)
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

impl DirectoryRepository for PgDirectoryRepository {
    async fn find_clinic(&self, id: ClinicId) -> Result<Option<Clinic>, PortError> {
        let mut conn = self.conn().await?;
        clinics::table
            .filter(clinics::id.eq(id.as_uuid()))
            .filter(clinics::deleted_at.is_null())
            .select(ClinicRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(ClinicRow::into_clinic))
            .map_err(port)
    }

    async fn find_clinic_by_slug(&self, slug: &str) -> Result<Option<Clinic>, PortError> {
        let mut conn = self.conn().await?;
        clinics::table
            .filter(clinics::slug.eq(slug))
            .filter(clinics::deleted_at.is_null())
            .select(ClinicRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(ClinicRow::into_clinic))
            .map_err(port)
    }

    async fn list_clinics(
        &self,
        filter: &ClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        let mut query = clinics::table
            .filter(clinics::deleted_at.is_null())
            .select(ClinicRow::as_select())
            .order((clinics::name.asc(), clinics::id.asc()))
            .into_boxed();
        if let Some(active) = filter.is_active {
            query = query.filter(clinics::is_active.eq(active));
        }
        if let Some(status) = filter.status {
            query = query.filter(clinics::status.eq(status.as_str()));
        }
        if let Some(search) = &filter.name_search {
            query = query.filter(clinics::name.ilike(contains_pattern(search)));
        }
        if let Some(min) = filter.min_rating {
            query = query.filter(sql::<Bool>("clinics.rating >= ").bind::<Float8, _>(min));
        }
        let mut conn = self.read_conn().await?;
        let rows: Vec<ClinicRow> = query
            .offset(offset(window))
            .limit(i64::from(window.limit))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(rows
            .into_iter()
            .map(|row| ClinicListItem::of(&row.into_clinic(), None))
            .collect())
    }

    async fn nearby_clinics(
        &self,
        geo: GeoQuery,
        filter: &NearbyClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        // KNN order on the GiST index (`<->` is the sphere distance on geography), so the cost
        // does not grow with the number of clinics in the radius.
        let statement = format!(
            "SELECT {CLINIC_COLUMNS}, ST_Distance(c.geo, {POINT_SQL}, false) / 1000 AS distance_km \
               FROM clinics c \
              WHERE c.deleted_at IS NULL AND c.geo IS NOT NULL \
                AND ST_DWithin(c.geo, {POINT_SQL}, $3, false) \
                AND ($4::boolean IS NULL OR c.is_active = $4) \
                AND ($5::float8 IS NULL OR c.rating >= $5) \
              ORDER BY c.geo <-> {POINT_SQL}, c.name, c.id \
             OFFSET $6 LIMIT $7"
        );
        let mut conn = self.read_conn().await?;
        let rows: Vec<NearbyClinicRow> = diesel::sql_query(statement)
            .bind::<Float8, _>(geo.longitude)
            .bind::<Float8, _>(geo.latitude)
            .bind::<Float8, _>(geo.radius_km * 1000.0)
            .bind::<Nullable<Bool>, _>(filter.is_active)
            .bind::<Nullable<Float8>, _>(filter.min_rating)
            .bind::<Int8, _>(offset(window))
            .bind::<Int8, _>(i64::from(window.limit))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(rows
            .into_iter()
            .map(|row| ClinicListItem::of(&row.clinic.into_clinic(), Some(row.distance_km)))
            .collect())
    }

    async fn slugs_like(&self, base: &str) -> Result<Vec<String>, PortError> {
        let mut pattern = contains_pattern(base);
        // `%base%` → `base-%`: the base itself or the base with any suffix.
        pattern.remove(0);
        pattern.pop();
        pattern.push_str("-%");
        let mut conn = self.conn().await?;
        let slugs: Vec<Option<String>> = clinics::table
            .filter(clinics::slug.eq(base).or(clinics::slug.like(pattern)))
            .select(clinics::slug)
            .load(&mut conn)
            .await
            .map_err(port)?;
        // `base-%` also matches `base-x…`; only numeric suffixes compete with the base.
        Ok(slugs
            .into_iter()
            .flatten()
            .filter(|slug| is_suffixed_form_of(slug, base))
            .collect())
    }

    async fn insert_clinic(
        &self,
        insert: &ClinicInsert,
        stamp: &AuditStamp,
    ) -> Result<Clinic, RepoWriteError> {
        let insert = insert.clone();
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
        let row = conn
            .transaction::<_, TxError, _>(async move |conn| {
                let c = &insert.clinic;
                let row = diesel::insert_into(clinics::table)
                    .values((
                        clinics::name.eq(&c.name),
                        clinics::slug.eq(&insert.slug),
                        clinics::description.eq(&c.description),
                        clinics::logo_url.eq(&c.logo_url),
                        clinics::contacts.eq(c.contacts.clone().map(Value::Object)),
                        clinics::address.eq(&c.address),
                        clinics::latitude.eq(numeric!(c.latitude, 8)),
                        clinics::longitude.eq(numeric!(c.longitude, 8)),
                        clinics::opening_hours.eq(c.opening_hours.clone().map(Value::Object)),
                    ))
                    .returning(ClinicRow::as_returning())
                    .get_result(conn)
                    .await?;
                insert_audit_stamp(
                    conn,
                    &stamp,
                    "clinic.create",
                    "clinic",
                    Some(&row.id.to_string()),
                    Some(&insert.audit_details()),
                )
                .await?;
                Ok(row)
            })
            .await?;
        Ok(row.into_clinic())
    }

    async fn update_clinic(
        &self,
        id: ClinicId,
        patch: &ClinicPatch,
        stamp: &AuditStamp,
    ) -> Result<Clinic, RepoWriteError> {
        let patch = patch.clone();
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
        let row = conn
            .transaction::<_, TxError, _>(async move |conn| {
                let p = &patch;
                let row = diesel::update(
                    clinics::table
                        .filter(clinics::id.eq(id.as_uuid()))
                        .filter(clinics::deleted_at.is_null()),
                )
                .set((
                    p.name.as_ref().map(|v| clinics::name.eq(v)),
                    p.slug.as_ref().map(|v| clinics::slug.eq(v)),
                    p.description.as_ref().map(|v| clinics::description.eq(v)),
                    p.logo_url.as_ref().map(|v| clinics::logo_url.eq(v)),
                    p.contacts
                        .as_ref()
                        .map(|v| clinics::contacts.eq(Value::Object(v.clone()))),
                    p.address.as_ref().map(|v| clinics::address.eq(v)),
                    p.latitude
                        .map(|v| clinics::latitude.eq(numeric!(Some(v), 8))),
                    p.longitude
                        .map(|v| clinics::longitude.eq(numeric!(Some(v), 8))),
                    p.opening_hours
                        .as_ref()
                        .map(|v| clinics::opening_hours.eq(Value::Object(v.clone()))),
                    p.status.map(|v| clinics::status.eq(v.as_str())),
                    clinics::updated_at.eq(diesel::dsl::now),
                ))
                .returning(ClinicRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
                let Some(row) = row else {
                    return Err(TxError::Outcome(RepoWriteError::NotFound));
                };
                insert_audit_stamp(
                    conn,
                    &stamp,
                    "clinic.update",
                    "clinic",
                    Some(&row.id.to_string()),
                    Some(&patch.audit_details()),
                )
                .await?;
                Ok(row)
            })
            .await?;
        Ok(row.into_clinic())
    }

    async fn delete_clinic(
        &self,
        id: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<(), RepoWriteError> {
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
        conn.transaction::<_, TxError, _>(async move |conn| {
            let deleted = diesel::update(
                clinics::table
                    .filter(clinics::id.eq(id.as_uuid()))
                    .filter(clinics::deleted_at.is_null()),
            )
            .set(clinics::deleted_at.eq(now))
            .execute(conn)
            .await?;
            if deleted == 0 {
                return Err(TxError::Outcome(RepoWriteError::NotFound));
            }
            insert_audit_stamp(
                conn,
                &stamp,
                "clinic.delete",
                "clinic",
                Some(&id.to_string()),
                Some(&json!({"deleted_at": now.to_rfc3339()})),
            )
            .await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn find_association(&self, id: AssociationId) -> Result<Option<Association>, PortError> {
        let mut conn = self.conn().await?;
        doctor_clinics::table
            .find(id.as_uuid())
            .select(AssociationRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(AssociationRow::into_association))
            .map_err(port)
    }

    async fn insert_association(
        &self,
        new: &NewAssociation,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        let new = new.clone();
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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
                        doctor_clinics::available_days
                            .eq(new.available_days.clone().map(Value::from)),
                        doctor_clinics::available_time_slots
                            .eq(new.available_time_slots.clone().map(Value::Array)),
                        doctor_clinics::appointment_booking_enabled
                            .eq(new.appointment_booking_enabled),
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

    async fn update_association(
        &self,
        id: AssociationId,
        patch: &AssociationPatch,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        let patch = patch.clone();
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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
                        p.available_time_slots.as_ref().map(|v| {
                            doctor_clinics::available_time_slots.eq(Value::Array(v.clone()))
                        }),
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

    async fn end_association(
        &self,
        id: AssociationId,
        end_date: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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

    async fn end_open_associations(
        &self,
        doctor: DoctorId,
        clinic: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<u64, PortError> {
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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

    async fn clinic_doctors(
        &self,
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
        let mut conn = self.conn().await?;
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

    async fn doctor_clinics(
        &self,
        doctor: DoctorId,
        active_only: bool,
    ) -> Result<Vec<ClinicForDoctor>, PortError> {
        let mut conn = self.conn().await?;
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

    async fn doctor_clinic_summaries(
        &self,
        doctor: DoctorId,
    ) -> Result<Vec<DoctorClinicSummary>, PortError> {
        let mut conn = self.conn().await?;
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

    async fn find_doctor(&self, id: DoctorId) -> Result<Option<Doctor>, PortError> {
        let mut conn = self.conn().await?;
        doctors::table
            .find(id.as_uuid())
            .select(DoctorRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(DoctorRow::into_doctor))
            .map_err(port)
    }

    async fn list_doctors(
        &self,
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
        let mut conn = self.read_conn().await?;
        let rows: Vec<DoctorListRow> = query
            .offset(offset(window))
            .limit(i64::from(window.limit))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(rows.into_iter().map(DoctorListRow::into_item).collect())
    }

    async fn nearby_doctors(
        &self,
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
        let mut conn = self.read_conn().await?;
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

    async fn insert_doctor(
        &self,
        new: &NewDoctor,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let new = new.clone();
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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
                        doctors::consultation_duration_minutes
                            .eq(new.consultation_duration_minutes),
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

    async fn update_doctor(
        &self,
        id: DoctorId,
        patch: &DoctorPatch,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let patch = patch.clone();
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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

    async fn verify_doctor(
        &self,
        id: DoctorId,
        verification: &Verification,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let verification = verification.clone();
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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

    async fn unverify_doctor(
        &self,
        id: DoctorId,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        let stamp = stamp.clone();
        let mut conn = self.conn().await?;
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
}
