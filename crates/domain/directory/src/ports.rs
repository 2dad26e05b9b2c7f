//! Ports of the care directory: the repository (every write one transaction with its audit
//! event) and the clinic/doctor detail cache.

use std::future::Future;

use chrono::{DateTime, Utc};
use medico24_kernel::{AssociationId, AuditStamp, ClinicId, DoctorId, PortError};

use crate::association::{
    Association, AssociationPatch, ClinicForDoctor, DoctorAtClinic, DoctorClinicSummary,
    NewAssociation,
};
use crate::clinic::{
    Clinic, ClinicFilter, ClinicInsert, ClinicListItem, ClinicPatch, GeoQuery, NearbyClinicFilter,
    Window,
};
use crate::doctor::{
    Doctor, DoctorFilter, DoctorListItem, DoctorPatch, NearbyDoctorFilter, NewDoctor, Verification,
};

/// Why a repository write did not happen. Each method documents the variants it may return;
/// adapters map unique, foreign-key and missing-row outcomes to them, never to `Port`.
#[derive(Debug, thiserror::Error)]
pub enum RepoWriteError {
    /// The addressed row does not exist (for clinics: or is soft-deleted).
    #[error("not found")]
    NotFound,
    /// Another clinic (deleted ones included) has the slug (`idx_clinics_slug`).
    #[error("slug taken")]
    SlugTaken,
    /// Another doctor has the license number (`doctors_license_number_key`).
    #[error("license taken")]
    LicenseTaken,
    /// Another doctor has the email (`ix_doctors_email`).
    #[error("email taken")]
    EmailTaken,
    /// The referenced clinic does not exist or is soft-deleted.
    #[error("clinic not found")]
    ClinicNotFound,
    /// The referenced doctor does not exist.
    #[error("doctor not found")]
    DoctorNotFound,
    /// The pair already has an open association (`uq_doctor_clinic_active`).
    #[error("already associated")]
    AlreadyAssociated,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Persistence of clinics, doctors and their associations. Clinic reads never return
/// soft-deleted clinics; association listings and doctor details leave them out.
pub trait DirectoryRepository: Send + Sync + 'static {
    // ------------------------------------------------------------------ clinics

