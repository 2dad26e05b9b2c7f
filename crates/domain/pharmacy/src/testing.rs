//! In-memory fakes of the pharmacy ports, for unit tests here and handler tests in the server:
//! each behaves like its real adapter (same outcomes for the same situations), and the
//! [`contract`] checks run against the fake and the PostgreSQL adapter alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use medico24_kernel::{AuditStamp, PharmacyId};
use serde_json::{Value, json};

use crate::model::{
    AUDIT_RESOURCE, DayOfWeek, Hours, HoursInput, Location, LocationPatch, NearbyQuery,
    NewPharmacy, Pharmacy, PharmacyFilter, PharmacyListItem, PharmacyPatch, PharmacyVerify,
    VerifyChange, Window, actions, verify_audit_details,
};
use crate::open_now::{is_open_now, parse_timezone};
use crate::ports::{DeleteHours, LocationUpdate, PharmacyCache, PharmacyRepository, PortError};

/// Radius of the sphere PostGIS measures geography distances on with `use_spheroid = false`
/// (the WGS 84 mean radius `(2a + b) / 3`), in metres.
pub const SPHERE_RADIUS_M: f64 = 6_371_008.771_415_059;

/// Great-circle distance in metres between two points on [`SPHERE_RADIUS_M`] (haversine).
pub fn sphere_distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = phi2 - phi1;
    let d_lambda = (lng2 - lng1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * SPHERE_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Locks a fake's state; a test that panicked while holding it must not hide the state from the
/// assertions of the next one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An audit event as the fake records it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedAudit {
    /// Who and from where.
    pub stamp: AuditStamp,
    /// `pharmacy.create`, …
    pub action: &'static str,
    /// Always `pharmacy`.
    pub resource_type: &'static str,
    /// The pharmacy id as text.
    pub resource_id: String,
    /// Changed fields.
    pub details: Value,
}

/// The pharmacy tables in memory, with the semantics of the PostgreSQL adapter. Clones share one
/// state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryPharmacies {
    state: Arc<Mutex<PharmaciesState>>,
}

#[derive(Debug, Default)]
struct PharmaciesState {
    rows: HashMap<PharmacyId, Pharmacy>,
    audit: Vec<RecordedAudit>,
    unavailable: bool,
    calls: usize,
}

impl PharmaciesState {
    fn record(&mut self, stamp: &AuditStamp, action: &'static str, id: PharmacyId, details: Value) {
        self.audit.push(RecordedAudit {
            stamp: stamp.clone(),
            action,
            resource_type: AUDIT_RESOURCE,
            resource_id: id.to_string(),
            details,
        });
    }
}

impl InMemoryPharmacies {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored pharmacy, read without going through the port.
    pub fn get(&self, id: PharmacyId) -> Option<Pharmacy> {
        lock(&self.state).rows.get(&id).cloned()
    }

    /// Stores `pharmacy` as is (hours sorted), bypassing the port.
    pub fn insert(&self, mut pharmacy: Pharmacy) -> Pharmacy {
        pharmacy.hours.sort_by_key(|h| h.day_of_week);
        lock(&self.state).rows.insert(pharmacy.id, pharmacy.clone());
        pharmacy
    }

    /// Every audit event written so far, in order.
    pub fn audit_events(&self) -> Vec<RecordedAudit> {
        lock(&self.state).audit.clone()
    }

    /// While `on`, every port call fails with [`PortError::Unavailable`] and writes nothing.
    pub fn fail_with_unavailable(&self, on: bool) {
        lock(&self.state).unavailable = on;
    }

    /// Port calls made so far, failed ones included.
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    fn enter(&self) -> Result<MutexGuard<'_, PharmaciesState>, PortError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        if state.unavailable {
            return Err(PortError::Unavailable(
                "database unavailable (simulated)".to_owned(),
            ));
        }
        Ok(state)
    }
}

fn hours_row(id: PharmacyId, input: &HoursInput) -> Hours {
    Hours {
        id: uuid::Uuid::now_v7(),
        pharmacy_id: id,
        day_of_week: input.day_of_week,
        open_time: input.open_time,
        close_time: input.close_time,
        is_closed: input.is_closed,
    }
}

