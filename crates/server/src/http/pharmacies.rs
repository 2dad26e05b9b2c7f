//! Pharmacies and the admin verify endpoint: reads are public and never look at
//! `Authorization`; writes need an admin. The detail and plain listing are served through the
//! Redis cache as the exact bodies rendered here, so cached and uncached answers are
//! byte-identical.

use actix_web::http::Method;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use medico24_kernel::{PharmacyId, is_valid_email};
use medico24_pharmacy::{
    Coordinates, DayOfWeek, Hours, HoursInput, Latitude, Location, LocationPatch, Longitude,
    NearbyQuery, NewLocation, NewPharmacy, Pharmacy, PharmacyFilter, PharmacyListItem,
    PharmacyPatch, PharmacyVerify, RadiusKm, VerifyChange, Window,
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::audit::audit_stamp;
use super::error::{ApiError, ApiResult};
use super::input::{BodyKind, BodyReader, QueryReader, json_object, path_int, path_uuid};
use super::routing::RouteRegistry;
use super::wire;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Representations; field order is the JSON key order clients see
// ---------------------------------------------------------------------------------------------

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

/// The JSON body of a detail (what the cache stores).
fn render_detail(pharmacy: &Pharmacy) -> serde_json::Result<String> {
    serde_json::to_string(&PharmacyResponse::from(pharmacy))
}

/// The JSON body of a listing (what the cache stores).
fn render_list(items: &[PharmacyListItem]) -> serde_json::Result<String> {
    String::from_utf8(render_items(items)?).map_err(serde::ser::Error::custom)
}

/// A list of items as JSON bytes, in one buffer sized for a typical page (~1.5 KB per item).
fn render_items(items: &[PharmacyListItem]) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(items.len() * 2048 + 2);
    serde::Serializer::collect_seq(
        &mut serde_json::Serializer::new(&mut out),
        items.iter().map(PharmacyListItemResponse::from),
    )?;
    Ok(out)
}

/// A 200 with an already rendered JSON body.
fn json_body(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

// ---------------------------------------------------------------------------------------------
// Request bodies (documentation; the handlers read them field by field)
// ---------------------------------------------------------------------------------------------

/// LocationIn.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct LocationIn {
    /// Street address.
    #[schema(min_length = 1, max_length = 500)]
    pub address_line: String,
    /// City.
    #[schema(min_length = 1, max_length = 100)]
    pub city: String,
    /// State.
    #[schema(max_length = 100)]
    pub state: Option<String>,
    /// Country (default `India`).
    #[schema(min_length = 1, max_length = 100)]
    pub country: Option<String>,
    /// Postal code.
    #[schema(max_length = 20)]
    pub pincode: Option<String>,
    /// Latitude.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: f64,
    /// Longitude.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: f64,
}

/// HoursIn.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct HoursIn {
    /// 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub day_of_week: i64,
    /// `HH:MM` or `HH:MM:SS`.
    #[schema(
        example = "09:00",
        pattern = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$"
    )]
    pub open_time: String,
    /// `HH:MM` or `HH:MM:SS`; earlier than `open_time` runs past midnight; equal (not closed)
    /// means open all day.
    #[schema(
        example = "21:00",
        pattern = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$"
    )]
    pub close_time: String,
    /// Closed all day (default false).
    pub is_closed: Option<bool>,
}

/// `POST /pharmacies` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct PharmacyCreateRequest {
    /// Name.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Free text.
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Phone.
    #[schema(max_length = 30)]
    pub phone: Option<String>,
    /// Email.
    #[schema(max_length = 254, format = Email)]
    pub email: Option<String>,
    /// Delivers (default false).
    pub supports_delivery: Option<bool>,
    /// Offers pickup (default true).
    pub supports_pickup: Option<bool>,
    /// IANA zone (default `DEFAULT_TIMEZONE`).
    #[schema(example = "Asia/Kolkata")]
    pub timezone: Option<String>,
    /// The location.
    pub location: LocationIn,
    /// At most 7 days, each at most once.
    #[schema(max_items = 7)]
    pub hours: Option<Vec<HoursIn>>,
}

