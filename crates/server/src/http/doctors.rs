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
use medico24_kernel::{DoctorId, is_valid_email};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::audit::audit_stamp;
use super::bodies::DoctorClinicResponse;
use super::error::{ApiError, ApiResult, DOCTOR_NOT_FOUND};
use super::fields::{
    check_phone_field, directory_body, read_fee, read_geo, read_i32, read_window,
    reject_nul_in_query,
};
use super::input::{BodyKind, BodyReader, QueryReader, path_uuid};
use super::routing::RouteRegistry;
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
// Request bodies (documentation; parsing is field by field)
// ---------------------------------------------------------------------------------------------

/// `POST /doctors/` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct DoctorCreateRequest {
    /// Valid email address.
    #[schema(max_length = 254, format = Email)]
    pub email: String,
    /// Full name.
    #[schema(min_length = 1, max_length = 255)]
    pub full_name: String,
    /// Phone: 7–20 characters of digits, spaces, `+`, `-`, `(`, `)`, at least 7 digits.
    #[schema(min_length = 7, max_length = 20, pattern = "^[0-9 +()-]*$")]
    pub phone: Option<String>,
    /// Picture URL.
    #[schema(max_length = 2048)]
    pub profile_picture_url: Option<String>,
    /// License number (unique).
    #[schema(min_length = 1, max_length = 100)]
    pub license_number: String,
    /// Specialization.
    #[schema(min_length = 1, max_length = 200)]
    pub specialization: String,
    /// Sub-specialization.
    #[schema(max_length = 200)]
    pub sub_specialization: Option<String>,
    /// Qualification.
    #[schema(max_length = 1000)]
    pub qualification: Option<String>,
    /// Years of experience.
    #[schema(minimum = 0, maximum = 80)]
    pub experience_years: Option<i64>,
    /// 0–99 999 999.99, at most 2 decimals.
    #[schema(minimum = 0, maximum = 99_999_999.99, multiple_of = 0.01)]
    pub consultation_fee: Option<f64>,
    /// Default 30.
    #[schema(minimum = 15, maximum = 180)]
    pub consultation_duration_minutes: Option<i64>,
    /// Biography.
    #[schema(max_length = 5000)]
    pub bio: Option<String>,
    /// At most 20 items of 1–50 characters.
    #[schema(max_items = 20)]
    pub languages_spoken: Option<Vec<String>>,
    /// Council registration.
    #[schema(max_length = 100)]
    pub medical_council_registration: Option<String>,
}

/// `PUT /doctors/{id}` body: every member optional, `null` = unchanged; contact fields and the
/// license are ignored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct DoctorUpdateRequest {
    /// Specialization.
    #[schema(min_length = 1, max_length = 200)]
    pub specialization: Option<String>,
    /// Sub-specialization.
    #[schema(max_length = 200)]
    pub sub_specialization: Option<String>,
    /// Qualification.
    #[schema(max_length = 1000)]
    pub qualification: Option<String>,
    /// Years of experience.
    #[schema(minimum = 0, maximum = 80)]
    pub experience_years: Option<i64>,
    /// 0–99 999 999.99, at most 2 decimals.
    #[schema(minimum = 0, maximum = 99_999_999.99, multiple_of = 0.01)]
    pub consultation_fee: Option<f64>,
    /// Slot length.
    #[schema(minimum = 15, maximum = 180)]
    pub consultation_duration_minutes: Option<i64>,
    /// Biography.
    #[schema(max_length = 5000)]
    pub bio: Option<String>,
    /// At most 20 items of 1–50 characters.
    #[schema(max_items = 20)]
    pub languages_spoken: Option<Vec<String>>,
    /// Council registration.
    #[schema(max_length = 100)]
    pub medical_council_registration: Option<String>,
}

/// `POST /doctors/{id}/verify` body (optional).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct DoctorVerifyRequest {
    /// Replaces the stored documents when a non-empty object.
    #[schema(value_type = Option<Object>)]
    pub verification_documents: Option<Value>,
    /// Ignored.
    pub notes: Option<String>,
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