fn matches(pharmacy: &Pharmacy, filter: &PharmacyFilter, now: DateTime<Utc>) -> bool {
    pharmacy.is_active == filter.is_active
        && filter.is_verified.is_none_or(|v| pharmacy.is_verified == v)
        && filter
            .supports_delivery
            .is_none_or(|v| pharmacy.supports_delivery == v)
        && filter
            .supports_pickup
            .is_none_or(|v| pharmacy.supports_pickup == v)
        && (!filter.open_now
            || parse_timezone(&pharmacy.timezone)
                .is_some_and(|tz| is_open_now(&pharmacy.hours, tz, now)))
}

fn window_of<T>(rows: Vec<T>, window: Window) -> Vec<T> {
    let skip = usize::try_from(window.skip()).unwrap_or(usize::MAX);
    let limit = usize::try_from(window.limit()).unwrap_or(usize::MAX);
    rows.into_iter().skip(skip).take(limit).collect()
}

fn patch_field<T: Clone>(field: &mut T, value: Option<&T>) {
    if let Some(value) = value {
        field.clone_from(value);
    }
}

impl PharmacyRepository for InMemoryPharmacies {
    async fn create(
        &self,
        id: PharmacyId,
        new: &NewPharmacy,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Pharmacy, PortError> {
        let mut state = self.enter()?;
        let location = &new.location;
        let mut hours: Vec<Hours> = new.hours.iter().map(|h| hours_row(id, h)).collect();
        hours.sort_by_key(|h| h.day_of_week);
        let pharmacy = Pharmacy {
            id,
            name: new.name.clone(),
            description: new.description.clone(),
            phone: new.phone.clone(),
            email: new.email.clone(),
            supports_delivery: new.supports_delivery,
            supports_pickup: new.supports_pickup,
            is_verified: false,
            is_active: true,
            rating: 0.0,
            rating_count: 0,
            timezone: new.timezone.name().to_owned(),
            created_at: now,
            updated_at: now,
            location: Some(Location {
                id: uuid::Uuid::now_v7(),
                pharmacy_id: id,
                address_line: location.address_line.clone(),
                city: location.city.clone(),
                state: location.state.clone(),
                country: location.country.clone(),
                pincode: location.pincode.clone(),
                latitude: location.coordinates.latitude.get(),
                longitude: location.coordinates.longitude.get(),
                created_at: now,
            }),
            hours,
        };
        state.rows.insert(id, pharmacy.clone());
        state.record(stamp, actions::CREATE, id, new.audit_details());
        Ok(pharmacy)
    }

    async fn find(&self, id: PharmacyId) -> Result<Option<Pharmacy>, PortError> {
        Ok(self.enter()?.rows.get(&id).cloned())
    }

    async fn list(
        &self,
        filter: &PharmacyFilter,
        window: Window,
        now: DateTime<Utc>,
    ) -> Result<Vec<PharmacyListItem>, PortError> {
        let state = self.enter()?;
        let mut rows: Vec<&Pharmacy> = state
            .rows
            .values()
            .filter(|p| matches(p, filter, now))
            .collect();
        rows.sort_by(|a, b| {
            b.rating
                .total_cmp(&a.rating)
                .then(b.created_at.cmp(&a.created_at))
                .then(b.id.cmp(&a.id))
        });
        let items = rows
            .into_iter()
            .map(|p| PharmacyListItem {
                pharmacy: p.clone(),
                distance_km: None,
            })
            .collect();
        Ok(window_of(items, window))
    }

    async fn nearby(
        &self,
        query: &NearbyQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<PharmacyListItem>, PortError> {
        let state = self.enter()?;
        let (lat, lng) = (query.center.latitude.get(), query.center.longitude.get());
        let mut rows: Vec<(f64, &Pharmacy)> = state
            .rows
            .values()
            .filter(|p| matches(p, &query.filter, now))
            .filter_map(|p| {
                let location = p.location.as_ref()?;
                let d = sphere_distance_m(location.latitude, location.longitude, lat, lng);
                (d <= query.radius.metres()).then_some((d, p))
            })
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        let items = rows
            .into_iter()
            .map(|(d, p)| PharmacyListItem {
                pharmacy: p.clone(),
                distance_km: Some(d / 1000.0),
            })
            .collect();
        Ok(window_of(items, query.window))
    }

    async fn update(
        &self,
        id: PharmacyId,
        patch: &PharmacyPatch,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<Pharmacy>, PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&id) else {
            return Ok(None);
        };
        patch_field(&mut row.name, patch.name.as_ref());
        if let Some(description) = &patch.description {
            row.description = Some(description.clone());
        }
        if let Some(phone) = &patch.phone {
            row.phone = Some(phone.clone());
        }
        if let Some(email) = &patch.email {
            row.email = Some(email.clone());
        }
        patch_field(&mut row.supports_delivery, patch.supports_delivery.as_ref());
        patch_field(&mut row.supports_pickup, patch.supports_pickup.as_ref());
        patch_field(&mut row.is_active, patch.is_active.as_ref());
        if let Some(tz) = patch.timezone {
            row.timezone = tz.name().to_owned();
        }
        row.updated_at = now;
        let updated = row.clone();
        state.record(stamp, actions::UPDATE, id, patch.audit_details());
        Ok(Some(updated))
    }

    async fn delete(&self, id: PharmacyId, stamp: &AuditStamp) -> Result<bool, PortError> {
        let mut state = self.enter()?;
        let Some(removed) = state.rows.remove(&id) else {
            return Ok(false);
        };
        state.record(stamp, actions::DELETE, id, json!({"name": removed.name}));
        Ok(true)
    }

    async fn update_location(
        &self,
        id: PharmacyId,
        patch: &LocationPatch,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<LocationUpdate>, PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&id) else {
            return Ok(None);
        };
        let Some(location) = row.location.as_mut() else {
            return Ok(Some(LocationUpdate::NoLocation(row.clone())));
        };
        patch_field(&mut location.address_line, patch.address_line.as_ref());
        patch_field(&mut location.city, patch.city.as_ref());
        if let Some(value) = &patch.state {
            location.state = Some(value.clone());
        }
        patch_field(&mut location.country, patch.country.as_ref());
        if let Some(value) = &patch.pincode {
            location.pincode = Some(value.clone());
        }
        if let Some(latitude) = patch.latitude {
            location.latitude = latitude.get();
        }
        if let Some(longitude) = patch.longitude {
            location.longitude = longitude.get();
        }
        row.updated_at = now;
        let updated = row.clone();
        state.record(stamp, actions::LOCATION_UPDATE, id, patch.audit_details());
        Ok(Some(LocationUpdate::Updated(updated)))
    }

