//! `DirectoryRepository` on PostgreSQL/PostGIS: clinics (soft deletion, unique slugs, generated
//! `geo`), doctors, doctor–clinic associations, and the nearby searches on the sphere. Every
//! write is one transaction with its audit event; unique and foreign-key violations become the
//! port's business outcomes, never 500s.
//!
//! `numeric` columns are read as `float8` (nearest f64) and written from the f64's shortest
//! decimal text cast to `numeric` and rounded in SQL (coordinates to 8 places, money to 2), so
//! `19.0760` is stored as exactly `19.07600000`.
//!
//! `clinics`, `doctors` and `associations` each hold their table's row types and queries; the
//! `DirectoryRepository` impl here delegates to them, and the write-error mapping, the `numeric`
//! writer and the search point they share live here.

use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use medico24_directory::{
    Association, AssociationPatch, Clinic, ClinicFilter, ClinicForDoctor, ClinicInsert,
    ClinicListItem, ClinicPatch, DirectoryRepository, Doctor, DoctorAtClinic, DoctorClinicSummary,
    DoctorFilter, DoctorListItem, DoctorPatch, GeoQuery, NearbyClinicFilter, NearbyDoctorFilter,
    NewAssociation, NewDoctor, RepoWriteError, Verification, Window,
};
use medico24_kernel::{AssociationId, AuditStamp, ClinicId, DoctorId, PortError};

use crate::conn::PgConn;
use crate::database::{Database, DatabaseError};

/// `round(CAST('<shortest decimal text>' AS numeric), places)` for an `Option<f64>`, typed as
/// the nullable `numeric` column it is written to.
macro_rules! numeric {
    ($value:expr, $places:literal) => {
        sql::<Nullable<diesel::sql_types::Numeric>>("round(CAST(")
            .bind::<Nullable<Text>, _>(($value).map(|v: f64| v.to_string()))
            .sql(concat!(" AS numeric), ", $places, ")"))
    };
}

/// The search point as a geography: `$1` longitude, `$2` latitude (the raw nearby statements of
/// `clinics` and `doctors`).
const POINT_SQL: &str = "ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography";

mod associations;
mod clinics;
mod doctors;

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

impl DirectoryRepository for PgDirectoryRepository {
    async fn find_clinic(&self, id: ClinicId) -> Result<Option<Clinic>, PortError> {
        clinics::find_clinic(self, id).await
    }

    async fn find_clinic_by_slug(&self, slug: &str) -> Result<Option<Clinic>, PortError> {
        clinics::find_clinic_by_slug(self, slug).await
    }

    async fn list_clinics(
        &self,
        filter: &ClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        clinics::list_clinics(self, filter, window).await
    }

    async fn nearby_clinics(
        &self,
        geo: GeoQuery,
        filter: &NearbyClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        clinics::nearby_clinics(self, geo, filter, window).await
    }

    async fn slugs_like(&self, base: &str) -> Result<Vec<String>, PortError> {
        clinics::slugs_like(self, base).await
    }

    async fn insert_clinic(
        &self,
        insert: &ClinicInsert,
        stamp: &AuditStamp,
    ) -> Result<Clinic, RepoWriteError> {
        clinics::insert_clinic(self, insert, stamp).await
    }

    async fn update_clinic(
        &self,
        id: ClinicId,
        patch: &ClinicPatch,
        stamp: &AuditStamp,
    ) -> Result<Clinic, RepoWriteError> {
        clinics::update_clinic(self, id, patch, stamp).await
    }

    async fn delete_clinic(
        &self,
        id: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<(), RepoWriteError> {
        clinics::delete_clinic(self, id, now, stamp).await
    }

    async fn find_association(&self, id: AssociationId) -> Result<Option<Association>, PortError> {
        associations::find_association(self, id).await
    }

    async fn insert_association(
        &self,
        new: &NewAssociation,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        associations::insert_association(self, new, now, stamp).await
    }

    async fn update_association(
        &self,
        id: AssociationId,
        patch: &AssociationPatch,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        associations::update_association(self, id, patch, stamp).await
    }

    async fn end_association(
        &self,
        id: AssociationId,
        end_date: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Association, RepoWriteError> {
        associations::end_association(self, id, end_date, stamp).await
    }

    async fn end_open_associations(
        &self,
        doctor: DoctorId,
        clinic: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<u64, PortError> {
        associations::end_open_associations(self, doctor, clinic, now, stamp).await
    }

    async fn clinic_doctors(
        &self,
        clinic: ClinicId,
        active_only: bool,
    ) -> Result<Vec<DoctorAtClinic>, PortError> {
        associations::clinic_doctors(self, clinic, active_only).await
    }

    async fn doctor_clinics(
        &self,
        doctor: DoctorId,
        active_only: bool,
    ) -> Result<Vec<ClinicForDoctor>, PortError> {
        associations::doctor_clinics(self, doctor, active_only).await
    }

    async fn doctor_clinic_summaries(
        &self,
        doctor: DoctorId,
    ) -> Result<Vec<DoctorClinicSummary>, PortError> {
        associations::doctor_clinic_summaries(self, doctor).await
    }

    async fn find_doctor(&self, id: DoctorId) -> Result<Option<Doctor>, PortError> {
        doctors::find_doctor(self, id).await
    }

    async fn list_doctors(
        &self,
        filter: &DoctorFilter,
        window: Window,
    ) -> Result<Vec<DoctorListItem>, PortError> {
        doctors::list_doctors(self, filter, window).await
    }

    async fn nearby_doctors(
        &self,
        filter: &NearbyDoctorFilter,
        window: Window,
    ) -> Result<Vec<DoctorListItem>, PortError> {
        doctors::nearby_doctors(self, filter, window).await
    }

    async fn insert_doctor(
        &self,
        new: &NewDoctor,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        doctors::insert_doctor(self, new, stamp).await
    }

    async fn update_doctor(
        &self,
        id: DoctorId,
        patch: &DoctorPatch,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        doctors::update_doctor(self, id, patch, stamp).await
    }

    async fn verify_doctor(
        &self,
        id: DoctorId,
        verification: &Verification,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        doctors::verify_doctor(self, id, verification, now, stamp).await
    }

    async fn unverify_doctor(
        &self,
        id: DoctorId,
        stamp: &AuditStamp,
    ) -> Result<Doctor, RepoWriteError> {
        doctors::unverify_doctor(self, id, stamp).await
    }
}
