//! Care-directory use cases: clinics with generated slugs, doctors with verification,
//! doctor–clinic associations, nearby searches, and the detail caches around them.

use chrono::{DateTime, Utc};
use medico24_kernel::{AssociationId, AuditStamp, ClinicId, Clock, DoctorId, PortError};

use crate::association::{
    Association, AssociationPatch, ClinicForDoctor, DoctorAtClinic, NewAssociation,
};
use crate::clinic::{
    Clinic, ClinicFilter, ClinicInsert, ClinicListItem, ClinicPatch, GeoQuery, NearbyClinicFilter,
    NewClinic, Window,
};
use crate::doctor::{
    Doctor, DoctorDetail, DoctorFilter, DoctorListItem, DoctorPatch, NearbyDoctorFilter, NewDoctor,
    Verification,
};
use crate::ports::{DirectoryCache, DirectoryRepository, RepoWriteError};
use crate::rules::{SLUG_ATTEMPTS, first_free_slug, is_suffixed_form_of, slug_from_name};

/// A repository outcome the calling use case does not expect: a bug in an adapter.
fn unexpected(operation: &str, error: &RepoWriteError) -> PortError {
    PortError::Unexpected(format!(
        "{operation}: unexpected repository outcome: {error}"
    ))
}

/// Why a clinic could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateClinicError {
    /// The slug is taken by another clinic, deleted ones included (400).
    #[error("slug taken")]
    SlugTaken(String),
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a clinic could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateClinicError {
    /// Missing or deleted (404 `Clinic not found`).
    #[error("not found")]
    NotFound,
    /// The new slug is taken (400).
    #[error("slug taken")]
    SlugTaken(String),
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a clinic could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteClinicError {
    /// Missing or already deleted (404 `Clinic not found`).
    #[error("not found")]
    NotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why an association could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateAssociationError {
    /// The body's `clinic_id` differs from the path's (400).
    #[error("clinic id mismatch")]
    ClinicIdMismatch,
    /// Unknown or deleted clinic (404 `Clinic not found`).
    #[error("clinic not found")]
    ClinicNotFound,
    /// Unknown doctor (404 `Doctor not found`).
    #[error("doctor not found")]
    DoctorNotFound,
    /// The pair has an open association (400).
    #[error("already associated")]
    AlreadyAssociated,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why an association could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateAssociationError {
    /// No such association (404).
    #[error("not found")]
    NotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why an association could not be ended.
#[derive(Debug, thiserror::Error)]
pub enum EndAssociationError {
    /// No such association (404).
    #[error("not found")]
    NotFound,
    /// The end would precede the start (422).
    #[error("end before start")]
    EndBeforeStart,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a doctor–clinic pair could not be dissociated.
#[derive(Debug, thiserror::Error)]
pub enum RemoveAssociationError {
    /// The pair has no open association (404).
    #[error("no open association")]
    NoneOpen,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a doctor could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateDoctorError {
    /// Another doctor has the license number (400).
    #[error("license taken")]
    LicenseTaken(String),
    /// Another doctor has the email (400).
    #[error("email taken")]
    EmailTaken(String),
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a doctor could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeDoctorError {
    /// No such doctor (404 `Doctor not found`).
    #[error("not found")]
    NotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The care-directory use cases over their ports.
pub struct DirectoryService<R, C, K> {
    repo: R,
    cache: C,
    clock: K,
}

impl<R, C, K> DirectoryService<R, C, K>
where
    R: DirectoryRepository,
    C: DirectoryCache,
    K: Clock,
{
    /// Wires the service.
    pub fn new(repo: R, cache: C, clock: K) -> Self {
        Self { repo, cache, clock }
    }

    /// The repository (for server-side reads that need nothing else).
    pub fn repository(&self) -> &R {
        &self.repo
    }

    // ------------------------------------------------------------------ clinics

    /// Creates a clinic. A supplied slug must be free; otherwise one is generated from
    /// the name with the first free `-N` suffix, retrying when a concurrent insert takes it.
    ///
    /// # Errors
    /// [`CreateClinicError`].
    pub async fn create_clinic(
        &self,
        clinic: NewClinic,
        stamp: &AuditStamp,
    ) -> Result<Clinic, CreateClinicError> {
        if let Some(slug) = clinic.slug.clone() {
            let insert = ClinicInsert {
                clinic,
                slug: slug.clone(),
            };
            return match self.repo.insert_clinic(&insert, stamp).await {
                Ok(created) => Ok(created),
                Err(RepoWriteError::SlugTaken) => Err(CreateClinicError::SlugTaken(slug)),
                Err(RepoWriteError::Port(port)) => Err(port.into()),
                Err(other) => Err(unexpected("insert_clinic", &other).into()),
            };
        }
        let base = slug_from_name(&clinic.name);
        let mut insert = ClinicInsert {
            clinic,
            slug: base.clone(),
        };
        for _ in 0..SLUG_ATTEMPTS {
            let mut taken = self.repo.slugs_like(&base).await?;
            taken.retain(|slug| is_suffixed_form_of(slug, &base));
            insert.slug = first_free_slug(&base, &taken);
            match self.repo.insert_clinic(&insert, stamp).await {
                Ok(created) => return Ok(created),
                // Another create took the candidate between the read and the insert: look again.
                Err(RepoWriteError::SlugTaken) => continue,
                Err(RepoWriteError::Port(port)) => return Err(port.into()),
                Err(other) => return Err(unexpected("insert_clinic", &other).into()),
            }
        }
        Err(CreateClinicError::SlugTaken(insert.slug))
    }

    /// A non-deleted clinic, through the cache (filled on a miss).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn clinic(&self, id: ClinicId) -> Result<Option<Clinic>, PortError> {
        if let Some(clinic) = self.cache.clinic(id).await {
            return Ok(Some(clinic));
        }
        let clinic = self.repo.find_clinic(id).await?;
        if let Some(clinic) = &clinic {
            self.cache.put_clinic(clinic).await;
        }
        Ok(clinic)
    }

    /// A non-deleted clinic by slug (not cached).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn clinic_by_slug(&self, slug: &str) -> Result<Option<Clinic>, PortError> {
        self.repo.find_clinic_by_slug(slug).await
    }

    /// Lists clinics.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn list_clinics(
        &self,
        filter: &ClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        self.repo.list_clinics(filter, window).await
    }

    /// Clinics near a point.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn nearby_clinics(
        &self,
        geo: GeoQuery,
        filter: &NearbyClinicFilter,
        window: Window,
    ) -> Result<Vec<ClinicListItem>, PortError> {
        self.repo.nearby_clinics(geo, filter, window).await
    }

    /// Partially updates a clinic; an empty patch returns the current clinic.
    ///
    /// # Errors
    /// [`UpdateClinicError`].
    pub async fn update_clinic(
        &self,
        id: ClinicId,
        patch: &ClinicPatch,
        stamp: &AuditStamp,
    ) -> Result<Clinic, UpdateClinicError> {
        if patch.is_empty() {
            return self
                .repo
                .find_clinic(id)
                .await?
                .ok_or(UpdateClinicError::NotFound);
        }
        let updated = match self.repo.update_clinic(id, patch, stamp).await {
            Ok(updated) => updated,
            Err(RepoWriteError::NotFound) => return Err(UpdateClinicError::NotFound),
            Err(RepoWriteError::SlugTaken) => {
                return Err(UpdateClinicError::SlugTaken(
                    patch.slug.clone().unwrap_or_default(),
                ));
            }
            Err(RepoWriteError::Port(port)) => return Err(port.into()),
            Err(other) => return Err(unexpected("update_clinic", &other).into()),
        };
        self.cache.invalidate_clinic(id).await;
        Ok(updated)
    }

    /// Soft-deletes a clinic.
    ///
    /// # Errors
    /// [`DeleteClinicError`].
    pub async fn delete_clinic(
        &self,
        id: ClinicId,
        stamp: &AuditStamp,
    ) -> Result<(), DeleteClinicError> {
        match self.repo.delete_clinic(id, self.clock.now(), stamp).await {
            Ok(()) => {}
            Err(RepoWriteError::NotFound) => return Err(DeleteClinicError::NotFound),
            Err(RepoWriteError::Port(port)) => return Err(port.into()),
            Err(other) => return Err(unexpected("delete_clinic", &other).into()),
        }
        self.cache.invalidate_clinic(id).await;
        Ok(())
    }

    // ------------------------------------------------------------------ associations

    /// Associates a doctor with a clinic.
    ///
    /// # Errors
    /// [`CreateAssociationError`], checked in the order mismatch, clinic, doctor, open pair.
    pub async fn create_association(
        &self,
        new: &NewAssociation,
        stamp: &AuditStamp,
    ) -> Result<Association, CreateAssociationError> {
        if new.body_clinic_id.is_some_and(|body| body != new.clinic_id) {
            return Err(CreateAssociationError::ClinicIdMismatch);
        }
        match self
            .repo
            .insert_association(new, self.clock.now(), stamp)
            .await
        {
            Ok(created) => Ok(created),
            Err(RepoWriteError::ClinicNotFound) => Err(CreateAssociationError::ClinicNotFound),
            Err(RepoWriteError::DoctorNotFound) => Err(CreateAssociationError::DoctorNotFound),
            Err(RepoWriteError::AlreadyAssociated) => {
                Err(CreateAssociationError::AlreadyAssociated)
            }
            Err(RepoWriteError::Port(port)) => Err(port.into()),
            Err(other) => Err(unexpected("insert_association", &other).into()),
        }
    }

    /// The doctors of a clinic.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn clinic_doctors(
        &self,
        clinic: ClinicId,
        active_only: bool,
    ) -> Result<Vec<DoctorAtClinic>, PortError> {
        self.repo.clinic_doctors(clinic, active_only).await
    }

    /// The clinics of a doctor.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn doctor_clinics(
        &self,
        doctor: DoctorId,
        active_only: bool,
    ) -> Result<Vec<ClinicForDoctor>, PortError> {
        self.repo.doctor_clinics(doctor, active_only).await
    }

    /// Partially updates an association; an empty patch returns it unchanged.
    ///
    /// # Errors
    /// [`UpdateAssociationError`].
    pub async fn update_association(
        &self,
        id: AssociationId,
        patch: &AssociationPatch,
        stamp: &AuditStamp,
    ) -> Result<Association, UpdateAssociationError> {
        if patch.is_empty() {
            return self
                .repo
                .find_association(id)
                .await?
                .ok_or(UpdateAssociationError::NotFound);
        }
        match self.repo.update_association(id, patch, stamp).await {
            Ok(updated) => Ok(updated),
            Err(RepoWriteError::NotFound) => Err(UpdateAssociationError::NotFound),
            Err(RepoWriteError::Port(port)) => Err(port.into()),
            Err(other) => Err(unexpected("update_association", &other).into()),
        }
    }

    /// Ends an association at `end_date` (default now), which must not precede its start.
    /// Ending again overwrites the end.
    ///
    /// # Errors
    /// [`EndAssociationError`].
    pub async fn end_association(
        &self,
        id: AssociationId,
        end_date: Option<DateTime<Utc>>,
        stamp: &AuditStamp,
    ) -> Result<Association, EndAssociationError> {
        let current = self
            .repo
            .find_association(id)
            .await?
            .ok_or(EndAssociationError::NotFound)?;
        let end = end_date.unwrap_or_else(|| self.clock.now());
        if end < current.start_date {
            return Err(EndAssociationError::EndBeforeStart);
        }
        match self.repo.end_association(id, end, stamp).await {
            Ok(ended) => Ok(ended),
            Err(RepoWriteError::NotFound) => Err(EndAssociationError::NotFound),
            Err(RepoWriteError::Port(port)) => Err(port.into()),
            Err(other) => Err(unexpected("end_association", &other).into()),
        }
    }

    /// Ends every open association of a doctor with a clinic.
    ///
    /// # Errors
    /// [`RemoveAssociationError`].
    pub async fn remove_association(
        &self,
        doctor: DoctorId,
        clinic: ClinicId,
        stamp: &AuditStamp,
    ) -> Result<(), RemoveAssociationError> {
        let ended = self
            .repo
            .end_open_associations(doctor, clinic, self.clock.now(), stamp)
            .await?;
        if ended == 0 {
            return Err(RemoveAssociationError::NoneOpen);
        }
        Ok(())
    }

    // ------------------------------------------------------------------ doctors

    /// Creates an unverified doctor.
    ///
    /// # Errors
    /// [`CreateDoctorError`].
    pub async fn create_doctor(
        &self,
        new: &NewDoctor,
        stamp: &AuditStamp,
    ) -> Result<Doctor, CreateDoctorError> {
        match self.repo.insert_doctor(new, stamp).await {
            Ok(created) => Ok(created),
            Err(RepoWriteError::LicenseTaken) => {
                Err(CreateDoctorError::LicenseTaken(new.license_number.clone()))
            }
            Err(RepoWriteError::EmailTaken) => {
                Err(CreateDoctorError::EmailTaken(new.email.clone()))
            }
            Err(RepoWriteError::Port(port)) => Err(port.into()),
            Err(other) => Err(unexpected("insert_doctor", &other).into()),
        }
    }

    /// Lists doctors with every filter (`GET /doctors/`).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn list_doctors(
        &self,
        filter: &DoctorFilter,
        window: Window,
    ) -> Result<Vec<DoctorListItem>, PortError> {
        self.repo.list_doctors(filter, window).await
    }

    /// Searches doctors (`GET /doctors/search`): `max_experience` and `languages` are
    /// ignored there.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn search_doctors(
        &self,
        filter: &DoctorFilter,
        window: Window,
    ) -> Result<Vec<DoctorListItem>, PortError> {
        let filter = DoctorFilter {
            max_experience: None,
            languages: Vec::new(),
            ..filter.clone()
        };
        self.repo.list_doctors(&filter, window).await
    }

    /// Doctors practising near a point.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn nearby_doctors(
        &self,
        filter: &NearbyDoctorFilter,
        window: Window,
    ) -> Result<Vec<DoctorListItem>, PortError> {
        self.repo.nearby_doctors(filter, window).await
    }

    /// A doctor (through the cache) with their current clinics (read live).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn doctor(&self, id: DoctorId) -> Result<Option<DoctorDetail>, PortError> {
        let doctor = match self.cache.doctor(id).await {
            Some(doctor) => doctor,
            None => match self.repo.find_doctor(id).await? {
                Some(doctor) => {
                    self.cache.put_doctor(&doctor).await;
                    doctor
                }
                None => return Ok(None),
            },
        };
        let clinics = self.repo.doctor_clinic_summaries(id).await?;
        Ok(Some(DoctorDetail { doctor, clinics }))
    }

    /// Partially updates a doctor; an empty patch returns the current doctor.
    ///
    /// # Errors
    /// [`ChangeDoctorError`].
    pub async fn update_doctor(
        &self,
        id: DoctorId,
        patch: &DoctorPatch,
        stamp: &AuditStamp,
    ) -> Result<Doctor, ChangeDoctorError> {
        if patch.is_empty() {
            return self
                .repo
                .find_doctor(id)
                .await?
                .ok_or(ChangeDoctorError::NotFound);
        }
        let result = self.repo.update_doctor(id, patch, stamp).await;
        self.after_doctor_write(id, "update_doctor", result).await
    }

    /// Verifies a doctor as the calling admin.
    ///
    /// # Errors
    /// [`ChangeDoctorError`].
    pub async fn verify_doctor(
        &self,
        id: DoctorId,
        verification: &Verification,
        stamp: &AuditStamp,
    ) -> Result<Doctor, ChangeDoctorError> {
        let result = self
            .repo
            .verify_doctor(id, verification, self.clock.now(), stamp)
            .await;
        self.after_doctor_write(id, "verify_doctor", result).await
    }

    /// Clears a doctor's verification.
    ///
    /// # Errors
    /// [`ChangeDoctorError`].
    pub async fn unverify_doctor(
        &self,
        id: DoctorId,
        stamp: &AuditStamp,
    ) -> Result<Doctor, ChangeDoctorError> {
        let result = self.repo.unverify_doctor(id, stamp).await;
        self.after_doctor_write(id, "unverify_doctor", result).await
    }

    async fn after_doctor_write(
        &self,
        id: DoctorId,
        operation: &str,
        result: Result<Doctor, RepoWriteError>,
    ) -> Result<Doctor, ChangeDoctorError> {
        match result {
            Ok(doctor) => {
                self.cache.invalidate_doctor(id).await;
                Ok(doctor)
            }
            Err(RepoWriteError::NotFound) => Err(ChangeDoctorError::NotFound),
            Err(RepoWriteError::Port(port)) => Err(port.into()),
            Err(other) => Err(unexpected(operation, &other).into()),
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