    async fn upsert_hours(
        &self,
        id: PharmacyId,
        hours: &HoursInput,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<Hours>, PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&id) else {
            return Ok(None);
        };
        let stored = match row
            .hours
            .iter_mut()
            .find(|h| h.day_of_week == hours.day_of_week)
        {
            // `ON CONFLICT … DO UPDATE` keeps the row (and its id).
            Some(existing) => {
                existing.open_time = hours.open_time;
                existing.close_time = hours.close_time;
                existing.is_closed = hours.is_closed;
                existing.clone()
            }
            None => {
                let new = hours_row(id, hours);
                row.hours.push(new.clone());
                row.hours.sort_by_key(|h| h.day_of_week);
                new
            }
        };
        row.updated_at = now;
        state.record(stamp, actions::HOURS_UPSERT, id, hours.audit_details());
        Ok(Some(stored))
    }

    async fn list_hours(&self, id: PharmacyId) -> Result<Option<Vec<Hours>>, PortError> {
        Ok(self.enter()?.rows.get(&id).map(|p| p.hours.clone()))
    }

    async fn delete_hours(
        &self,
        id: PharmacyId,
        day: DayOfWeek,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<DeleteHours, PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&id) else {
            return Ok(DeleteHours::PharmacyNotFound);
        };
        let before = row.hours.len();
        row.hours.retain(|h| h.day_of_week != day);
        if row.hours.len() == before {
            return Ok(DeleteHours::HoursNotFound);
        }
        row.updated_at = now;
        state.record(
            stamp,
            actions::HOURS_DELETE,
            id,
            json!({"day_of_week": day.get()}),
        );
        Ok(DeleteHours::Deleted)
    }

    async fn set_verified(
        &self,
        id: PharmacyId,
        change: VerifyChange,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<PharmacyVerify>, PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&id) else {
            return Ok(None);
        };
        let before = row.is_verified;
        row.is_verified = change.apply(before);
        row.updated_at = now;
        let verified = PharmacyVerify {
            id,
            name: row.name.clone(),
            is_verified: row.is_verified,
            is_active: row.is_active,
            updated_at: now,
        };
        state.record(
            stamp,
            actions::VERIFY,
            id,
            verify_audit_details(before, verified.is_verified),
        );
        Ok(Some(verified))
    }
}

