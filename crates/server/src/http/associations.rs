//! Doctor–clinic associations under `/clinics`: creating, updating, ending and removing them
//! (admin, audited) and the public listings of a clinic's doctors and of a doctor's clinics.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_directory::{
    AssociationPatch, AssociationStatus, ClinicForDoctor, DoctorAtClinic, NewAssociation,
};
use medico24_kernel::{AssociationId, ClinicId, DoctorId};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::audit::audit_stamp;
use super::bodies::DoctorClinicResponse;
use super::error::ApiResult;
use super::input::{
    self, Fee, FlagOr, Int, JsonObject, List, Text, path_uuid, request_body, request_query, texts,
};
use super::routing::RouteRegistry;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Representations
// ---------------------------------------------------------------------------------------------

/// A doctor practising at the clinic (the **DoctorAtClinic** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorAtClinicResponse {
    /// Doctor id.
    #[schema(format = Uuid)]
    pub doctor_id: String,
    /// The doctor's full name.
    pub doctor_name: String,
    /// Specialization.
    pub specialization: Option<String>,
    /// License number.
    pub license_number: Option<String>,
    /// Years of experience.
    pub experience_years: Option<i32>,
    /// The association's fee.
    pub consultation_fee: Option<f64>,
    /// The association's slot length.
    pub consultation_duration_minutes: Option<i32>,
    /// Department.
    pub department: Option<String>,
    /// Designation.
    pub designation: Option<String>,
    /// Days.
    pub available_days: Option<Vec<String>>,
    /// Time slots.
    #[schema(value_type = Option<Vec<Object>>)]
    pub available_time_slots: Option<Vec<Value>>,
    /// Rating at the clinic.
    pub rating_at_clinic: Option<f64>,
    /// Ratings at the clinic.
    pub rating_count_at_clinic: i32,
    /// Primary clinic of the doctor.
    pub is_primary: bool,
    /// Association status.
    #[schema(value_type = crate::openapi::enums::AssociationStatus)]
    pub status: String,
}

impl From<&DoctorAtClinic> for DoctorAtClinicResponse {
    fn from(d: &DoctorAtClinic) -> Self {
        Self {
            doctor_id: d.doctor_id.to_string(),
            doctor_name: d.doctor_name.clone(),
            specialization: d.specialization.clone(),
            license_number: d.license_number.clone(),
            experience_years: d.experience_years,
            consultation_fee: d.consultation_fee,
            consultation_duration_minutes: d.consultation_duration_minutes,
            department: d.department.clone(),
            designation: d.designation.clone(),
            available_days: d.available_days.clone(),
            available_time_slots: d.available_time_slots.clone(),
            rating_at_clinic: d.rating_at_clinic,
            rating_count_at_clinic: d.rating_count_at_clinic,
            is_primary: d.is_primary,
            status: d.status.as_str().to_owned(),
        }
    }
}

/// A clinic the doctor practises at (the **ClinicForDoctor** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicForDoctorResponse {
    /// Clinic id.
    #[schema(format = Uuid)]
    pub clinic_id: String,
    /// Clinic name.
    pub clinic_name: String,
    /// Clinic address.
    pub clinic_address: String,
    /// Clinic latitude.
    pub clinic_latitude: Option<f64>,
    /// Clinic longitude.
    pub clinic_longitude: Option<f64>,
    /// The association's fee.
    pub consultation_fee: Option<f64>,
    /// Department.
    pub department: Option<String>,
    /// Designation.
    pub designation: Option<String>,
    /// Days.
    pub available_days: Option<Vec<String>>,
    /// Primary clinic of the doctor.
    pub is_primary: bool,
    /// Association status.
    #[schema(value_type = crate::openapi::enums::AssociationStatus)]
    pub status: String,
}

