//! Pharmacy representations: the response bodies that both the public pharmacy routes
//! (`pharmacies`) and the admin ones (`pharmacy_admin`) send.

use chrono::{DateTime, NaiveTime, Utc};
use medico24_pharmacy::{Hours, Location, Pharmacy, PharmacyListItem, PharmacyVerify};
use serde::Serialize;
use utoipa::ToSchema;

use super::wire;

/// PharmacyLocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct PharmacyLocationResponse {
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
    /// Location id.
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// Pharmacy id.
    #[schema(value_type = String, format = Uuid)]
    pub pharmacy_id: uuid::Uuid,
    /// Creation time.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// PharmacyHours.
#[derive(Debug, Serialize, ToSchema)]
pub struct PharmacyHoursResponse {
    /// 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub day_of_week: u8,
    /// `HH:MM:SS`, local to the pharmacy's zone.
    #[serde(serialize_with = "wire::time")]
    #[schema(value_type = String, example = "09:00:00", pattern = r"^\d{2}:\d{2}:\d{2}$")]
    pub open_time: NaiveTime,
    /// `HH:MM:SS`; earlier than `open_time` means past midnight.
    #[serde(serialize_with = "wire::time")]
    #[schema(value_type = String, example = "21:00:00", pattern = r"^\d{2}:\d{2}:\d{2}$")]
    pub close_time: NaiveTime,
    /// Closed all day.
    pub is_closed: bool,
    /// Row id.
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// Pharmacy id.
    #[schema(value_type = String, format = Uuid)]
    pub pharmacy_id: uuid::Uuid,
}

/// Pharmacy (detail).
#[derive(Debug, Serialize, ToSchema)]
pub struct PharmacyResponse {
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
    /// Pharmacy id.
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// Verified by an admin.
    pub is_verified: bool,
    /// Listed.
    pub is_active: bool,
    /// Average rating; 0.0 when unrated.
    pub rating: f64,
    /// Number of ratings.
    pub rating_count: i32,
    /// IANA zone of the opening hours.
    pub timezone: String,
    /// Creation time.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// The location.
    pub location: Option<PharmacyLocationResponse>,
    /// Opening hours ordered by weekday; `[]` when none.
    pub hours: Vec<PharmacyHoursResponse>,
}

/// PharmacyListItem: the detail fields, then `distance_km`. (`flatten` describes the schema;
/// `Serialize` is written out below, because serde's `flatten` buffers every field through a map.)
#[derive(Debug, ToSchema)]
pub struct PharmacyListItemResponse {
    /// The pharmacy.
    #[serde(flatten)]
    pub pharmacy: PharmacyResponse,
    /// Kilometres from the search point on geo searches; `null` otherwise.
    pub distance_km: Option<f64>,
}

/// PharmacyVerify.
#[derive(Debug, Serialize, ToSchema)]
pub struct PharmacyVerifyResponse {
    /// Pharmacy id.
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// Name.
    pub name: String,
    /// The new verification state.
    pub is_verified: bool,
    /// Listed.
    pub is_active: bool,
    /// Last change.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<&Location> for PharmacyLocationResponse {
    fn from(l: &Location) -> Self {
        Self {
            address_line: l.address_line.clone(),
            city: l.city.clone(),
            state: l.state.clone(),
            country: l.country.clone(),
            pincode: l.pincode.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
            id: l.id,
            pharmacy_id: l.pharmacy_id.as_uuid(),
            created_at: l.created_at,
        }
    }
}

impl From<&Hours> for PharmacyHoursResponse {
    fn from(h: &Hours) -> Self {
        Self {
            day_of_week: h.day_of_week.get(),
            open_time: h.open_time,
            close_time: h.close_time,
            is_closed: h.is_closed,
            id: h.id,
            pharmacy_id: h.pharmacy_id.as_uuid(),
        }
    }
}

impl From<&Pharmacy> for PharmacyResponse {
    fn from(p: &Pharmacy) -> Self {
        Self {
            name: p.name.clone(),
            description: p.description.clone(),
            phone: p.phone.clone(),
            email: p.email.clone(),
            supports_delivery: p.supports_delivery,
            supports_pickup: p.supports_pickup,
            id: p.id.as_uuid(),
            is_verified: p.is_verified,
            is_active: p.is_active,
            rating: p.rating,
            rating_count: p.rating_count,
            timezone: p.timezone.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            location: p.location.as_ref().map(PharmacyLocationResponse::from),
            hours: p.hours.iter().map(PharmacyHoursResponse::from).collect(),
        }
    }
}

impl From<&PharmacyListItem> for PharmacyListItemResponse {
    fn from(item: &PharmacyListItem) -> Self {
        Self {
            pharmacy: PharmacyResponse::from(&item.pharmacy),
            distance_km: item.distance_km,
        }
    }
}

impl Serialize for PharmacyListItemResponse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        /// A datetime in the wire format.
        struct At<'a>(&'a DateTime<Utc>);
        impl Serialize for At<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                wire::datetime(self.0, serializer)
            }
        }
        // The fields of `PharmacyResponse`, in its order (a test compares items with details).
        let p = &self.pharmacy;
        let mut item = serializer.serialize_struct("PharmacyListItem", 17)?;
        item.serialize_field("name", &p.name)?;
        item.serialize_field("description", &p.description)?;
        item.serialize_field("phone", &p.phone)?;
        item.serialize_field("email", &p.email)?;
        item.serialize_field("supports_delivery", &p.supports_delivery)?;
        item.serialize_field("supports_pickup", &p.supports_pickup)?;
        item.serialize_field("id", &p.id)?;
        item.serialize_field("is_verified", &p.is_verified)?;
        item.serialize_field("is_active", &p.is_active)?;
        item.serialize_field("rating", &p.rating)?;
        item.serialize_field("rating_count", &p.rating_count)?;
        item.serialize_field("timezone", &p.timezone)?;
        item.serialize_field("created_at", &At(&p.created_at))?;
        item.serialize_field("updated_at", &At(&p.updated_at))?;
        item.serialize_field("location", &p.location)?;
        item.serialize_field("hours", &p.hours)?;
        item.serialize_field("distance_km", &self.distance_km)?;
        item.end()
    }
}

impl From<&PharmacyVerify> for PharmacyVerifyResponse {
    fn from(v: &PharmacyVerify) -> Self {
        Self {
            id: v.id.as_uuid(),
            name: v.name.clone(),
            is_verified: v.is_verified,
            is_active: v.is_active,
            updated_at: v.updated_at,
        }
    }
}
