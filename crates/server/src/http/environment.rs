//! `GET /api/v1/environment/conditions`: air quality and weather for a point, served from
//! the Redis cache when fresh, fetched from Google otherwise (one fetch per point at a time),
//! and served stale with a `Warning` header when Google fails. Public: `Authorization` is never
//! read.

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_environment::{ConditionsReport, GridPoint};
use medico24_identity::RatePolicy;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::input::{self, Number, request_query};
use super::routing::RouteRegistry;
use super::wire;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// Message of the 503 when `GOOGLE_MAPS_API_KEY` is empty.
pub const NOT_CONFIGURED: &str = "environment provider not configured";
/// `Warning` header value of a stale answer.
pub const STALE_WARNING: &str = "110 - \"Response is Stale\"";

/// Current environmental conditions.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EnvironmentalConditions)]
pub struct EnvironmentalConditionsResponse {
    /// Air quality index.
    pub aqi: i64,
    /// Air quality category (e.g. `Moderate air quality`).
    pub aqi_category: String,
    /// Temperature in °C.
    pub temperature: f64,
    /// Weather description (e.g. `Partly cloudy`).
    pub condition: String,
    /// Relative humidity in %.
    pub humidity: Option<f64>,
    /// Dominant pollutant code (e.g. `pm25`).
    pub dominant_pollutant: Option<String>,
    /// When the values were observed.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub observed_at: Option<DateTime<Utc>>,
    /// `true` when the provider failed and older cached values are served.
    pub stale: bool,
}

impl From<ConditionsReport> for EnvironmentalConditionsResponse {
    fn from(report: ConditionsReport) -> Self {
        let c = report.conditions;
        Self {
            aqi: c.aqi,
            aqi_category: c.aqi_category,
            temperature: c.temperature,
            condition: c.condition,
            humidity: c.humidity,
            dominant_pollutant: c.dominant_pollutant,
            observed_at: c.observed_at,
            stale: report.stale,
        }
    }
}

/// Air quality and weather at a point.
#[utoipa::path(get, path = "/api/v1/environment/conditions", tag = "environment",
    operation_id = "environment_conditions",
    security(),
    params(ConditionsParams),
    responses(
        (status = 200, description = "Current conditions; `stale: true` with `Warning: 110 - \"Response is Stale\"` when the provider failed and cached values up to 2 h old are served",
            body = EnvironmentalConditionsResponse),
        (status = 422, description = "Missing, malformed or out-of-range coordinates", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited (policy `environment`)", body = ErrorResponse),
        (status = 502, description = "The provider answered with an error or an unusable body and nothing is cached", body = ErrorResponse),
        (status = 503, description = "Provider not configured, or unreachable with nothing cached", body = ErrorResponse),
    ))]
pub async fn conditions(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    // An unconfigured provider is checked before anything else, the query included.
    let Some(environment) = state.environment.as_ref() else {
        return Err(ApiError::unavailable(NOT_CONFIGURED));
    };
    let point = grid_point(&req)?;
    let lookup = environment
        .conditions(point)
        .await
        .map_err(ApiError::internal)?;
    match lookup {
        Ok(report) => {
            let stale = report.stale;
            let mut response = HttpResponse::Ok();
            if stale {
                response.insert_header((
                    HeaderName::from_static("warning"),
                    HeaderValue::from_static(STALE_WARNING),
                ));
            }
            Ok(response.json(EnvironmentalConditionsResponse::from(report)))
        }
        Err(failure) => Err(failure.into()),
    }
}

request_query! {
    /// The point asked about.
    pub struct ConditionsParams {
        /// Latitude (rounded to 3 decimals for lookup and caching)
        pub lat: Number<-90, 90>,
        /// Longitude (rounded to 3 decimals for lookup and caching)
        pub lng: Number<-180, 180>,
    }
}

/// `lat`/`lng` from the query, rounded to the grid.
fn grid_point(req: &HttpRequest) -> ApiResult<GridPoint> {
    let point = input::query::<ConditionsParams>(req)?;
    Ok(GridPoint::round(point.lat.get(), point.lng.get())?)
}

/// Registers the environment route under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    // Each miss costs paid upstream calls: the environment budget.
    routes
        .route(
            Method::GET,
            &format!("{prefix}/environment/conditions"),
            conditions,
        )
        .limited(Some(RatePolicy::Environment));
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(conditions))]
pub struct Docs;