fn read_experience(query: &mut QueryReader, name: &str) -> Option<i32> {
    query
        .optional_int(name, 0, i64::from(i32::MAX))
        .and_then(|n| i32::try_from(n).ok())
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
    let object = directory_body(&req, &body, BodyKind::Required)?;
    let mut reader = BodyReader::new(&object);
    let email = reader.required_string("email", 0, usize::MAX);
    if let Some(email) = &email
        && !is_valid_email(email)
    {
        reader.issue(
            "email",
            "value_error",
            "value is not a valid email address: it must have exactly one @-sign, a local part and a dotted domain, and at most 254 characters",
        );
    }
    let full_name = reader.required_string("full_name", 1, 255);
    let phone = reader.optional_string("phone", 0, usize::MAX);
    if let Some(phone) = &phone {
        check_phone_field(&mut reader, "phone", phone);
    }
    let profile_picture_url = reader.optional_string("profile_picture_url", 0, 2048);
    let license_number = reader.required_string("license_number", 1, 100);
    let specialization = reader.required_string("specialization", 1, 200);
    let sub_specialization = reader.optional_string("sub_specialization", 0, 200);
    let qualification = reader.optional_string("qualification", 0, 1000);
    let experience_years = read_i32(&mut reader, "experience_years", 0, 80);
    let consultation_fee = read_fee(&mut reader, "consultation_fee");
    let consultation_duration_minutes =
        read_i32(&mut reader, "consultation_duration_minutes", 15, 180);
    let bio = reader.optional_string("bio", 0, 5000);
    let languages_spoken = reader.optional_string_array("languages_spoken", 20, 1, 50);
    let medical_council_registration =
        reader.optional_string("medical_council_registration", 0, 100);
    reader.finish()?;
    let (Some(email), Some(full_name), Some(license_number), Some(specialization)) =
        (email, full_name, license_number, specialization)
    else {
        return Err(ApiError::internal(
            "required doctor fields passed validation unset",
        ));
    };
    let new = NewDoctor {
        email,
        full_name,
        phone,
        profile_picture_url,
        license_number,
        specialization,
        sub_specialization,
        qualification,
        experience_years,
        consultation_fee,
        consultation_duration_minutes: consultation_duration_minutes
            .unwrap_or(DEFAULT_CONSULTATION_MINUTES),
        bio,
        languages_spoken,
        medical_council_registration,
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let created = state.directory.create_doctor(&new, &stamp).await?;
    Ok(HttpResponse::Created().json(DoctorResponse::from(&created)))
}

/// The filters shared by the listing and the search; `full` adds `max_experience` and
/// `languages` (listing only).
fn read_doctor_filter(query: &mut QueryReader, full: bool) -> DoctorFilter {
    DoctorFilter {
        specialization: query.string("specialization", 200),
        sub_specialization: query.string("sub_specialization", 200),
        min_experience: read_experience(query, "min_experience"),
        max_experience: if full {
            read_experience(query, "max_experience")
        } else {
            None
        },
        is_verified: query.bool("is_verified"),
        min_rating: query.number("min_rating", 0.0, 5.0),
        languages: if full {
            query.all("languages")
        } else {
            Vec::new()
        },
    }
}

/// Lists doctors, best rated first.
#[utoipa::path(get, path = "/api/v1/doctors/", tag = "doctors", operation_id = "list_doctors",
    security(),
    params(
        ("skip" = Option<i64>, Query, minimum = 0, description = "Rows to skip (default 0)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("specialization" = Option<String>, Query, max_length = 200, description = "Case-insensitive substring"),
        ("sub_specialization" = Option<String>, Query, max_length = 200, description = "Case-insensitive substring"),
        ("min_experience" = Option<i64>, Query, minimum = 0, description = "Minimum years of experience"),
        ("max_experience" = Option<i64>, Query, minimum = 0, description = "Maximum years of experience"),
        ("is_verified" = Option<bool>, Query, description = "Exact match"),
        ("min_rating" = Option<f64>, Query, minimum = 0, maximum = 5, description = "Minimum rating"),
        ("languages" = Option<Vec<String>>, Query, explode = true, description = "Repeatable: speaks any of them (case-sensitive)"),
    ),
    responses(
        (status = 200, description = "Doctors (a bare array)", body = Vec<DoctorListItemResponse>),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list_doctors(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    reject_nul_in_query(&req, &["specialization", "sub_specialization", "languages"])?;
    let mut query = QueryReader::new(&req);
    let window = read_window(&mut query);
    let filter = read_doctor_filter(&mut query, true);
    query.finish()?;
    let doctors = state.directory.list_doctors(&filter, window).await?;
    Ok(doctor_list(&doctors))
}

/// Searches doctors (the listing without `max_experience` and `languages`).
#[utoipa::path(get, path = "/api/v1/doctors/search", tag = "doctors", operation_id = "search_doctors",
    security(),
    params(
        ("skip" = Option<i64>, Query, minimum = 0, description = "Rows to skip (default 0)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("specialization" = Option<String>, Query, max_length = 200, description = "Case-insensitive substring"),
        ("sub_specialization" = Option<String>, Query, max_length = 200, description = "Case-insensitive substring"),
        ("min_experience" = Option<i64>, Query, minimum = 0, description = "Minimum years of experience"),
        ("is_verified" = Option<bool>, Query, description = "Exact match"),
        ("min_rating" = Option<f64>, Query, minimum = 0, maximum = 5, description = "Minimum rating"),
    ),
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
    reject_nul_in_query(&req, &["specialization", "sub_specialization"])?;
    let mut query = QueryReader::new(&req);
    let window = read_window(&mut query);
    let filter = read_doctor_filter(&mut query, false);
    query.finish()?;
    let doctors = state.directory.search_doctors(&filter, window).await?;
    Ok(doctor_list(&doctors))
}

/// Doctors practising near a point: one item per (doctor, clinic), nearest first.
#[utoipa::path(get, path = "/api/v1/doctors/nearby", tag = "doctors", operation_id = "nearby_doctors",
    security(),
    params(
        ("latitude" = f64, Query, minimum = -90, maximum = 90, description = "Search point"),
        ("longitude" = f64, Query, minimum = -180, maximum = 180, description = "Search point"),
        ("radius_km" = Option<f64>, Query, exclusive_minimum = 0, maximum = 100, description = "Radius, inclusive (default 10)"),
        ("specialization" = Option<String>, Query, max_length = 200, description = "Case-insensitive substring"),
        ("skip" = Option<i64>, Query, minimum = 0, description = "Rows to skip (default 0)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("is_verified" = Option<bool>, Query, description = "Default true: only verified doctors; false: no verification filter"),
        ("min_rating" = Option<f64>, Query, minimum = 0, maximum = 5, description = "Minimum rating"),
    ),
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
    reject_nul_in_query(&req, &["specialization"])?;
    let mut query = QueryReader::new(&req);
    let geo = read_geo(&mut query);
    let specialization = query.string("specialization", 200);
    let window = read_window(&mut query);
    let only_verified = query.bool("is_verified").unwrap_or(true);
    let min_rating = query.number("min_rating", 0.0, 5.0);
    query.finish()?;
    let Some(geo) = geo else {
        return Err(ApiError::internal("search point passed validation unset"));
    };
    let filter = NearbyDoctorFilter {
        geo,
        specialization,
        only_verified,
        min_rating,
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
    let object = directory_body(&req, &body, BodyKind::Required)?;
    let mut reader = BodyReader::new(&object);
    let patch = DoctorPatch {
        specialization: reader.optional_string("specialization", 1, 200),
        sub_specialization: reader.optional_string("sub_specialization", 0, 200),
        qualification: reader.optional_string("qualification", 0, 1000),
        experience_years: read_i32(&mut reader, "experience_years", 0, 80),
        consultation_fee: read_fee(&mut reader, "consultation_fee"),
        consultation_duration_minutes: read_i32(
            &mut reader,
            "consultation_duration_minutes",
            15,
            180,
        ),
        bio: reader.optional_string("bio", 0, 5000),
        languages_spoken: reader.optional_string_array("languages_spoken", 20, 1, 50),
        medical_council_registration: reader.optional_string(
            "medical_council_registration",
            0,
            100,
        ),
    };
    reader.finish()?;
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
    let object = directory_body(&req, &body, BodyKind::Optional)?;
    let mut reader = BodyReader::new(&object);
    let documents = reader.optional_object("verification_documents").cloned();
    reader.finish()?;
    let verification = Verification {
        verified_by: admin.0.id,
        documents,
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