/// What the pharmacy cache has been asked so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PharmacyCacheStats {
    /// Detail reads answered from the cache.
    pub detail_hits: usize,
    /// Detail reads that found nothing (or hit an outage).
    pub detail_misses: usize,
    /// Listing reads answered from the cache.
    pub list_hits: usize,
    /// Listing reads that found nothing.
    pub list_misses: usize,
    /// Bodies stored (detail and listing).
    pub puts: usize,
}

/// The pharmacy caches in memory (TTLs are not modelled). During a simulated outage the cache
/// fails open like the adapter: reads miss, the generation is unreadable, writes do nothing.
#[derive(Debug, Clone, Default)]
pub struct InMemoryPharmacyCache {
    state: Arc<Mutex<CacheState>>,
}

#[derive(Debug, Default)]
struct CacheState {
    details: HashMap<PharmacyId, String>,
    lists: HashMap<String, String>,
    generation: u64,
    down: bool,
    stats: PharmacyCacheStats,
}

/// The list key suffix of the listing cache (`{skip}:{limit}:{is_active}:{is_verified}:…`).
pub fn list_key_suffix(filter: &PharmacyFilter, window: Window) -> String {
    let flag = |v: Option<bool>| match v {
        Some(true) => "true",
        Some(false) => "false",
        None => "any",
    };
    format!(
        "{}:{}:{}:{}:{}:{}",
        window.skip(),
        window.limit(),
        flag(Some(filter.is_active)),
        flag(filter.is_verified),
        flag(filter.supports_delivery),
        flag(filter.supports_pickup)
    )
}

impl InMemoryPharmacyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `on`, the cache behaves as if Redis were unreachable.
    pub fn simulate_outage(&self, on: bool) {
        lock(&self.state).down = on;
    }

    /// Counters of every call so far.
    pub fn stats(&self) -> PharmacyCacheStats {
        lock(&self.state).stats
    }

    /// The current list generation.
    pub fn generation(&self) -> u64 {
        lock(&self.state).generation
    }

    /// The cached detail body of `id` (not counted).
    pub fn cached_detail(&self, id: PharmacyId) -> Option<String> {
        lock(&self.state).details.get(&id).cloned()
    }
}

impl PharmacyCache for InMemoryPharmacyCache {
    async fn get_detail(&self, id: PharmacyId) -> Option<String> {
        let mut state = lock(&self.state);
        let found = if state.down {
            None
        } else {
            state.details.get(&id).cloned()
        };
        if found.is_some() {
            state.stats.detail_hits += 1;
        } else {
            state.stats.detail_misses += 1;
        }
        found
    }

    async fn put_detail(&self, id: PharmacyId, body: &str) {
        let mut state = lock(&self.state);
        if !state.down {
            state.details.insert(id, body.to_owned());
            state.stats.puts += 1;
        }
    }

    async fn invalidate_detail(&self, id: PharmacyId) {
        let mut state = lock(&self.state);
        if !state.down {
            state.details.remove(&id);
        }
    }

    async fn list_generation(&self) -> Option<u64> {
        let state = lock(&self.state);
        (!state.down).then_some(state.generation)
    }

    async fn get_list(
        &self,
        generation: u64,
        filter: &PharmacyFilter,
        window: Window,
    ) -> Option<String> {
        let mut state = lock(&self.state);
        let key = format!("{generation}:{}", list_key_suffix(filter, window));
        let found = if state.down {
            None
        } else {
            state.lists.get(&key).cloned()
        };
        if found.is_some() {
            state.stats.list_hits += 1;
        } else {
            state.stats.list_misses += 1;
        }
        found
    }

