//! The doctor directory: public listings, search and nearby search over
//! clinic associations; admin-only, audited writes and verification; the doctor row is cached
//! while its clinics are read live.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_directory::{
    DEFAULT_CONSULTATION_MINUTES, Doctor, DoctorClinicSummary, DoctorDetail, DoctorFilter,
    DoctorListItem, DoctorPatch, NearbyDoctorFilter, NewDoctor, Verification,
};
use medico24_kernel::{DoctorId, Phone};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::audit::audit_stamp;
use super::bodies::DoctorClinicResponse;
use super::error::{ApiError, ApiResult, DOCTOR_NOT_FOUND};
use super::fields::{directory_window, geo_query};
use super::input::{
    self, AnyText, DoctorEmail, Fee, FlagOr, Ignored, Int, JsonObject, List, Number, Query,
    Repeated, Text, path_uuid, request_body, request_query, texts,
};
use super::routing::RouteRegistry;
use super::search::{PointParams, WindowParams};
use super::wire;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Representations
// ---------------------------------------------------------------------------------------------

/// A doctor (the **Doctor** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorResponse {
    /// Email.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Picture URL.
    pub profile_picture_url: Option<String>,
    /// License number.
    pub license_number: Option<String>,
    /// Specialization.
    pub specialization: Option<String>,
    /// Sub-specialization.
    pub sub_specialization: Option<String>,
    /// Qualification.
    pub qualification: Option<String>,
    /// Years of experience.
    pub experience_years: Option<i32>,
    /// Default fee.
    pub consultation_fee: Option<f64>,
    /// Default slot length.
    pub consultation_duration_minutes: Option<i32>,
    /// Biography.
    pub bio: Option<String>,
    /// Languages spoken.
    pub languages_spoken: Option<Vec<String>>,
    /// Council registration.
    pub medical_council_registration: Option<String>,
    /// Doctor id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Verified by an admin.
    pub is_verified: bool,
    /// Verification documents.
    #[schema(value_type = Option<Object>)]
    pub verification_documents: Option<Value>,
    /// When verified.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub verified_at: Option<DateTime<Utc>>,
    /// The admin user who verified.
    #[schema(format = Uuid)]
    pub verified_by: Option<String>,
    /// Rating.
    pub rating: Option<f64>,
    /// Number of ratings.
    pub rating_count: i32,
    /// Consultations recorded (`total_consultations`).
    pub total_patients_treated: i32,
    /// Creation time.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<&Doctor> for DoctorResponse {
    fn from(d: &Doctor) -> Self {
        Self {
            email: d.email.clone(),
            full_name: d.full_name.clone(),
            phone: d.phone.clone(),
            profile_picture_url: d.profile_picture_url.clone(),
            license_number: d.license_number.clone(),
            specialization: d.specialization.clone(),
            sub_specialization: d.sub_specialization.clone(),
            qualification: d.qualification.clone(),
            experience_years: d.experience_years,
            consultation_fee: d.consultation_fee,
            consultation_duration_minutes: d.consultation_duration_minutes,
            bio: d.bio.clone(),
            languages_spoken: d.languages_spoken.clone(),
            medical_council_registration: d.medical_council_registration.clone(),
            id: d.id.to_string(),
            is_verified: d.is_verified,
            verification_documents: d.verification_documents.clone(),
            verified_at: d.verified_at,
            verified_by: d.verified_by.map(|id| id.to_string()),
            rating: d.rating,
            rating_count: d.rating_count,
            total_patients_treated: d.total_consultations,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// An association with its clinic's name and place (the **DoctorClinicSummary** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorClinicSummaryResponse {
    /// Every DoctorClinic member.
    #[serde(flatten)]
    pub association: DoctorClinicResponse,
    /// The clinic's name.
    pub clinic_name: String,
    /// The clinic's address.
    pub clinic_address: String,
    /// The clinic's latitude.
    pub latitude: Option<f64>,
    /// The clinic's longitude.
    pub longitude: Option<f64>,
}

impl From<&DoctorClinicSummary> for DoctorClinicSummaryResponse {
    fn from(s: &DoctorClinicSummary) -> Self {
        Self {
            association: DoctorClinicResponse::from(&s.association),
            clinic_name: s.clinic_name.clone(),
            clinic_address: s.clinic_address.clone(),
            latitude: s.latitude,
            longitude: s.longitude,
        }
    }
}

/// A doctor with their current clinics (the **DoctorDetail** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorDetailResponse {
    /// Every Doctor member.
    #[serde(flatten)]
    pub doctor: DoctorResponse,
    /// Current associations with non-deleted clinics, primary first, then by clinic name.
    pub clinics: Vec<DoctorClinicSummaryResponse>,
}

