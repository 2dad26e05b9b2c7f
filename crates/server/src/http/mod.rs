//! The HTTP layer: routes, handlers, DTOs, extractors, middleware and the error envelope.

pub mod admin;
pub mod admin_notifications;
pub mod admin_stats;
pub mod appointments;
pub mod associations;
pub mod audit;
pub mod auth;
pub mod bodies;
pub mod checks;
pub mod client_ip;
pub mod clinics;
pub mod cursor;
pub mod docs;
pub mod doctors;
pub mod environment;
pub mod error;
pub mod events;
pub mod extract;
pub mod fields;
pub mod health;
pub mod input;
pub mod metrics;
pub mod middleware;
pub mod notification_preferences;
pub mod notifications;
pub mod paging;
pub mod pharmacies;
pub mod pharmacy_admin;
pub mod pharmacy_bodies;
pub mod privacy;
pub mod rate_limit;
pub mod routing;
pub mod search;
pub mod users;
pub mod wire;

use actix_web::http::Method;
use actix_web::web;

use self::error::ApiError;
use self::routing::RouteRegistry;

/// Every route of the API catalogue that this build serves, under `prefix`.
pub fn api_routes(prefix: &str) -> RouteRegistry {
    let mut routes = RouteRegistry::new();
    // Probes and scrapes are not limited: a load balancer or Prometheus polling from one
    // address must never be refused.
    routes
        .route(Method::GET, "/", health::root)
        .limited(None)
        .route(Method::GET, "/metrics", metrics::metrics)
        .limited(None)
        .route(Method::GET, &format!("{prefix}/health"), health::health)
        .limited(None)
        .route(
            Method::GET,
            &format!("{prefix}/health/detailed"),
            health::detailed,
        )
        .limited(None)
        .route(
            Method::GET,
            &format!("{prefix}/health/ready"),
            health::ready,
        )
        .limited(None)
        .route(Method::GET, &format!("{prefix}/ping"), health::ping)
        .limited(None);
    // One line per capability module.
    auth::routes(&mut routes, prefix);
    users::routes(&mut routes, prefix);
    privacy::routes(&mut routes, prefix);
    admin::routes(&mut routes, prefix);
    admin_stats::routes(&mut routes, prefix);
    environment::routes(&mut routes, prefix);
    appointments::routes(&mut routes, prefix);
    pharmacies::routes(&mut routes, prefix);
    pharmacy_admin::routes(&mut routes, prefix);
    clinics::routes(&mut routes, prefix);
    associations::routes(&mut routes, prefix);
    doctors::routes(&mut routes, prefix);
    notifications::routes(&mut routes, prefix);
    notification_preferences::routes(&mut routes, prefix);
    admin_notifications::routes(&mut routes, prefix);
    events::routes(&mut routes, prefix);
    routes
}

/// The documentation routes: served, but not part of the catalogue or the document.
/// Each answers `HEAD` as well as `GET` (the server sends a `HEAD` answer without its body).
pub fn docs_routes() -> RouteRegistry {
    let mut routes = RouteRegistry::unlimited();
    for method in [Method::GET, Method::HEAD] {
        routes
            .route(method.clone(), "/openapi.json", docs::openapi_json)
            .route(method.clone(), "/docs", docs::swagger_page)
            .route(method.clone(), "/docs/{file}", docs::swagger_asset)
            .route(method.clone(), "/redoc", docs::redoc_page)
            .route(method, "/redoc/redoc.standalone.js", docs::redoc_bundle);
    }
    routes
}

/// Registers every route and the extractor error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, prefix: &str, max_body_bytes: usize) {
    cfg.app_data(extract::json_config(max_body_bytes))
        .app_data(extract::query_config())
        .app_data(extract::path_config());
    api_routes(prefix).register(cfg);
    docs_routes().register(cfg);
}

/// Answer for paths no route matches.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("Not Found"))
}

#[cfg(test)]
mod tests {
    use medico24_identity::RatePolicy;

    #[test]
    fn every_route_declares_its_rate_limit_policy_where_it_is_registered() {
        let policies = super::api_routes("/api/v1").policies();
        let special = [
            ("/", None),
            ("/metrics", None),
            ("/api/v1/health", None),
            ("/api/v1/health/detailed", None),
            ("/api/v1/health/ready", None),
            ("/api/v1/ping", None),
            ("/api/v1/auth/firebase/verify", Some(RatePolicy::Auth)),
            ("/api/v1/auth/refresh", Some(RatePolicy::Auth)),
            ("/api/v1/auth/logout", Some(RatePolicy::Auth)),
            ("/api/v1/auth/logout-all", Some(RatePolicy::Auth)),
            ("/api/v1/notifications/send", Some(RatePolicy::AdminSend)),
            (
                "/api/v1/notifications/admin-send",
                Some(RatePolicy::AdminSend),
            ),
            (
                "/api/v1/admin/notifications/broadcast",
                Some(RatePolicy::AdminSend),
            ),
            (
                "/api/v1/environment/conditions",
                Some(RatePolicy::Environment),
            ),
            ("/api/v1/users/me/export", Some(RatePolicy::Export)),
            (
                "/api/v1/admin/users/{user_id}/export",
                Some(RatePolicy::Export),
            ),
        ];
        for (template, policy) in special {
            assert_eq!(policies.get(template), Some(&policy), "{template}");
        }
        for (template, policy) in &policies {
            if !special.iter().any(|(t, _)| t == template) {
                assert_eq!(*policy, Some(RatePolicy::Default), "{template}");
            }
        }
        assert!(
            super::docs_routes()
                .policies()
                .values()
                .all(Option::is_none)
        );
    }
}
