//! `GET /metrics`: Prometheus text, optionally behind `METRICS_TOKEN`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::{ApiError, ApiResult};
use crate::security::constant_time_eq;
use crate::state::AppState;

/// Prometheus text exposition of every series.
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "metrics",
    security((), ("metricsToken" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String,
            example = "# HELP http_requests_total Total HTTP requests.\n# TYPE http_requests_total counter\nhttp_requests_total{handler=\"/api/v1/ping\",method=\"GET\",status=\"2xx\"} 1\n"),
        (status = 401, description = "Missing or wrong metrics token", body = crate::openapi::schemas::ErrorResponse),
    ))]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if let Some(expected) = &state.settings.metrics_token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if !presented.is_some_and(|token| constant_time_eq(token, expected.expose())) {
            return Err(ApiError::unauthorized("Not authenticated"));
        }
    }
    let pool = state.db.status();
    let m = &state.metrics;
    m.db_pool_connections
        .with_label_values(&["idle"])
        .set(pool.idle as i64);
    m.db_pool_connections
        .with_label_values(&["in_use"])
        .set(pool.in_use as i64);
    m.db_pool_max.set(pool.max as i64);
    let body = m.render().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