impl From<&DoctorDetail> for DoctorDetailResponse {
    fn from(d: &DoctorDetail) -> Self {
        Self {
            doctor: DoctorResponse::from(&d.doctor),
            clinics: d
                .clinics
                .iter()
                .map(DoctorClinicSummaryResponse::from)
                .collect(),
        }
    }
}

/// A doctor in a listing (the **DoctorListItem** representation).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorListItemResponse {
    /// Doctor id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Email.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Picture URL.
    pub profile_picture_url: Option<String>,
    /// License number.
    pub license_number: Option<String>,
    /// Specialization.
    pub specialization: Option<String>,
    /// Sub-specialization.
    pub sub_specialization: Option<String>,
    /// Years of experience.
    pub experience_years: Option<i32>,
    /// Default fee.
    pub consultation_fee: Option<f64>,
    /// Verified.
    pub is_verified: bool,
    /// Rating.
    pub rating: Option<f64>,
    /// Number of ratings.
    pub rating_count: i32,
    /// Sphere distance to the clinic in km (only `/doctors/nearby`).
    pub distance_km: Option<f64>,
    /// The clinic of this item (only `/doctors/nearby`).
    #[schema(format = Uuid)]
    pub clinic_id: Option<String>,
    /// Its name (only `/doctors/nearby`).
    pub clinic_name: Option<String>,
}