/// `PATCH /pharmacies/{id}` body: every member optional, `null` = unchanged.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct PharmacyUpdateRequest {
    /// Name.
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// Free text.
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Phone.
    #[schema(max_length = 30)]
    pub phone: Option<String>,
    /// Email.
    #[schema(max_length = 254, format = Email)]
    pub email: Option<String>,
    /// Delivers.
    pub supports_delivery: Option<bool>,
    /// Offers pickup.
    pub supports_pickup: Option<bool>,
    /// Listed.
    pub is_active: Option<bool>,
    /// IANA zone.
    pub timezone: Option<String>,
}

/// `PATCH /pharmacies/{id}/location` body: LocationIn with every member optional.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct LocationUpdateRequest {
    /// Street address.
    #[schema(min_length = 1, max_length = 500)]
    pub address_line: Option<String>,
    /// City.
    #[schema(min_length = 1, max_length = 100)]
    pub city: Option<String>,
    /// State.
    #[schema(max_length = 100)]
    pub state: Option<String>,
    /// Country.
    #[schema(min_length = 1, max_length = 100)]
    pub country: Option<String>,
    /// Postal code.
    #[schema(max_length = 20)]
    pub pincode: Option<String>,
    /// Latitude.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Reading input
// ---------------------------------------------------------------------------------------------

fn email(reader: &mut BodyReader<'_>) -> Option<String> {
    let email = reader.optional_string("email", 0, 254)?;
    if is_valid_email(&email) {
        Some(email)
    } else {
        reader.issue("email", "value_error", "value is not a valid email address");
        None
    }
}

fn timezone(reader: &mut BodyReader<'_>) -> Option<Tz> {
    let name = reader.optional_string("timezone", 1, 64)?;
    match name.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            reader.issue(
                "timezone",
                "value_error",
                "timezone must be an IANA time zone name (e.g. Asia/Kolkata)",
            );
            None
        }
    }
}

/// LocationIn: every member required.
fn new_location(reader: &mut BodyReader<'_>) -> Option<NewLocation> {
    let address_line = reader.required_string("address_line", 1, 500);
    let city = reader.required_string("city", 1, 100);
    let state = reader.optional_string("state", 0, 100);
    let country = reader.optional_string("country", 1, 100);
    let pincode = reader.optional_string("pincode", 0, 20);
    let latitude = reader.required_number("latitude", -90.0, 90.0);
    let longitude = reader.required_number("longitude", -180.0, 180.0);
    let coordinates = Coordinates::new(latitude?, longitude?).ok()?;
    Some(NewLocation {
        address_line: address_line?,
        city: city?,
        state,
        country: country.unwrap_or_else(|| "India".to_owned()),
        pincode,
        coordinates,
    })
}

/// HoursIn.
fn hours_input(reader: &mut BodyReader<'_>) -> Option<HoursInput> {
    let day = reader.required_int("day_of_week", 1, 7);
    let open_time = reader.required_time("open_time");
    let close_time = reader.required_time("close_time");
    let is_closed = reader.optional_bool("is_closed").unwrap_or(false);
    Some(HoursInput {
        day_of_week: DayOfWeek::new(day?).ok()?,
        open_time: open_time?,
        close_time: close_time?,
        is_closed,
    })
}

/// The `hours` array of a create: each item an HoursIn object, weekdays distinct.
fn hours_list(reader: &mut BodyReader<'_>) -> Vec<HoursInput> {
    let Some(items) = reader.optional_array("hours", 7) else {
        return Vec::new();
    };
    let mut hours = Vec::with_capacity(items.len());
    let mut seen = [false; 8];
    for (index, item) in items.iter().enumerate() {
        let loc = vec![json!("body"), json!("hours"), json!(index)];
        let Value::Object(item) = item else {
            reader.issue_at(
                loc,
                "dict_type",
                "Input should be a valid dictionary or object to extract fields from",
            );
            continue;
        };
        let mut nested = BodyReader::nested(item, loc.clone());
        let parsed = hours_input(&mut nested);
        reader.absorb(nested);
        // Duplicates are found from the weekday alone, even when another member is invalid.
        let day = item
            .get("day_of_week")
            .and_then(Value::as_f64)
            .filter(|d| d.fract() == 0.0 && (1.0..=7.0).contains(d))
            .map(|d| d as usize);
        if let Some(day) = day {
            if seen[day] {
                let mut loc = loc;
                loc.push(json!("day_of_week"));
                reader.issue_at(
                    loc,
                    "value_error",
                    format!("day_of_week {day} is given more than once"),
                );
            }
            seen[day] = true;
        }
        hours.extend(parsed);
    }
    hours
}

