//! Pharmacy use cases over their ports, with cache-aside reads: the detail is cached per id, the
//! plain listing (without `open_now`) per page under the list generation; every committed write
//! drops the detail and bumps the generation.

use std::fmt::Display;

use medico24_kernel::{AuditStamp, Clock, PharmacyId};

use crate::model::{
    DayOfWeek, Hours, HoursInput, LocationPatch, NearbyQuery, NewPharmacy, Pharmacy,
    PharmacyFilter, PharmacyListItem, PharmacyPatch, PharmacyVerify, VerifyChange, Window,
};
use crate::ports::{
    CreatePharmacyError, DeleteHours, LocationUpdate, PharmacyCache, PharmacyRepository, PortError,
};

/// Why a use case addressed to one pharmacy failed.
#[derive(Debug, thiserror::Error)]
pub enum PharmacyError {
    /// No such pharmacy (→ 404 `Pharmacy not found`).
    #[error("pharmacy not found")]
    NotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why deleting one day's hours failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteHoursError {
    /// No such pharmacy (→ 404 `Pharmacy not found`).
    #[error("pharmacy not found")]
    PharmacyNotFound,
    /// No row for that day (→ 404 `Pharmacy hours not found`).
    #[error("pharmacy hours not found")]
    HoursNotFound,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

fn render_failed(error: impl Display) -> PortError {
    PortError::Unexpected(format!("rendering a response body failed: {error}"))
}

/// The pharmacy use cases.
pub struct PharmacyService<R, C, K> {
    repo: R,
    cache: C,
    clock: K,
}

impl<R, C, K> PharmacyService<R, C, K>
where
    R: PharmacyRepository,
    C: PharmacyCache,
    K: Clock,
{
    /// Wires the service.
    pub fn new(repo: R, cache: C, clock: K) -> Self {
        Self { repo, cache, clock }
    }

    /// The repository (for reads that bypass the caches, e.g. tests and tools).
    pub fn repository(&self) -> &R {
        &self.repo
    }

    /// After a committed write: the detail goes, every listing is superseded.
    async fn invalidate(&self, id: PharmacyId) {
        self.cache.invalidate_detail(id).await;
        self.cache.bump_list_generation().await;
    }

    /// Creates a pharmacy with its location and hours.
    ///
    /// # Errors
    /// [`CreatePharmacyError::DuplicateDay`] when a weekday is given twice (checked before any
    /// write); [`CreatePharmacyError::Port`].
    pub async fn create(
        &self,
        new: &NewPharmacy,
        stamp: &AuditStamp,
    ) -> Result<Pharmacy, CreatePharmacyError> {
        if let Some(day) = new.duplicate_days().first() {
            return Err(CreatePharmacyError::DuplicateDay(*day));
        }
        let id = PharmacyId::new_v7();
        let created = self.repo.create(id, new, stamp, self.clock.now()).await?;
        self.invalidate(created.id).await;
        Ok(created)
    }

    /// The detail, read from the database (no cache).
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn detail(&self, id: PharmacyId) -> Result<Pharmacy, PharmacyError> {
        self.repo.find(id).await?.ok_or(PharmacyError::NotFound)
    }

    /// The detail body through the cache: a hit is returned as stored; on a miss the
    /// row is read, rendered with `render` and stored.
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`] (also when `render` fails).
    pub async fn detail_body<F, E>(
        &self,
        id: PharmacyId,
        render: F,
    ) -> Result<String, PharmacyError>
    where
        F: FnOnce(&Pharmacy) -> Result<String, E>,
        E: Display,
    {
        if let Some(body) = self.cache.get_detail(id).await {
            return Ok(body);
        }
        let pharmacy = self.detail(id).await?;
        let body = render(&pharmacy).map_err(render_failed)?;
        self.cache.put_detail(id, &body).await;
        Ok(body)
    }

    /// The plain listing, read from the database.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn list(
        &self,
        filter: &PharmacyFilter,
        window: Window,
    ) -> Result<Vec<PharmacyListItem>, PortError> {
        self.repo.list(filter, window, self.clock.now()).await
    }

    /// The plain listing body: without `open_now` it is cached under the current generation
    /// (empty listings too); with `open_now` (which depends on the clock) it never is.
    ///
    /// # Errors
    /// [`PortError`] (also when `render` fails).
    pub async fn list_body<F, E>(
        &self,
        filter: &PharmacyFilter,
        window: Window,
        render: F,
    ) -> Result<String, PortError>
    where
        F: FnOnce(&[PharmacyListItem]) -> Result<String, E>,
        E: Display,
    {
        let generation = if filter.open_now {
            None
        } else {
            self.cache.list_generation().await
        };
        if let Some(generation) = generation
            && let Some(body) = self.cache.get_list(generation, filter, window).await
        {
            return Ok(body);
        }
        let items = self.list(filter, window).await?;
        let body = render(&items).map_err(render_failed)?;
        if let Some(generation) = generation {
            self.cache.put_list(generation, filter, window, &body).await;
        }
        Ok(body)
    }

    /// The nearby search; never cached.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn nearby(&self, query: &NearbyQuery) -> Result<Vec<PharmacyListItem>, PortError> {
        self.repo.nearby(query, self.clock.now()).await
    }

    /// Applies a patch; an empty patch writes nothing and returns the current detail.
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn update(
        &self,
        id: PharmacyId,
        patch: &PharmacyPatch,
        stamp: &AuditStamp,
    ) -> Result<Pharmacy, PharmacyError> {
        if patch.is_empty() {
            return self.detail(id).await;
        }
        let updated = self
            .repo
            .update(id, patch, stamp, self.clock.now())
            .await?
            .ok_or(PharmacyError::NotFound)?;
        self.invalidate(id).await;
        Ok(updated)
    }

    /// Deletes a pharmacy.
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn delete(&self, id: PharmacyId, stamp: &AuditStamp) -> Result<(), PharmacyError> {
        if !self.repo.delete(id, stamp).await? {
            return Err(PharmacyError::NotFound);
        }
        self.invalidate(id).await;
        Ok(())
    }

    /// Patches the location; an empty patch, or a pharmacy without a location row,
    /// writes nothing and returns the current detail.
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn update_location(
        &self,
        id: PharmacyId,
        patch: &LocationPatch,
        stamp: &AuditStamp,
    ) -> Result<Pharmacy, PharmacyError> {
        if patch.is_empty() {
            return self.detail(id).await;
        }
        match self
            .repo
            .update_location(id, patch, stamp, self.clock.now())
            .await?
        {
            None => Err(PharmacyError::NotFound),
            Some(LocationUpdate::NoLocation(pharmacy)) => Ok(pharmacy),
            Some(LocationUpdate::Updated(pharmacy)) => {
                self.invalidate(id).await;
                Ok(pharmacy)
            }
        }
    }

    /// Creates or replaces one day's hours.
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn upsert_hours(
        &self,
        id: PharmacyId,
        hours: &HoursInput,
        stamp: &AuditStamp,
    ) -> Result<Hours, PharmacyError> {
        let stored = self
            .repo
            .upsert_hours(id, hours, stamp, self.clock.now())
            .await?
            .ok_or(PharmacyError::NotFound)?;
        self.invalidate(id).await;
        Ok(stored)
    }

    /// The pharmacy's hours ordered by weekday.
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn hours(&self, id: PharmacyId) -> Result<Vec<Hours>, PharmacyError> {
        self.repo
            .list_hours(id)
            .await?
            .ok_or(PharmacyError::NotFound)
    }

    /// Deletes one day's hours.
    ///
    /// # Errors
    /// [`DeleteHoursError`].
    pub async fn delete_hours(
        &self,
        id: PharmacyId,
        day: DayOfWeek,
        stamp: &AuditStamp,
    ) -> Result<(), DeleteHoursError> {
        match self
            .repo
            .delete_hours(id, day, stamp, self.clock.now())
            .await?
        {
            DeleteHours::PharmacyNotFound => Err(DeleteHoursError::PharmacyNotFound),
            DeleteHours::HoursNotFound => Err(DeleteHoursError::HoursNotFound),
            DeleteHours::Deleted => {
                self.invalidate(id).await;
                Ok(())
            }
        }
    }

    /// Sets or toggles the verification flag.
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn verify(
        &self,
        id: PharmacyId,
        change: VerifyChange,
        stamp: &AuditStamp,
    ) -> Result<PharmacyVerify, PharmacyError> {
        let verified = self
            .repo
            .set_verified(id, change, stamp, self.clock.now())
            .await?
            .ok_or(PharmacyError::NotFound)?;
        self.invalidate(id).await;
        Ok(verified)
    }
}
