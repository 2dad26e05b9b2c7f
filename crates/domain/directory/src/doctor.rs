//! Doctors: the directory record, its list item and detail, the create and update
//! commands and the listing filters. Doctors are directory records, not users.

use chrono::{DateTime, Utc};
use medico24_kernel::{ClinicId, DoctorId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::association::DoctorClinicSummary;
use crate::clinic::GeoQuery;
use crate::rules::wire_datetime;

/// Default slot length of a new doctor.
pub const DEFAULT_CONSULTATION_MINUTES: i32 = 30;

/// A `doctors` row. Its serde form is exactly the API's **Doctor** representation (with
/// `total_consultations` named `total_patients_treated`), which is what the doctor cache stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doctor {
    /// Email (unique).
    pub email: String,
    /// Name.
    pub full_name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Picture URL.
    pub profile_picture_url: Option<String>,
    /// License number (unique).
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
    /// Languages (case-sensitive strings).
    pub languages_spoken: Option<Vec<String>>,
    /// Council registration.
    pub medical_council_registration: Option<String>,
    /// Primary key.
    pub id: DoctorId,
    /// Verified by an admin.
    pub is_verified: bool,
    /// Documents object.
    pub verification_documents: Option<Value>,
    /// When verified.
    #[serde(with = "wire_datetime::option")]
    pub verified_at: Option<DateTime<Utc>>,
    /// The admin user who verified.
    pub verified_by: Option<UserId>,
    /// Rating.
    pub rating: Option<f64>,
    /// Number of ratings.
    pub rating_count: i32,
    /// Column `total_consultations`.
    #[serde(rename = "total_patients_treated")]
    pub total_consultations: i32,
    /// Creation.
    #[serde(with = "wire_datetime")]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(with = "wire_datetime")]
    pub updated_at: DateTime<Utc>,
}

/// A doctor with the clinics they currently practise at.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorDetail {
    /// The doctor.
    pub doctor: Doctor,
    /// Current associations with non-deleted clinics, primary first, then by clinic name.
    pub clinics: Vec<DoctorClinicSummary>,
}

/// A doctor in a listing (the API's **DoctorListItem** representation).
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorListItem {
    /// Primary key.
    pub id: DoctorId,
    /// Email.
    pub email: String,
    /// Name.
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
    pub clinic_id: Option<ClinicId>,
    /// Its name (only `/doctors/nearby`).
    pub clinic_name: Option<String>,
}

impl DoctorListItem {
    /// The list item of `doctor` without nearby data.
    pub fn of(doctor: &Doctor) -> Self {
        Self {
            id: doctor.id,
            email: doctor.email.clone(),
            full_name: doctor.full_name.clone(),
            phone: doctor.phone.clone(),
            profile_picture_url: doctor.profile_picture_url.clone(),
            license_number: doctor.license_number.clone(),
            specialization: doctor.specialization.clone(),
            sub_specialization: doctor.sub_specialization.clone(),
            experience_years: doctor.experience_years,
            consultation_fee: doctor.consultation_fee,
            is_verified: doctor.is_verified,
            rating: doctor.rating,
            rating_count: doctor.rating_count,
            distance_km: None,
            clinic_id: None,
            clinic_name: None,
        }
    }
}

/// A validated create command.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDoctor {
    /// Valid email, ≤ 254.
    pub email: String,
    /// 1–255.
    pub full_name: String,
    /// Phone rule.
    pub phone: Option<String>,
    /// ≤ 2048.
    pub profile_picture_url: Option<String>,
    /// 1–100.
    pub license_number: String,
    /// 1–200.
    pub specialization: String,
    /// ≤ 200.
    pub sub_specialization: Option<String>,
    /// ≤ 1000.
    pub qualification: Option<String>,
    /// 0–80.
    pub experience_years: Option<i32>,
    /// Fee rule.
    pub consultation_fee: Option<f64>,
    /// 15–180, default 30.
    pub consultation_duration_minutes: i32,
    /// ≤ 5000.
    pub bio: Option<String>,
    /// ≤ 20 items of 1–50.
    pub languages_spoken: Option<Vec<String>>,
    /// ≤ 100.
    pub medical_council_registration: Option<String>,
}

