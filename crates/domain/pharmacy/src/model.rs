//! Pharmacies, their location and opening hours; the commands that change them and the value
//! types that keep those commands valid (weekday, a week of opening hours, coordinates, search
//! radius, result window).

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use medico24_kernel::PharmacyId;
use serde_json::{Map, Value, json};

/// Largest page a list or nearby search may ask for.
pub const MAX_LIMIT: u32 = 100;
/// Largest nearby-search radius, in kilometres.
pub const MAX_RADIUS_KM: f64 = 100.0;
/// `resource_type` of every pharmacy audit event.
pub const AUDIT_RESOURCE: &str = "pharmacy";

/// Audit actions of the pharmacy writes.
pub mod actions {
    /// `POST /pharmacies`.
    pub const CREATE: &str = "pharmacy.create";
    /// `PATCH /pharmacies/{id}`.
    pub const UPDATE: &str = "pharmacy.update";
    /// `DELETE /pharmacies/{id}`.
    pub const DELETE: &str = "pharmacy.delete";
    /// `PATCH /pharmacies/{id}/location`.
    pub const LOCATION_UPDATE: &str = "pharmacy.location.update";
    /// `POST /pharmacies/{id}/hours`.
    pub const HOURS_UPSERT: &str = "pharmacy.hours.upsert";
    /// `DELETE /pharmacies/{id}/hours/{day}`.
    pub const HOURS_DELETE: &str = "pharmacy.hours.delete";
    /// `PATCH /admin/pharmacies/{id}/verify`.
    pub const VERIFY: &str = "pharmacy.verify";
}

/// An ISO weekday: 1 = Monday … 7 = Sunday (`pharmacy_hours_day_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayOfWeek(u8);

/// The number is not an ISO weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("day_of_week must be between 1 and 7")]
pub struct InvalidDayOfWeek;

impl DayOfWeek {
    /// Validates `1..=7`.
    ///
    /// # Errors
    /// [`InvalidDayOfWeek`] outside that range.
    pub fn new(day: i64) -> Result<Self, InvalidDayOfWeek> {
        u8::try_from(day)
            .ok()
            .filter(|d| (1..=7).contains(d))
            .map(Self)
            .ok_or(InvalidDayOfWeek)
    }

    /// The weekday of a calendar date.
    pub fn from_weekday(weekday: chrono::Weekday) -> Self {
        // number_from_monday is 1..=7 by construction.
        Self(weekday.number_from_monday() as u8)
    }

    /// 1 = Monday … 7 = Sunday.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The day before (Monday → Sunday).
    pub const fn previous(self) -> Self {
        if self.0 == 1 {
            Self(7)
        } else {
            Self(self.0 - 1)
        }
    }
}

/// A location row (`pharmacy_locations`).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Primary key.
    pub id: uuid::Uuid,
    /// Owning pharmacy.
    pub pharmacy_id: PharmacyId,
    /// Street address.
    pub address_line: String,
    /// City.
    pub city: String,
    /// State.
    pub state: Option<String>,
    /// Country (`India` by default).
    pub country: String,
    /// Postal code.
    pub pincode: Option<String>,
    /// WGS 84 latitude.
    pub latitude: f64,
    /// WGS 84 longitude.
    pub longitude: f64,
    /// Row creation.
    pub created_at: DateTime<Utc>,
}

/// One day's opening hours (`pharmacy_hours`). `close_time < open_time` runs past midnight;
/// `open_time == close_time` (not closed) is open all day.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    /// Primary key.
    pub id: uuid::Uuid,
    /// Owning pharmacy.
    pub pharmacy_id: PharmacyId,
    /// Weekday.
    pub day_of_week: DayOfWeek,
    /// Opening time (local to the pharmacy's zone).
    pub open_time: NaiveTime,
    /// Closing time (local).
    pub close_time: NaiveTime,
    /// Closed all day.
    pub is_closed: bool,
}

/// A pharmacy with its location and hours (the detail representation).
#[derive(Debug, Clone, PartialEq)]
pub struct Pharmacy {
    /// Primary key.
    pub id: PharmacyId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Delivers.
    pub supports_delivery: bool,
    /// Offers pickup.
    pub supports_pickup: bool,
    /// Verified by an admin.
    pub is_verified: bool,
    /// Listed.
    pub is_active: bool,
    /// Average rating, 0.0 when unrated (`numeric(2,1)` as the nearest f64).
    pub rating: f64,
    /// Number of ratings.
    pub rating_count: i32,
    /// IANA zone name; opening hours are local to it.
    pub timezone: String,
    /// Row creation.
    pub created_at: DateTime<Utc>,
    /// Last change of the pharmacy, its location or its hours.
    pub updated_at: DateTime<Utc>,
    /// The location, when one exists.
    pub location: Option<Location>,
    /// Opening hours ordered by weekday.
    pub hours: Vec<Hours>,
}