    async fn put_list(&self, generation: u64, filter: &PharmacyFilter, window: Window, body: &str) {
        let mut state = lock(&self.state);
        if !state.down {
            let key = format!("{generation}:{}", list_key_suffix(filter, window));
            state.lists.insert(key, body.to_owned());
            state.stats.puts += 1;
        }
    }

    async fn bump_list_generation(&self) {
        let mut state = lock(&self.state);
        if !state.down {
            state.generation += 1;
        }
    }
}

/// Behaviour every [`PharmacyRepository`] must show, checked against the fake here and against
/// the PostgreSQL adapter in the server's integration tests, so the two cannot drift. Each check
/// panics with a message naming the broken rule. Pharmacies are created around a random point
/// far from any other data, so the checks may run on a database shared with other tests.
pub mod contract {
    use chrono::{DateTime, NaiveTime, Utc};
    use chrono_tz::Tz;
    use medico24_kernel::{AuditStamp, PharmacyId};

    use crate::model::{
        Coordinates, DayOfWeek, HoursInput, LocationPatch, NearbyQuery, NewLocation, NewPharmacy,
        PharmacyFilter, PharmacyPatch, RadiusKm, VerifyChange, WeekHours, Window,
    };
    use crate::ports::{DeleteHours, LocationUpdate, PharmacyRepository, PortError};

