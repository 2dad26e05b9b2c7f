//! Clinics: reads are public and never look at `Authorization`; writes need an admin and are
//! audited; the clinic detail is cached. The doctor–clinic associations live in `associations`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_directory::{
    Clinic, ClinicFilter, ClinicListItem, ClinicPatch, ClinicStatus, NearbyClinicFilter, NewClinic,
};
use medico24_kernel::ClinicId;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::audit::audit_stamp;
use super::error::{ApiError, ApiResult, CLINIC_NOT_FOUND};
use super::fields::{directory_window, geo_query};
use super::input::{
    self, FlagOr, JsonObject, Number, Query, Slug, Text, path_uuid, percent_decode, request_body,
    request_query,
};
use super::routing::RouteRegistry;
use super::search::{PointParams, WindowParams};
use super::wire;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Representations
// ---------------------------------------------------------------------------------------------

/// A clinic (the **Clinic** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicResponse {
    /// Name.
    pub name: String,
    /// URL slug (unique).
    pub slug: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Free-form contacts.
    #[schema(value_type = Option<Object>)]
    pub contacts: Option<Value>,
    /// Address.
    pub address: String,
    /// Latitude (8 decimals).
    pub latitude: Option<f64>,
    /// Longitude (8 decimals).
    pub longitude: Option<f64>,
    /// Free-form opening hours.
    #[schema(value_type = Option<Object>)]
    pub opening_hours: Option<Value>,
    /// Clinic id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Average rating (0–5).
    pub rating: Option<f64>,
    /// Number of ratings.
    pub rating_count: i32,
    /// Clinic status.
    #[schema(value_type = crate::openapi::enums::ClinicStatus)]
    pub status: String,
    /// Active flag.
    pub is_active: bool,
    /// Creation time.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Soft deletion (always null here).
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<&Clinic> for ClinicResponse {
    fn from(c: &Clinic) -> Self {
        Self {
            name: c.name.clone(),
            slug: c.slug.clone(),
            description: c.description.clone(),
            logo_url: c.logo_url.clone(),
            contacts: c.contacts.clone(),
            address: c.address.clone(),
            latitude: c.latitude,
            longitude: c.longitude,
            opening_hours: c.opening_hours.clone(),
            id: c.id.to_string(),
            rating: c.rating,
            rating_count: c.rating_count,
            status: c.status.as_str().to_owned(),
            is_active: c.is_active,
            created_at: c.created_at,
            updated_at: c.updated_at,
            deleted_at: c.deleted_at,
        }
    }
}

/// A clinic in a listing (the **ClinicListItem** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicListItemResponse {
    /// Clinic id.
    #[schema(format = Uuid)]
    pub id: String,
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
    #[schema(value_type = crate::openapi::enums::ClinicStatus)]
    pub status: String,
    /// Active flag.
    pub is_active: bool,
    /// Sphere distance in km (only `/clinics/nearby`).
    pub distance_km: Option<f64>,
}