/// One entry of a listing: the pharmacy and, for geo searches, its distance.
#[derive(Debug, Clone, PartialEq)]
pub struct PharmacyListItem {
    /// The pharmacy with location and hours.
    pub pharmacy: Pharmacy,
    /// Kilometres from the search point (geo searches only).
    pub distance_km: Option<f64>,
}

/// What the admin verify endpoint answers (the PharmacyVerify representation).
#[derive(Debug, Clone, PartialEq)]
pub struct PharmacyVerify {
    /// Pharmacy id.
    pub id: PharmacyId,
    /// Name.
    pub name: String,
    /// The new verification state.
    pub is_verified: bool,
    /// Listed.
    pub is_active: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A latitude in −90…90.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Latitude(f64);

/// A longitude in −180…180.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Longitude(f64);

/// A coordinate out of range or not finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCoordinate {
    /// Latitude outside −90…90.
    #[error("latitude must be between -90 and 90")]
    Latitude,
    /// Longitude outside −180…180.
    #[error("longitude must be between -180 and 180")]
    Longitude,
}

impl Latitude {
    /// Validates −90…90.
    ///
    /// # Errors
    /// [`InvalidCoordinate::Latitude`].
    pub fn new(value: f64) -> Result<Self, InvalidCoordinate> {
        if (-90.0..=90.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(InvalidCoordinate::Latitude)
        }
    }

    /// Degrees.
    pub const fn get(self) -> f64 {
        self.0
    }
}

impl Longitude {
    /// Validates −180…180.
    ///
    /// # Errors
    /// [`InvalidCoordinate::Longitude`].
    pub fn new(value: f64) -> Result<Self, InvalidCoordinate> {
        if (-180.0..=180.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(InvalidCoordinate::Longitude)
        }
    }

    /// Degrees.
    pub const fn get(self) -> f64 {
        self.0
    }
}

/// A point on the WGS 84 sphere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    /// Latitude.
    pub latitude: Latitude,
    /// Longitude.
    pub longitude: Longitude,
}

impl Coordinates {
    /// Validates both parts.
    ///
    /// # Errors
    /// The first coordinate out of range.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, InvalidCoordinate> {
        Ok(Self {
            latitude: Latitude::new(latitude)?,
            longitude: Longitude::new(longitude)?,
        })
    }
}

/// A nearby-search radius: `0 < r ≤ 100` km.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct RadiusKm(f64);

/// The radius is not in `(0, 100]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("radius_km must be greater than 0 and at most 100")]
pub struct InvalidRadius;

impl RadiusKm {
    /// The default radius of geo searches: 10 km.
    pub const DEFAULT: RadiusKm = RadiusKm(10.0);

    /// Validates `0 < r ≤ 100`.
    ///
    /// # Errors
    /// [`InvalidRadius`].
    pub fn new(km: f64) -> Result<Self, InvalidRadius> {
        if km > 0.0 && km <= MAX_RADIUS_KM {
            Ok(Self(km))
        } else {
            Err(InvalidRadius)
        }
    }

    /// Kilometres.
    pub const fn km(self) -> f64 {
        self.0
    }

    /// Metres, as `km × 1000` in f64 (the value compared with `ST_DWithin`).
    pub fn metres(self) -> f64 {
        self.0 * 1000.0
    }
}

/// Which rows of a listing: `skip` rows, then at most `limit` (1–100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    skip: u64,
    limit: u32,
}

/// `limit` is outside 1–100 or `skip` does not fit a database offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("limit must be between 1 and 100 and skip at most 2^63 - 1")]
pub struct InvalidWindow;

impl Window {
    /// Validates `1 ≤ limit ≤ 100` and `skip ≤ i64::MAX`.
    ///
    /// # Errors
    /// [`InvalidWindow`].
    pub fn new(skip: u64, limit: u32) -> Result<Self, InvalidWindow> {
        if (1..=MAX_LIMIT).contains(&limit) && i64::try_from(skip).is_ok() {
            Ok(Self { skip, limit })
        } else {
            Err(InvalidWindow)
        }
    }

