//! Route registration: canonical templates, literal-before-parameter ordering, the other
//! trailing-slash form, and 405 with `Allow` for every known path.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::dev::HttpServiceFactory;
use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, Handler, Responder, Route};

use actix_web::middleware::from_fn;

use medico24_identity::RatePolicy;

use super::error::ApiError;
use super::middleware::catch_panic;
use super::rate_limit::rate_limit;

/// One (method, canonical template) pair served by the application.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteEntry {
    /// Upper-case method (`GET`).
    pub method: String,
    /// Canonical template as documented (`/api/v1/appointments/{appointment_id}`).
    pub template: String,
}

/// Every route the application serves; used for the OpenAPI cross-check and docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteCatalog {
    /// Sorted, unique entries.
    pub entries: BTreeSet<RouteEntry>,
}

struct ResourceSpec {
    canonical: String,
    routes: Vec<(Method, Route)>,
    /// The rate-limit policy of every method of the resource; `None` = not limited.
    policy: Option<RatePolicy>,
}

/// Collects routes with their rate-limit policies, then registers them on an actix
/// `ServiceConfig` in matching order.
pub struct RouteRegistry {
    resources: Vec<ResourceSpec>,
    /// The policy a newly routed resource starts with.
    default_policy: Option<RatePolicy>,
    /// Index of the resource routed last (the one [`Self::limited`] applies to).
    last: Option<usize>,
}

impl Default for RouteRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl RouteRegistry {
    /// An empty registry whose routes are limited by [`RatePolicy::Default`] unless declared
    /// otherwise with [`Self::limited`].
    pub fn new() -> Self {
        Self {
            resources: Vec::new(),
            default_policy: Some(RatePolicy::Default),
            last: None,
        }
    }

    /// An empty registry whose routes are not rate limited (the documentation pages).
    pub fn unlimited() -> Self {
        Self {
            default_policy: None,
            ..Self::new()
        }
    }

    /// Declares the rate-limit policy of the resource routed last (`None`: not limited). The
    /// limiter wraps the resource itself, so it applies to the route that runs, however the
    /// request spelled its path.
    pub fn limited(&mut self, policy: Option<RatePolicy>) -> &mut Self {
        if let Some(resource) = self.last.and_then(|i| self.resources.get_mut(i)) {
            resource.policy = policy;
        }
        self
    }

    /// The rate-limit policy of every registered template, keyed by its form without a
    /// trailing slash (the form the OpenAPI document names).
    pub fn policies(&self) -> BTreeMap<String, Option<RatePolicy>> {
        self.resources
            .iter()
            .map(|r| (routed_path(&r.canonical).to_owned(), r.policy))
            .collect()
    }

    /// Serves `method canonical` with `handler`. The canonical template is what OpenAPI, logs and
    /// metrics show; the form with one trailing `/` added or removed is served the same.
    pub fn route<F, Args>(&mut self, method: Method, canonical: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = web::method(method.clone()).to(handler);
        match self.resources.iter().position(|r| r.canonical == canonical) {
            Some(index) => {
                if let Some(resource) = self.resources.get_mut(index) {
                    resource.routes.push((method, route));
                }
                self.last = Some(index);
            }
            None => {
                self.resources.push(ResourceSpec {
                    canonical: canonical.to_owned(),
                    routes: vec![(method, route)],
                    policy: self.default_policy,
                });
                self.last = Some(self.resources.len() - 1);
            }
        }
        self
    }

    /// The (method, template) pairs registered so far.
    pub fn catalog(&self) -> RouteCatalog {
        let entries = self
            .resources
            .iter()
            .flat_map(|r| {
                r.routes.iter().map(|(method, _)| RouteEntry {
                    method: method.as_str().to_owned(),
                    template: r.canonical.clone(),
                })
            })
            .collect();
        RouteCatalog { entries }
    }

    /// Registers every resource. Resources are ordered so that, segment by segment, a literal
    /// beats a `{param}`, because actix takes the first resource whose pattern matches.
    ///
    /// Resources sharing their first three literal segments (`/api/v1/pharmacies`) are grouped
    /// in one scope: actix matches a request against its resources one by one, a `{param}`
    /// pattern by regular expression, so without scopes a path late in the order (the nearby
    /// search) was tried against every parameterised route of the catalogue first. A scope's
    /// prefix is a plain string comparison, and a path it matches is only tried against the
    /// scope's own resources; paths no resource matches fall through to the app's default
    /// service as before.
    ///
    /// Each resource is wrapped by the limiter of the policy declared where it was routed.
    pub fn register(mut self, cfg: &mut ServiceConfig) {
        self.resources
            .sort_by_cached_key(|r| match_order_key(&r.canonical));
        let mut open: Option<(String, actix_web::Scope)> = None;
        for spec in self.resources {
            let routed = routed_path(&spec.canonical).to_owned();
            let scope = scope_prefix(&routed);
            if open.as_ref().map(|(prefix, _)| Some(prefix.as_str())) != Some(scope) {
                if let Some((_, finished)) = open.take() {
                    cfg.service(finished);
                }
                open = scope.map(|prefix| (prefix.to_owned(), web::scope(prefix)));
            }
            match open.take() {
                Some((prefix, group)) => {
                    let inner = routed.get(prefix.len()..).unwrap_or_default();
                    let group = group.service(resource(spec, inner));
                    open = Some((prefix, group));
                }
                None => {
                    cfg.service(resource(spec, &routed));
                }
            }
        }
        if let Some((_, finished)) = open {
            cfg.service(finished);
        }
    }
}

