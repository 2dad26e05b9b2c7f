//! The OpenAPI 3.1 document (`docs/openapi.md`), generated from the handlers' annotations and
//! completed by the passes of [`refine`] where utoipa's annotations cannot say what the server
//! does (headers every answer carries, required members of answers, shared examples).

pub mod enums;
pub mod examples;
mod refine;
pub mod schemas;

pub use schemas::{ConflictResponse, ErrorResponse, ValidationErrorResponse};

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::config::Settings;
use crate::http::error::ValidationIssue;

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::http::health::root,
        crate::http::metrics::metrics,
        crate::http::health::health,
        crate::http::health::detailed,
        crate::http::health::ready,
        crate::http::health::ping,
    ),
    components(schemas(ErrorResponse, ValidationErrorResponse, ConflictResponse, ValidationIssue)),
    tags(
        (name = "health", description = "Root, liveness, readiness and metrics"),
        (name = "environment", description = "Air quality and weather"),
        (name = "auth", description = "Firebase login and sessions"),
        (name = "users", description = "The caller's profile"),
        (name = "appointments", description = "Booking and managing appointments"),
        (name = "clinics", description = "Clinics and doctor–clinic associations"),
        (name = "doctors", description = "The doctor directory"),
        (name = "pharmacies", description = "Pharmacies, locations and hours"),
        (name = "notifications", description = "Push tokens and notification history"),
        (name = "events", description = "The caller's live events (Server-Sent Events)"),
        (name = "admin", description = "Administration console"),
    )
)]
struct ApiDoc;

/// The security schemes, described for the Authorize dialogs of the docs pages; `prefix` is
/// the configured API prefix.
fn add_security_schemes(openapi: &mut OpenApiDoc, prefix: &str) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearerAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(format!(
                    "Access token of a session, sent as `Authorization: Bearer <access_token>`. \
                     Get one by exchanging a Firebase ID token at `POST {prefix}/auth/firebase/verify` \
                     (the answer's `access_token`); when it expires, `POST {prefix}/auth/refresh` \
                     with the `refresh_token` returns a new pair. The account's role is read from \
                     the server on every request, never from the token."
                )))
                .build(),
        ),
    );
    components.add_security_scheme(
        "adminSecret",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Admin-Secret".to_owned(),
            format!(
                "The server's `ADMIN_NOTIFICATION_SECRET`, for server-to-server sends without a \
                 user session: only `POST {prefix}/notifications/admin-send` accepts it. Without \
                 the header the answer is 422, with a wrong value 401."
            ),
        ))),
    );
    components.add_security_scheme(
        "metricsToken",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "Bearer token for `GET /metrics`, the value of the server's `METRICS_TOKEN`. \
                     Only needed when that is set; otherwise `/metrics` is public. Not a user \
                     access token.",
                ))
                .build(),
        ),
    );
}

/// Adds the error answers every operation can give (500 always; 413/422 where input exists is
/// declared per operation).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let error = |description: &str| -> RefOr<Response> {
            RefOr::T(
                utoipa::openapi::ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("Error")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in refine::operations_mut(item) {
                operation
                    .responses
                    .responses
                    .entry("500".to_owned())
                    .or_insert_with(|| error("Unexpected failure (safe message only)"));
            }
        }
    }
}

/// A link (an OpenAPI 3.1 Link Object) from one operation's answer to another operation that takes
/// what it returned: `(source operation, status, target operation, [(target parameter, runtime
/// expression)])`. Generated SDKs and schemathesis's stateful phase follow them.
type LinkSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const BODY_ID: &str = "$response.body#/id";

