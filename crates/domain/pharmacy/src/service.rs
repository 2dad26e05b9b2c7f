//! Pharmacy use cases over their ports, with cache-aside reads: the detail is cached per id, the
//! plain listing (without `open_now`) per page under the list generation; every committed write
//! drops the detail and bumps the generation. The caller renders what a miss loaded and hands
//! the body back to be remembered; the domain never knows the wire format.

use medico24_kernel::{AuditStamp, Clock, PharmacyId};

use crate::model::{
    DayOfWeek, Hours, HoursInput, LocationPatch, NearbyQuery, NewPharmacy, Pharmacy,
    PharmacyFilter, PharmacyListItem, PharmacyPatch, PharmacyVerify, VerifyChange, Window,
};
use crate::ports::{DeleteHours, LocationUpdate, PharmacyCache, PharmacyRepository, PortError};

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

/// A detail read through the cache ([`PharmacyService::detail_view`]).
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a return value the caller matches at once; boxing would only add an allocation per miss"
)]
pub enum DetailView {
    /// A hit: the stored body, exactly as it was remembered.
    Cached(String),
    /// A miss: the row read from the repository. The caller renders it and may hand the body
    /// to [`PharmacyService::remember_detail`].
    Loaded(Pharmacy),
}

/// A plain listing read through the cache ([`PharmacyService::list_view`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ListView {
    /// A hit: the stored body, exactly as it was remembered.
    Cached(String),
    /// A miss: the page read from the repository.
    Loaded {
        /// The page, in listing order (possibly empty).
        items: Vec<PharmacyListItem>,
        /// The list generation the page was read under: pass it, with the rendered body, to
        /// [`PharmacyService::remember_list`]. `None` when the page must not be cached
        /// (`open_now`, or the generation could not be read).
        generation: Option<u64>,
    },
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
    /// [`PortError`].
    pub async fn create(
        &self,
        new: &NewPharmacy,
        stamp: &AuditStamp,
    ) -> Result<Pharmacy, PortError> {
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

    /// The detail through the cache: a hit is the stored body; on a miss the row is read from
    /// the repository (and nothing is stored: see [`Self::remember_detail`]).
    ///
    /// # Errors
    /// [`PharmacyError::NotFound`]; [`PharmacyError::Port`].
    pub async fn detail_view(&self, id: PharmacyId) -> Result<DetailView, PharmacyError> {
        if let Some(body) = self.cache.get_detail(id).await {
            return Ok(DetailView::Cached(body));
        }
        self.detail(id).await.map(DetailView::Loaded)
    }

    /// Stores the body the caller rendered from a [`DetailView::Loaded`] of `id`; later
    /// [`Self::detail_view`]s return it as [`DetailView::Cached`] until a write drops it.
    /// Fails open: a cache failure only means the next read misses.
    pub async fn remember_detail(&self, id: PharmacyId, body: &str) {
        self.cache.put_detail(id, body).await;
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

    /// The plain listing through the cache: without `open_now` it is looked up under the
    /// current list generation, and a hit is the stored body (an empty page too); with
    /// `open_now` (which depends on the clock) or an unreadable generation the cache is
    /// bypassed. On a miss the page is read from the repository (and nothing is stored: see
    /// [`Self::remember_list`]).
    ///
    /// # Errors
    /// [`PortError`] when the repository read fails.
    pub async fn list_view(
        &self,
        filter: &PharmacyFilter,
        window: Window,
    ) -> Result<ListView, PortError> {
        let generation = if filter.open_now {
            None
        } else {
            self.cache.list_generation().await
        };
        if let Some(generation) = generation
            && let Some(body) = self.cache.get_list(generation, filter, window).await
        {
            return Ok(ListView::Cached(body));
        }
        let items = self.list(filter, window).await?;
        Ok(ListView::Loaded { items, generation })
    }

    /// Stores the body the caller rendered from a [`ListView::Loaded`] for `filter` and
    /// `window` under that view's `generation`; `None` stores nothing, and neither does an
    /// `open_now` filter whatever the generation. A write bumps the
    /// generation, so a page remembered under an older one is never served again. Fails open:
    /// a cache failure only means the next read misses.
    pub async fn remember_list(
        &self,
        generation: Option<u64>,
        filter: &PharmacyFilter,
        window: Window,
        body: &str,
    ) {
        if let Some(generation) = generation
            && !filter.open_now
        {
            self.cache.put_list(generation, filter, window, body).await;
        }
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