/// One resource served at `path` (relative to its scope): its routes, 405 with `Allow` for
/// other methods, limited by its policy, panics caught.
fn resource(spec: ResourceSpec, path: &str) -> impl HttpServiceFactory + 'static {
    let limit = spec.policy;
    let allow = allow_header(spec.routes.iter().map(|(m, _)| m));
    let mut resource = web::resource(path).name(&spec.canonical);
    for (_, route) in spec.routes {
        resource = resource.route(route);
    }
    resource = resource.default_service(web::to(move || {
        let allow = allow.clone();
        async move { Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed(&allow)) }
    }));
    resource
        .wrap(from_fn(move |req, next| async move {
            match limit {
                Some(policy) => rate_limit(policy, req, next).await,
                None => Ok(next.call(req).await?.map_into_boxed_body()),
            }
        }))
        .wrap(from_fn(catch_panic))
}

/// The scope a routed path belongs to: its first three segments when all are literal
/// (`/api/v1/pharmacies` for `/api/v1/pharmacies/{pharmacy_id}`), else none (served top-level).
fn scope_prefix(routed: &str) -> Option<&str> {
    let mut end = 0;
    for _ in 0..3 {
        let rest = routed.get(end..)?.strip_prefix('/')?;
        let segment = rest.split('/').next()?;
        if segment.is_empty() || segment.contains('{') {
            return None;
        }
        end += 1 + segment.len();
    }
    routed.get(..end)
}

/// The form a template is routed under: without its trailing slash, because the edge middleware
/// trims one trailing slash from every request path before routing.
pub fn routed_path(canonical: &str) -> &str {
    if canonical.len() > 1 {
        canonical.strip_suffix('/').unwrap_or(canonical)
    } else {
        canonical
    }
}

fn allow_header<'a>(methods: impl Iterator<Item = &'a Method>) -> String {
    let names: BTreeSet<&str> = methods.map(Method::as_str).collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}

/// Sort key: per segment, literals (`false`) before parameters (`true`).
fn match_order_key(template: &str) -> Vec<(bool, String)> {
    routed_path(template)
        .split('/')
        .map(|segment| (segment.starts_with('{'), segment.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_sort_before_parameters() {
        let mut templates = [
            "/api/v1/clinics/{clinic_id}",
            "/api/v1/clinics/search",
            "/api/v1/clinics/{clinic_id}/doctors",
            "/api/v1/clinics/doctors/{doctor_id}/clinics",
        ];
        templates.sort_by_cached_key(|t| match_order_key(t));
        let search = templates.iter().position(|t| t.ends_with("/search"));
        let by_id = templates.iter().position(|t| t.ends_with("{clinic_id}"));
        assert!(search < by_id);
        let literal = templates
            .iter()
            .position(|t| t.contains("/doctors/{doctor_id}"));
        let param = templates
            .iter()
            .position(|t| t.ends_with("{clinic_id}/doctors"));
        assert!(literal < param);
    }

    #[test]
    fn routes_are_scoped_by_their_first_three_literal_segments() {
        assert_eq!(
            scope_prefix("/api/v1/pharmacies/search/nearby"),
            Some("/api/v1/pharmacies")
        );
        assert_eq!(
            scope_prefix("/api/v1/pharmacies"),
            Some("/api/v1/pharmacies")
        );
        assert_eq!(scope_prefix("/api/v1/ping"), Some("/api/v1/ping"));
        assert_eq!(scope_prefix("/api/v1"), None);
        assert_eq!(scope_prefix("/docs/{file}"), None);
        assert_eq!(scope_prefix("/api/{version}/pharmacies"), None);
        assert_eq!(scope_prefix("/"), None);
        assert_eq!(scope_prefix("/metrics"), None);
    }

    #[test]
    fn allow_lists_methods_once_in_order() {
        let methods = [Method::PATCH, Method::GET, Method::GET];
        assert_eq!(allow_header(methods.iter()), "GET, PATCH");
    }

    #[test]
    fn trailing_slash_is_trimmed_for_routing_only() {
        assert_eq!(routed_path("/api/v1/appointments/"), "/api/v1/appointments");
        assert_eq!(routed_path("/"), "/");
        assert_eq!(routed_path("/api/v1/ping"), "/api/v1/ping");
    }
}