impl From<&ClinicListItem> for ClinicListItemResponse {
    fn from(c: &ClinicListItem) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            slug: c.slug.clone(),
            description: c.description.clone(),
            logo_url: c.logo_url.clone(),
            address: c.address.clone(),
            latitude: c.latitude,
            longitude: c.longitude,
            rating: c.rating,
            rating_count: c.rating_count,
            status: c.status.as_str().to_owned(),
            is_active: c.is_active,
            distance_km: c.distance_km,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

request_body! {
    /// `POST /clinics/` body (ClinicIn; `status`, `is_active` and `rating` are ignored).
    pub struct ClinicCreateRequest {
        /// Name.
        pub name: Text<1, 255>,
        /// URL slug; generated from the name when absent, null or `""`.
        pub slug: Option<Slug>,
        /// Description.
        pub description: Option<Text<0, 5000>>,
        /// Logo URL.
        pub logo_url: Option<Text<0, 2048>>,
        /// Free-form contacts.
        pub contacts: Option<JsonObject>,
        /// Address.
        pub address: Text<1, 2000>,
        /// Latitude, stored rounded to 8 decimals.
        pub latitude: Option<Number<-90, 90>>,
        /// Longitude, stored rounded to 8 decimals.
        pub longitude: Option<Number<-180, 180>>,
        /// Free-form opening hours.
        pub opening_hours: Option<JsonObject>,
    }
}

request_body! {
    /// `PUT /clinics/{id}` body: ClinicIn with every member optional, `null` = unchanged.
    pub struct ClinicUpdateRequest {
        /// Name.
        pub name: Option<Text<1, 255>>,
        /// URL slug (`""` = unchanged).
        pub slug: Option<Slug>,
        /// Description.
        pub description: Option<Text<0, 5000>>,
        /// Logo URL.
        pub logo_url: Option<Text<0, 2048>>,
        /// Free-form contacts.
        pub contacts: Option<JsonObject>,
        /// Address.
        pub address: Option<Text<1, 2000>>,
        /// Latitude, stored rounded to 8 decimals.
        pub latitude: Option<Number<-90, 90>>,
        /// Longitude, stored rounded to 8 decimals.
        pub longitude: Option<Number<-180, 180>>,
        /// Free-form opening hours.
        pub opening_hours: Option<JsonObject>,
        /// Clinic status.
        pub status: Option<ClinicStatus>,
    }
}

// ---------------------------------------------------------------------------------------------
// Clinics
// ---------------------------------------------------------------------------------------------

/// Creates a clinic.
#[utoipa::path(post, path = "/api/v1/clinics/", tag = "clinics", operation_id = "create_clinic",
    security(("bearerAuth" = [])),
    request_body(content = ClinicCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new clinic", body = ClinicResponse),
        (status = 400, description = "Slug taken", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn create_clinic(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let body: ClinicCreateRequest = input::body(&req, &body)?;
    let clinic = NewClinic {
        name: body.name.into(),
        slug: body.slug.and_then(Slug::given),
        description: body.description.map(String::from),
        logo_url: body.logo_url.map(String::from),
        contacts: body.contacts.map(JsonObject::into_map),
        address: body.address.into(),
        latitude: body.latitude.map(Number::get),
        longitude: body.longitude.map(Number::get),
        opening_hours: body.opening_hours.map(JsonObject::into_map),
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let created = state.directory.create_clinic(clinic, &stamp).await?;
    Ok(HttpResponse::Created().json(ClinicResponse::from(&created)))
}

request_query! {
    /// Filters of the clinic listing and search.
    pub struct ClinicFilterParams {
        /// Exact match (default true)
        pub is_active: FlagOr<true>,
        /// Exact status
        pub status: Option<ClinicStatus>,
        /// Case-insensitive substring of the name
        pub name_search: Option<Text<0, 200>>,
        /// Minimum rating (unrated excluded)
        pub min_rating: Option<Number<0, 5>>,
    }
}

request_query! {
    /// Filters of the nearby clinic search.
    pub struct NearbyClinicParams {
        /// Exact match (default true)
        pub is_active: FlagOr<true>,
        /// Minimum rating
        pub min_rating: Option<Number<0, 5>>,
    }
}

async fn list_or_search(req: &HttpRequest, state: &AppState) -> ApiResult<HttpResponse> {
    let mut query = Query::new(req);
    let window = query.read::<WindowParams>();
    let filter = query.read::<ClinicFilterParams>();
    let (window, filter) = query.complete((window, filter))?;
    let window = directory_window(&window);
    let filter = ClinicFilter {
        is_active: Some(filter.is_active.get()),
        status: filter.status,
        name_search: filter.name_search.map(String::from),
        min_rating: filter.min_rating.map(Number::get),
    };
    let clinics = state.directory.list_clinics(&filter, window).await?;
    Ok(HttpResponse::Ok().json(
        clinics
            .iter()
            .map(ClinicListItemResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Lists clinics by name.
#[utoipa::path(get, path = "/api/v1/clinics/", tag = "clinics", operation_id = "list_clinics",
    security(),
    params(WindowParams, ClinicFilterParams),
    responses(
        (status = 200, description = "Clinics (a bare array)", body = Vec<ClinicListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list_clinics(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    list_or_search(&req, &state).await
}

/// Searches clinics (same as the listing).
#[utoipa::path(get, path = "/api/v1/clinics/search", tag = "clinics", operation_id = "search_clinics",
    security(),
    params(WindowParams, ClinicFilterParams),
    responses(
        (status = 200, description = "Clinics (a bare array)", body = Vec<ClinicListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn search_clinics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    list_or_search(&req, &state).await
}

/// Clinics near a point, nearest first.
#[utoipa::path(get, path = "/api/v1/clinics/nearby", tag = "clinics", operation_id = "nearby_clinics",
    security(),
    params(PointParams, WindowParams, NearbyClinicParams),
    responses(
        (status = 200, description = "Clinics by sphere distance (a bare array)", body = Vec<ClinicListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn nearby_clinics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let point = query.read::<PointParams>();
    let window = query.read::<WindowParams>();
    let filter = query.read::<NearbyClinicParams>();
    let (point, window, filter) = query.complete((point, window, filter))?;
    let (geo, window) = (geo_query(&point), directory_window(&window));
    let filter = NearbyClinicFilter {
        is_active: Some(filter.is_active.get()),
        min_rating: filter.min_rating.map(Number::get),
    };
    let clinics = state.directory.nearby_clinics(geo, &filter, window).await?;
    Ok(HttpResponse::Ok().json(
        clinics
            .iter()
            .map(ClinicListItemResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// A clinic by id (cached).
#[utoipa::path(get, path = "/api/v1/clinics/{clinic_id}", tag = "clinics", operation_id = "get_clinic",
    security(),
    params(("clinic_id" = uuid::Uuid, Path, description = "Clinic id")),
    responses(
        (status = 200, description = "The clinic", body = ClinicResponse),
        (status = 404, description = "Unknown or deleted clinic", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn get_clinic(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let id = ClinicId::from_uuid(path_uuid(&req, "clinic_id")?);
    let clinic = state
        .directory
        .clinic(id)
        .await?
        .ok_or_else(|| ApiError::not_found(CLINIC_NOT_FOUND))?;
    Ok(HttpResponse::Ok().json(ClinicResponse::from(&clinic)))
}

/// A clinic by slug.
#[utoipa::path(get, path = "/api/v1/clinics/slug/{slug}", tag = "clinics", operation_id = "get_clinic_by_slug",
    security(),
    params(("slug" = String, Path, description = "Clinic slug")),
    responses(
        (status = 200, description = "The clinic", body = ClinicResponse),
        (status = 404, description = "Unknown or deleted clinic", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn get_clinic_by_slug(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let slug = percent_decode(req.match_info().get("slug").unwrap_or_default());
    if slug.contains('\0') {
        // No stored slug can contain one (and PostgreSQL text cannot hold it).
        return Err(ApiError::not_found(CLINIC_NOT_FOUND));
    }
    let clinic = state
        .directory
        .clinic_by_slug(&slug)
        .await?
        .ok_or_else(|| ApiError::not_found(CLINIC_NOT_FOUND))?;
    Ok(HttpResponse::Ok().json(ClinicResponse::from(&clinic)))
}

/// Partially updates a clinic (`null` = unchanged; no recognised member → the clinic as is).
#[utoipa::path(put, path = "/api/v1/clinics/{clinic_id}", tag = "clinics", operation_id = "update_clinic",
    security(("bearerAuth" = [])),
    params(("clinic_id" = uuid::Uuid, Path, description = "Clinic id")),
    request_body(content = ClinicUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The clinic", body = ClinicResponse),
        (status = 400, description = "Slug taken", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown or deleted clinic", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn update_clinic(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = ClinicId::from_uuid(path_uuid(&req, "clinic_id")?);
    let body: ClinicUpdateRequest = input::body(&req, &body)?;
    let patch = ClinicPatch {
        name: body.name.map(String::from),
        slug: body.slug.and_then(Slug::given),
        description: body.description.map(String::from),
        logo_url: body.logo_url.map(String::from),
        contacts: body.contacts.map(JsonObject::into_map),
        address: body.address.map(String::from),
        latitude: body.latitude.map(Number::get),
        longitude: body.longitude.map(Number::get),
        opening_hours: body.opening_hours.map(JsonObject::into_map),
        status: body.status,
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let clinic = state.directory.update_clinic(id, &patch, &stamp).await?;
    Ok(HttpResponse::Ok().json(ClinicResponse::from(&clinic)))
}

/// Soft-deletes a clinic.
#[utoipa::path(delete, path = "/api/v1/clinics/{clinic_id}", tag = "clinics", operation_id = "delete_clinic",
    security(("bearerAuth" = [])),
    params(("clinic_id" = uuid::Uuid, Path, description = "Clinic id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown or already deleted clinic", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn delete_clinic(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = ClinicId::from_uuid(path_uuid(&req, "clinic_id")?);
    let stamp = audit_stamp(&req, admin.0.id);
    state.directory.delete_clinic(id, &stamp).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the clinic routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let base = format!("{prefix}/clinics");
    let one = format!("{base}/{{clinic_id}}");
    routes
        .route(Method::POST, &format!("{base}/"), create_clinic)
        .route(Method::GET, &format!("{base}/"), list_clinics)
        .route(Method::GET, &format!("{base}/search"), search_clinics)
        .route(Method::GET, &format!("{base}/nearby"), nearby_clinics)
        .route(
            Method::GET,
            &format!("{base}/slug/{{slug}}"),
            get_clinic_by_slug,
        )
        .route(Method::GET, &one, get_clinic)
        .route(Method::PUT, &one, update_clinic)
        .route(Method::DELETE, &one, delete_clinic);
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_clinic,
    list_clinics,
    search_clinics,
    nearby_clinics,
    get_clinic,
    get_clinic_by_slug,
    update_clinic,
    delete_clinic,
))]
pub struct Docs;