impl From<&ClinicForDoctor> for ClinicForDoctorResponse {
    fn from(c: &ClinicForDoctor) -> Self {
        Self {
            clinic_id: c.clinic_id.to_string(),
            clinic_name: c.clinic_name.clone(),
            clinic_address: c.clinic_address.clone(),
            clinic_latitude: c.clinic_latitude,
            clinic_longitude: c.clinic_longitude,
            consultation_fee: c.consultation_fee,
            department: c.department.clone(),
            designation: c.designation.clone(),
            available_days: c.available_days.clone(),
            is_primary: c.is_primary,
            status: c.status.as_str().to_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

request_body! {
    /// `POST /clinics/{id}/doctors` body: AssociationIn plus `doctor_id` and the optional,
    /// redundant `clinic_id`.
    pub struct AssociationCreateRequest {
        /// The doctor.
        pub doctor_id: uuid::Uuid,
        /// When given, must equal the path id.
        pub clinic_id: Option<uuid::Uuid>,
        /// Default false.
        pub is_primary: Option<bool>,
        /// 0–99 999 999.99, at most 2 decimals.
        pub consultation_fee: Option<Fee>,
        /// 5–180.
        pub consultation_duration_minutes: Option<Int<5, 180>>,
        /// Department.
        pub department: Option<Text<0, 200>>,
        /// Designation.
        pub designation: Option<Text<0, 200>>,
        /// At most 7 items of 1–20 characters.
        pub available_days: Option<List<Text<1, 20>, 7>>,
        /// At most 50 objects.
        pub available_time_slots: Option<List<JsonObject, 50>>,
        /// Default true.
        pub appointment_booking_enabled: Option<bool>,
    }
}

request_body! {
    /// `PUT /clinics/doctor-associations/{id}` body: AssociationIn with every member optional,
    /// `null` = unchanged.
    pub struct AssociationUpdateRequest {
        /// Primary clinic of the doctor.
        pub is_primary: Option<bool>,
        /// 0–99 999 999.99, at most 2 decimals.
        pub consultation_fee: Option<Fee>,
        /// 5–180.
        pub consultation_duration_minutes: Option<Int<5, 180>>,
        /// Department.
        pub department: Option<Text<0, 200>>,
        /// Designation.
        pub designation: Option<Text<0, 200>>,
        /// At most 7 items of 1–20 characters.
        pub available_days: Option<List<Text<1, 20>, 7>>,
        /// At most 50 objects.
        pub available_time_slots: Option<List<JsonObject, 50>>,
        /// Booking flag.
        pub appointment_booking_enabled: Option<bool>,
        /// Association status.
        pub status: Option<AssociationStatus>,
    }
}

request_body! {
    /// `POST /clinics/doctor-associations/{id}/end` body (optional).
    pub struct AssociationEndRequest {
        /// Default now; not before the start.
        pub end_date: Option<DateTime<Utc>>,
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Time slots as stored.
fn time_slots(slots: List<JsonObject, 50>) -> Vec<Value> {
    slots
        .into_vec()
        .into_iter()
        .map(JsonObject::into_value)
        .collect()
}

/// Associates a doctor with the clinic.
#[utoipa::path(post, path = "/api/v1/clinics/{clinic_id}/doctors", tag = "clinics", operation_id = "create_doctor_association",
    security(("bearerAuth" = [])),
    params(("clinic_id" = uuid::Uuid, Path, description = "Clinic id")),
    request_body(content = AssociationCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new association", body = DoctorClinicResponse),
        (status = 400, description = "Clinic id mismatch or already associated", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown clinic or doctor", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn create_association(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let clinic_id = ClinicId::from_uuid(path_uuid(&req, "clinic_id")?);
    let body: AssociationCreateRequest = input::body(&req, &body)?;
    let new = NewAssociation {
        doctor_id: DoctorId::from_uuid(body.doctor_id),
        clinic_id,
        body_clinic_id: body.clinic_id.map(ClinicId::from_uuid),
        is_primary: body.is_primary.unwrap_or(false),
        consultation_fee: body.consultation_fee.map(Fee::get),
        consultation_duration_minutes: body.consultation_duration_minutes.map(Int::get_i32),
        department: body.department.map(String::from),
        designation: body.designation.map(String::from),
        available_days: body.available_days.map(texts),
        available_time_slots: body.available_time_slots.map(time_slots),
        appointment_booking_enabled: body.appointment_booking_enabled.unwrap_or(true),
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let created = state.directory.create_association(&new, &stamp).await?;
    Ok(HttpResponse::Created().json(DoctorClinicResponse::from(&created)))
}

request_query! {
    /// Which associations a listing shows.
    pub struct ActiveOnlyParams {
        /// Only current, active associations (default true)
        pub active_only: FlagOr<true>,
    }
}

/// The doctors of a clinic, primary first, then by name.
#[utoipa::path(get, path = "/api/v1/clinics/{clinic_id}/doctors", tag = "clinics", operation_id = "list_clinic_doctors",
    security(),
    params(
        ("clinic_id" = uuid::Uuid, Path, description = "Clinic id"),
        ActiveOnlyParams,
    ),
    responses(
        (status = 200, description = "Doctors (a bare array; [] for unknown or deleted clinics)", body = Vec<DoctorAtClinicResponse>),
        (status = 422, description = "Malformed id or query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list_clinic_doctors(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let clinic = ClinicId::from_uuid(path_uuid(&req, "clinic_id")?);
    let active = input::query::<ActiveOnlyParams>(&req)?.active_only.get();
    let doctors = state.directory.clinic_doctors(clinic, active).await?;
    Ok(HttpResponse::Ok().json(
        doctors
            .iter()
            .map(DoctorAtClinicResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// The clinics of a doctor, primary first, then by clinic name.
#[utoipa::path(get, path = "/api/v1/clinics/doctors/{doctor_id}/clinics", tag = "clinics", operation_id = "list_doctor_clinics",
    security(),
    params(
        ("doctor_id" = uuid::Uuid, Path, description = "Doctor id"),
        ActiveOnlyParams,
    ),
    responses(
        (status = 200, description = "Clinics (a bare array; [] for unknown doctors)", body = Vec<ClinicForDoctorResponse>),
        (status = 422, description = "Malformed id or query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list_doctor_clinics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let doctor = DoctorId::from_uuid(path_uuid(&req, "doctor_id")?);
    let active = input::query::<ActiveOnlyParams>(&req)?.active_only.get();
    let clinics = state.directory.doctor_clinics(doctor, active).await?;
    Ok(HttpResponse::Ok().json(
        clinics
            .iter()
            .map(ClinicForDoctorResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Partially updates an association (`null` = unchanged; no recognised member → as is).
#[utoipa::path(put, path = "/api/v1/clinics/doctor-associations/{association_id}", tag = "clinics", operation_id = "update_doctor_association",
    security(("bearerAuth" = [])),
    params(("association_id" = uuid::Uuid, Path, description = "Association id")),
    request_body(content = AssociationUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The association", body = DoctorClinicResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown association", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn update_association(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = AssociationId::from_uuid(path_uuid(&req, "association_id")?);
    let body: AssociationUpdateRequest = input::body(&req, &body)?;
    let patch = AssociationPatch {
        is_primary: body.is_primary,
        consultation_fee: body.consultation_fee.map(Fee::get),
        consultation_duration_minutes: body.consultation_duration_minutes.map(Int::get_i32),
        department: body.department.map(String::from),
        designation: body.designation.map(String::from),
        available_days: body.available_days.map(texts),
        available_time_slots: body.available_time_slots.map(time_slots),
        appointment_booking_enabled: body.appointment_booking_enabled,
        status: body.status,
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let association = state
        .directory
        .update_association(id, &patch, &stamp)
        .await?;
    Ok(HttpResponse::Ok().json(DoctorClinicResponse::from(&association)))
}

/// Ends an association (`end_date` default now, not before the start).
#[utoipa::path(post, path = "/api/v1/clinics/doctor-associations/{association_id}/end", tag = "clinics", operation_id = "end_doctor_association",
    security(("bearerAuth" = [])),
    params(("association_id" = uuid::Uuid, Path, description = "Association id")),
    request_body(content = Option<AssociationEndRequest>, content_type = "application/json", description = "Optional: without a body (or with `null`) the association ends now"),
    responses(
        (status = 200, description = "The ended association", body = DoctorClinicResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown association", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id, or an end before the start", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn end_association(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = AssociationId::from_uuid(path_uuid(&req, "association_id")?);
    let body: AssociationEndRequest = input::optional_body(&req, &body)?;
    let stamp = audit_stamp(&req, admin.0.id);
    let association = state
        .directory
        .end_association(id, body.end_date, &stamp)
        .await?;
    Ok(HttpResponse::Ok().json(DoctorClinicResponse::from(&association)))
}

/// Ends every open association of a doctor with the clinic.
#[utoipa::path(delete, path = "/api/v1/clinics/{clinic_id}/doctors/{doctor_id}", tag = "clinics", operation_id = "remove_doctor_association",
    security(("bearerAuth" = [])),
    params(
        ("clinic_id" = uuid::Uuid, Path, description = "Clinic id"),
        ("doctor_id" = uuid::Uuid, Path, description = "Doctor id"),
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No open association for the pair", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn remove_association(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let clinic = ClinicId::from_uuid(path_uuid(&req, "clinic_id")?);
    let doctor = DoctorId::from_uuid(path_uuid(&req, "doctor_id")?);
    let stamp = audit_stamp(&req, admin.0.id);
    state
        .directory
        .remove_association(doctor, clinic, &stamp)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the doctor–clinic association routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let base = format!("{prefix}/clinics");
    let one = format!("{base}/{{clinic_id}}");
    let association = format!("{base}/doctor-associations/{{association_id}}");
    routes
        .route(Method::POST, &format!("{one}/doctors"), create_association)
        .route(Method::GET, &format!("{one}/doctors"), list_clinic_doctors)
        .route(
            Method::GET,
            &format!("{base}/doctors/{{doctor_id}}/clinics"),
            list_doctor_clinics,
        )
        .route(Method::PUT, &association, update_association)
        .route(Method::POST, &format!("{association}/end"), end_association)
        .route(
            Method::DELETE,
            &format!("{one}/doctors/{{doctor_id}}"),
            remove_association,
        );
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_association,
    list_clinic_doctors,
    list_doctor_clinics,
    update_association,
    end_association,
    remove_association,
))]
pub struct Docs;
