//! Appointments and the admin appointment list.

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_appointments::booking::{
    Appointment, AppointmentChanges, AppointmentFilter, AppointmentSource, AppointmentStatus,
    Caller, Changed, CreateOutcome, IdempotencyRequest, NewAppointment,
};
use medico24_identity::AccessRead;
use medico24_kernel::{AppointmentId, Phone, UserId};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::audit::{audit_read, audit_stamp};
use super::cursor::{CursorParams, CursorScope, next_cursor};
use super::error::{APPOINTMENT_NOT_FOUND, ApiError, ApiResult};
use super::input::{
    self, BodyKind, FlagOr, Query, Text, json_object, parse_object, path_uuid, request_body,
    request_query,
};
use super::paging::PageParams;
use super::routing::RouteRegistry;
use super::wire;
use crate::auth::{AdminUser, AuthUser};
use crate::openapi::schemas::{ConflictResponse, ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// An appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentResponse {
    /// Doctor name snapshot.
    pub doctor_name: String,
    /// Clinic name snapshot.
    pub clinic_name: Option<String>,
    /// Start.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub appointment_at: DateTime<Utc>,
    /// End.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub appointment_end_at: Option<DateTime<Utc>>,
    /// Reason.
    pub reason: String,
    /// Contact phone.
    pub contact_phone: String,
    /// Notes.
    pub notes: Option<String>,
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Owner (`users.id`).
    #[schema(format = Uuid)]
    pub patient_id: String,
    /// Directory doctor.
    #[schema(format = Uuid)]
    pub doctor_id: Option<String>,
    /// Directory clinic.
    #[schema(format = Uuid)]
    pub clinic_id: Option<String>,
    /// Status.
    #[schema(value_type = crate::openapi::enums::AppointmentStatus)]
    pub status: String,
    /// Source.
    #[schema(value_type = crate::openapi::enums::AppointmentSource)]
    pub source: String,
    /// Creation.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Cancellation time.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Soft deletion time.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<&Appointment> for AppointmentResponse {
    fn from(a: &Appointment) -> Self {
        Self {
            doctor_name: a.doctor_name.clone(),
            clinic_name: a.clinic_name.clone(),
            appointment_at: a.appointment_at,
            appointment_end_at: a.appointment_end_at,
            reason: a.reason.clone(),
            contact_phone: a.contact_phone.clone(),
            notes: a.notes.clone(),
            id: a.id.to_string(),
            patient_id: a.patient_id.to_string(),
            doctor_id: a.doctor_id.map(|id| id.to_string()),
            clinic_id: a.clinic_id.map(|id| id.to_string()),
            status: a.status.as_str().to_owned(),
            source: a.source.as_str().to_owned(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            cancelled_at: a.cancelled_at,
            deleted_at: a.deleted_at,
        }
    }
}

/// An appointment as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAppointmentResponse {
    /// The appointment.
    #[serde(flatten)]
    pub appointment: AppointmentResponse,
    /// Legacy association reference.
    #[schema(format = Uuid)]
    pub doctor_clinic_id: Option<String>,
}

/// A page of the caller's appointments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentPage {
    /// Matching rows over all pages.
    pub total: u64,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// This page.
    pub items: Vec<AppointmentResponse>,
}

/// A page of appointments for admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAppointmentPage {
    /// This page.
    pub appointments: Vec<AdminAppointmentResponse>,
    /// Matching rows over all pages.
    pub total: u64,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// `ceil(total / page_size)`.
    pub total_pages: u64,
    /// Cursor of the next page (pass it as `cursor`, with the same filters and `page_size`);
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

