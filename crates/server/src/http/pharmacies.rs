//! Public pharmacy reads: the listing, the nearby search, the detail and the opening hours.
//! They never look at `Authorization`. The detail and plain listing are served through the
//! Redis cache as the exact bodies rendered here, so cached and uncached answers are
//! byte-identical. The writes and the admin verify endpoint live in `pharmacy_admin`.

use actix_web::http::Method;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use medico24_pharmacy::{
    Coordinates, DetailView, ListView, NearbyQuery, Pharmacy, PharmacyFilter, PharmacyListItem,
    RadiusKm, Window,
};

use super::error::{ApiError, ApiResult};
use super::fields::pharmacy_id;
use super::input::QueryReader;
use super::pharmacy_bodies::{PharmacyHoursResponse, PharmacyListItemResponse, PharmacyResponse};
use super::routing::RouteRegistry;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

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

/// A body that could not be rendered (a 500; nothing is cached).
fn render_failed(error: serde_json::Error) -> ApiError {
    ApiError::internal(format!("rendering a response body failed: {error}"))
}

/// A 200 with an already rendered JSON body.
fn json_body(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

// ---------------------------------------------------------------------------------------------
// Reading the query
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

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
    let body = match state.pharmacies.list_view(&filter, window).await? {
        ListView::Cached(body) => body,
        ListView::Loaded { items, generation } => {
            let body = render_list(&items).map_err(render_failed)?;
            state
                .pharmacies
                .remember_list(generation, &filter, window, &body)
                .await;
            body
        }
    };
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
    let body = match state.pharmacies.detail_view(id).await? {
        DetailView::Cached(body) => body,
        DetailView::Loaded(pharmacy) => {
            let body = render_detail(&pharmacy).map_err(render_failed)?;
            state.pharmacies.remember_detail(id, &body).await;
            body
        }
    };
    Ok(json_body(body))
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

/// Registers the public pharmacy read routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let base = format!("{prefix}/pharmacies");
    let one = format!("{base}/{{pharmacy_id}}");
    routes
        .route(Method::GET, &base, list_pharmacies)
        .route(
            Method::GET,
            &format!("{base}/search/nearby"),
            nearby_pharmacies,
        )
        .route(Method::GET, &one, get_pharmacy)
        .route(Method::GET, &format!("{one}/hours"), list_pharmacy_hours);
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_pharmacies, nearby_pharmacies, get_pharmacy, list_pharmacy_hours))]
pub struct Docs;
