//! Clinics: the record, its list item, the create and update commands and the
//! listing filters.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use medico24_kernel::ClinicId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::rules::wire_datetime;

/// The text is not a known enumeration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownValue;

/// Clinic status (`clinics_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClinicStatus {
    /// Open for business (default).
    Active,
    /// Not operating.
    Inactive,
    /// Closed for a while.
    TemporarilyClosed,
    /// Closed for good.
    PermanentlyClosed,
}

impl ClinicStatus {
    /// Every status, in the order the API documents them.
    pub const ALL: [ClinicStatus; 4] = [
        ClinicStatus::Active,
        ClinicStatus::Inactive,
        ClinicStatus::TemporarilyClosed,
        ClinicStatus::PermanentlyClosed,
    ];

    /// The stored and wire names, in the order the API documents them.
    pub const NAMES: [&'static str; 4] = [
        "active",
        "inactive",
        "temporarily_closed",
        "permanently_closed",
    ];

    /// The stored and wire form.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ClinicStatus::Active => "active",
            ClinicStatus::Inactive => "inactive",
            ClinicStatus::TemporarilyClosed => "temporarily_closed",
            ClinicStatus::PermanentlyClosed => "permanently_closed",
        }
    }
}

impl fmt::Display for ClinicStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClinicStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownValue)
    }
}

/// A clinic (`clinics` row without `geo`). Its serde form is exactly the API's **Clinic**
/// representation, which is what the clinic cache stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clinic {
    /// Name.
    pub name: String,
    /// URL slug, unique across all clinics (deleted ones included).
    pub slug: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Free-form contacts object.
    pub contacts: Option<Value>,
    /// Postal address.
    pub address: String,
    /// Latitude (8 decimals).
    pub latitude: Option<f64>,
    /// Longitude (8 decimals).
    pub longitude: Option<f64>,
    /// Free-form opening hours object.
    pub opening_hours: Option<Value>,
    /// Primary key.
    pub id: ClinicId,
    /// Average rating (0–5), `None` when unrated.
    pub rating: Option<f64>,
    /// Number of ratings.
    pub rating_count: i32,
    /// Status.
    pub status: ClinicStatus,
    /// Active flag.
    pub is_active: bool,
    /// Creation.
    #[serde(with = "wire_datetime")]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(with = "wire_datetime")]
    pub updated_at: DateTime<Utc>,
    /// Soft deletion (always `None` for clinics the API returns).
    #[serde(with = "wire_datetime::option")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A clinic in a listing (the API's **ClinicListItem** representation).
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicListItem {
    /// Primary key.
    pub id: ClinicId,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Address.
    pub address: String,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Rating.
    pub rating: Option<f64>,
    /// Number of ratings.
    pub rating_count: i32,
    /// Status.
    pub status: ClinicStatus,
    /// Active flag.
    pub is_active: bool,
    /// Sphere distance from the search point in km (only `/clinics/nearby`).
    pub distance_km: Option<f64>,
}

impl ClinicListItem {
    /// The list item of `clinic`, with `distance_km` when given.
    pub fn of(clinic: &Clinic, distance_km: Option<f64>) -> Self {
        Self {
            id: clinic.id,
            name: clinic.name.clone(),
            slug: clinic.slug.clone(),
            description: clinic.description.clone(),
            logo_url: clinic.logo_url.clone(),
            address: clinic.address.clone(),
            latitude: clinic.latitude,
            longitude: clinic.longitude,
            rating: clinic.rating,
            rating_count: clinic.rating_count,
            status: clinic.status,
            is_active: clinic.is_active,
            distance_km,
        }
    }
}

/// A validated create command. Field constraints are checked at the edge; the slug is
/// either a valid supplied slug or `None` (generate one from the name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewClinic {
    /// Name (1–255).
    pub name: String,
    /// Supplied slug (already valid), or `None` to generate.
    pub slug: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Contacts object.
    pub contacts: Option<Map<String, Value>>,
    /// Address (1–2000).
    pub address: String,
    /// Latitude (−90…90), stored rounded to 8 decimals.
    pub latitude: Option<f64>,
    /// Longitude (−180…180), stored rounded to 8 decimals.
    pub longitude: Option<f64>,
    /// Opening hours object.
    pub opening_hours: Option<Map<String, Value>>,
}

/// The insert a repository performs: a [`NewClinic`] with its final slug.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicInsert {
    /// The command.
    pub clinic: NewClinic,
    /// The slug to store.
    pub slug: String,
}

