//! Ports of the pharmacy domain. Adapters implement them; each method states what it must return
//! in each situation so the PostgreSQL adapter and the in-memory fake behave alike.

use std::future::Future;

use chrono::{DateTime, Utc};
use medico24_kernel::{AuditStamp, PharmacyId};

use crate::model::{
    DayOfWeek, Hours, HoursInput, LocationPatch, NearbyQuery, NewPharmacy, Pharmacy,
    PharmacyFilter, PharmacyListItem, PharmacyPatch, PharmacyVerify, VerifyChange, Window,
};

/// Infrastructure failure behind a port: the kernel's, shared with every other domain.
pub use medico24_kernel::PortError;

/// Result of a location update.
#[derive(Debug, Clone, PartialEq)]
pub enum LocationUpdate {
    /// The location row was changed (with the pharmacy's `updated_at`) and audited.
    Updated(Pharmacy),
    /// The pharmacy has no location row: nothing was written.
    NoLocation(Pharmacy),
}

/// Result of deleting one day's hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteHours {
    /// The row was deleted (with the pharmacy's `updated_at`) and audited.
    Deleted,
    /// No such pharmacy.
    PharmacyNotFound,
    /// The pharmacy has no row for that day.
    HoursNotFound,
}

/// Persistence of pharmacies, locations, hours and their audit events. Every write runs in one
/// transaction together with its `audit_events` row (stamped with the given [`AuditStamp`],
/// `resource_type` `pharmacy`, `resource_id` the pharmacy id, the action of
/// [`crate::model::actions`] and the command's `audit_details`).
pub trait PharmacyRepository: Send + Sync + 'static {
    /// Inserts the pharmacy (`is_verified = false`, `is_active = true`, `rating = 0.0`,
    /// `rating_count = 0`, `created_at = updated_at = now`), its location and hours, with ids
    /// `id` (pharmacy) and fresh ones for the rows, plus the `pharmacy.create` event; returns
    /// the stored detail.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn create(
        &self,
        id: PharmacyId,
        new: &NewPharmacy,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Pharmacy, PortError>> + Send;

    /// The pharmacy with its location and hours (ordered by weekday), active or not.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find(
        &self,
        id: PharmacyId,
    ) -> impl Future<Output = Result<Option<Pharmacy>, PortError>> + Send;

    /// The plain listing: `filter` applied (`open_now` evaluated at `now` in each
    /// pharmacy's zone), ordered `rating DESC, created_at DESC, id DESC`, `window` applied,
    /// `distance_km` `None`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn list(
        &self,
        filter: &PharmacyFilter,
        window: Window,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<PharmacyListItem>, PortError>> + Send;

    /// The nearby search: pharmacies whose location is within the radius (inclusive,
    /// on the sphere), filtered, ordered by distance then id, one item per pharmacy,
    /// `distance_km` set.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn nearby(
        &self,
        query: &NearbyQuery,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<PharmacyListItem>, PortError>> + Send;

    /// Applies a non-empty patch (`updated_at = now`) with its `pharmacy.update` event;
    /// `None` when the pharmacy does not exist (nothing written).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn update(
        &self,
        id: PharmacyId,
        patch: &PharmacyPatch,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Pharmacy>, PortError>> + Send;

    /// Deletes the pharmacy (location, hours and staff rows cascade) with its
    /// `pharmacy.delete` event; `false` when it did not exist (nothing written).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn delete(
        &self,
        id: PharmacyId,
        stamp: &AuditStamp,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Applies a non-empty location patch and sets the pharmacy's `updated_at = now`, with
    /// the `pharmacy.location.update` event; `None` when the pharmacy does not exist.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn update_location(
        &self,
        id: PharmacyId,
        patch: &LocationPatch,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<LocationUpdate>, PortError>> + Send;

    /// Creates or replaces the pharmacy's row for `hours.day_of_week` (one atomic upsert),
    /// sets the pharmacy's `updated_at = now`, with the `pharmacy.hours.upsert` event; `None`
    /// when the pharmacy does not exist (also when it is deleted concurrently).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn upsert_hours(
        &self,
        id: PharmacyId,
        hours: &HoursInput,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Hours>, PortError>> + Send;

    /// The pharmacy's hours ordered by weekday; `None` when the pharmacy does not exist.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn list_hours(
        &self,
        id: PharmacyId,
    ) -> impl Future<Output = Result<Option<Vec<Hours>>, PortError>> + Send;

    /// Deletes the row for `day`, sets the pharmacy's `updated_at = now`, with the
    /// `pharmacy.hours.delete` event.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn delete_hours(
        &self,
        id: PharmacyId,
        day: DayOfWeek,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<DeleteHours, PortError>> + Send;

    /// Sets or toggles `is_verified` under a row lock, `updated_at = now`, with the
    /// `pharmacy.verify` event (before/after); `None` when the pharmacy does not exist.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn set_verified(
        &self,
        id: PharmacyId,
        change: VerifyChange,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<PharmacyVerify>, PortError>> + Send;
}

/// The pharmacy caches: the detail (`v2:pharmacy:{id}`) and plain-listing pages under a
/// generation counter (`v2:pharmacy:list_gen`, `v2:pharmacy:list:{gen}:…`).
///
/// Values are opaque strings: the exact JSON bodies the HTTP layer renders, so a cached answer
/// is byte-identical to an uncached one. Every method fails open: errors are misses and skipped
/// writes, which the adapter logs and counts; callers never see them.
pub trait PharmacyCache: Send + Sync + 'static {
    /// The cached detail body of `id`.
    fn get_detail(&self, id: PharmacyId) -> impl Future<Output = Option<String>> + Send;

    /// Stores the detail body of `id` for the detail TTL.
    fn put_detail(&self, id: PharmacyId, body: &str) -> impl Future<Output = ()> + Send;

    /// Drops the detail body of `id` (after a commit that changed it).
    fn invalidate_detail(&self, id: PharmacyId) -> impl Future<Output = ()> + Send;

    /// The current list generation (a missing counter is 0); `None` when it cannot be read,
    /// in which case the listing is neither read from nor written to the cache.
    fn list_generation(&self) -> impl Future<Output = Option<u64>> + Send;

    /// The cached listing body for `filter` and `window` under `generation`.
    fn get_list(
        &self,
        generation: u64,
        filter: &PharmacyFilter,
        window: Window,
    ) -> impl Future<Output = Option<String>> + Send;

    /// Stores a listing body (an empty list too) under `generation` for the list TTL.
    fn put_list(
        &self,
        generation: u64,
        filter: &PharmacyFilter,
        window: Window,
        body: &str,
    ) -> impl Future<Output = ()> + Send;

    /// Increments the list generation, so every cached listing is superseded.
    fn bump_list_generation(&self) -> impl Future<Output = ()> + Send;
}