impl NewDoctor {
    /// The `doctor.create` audit details (contact details left out).
    pub fn audit_details(&self) -> Value {
        json!({
            "full_name": self.full_name,
            "license_number": self.license_number,
            "specialization": self.specialization,
            "sub_specialization": self.sub_specialization,
            "experience_years": self.experience_years,
            "consultation_fee": self.consultation_fee,
            "consultation_duration_minutes": self.consultation_duration_minutes,
            "languages_spoken": self.languages_spoken,
            "medical_council_registration": self.medical_council_registration,
        })
    }
}

/// A partial doctor update: `None` = unchanged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DoctorPatch {
    /// Specialization.
    pub specialization: Option<String>,
    /// Sub-specialization.
    pub sub_specialization: Option<String>,
    /// Qualification.
    pub qualification: Option<String>,
    /// Years of experience.
    pub experience_years: Option<i32>,
    /// Fee.
    pub consultation_fee: Option<f64>,
    /// Slot length.
    pub consultation_duration_minutes: Option<i32>,
    /// Biography.
    pub bio: Option<String>,
    /// Languages.
    pub languages_spoken: Option<Vec<String>>,
    /// Council registration.
    pub medical_council_registration: Option<String>,
}

impl DoctorPatch {
    /// Whether no member was given.
    pub fn is_empty(&self) -> bool {
        self.audit_details()
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
    }

    /// The `doctor.update` audit details: the members given.
    pub fn audit_details(&self) -> Value {
        let mut details = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                details.insert(key.to_owned(), value);
            }
        };
        put(
            "specialization",
            self.specialization.clone().map(Value::from),
        );
        put(
            "sub_specialization",
            self.sub_specialization.clone().map(Value::from),
        );
        put("qualification", self.qualification.clone().map(Value::from));
        put("experience_years", self.experience_years.map(Value::from));
        put("consultation_fee", self.consultation_fee.map(Value::from));
        put(
            "consultation_duration_minutes",
            self.consultation_duration_minutes.map(Value::from),
        );
        put("bio", self.bio.clone().map(Value::from));
        put(
            "languages_spoken",
            self.languages_spoken.clone().map(Value::from),
        );
        put(
            "medical_council_registration",
            self.medical_council_registration.clone().map(Value::from),
        );
        Value::Object(details)
    }
}

/// Filters of `GET /doctors/` and `/doctors/search`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DoctorFilter {
    /// Case-insensitive substring, matched literally.
    pub specialization: Option<String>,
    /// Case-insensitive substring, matched literally.
    pub sub_specialization: Option<String>,
    /// `experience_years ≥ x`.
    pub min_experience: Option<i32>,
    /// `experience_years ≤ x` (list only).
    pub max_experience: Option<i32>,
    /// Exact verification state.
    pub is_verified: Option<bool>,
    /// `rating ≥ x`.
    pub min_rating: Option<f64>,
    /// The doctor speaks any of these (jsonb containment, case-sensitive; list only).
    pub languages: Vec<String>,
}

/// Filters of `GET /doctors/nearby`.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyDoctorFilter {
    /// Search point and radius.
    pub geo: GeoQuery,
    /// Case-insensitive substring of the specialization.
    pub specialization: Option<String>,
    /// `true`: only verified doctors; `false`: no verification filter.
    pub only_verified: bool,
    /// `rating ≥ x`.
    pub min_rating: Option<f64>,
}

/// Verification data of `POST /doctors/{id}/verify`.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// The admin verifying.
    pub verified_by: UserId,
    /// Replaces the stored documents when it is a non-empty object.
    pub documents: Option<Map<String, Value>>,
}

impl Verification {
    /// The documents to store, if they replace the current ones (non-empty objects only).
    pub fn replacement_documents(&self) -> Option<&Map<String, Value>> {
        self.documents.as_ref().filter(|d| !d.is_empty())
    }
}

