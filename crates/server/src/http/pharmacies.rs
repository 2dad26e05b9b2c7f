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
use super::input::{Above, FlagOr, Number, Query, request_query};
use super::pharmacy_bodies::{PharmacyHoursResponse, PharmacyListItemResponse, PharmacyResponse};
use super::routing::RouteRegistry;
use super::search::{PointParams, WindowParams};
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

request_query! {
    /// Filters of the pharmacy listings.
    pub struct PharmacyFilterParams {
        /// Exact match (default true)
        pub is_active: FlagOr<true>,
        /// Exact match
        pub is_verified: Option<bool>,
        /// Exact match
        pub supports_delivery: Option<bool>,
        /// Exact match
        pub supports_pickup: Option<bool>,
        /// `true`: only pharmacies open now
        pub open_now: FlagOr<false>,
    }
}

impl PharmacyFilterParams {
    fn filter(&self) -> PharmacyFilter {
        PharmacyFilter {
            is_active: self.is_active.get(),
            is_verified: self.is_verified,
            supports_delivery: self.supports_delivery,
            supports_pickup: self.supports_pickup,
            open_now: self.open_now.get(),
        }
    }
}

request_query! {
    /// The optional search point of the listing: with both coordinates it is a nearby search.
    pub struct OptionalPointParams {
        /// With `longitude`: search point
        pub latitude: Option<Number<-90, 90>>,
        /// With `latitude`: search point
        pub longitude: Option<Number<-180, 180>>,
        /// Geo search radius (default 10)
        pub radius_km: Option<Above<0, 100>>,
    }
}

fn window(params: &WindowParams) -> Window {
    // Read within the window's bounds.
    Window::new(params.skip(), params.limit()).unwrap_or_default()
}

fn radius(radius_km: Option<Above<0, 100>>) -> RadiusKm {
    // Read within the radius' bounds.
    radius_km
        .and_then(|km| RadiusKm::new(km.get()).ok())
        .unwrap_or(RadiusKm::DEFAULT)
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Lists pharmacies; with both `latitude` and `longitude` this is the nearby search.
#[utoipa::path(get, path = "/api/v1/pharmacies", tag = "pharmacies", operation_id = "list_pharmacies",
    security(),
    params(WindowParams, OptionalPointParams, PharmacyFilterParams),
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
    let mut query = Query::new(&req);
    let window_params = query.read::<WindowParams>();
    let point = query.read::<OptionalPointParams>();
    let filter = query.read::<PharmacyFilterParams>();
    let (window_params, point, filter) = query.complete((window_params, point, filter))?;
    let (window, filter) = (window(&window_params), filter.filter());
    if let (Some(latitude), Some(longitude)) = (point.latitude, point.longitude) {
        let radius = radius(point.radius_km);
        return nearby_body(
            &state,
            latitude.get(),
            longitude.get(),
            radius,
            filter,
            window,
        )
        .await;
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
    params(PointParams, WindowParams, PharmacyFilterParams),
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
    let mut query = Query::new(&req);
    let point = query.read::<PointParams>();
    let window_params = query.read::<WindowParams>();
    let filter = query.read::<PharmacyFilterParams>();
    let (point, window_params, filter) = query.complete((point, window_params, filter))?;
    let (latitude, longitude) = (point.latitude.get(), point.longitude.get());
    let radius = radius(point.radius_km);
    let (window, filter) = (window(&window_params), filter.filter());
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