    /// The non-deleted clinic with `id`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find_clinic(
        &self,
        id: ClinicId,
    ) -> impl Future<Output = Result<Option<Clinic>, PortError>> + Send;

    /// The non-deleted clinic with `slug`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find_clinic_by_slug(
        &self,
        slug: &str,
    ) -> impl Future<Output = Result<Option<Clinic>, PortError>> + Send;

    /// Non-deleted clinics matching `filter`, ordered `name, id`, windowed; `distance_km` null.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn list_clinics(
        &self,
        filter: &ClinicFilter,
        window: Window,
    ) -> impl Future<Output = Result<Vec<ClinicListItem>, PortError>> + Send;

    /// Non-deleted clinics whose location is within `geo` (sphere distance, inclusive),
    /// ordered by distance, `name`, `id`, with `distance_km` set.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn nearby_clinics(
        &self,
        geo: GeoQuery,
        filter: &NearbyClinicFilter,
        window: Window,
    ) -> impl Future<Output = Result<Vec<ClinicListItem>, PortError>> + Send;

    /// Every stored slug that is `base` or `base-N` (deleted clinics included).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn slugs_like(&self, base: &str)
    -> impl Future<Output = Result<Vec<String>, PortError>> + Send;

    /// Inserts an active, unrated clinic with the `clinic.create` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::SlugTaken`] or `Port`.
    fn insert_clinic(
        &self,
        insert: &ClinicInsert,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Clinic, RepoWriteError>> + Send;

    /// Applies a non-empty patch with the `clinic.update` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::NotFound`] (missing or deleted), `SlugTaken` or `Port`.
    fn update_clinic(
        &self,
        id: ClinicId,
        patch: &ClinicPatch,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Clinic, RepoWriteError>> + Send;

    /// Sets `deleted_at = now` with the `clinic.delete` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::NotFound`] (missing or already deleted) or `Port`.
    fn delete_clinic(
        &self,
        id: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<(), RepoWriteError>> + Send;

    // ------------------------------------------------------------------ associations

    /// The association with `id`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find_association(
        &self,
        id: AssociationId,
    ) -> impl Future<Output = Result<Option<Association>, PortError>> + Send;

    /// Inserts an active association starting at `now` with the `doctor_clinic.create` audit
    /// event, checking the clinic first, then the doctor.
    ///
    /// # Errors
    /// [`RepoWriteError::ClinicNotFound`], `DoctorNotFound`, `AlreadyAssociated` or `Port`.
    fn insert_association(
        &self,
        new: &NewAssociation,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Association, RepoWriteError>> + Send;

    /// Applies a non-empty patch with the `doctor_clinic.update` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::NotFound`] or `Port`.
    fn update_association(
        &self,
        id: AssociationId,
        patch: &AssociationPatch,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Association, RepoWriteError>> + Send;

    /// Sets `end_date` and `status = inactive` with the `doctor_clinic.end` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::NotFound`] or `Port`.
    fn end_association(
        &self,
        id: AssociationId,
        end_date: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Association, RepoWriteError>> + Send;

    /// Ends every open association of the pair at `now` (one `doctor_clinic.remove` audit event
    /// each) and returns how many were ended; a soft-deleted clinic has none.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn end_open_associations(
        &self,
        doctor: DoctorId,
        clinic: ClinicId,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<u64, PortError>> + Send;

    /// The doctors of a non-deleted clinic (`[]` otherwise), only current ones when
    /// `active_only`, ordered `is_primary DESC, full_name, id`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn clinic_doctors(
        &self,
        clinic: ClinicId,
        active_only: bool,
    ) -> impl Future<Output = Result<Vec<DoctorAtClinic>, PortError>> + Send;

    /// The non-deleted clinics of a doctor, only current associations when `active_only`,
    /// ordered `is_primary DESC, clinic name, id`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn doctor_clinics(
        &self,
        doctor: DoctorId,
        active_only: bool,
    ) -> impl Future<Output = Result<Vec<ClinicForDoctor>, PortError>> + Send;

    /// The current associations of a doctor with non-deleted clinics, with the clinics' names
    /// and places, ordered `is_primary DESC, clinic name, id`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn doctor_clinic_summaries(
        &self,
        doctor: DoctorId,
    ) -> impl Future<Output = Result<Vec<DoctorClinicSummary>, PortError>> + Send;

    // ------------------------------------------------------------------ doctors

    /// The doctor with `id`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find_doctor(
        &self,
        id: DoctorId,
    ) -> impl Future<Output = Result<Option<Doctor>, PortError>> + Send;

    /// Doctors matching `filter`, ordered `rating DESC NULLS LAST, experience_years DESC NULLS
    /// LAST, id`, windowed.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn list_doctors(
        &self,
        filter: &DoctorFilter,
        window: Window,
    ) -> impl Future<Output = Result<Vec<DoctorListItem>, PortError>> + Send;

    /// One item per (doctor, clinic) pair of current, bookable associations with non-deleted,
    /// active clinics within the radius, ordered by distance, `rating DESC NULLS LAST`, doctor
    /// id, clinic id.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn nearby_doctors(
        &self,
        filter: &NearbyDoctorFilter,
        window: Window,
    ) -> impl Future<Output = Result<Vec<DoctorListItem>, PortError>> + Send;

    /// Inserts an unverified doctor with the `doctor.create` audit event. The license is
    /// checked before the email.
    ///
    /// # Errors
    /// [`RepoWriteError::LicenseTaken`], `EmailTaken` or `Port`.
    fn insert_doctor(
        &self,
        new: &NewDoctor,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Doctor, RepoWriteError>> + Send;

    /// Applies a non-empty patch with the `doctor.update` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::NotFound`] or `Port`.
    fn update_doctor(
        &self,
        id: DoctorId,
        patch: &DoctorPatch,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Doctor, RepoWriteError>> + Send;

    /// Marks the doctor verified at `now` by the verifying admin (documents replaced only by a
    /// non-empty object) with the `doctor.verify` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::NotFound`] or `Port`.
    fn verify_doctor(
        &self,
        id: DoctorId,
        verification: &Verification,
        now: DateTime<Utc>,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Doctor, RepoWriteError>> + Send;

    /// Clears the verification (documents kept) with the `doctor.unverify` audit event.
    ///
    /// # Errors
    /// [`RepoWriteError::NotFound`] or `Port`.
    fn unverify_doctor(
        &self,
        id: DoctorId,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<Doctor, RepoWriteError>> + Send;
}

/// The clinic and doctor detail caches (`v2:clinic:{id}`, `v2:doctor:{id}`). Fail open: errors
/// are misses and skipped writes, which the adapter logs and counts; callers never see them.
pub trait DirectoryCache: Send + Sync + 'static {
    /// A cached clinic.
    fn clinic(&self, id: ClinicId) -> impl Future<Output = Option<Clinic>> + Send;
    /// Stores a clinic for the configured TTL.
    fn put_clinic(&self, clinic: &Clinic) -> impl Future<Output = ()> + Send;
    /// Drops a cached clinic (after a commit that changed it).
    fn invalidate_clinic(&self, id: ClinicId) -> impl Future<Output = ()> + Send;
    /// A cached doctor (without clinics).
    fn doctor(&self, id: DoctorId) -> impl Future<Output = Option<Doctor>> + Send;
    /// Stores a doctor for the configured TTL.
    fn put_doctor(&self, doctor: &Doctor) -> impl Future<Output = ()> + Send;
    /// Drops a cached doctor (after a commit that changed it).
    fn invalidate_doctor(&self, id: DoctorId) -> impl Future<Output = ()> + Send;
}