    /// Rows skipped.
    pub const fn skip(&self) -> u64 {
        self.skip
    }

    /// Maximum rows returned.
    pub const fn limit(&self) -> u32 {
        self.limit
    }
}

impl Default for Window {
    /// `skip=0`, `limit=20` (the API defaults).
    fn default() -> Self {
        Self { skip: 0, limit: 20 }
    }
}

/// Filters shared by the plain listing and the nearby search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PharmacyFilter {
    /// Exact match (default `true`).
    pub is_active: bool,
    /// Exact match when given.
    pub is_verified: Option<bool>,
    /// Exact match when given.
    pub supports_delivery: Option<bool>,
    /// Exact match when given.
    pub supports_pickup: Option<bool>,
    /// Keep only pharmacies open at the time of the search.
    pub open_now: bool,
}

impl Default for PharmacyFilter {
    /// Active pharmacies, nothing else filtered.
    fn default() -> Self {
        Self {
            is_active: true,
            is_verified: None,
            supports_delivery: None,
            supports_pickup: None,
            open_now: false,
        }
    }
}

/// The nearby search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearbyQuery {
    /// Search point.
    pub center: Coordinates,
    /// Inclusive radius.
    pub radius: RadiusKm,
    /// Filters.
    pub filter: PharmacyFilter,
    /// Rows wanted, in distance order.
    pub window: Window,
}

/// The location given when a pharmacy is created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLocation {
    /// Street address (1–500).
    pub address_line: String,
    /// City (1–100).
    pub city: String,
    /// State (≤ 100).
    pub state: Option<String>,
    /// Country (1–100; `India` when not given).
    pub country: String,
    /// Postal code (≤ 20).
    pub pincode: Option<String>,
    /// Position.
    pub coordinates: Coordinates,
}

/// One day's hours as given by an admin (HoursIn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoursInput {
    /// Weekday.
    pub day_of_week: DayOfWeek,
    /// Opening time.
    pub open_time: NaiveTime,
    /// Closing time.
    pub close_time: NaiveTime,
    /// Closed all day.
    pub is_closed: bool,
}

/// The opening hours of a new pharmacy: each weekday at most once (`unique_day_per_pharmacy`).
/// Holding one is the proof that no weekday repeats, so the rule runs once, where the hours
/// enter the system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeekHours(Vec<HoursInput>);

/// A weekday given more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("day_of_week {} is given more than once", .0.get())]
pub struct RepeatedDay(pub DayOfWeek);

impl WeekHours {
    /// Checks that no weekday repeats.
    ///
    /// # Errors
    /// [`RepeatedDay`] with the first weekday that repeats an earlier one.
    pub fn new(hours: Vec<HoursInput>) -> Result<Self, RepeatedDay> {
        match repeated_days(hours.iter().map(|h| Some(h.day_of_week))).first() {
            Some(&(_, day)) => Err(RepeatedDay(day)),
            None => Ok(Self(hours)),
        }
    }
}

impl std::ops::Deref for WeekHours {
    type Target = [HoursInput];

    fn deref(&self) -> &[HoursInput] {
        &self.0
    }
}

/// The rule [`WeekHours`] keeps: a weekday may be given once. The position and weekday of every
/// entry that repeats an earlier one, in order; entries whose weekday is unknown (`None`) count
/// for nothing.
pub fn repeated_days(days: impl IntoIterator<Item = Option<DayOfWeek>>) -> Vec<(usize, DayOfWeek)> {
    let mut seen = [false; 8];
    let mut repeated = Vec::new();
    for (position, day) in days.into_iter().enumerate() {
        let Some(day) = day else { continue };
        let index = usize::from(day.get());
        if seen[index] {
            repeated.push((position, day));
        }
        seen[index] = true;
    }
    repeated
}

/// `POST /pharmacies`: the shape of each member is the caller's to check; the hours carry their
/// own rule ([`WeekHours`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPharmacy {
    /// Name (1–255).
    pub name: String,
    /// Free text (≤ 5000).
    pub description: Option<String>,
    /// Phone (≤ 30).
    pub phone: Option<String>,
    /// Valid email (≤ 254).
    pub email: Option<String>,
    /// Delivers (default false).
    pub supports_delivery: bool,
    /// Offers pickup (default true).
    pub supports_pickup: bool,
    /// Zone of the opening hours (default `DEFAULT_TIMEZONE`).
    pub timezone: Tz,
    /// The location.
    pub location: NewLocation,
    /// At most 7 days, each at most once.
    pub hours: WeekHours,
}