fn read_filter(query: &mut QueryReader) -> PharmacyFilter {
    PharmacyFilter {
        is_active: query.bool("is_active").unwrap_or(true),
        is_verified: query.bool("is_verified"),
        supports_delivery: query.bool("supports_delivery"),
        supports_pickup: query.bool("supports_pickup"),
        open_now: query.bool("open_now").unwrap_or(false),
    }
}

fn read_window(query: &mut QueryReader) -> Window {
    let skip = query.int("skip", 0, 0, i64::MAX);
    let limit = query.int("limit", 20, 1, 100);
    // Out-of-range values were reported above; the fallback only keeps the type valid.
    Window::new(
        u64::try_from(skip).unwrap_or(0),
        u32::try_from(limit).unwrap_or(20),
    )
    .unwrap_or_default()
}

fn radius(query: &mut QueryReader) -> RadiusKm {
    query
        .number_above("radius_km", 0.0, 100.0)
        .and_then(|km| RadiusKm::new(km).ok())
        .unwrap_or(RadiusKm::DEFAULT)
}

fn pharmacy_id(req: &HttpRequest) -> ApiResult<PharmacyId> {
    Ok(PharmacyId::from_uuid(path_uuid(req, "pharmacy_id")?))
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Creates a pharmacy with its location and hours.
#[utoipa::path(post, path = "/api/v1/pharmacies", tag = "pharmacies", operation_id = "create_pharmacy",
    security(("bearerAuth" = [])),
    request_body(content = PharmacyCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new pharmacy", body = PharmacyResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn create_pharmacy(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let object = json_object(&req, &body, BodyKind::Required)?;
    let mut reader = BodyReader::new(&object);
    let name = reader.required_string("name", 1, 255);
    let description = reader.optional_string("description", 0, 5000);
    let phone = reader.optional_string("phone", 0, 30);
    let email = email(&mut reader);
    let supports_delivery = reader.optional_bool("supports_delivery").unwrap_or(false);
    let supports_pickup = reader.optional_bool("supports_pickup").unwrap_or(true);
    let tz = timezone(&mut reader);
    let location = reader.required_object("location").and_then(|object| {
        let mut nested = BodyReader::nested(object, vec![json!("body"), json!("location")]);
        let location = new_location(&mut nested);
        reader.absorb(nested);
        location
    });
    let hours = hours_list(&mut reader);
    reader.finish()?;
    let (Some(name), Some(location)) = (name, location) else {
        // Unreachable: a missing member was reported above.
        return Err(ApiError::internal(
            "create body validated without name or location",
        ));
    };
    let new = NewPharmacy {
        name,
        description,
        phone,
        email,
        supports_delivery,
        supports_pickup,
        timezone: tz.unwrap_or(state.settings.default_timezone),
        location,
        hours,
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let created = state.pharmacies.create(&new, &stamp).await?;
    tracing::info!(pharmacy.id = %created.id, user.id = %admin.0.id, "pharmacy created");
    Ok(HttpResponse::Created().json(PharmacyResponse::from(&created)))
}

/// Lists pharmacies; with both `latitude` and `longitude` this is the nearby search.
#[utoipa::path(get, path = "/api/v1/pharmacies", tag = "pharmacies", operation_id = "list_pharmacies",
    security(),
    params(
        ("skip" = Option<i64>, Query, minimum = 0, description = "Rows to skip (default 0)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("latitude" = Option<f64>, Query, minimum = -90, maximum = 90, description = "With `longitude`: search point"),
        ("longitude" = Option<f64>, Query, minimum = -180, maximum = 180, description = "With `latitude`: search point"),
        ("radius_km" = Option<f64>, Query, exclusive_minimum = 0, maximum = 100, description = "Geo search radius (default 10)"),
        ("is_active" = Option<bool>, Query, description = "Exact match (default true)"),
        ("is_verified" = Option<bool>, Query, description = "Exact match"),
        ("supports_delivery" = Option<bool>, Query, description = "Exact match"),
        ("supports_pickup" = Option<bool>, Query, description = "Exact match"),
        ("open_now" = Option<bool>, Query, description = "`true`: only pharmacies open now"),
    ),
    responses(
        (status = 200, description = "Pharmacies (a bare array)", body = Vec<PharmacyListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list_pharmacies(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = QueryReader::new(&req);
    let window = read_window(&mut query);
    let latitude = query.number("latitude", -90.0, 90.0);
    let longitude = query.number("longitude", -180.0, 180.0);
    let radius = radius(&mut query);
    let filter = read_filter(&mut query);
    query.finish()?;
    if let (Some(latitude), Some(longitude)) = (latitude, longitude) {
        return nearby_body(&state, latitude, longitude, radius, filter, window).await;
    }
    let body = state
        .pharmacies
        .list_body(&filter, window, render_list)
        .await?;
    Ok(json_body(body))
}

async fn nearby_body(
    state: &AppState,
    latitude: f64,
    longitude: f64,
    radius: RadiusKm,
    filter: PharmacyFilter,
    window: Window,
) -> ApiResult<HttpResponse> {
    let center = Coordinates::new(latitude, longitude)
        .map_err(|e| ApiError::internal(format!("validated coordinates refused: {e}")))?;
    let query = NearbyQuery {
        center,
        radius,
        filter,
        window,
    };
    let items = state.pharmacies.nearby(&query).await?;
    let body = render_items(&items).map_err(ApiError::internal)?;
    Ok(json_body(body))
}

/// Pharmacies within `radius_km` of a point, nearest first.
#[utoipa::path(get, path = "/api/v1/pharmacies/search/nearby", tag = "pharmacies", operation_id = "nearby_pharmacies",
    security(),
    params(
        ("latitude" = f64, Query, minimum = -90, maximum = 90, description = "Search point"),
        ("longitude" = f64, Query, minimum = -180, maximum = 180, description = "Search point"),
        ("radius_km" = Option<f64>, Query, exclusive_minimum = 0, maximum = 100, description = "Radius, inclusive (default 10)"),
        ("skip" = Option<i64>, Query, minimum = 0, description = "Rows to skip (default 0)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("is_active" = Option<bool>, Query, description = "Exact match (default true)"),
        ("is_verified" = Option<bool>, Query, description = "Exact match"),
        ("supports_delivery" = Option<bool>, Query, description = "Exact match"),
        ("supports_pickup" = Option<bool>, Query, description = "Exact match"),
        ("open_now" = Option<bool>, Query, description = "`true`: only pharmacies open now"),
    ),
    responses(
        (status = 200, description = "Pharmacies by distance (a bare array)", body = Vec<PharmacyListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn nearby_pharmacies(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = QueryReader::new(&req);
    let latitude = query.required_number("latitude", -90.0, 90.0);
    let longitude = query.required_number("longitude", -180.0, 180.0);
    let radius = radius(&mut query);
    let window = read_window(&mut query);
    let filter = read_filter(&mut query);
    query.finish()?;
    let (Some(latitude), Some(longitude)) = (latitude, longitude) else {
        return Err(ApiError::internal(
            "nearby query validated without coordinates",
        ));
    };
    nearby_body(&state, latitude, longitude, radius, filter, window).await
}

/// One pharmacy with its location and hours, active or not.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}", tag = "pharmacies", operation_id = "get_pharmacy",
    security(),
    params(("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id")),
    responses(
        (status = 200, description = "The pharmacy", body = PharmacyResponse),
        (status = 404, description = "Unknown pharmacy", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn get_pharmacy(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let body = state.pharmacies.detail_body(id, render_detail).await?;
    Ok(json_body(body))
}

/// Changes a pharmacy's own fields (`null` = unchanged).
#[utoipa::path(patch, path = "/api/v1/pharmacies/{pharmacy_id}", tag = "pharmacies", operation_id = "update_pharmacy",
    security(("bearerAuth" = [])),
    params(("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id")),
    request_body(content = PharmacyUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The pharmacy", body = PharmacyResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown pharmacy", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn update_pharmacy(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let object = json_object(&req, &body, BodyKind::Required)?;
    let mut reader = BodyReader::new(&object);
    let patch = PharmacyPatch {
        name: reader.optional_string("name", 1, 255),
        description: reader.optional_string("description", 0, 5000),
        phone: reader.optional_string("phone", 0, 30),
        email: email(&mut reader),
        supports_delivery: reader.optional_bool("supports_delivery"),
        supports_pickup: reader.optional_bool("supports_pickup"),
        is_active: reader.optional_bool("is_active"),
        timezone: timezone(&mut reader),
    };
    reader.finish()?;
    let stamp = audit_stamp(&req, admin.0.id);
    let updated = state.pharmacies.update(id, &patch, &stamp).await?;
    Ok(HttpResponse::Ok().json(PharmacyResponse::from(&updated)))
}

/// Deletes a pharmacy with its location, hours and staff rows.
#[utoipa::path(delete, path = "/api/v1/pharmacies/{pharmacy_id}", tag = "pharmacies", operation_id = "delete_pharmacy",
    security(("bearerAuth" = [])),
    params(("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown pharmacy", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn delete_pharmacy(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let stamp = audit_stamp(&req, admin.0.id);
    state.pharmacies.delete(id, &stamp).await?;
    tracing::info!(pharmacy.id = %id, user.id = %admin.0.id, "pharmacy deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Changes the pharmacy's location (`null` = unchanged).
#[utoipa::path(patch, path = "/api/v1/pharmacies/{pharmacy_id}/location", tag = "pharmacies", operation_id = "update_pharmacy_location",
    security(("bearerAuth" = [])),
    params(("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id")),
    request_body(content = LocationUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The pharmacy", body = PharmacyResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown pharmacy", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn update_pharmacy_location(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let object = json_object(&req, &body, BodyKind::Required)?;
    let mut reader = BodyReader::new(&object);
    let patch = LocationPatch {
        address_line: reader.optional_string("address_line", 1, 500),
        city: reader.optional_string("city", 1, 100),
        state: reader.optional_string("state", 0, 100),
        country: reader.optional_string("country", 1, 100),
        pincode: reader.optional_string("pincode", 0, 20),
        latitude: reader
            .optional_number("latitude", -90.0, 90.0)
            .and_then(|v| Latitude::new(v).ok()),
        longitude: reader
            .optional_number("longitude", -180.0, 180.0)
            .and_then(|v| Longitude::new(v).ok()),
    };
    reader.finish()?;
    let stamp = audit_stamp(&req, admin.0.id);
    let updated = state.pharmacies.update_location(id, &patch, &stamp).await?;
    Ok(HttpResponse::Ok().json(PharmacyResponse::from(&updated)))
}

/// Creates or replaces one day's opening hours.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/hours", tag = "pharmacies", operation_id = "upsert_pharmacy_hours",
    security(("bearerAuth" = [])),
    params(("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id")),
    request_body(content = HoursIn, content_type = "application/json"),
    responses(
        (status = 201, description = "The day's hours (created or replaced)", body = PharmacyHoursResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown pharmacy", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn upsert_pharmacy_hours(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let object = json_object(&req, &body, BodyKind::Required)?;
    let mut reader = BodyReader::new(&object);
    let hours = hours_input(&mut reader);
    reader.finish()?;
    let Some(hours) = hours else {
        return Err(ApiError::internal("hours body validated without a value"));
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let stored = state.pharmacies.upsert_hours(id, &hours, &stamp).await?;
    Ok(HttpResponse::Created().json(PharmacyHoursResponse::from(&stored)))
}

/// The pharmacy's opening hours, ordered by weekday.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/hours", tag = "pharmacies", operation_id = "list_pharmacy_hours",
    security(),
    params(("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id")),
    responses(
        (status = 200, description = "Hours by weekday", body = Vec<PharmacyHoursResponse>),
        (status = 404, description = "Unknown pharmacy", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list_pharmacy_hours(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let hours = state.pharmacies.hours(id).await?;
    let body: Vec<PharmacyHoursResponse> = hours.iter().map(PharmacyHoursResponse::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Deletes one day's opening hours.
#[utoipa::path(delete, path = "/api/v1/pharmacies/{pharmacy_id}/hours/{day_of_week}", tag = "pharmacies", operation_id = "delete_pharmacy_hours",
    security(("bearerAuth" = [])),
    params(
        ("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id"),
        ("day_of_week" = i64, Path, minimum = 1, maximum = 7, description = "1 = Monday … 7 = Sunday"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown pharmacy or no hours for that day", body = ErrorResponse),
        (status = 422, description = "Malformed id or day", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn delete_pharmacy_hours(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let day = path_int(&req, "day_of_week", 1, 7)?;
    let day = DayOfWeek::new(day).map_err(|e| ApiError::internal(e.to_string()))?;
    let stamp = audit_stamp(&req, admin.0.id);
    state.pharmacies.delete_hours(id, day, &stamp).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets `is_verified` when the query parameter is given, toggles it otherwise.
#[utoipa::path(patch, path = "/api/v1/admin/pharmacies/{pharmacy_id}/verify", tag = "admin", operation_id = "admin_verify_pharmacy",
    security(("bearerAuth" = [])),
    params(
        ("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id"),
        ("is_verified" = Option<bool>, Query, description = "New state; absent toggles"),
    ),
    responses(
        (status = 200, description = "The new verification state", body = PharmacyVerifyResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown pharmacy", body = ErrorResponse),
        (status = 422, description = "Malformed id or flag", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn verify_pharmacy(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = pharmacy_id(&req)?;
    let mut query = QueryReader::new(&req);
    let change = query
        .bool("is_verified")
        .map_or(VerifyChange::Toggle, VerifyChange::Set);
    query.finish()?;
    let stamp = audit_stamp(&req, admin.0.id);
    let verified = state.pharmacies.verify(id, change, &stamp).await?;
    tracing::info!(pharmacy.id = %id, user.id = %admin.0.id, is_verified = verified.is_verified, "pharmacy verification changed");
    Ok(HttpResponse::Ok().json(PharmacyVerifyResponse::from(&verified)))
}

/// Registers the pharmacy routes (and the admin verify route) under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let base = format!("{prefix}/pharmacies");
    let one = format!("{base}/{{pharmacy_id}}");
    routes
        .route(Method::POST, &base, create_pharmacy)
        .route(Method::GET, &base, list_pharmacies)
        .route(
            Method::GET,
            &format!("{base}/search/nearby"),
            nearby_pharmacies,
        )
        .route(Method::GET, &one, get_pharmacy)
        .route(Method::PATCH, &one, update_pharmacy)
        .route(Method::DELETE, &one, delete_pharmacy)
        .route(
            Method::PATCH,
            &format!("{one}/location"),
            update_pharmacy_location,
        )
        .route(Method::POST, &format!("{one}/hours"), upsert_pharmacy_hours)
        .route(Method::GET, &format!("{one}/hours"), list_pharmacy_hours)
        .route(
            Method::DELETE,
            &format!("{one}/hours/{{day_of_week}}"),
            delete_pharmacy_hours,
        )
        .route(
            Method::PATCH,
            &format!("{prefix}/admin/pharmacies/{{pharmacy_id}}/verify"),
            verify_pharmacy,
        );
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_pharmacy,
    list_pharmacies,
    nearby_pharmacies,
    get_pharmacy,
    update_pharmacy,
    delete_pharmacy,
    update_pharmacy_location,
    upsert_pharmacy_hours,
    list_pharmacy_hours,
    delete_pharmacy_hours,
    verify_pharmacy
))]
pub struct Docs;