/// Every link of the document: each created resource to the operations on it.
pub const LINKS: &[LinkSpec] = &[
    (
        "create_appointment",
        "201",
        "get_appointment",
        &[("appointment_id", BODY_ID)],
    ),
    (
        "create_appointment",
        "201",
        "update_appointment",
        &[("appointment_id", BODY_ID)],
    ),
    (
        "create_appointment",
        "201",
        "change_appointment_status",
        &[("appointment_id", BODY_ID)],
    ),
    (
        "create_appointment",
        "201",
        "delete_appointment",
        &[("appointment_id", BODY_ID)],
    ),
    (
        "create_clinic",
        "201",
        "get_clinic",
        &[("clinic_id", BODY_ID)],
    ),
    (
        "create_clinic",
        "201",
        "get_clinic_by_slug",
        &[("slug", "$response.body#/slug")],
    ),
    (
        "create_clinic",
        "201",
        "update_clinic",
        &[("clinic_id", BODY_ID)],
    ),
    (
        "create_clinic",
        "201",
        "delete_clinic",
        &[("clinic_id", BODY_ID)],
    ),
    (
        "create_clinic",
        "201",
        "create_doctor_association",
        &[("clinic_id", BODY_ID)],
    ),
    (
        "create_clinic",
        "201",
        "list_clinic_doctors",
        &[("clinic_id", BODY_ID)],
    ),
    (
        "create_doctor",
        "201",
        "get_doctor",
        &[("doctor_id", BODY_ID)],
    ),
    (
        "create_doctor",
        "201",
        "update_doctor",
        &[("doctor_id", BODY_ID)],
    ),
    (
        "create_doctor",
        "201",
        "verify_doctor",
        &[("doctor_id", BODY_ID)],
    ),
    (
        "create_doctor",
        "201",
        "unverify_doctor",
        &[("doctor_id", BODY_ID)],
    ),
    (
        "create_doctor",
        "201",
        "list_doctor_clinics",
        &[("doctor_id", BODY_ID)],
    ),
    (
        "create_doctor_association",
        "201",
        "update_doctor_association",
        &[("association_id", BODY_ID)],
    ),
    (
        "create_doctor_association",
        "201",
        "end_doctor_association",
        &[("association_id", BODY_ID)],
    ),
    (
        "create_doctor_association",
        "201",
        "remove_doctor_association",
        &[
            ("clinic_id", "$response.body#/clinic_id"),
            ("doctor_id", "$response.body#/doctor_id"),
        ],
    ),
    (
        "create_pharmacy",
        "201",
        "get_pharmacy",
        &[("pharmacy_id", BODY_ID)],
    ),
    (
        "create_pharmacy",
        "201",
        "update_pharmacy",
        &[("pharmacy_id", BODY_ID)],
    ),
    (
        "create_pharmacy",
        "201",
        "delete_pharmacy",
        &[("pharmacy_id", BODY_ID)],
    ),
    (
        "create_pharmacy",
        "201",
        "update_pharmacy_location",
        &[("pharmacy_id", BODY_ID)],
    ),
    (
        "create_pharmacy",
        "201",
        "list_pharmacy_hours",
        &[("pharmacy_id", BODY_ID)],
    ),
    (
        "create_pharmacy",
        "201",
        "upsert_pharmacy_hours",
        &[("pharmacy_id", BODY_ID)],
    ),
    (
        "create_pharmacy",
        "201",
        "admin_verify_pharmacy",
        &[("pharmacy_id", BODY_ID)],
    ),
    (
        "upsert_pharmacy_hours",
        "201",
        "delete_pharmacy_hours",
        &[
            ("pharmacy_id", "$response.body#/pharmacy_id"),
            ("day_of_week", "$response.body#/day_of_week"),
        ],
    ),
    (
        "admin_broadcast",
        "200",
        "admin_get_broadcast",
        &[("broadcast_id", "$response.body#/broadcast_id")],
    ),
    (
        "admin_broadcast",
        "202",
        "admin_get_broadcast",
        &[("broadcast_id", "$response.body#/broadcast_id")],
    ),
    ("get_me", "200", "get_user_profile", &[("user_id", BODY_ID)]),
    (
        "get_me",
        "200",
        "notification_history_of_user",
        &[("user_id", BODY_ID)],
    ),
    (
        "get_me",
        "200",
        "admin_update_user",
        &[("user_id", BODY_ID)],
    ),
];

/// Adds [`LINKS`] to the answers they start from.
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        for item in openapi.paths.paths.values_mut() {
            for operation in refine::operations_mut(item) {
                let Some(source) = operation.operation_id.clone() else {
                    continue;
                };
                for (_, status, target, parameters) in LINKS.iter().filter(|link| link.0 == source)
                {
                    let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status)
                    else {
                        continue;
                    };
                    let link = parameters
                        .iter()
                        .fold(
                            LinkBuilder::new().operation_id(*target),
                            |link, (name, value)| link.parameter(*name, *value),
                        )
                        .build();
                    response.links.insert((*target).to_owned(), RefOr::T(link));
                }
            }
        }
    }
}

/// The document for these settings: title and version from configuration, paths under the
/// configured prefix.
pub fn document(settings: &Settings) -> OpenApiDoc {
    let mut doc = ApiDoc::openapi();
    // One line per capability module (its `Docs` lists its paths; schemas are collected from them).
    doc.merge(crate::http::auth::Docs::openapi());
    doc.merge(crate::http::users::Docs::openapi());
    doc.merge(crate::http::privacy::Docs::openapi());
    doc.merge(crate::http::admin::Docs::openapi());
    doc.merge(crate::http::admin_stats::Docs::openapi());
    doc.merge(crate::http::environment::Docs::openapi());
    doc.merge(crate::http::appointments::Docs::openapi());
    doc.merge(crate::http::pharmacies::Docs::openapi());
    doc.merge(crate::http::pharmacy_admin::Docs::openapi());
    doc.merge(crate::http::clinics::Docs::openapi());
    doc.merge(crate::http::associations::Docs::openapi());
    doc.merge(crate::http::doctors::Docs::openapi());
    doc.merge(crate::http::notifications::Docs::openapi());
    doc.merge(crate::http::notification_preferences::Docs::openapi());
    doc.merge(crate::http::admin_notifications::Docs::openapi());
    doc.merge(crate::http::events::Docs::openapi());
    CommonResponses.modify(&mut doc);
    Links.modify(&mut doc);
    refine::refine(&mut doc);
    add_security_schemes(&mut doc, &settings.api_prefix);
    doc.info.title = settings.app_name.clone();
    doc.info.version = settings.app_version.clone();
    doc.info.description = Some(
        "Medico24 healthcare appointment platform: appointments, clinics, doctors, pharmacies, \
         notifications, environment conditions and administration.\n\n\
         Every answer carries `X-Request-ID`; errors share one JSON envelope (`Error`, \
         `ValidationError` for 422). Paths are served with and without a trailing slash."
            .to_owned(),
    );
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_iter()
        .map(|(path, item)| (documented_path(&path, &settings.api_prefix), item))
        .collect();
    doc
}

/// How `template` (written under `/api/v1`) appears in the document: under the configured
/// prefix, and in the form without a trailing slash (the server trims one trailing slash before
/// routing, so both forms reach the same operation; generators handle the bare form best).
fn documented_path(template: &str, prefix: &str) -> String {
    let path = match template.strip_prefix("/api/v1") {
        Some(rest) => format!("{prefix}{rest}"),
        None => template.to_owned(),
    };
    crate::http::routing::routed_path(&path).to_owned()
}