/// Whether `doctor` matches the list filter `filter` (`languages` included); the fake and the
/// unit tests use it, the SQL adapter expresses the same in its query.
pub fn doctor_matches(doctor: &Doctor, filter: &DoctorFilter) -> bool {
    let contains = |field: &Option<String>, needle: &Option<String>| match needle {
        None => true,
        Some(needle) => field
            .as_deref()
            .is_some_and(|f| f.to_lowercase().contains(&needle.to_lowercase())),
    };
    contains(&doctor.specialization, &filter.specialization)
        && contains(&doctor.sub_specialization, &filter.sub_specialization)
        && filter
            .min_experience
            .is_none_or(|min| doctor.experience_years.is_some_and(|e| e >= min))
        && filter
            .max_experience
            .is_none_or(|max| doctor.experience_years.is_some_and(|e| e <= max))
        && filter.is_verified.is_none_or(|v| doctor.is_verified == v)
        && filter
            .min_rating
            .is_none_or(|min| doctor.rating.is_some_and(|r| r >= min))
        && (filter.languages.is_empty()
            || doctor
                .languages_spoken
                .as_ref()
                .is_some_and(|spoken| filter.languages.iter().any(|l| spoken.contains(l))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn doctor() -> Doctor {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        Doctor {
            email: "a@example.com".into(),
            full_name: "A".into(),
            phone: None,
            profile_picture_url: None,
            license_number: Some("L-1".into()),
            specialization: Some("Cardiology".into()),
            sub_specialization: None,
            qualification: None,
            experience_years: Some(10),
            consultation_fee: Some(500.0),
            consultation_duration_minutes: Some(30),
            bio: None,
            languages_spoken: Some(vec!["English".into(), "Hindi".into()]),
            medical_council_registration: None,
            id: DoctorId::new_v7(),
            is_verified: true,
            verification_documents: None,
            verified_at: None,
            verified_by: None,
            rating: Some(4.5),
            rating_count: 3,
            total_consultations: 42,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn languages_match_any_of_them_case_sensitively() {
        let d = doctor();
        let with = |langs: &[&str]| DoctorFilter {
            languages: langs.iter().map(|l| (*l).to_owned()).collect(),
            ..DoctorFilter::default()
        };
        assert!(doctor_matches(&d, &with(&[])));
        assert!(doctor_matches(&d, &with(&["Tamil", "Hindi"])));
        assert!(!doctor_matches(&d, &with(&["hindi"])));
        assert!(!doctor_matches(&d, &with(&["Tamil"])));
    }

    #[test]
    fn experience_and_rating_bounds_exclude_unknown_values() {
        let mut d = doctor();
        let filter = DoctorFilter {
            min_experience: Some(5),
            max_experience: Some(10),
            min_rating: Some(4.5),
            specialization: Some("cardio".into()),
            ..DoctorFilter::default()
        };
        assert!(doctor_matches(&d, &filter));
        d.rating = None;
        assert!(!doctor_matches(&d, &filter));
    }

    #[test]
    fn the_cached_form_names_the_counter_total_patients_treated() {
        let value = serde_json::to_value(doctor()).unwrap_or_default();
        assert_eq!(value["total_patients_treated"], 42);
        assert_eq!(value["created_at"], "2026-01-01T00:00:00Z");
        assert!(value.get("total_consultations").is_none());
        let back: Result<Doctor, _> = serde_json::from_value(value);
        assert!(back.is_ok_and(|d| d.total_consultations == 42));
    }

    #[test]
    fn only_non_empty_documents_replace_the_stored_ones() {
        let empty = Verification {
            verified_by: UserId::new_v7(),
            documents: Some(Map::new()),
        };
        assert!(empty.replacement_documents().is_none());
        let mut docs = Map::new();
        docs.insert("license".into(), json!("scan.pdf"));
        let given = Verification {
            documents: Some(docs),
            ..empty
        };
        assert!(given.replacement_documents().is_some());
    }
}
