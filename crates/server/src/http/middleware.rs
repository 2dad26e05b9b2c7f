//! Cross-cutting HTTP behaviour, outermost first: the edge (request id, slash normalisation,
//! timing, access log, metrics, panic capture, error envelope), CORS, and the request guard
//! (body size). Every answer, from any layer, leaves through the edge.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::FutureExt;

use super::client_ip::client_ip;
use super::error::{ApiError, ErrorBody, ErrorCode};
use crate::config::CorsOrigins;
use crate::metrics::status_class;
use crate::state::AppState;

/// Per-request facts set by the edge and read by handlers, extractors and the access log.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The `X-Request-ID` of the response.
    pub request_id: String,
    /// The path as received (before slash normalisation), for error bodies.
    pub original_path: String,
    /// The resolved client IP, when known.
    pub client_ip: Option<std::net::IpAddr>,
    /// The matched route template (`None` for a preflight or an unknown path). Resolved once
    /// here: each lookup walks actix's resource map, regex by regex.
    pub route: Option<String>,
}

/// The authenticated user of a request, recorded by the auth extractor for the access log.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedUser(pub uuid::Uuid);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_PROCESS_TIME: HeaderName = HeaderName::from_static("x-process-time");

/// Paths that are neither instrumented nor slash-normalised (the API docs).
fn is_docs_path(path: &str) -> bool {
    path == "/openapi.json"
        || path == "/docs"
        || path.starts_with("/docs/")
        || path == "/redoc"
        || path.starts_with("/redoc/")
}

/// Whether the request is a CORS preflight.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// An incoming `X-Request-ID` is echoed when it is 1–128 characters of `[A-Za-z0-9._:-]`.
fn accepted_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(X_REQUEST_ID)?.to_str().ok()?;
    let valid = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    valid.then(|| value.to_owned())
}

/// Trims one trailing slash (except from `/`) so both slash forms reach the same resource.
fn normalize_trailing_slash(req: &mut ServiceRequest) {
    let path = req.path();
    if path.len() <= 1 || !path.ends_with('/') || is_docs_path(path) {
        return;
    }
    let trimmed = &path[..path.len() - 1];
    let rebuilt = match req.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    if let Ok(uri) = rebuilt.parse::<Uri>() {
        req.head_mut().uri = uri.clone();
        req.match_info_mut().get_mut().update(&uri);
    }
}

/// The outermost layer.
pub async fn edge(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let request_id =
        accepted_request_id(req.headers()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let original_path = req.path().to_owned();
    normalize_trailing_slash(&mut req);
    let method = req.method().clone();
    let method_label = crate::metrics::method_label(&method);
    let instrumented = !is_docs_path(req.path());
    let route = if is_preflight(&method, req.headers()) {
        None
    } else {
        req.match_name().map(str::to_owned)
    };
    let handler = route.clone().unwrap_or_else(|| "none".to_owned());
    let ip = client_ip(
        req.peer_addr(),
        req.headers(),
        &state.settings.trusted_proxies,
    );
    req.extensions_mut().insert(RequestContext {
        request_id: request_id.clone(),
        original_path: original_path.clone(),
        client_ip: ip,
        route,
    });
    let request_size = content_length(req.headers());

    if instrumented {
        state
            .metrics
            .http_in_progress
            .with_label_values(&[&handler, method_label])
            .inc();
    }
    // The request must not be cloned before routing (actix captures path parameters in place),
    // so panics are caught per resource by `catch_panic`; inner layers always answer `Ok`.
    let outcome = next.call(req).await;
    if instrumented {
        state
            .metrics
            .http_in_progress
            .with_label_values(&[&handler, method_label])
            .dec();
    }
    let mut response = outcome?.map_into_boxed_body();

    let status = response.status();
    let mut failure_cause = None;
    if !status.is_success() {
        let body = response
            .response()
            .extensions()
            .get::<ErrorBody>()
            .cloned()
            .unwrap_or_else(|| generic_error_body(status));
        failure_cause = body.internal_cause.clone();
        let rendered =
            serde_json::to_vec(&body.render(&original_path, &request_id)).unwrap_or_default();
        response = response.map_body(|head, _| {
            head.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            BoxBody::new(rendered)
        });
    }

    let elapsed = started.elapsed();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{:.6}", elapsed.as_secs_f64())) {
        headers.insert(X_PROCESS_TIME, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Responses carry tokens, personal and medical data, and even public ones vary with the
    // caller (a shared cache keyed on the URL alone would serve one caller's answer to
    // another): nothing is stored by browsers or proxies unless a handler says otherwise (the
    // static documentation assets do).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    if instrumented {
        let m = &state.metrics;
        let seconds = elapsed.as_secs_f64();
        m.http_requests
            .with_label_values(&[&handler, method_label, status_class(status.as_u16())])
            .inc();
        m.http_duration
            .with_label_values(&[&handler, method_label])
            .observe(seconds);
        m.http_duration_highr.observe(seconds);
        if let Some(size) = request_size {
            m.http_request_size.observe(&handler, size);
        }
        if let actix_web::body::BodySize::Sized(size) = response.response().body().size() {
            m.http_response_size.observe(&handler, size as f64);
        }
    }

    let user_id = response
        .request()
        .extensions()
        .get::<AuthenticatedUser>()
        .map(|u| u.0.to_string());
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let client = ip.map(|ip| ip.to_string());
    if let Some(cause) = failure_cause {
        tracing::error!(
            request_id = %request_id,
            method = %method,
            route = %handler,
            error = %cause,
            "request_failed"
        );
    }
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %handler,
        status = status.as_u16(),
        duration_ms,
        client_ip = client.as_deref().unwrap_or("-"),
        user_id = user_id.as_deref(),
        "request_completed"
    );
    Ok(response)
}

