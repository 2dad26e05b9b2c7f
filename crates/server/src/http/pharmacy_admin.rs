//! Pharmacy writes: creating, changing and deleting a pharmacy, its location and its opening
//! hours, and the admin verify endpoint. Every one needs an admin and is audited.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono_tz::Tz;
use medico24_kernel::is_valid_email;
use medico24_pharmacy::{
    Coordinates, DayOfWeek, HoursInput, Latitude, LocationPatch, Longitude, NewLocation,
    NewPharmacy, PharmacyPatch, VerifyChange,
};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::audit::audit_stamp;
use super::error::{ApiError, ApiResult};
use super::fields::pharmacy_id;
use super::input::{BodyKind, BodyReader, QueryReader, json_object, path_int};
use super::pharmacy_bodies::{PharmacyHoursResponse, PharmacyResponse, PharmacyVerifyResponse};
use super::routing::RouteRegistry;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

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

/// Registers the pharmacy write routes and the admin verify route under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let base = format!("{prefix}/pharmacies");
    let one = format!("{base}/{{pharmacy_id}}");
    routes
        .route(Method::POST, &base, create_pharmacy)
        .route(Method::PATCH, &one, update_pharmacy)
        .route(Method::DELETE, &one, delete_pharmacy)
        .route(
            Method::PATCH,
            &format!("{one}/location"),
            update_pharmacy_location,
        )
        .route(Method::POST, &format!("{one}/hours"), upsert_pharmacy_hours)
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
    update_pharmacy,
    delete_pharmacy,
    update_pharmacy_location,
    upsert_pharmacy_hours,
    delete_pharmacy_hours,
    verify_pharmacy
))]
pub struct Docs;