impl From<&DoctorListItem> for DoctorListItemResponse {
    fn from(d: &DoctorListItem) -> Self {
        Self {
            id: d.id.to_string(),
            email: d.email.clone(),
            full_name: d.full_name.clone(),
            phone: d.phone.clone(),
            profile_picture_url: d.profile_picture_url.clone(),
            license_number: d.license_number.clone(),
            specialization: d.specialization.clone(),
            sub_specialization: d.sub_specialization.clone(),
            experience_years: d.experience_years,
            consultation_fee: d.consultation_fee,
            is_verified: d.is_verified,
            rating: d.rating,
            rating_count: d.rating_count,
            distance_km: d.distance_km,
            clinic_id: d.clinic_id.map(|id| id.to_string()),
            clinic_name: d.clinic_name.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

request_body! {
    /// `POST /doctors/` body.
    pub struct DoctorCreateRequest {
        /// Valid email address.
        pub email: DoctorEmail,
        /// Full name.
        pub full_name: Text<1, 255>,
        /// Phone: 7–20 characters of digits, spaces, `+`, `-`, `(`, `)`, at least 7 digits.
        pub phone: Option<Phone>,
        /// Picture URL.
        pub profile_picture_url: Option<Text<0, 2048>>,
        /// License number (unique).
        pub license_number: Text<1, 100>,
        /// Specialization.
        pub specialization: Text<1, 200>,
        /// Sub-specialization.
        pub sub_specialization: Option<Text<0, 200>>,
        /// Qualification.
        pub qualification: Option<Text<0, 1000>>,
        /// Years of experience.
        pub experience_years: Option<Int<0, 80>>,
        /// 0–99 999 999.99, at most 2 decimals.
        pub consultation_fee: Option<Fee>,
        /// Default 30.
        pub consultation_duration_minutes: Option<Int<15, 180>>,
        /// Biography.
        pub bio: Option<Text<0, 5000>>,
        /// At most 20 items of 1–50 characters.
        pub languages_spoken: Option<List<Text<1, 50>, 20>>,
        /// Council registration.
        pub medical_council_registration: Option<Text<0, 100>>,
    }
}

request_body! {
    /// `PUT /doctors/{id}` body: every member optional, `null` = unchanged; contact fields and the
    /// license are ignored.
    pub struct DoctorUpdateRequest {
        /// Specialization.
        pub specialization: Option<Text<1, 200>>,
        /// Sub-specialization.
        pub sub_specialization: Option<Text<0, 200>>,
        /// Qualification.
        pub qualification: Option<Text<0, 1000>>,
        /// Years of experience.
        pub experience_years: Option<Int<0, 80>>,
        /// 0–99 999 999.99, at most 2 decimals.
        pub consultation_fee: Option<Fee>,
        /// Slot length.
        pub consultation_duration_minutes: Option<Int<15, 180>>,
        /// Biography.
        pub bio: Option<Text<0, 5000>>,
        /// At most 20 items of 1–50 characters.
        pub languages_spoken: Option<List<Text<1, 50>, 20>>,
        /// Council registration.
        pub medical_council_registration: Option<Text<0, 100>>,
    }
}

request_body! {
    /// `POST /doctors/{id}/verify` body (optional).
    pub struct DoctorVerifyRequest {
        /// Replaces the stored documents when a non-empty object.
        pub verification_documents: Option<JsonObject>,
        /// Ignored.
        pub notes: Option<Ignored>,
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

fn doctor_list(items: &[DoctorListItem]) -> HttpResponse {
    HttpResponse::Ok().json(
        items
            .iter()
            .map(DoctorListItemResponse::from)
            .collect::<Vec<_>>(),
    )
}

/// Years of experience: they fit the `integer` column.
type Years = Int<0, { i32::MAX as i64 }>;

request_query! {
    /// Filters of the doctor listing and search.
    pub struct DoctorFilterParams {
        /// Case-insensitive substring
        pub specialization: Option<Text<0, 200>>,
        /// Case-insensitive substring
        pub sub_specialization: Option<Text<0, 200>>,
        /// Minimum years of experience
        pub min_experience: Option<Years>,
        /// Exact match
        pub is_verified: Option<bool>,
        /// Minimum rating
        pub min_rating: Option<Number<0, 5>>,
    }
}

request_query! {
    /// Filters only the doctor listing has.
    pub struct DoctorListParams {
        /// Maximum years of experience
        pub max_experience: Option<Years>,
        /// Repeatable: speaks any of them (case-sensitive)
        pub languages: Repeated<AnyText>,
    }
}

request_query! {
    /// Filters of the nearby doctor search.
    pub struct NearbyDoctorParams {
        /// Case-insensitive substring
        pub specialization: Option<Text<0, 200>>,
        /// Default true: only verified doctors; false: no verification filter
        pub is_verified: FlagOr<true>,
        /// Minimum rating
        pub min_rating: Option<Number<0, 5>>,
    }
}

/// Creates an unverified doctor.
#[utoipa::path(post, path = "/api/v1/doctors/", tag = "doctors", operation_id = "create_doctor",
    security(("bearerAuth" = [])),
    request_body(content = DoctorCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new doctor", body = DoctorResponse),
        (status = 400, description = "License number or email taken", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn create_doctor(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let body: DoctorCreateRequest = input::body(&req, &body)?;
    let new = NewDoctor {
        email: body.email.into(),
        full_name: body.full_name.into(),
        phone: body.phone.map(Phone::into_string),
        profile_picture_url: body.profile_picture_url.map(String::from),
        license_number: body.license_number.into(),
        specialization: body.specialization.into(),
        sub_specialization: body.sub_specialization.map(String::from),
        qualification: body.qualification.map(String::from),
        experience_years: body.experience_years.map(Int::get_i32),
        consultation_fee: body.consultation_fee.map(Fee::get),
        consultation_duration_minutes: body
            .consultation_duration_minutes
            .map_or(DEFAULT_CONSULTATION_MINUTES, Int::get_i32),
        bio: body.bio.map(String::from),
        languages_spoken: body.languages_spoken.map(texts),
        medical_council_registration: body.medical_council_registration.map(String::from),
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let created = state.directory.create_doctor(&new, &stamp).await?;
    Ok(HttpResponse::Created().json(DoctorResponse::from(&created)))
}

/// The filter of the listing (with its own members) or of the search (without).
fn doctor_filter(common: DoctorFilterParams, list: Option<DoctorListParams>) -> DoctorFilter {
    let (max_experience, languages) = list.map_or((None, Vec::new()), |list| {
        (
            list.max_experience.map(Int::get_i32),
            list.languages
                .into_vec()
                .into_iter()
                .map(String::from)
                .collect(),
        )
    });
    DoctorFilter {
        specialization: common.specialization.map(String::from),
        sub_specialization: common.sub_specialization.map(String::from),
        min_experience: common.min_experience.map(Int::get_i32),
        max_experience,
        is_verified: common.is_verified,
        min_rating: common.min_rating.map(Number::get),
        languages,
    }
}

/// Lists doctors, best rated first.
#[utoipa::path(get, path = "/api/v1/doctors/", tag = "doctors", operation_id = "list_doctors",
    security(),
    params(WindowParams, DoctorFilterParams, DoctorListParams),
    responses(
        (status = 200, description = "Doctors (a bare array)", body = Vec<DoctorListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list_doctors(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let window = query.read::<WindowParams>();
    let common = query.read::<DoctorFilterParams>();
    let list = query.read::<DoctorListParams>();
    let (window, common, list) = query.complete((window, common, list))?;
    let (window, filter) = (directory_window(&window), doctor_filter(common, Some(list)));
    let doctors = state.directory.list_doctors(&filter, window).await?;
    Ok(doctor_list(&doctors))
}

/// Searches doctors (the listing without `max_experience` and `languages`).
#[utoipa::path(get, path = "/api/v1/doctors/search", tag = "doctors", operation_id = "search_doctors",
    security(),
    params(WindowParams, DoctorFilterParams),
    responses(
        (status = 200, description = "Doctors (a bare array)", body = Vec<DoctorListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn search_doctors(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let window = query.read::<WindowParams>();
    let common = query.read::<DoctorFilterParams>();
    let (window, common) = query.complete((window, common))?;
    let (window, filter) = (directory_window(&window), doctor_filter(common, None));
    let doctors = state.directory.search_doctors(&filter, window).await?;
    Ok(doctor_list(&doctors))
}

/// Doctors practising near a point: one item per (doctor, clinic), nearest first.
#[utoipa::path(get, path = "/api/v1/doctors/nearby", tag = "doctors", operation_id = "nearby_doctors",
    security(),
    params(PointParams, WindowParams, NearbyDoctorParams),
    responses(
        (status = 200, description = "Doctors by sphere distance of their clinic (a bare array)", body = Vec<DoctorListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn nearby_doctors(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let point = query.read::<PointParams>();
    let window = query.read::<WindowParams>();
    let nearby = query.read::<NearbyDoctorParams>();
    let (point, window, nearby) = query.complete((point, window, nearby))?;
    let window = directory_window(&window);
    let filter = NearbyDoctorFilter {
        geo: geo_query(&point),
        specialization: nearby.specialization.map(String::from),
        only_verified: nearby.is_verified.get(),
        min_rating: nearby.min_rating.map(Number::get),
    };
    let doctors = state.directory.nearby_doctors(&filter, window).await?;
    Ok(doctor_list(&doctors))
}

/// A doctor with their current clinics.
#[utoipa::path(get, path = "/api/v1/doctors/{doctor_id}", tag = "doctors", operation_id = "get_doctor",
    security(),
    params(("doctor_id" = uuid::Uuid, Path, description = "Doctor id")),
    responses(
        (status = 200, description = "The doctor", body = DoctorDetailResponse),
        (status = 404, description = "Unknown doctor", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn get_doctor(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let id = DoctorId::from_uuid(path_uuid(&req, "doctor_id")?);
    let detail = state
        .directory
        .doctor(id)
        .await?
        .ok_or_else(|| ApiError::not_found(DOCTOR_NOT_FOUND))?;
    Ok(HttpResponse::Ok().json(DoctorDetailResponse::from(&detail)))
}

/// Partially updates a doctor (`null` = unchanged; contact fields and the license are ignored).
#[utoipa::path(put, path = "/api/v1/doctors/{doctor_id}", tag = "doctors", operation_id = "update_doctor",
    security(("bearerAuth" = [])),
    params(("doctor_id" = uuid::Uuid, Path, description = "Doctor id")),
    request_body(content = DoctorUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The doctor", body = DoctorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown doctor", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn update_doctor(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = DoctorId::from_uuid(path_uuid(&req, "doctor_id")?);
    let body: DoctorUpdateRequest = input::body(&req, &body)?;
    let patch = DoctorPatch {
        specialization: body.specialization.map(String::from),
        sub_specialization: body.sub_specialization.map(String::from),
        qualification: body.qualification.map(String::from),
        experience_years: body.experience_years.map(Int::get_i32),
        consultation_fee: body.consultation_fee.map(Fee::get),
        consultation_duration_minutes: body.consultation_duration_minutes.map(Int::get_i32),
        bio: body.bio.map(String::from),
        languages_spoken: body.languages_spoken.map(texts),
        medical_council_registration: body.medical_council_registration.map(String::from),
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let doctor = state.directory.update_doctor(id, &patch, &stamp).await?;
    Ok(HttpResponse::Ok().json(DoctorResponse::from(&doctor)))
}

/// Verifies a doctor; `verified_by` is the calling admin.
#[utoipa::path(post, path = "/api/v1/doctors/{doctor_id}/verify", tag = "doctors", operation_id = "verify_doctor",
    security(("bearerAuth" = [])),
    params(
        ("doctor_id" = uuid::Uuid, Path, description = "Doctor id"),
        ("verified_by" = Option<String>, Query, description = "Ignored: the caller is recorded"),
    ),
    request_body(content = Option<DoctorVerifyRequest>, content_type = "application/json", description = "Optional: an empty body (or `null`) verifies the doctor and keeps the stored documents"),
    responses(
        (status = 200, description = "The verified doctor", body = DoctorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown doctor", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn verify_doctor(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = DoctorId::from_uuid(path_uuid(&req, "doctor_id")?);
    let body: DoctorVerifyRequest = input::optional_body(&req, &body)?;
    let verification = Verification {
        verified_by: admin.0.id,
        documents: body.verification_documents.map(JsonObject::into_map),
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let doctor = state
        .directory
        .verify_doctor(id, &verification, &stamp)
        .await?;
    Ok(HttpResponse::Ok().json(DoctorResponse::from(&doctor)))
}

/// Clears a doctor's verification (documents are kept).
#[utoipa::path(post, path = "/api/v1/doctors/{doctor_id}/unverify", tag = "doctors", operation_id = "unverify_doctor",
    security(("bearerAuth" = [])),
    params(("doctor_id" = uuid::Uuid, Path, description = "Doctor id")),
    responses(
        (status = 200, description = "The unverified doctor", body = DoctorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown doctor", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn unverify_doctor(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = DoctorId::from_uuid(path_uuid(&req, "doctor_id")?);
    let stamp = audit_stamp(&req, admin.0.id);
    let doctor = state.directory.unverify_doctor(id, &stamp).await?;
    Ok(HttpResponse::Ok().json(DoctorResponse::from(&doctor)))
}

/// Registers the doctor routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let base = format!("{prefix}/doctors");
    let one = format!("{base}/{{doctor_id}}");
    routes
        .route(Method::POST, &format!("{base}/"), create_doctor)
        .route(Method::GET, &format!("{base}/"), list_doctors)
        .route(Method::GET, &format!("{base}/search"), search_doctors)
        .route(Method::GET, &format!("{base}/nearby"), nearby_doctors)
        .route(Method::GET, &one, get_doctor)
        .route(Method::PUT, &one, update_doctor)
        .route(Method::POST, &format!("{one}/verify"), verify_doctor)
        .route(Method::POST, &format!("{one}/unverify"), unverify_doctor);
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_doctor,
    list_doctors,
    search_doctors,
    nearby_doctors,
    get_doctor,
    update_doctor,
    verify_doctor,
    unverify_doctor,
))]
pub struct Docs;