request_body! {
    /// Body of `POST /appointments/`.
    pub struct CreateAppointmentRequest {
        /// Doctor name.
        pub doctor_name: Text<1, 200>,
        /// Clinic name.
        pub clinic_name: Option<Text<0, 200>>,
        /// Start (no offset means UTC; past allowed).
        pub appointment_at: DateTime<Utc>,
        /// End, strictly after the start.
        pub appointment_end_at: Option<DateTime<Utc>>,
        /// Reason.
        pub reason: Text<1, 500>,
        /// Contact phone: 7–20 characters of digits, spaces, `+`, `-`, `(`, `)`; at least 7 digits.
        pub contact_phone: Phone,
        /// Notes.
        pub notes: Option<Text<0, 1000>>,
        /// Existing doctor.
        pub doctor_id: Option<uuid::Uuid>,
        /// Existing, non-deleted clinic.
        pub clinic_id: Option<uuid::Uuid>,
        /// `patient_app` (default) or `api`; `doctor_app`/`admin_panel` need the doctor or admin role.
        pub source: Option<AppointmentSource>,
    }
}

request_body! {
    /// Body of `PUT /appointments/{id}` (partial; null = unchanged).
    pub struct UpdateAppointmentRequest {
        /// Doctor name.
        pub doctor_name: Option<Text<1, 200>>,
        /// Clinic name.
        pub clinic_name: Option<Text<0, 200>>,
        /// Directory doctor.
        pub doctor_id: Option<uuid::Uuid>,
        /// Directory clinic.
        pub clinic_id: Option<uuid::Uuid>,
        /// Start.
        pub appointment_at: Option<DateTime<Utc>>,
        /// End.
        pub appointment_end_at: Option<DateTime<Utc>>,
        /// Reason.
        pub reason: Option<Text<1, 500>>,
        /// Contact phone.
        pub contact_phone: Option<Phone>,
        /// New status (allowed transitions depend on the current status and the caller's role).
        pub status: Option<AppointmentStatus>,
        /// Notes.
        pub notes: Option<Text<0, 1000>>,
    }
}

request_body! {
    /// Body of `PATCH /appointments/{id}/status`.
    pub struct StatusChangeRequest {
        /// Target status.
        pub status: AppointmentStatus,
        /// Replaces the notes; `""` clears them.
        pub notes: Option<Text<0, 1000>>,
    }
}

fn caller(user: &AuthUser) -> Caller {
    Caller {
        id: user.0.id,
        role: user.0.role,
    }
}

/// Canonical JSON: object keys sorted at every level, no whitespace.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let members: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_json)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

fn idempotency(
    req: &HttpRequest,
    body: &serde_json::Map<String, Value>,
) -> ApiResult<Option<IdempotencyRequest>> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    let Some(key) = key else {
        return Err(ApiError::invalid(
            vec![json!("header"), json!("idempotency-key")],
            "value_error",
            "Idempotency-Key must be 1-255 printable ASCII characters",
        ));
    };
    let hash = hex::encode(Sha256::digest(
        canonical_json(&Value::Object(body.clone())).as_bytes(),
    ));
    Ok(Some(IdempotencyRequest {
        key: key.to_owned(),
        request_hash: hash,
    }))
}

fn record_change(state: &AppState, changed: &Changed) {
    if let Some((from, to)) = changed.transition {
        state
            .metrics
            .appointment_status_changes
            .with_label_values(&[from.as_str(), to.as_str()])
            .inc();
    }
}