/// `PATCH /pharmacies/{id}`: `None` = unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PharmacyPatch {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Delivers.
    pub supports_delivery: Option<bool>,
    /// Offers pickup.
    pub supports_pickup: Option<bool>,
    /// Listed.
    pub is_active: Option<bool>,
    /// Zone.
    pub timezone: Option<Tz>,
}

/// `PATCH /pharmacies/{id}/location`: `None` = unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocationPatch {
    /// Street address.
    pub address_line: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Postal code.
    pub pincode: Option<String>,
    /// Latitude.
    pub latitude: Option<Latitude>,
    /// Longitude.
    pub longitude: Option<Longitude>,
}

/// What the admin verify endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyChange {
    /// Set `is_verified` to this value.
    Set(bool),
    /// Flip `is_verified`.
    Toggle,
}

impl VerifyChange {
    /// The new state given the current one.
    pub const fn apply(self, current: bool) -> bool {
        match self {
            VerifyChange::Set(value) => value,
            VerifyChange::Toggle => !current,
        }
    }
}

/// `HH:MM:SS`, the stored resolution of opening times.
pub fn format_time(time: NaiveTime) -> String {
    time.format("%H:%M:%S").to_string()
}

fn insert_some<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}

impl HoursInput {
    /// The audit `details` of an hours upsert: the day's new values.
    pub fn audit_details(&self) -> Value {
        json!({
            "day_of_week": self.day_of_week.get(),
            "open_time": format_time(self.open_time),
            "close_time": format_time(self.close_time),
            "is_closed": self.is_closed,
        })
    }
}

impl NewPharmacy {
    /// The audit `details` of a create: every given field.
    pub fn audit_details(&self) -> Value {
        let location = &self.location;
        json!({
            "name": self.name,
            "description": self.description,
            "phone": self.phone,
            "email": self.email,
            "supports_delivery": self.supports_delivery,
            "supports_pickup": self.supports_pickup,
            "timezone": self.timezone.name(),
            "location": {
                "address_line": location.address_line,
                "city": location.city,
                "state": location.state,
                "country": location.country,
                "pincode": location.pincode,
                "latitude": location.coordinates.latitude.get(),
                "longitude": location.coordinates.longitude.get(),
            },
            "hours": self.hours.iter().map(HoursInput::audit_details).collect::<Vec<_>>(),
        })
    }
}

impl PharmacyPatch {
    /// Whether no member was given.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The audit `details` of an update: the given members with their new values.
    pub fn audit_details(&self) -> Value {
        let mut map = Map::new();
        insert_some(&mut map, "name", self.name.clone());
        insert_some(&mut map, "description", self.description.clone());
        insert_some(&mut map, "phone", self.phone.clone());
        insert_some(&mut map, "email", self.email.clone());
        insert_some(&mut map, "supports_delivery", self.supports_delivery);
        insert_some(&mut map, "supports_pickup", self.supports_pickup);
        insert_some(&mut map, "is_active", self.is_active);
        insert_some(&mut map, "timezone", self.timezone.map(|tz| tz.name()));
        Value::Object(map)
    }
}

impl LocationPatch {
    /// Whether no member was given.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The audit `details` of a location update: the given members with their new values.
    pub fn audit_details(&self) -> Value {
        let mut map = Map::new();
        insert_some(&mut map, "address_line", self.address_line.clone());
        insert_some(&mut map, "city", self.city.clone());
        insert_some(&mut map, "state", self.state.clone());
        insert_some(&mut map, "country", self.country.clone());
        insert_some(&mut map, "pincode", self.pincode.clone());
        insert_some(&mut map, "latitude", self.latitude.map(Latitude::get));
        insert_some(&mut map, "longitude", self.longitude.map(Longitude::get));
        Value::Object(map)
    }
}