    fn ok<T>(result: Result<T, PortError>, what: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{what}: unexpected port error: {error}"),
        }
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
    }

    fn day(n: i64) -> DayOfWeek {
        DayOfWeek::new(n).unwrap_or_else(|_| panic!("day {n}"))
    }

    /// A pharmacy at `(lat, lng)` open Monday 09:00–17:00 (Kolkata) with a Sunday closed row.
    pub fn sample(name: &str, lat: f64, lng: f64) -> NewPharmacy {
        NewPharmacy {
            name: name.to_owned(),
            description: Some("Contract pharmacy".to_owned()),
            phone: Some("+91 22 1234 5678".to_owned()),
            email: Some("contract@example.com".to_owned()),
            supports_delivery: true,
            supports_pickup: false,
            timezone: Tz::Asia__Kolkata,
            location: NewLocation {
                address_line: "1 Contract Road".to_owned(),
                city: "Mumbai".to_owned(),
                state: None,
                country: "India".to_owned(),
                pincode: Some("400001".to_owned()),
                coordinates: Coordinates::new(lat, lng)
                    .unwrap_or_else(|e| panic!("sample coordinates: {e}")),
            },
            hours: WeekHours::new(vec![
                HoursInput {
                    day_of_week: day(7),
                    open_time: time(10, 0),
                    close_time: time(12, 0),
                    is_closed: true,
                },
                HoursInput {
                    day_of_week: day(1),
                    open_time: time(9, 0),
                    close_time: time(17, 0),
                    is_closed: false,
                },
            ])
            .unwrap_or_else(|e| panic!("sample hours: {e}")),
        }
    }

    /// The pharmacy rules as the repository sees them. `now` must have whole microseconds.
    ///
    /// # Panics
    /// When the repository breaks one of these rules or returns a [`PortError`].
    pub async fn pharmacy_repository<R: PharmacyRepository>(repo: &R, now: DateTime<Utc>) {
        // An admin-secret stamp: a user stamp would need a `users` row (audit FK).
        let stamp = AuditStamp::admin_secret("contract-request", None);
        // A random spot in the southern Indian Ocean, away from any seeded data.
        let salt = f64::from(uuid::Uuid::new_v4().as_u128() as u16) / 65_536.0;
        let (lat, lng) = (-40.0 - salt * 5.0, 80.0 + salt * 5.0);

        let id = PharmacyId::new_v7();
        let created = match repo
            .create(id, &sample("Contract A", lat, lng), &stamp, now)
            .await
        {
            Ok(p) => p,
            Err(e) => panic!("create: {e}"),
        };
        assert_eq!(created.id, id, "create keeps the given id");
        assert_eq!(
            (
                created.is_verified,
                created.is_active,
                created.rating,
                created.rating_count
            ),
            (false, true, 0.0, 0),
            "a new pharmacy is unverified, active and unrated"
        );
        assert_eq!(created.timezone, "Asia/Kolkata");
        assert_eq!((created.created_at, created.updated_at), (now, now));
        let days: Vec<u8> = created.hours.iter().map(|h| h.day_of_week.get()).collect();
        assert_eq!(days, vec![1, 7], "hours come ordered by weekday");
        assert_eq!(
            created.location.as_ref().map(|l| (l.latitude, l.longitude)),
            Some((lat, lng)),
            "the location is stored with its coordinates"
        );
        assert_eq!(
            ok(repo.find(id).await, "find"),
            Some(created.clone()),
            "find returns what create returned"
        );
        assert_eq!(ok(repo.find(PharmacyId::new_v7()).await, "find"), None);

        let later = now + chrono::Duration::seconds(5);
        let patch = PharmacyPatch {
            name: Some("Contract A2".to_owned()),
            is_active: Some(false),
            timezone: Some(Tz::America__New_York),
            ..PharmacyPatch::default()
        };
        let updated = ok(repo.update(id, &patch, &stamp, later).await, "update")
            .unwrap_or_else(|| panic!("update of an existing pharmacy returns it"));
        assert_eq!(
            (
                updated.name.as_str(),
                updated.is_active,
                updated.timezone.as_str()
            ),
            ("Contract A2", false, "America/New_York"),
            "update applies the given members"
        );
        assert_eq!(updated.description, created.description, "others unchanged");
        assert!(updated.updated_at >= later, "update sets updated_at");
        assert_eq!(
            ok(
                repo.update(PharmacyId::new_v7(), &patch, &stamp, later)
                    .await,
                "update"
            ),
            None,
            "updating an unknown pharmacy is None"
        );

        let location = LocationPatch {
            city: Some("Pune".to_owned()),
            latitude: crate::model::Latitude::new(lat + 0.001).ok(),
            ..LocationPatch::default()
        };
        match ok(
            repo.update_location(id, &location, &stamp, later).await,
            "update_location",
        ) {
            Some(LocationUpdate::Updated(p)) => {
                let l = p.location.unwrap_or_else(|| panic!("location kept"));
                assert_eq!((l.city.as_str(), l.latitude), ("Pune", lat + 0.001));
                assert_eq!(l.longitude, lng, "unpatched coordinate unchanged");
            }
            other => panic!("update_location of a located pharmacy is Updated, got {other:?}"),
        }

        let monday = HoursInput {
            day_of_week: day(1),
            open_time: time(8, 0),
            close_time: time(2, 0),
            is_closed: false,
        };
        let stored = ok(
            repo.upsert_hours(id, &monday, &stamp, later).await,
            "upsert",
        )
        .unwrap_or_else(|| panic!("upsert for an existing pharmacy returns the row"));
        assert_eq!(
            stored.id, created.hours[0].id,
            "replacing a day keeps its row id"
        );
        assert_eq!(
            (stored.open_time, stored.close_time),
            (time(8, 0), time(2, 0))
        );
        let wednesday = HoursInput {
            day_of_week: day(3),
            ..monday
        };
        ok(
            repo.upsert_hours(id, &wednesday, &stamp, later).await,
            "upsert",
        );
        let listed = ok(repo.list_hours(id).await, "list_hours")
            .unwrap_or_else(|| panic!("hours of an existing pharmacy"));
        let days: Vec<u8> = listed.iter().map(|h| h.day_of_week.get()).collect();
        assert_eq!(days, vec![1, 3, 7]);
        assert_eq!(
            ok(
                repo.upsert_hours(PharmacyId::new_v7(), &monday, &stamp, later)
                    .await,
                "upsert"
            ),
            None,
            "upserting hours of an unknown pharmacy is None"
        );
        assert_eq!(
            ok(repo.list_hours(PharmacyId::new_v7()).await, "list_hours"),
            None
        );
        assert_eq!(
            ok(
                repo.delete_hours(id, day(3), &stamp, later).await,
                "delete_hours"
            ),
            DeleteHours::Deleted
        );
        assert_eq!(
            ok(
                repo.delete_hours(id, day(3), &stamp, later).await,
                "delete_hours"
            ),
            DeleteHours::HoursNotFound
        );
        assert_eq!(
            ok(
                repo.delete_hours(PharmacyId::new_v7(), day(3), &stamp, later)
                    .await,
                "delete_hours"
            ),
            DeleteHours::PharmacyNotFound
        );

        let toggled = ok(
            repo.set_verified(id, VerifyChange::Toggle, &stamp, later)
                .await,
            "verify",
        )
        .unwrap_or_else(|| panic!("verify of an existing pharmacy"));
        assert!(toggled.is_verified, "toggle flips false to true");
        let set = ok(
            repo.set_verified(id, VerifyChange::Set(true), &stamp, later)
                .await,
            "verify",
        )
        .unwrap_or_else(|| panic!("verify of an existing pharmacy"));
        assert!(set.is_verified, "set keeps true");
        assert_eq!(
            ok(
                repo.set_verified(PharmacyId::new_v7(), VerifyChange::Toggle, &stamp, later)
                    .await,
                "verify"
            ),
            None
        );

        // A second pharmacy 1 km north; the first is inactive now.
        let second = PharmacyId::new_v7();
        if let Err(e) = repo
            .create(second, &sample("Contract B", lat + 0.009, lng), &stamp, now)
            .await
        {
            panic!("create: {e}");
        }
        let center = Coordinates::new(lat, lng).unwrap_or_else(|e| panic!("{e}"));
        let query = |filter: PharmacyFilter, km: f64| NearbyQuery {
            center,
            radius: RadiusKm::new(km).unwrap_or_else(|e| panic!("{e}")),
            filter,
            window: Window::default(),
        };
        let any_active = PharmacyFilter::default();
        let inactive = PharmacyFilter {
            is_active: false,
            ..PharmacyFilter::default()
        };
        let found = ok(repo.nearby(&query(any_active, 5.0), now).await, "nearby");
        assert_eq!(
            found.iter().map(|i| i.pharmacy.id).collect::<Vec<_>>(),
            vec![second],
            "nearby keeps active pharmacies by default"
        );
        let distance = found[0].distance_km.unwrap_or(f64::NAN);
        assert!(
            (distance - 1.0).abs() < 0.01,
            "distance_km is set on geo searches ({distance})"
        );
        let found = ok(repo.nearby(&query(inactive, 5.0), now).await, "nearby");
        assert_eq!(
            found.iter().map(|i| i.pharmacy.id).collect::<Vec<_>>(),
            vec![id]
        );
        let found = ok(repo.nearby(&query(any_active, 0.5), now).await, "nearby");
        assert!(found.is_empty(), "the radius bounds the search");

        assert!(ok(repo.delete(id, &stamp).await, "delete"));
        assert!(
            !ok(repo.delete(id, &stamp).await, "delete"),
            "second delete is false"
        );
        assert_eq!(ok(repo.find(id).await, "find"), None);
        assert_eq!(
            ok(repo.list_hours(id).await, "list_hours"),
            None,
            "hours cascade"
        );
        assert!(ok(repo.delete(second, &stamp).await, "delete"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("the fakes never wait"),
        }
    }

    #[test]
    fn the_in_memory_repository_meets_the_pharmacy_repository_contract() {
        let repo = InMemoryPharmacies::new();
        run(contract::pharmacy_repository(
            &repo,
            DateTime::from_timestamp(1_772_442_000, 0).unwrap(),
        ));
        let actions: Vec<&str> = repo.audit_events().iter().map(|e| e.action).collect();
        assert!(actions.contains(&"pharmacy.hours.delete"), "{actions:?}");
    }

    #[test]
    fn the_sphere_distance_matches_a_known_value() {
        // One degree of latitude on the PostGIS sphere.
        let d = sphere_distance_m(0.0, 0.0, 1.0, 0.0);
        assert!((d - 111_195.08).abs() < 0.01, "{d}");
    }

    #[test]
    fn list_keys_write_absent_flags_as_any() {
        let filter = PharmacyFilter {
            is_verified: Some(false),
            ..PharmacyFilter::default()
        };
        let window = Window::new(40, 20).unwrap();
        assert_eq!(list_key_suffix(&filter, window), "40:20:true:false:any:any");
    }
}