/// Books an appointment.
#[utoipa::path(post, path = "/api/v1/appointments/", tag = "appointments", operation_id = "create_appointment",
    security(("bearerAuth" = [])),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Replays return the first answer for 24 h")),
    request_body = CreateAppointmentRequest,
    responses(
        (status = 201, description = "Booked (or replayed: header Idempotent-Replayed)", body = AppointmentResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Source not allowed or account deactivated", body = ErrorResponse),
        (status = 409, description = "Overlapping booking or idempotency conflict", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn create(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let object = json_object(&req, &body, BodyKind::Required)?;
    let request: CreateAppointmentRequest = parse_object(&object)?;
    let idempotency = idempotency(&req, &object)?;
    let new = NewAppointment {
        doctor_name: request.doctor_name.into(),
        clinic_name: request.clinic_name.map(Into::into),
        appointment_at: request.appointment_at,
        appointment_end_at: request.appointment_end_at,
        reason: request.reason.into(),
        contact_phone: request.contact_phone,
        notes: request.notes.map(Into::into),
        doctor_id: request.doctor_id,
        clinic_id: request.clinic_id,
        source: request.source,
    };
    let (outcome, source) = state
        .appointments
        .book(&caller(&user), new, idempotency)
        .await?;
    match outcome {
        CreateOutcome::Created(appointment) => {
            state
                .metrics
                .appointments_created
                .with_label_values(&[source.as_str()])
                .inc();
            tracing::info!(appointment.id = %appointment.id, user.id = %user.0.id, "appointment booked");
            Ok(HttpResponse::Created().json(AppointmentResponse::from(&appointment)))
        }
        CreateOutcome::Replayed(appointment) => Ok(HttpResponse::Created()
            .insert_header((
                HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            ))
            .json(AppointmentResponse::from(&appointment))),
    }
}

request_query! {
    /// Filters of the appointment listings.
    pub struct AppointmentFilterParams {
        /// Exact status
        pub status: Option<AppointmentStatus>,
        /// Exact doctor
        pub doctor_id: Option<uuid::Uuid>,
        /// Exact clinic
        pub clinic_id: Option<uuid::Uuid>,
        /// Inclusive lower bound on appointment_at
        pub from_date: Option<DateTime<Utc>>,
        /// Inclusive upper bound on appointment_at
        pub to_date: Option<DateTime<Utc>>,
    }
}

impl AppointmentFilterParams {
    fn filter(self) -> AppointmentFilter {
        AppointmentFilter {
            status: self.status,
            doctor_id: self.doctor_id,
            clinic_id: self.clinic_id,
            from: self.from_date,
            to: self.to_date,
            ..AppointmentFilter::default()
        }
    }
}

request_query! {
    /// What only the admin listing filters on.
    pub struct AdminAppointmentParams {
        /// Exact owner
        pub patient_id: Option<uuid::Uuid>,
        /// Include soft-deleted rows (default false)
        pub include_deleted: FlagOr<false>,
    }
}

request_query! {
    /// How an appointment is deleted.
    pub struct DeleteParams {
        /// Remove the row (admins only)
        pub hard_delete: FlagOr<false>,
    }
}

/// The caller's appointments, newest first.
#[utoipa::path(get, path = "/api/v1/appointments/", tag = "appointments", operation_id = "list_appointments",
    security(("bearerAuth" = [])),
    params(AppointmentFilterParams, PageParams),
    responses(
        (status = 200, description = "A page of appointments", body = AppointmentPage),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let page = query.read::<PageParams>();
    let filter = query.read::<AppointmentFilterParams>();
    let (page, filter) = query.complete((page, filter))?;
    let page = page.request();
    let filter = AppointmentFilter {
        patient_id: Some(user.0.id),
        ..filter.filter()
    };
    let result = state.appointments.list(&filter, page).await?;
    Ok(HttpResponse::Ok().json(AppointmentPage {
        total: result.total,
        page: page.page(),
        page_size: page.page_size(),
        items: result.items.iter().map(AppointmentResponse::from).collect(),
    }))
}

/// One appointment (the caller's, or any for admins).
#[utoipa::path(get, path = "/api/v1/appointments/{appointment_id}", tag = "appointments", operation_id = "get_appointment",
    security(("bearerAuth" = [])),
    params(("appointment_id" = uuid::Uuid, Path, description = "Appointment id")),
    responses(
        (status = 200, description = "The appointment", body = AppointmentResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 404, description = "Missing, deleted or someone else's", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn get(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = AppointmentId::from_uuid(path_uuid(&req, "appointment_id")?);
    let appointment = state
        .appointments
        .get(&caller(&user), id)
        .await?
        .ok_or_else(|| ApiError::not_found(APPOINTMENT_NOT_FOUND))?;
    let read = AccessRead {
        action: "appointment.read",
        resource_type: "appointment",
        resource_id: Some(id.to_string()),
        subjects: vec![appointment.patient_id],
    };
    audit_read(&req, &state, user.0.id, read).await?;
    Ok(HttpResponse::Ok().json(AppointmentResponse::from(&appointment)))
}

/// Partial update (null = unchanged); a new status follows the state machine.
#[utoipa::path(put, path = "/api/v1/appointments/{appointment_id}", tag = "appointments", operation_id = "update_appointment",
    security(("bearerAuth" = [])),
    params(("appointment_id" = uuid::Uuid, Path, description = "Appointment id")),
    request_body = UpdateAppointmentRequest,
    responses(
        (status = 200, description = "The appointment", body = AppointmentResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Status change not allowed for the role", body = ErrorResponse),
        (status = 404, description = "Missing, deleted or someone else's", body = ErrorResponse),
        (status = 409, description = "Overlap or illegal transition", body = ConflictResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn update(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = AppointmentId::from_uuid(path_uuid(&req, "appointment_id")?);
    let request: UpdateAppointmentRequest = input::body(&req, &body)?;
    let changes = AppointmentChanges {
        doctor_name: request.doctor_name.map(Into::into),
        clinic_name: request.clinic_name.map(Into::into),
        doctor_id: request.doctor_id,
        clinic_id: request.clinic_id,
        appointment_at: request.appointment_at,
        appointment_end_at: request.appointment_end_at,
        reason: request.reason.map(Into::into),
        contact_phone: request.contact_phone,
        status: request.status,
        notes: request.notes.map(Into::into),
    };
    let changed = state
        .appointments
        .update(&caller(&user), id, changes, audit_stamp(&req, user.0.id))
        .await?;
    record_change(&state, &changed);
    Ok(HttpResponse::Ok().json(AppointmentResponse::from(&changed.appointment)))
}

/// Changes the status (and optionally the notes).
#[utoipa::path(patch, path = "/api/v1/appointments/{appointment_id}/status", tag = "appointments", operation_id = "change_appointment_status",
    security(("bearerAuth" = [])),
    params(("appointment_id" = uuid::Uuid, Path, description = "Appointment id")),
    request_body = StatusChangeRequest,
    responses(
        (status = 200, description = "The appointment", body = AppointmentResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not allowed for the role", body = ErrorResponse),
        (status = 404, description = "Missing, deleted or someone else's", body = ErrorResponse),
        (status = 409, description = "Illegal transition (allowed_statuses lists the legal targets)", body = ConflictResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn change_status(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = AppointmentId::from_uuid(path_uuid(&req, "appointment_id")?);
    let request: StatusChangeRequest = input::body(&req, &body)?;
    let changed = state
        .appointments
        .change_status(
            &caller(&user),
            id,
            request.status,
            request.notes.map(Into::into),
            audit_stamp(&req, user.0.id),
        )
        .await?;
    record_change(&state, &changed);
    Ok(HttpResponse::Ok().json(AppointmentResponse::from(&changed.appointment)))
}

/// Soft delete (hard delete for admins with `hard_delete=true`).
#[utoipa::path(delete, path = "/api/v1/appointments/{appointment_id}", tag = "appointments", operation_id = "delete_appointment",
    security(("bearerAuth" = [])),
    params(
        ("appointment_id" = uuid::Uuid, Path, description = "Appointment id"),
        DeleteParams,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Hard delete by a non-admin", body = ErrorResponse),
        (status = 404, description = "Missing, deleted or someone else's", body = ErrorResponse),
        (status = 422, description = "Malformed id or flag", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn delete(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = AppointmentId::from_uuid(path_uuid(&req, "appointment_id")?);
    let hard = input::query::<DeleteParams>(&req)?.hard_delete.get();
    state
        .appointments
        .delete(&caller(&user), id, hard, audit_stamp(&req, user.0.id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Everyone's appointments (admins).
///
/// Pages are numbered (`page`), or reached by following `next_cursor`: a cursor page costs the
/// same at any depth, while `page=N` reads and skips the `(N − 1) × page_size` rows before it.
#[utoipa::path(get, path = "/api/v1/admin/appointments", tag = "admin", operation_id = "admin_list_appointments",
    security(("bearerAuth" = [])),
    params(AppointmentFilterParams, AdminAppointmentParams, CursorParams),
    responses(
        (status = 200, description = "A page of appointments", body = AdminAppointmentPage),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn admin_list(
    admin_user: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let paging = query.read::<CursorParams>();
    let common = query.read::<AppointmentFilterParams>();
    let admin = query.read::<AdminAppointmentParams>();
    let filter = common.zip(admin).map(|(common, admin)| AppointmentFilter {
        patient_id: admin.patient_id.map(UserId::from_uuid),
        include_deleted: admin.include_deleted.get(),
        ..common.filter()
    });
    let scope = filter
        .as_ref()
        .zip(paging.as_ref())
        .map(|(filter, paging)| admin_scope(filter, paging.page_size()));
    let page = CursorParams::resolve(paging, &mut query, scope.as_ref());
    let (page, filter, scope) = query.complete((page, filter, scope))?;
    let result = state.appointments.list(&filter, page).await?;
    let read = AccessRead {
        action: "appointment.list.read",
        resource_type: "appointment",
        resource_id: None,
        subjects: result.items.iter().map(|a| a.patient_id).collect(),
    };
    audit_read(&req, &state, admin_user.0.id, read).await?;
    Ok(HttpResponse::Ok().json(AdminAppointmentPage {
        total_pages: result.total_pages(),
        total: result.total,
        page: page.page(),
        page_size: page.page_size(),
        next_cursor: next_cursor(&result, &scope),
        appointments: result
            .items
            .iter()
            .map(|a| AdminAppointmentResponse {
                appointment: AppointmentResponse::from(a),
                doctor_clinic_id: a.doctor_clinic_id.map(|id| id.to_string()),
            })
            .collect(),
    }))
}

/// The cursor scope of the admin listing: its filters and page size.
fn admin_scope(filter: &AppointmentFilter, page_size: u32) -> CursorScope {
    let micros = |at: Option<DateTime<Utc>>| at.map(|at| at.timestamp_micros());
    CursorScope::new("admin_appointments", page_size)
        .field("status", filter.status.map(|s| s.as_str()))
        .field("patient_id", filter.patient_id)
        .field("doctor_id", filter.doctor_id)
        .field("clinic_id", filter.clinic_id)
        .field("from_date", micros(filter.from))
        .field("to_date", micros(filter.to))
        .field("include_deleted", Some(filter.include_deleted))
}

/// Registers the appointment routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    routes
        .route(Method::POST, &format!("{prefix}/appointments/"), create)
        .route(Method::GET, &format!("{prefix}/appointments/"), list)
        .route(
            Method::GET,
            &format!("{prefix}/appointments/{{appointment_id}}"),
            get,
        )
        .route(
            Method::PUT,
            &format!("{prefix}/appointments/{{appointment_id}}"),
            update,
        )
        .route(
            Method::PATCH,
            &format!("{prefix}/appointments/{{appointment_id}}/status"),
            change_status,
        )
        .route(
            Method::DELETE,
            &format!("{prefix}/appointments/{{appointment_id}}"),
            delete,
        )
        .route(
            Method::GET,
            &format!("{prefix}/admin/appointments"),
            admin_list,
        );
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, get, update, change_status, delete, admin_list))]
pub struct Docs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_without_whitespace() {
        let value = json!({"b": 1, "a": {"d": [1, {"z": 0, "y": null}], "c": "x"}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":"x","d":[1,{"y":null,"z":0}]},"b":1}"#
        );
    }

    #[test]
    fn the_same_body_in_another_key_order_hashes_the_same() {
        let one = json!({"reason": "r", "doctor_name": "d"});
        let two = json!({"doctor_name": "d", "reason": "r"});
        assert_eq!(canonical_json(&one), canonical_json(&two));
    }
}