fn content_length(headers: &HeaderMap) -> Option<f64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()
        .map(|n| n as f64)
}

fn generic_error_body(status: StatusCode) -> ErrorBody {
    let code = ErrorCode::for_status(status);
    ErrorBody {
        code,
        message: code.default_message().into(),
        details: Vec::new(),
        extra: None,
        internal_cause: (code == ErrorCode::InternalError)
            .then(|| format!("unhandled {status} produced outside the error envelope")),
    }
}

const ALLOW_METHODS: &str = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";
const EXPOSE_HEADERS: &str = "X-Request-ID, X-Process-Time, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy, Retry-After, Warning, Idempotent-Replayed";

/// CORS for the configured origins: preflights are answered here; other responses to allowed
/// origins get the allow/expose headers (errors included).
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let settings = &state.settings;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let allowed_origin = origin
        .as_deref()
        .and_then(|origin| match &settings.cors_origins {
            CorsOrigins::Any => Some("*".to_owned()),
            CorsOrigins::List(list) => list.iter().any(|o| o == origin).then(|| origin.to_owned()),
        });

    if is_preflight(req.method(), req.headers()) {
        let Some(allowed_origin) = allowed_origin else {
            let (http_request, _) = req.into_parts();
            return Ok(ServiceResponse::new(
                http_request,
                ApiError::bad_request("Disallowed CORS origin").error_response(),
            ));
        };
        let requested_headers = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned();
        let mut response = actix_web::HttpResponse::Ok();
        response.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed_origin));
        if settings.cors_allow_credentials {
            response.insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"));
        }
        response.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS));
        if let Some(requested) = requested_headers {
            response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested));
        }
        response.insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        response.insert_header((header::VARY, "Origin"));
        let (http_request, _) = req.into_parts();
        return Ok(ServiceResponse::new(http_request, response.finish()));
    }

    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(allowed_origin) = allowed_origin {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&allowed_origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
        if settings.cors_allow_credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    Ok(response)
}

/// Turns a panic in a handler into the 500 envelope. Installed on every resource, i.e. after
/// routing, where the request may be cloned.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let http_request = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => Ok(result?.map_into_boxed_body()),
        Err(_panic) => Ok(ServiceResponse::new(
            http_request,
            ApiError::internal("request handler panicked").error_response(),
        )),
    }
}

/// Refuses bodies announced larger than `MAX_REQUEST_BODY_BYTES` before anything reads them;
/// bodies that grow past the limit while being read are refused by the body extractors.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(usize::MAX, |state| state.settings.max_request_body_bytes);
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit as u64) {
        let (http_request, _) = req.into_parts();
        return Ok(ServiceResponse::new(
            http_request,
            ApiError::payload_too_large().error_response(),
        ));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_with_id(id: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(X_REQUEST_ID, HeaderValue::from_str(id).unwrap());
        map
    }

    #[test]
    fn well_formed_request_ids_are_echoed() {
        assert_eq!(
            accepted_request_id(&headers_with_id("abc-123_x.y:z")),
            Some("abc-123_x.y:z".to_owned())
        );
    }

    #[test]
    fn malformed_or_long_request_ids_are_replaced() {
        assert_eq!(accepted_request_id(&headers_with_id("has space")), None);
        assert_eq!(
            accepted_request_id(&headers_with_id(&"a".repeat(129))),
            None
        );
        assert_eq!(accepted_request_id(&HeaderMap::new()), None);
    }
}