/// The audit `details` of a verify: before and after.
pub fn verify_audit_details(before: bool, after: bool) -> Value {
    json!({"before": {"is_verified": before}, "after": {"is_verified": after}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn weekdays_are_one_to_seven_and_wrap_backwards() {
        assert_eq!(DayOfWeek::new(0), Err(InvalidDayOfWeek));
        assert_eq!(DayOfWeek::new(8), Err(InvalidDayOfWeek));
        assert_eq!(DayOfWeek::new(-1), Err(InvalidDayOfWeek));
        assert_eq!(DayOfWeek::new(1).unwrap().previous().get(), 7);
        assert_eq!(DayOfWeek::new(7).unwrap().previous().get(), 6);
        assert_eq!(DayOfWeek::from_weekday(chrono::Weekday::Sun).get(), 7);
        assert_eq!(DayOfWeek::from_weekday(chrono::Weekday::Mon).get(), 1);
    }

    #[test]
    fn coordinates_radius_and_window_enforce_their_bounds() {
        assert!(Coordinates::new(90.0, 180.0).is_ok());
        assert!(Coordinates::new(-90.0, -180.0).is_ok());
        assert_eq!(
            Coordinates::new(90.5, 0.0),
            Err(InvalidCoordinate::Latitude)
        );
        assert_eq!(
            Coordinates::new(0.0, -180.5),
            Err(InvalidCoordinate::Longitude)
        );
        assert_eq!(
            Coordinates::new(f64::NAN, 0.0),
            Err(InvalidCoordinate::Latitude)
        );
        assert_eq!(RadiusKm::new(0.0), Err(InvalidRadius));
        assert_eq!(RadiusKm::new(100.000_001), Err(InvalidRadius));
        assert_eq!(RadiusKm::new(100.0).map(RadiusKm::metres), Ok(100_000.0));
        assert!(RadiusKm::new(1e-7).is_ok());
        assert_eq!(Window::new(0, 0), Err(InvalidWindow));
        assert_eq!(Window::new(0, 101), Err(InvalidWindow));
        assert_eq!(Window::new(u64::MAX, 1), Err(InvalidWindow));
        assert_eq!(
            Window::new(5, 100).map(|w| (w.skip(), w.limit())),
            Ok((5, 100))
        );
    }

    #[test]
    fn week_hours_refuse_a_repeated_weekday() {
        let hours = |day: i64| HoursInput {
            day_of_week: DayOfWeek::new(day).unwrap(),
            open_time: time(9, 0),
            close_time: time(17, 0),
            is_closed: false,
        };
        let week = WeekHours::new(vec![hours(3), hours(1), hours(7)]).unwrap();
        let days: Vec<u8> = week.iter().map(|h| h.day_of_week.get()).collect();
        assert_eq!(days, vec![3, 1, 7], "kept as given");
        assert_eq!(WeekHours::new(Vec::new()), Ok(WeekHours::default()));
        let repeated = WeekHours::new(vec![hours(1), hours(2), hours(2), hours(1)]);
        assert_eq!(repeated, Err(RepeatedDay(DayOfWeek::new(2).unwrap())));
        assert_eq!(
            RepeatedDay(DayOfWeek::new(2).unwrap()).to_string(),
            "day_of_week 2 is given more than once"
        );
    }

    #[test]
    fn every_repetition_is_reported_and_unknown_days_count_for_nothing() {
        let day = |n: i64| Some(DayOfWeek::new(n).unwrap());
        let found: Vec<(usize, u8)> =
            repeated_days([day(1), day(2), None, day(1), day(1), None, day(2), day(3)])
                .into_iter()
                .map(|(position, day)| (position, day.get()))
                .collect();
        assert_eq!(found, vec![(3, 1), (4, 1), (6, 2)]);
        assert!(repeated_days([None, None]).is_empty());
    }

    #[test]
    fn patches_know_when_they_are_empty_and_audit_only_given_members() {
        assert!(PharmacyPatch::default().is_empty());
        let patch = PharmacyPatch {
            is_active: Some(false),
            timezone: Some(Tz::America__New_York),
            ..PharmacyPatch::default()
        };
        assert!(!patch.is_empty());
        assert_eq!(
            patch.audit_details(),
            json!({"is_active": false, "timezone": "America/New_York"})
        );
        let location = LocationPatch {
            latitude: Some(Latitude::new(19.5).unwrap()),
            ..LocationPatch::default()
        };
        assert_eq!(location.audit_details(), json!({"latitude": 19.5}));
        assert!(LocationPatch::default().is_empty());
    }

    #[test]
    fn verify_sets_or_toggles() {
        assert!(VerifyChange::Toggle.apply(false));
        assert!(!VerifyChange::Toggle.apply(true));
        assert!(VerifyChange::Set(true).apply(true));
        assert!(!VerifyChange::Set(false).apply(true));
    }
}
