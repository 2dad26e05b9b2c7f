//! Pharmacy writes: creating, changing and deleting a pharmacy, its location and its opening
//! hours, and the admin verify endpoint. Every one needs an admin and is audited.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use medico24_pharmacy::{
    Coordinates, DayOfWeek, HoursInput, Latitude, LocationPatch, Longitude, NewLocation,
    NewPharmacy, PharmacyPatch, VerifyChange,
};

use super::audit::audit_stamp;
use super::error::{ApiError, ApiResult};
use super::fields::pharmacy_id;
use super::input::{
    self, ClosingTime, HoursList, OpeningTime, PharmacyEmail, Text, Timezone, path_int,
    request_body, request_query,
};
use super::pharmacy_bodies::{PharmacyHoursResponse, PharmacyResponse, PharmacyVerifyResponse};
use super::routing::RouteRegistry;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

request_body! {
    /// LocationIn.
    pub struct LocationIn {
        /// Street address.
        pub address_line: Text<1, 500>,
        /// City.
        pub city: Text<1, 100>,
        /// State.
        pub state: Option<Text<0, 100>>,
        /// Country (default `India`).
        pub country: Option<Text<1, 100>>,
        /// Postal code.
        pub pincode: Option<Text<0, 20>>,
        /// Latitude.
        pub latitude: Latitude,
        /// Longitude.
        pub longitude: Longitude,
    }
}

request_body! {
    /// HoursIn.
    pub struct HoursIn {
        /// 1 = Monday … 7 = Sunday.
        pub day_of_week: DayOfWeek,
        /// `HH:MM` or `HH:MM:SS`.
        pub open_time: OpeningTime,
        /// `HH:MM` or `HH:MM:SS`; earlier than `open_time` runs past midnight; equal (not closed)
        /// means open all day.
        pub close_time: ClosingTime,
        /// Closed all day (default false).
        pub is_closed: Option<bool>,
    }
}

request_body! {
    /// `POST /pharmacies` body.
    pub struct PharmacyCreateRequest {
        /// Name.
        pub name: Text<1, 255>,
        /// Free text.
        pub description: Option<Text<0, 5000>>,
        /// Phone.
        pub phone: Option<Text<0, 30>>,
        /// Email.
        pub email: Option<PharmacyEmail>,
        /// Delivers (default false).
        pub supports_delivery: Option<bool>,
        /// Offers pickup (default true).
        pub supports_pickup: Option<bool>,
        /// IANA zone (default `DEFAULT_TIMEZONE`).
        pub timezone: Option<Timezone>,
        /// The location.
        pub location: LocationIn,
        /// At most 7 days, each at most once.
        pub hours: Option<HoursList<HoursIn>>,
    }
}

request_body! {
    /// `PATCH /pharmacies/{id}` body: every member optional, `null` = unchanged.
    pub struct PharmacyUpdateRequest {
        /// Name.
        pub name: Option<Text<1, 255>>,
        /// Free text.
        pub description: Option<Text<0, 5000>>,
        /// Phone.
        pub phone: Option<Text<0, 30>>,
        /// Email.
        pub email: Option<PharmacyEmail>,
        /// Delivers.
        pub supports_delivery: Option<bool>,
        /// Offers pickup.
        pub supports_pickup: Option<bool>,
        /// Listed.
        pub is_active: Option<bool>,
        /// IANA zone.
        pub timezone: Option<Timezone>,
    }
}

request_body! {
    /// `PATCH /pharmacies/{id}/location` body: LocationIn with every member optional.
    pub struct LocationUpdateRequest {
        /// Street address.
        pub address_line: Option<Text<1, 500>>,
        /// City.
        pub city: Option<Text<1, 100>>,
        /// State.
        pub state: Option<Text<0, 100>>,
        /// Country.
        pub country: Option<Text<1, 100>>,
        /// Postal code.
        pub pincode: Option<Text<0, 20>>,
        /// Latitude.
        pub latitude: Option<Latitude>,
        /// Longitude.
        pub longitude: Option<Longitude>,
    }
}

impl From<LocationIn> for NewLocation {
    fn from(location: LocationIn) -> Self {
        Self {
            address_line: location.address_line.into(),
            city: location.city.into(),
            state: location.state.map(String::from),
            country: location
                .country
                .map_or_else(|| "India".to_owned(), String::from),
            pincode: location.pincode.map(String::from),
            coordinates: Coordinates {
                latitude: location.latitude,
                longitude: location.longitude,
            },
        }
    }
}

impl From<HoursIn> for HoursInput {
    fn from(hours: HoursIn) -> Self {
        Self {
            day_of_week: hours.day_of_week,
            open_time: hours.open_time.get(),
            close_time: hours.close_time.get(),
            is_closed: hours.is_closed.unwrap_or(false),
        }
    }
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
    let body: PharmacyCreateRequest = input::body(&req, &body)?;
    let new = NewPharmacy {
        name: body.name.into(),
        description: body.description.map(String::from),
        phone: body.phone.map(String::from),
        email: body.email.map(String::from),
        supports_delivery: body.supports_delivery.unwrap_or(false),
        supports_pickup: body.supports_pickup.unwrap_or(true),
        timezone: body
            .timezone
            .map_or(state.settings.default_timezone, Timezone::get),
        location: body.location.into(),
        hours: body
            .hours
            .map(HoursList::into_week_hours)
            .unwrap_or_default(),
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
    let body: PharmacyUpdateRequest = input::body(&req, &body)?;
    let patch = PharmacyPatch {
        name: body.name.map(String::from),
        description: body.description.map(String::from),
        phone: body.phone.map(String::from),
        email: body.email.map(String::from),
        supports_delivery: body.supports_delivery,
        supports_pickup: body.supports_pickup,
        is_active: body.is_active,
        timezone: body.timezone.map(Timezone::get),
    };
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
    let body: LocationUpdateRequest = input::body(&req, &body)?;
    let patch = LocationPatch {
        address_line: body.address_line.map(String::from),
        city: body.city.map(String::from),
        state: body.state.map(String::from),
        country: body.country.map(String::from),
        pincode: body.pincode.map(String::from),
        latitude: body.latitude,
        longitude: body.longitude,
    };
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
    let hours = HoursInput::from(input::body::<HoursIn>(&req, &body)?);
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

request_query! {
    /// The verification state to set.
    pub struct VerifyParams {
        /// New state; absent toggles
        pub is_verified: Option<bool>,
    }
}

/// Sets `is_verified` when the query parameter is given, toggles it otherwise.
#[utoipa::path(patch, path = "/api/v1/admin/pharmacies/{pharmacy_id}/verify", tag = "admin", operation_id = "admin_verify_pharmacy",
    security(("bearerAuth" = [])),
    params(
        ("pharmacy_id" = uuid::Uuid, Path, description = "Pharmacy id"),
        VerifyParams,
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
    let change = input::query::<VerifyParams>(&req)?
        .is_verified
        .map_or(VerifyChange::Toggle, VerifyChange::Set);
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
