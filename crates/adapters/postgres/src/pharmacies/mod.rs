//! `PharmacyRepository` on PostgreSQL/PostGIS: pharmacies with their location and hours, the
//! plain listing and the nearby search (index-assisted KNN on `pharmacy_locations.geo`), "open
//! now" evaluated in SQL in each pharmacy's zone, and every write in one transaction with its
//! audit event.
//!
//! A nearby page is one statement: the KNN scan with each pharmacy's location, and its hours
//! aggregated into arrays for the returned rows only. A listing page (cached) or a detail costs
//! three queries whatever its size: the rows, then the locations and the hours of all of them
//! (`pharmacy_id = ANY($1)`).
//!
//! `rows` holds the row types and their conversions, `reads` the detail, the listing and the
//! hours, `nearby` the KNN search and its prepared statement, `writes` the transactional writes;
//! the `PharmacyRepository` impl here delegates to them.

mod nearby;
mod reads;
mod rows;
mod writes;

use chrono::{DateTime, Utc};
use diesel::result::Error as DieselError;
use medico24_kernel::{AuditStamp, PharmacyId};
use medico24_pharmacy::{
    DayOfWeek, DeleteHours, Hours, HoursInput, LocationPatch, LocationUpdate, NearbyQuery,
    NewPharmacy, Pharmacy, PharmacyFilter, PharmacyListItem, PharmacyPatch, PharmacyRepository,
    PharmacyVerify, PortError, VerifyChange, Window,
};

use crate::database::{Database, DatabaseError};
use rows::BadDay;

/// The "open now" rule as a boolean SQL expression over the row `pharmacies`, split
/// around the one bind parameter: the instant (`timestamptz`) at which it is evaluated. With
/// `lt` the instant in the pharmacy's zone, `d` its ISO weekday and `(d + 5) % 7 + 1` the day
/// before. `medico24_pharmacy::is_open_at` is the same rule in Rust; an integration test
/// compares the two on a grid of instants.
pub const OPEN_NOW_SQL: [&str; 2] = [
    "EXISTS (SELECT 1 FROM pharmacy_hours oh \
       CROSS JOIN LATERAL (SELECT (",
    " AT TIME ZONE pharmacies.timezone) AS lt) ol \
      WHERE oh.pharmacy_id = pharmacies.id AND NOT oh.is_closed AND ( \
        (oh.day_of_week = extract(isodow FROM ol.lt)::int AND ( \
            (oh.open_time < oh.close_time AND oh.open_time <= ol.lt::time AND ol.lt::time < oh.close_time) \
         OR oh.open_time = oh.close_time \
         OR (oh.close_time < oh.open_time AND ol.lt::time >= oh.open_time))) \
     OR (oh.day_of_week = (extract(isodow FROM ol.lt)::int + 5) % 7 + 1 \
         AND oh.close_time < oh.open_time AND ol.lt::time < oh.close_time)))",
];

/// Why a repository transaction stopped.
#[derive(Debug, thiserror::Error)]
enum TxError {
    #[error(transparent)]
    Query(#[from] DieselError),
    #[error(transparent)]
    BadDay(#[from] BadDay),
}

impl From<TxError> for PortError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Query(e) => DatabaseError::Query(e).into(),
            TxError::BadDay(e) => PortError::Unexpected(e.to_string()),
        }
    }
}

fn port(error: DieselError) -> PortError {
    DatabaseError::Query(error).into()
}

/// PostgreSQL implementation of [`PharmacyRepository`].
#[derive(Debug, Clone)]
pub struct PgPharmacyRepository {
    db: Database,
}

impl PgPharmacyRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl PharmacyRepository for PgPharmacyRepository {
    async fn create(
        &self,
        id: PharmacyId,
        new: &NewPharmacy,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Pharmacy, PortError> {
        writes::create(self, id, new, stamp, now).await
    }

    async fn find(&self, id: PharmacyId) -> Result<Option<Pharmacy>, PortError> {
        reads::find(self, id).await
    }

    async fn list(
        &self,
        filter: &PharmacyFilter,
        window: Window,
        now: DateTime<Utc>,
    ) -> Result<Vec<PharmacyListItem>, PortError> {
        reads::list(self, filter, window, now).await
    }

    async fn nearby(
        &self,
        query: &NearbyQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<PharmacyListItem>, PortError> {
        nearby::nearby(self, query, now).await
    }

    async fn update(
        &self,
        id: PharmacyId,
        patch: &PharmacyPatch,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<Pharmacy>, PortError> {
        writes::update(self, id, patch, stamp, now).await
    }

    async fn delete(&self, id: PharmacyId, stamp: &AuditStamp) -> Result<bool, PortError> {
        writes::delete(self, id, stamp).await
    }

    async fn update_location(
        &self,
        id: PharmacyId,
        patch: &LocationPatch,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<LocationUpdate>, PortError> {
        writes::update_location(self, id, patch, stamp, now).await
    }

    async fn upsert_hours(
        &self,
        id: PharmacyId,
        hours: &HoursInput,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<Hours>, PortError> {
        writes::upsert_hours(self, id, hours, stamp, now).await
    }

    async fn list_hours(&self, id: PharmacyId) -> Result<Option<Vec<Hours>>, PortError> {
        reads::list_hours(self, id).await
    }

    async fn delete_hours(
        &self,
        id: PharmacyId,
        day: DayOfWeek,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<DeleteHours, PortError> {
        writes::delete_hours(self, id, day, stamp, now).await
    }

    async fn set_verified(
        &self,
        id: PharmacyId,
        change: VerifyChange,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<PharmacyVerify>, PortError> {
        writes::set_verified(self, id, change, stamp, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_now_fragment_has_one_placeholder_slot() {
        let whole = format!("{}$1{}", OPEN_NOW_SQL[0], OPEN_NOW_SQL[1]);
        assert_eq!(whole.matches("$1").count(), 1);
        assert!(whole.contains("AT TIME ZONE pharmacies.timezone"));
    }
}