impl ClinicInsert {
    /// The `clinic.create` audit details: the stored fields.
    pub fn audit_details(&self) -> Value {
        let c = &self.clinic;
        json!({
            "name": c.name,
            "slug": self.slug,
            "description": c.description,
            "logo_url": c.logo_url,
            "contacts": c.contacts,
            "address": c.address,
            "latitude": c.latitude,
            "longitude": c.longitude,
            "opening_hours": c.opening_hours,
        })
    }
}

/// A partial update: `None` = unchanged (`null` and absent mean the same).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClinicPatch {
    /// Name.
    pub name: Option<String>,
    /// Slug (valid; `""` was treated as absent).
    pub slug: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Contacts object.
    pub contacts: Option<Map<String, Value>>,
    /// Address.
    pub address: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Opening hours object.
    pub opening_hours: Option<Map<String, Value>>,
    /// Status.
    pub status: Option<ClinicStatus>,
}

impl ClinicPatch {
    /// Whether no member was given.
    pub fn is_empty(&self) -> bool {
        self.audit_details()
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
    }

    /// The `clinic.update` audit details: the members given, with their new values.
    pub fn audit_details(&self) -> Value {
        let mut details = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                details.insert(key.to_owned(), value);
            }
        };
        put("name", self.name.clone().map(Value::from));
        put("slug", self.slug.clone().map(Value::from));
        put("description", self.description.clone().map(Value::from));
        put("logo_url", self.logo_url.clone().map(Value::from));
        put("contacts", self.contacts.clone().map(Value::Object));
        put("address", self.address.clone().map(Value::from));
        put("latitude", self.latitude.map(Value::from));
        put("longitude", self.longitude.map(Value::from));
        put(
            "opening_hours",
            self.opening_hours.clone().map(Value::Object),
        );
        put("status", self.status.map(|s| Value::from(s.as_str())));
        Value::Object(details)
    }
}

/// Filters of `GET /clinics/` and `/clinics/search`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClinicFilter {
    /// Exact `is_active` (the edge defaults it to `true`).
    pub is_active: Option<bool>,
    /// Exact status.
    pub status: Option<ClinicStatus>,
    /// Case-insensitive substring of `name`, matched literally.
    pub name_search: Option<String>,
    /// `rating ≥ x` (unrated excluded).
    pub min_rating: Option<f64>,
}

/// A search point and radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoQuery {
    /// Latitude (−90…90).
    pub latitude: f64,
    /// Longitude (−180…180).
    pub longitude: f64,
    /// Radius in km (0 < r ≤ 100), inclusive.
    pub radius_km: f64,
}

/// Filters of `GET /clinics/nearby`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NearbyClinicFilter {
    /// Exact `is_active` (the edge defaults it to `true`).
    pub is_active: Option<bool>,
    /// `rating ≥ x`.
    pub min_rating: Option<f64>,
}

/// `skip`/`limit` of the directory listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Rows to skip (≥ 0).
    pub skip: u64,
    /// Rows to return (1–100).
    pub limit: u32,
}

impl Window {
    /// `skip` and `limit`, the latter clamped into 1..=100.
    pub fn new(skip: u64, limit: u32) -> Self {
        Self {
            skip,
            limit: limit.clamp(1, 100),
        }
    }

    /// This window of an already ordered sequence.
    pub fn apply<T>(&self, rows: impl IntoIterator<Item = T>) -> Vec<T> {
        rows.into_iter()
            .skip(usize::try_from(self.skip).unwrap_or(usize::MAX))
            .take(self.limit as usize)
            .collect()
    }
}

impl Default for Window {
    fn default() -> Self {
        Self::new(0, 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for (status, name) in ClinicStatus::ALL.iter().zip(ClinicStatus::NAMES) {
            assert_eq!(status.as_str(), name);
            assert_eq!(name.parse::<ClinicStatus>(), Ok(*status));
        }
        assert_eq!("Active".parse::<ClinicStatus>(), Err(UnknownValue));
    }

    #[test]
    fn an_empty_patch_is_recognised() {
        assert!(ClinicPatch::default().is_empty());
        let patch = ClinicPatch {
            latitude: Some(19.0),
            ..ClinicPatch::default()
        };
        assert!(!patch.is_empty());
        assert_eq!(patch.audit_details(), json!({"latitude": 19.0}));
    }

    #[test]
    fn windows_skip_then_take() {
        let window = Window::new(2, 2);
        assert_eq!(window.apply(1..=10), vec![3, 4]);
        assert_eq!(Window::new(0, 500).limit, 100);
        assert!(Window::new(20, 5).apply(1..=10).is_empty());
    }
}
