//! Root, liveness, readiness and dependency health.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::checks::{CheckStatus, Checks, check_dependencies};
use super::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `GET /`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RootResponse {
    /// `Welcome to <APP_NAME>`.
    pub message: String,
    /// `APP_VERSION`.
    pub version: String,
    /// Where the interactive docs are.
    pub docs: String,
}

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// Always `healthy`.
    pub status: String,
    /// `APP_VERSION`.
    pub version: String,
    /// `ENVIRONMENT`.
    pub environment: String,
}

/// `{"message": "pong"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PingResponse {
    /// Always `pong`.
    pub message: String,
}

/// `GET /api/v1/health/detailed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailedHealthResponse {
    /// `healthy` when both checks pass, else `degraded`.
    #[schema(value_type = crate::openapi::enums::OverallHealth)]
    pub status: String,
    /// `APP_VERSION`.
    pub version: String,
    /// `ENVIRONMENT`.
    pub environment: String,
    /// Database check status.
    pub database: CheckStatus,
    /// Redis check status.
    pub redis: CheckStatus,
    /// Details with latencies.
    pub checks: Checks,
}

/// `GET /api/v1/health/ready` with the database up.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyResponse {
    /// Always `ready`.
    pub status: String,
    /// Always `healthy` (else the answer is 503).
    pub database: CheckStatus,
    /// Redis does not affect readiness.
    pub redis: CheckStatus,
}

/// Welcome message with the version and the docs location.
#[utoipa::path(get, path = "/", tag = "health", operation_id = "root",
    security(),
    responses((status = 200, description = "Service banner", body = RootResponse)))]
pub async fn root(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(RootResponse {
        message: format!("Welcome to {}", state.settings.app_name),
        version: state.settings.app_version.clone(),
        docs: "/docs".to_owned(),
    })
}

/// Liveness: answers without contacting any dependency.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", operation_id = "health",
    security(),
    responses((status = 200, description = "The process is alive", body = HealthResponse)))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "healthy".to_owned(),
        version: state.settings.app_version.clone(),
        environment: state.settings.environment.as_str().to_owned(),
    })
}

/// Liveness ping.
#[utoipa::path(get, path = "/api/v1/ping", tag = "health", operation_id = "ping",
    security(),
    responses((status = 200, description = "Pong", body = PingResponse)))]
pub async fn ping() -> HttpResponse {
    HttpResponse::Ok().json(PingResponse {
        message: "pong".to_owned(),
    })
}

/// Database and Redis status with latencies; always 200.
#[utoipa::path(get, path = "/api/v1/health/detailed", tag = "health", operation_id = "health_detailed",
    security(),
    responses((status = 200, description = "Dependency status", body = DetailedHealthResponse)))]
pub async fn detailed(state: web::Data<AppState>) -> HttpResponse {
    let checks = check_dependencies(&state).await;
    let all_healthy = checks.database.status == CheckStatus::Healthy
        && checks.redis.status == CheckStatus::Healthy;
    HttpResponse::Ok().json(DetailedHealthResponse {
        status: if all_healthy { "healthy" } else { "degraded" }.to_owned(),
        version: state.settings.app_version.clone(),
        environment: state.settings.environment.as_str().to_owned(),
        database: checks.database.status,
        redis: checks.redis.status,
        checks,
    })
}

/// Readiness: 200 while the database answers, else 503.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "health", operation_id = "health_ready",
    security(),
    responses(
        (status = 200, description = "Ready to serve", body = ReadyResponse),
        (status = 503, description = "Database unavailable", body = crate::openapi::schemas::ErrorResponse),
    ))]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let checks = check_dependencies(&state).await;
    if checks.database.status != CheckStatus::Healthy {
        return Err(ApiError::unavailable("Database unavailable"));
    }
    Ok(HttpResponse::Ok().json(ReadyResponse {
        status: "ready".to_owned(),
        database: checks.database.status,
        redis: checks.redis.status,
    }))
}
