//! Fixed-window rate limiting per client IP and policy, shared through Redis; runs before
//! authentication and body parsing; fails open when Redis fails.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use medico24_identity::{RateLimiter, RatePolicy};

use super::error::ApiError;
use super::middleware::{RequestContext, is_preflight};
use crate::state::AppState;

/// The rate-limit headers (`X-RateLimit-*`, `RateLimit`, `RateLimit-Policy`) for `count` requests
/// against `limit` with `seconds_left` in the window.
fn limit_headers(
    headers: &mut HeaderMap,
    policy: RatePolicy,
    limit: u32,
    count: u64,
    reset_at: u64,
    seconds_left: u64,
) {
    let remaining = u64::from(limit).saturating_sub(count);
    let name = policy.as_str();
    let pairs = [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset_at.to_string()),
        ("ratelimit-policy", format!("\"{name}\";q={limit};w=60")),
        (
            "ratelimit",
            format!("\"{name}\";r={remaining};t={seconds_left}"),
        ),
    ];
    for (key, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(key), value);
        }
    }
}

/// The limiting middleware of one resource, whose `policy` was fixed when it was registered.
pub async fn rate_limit(
    policy: RatePolicy,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if is_preflight(req.method(), req.headers()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let limits = state.settings.rate_limits;
    let limit = match policy {
        RatePolicy::Default => limits.default,
        RatePolicy::Auth => limits.auth,
        RatePolicy::AdminSend => limits.admin_send,
        RatePolicy::Environment => limits.environment,
        RatePolicy::Export => limits.export,
    };
    let client = req
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.client_ip)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let window = now / 60;
    let reset_at = (window + 1) * 60;
    let seconds_left = reset_at - now;

    let count = match state
        .rate_limiter
        .hit(policy, &client, i64::try_from(window).unwrap_or_default())
        .await
    {
        Ok(count) => count,
        Err(error) => {
            state.metrics.rate_limiter_errors.inc();
            tracing::warn!(error = %error, policy = policy.as_str(), "rate limiter unavailable; request allowed");
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
    };
    if count > u64::from(limit) {
        state
            .metrics
            .rate_limited
            .with_label_values(&[policy.as_str()])
            .inc();
        let retry_after = seconds_left.max(1);
        let error = ApiError::new(
            super::error::ErrorCode::RateLimited,
            format!("Rate limit exceeded. Retry in {retry_after} seconds."),
        );
        let mut response = error.error_response();
        limit_headers(
            response.headers_mut(),
            policy,
            limit,
            count,
            reset_at,
            seconds_left,
        );
        if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        let (http_request, _) = req.into_parts();
        return Ok(ServiceResponse::new(http_request, response));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    limit_headers(
        response.headers_mut(),
        policy,
        limit,
        count,
        reset_at,
        seconds_left,
    );
    Ok(response)
}
